package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Quantization arithmetic: quantize, dequantize, requantize, and the two
// requantization schemes of integer conv / matmul results (ONNX float32 and
// TFLite fixed point).

// channels maps a flat element index of a tensor to its quantization channel.
type channels struct {
	stride, dim int // channel of i is (i / stride) % dim; dim 1 for per tensor
}

func channelsOf(q *ir.Quant, shape []int) channels {
	if q == nil || q.Axis < 0 {
		return channels{stride: 1, dim: 1}
	}
	return channels{stride: ir.Strides(shape)[q.Axis], dim: shape[q.Axis]}
}

func (c channels) at(i int) int {
	if c.dim == 1 {
		return 0
	}
	return (i / c.stride) % c.dim
}

// roundHalfEven rounds to the nearest integer, ties to even, as ONNX
// QuantizeLinear does.
func roundHalfEven(f float32) float64 { return math.RoundToEven(float64(f)) }

// saturate clamps a rounded value to [lo, hi] (NaN gives 0).
func saturate(f float64, lo, hi int64) int64 {
	switch {
	case f != f:
		return 0
	case f <= float64(lo):
		return lo
	case f >= float64(hi):
		return hi
	}
	return int64(f)
}

func clampInt(x, lo, hi int64) int64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// dequantizeInto writes (x - zp) * scale into dst.
func dequantizeInto[T integer](dst []float32, x []T, q *ir.Quant, shape []int) {
	ch := channelsOf(q, shape)
	if ch.dim == 1 {
		s, z := q.Scale[0], q.ZeroPoint[0]
		for i, v := range x {
			dst[i] = float32(int64(v)-z) * s
		}
		return
	}
	for i, v := range x {
		c := ch.at(i)
		dst[i] = float32(int64(v)-q.ZeroPoint[c]) * q.Scale[c]
	}
}

// quantizeInto writes saturate(round_half_even(x / scale) + zp) into dst.
func quantizeInto[T integer](dst []T, x []float32, q *ir.Quant, shape []int, lo, hi int64, round func(float32) float64) {
	ch := channelsOf(q, shape)
	for i, v := range x {
		c := ch.at(i)
		r := round(v/q.ScaleAt(c)) + float64(q.ZeroAt(c))
		dst[i] = T(saturate(r, lo, hi))
	}
}

// dequantize returns the f32 tensor of a quantized integer tensor.
func dequantize(t *ir.Tensor, q *ir.Quant) (*ir.Tensor, error) {
	out := ir.NewTensor(ir.F32, t.Shape)
	switch t.DType {
	case ir.I8:
		dequantizeInto(out.F32, t.I8, q, t.Shape)
	case ir.U8:
		dequantizeInto(out.F32, t.U8, q, t.Shape)
	case ir.I16:
		dequantizeInto(out.F32, t.I16, q, t.Shape)
	case ir.I32:
		dequantizeInto(out.F32, t.I32, q, t.Shape)
	case ir.I64:
		dequantizeInto(out.F32, t.I64, q, t.Shape)
	default:
		return nil, fmt.Errorf("cannot dequantize %v", t.DType)
	}
	return out, nil
}

// quantize returns the dt tensor of f32 values x under q.
func quantize(x *ir.Tensor, dt ir.DType, q *ir.Quant) (*ir.Tensor, error) {
	return quantizeRound(x, dt, q, roundHalfEven)
}

// roundHalfAway rounds ties away from zero, as TFLite's QUANTIZE (std::round).
func roundHalfAway(f float32) float64 { return math.Round(float64(f)) }

// quantizeRound is quantize with the given rounding of x / scale.
func quantizeRound(x *ir.Tensor, dt ir.DType, q *ir.Quant, round func(float32) float64) (*ir.Tensor, error) {
	out := ir.NewTensor(dt, x.Shape)
	lo, hi := dt.Range()
	switch dt {
	case ir.I8:
		quantizeInto(out.I8, x.F32, q, x.Shape, lo, hi, round)
	case ir.U8:
		quantizeInto(out.U8, x.F32, q, x.Shape, lo, hi, round)
	case ir.I16:
		quantizeInto(out.I16, x.F32, q, x.Shape, lo, hi, round)
	case ir.I32:
		quantizeInto(out.I32, x.F32, q, x.Shape, lo, hi, round)
	default:
		return nil, fmt.Errorf("cannot quantize to %v", dt)
	}
	return out, nil
}

// rqOf is the requantization scheme of v ("float" for ops without the
// attribute).
func rqOf(v *ir.Value) string {
	if v.Op.AttrDef("rq") == nil {
		return "float"
	}
	return v.Str("rq")
}

// checkRQFloat validates the rq attribute of an op whose tflite form is not
// implemented yet.
func checkRQFloat(v *ir.Value) error {
	if rq := rqOf(v); rq != "float" {
		return fmt.Errorf("rq=%s is not supported yet for %s (only rq=float)", rq, v.Op.Name)
	}
	return nil
}

// isQuantized reports whether the value involves quantized integer tensors
// (the result or any argument).
func isQuantized(v *ir.Value) bool {
	if v.Type.Quant != nil {
		return true
	}
	for _, a := range v.Args {
		if a.Type.Quant != nil && a.Type.DType.IsInt() {
			return true
		}
	}
	return false
}

// floatShadow is a copy of v computing on f32 tensors: integer result and
// arguments become f32 without quantization (i32 / i64 index arguments of
// gather stay as they are).
func floatShadow(v *ir.Value) *ir.Value {
	s := *v
	s.Type = ir.Type{DType: ir.F32, Shape: v.Type.Shape}
	s.Args = make([]*ir.Value, len(v.Args))
	for i, a := range v.Args {
		if a.Type.Quant == nil {
			s.Args[i] = a
			continue
		}
		fa := *a
		fa.Type = ir.Type{DType: ir.F32, Shape: a.Type.Shape}
		s.Args[i] = &fa
	}
	return &s
}

// viaFloat builds a quantized form of an op from its f32 kernel: dequantize
// the quantized arguments, compute in f32, quantize into the result type
// (round half to even, saturate). Every integer argument and the result must
// be quantized.
func viaFloat(v *ir.Value, b builder) (kernel, error) {
	if err := checkRQFloat(v); err != nil {
		return nil, err
	}
	if !v.Type.DType.IsInt() || v.Type.Quant == nil {
		return nil, fmt.Errorf("quantized %s needs a quantized integer result, got %v", v.Op.Name, v.Type)
	}
	for i, a := range v.Args {
		if a.Type.DType.IsInt() && a.Type.Quant == nil && !(v.Op.Name == "gather" && i == 1) {
			return nil, fmt.Errorf("argument %d (%%%s: %v) is a plain integer tensor among quantized ones", i, a.Name, a.Type)
		}
	}
	fk, err := b(floatShadow(v))
	if err != nil {
		return nil, err
	}
	argQ := make([]*ir.Quant, len(v.Args))
	for i, a := range v.Args {
		argQ[i] = a.Type.Quant
	}
	dt, q := v.Type.DType, v.Type.Quant
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		fargs := make([]*ir.Tensor, len(args))
		for i, a := range args {
			fargs[i] = a
			if argQ[i] != nil {
				f, err := dequantize(a, argQ[i])
				if err != nil {
					return nil, err
				}
				fargs[i] = f
			}
		}
		r, err := fk(fargs)
		if err != nil {
			return nil, err
		}
		return quantize(r, dt, q)
	}, nil
}

func init() {
	register("quantize", buildQuantize)
	register("dequantize", buildDequantize)
	register("requantize", buildRequantize)
}

func buildQuantize(v *ir.Value) (kernel, error) {
	q := v.Type.Quant
	if q == nil {
		return nil, fmt.Errorf("quantize without result quantization")
	}
	x := v.Args[0].Type
	dt := v.Type.DType
	round := roundHalfEven
	switch rq := rqOf(v); rq {
	case "float":
	case "tflite":
		round = roundHalfAway
	default:
		return nil, fmt.Errorf("unknown rq %q (float or tflite)", rq)
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		f := args[0]
		if x.DType == ir.I32 {
			f = ir.NewTensor(ir.F32, args[0].Shape)
			for i, s := range args[0].I32 {
				f.F32[i] = float32(s)
			}
		} else if x.DType != ir.F32 {
			return nil, fmt.Errorf("quantize takes f32 or i32, got %v", x.DType)
		}
		return quantizeRound(f, dt, q, round)
	}, nil
}

func buildDequantize(v *ir.Value) (kernel, error) {
	q := v.Args[0].Type.Quant
	if q == nil {
		return nil, fmt.Errorf("dequantize of a tensor without quantization")
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) { return dequantize(args[0], q) }, nil
}

func buildRequantize(v *ir.Value) (kernel, error) {
	qx, qy := v.Args[0].Type.Quant, v.Type.Quant
	if qx == nil || qy == nil {
		return nil, fmt.Errorf("requantize needs quantized input and result types")
	}
	shape := v.Type.Shape
	lo, hi := v.Type.DType.Range()
	switch rq := rqOf(v); rq {
	case "float":
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			f, err := dequantize(args[0], qx)
			if err != nil {
				return nil, err
			}
			return quantize(f, v.Type.DType, qy)
		}, nil
	case "tflite":
		if qx.Axis >= 0 && qy.Axis >= 0 && qx.Axis != qy.Axis {
			return nil, fmt.Errorf("requantize between axes %d and %d", qx.Axis, qy.Axis)
		}
		cx, cy := channelsOf(qx, shape), channelsOf(qy, shape)
		nch := max(cx.dim, cy.dim)
		mult := make([]int32, nch)
		shift := make([]int, nch)
		for c := 0; c < nch; c++ {
			mult[c], shift[c] = QuantizeMultiplier(float64(qx.ScaleAt(c)) / float64(qy.ScaleAt(c)))
		}
		ch := cx
		if cy.dim > 1 {
			ch = cy
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			x := args[0]
			out := newResult(v)
			n := x.Len()
			for i := 0; i < n; i++ {
				c := ch.at(i)
				d := x.IntAt(i) - qx.ZeroAt(c)
				y := int64(MultiplyByQuantizedMultiplier(int32(d), mult[c], shift[c])) + qy.ZeroAt(c)
				out.SetInt(i, clampInt(y, lo, hi))
			}
			return out, nil
		}, nil
	default:
		return nil, fmt.Errorf("unknown rq %q (float or tflite)", rq)
	}
}

// QuantizeMultiplier splits a real multiplier into a Q0.31 fixed-point
// mantissa and a power-of-two exponent, as TFLite's quantization_util does:
// m = frexp(real) in [0.5, 1), mantissa = round(m · 2³¹) (halves away from
// zero), renormalized when it rounds up to 2³¹; exponents below -31 flush
// the multiplier to zero.
func QuantizeMultiplier(real float64) (mantissa int32, shift int) {
	if real == 0 {
		return 0, 0
	}
	q, exp := math.Frexp(real)
	fixed := int64(math.Round(q * (1 << 31)))
	if fixed == 1<<31 {
		fixed /= 2
		exp++
	}
	if exp < -31 {
		return 0, 0
	}
	if exp > 30 {
		return math.MaxInt32, 30
	}
	return int32(fixed), exp
}

// SaturatingRoundingDoublingHighMul is gemmlowp's high half of 2·a·b with
// rounding to nearest; the single overflowing case (MinInt32²) saturates.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == b && a == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - (1 << 30)
	}
	// C division truncates toward zero; so does Go's.
	return int32((ab + nudge) / (1 << 31))
}

// RoundingDivideByPOT divides by 2^exponent rounding to nearest, ties away
// from zero (gemmlowp's rounding arithmetic right shift).
func RoundingDivideByPOT(x int32, exponent int) int32 {
	mask := int32(1)<<exponent - 1
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> exponent
	if remainder > threshold {
		r++
	}
	return r
}

// MultiplyByQuantizedMultiplier scales an int32 accumulator by a multiplier
// from QuantizeMultiplier (TFLite reference arithmetic): the left shift of a
// positive exponent wraps in 32 bits, then the rounding doubling high
// multiply, then the rounding right shift of a negative exponent.
func MultiplyByQuantizedMultiplier(x int32, mantissa int32, shift int) int32 {
	left, right := 0, 0
	if shift > 0 {
		left = shift
	} else {
		right = -shift
	}
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x*(1<<left), mantissa), right)
}

// requantizer maps int32 accumulators of an integer conv / matmul / gemm to
// the quantized result: per output channel (the channel index is supplied by
// the caller).
type requantizer struct {
	tflite     bool
	scale      []float32 // float: sx*sw_c/sy in float32, per channel
	mult       []int32   // tflite mantissas
	shift      []int
	zy, lo, hi int64
}

// newRequantizer prepares the requantization of acc = Σ(x-zx)(w-zw) for
// input scale sx, weight quantization qw (per tensor or per output channel,
// nch channels) and result quantization qy.
func newRequantizer(rq string, sx float32, qw *ir.Quant, nch int, qy *ir.Quant, dt ir.DType, f32Product bool) (*requantizer, error) {
	r := &requantizer{zy: qy.ZeroPoint[0]}
	r.lo, r.hi = dt.Range()
	switch rq {
	case "float":
		r.scale = make([]float32, nch)
		for c := range r.scale {
			// As ONNX Runtime: the multiplier in float32, (sx*sw)/sy.
			r.scale[c] = sx * qw.ScaleAt(c) / qy.Scale[0]
		}
	case "tflite":
		r.tflite = true
		r.mult = make([]int32, nch)
		r.shift = make([]int, nch)
		for c := range r.mult {
			// As TFLite: double(sx) * double(sw) / double(sy), or with
			// f32Product double(float32(sx * sw)) / double(sy).
			real := float64(sx) * float64(qw.ScaleAt(c)) / float64(qy.Scale[0])
			if f32Product {
				real = float64(sx*qw.ScaleAt(c)) / float64(qy.Scale[0])
			}
			r.mult[c], r.shift[c] = QuantizeMultiplier(real)
		}
	default:
		return nil, fmt.Errorf("unknown rq %q (float or tflite)", rq)
	}
	return r, nil
}

// apply requantizes one accumulator of channel c.
func (r *requantizer) apply(acc int32, c int) int64 {
	if r.tflite {
		return clampInt(int64(MultiplyByQuantizedMultiplier(acc, r.mult[c], r.shift[c]))+r.zy, r.lo, r.hi)
	}
	return saturate(roundHalfEven(float32(acc)*r.scale[c])+float64(r.zy), r.lo, r.hi)
}
