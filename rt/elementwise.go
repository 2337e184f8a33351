package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Elementwise ops with numpy broadcasting. Integers wrap (add, sub, mul,
// neg, abs) and divide truncating toward zero; an integer division by zero
// gives 0. Quantized operands go through f32 (dequantize, compute,
// quantize) unless the op only compares stored integers.

// vecFn computes dst[i] = f(a[i*sa], b[i*sb]) for a run; sa and sb are the
// run strides of the operands (0 for a broadcast operand).
type vecFn[T number] func(dst, a []T, sa int, b []T, sb int)

func binaryKernel[T number](v *ir.Value, f vecFn[T]) kernel {
	plan := newBcastPlan(v.Type.Shape, v.Args[0].Type.Shape, v.Args[1].Type.Shape)
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		a, b, o := data[T](args[0]), data[T](args[1]), data[T](out)
		plan.each(func(off int, offs []int) {
			f(o[off:off+plan.inner], a[offs[0]:], plan.istride[0], b[offs[1]:], plan.istride[1])
		})
		return out, nil
	}
}

// mapVec applies a scalar function over a run (the generic slow path).
func mapVec[T number](f func(x, y T) T) vecFn[T] {
	return func(dst, a []T, sa int, b []T, sb int) {
		for i := range dst {
			dst[i] = f(a[i*sa], b[i*sb])
		}
	}
}

func addVec[T number](dst, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case sa == 1 && sb == 0:
		a, y := a[:len(dst)], b[0]
		for i := range dst {
			dst[i] = a[i] + y
		}
	case sa == 0 && sb == 1:
		x, b := a[0], b[:len(dst)]
		for i := range dst {
			dst[i] = x + b[i]
		}
	default:
		for i := range dst {
			dst[i] = a[i*sa] + b[i*sb]
		}
	}
}

func subVec[T number](dst, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	default:
		for i := range dst {
			dst[i] = a[i*sa] - b[i*sb]
		}
	}
}

func mulVec[T number](dst, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case sa == 1 && sb == 0:
		a, y := a[:len(dst)], b[0]
		for i := range dst {
			dst[i] = a[i] * y
		}
	default:
		for i := range dst {
			dst[i] = a[i*sa] * b[i*sb]
		}
	}
}

func divVec[T number](dst, a []T, sa int, b []T, sb int) {
	var z T
	_, isFloat := any(z).(float32)
	for i := range dst {
		y := b[i*sb]
		if y == 0 && !isFloat {
			dst[i] = 0
			continue
		}
		dst[i] = a[i*sa] / y
	}
}

func maxOf[T number](x, y T) T {
	if y > x {
		return y
	}
	return x
}

func minOf[T number](x, y T) T {
	if y < x {
		return y
	}
	return x
}

// binaryBuilder makes the builder of an arithmetic binary op from its
// generic vector function.
func binaryBuilder(name string, f32 vecFn[float32], i8 vecFn[int8], u8 vecFn[uint8], i16 vecFn[int16], i32 vecFn[int32], i64 vecFn[int64]) builder {
	var plain builder
	plain = func(v *ir.Value) (kernel, error) {
		if isQuantized(v) && v.Type.DType.IsInt() {
			if sameQuant(v) && (name == "max" || name == "min") {
				return plainBinary(v, f32, i8, u8, i16, i32, i64)
			}
			return viaFloat(v, plain)
		}
		return plainBinary(v, f32, i8, u8, i16, i32, i64)
	}
	return plain
}

func plainBinary(v *ir.Value, f32 vecFn[float32], i8 vecFn[int8], u8 vecFn[uint8], i16 vecFn[int16], i32 vecFn[int32], i64 vecFn[int64]) (kernel, error) {
	if len(v.Args) != 2 {
		return nil, fmt.Errorf("takes 2 arguments, got %d", len(v.Args))
	}
	for _, a := range v.Args {
		if a.Type.DType != v.Type.DType {
			return nil, fmt.Errorf("argument %%%s is %v, result %v", a.Name, a.Type.DType, v.Type.DType)
		}
	}
	return pick(v, v.Type.DType,
		func(v *ir.Value) (kernel, error) { return binaryKernel(v, f32), nil },
		optVec(i8), optVec(u8), optVec(i16), optVec(i32), optVec(i64))
}

func optVec[T number](f vecFn[T]) mkFn {
	if f == nil {
		return nil
	}
	return func(v *ir.Value) (kernel, error) { return binaryKernel(v, f), nil }
}

// sameQuant reports whether every argument and the result share one
// quantization, so that comparisons of stored integers are exact.
func sameQuant(v *ir.Value) bool {
	for _, a := range v.Args {
		if !a.Type.Quant.Equal(v.Type.Quant) {
			return false
		}
	}
	return true
}

func float32Fn(f func(x, y float32) float32) vecFn[float32] { return mapVec(f) }

func init() {
	register("add", withAct(binaryBuilder("add", addVec[float32], addVec[int8], addVec[uint8], addVec[int16], addVec[int32], addVec[int64])))
	register("sub", binaryBuilder("sub", subVec[float32], subVec[int8], subVec[uint8], subVec[int16], subVec[int32], subVec[int64]))
	register("mul", binaryBuilder("mul", mulVec[float32], mulVec[int8], mulVec[uint8], mulVec[int16], mulVec[int32], mulVec[int64]))
	register("div", binaryBuilder("div", divVec[float32], divVec[int8], divVec[uint8], divVec[int16], divVec[int32], divVec[int64]))
	register("max", binaryBuilder("max", mapVec(maxOf[float32]), mapVec(maxOf[int8]), mapVec(maxOf[uint8]), mapVec(maxOf[int16]), mapVec(maxOf[int32]), mapVec(maxOf[int64])))
	register("min", binaryBuilder("min", mapVec(minOf[float32]), mapVec(minOf[int8]), mapVec(minOf[uint8]), mapVec(minOf[int16]), mapVec(minOf[int32]), mapVec(minOf[int64])))
	register("pow", binaryBuilder("pow", float32Fn(func(x, y float32) float32 {
		return float32(math.Pow(float64(x), float64(y)))
	}), nil, nil, nil, nil, nil))
	register("prelu", binaryBuilder("prelu", float32Fn(func(x, s float32) float32 {
		if x < 0 {
			return s * x
		}
		return x
	}), nil, nil, nil, nil, nil))

	for name, f := range floatUnary {
		register(name, unaryFloatBuilder(f))
	}
	register("leaky_relu", func(v *ir.Value) (kernel, error) {
		alpha := v.Float("alpha")
		return unaryFloatBuilder(func(x float32) float32 {
			if x < 0 {
				return alpha * x
			}
			return x
		})(v)
	})
	register("hardsigmoid", func(v *ir.Value) (kernel, error) {
		alpha, beta := v.Float("alpha"), v.Float("beta")
		return unaryFloatBuilder(func(x float32) float32 {
			return max(0, min(1, alpha*x+beta))
		})(v)
	})
	register("relu", buildRelu)
	register("clip", buildClip)
	register("neg", buildNegAbs(false))
	register("abs", buildNegAbs(true))
	register("cast", buildCast)
}

func f64(f func(float64) float64) func(float32) float32 {
	return func(x float32) float32 { return float32(f(float64(x))) }
}

var floatUnary = map[string]func(float32) float32{
	"sigmoid": func(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) },
	"tanh":    f64(math.Tanh),
	"exp":     f64(math.Exp),
	"log":     f64(math.Log),
	"sqrt":    f64(math.Sqrt),
	"erf":     f64(math.Erf),
	"floor":   f64(math.Floor),
	"ceil":    f64(math.Ceil),
	"hardswish": func(x float32) float32 {
		return x * max(0, min(1, x/6+0.5))
	},
	"reciprocal": func(x float32) float32 { return 1 / x },
}

func unaryFloatBuilder(f func(float32) float32) builder {
	return func(v *ir.Value) (kernel, error) {
		if v.Args[0].Type.DType != ir.F32 || v.Type.DType != ir.F32 {
			return nil, fmt.Errorf("%s takes f32, got %v", v.Op.Name, v.Args[0].Type.DType)
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			for i, x := range args[0].F32 {
				out.F32[i] = f(x)
			}
			return out, nil
		}, nil
	}
}

// unaryKernel applies f to every element, same type in and out.
func unaryKernel[T number](v *ir.Value, f func(dst, src []T)) kernel {
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		f(data[T](out), data[T](args[0]))
		return out, nil
	}
}

func clipVec[T number](lo, hi T) func(dst, src []T) {
	return func(dst, src []T) {
		src = src[:len(dst)]
		for i, x := range src {
			if x < lo {
				x = lo
			}
			if x > hi {
				x = hi
			}
			dst[i] = x
		}
	}
}

// requantAfter wraps a kernel working on stored integers with a
// requantization into the result's quantization when it differs from the
// input's.
func requantAfter(v *ir.Value, k kernel) kernel {
	qx, qy := v.Args[0].Type.Quant, v.Type.Quant
	if qx.Equal(qy) || qx == nil || qy == nil {
		return k
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		t, err := k(args)
		if err != nil {
			return nil, err
		}
		f, err := dequantize(t, qx)
		if err != nil {
			return nil, err
		}
		return quantize(f, v.Type.DType, qy)
	}
}

// relu: max(x, 0); on a quantized tensor, max(q, zero point) on the stored
// integers (then requantized if the result's quantization differs).
func buildRelu(v *ir.Value) (kernel, error) {
	x := v.Args[0].Type
	if x.DType == ir.Bool {
		return nil, fmt.Errorf("relu does not take bool")
	}
	if x.Quant != nil && x.Quant.Axis >= 0 && x.DType.IsInt() {
		return viaFloat(v, buildRelu)
	}
	var zp int64
	if x.Quant != nil {
		zp = x.Quant.ZeroPoint[0]
	}
	hiOf := func(dt ir.DType) int64 { _, hi := dt.Range(); return hi }
	var k kernel
	switch x.DType {
	case ir.F32:
		k = unaryKernel(v, func(dst, src []float32) {
			src = src[:len(dst)]
			for i, s := range src {
				if s < 0 {
					s = 0
				}
				dst[i] = s
			}
		})
	case ir.I8:
		k = unaryKernel(v, clipVec(int8(zp), int8(hiOf(ir.I8))))
	case ir.U8:
		k = unaryKernel(v, clipVec(uint8(zp), uint8(hiOf(ir.U8))))
	case ir.I16:
		k = unaryKernel(v, clipVec(int16(zp), int16(hiOf(ir.I16))))
	case ir.I32:
		k = unaryKernel(v, clipVec(int32(zp), int32(hiOf(ir.I32))))
	case ir.I64:
		k = unaryKernel(v, clipVec(zp, hiOf(ir.I64)))
	default:
		return nil, fmt.Errorf("relu does not take %v", x.DType)
	}
	return requantAfter(v, k), nil
}

// intBounds converts float clip bounds to stored integers of dt: the
// smallest integer >= min and the largest <= max, infinities unbounded.
func intBounds(mn, mx float32, dt ir.DType) (lo, hi int64) {
	rlo, rhi := dt.Range()
	// min > max needs no care: clipVec then yields max everywhere, as ONNX.
	return saturate(math.Ceil(float64(mn)), rlo, rhi), saturate(math.Floor(float64(mx)), rlo, rhi)
}

// clip: min(max(x, min), max). On integer tensors the bounds apply to the
// stored integers (as ONNX Clip on integer tensors); min > max gives max
// everywhere, as ONNX; a quantized result with
// other parameters than the input's is requantized after.
func buildClip(v *ir.Value) (kernel, error) {
	mn, mx := v.Float("min"), v.Float("max")
	dt := v.Args[0].Type.DType
	var k kernel
	if dt == ir.F32 {
		k = unaryKernel(v, func(dst, src []float32) {
			src = src[:len(dst)]
			for i, x := range src {
				if x < mn {
					x = mn
				}
				if x > mx {
					x = mx
				}
				dst[i] = x
			}
		})
		return k, nil
	}
	lo, hi := intBounds(mn, mx, dt)
	switch dt {
	case ir.I8:
		k = unaryKernel(v, clipVec(int8(lo), int8(hi)))
	case ir.U8:
		k = unaryKernel(v, clipVec(uint8(lo), uint8(hi)))
	case ir.I16:
		k = unaryKernel(v, clipVec(int16(lo), int16(hi)))
	case ir.I32:
		k = unaryKernel(v, clipVec(int32(lo), int32(hi)))
	case ir.I64:
		k = unaryKernel(v, clipVec(lo, hi))
	default:
		return nil, fmt.Errorf("clip does not take %v", dt)
	}
	return requantAfter(v, k), nil
}

func negVec[T number](abs bool) func(dst, src []T) {
	return func(dst, src []T) {
		src = src[:len(dst)]
		for i, x := range src {
			if !abs || x < 0 {
				x = -x
			}
			dst[i] = x
		}
	}
}

func buildNegAbs(abs bool) builder {
	var b builder
	b = func(v *ir.Value) (kernel, error) {
		dt := v.Args[0].Type.DType
		if isQuantized(v) && dt.IsInt() {
			return viaFloat(v, b)
		}
		switch dt {
		case ir.F32:
			return unaryKernel(v, negVec[float32](abs)), nil
		case ir.I8:
			return unaryKernel(v, negVec[int8](abs)), nil
		case ir.U8:
			if abs {
				return unaryKernel(v, func(dst, src []uint8) { copy(dst, src) }), nil
			}
			return unaryKernel(v, negVec[uint8](false)), nil
		case ir.I16:
			return unaryKernel(v, negVec[int16](abs)), nil
		case ir.I32:
			return unaryKernel(v, negVec[int32](abs)), nil
		case ir.I64:
			return unaryKernel(v, negVec[int64](abs)), nil
		}
		return nil, fmt.Errorf("%s does not take %v", v.Op.Name, dt)
	}
	return b
}

// float32ToInt truncates toward zero and wraps like a C cast through int64;
// NaN and values outside int64 give math.MinInt64 (what x86 produces).
func float32ToInt(f float32) int64 {
	t := math.Trunc(float64(f))
	if t != t || t >= 1<<63 || t < -(1<<63) {
		return math.MinInt64
	}
	return int64(t)
}

func castFrom[S number](dst *ir.Tensor, src []S) {
	var z S
	_, fromFloat := any(z).(float32)
	switch dst.DType {
	case ir.F32:
		for i, x := range src {
			dst.F32[i] = float32(x)
		}
	case ir.Bool:
		for i, x := range src {
			dst.Bool[i] = x != 0
		}
	default:
		if fromFloat {
			f := any(src).([]float32)
			for i, x := range f {
				dst.SetInt(i, float32ToInt(x))
			}
			return
		}
		castInts(dst, src)
	}
}

func castInts[S number](dst *ir.Tensor, src []S) {
	switch dst.DType {
	case ir.I8:
		for i, x := range src {
			dst.I8[i] = int8(x)
		}
	case ir.U8:
		for i, x := range src {
			dst.U8[i] = uint8(x)
		}
	case ir.I16:
		for i, x := range src {
			dst.I16[i] = int16(x)
		}
	case ir.I32:
		for i, x := range src {
			dst.I32[i] = int32(x)
		}
	case ir.I64:
		for i, x := range src {
			dst.I64[i] = int64(x)
		}
	}
}

// cast converts elements to the declared dtype: float to int truncates
// toward zero then wraps, int to int wraps, anything to bool is x != 0,
// bool is 0 or 1. Quantization parameters are ignored (stored integers).
func buildCast(v *ir.Value) (kernel, error) {
	from, to := v.Args[0].Type.DType, v.Type.DType
	if from.Size() == 0 || to.Size() == 0 {
		return nil, fmt.Errorf("cast from %v to %v", from, to)
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x := args[0]
		switch from {
		case ir.F32:
			castFrom(out, x.F32)
		case ir.I8:
			castFrom(out, x.I8)
		case ir.U8:
			castFrom(out, x.U8)
		case ir.I16:
			castFrom(out, x.I16)
		case ir.I32:
			castFrom(out, x.I32)
		case ir.I64:
			castFrom(out, x.I64)
		case ir.Bool:
			for i, b := range x.Bool {
				if b {
					out.SetInt(i, 1)
				} else if to == ir.Bool {
					out.Bool[i] = false
				}
			}
		}
		return out, nil
	}, nil
}
