package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// TFLite's reference integer softmax, logistic, tanh and hard swish.

// checkFixedOutput checks the result quantization TFLite's kernel implies.
func checkFixedOutput(v *ir.Value, qo tfq, scale float32, zp int32) error {
	if qo.zp != zp || math.Abs(float64(qo.scale-scale)) > 0.001*float64(scale) {
		return fmt.Errorf("rq=tflite %s of %v needs result quantization q(%v,%d), declared %v", v.Op.Name, v.Type.DType, scale, zp, v.Type.Quant)
	}
	return nil
}

// buildTFLiteSoftmax: the differences from the row maximum, scaled by
// beta·scale into Q5.26, exponentiated in fixed point, summed in Q12.19 and
// divided through gemmlowp's reciprocal; the result has scale 1/256 and the
// type's lowest value as zero point.
func buildTFLiteSoftmax(v *ir.Value) (kernel, error) {
	qx, err := tfliteQuant(v.Args[0].Type, "input")
	if err != nil {
		return nil, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return nil, err
	}
	if err := checkFixedOutput(v, qo, 1.0/256, qo.lo); err != nil {
		return nil, err
	}
	const scaledDiffBits, accumBits = 5, 12
	real := math.Min(float64(qx.scale)*(1<<(31-scaledDiffBits)), 1<<31-1.0)
	if real <= 1 {
		return nil, fmt.Errorf("rq=tflite softmax: input scale %v is too small", qx.scale)
	}
	mult, leftShift := QuantizeMultiplier(real)
	diffMin := -CalculateInputRadius(scaledDiffBits, leftShift, 31)
	shape := v.Type.Shape
	ax := v.Int("axis")
	outer, depth, inner := ir.NumElements(shape[:ax]), shape[ax], ir.NumElements(shape[ax+1:])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		in := load8(args[0])
		out := newResult(v)
		exps := make([]int32, depth)
		for o := 0; o < outer; o++ {
			for k := 0; k < inner; k++ {
				base := o*depth*inner + k
				maxIn := int32(math.MinInt32)
				for c := 0; c < depth; c++ {
					maxIn = max(maxIn, in[base+c*inner])
				}
				var sum int32 // Q12.19
				for c := 0; c < depth; c++ {
					exps[c] = -1
					if diff := in[base+c*inner] - maxIn; diff >= diffMin {
						exps[c] = ExpOnNegativeValues(multiplyGreaterThanOne(diff, mult, leftShift), scaledDiffBits)
						sum += fpRescale(exps[c], 0, accumBits)
					}
				}
				recip, bitsOver := getReciprocal(sum, accumBits)
				for c := 0; c < depth; c++ {
					y := qo.lo
					if exps[c] >= 0 {
						y = clamp32(RoundingDivideByPOT(fpMul(recip, exps[c]), bitsOver+31-8)+qo.lo, qo.lo, qo.hi)
					}
					store8(out, base+c*inner, y)
				}
			}
		}
		return out, nil
	}, nil
}

// buildTFLiteLogisticTanh: the zero-centred input scaled into Q4.27 (inputs
// beyond the radius saturate), gemmlowp's logistic or tanh, and a rounding
// shift to 8 bits. LOGISTIC's result has scale 1/256 and the type's lowest
// value as zero point; TANH's scale 1/128 and the middle of the range.
// These are tflite-micro's reference kernels; TFLite itself runs a table of
// the float function instead.
func buildTFLiteLogisticTanh(v *ir.Value) (kernel, error) {
	qx, err := tfliteQuant(v.Args[0].Type, "input")
	if err != nil {
		return nil, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return nil, err
	}
	tanh := v.Op.Name == "tanh"
	offset, outShift := qo.lo, 31-8
	if tanh {
		offset, outShift = (qo.lo+qo.hi+1)/2, 31-7
		if err := checkFixedOutput(v, qo, 1.0/128, offset); err != nil {
			return nil, err
		}
	} else if err := checkFixedOutput(v, qo, 1.0/256, offset); err != nil {
		return nil, err
	}
	const inputBits = 4
	mult, shift := frexpMultiplier(float64(qx.scale) * (1 << (31 - inputBits)))
	radius := CalculateInputRadius(inputBits, shift, 31)
	f := func(x int32) int32 {
		d := x - qx.zp
		switch {
		case d <= -radius:
			return qo.lo
		case d >= radius:
			return qo.hi
		}
		a := MultiplyByQuantizedMultiplier(d, mult, shift)
		var r int32
		if tanh {
			r = fpTanh(a, inputBits)
		} else {
			r = fpLogistic(a, inputBits)
		}
		return clamp32(RoundingDivideByPOT(r, outShift)+offset, qo.lo, qo.hi)
	}
	return unary8(v, f), nil
}

// unary8 maps f over the stored integers of an 8-bit tensor through a
// 256-entry table (f depends on the stored value only).
func unary8(v *ir.Value, f func(x int32) int32) kernel {
	var table [256]int32
	lo, _ := v.Args[0].Type.DType.Range()
	for i := range table {
		table[i] = f(int32(lo) + int32(i))
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		for i, x := range load8(args[0]) {
			store8(out, i, table[x-int32(lo)])
		}
		return out, nil
	}
}

// buildTFLiteHardSwish is TFLite's 16-bit fixed-point hard swish: the input
// on a 128× finer scale, a "relu-ish" factor in [0, 1] from the input
// rescaled so that 3 maps to 2^15, and their product rescaled to the output.
func buildTFLiteHardSwish(v *ir.Value) (kernel, error) {
	qx, err := tfliteQuant(v.Args[0].Type, "input")
	if err != nil {
		return nil, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return nil, err
	}
	hires := (1.0 / 128.0) * qx.scale
	const reluishScale = float32(3.0 / 32768.0)
	om, oexp := QuantizeMultiplier(float64(hires / qo.scale))
	rm, rexp := QuantizeMultiplier(float64(hires / reluishScale))
	if oexp > 0 {
		return nil, fmt.Errorf("rq=tflite hardswish: output scale %v is too small for input scale %v", qo.scale, qx.scale)
	}
	om16, rm16 := downScaleMultiplier16(om), downScaleMultiplier16(rm)
	f := func(x int32) int32 {
		in := int16(x - qx.zp)
		hi := in * (1 << 7)
		preshift := srdhm16(hi, om16)
		r := hi
		if rexp > 0 {
			r = satLeftShift16(r, rexp-1)
		}
		r = srdhm16(r, rm16)
		if rexp > 0 {
			r = satLeftShift16(r, 1)
		}
		if rexp < 0 {
			r = roundingDivideByPOT16(r, -rexp)
		}
		r = int16((int32(r) + 1<<15) >> 1)
		out := roundingDivideByPOT16(satDoublingHighMul16(r, preshift), -oexp)
		return clamp32(int32(out)+qo.zp, qo.lo, qo.hi)
	}
	return unary8(v, f), nil
}
