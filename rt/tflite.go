package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// TFLite integer kernels: the quantized forms of add, sub, mul, avgpool,
// reduce_mean, softmax, sigmoid, tanh and hardswish with rq="tflite",
// following TFLite's reference integer kernels (tflite-micro's, where
// TFLite proper runs a lookup table instead: LOGISTIC and TANH) bit for
// bit. conv, matmul, gemm and requantize implement rq="tflite" themselves.
//
// build consults tfliteBuilder before the op's own builder.

// tfliteBuilder returns the builder of the TFLite integer form of v, or nil
// when v is not one (its own builder then applies).
func tfliteBuilder(v *ir.Value) builder {
	if v.Op == nil || len(v.Args) == 0 {
		return nil
	}
	x := v.Args[0].Type
	if !x.DType.IsInt() || x.Quant == nil || !v.Type.DType.IsInt() || v.Type.Quant == nil {
		return nil
	}
	if rqOf(v) != "tflite" {
		switch v.Op.Name {
		case "sigmoid", "tanh", "hardswish", "hardsigmoid", "softmax", "reduce_mean":
			// The rq=float integer form of these: through f32.
			own := builders[v.Op.Name]
			return func(v *ir.Value) (kernel, error) { return viaFloat(v, own) }
		}
		return nil
	}
	switch v.Op.Name {
	case "add", "sub":
		return withAct(buildTFLiteAddSub)
	case "mul":
		return buildTFLiteMul
	case "avgpool":
		return buildTFLiteAvgPool
	case "reduce_mean":
		return buildTFLiteMean
	case "softmax":
		return buildTFLiteSoftmax
	case "sigmoid", "tanh":
		return buildTFLiteLogisticTanh
	case "hardswish":
		return buildTFLiteHardSwish
	case "hardsigmoid":
		// TFLite has no integer hard-sigmoid: through f32 as with rq=float.
		own := builders[v.Op.Name]
		return func(v *ir.Value) (kernel, error) { return viaFloat(v, own) }
	}
	return nil
}

// tfq is the per-tensor quantization of an 8-bit tensor.
type tfq struct {
	scale  float32
	zp     int32
	lo, hi int32
}

func tfliteQuant(t ir.Type, what string) (tfq, error) {
	if t.DType != ir.I8 && t.DType != ir.U8 {
		return tfq{}, fmt.Errorf("rq=tflite: %s is %v; TFLite's integer kernels take i8 or u8", what, t.DType)
	}
	if t.Quant == nil || t.Quant.Axis >= 0 {
		return tfq{}, fmt.Errorf("rq=tflite: %s needs per-tensor quantization, got %v", what, t)
	}
	lo, hi := t.DType.Range()
	return tfq{scale: t.Quant.Scale[0], zp: int32(t.Quant.ZeroPoint[0]), lo: int32(lo), hi: int32(hi)}, nil
}

func clamp32(x, lo, hi int32) int32 { return max(lo, min(hi, x)) }

// load8 reads the stored integers of an i8 / u8 tensor as int32.
func load8(t *ir.Tensor) []int32 {
	out := make([]int32, t.Len())
	switch t.DType {
	case ir.I8:
		for i, x := range t.I8 {
			out[i] = int32(x)
		}
	case ir.U8:
		for i, x := range t.U8 {
			out[i] = int32(x)
		}
	}
	return out
}

// store8 writes int32 values (already in range) to an i8 / u8 result.
func store8(t *ir.Tensor, i int, x int32) {
	if t.DType == ir.I8 {
		t.I8[i] = int8(x)
	} else {
		t.U8[i] = uint8(x)
	}
}

// binary8 runs f over the broadcast of two 8-bit operands.
func binary8(v *ir.Value, f func(a, b int32) int32) kernel {
	plan := newBcastPlan(v.Type.Shape, v.Args[0].Type.Shape, v.Args[1].Type.Shape)
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		a, b := load8(args[0]), load8(args[1])
		plan.each(func(o int, offs []int) {
			for i := 0; i < plan.inner; i++ {
				store8(out, o+i, f(a[offs[0]+i*plan.istride[0]], b[offs[1]+i*plan.istride[1]]))
			}
		})
		return out, nil
	}
}

// buildTFLiteAddSub: both inputs rescaled to twice the larger input scale
// with 20 bits of headroom, added (subtracted), then rescaled to the output.
func buildTFLiteAddSub(v *ir.Value) (kernel, error) {
	q1, err := tfliteQuant(v.Args[0].Type, "input 0")
	if err != nil {
		return nil, err
	}
	q2, err := tfliteQuant(v.Args[1].Type, "input 1")
	if err != nil {
		return nil, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return nil, err
	}
	const leftShift = 20
	twiceMax := float64(2 * max(q1.scale, q2.scale))
	m1, s1 := QuantizeMultiplier(float64(q1.scale) / twiceMax)
	m2, s2 := QuantizeMultiplier(float64(q2.scale) / twiceMax)
	mo, so := QuantizeMultiplier(twiceMax / float64(float32(1<<leftShift)*qo.scale))
	sub := v.Op.Name == "sub"
	return binary8(v, func(a, b int32) int32 {
		x := MultiplyByQuantizedMultiplier((a-q1.zp)*(1<<leftShift), m1, s1)
		y := MultiplyByQuantizedMultiplier((b-q2.zp)*(1<<leftShift), m2, s2)
		raw := x + y
		if sub {
			raw = x - y
		}
		return clamp32(MultiplyByQuantizedMultiplier(raw, mo, so)+qo.zp, qo.lo, qo.hi)
	}), nil
}

// buildTFLiteMul: the product of the zero-centred inputs, rescaled by
// s1·s2/so.
func buildTFLiteMul(v *ir.Value) (kernel, error) {
	q1, err := tfliteQuant(v.Args[0].Type, "input 0")
	if err != nil {
		return nil, err
	}
	q2, err := tfliteQuant(v.Args[1].Type, "input 1")
	if err != nil {
		return nil, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return nil, err
	}
	m, s := QuantizeMultiplier(float64(q1.scale) * float64(q2.scale) / float64(qo.scale))
	return binary8(v, func(a, b int32) int32 {
		return clamp32(MultiplyByQuantizedMultiplier((a-q1.zp)*(b-q2.zp), m, s)+qo.zp, qo.lo, qo.hi)
	}), nil
}

// buildTFLiteAvgPool: the sum of the window's elements inside the input,
// divided by their count rounding half away from zero. TFLite requires the
// same quantization on input and result.
func buildTFLiteAvgPool(v *ir.Value) (kernel, error) {
	qx, err := tfliteQuant(v.Args[0].Type, "input")
	if err != nil {
		return nil, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return nil, err
	}
	if qx != qo {
		return nil, fmt.Errorf("rq=tflite avgpool needs the input's quantization on the result (%v, %v)", v.Args[0].Type.Quant, v.Type.Quant)
	}
	x := v.Args[0].Type
	if x.Rank() != 4 || v.Int("ceil_mode") != 0 || v.Int("count_include_pad") != 0 {
		return nil, fmt.Errorf("rq=tflite avgpool takes a 2-D pool without ceil_mode or count_include_pad")
	}
	win, err := ir.WindowOf(v, 2, nil)
	if err != nil {
		return nil, err
	}
	if win.Dilations[0] != 1 || win.Dilations[1] != 1 {
		return nil, fmt.Errorf("rq=tflite avgpool takes no dilations")
	}
	planes, ih, iw := x.Shape[0]*x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := v.Type.Shape[2], v.Type.Shape[3]
	kh, kw, sh, sw, pt, pl := win.Kernel[0], win.Kernel[1], win.Strides[0], win.Strides[1], win.PadsBegin[0], win.PadsBegin[1]
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		in := load8(args[0])
		out := newResult(v)
		for p := 0; p < planes; p++ {
			for oy := 0; oy < oh; oy++ {
				y0, y1 := max(oy*sh-pt, 0), min(oy*sh-pt+kh, ih)
				for ox := 0; ox < ow; ox++ {
					x0, x1 := max(ox*sw-pl, 0), min(ox*sw-pl+kw, iw)
					var acc, n int32
					for y := y0; y < y1; y++ {
						for xx := x0; xx < x1; xx++ {
							acc += in[(p*ih+y)*iw+xx]
							n++
						}
					}
					if n == 0 {
						return nil, fmt.Errorf("avgpool window at (%d,%d) holds no input element", oy, ox)
					}
					store8(out, (p*oh+oy)*ow+ox, clamp32(roundedDiv(acc, n), qo.lo, qo.hi))
				}
			}
		}
		return out, nil
	}, nil
}

// roundedDiv divides rounding half away from zero, as TFLite's pooling and mean.
func roundedDiv(acc, n int32) int32 {
	if acc > 0 {
		return (acc + n/2) / n
	}
	return (acc - n/2) / n
}

// TFLiteMean is how TFLite's MEAN of 8-bit tensors finishes a mean from
// the int32 sum s of the N reduced elements:
//   - "i8" (int8 spatial mean): clamp(roundedDiv(MBQM(s − N·ZX, Mult,
//     Shift), N) + ZY), TFLite's integer Mean kernel;
//   - "u8" (uint8 spatial mean): clamp(MBQM(s, Mult, Shift) + ZY), the
//     legacy kernel (ZY holds its bias);
//   - "trunc" (equal input and result quantization): s / N, truncated;
//   - "float": clamp(round(float32(s)/float32(N)·Scale + Bias) + ZY),
//     QuantizedMeanOrSum's rescaling (round half away from zero, in f32).
//
// A spatial mean is a 4-D tensor reduced over two axes with keepdims (the
// importer maps TFLite's axes 1 and 2 there). Clamps are to [Lo, Hi].
type TFLiteMean struct {
	Mode                           string
	N, ZX, ZY, Mult, Shift, Lo, Hi int32
	Scale, Bias                    float32
}

// TFLiteMeanOf is the TFLiteMean of v, a reduce_mean with rq=tflite of
// 8-bit tensors.
func TFLiteMeanOf(v *ir.Value) (TFLiteMean, error) {
	qx, err := tfliteQuant(v.Args[0].Type, "input")
	if err != nil {
		return TFLiteMean{}, err
	}
	qo, err := tfliteQuant(v.Type, "result")
	if err != nil {
		return TFLiteMean{}, err
	}
	p, err := newReducePlan(v)
	if err != nil {
		return TFLiteMean{}, err
	}
	x := v.Args[0].Type
	n := int32(p.count)
	if n == 0 {
		return TFLiteMean{}, fmt.Errorf("mean over no elements")
	}
	f := TFLiteMean{N: n, ZX: qx.zp, ZY: qo.zp, Lo: qo.lo, Hi: qo.hi}
	spatial := x.Rank() == 4 && len(v.IntList("axes")) == 2 && v.Int("keepdims") != 0
	switch {
	case spatial && x.DType == ir.I8:
		f.Mode = "i8"
		f.Mult, f.Shift = quantizeMultiplier32(float64(qx.scale) / float64(qo.scale))
	case spatial:
		f.Mode = "u8"
		temp := float32(qx.zp) * qx.scale / qo.scale
		if temp > 0 {
			temp += 0.5
		} else {
			temp -= 0.5
		}
		f.ZY = qo.zp - int32(temp)
		f.Mult, f.Shift = quantizeMultiplier32(float64(qx.scale / (float32(n) * qo.scale)))
	case qx == qo:
		f.Mode = "trunc"
	default:
		f.Mode = "float"
		f.Scale = qx.scale / qo.scale
		f.Bias = float32(-qx.zp) * f.Scale
	}
	return f, nil
}

func quantizeMultiplier32(real float64) (int32, int32) {
	m, s := QuantizeMultiplier(real)
	return m, int32(s)
}

// Finish is the mean's result for the sum s.
func (f TFLiteMean) Finish(sum int32) int32 {
	switch f.Mode {
	case "i8":
		acc := MultiplyByQuantizedMultiplier(sum-f.N*f.ZX, f.Mult, int(f.Shift))
		return clamp32(roundedDiv(acc, f.N)+f.ZY, f.Lo, f.Hi)
	case "u8":
		return clamp32(MultiplyByQuantizedMultiplier(sum, f.Mult, int(f.Shift))+f.ZY, f.Lo, f.Hi)
	case "trunc":
		return sum / f.N
	}
	mean := float32(sum) / float32(f.N)
	r := float32(math.Round(float64(mean*f.Scale+f.Bias))) + float32(f.ZY)
	return int32(max(min(r, float32(f.Hi)), float32(f.Lo)))
}

func buildTFLiteMean(v *ir.Value) (kernel, error) {
	f, err := TFLiteMeanOf(v)
	if err != nil {
		return nil, err
	}
	p, err := newReducePlan(v)
	if err != nil {
		return nil, err
	}
	finish := f.Finish
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		in := load8(args[0])
		out := newResult(v)
		sums := make([]int32, out.Len())
		p.each(func(i, o int) { sums[o] += in[i] })
		for o, s := range sums {
			store8(out, o, finish(s))
		}
		return out, nil
	}, nil
}
