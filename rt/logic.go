package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Comparisons, logic, selection and the float functions of ops_logic.go.
// Comparisons of quantized operands compare the stored integers (the
// verifier requires one quantization on both sides); NaN compares false
// (equal included).

// mapBcast2 is a broadcasting binary kernel from A×B to O.
func mapBcast2[A, B, O elem](v *ir.Value, f func(a A, b B) O) kernel {
	plan := newBcastPlan(v.Type.Shape, v.Args[0].Type.Shape, v.Args[1].Type.Shape)
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		a, b, o := data[A](args[0]), data[B](args[1]), data[O](out)
		sa, sb := plan.istride[0], plan.istride[1]
		plan.each(func(off int, offs []int) {
			pa, pb := a[offs[0]:], b[offs[1]:]
			for i := range o[off : off+plan.inner] {
				o[off+i] = f(pa[i*sa], pb[i*sb])
			}
		})
		return out, nil
	}
}

// compareFn is the comparison of an op name.
func compareFn[T number](op string) func(a, b T) bool {
	switch op {
	case "equal":
		return func(a, b T) bool { return a == b }
	case "less":
		return func(a, b T) bool { return a < b }
	case "less_equal":
		return func(a, b T) bool { return a <= b }
	case "greater":
		return func(a, b T) bool { return a > b }
	case "greater_equal":
		return func(a, b T) bool { return a >= b }
	}
	return nil
}

func cmpKernel[T number](v *ir.Value) (kernel, error) {
	return mapBcast2(v, compareFn[T](v.Op.Name)), nil
}

func buildCompare(v *ir.Value) (kernel, error) {
	if len(v.Args) != 2 || v.Args[0].Type.DType != v.Args[1].Type.DType || v.Type.DType != ir.Bool {
		return nil, fmt.Errorf("%s compares two operands of one dtype into bool", v.Op.Name)
	}
	eqBool := func(v *ir.Value) (kernel, error) {
		if v.Op.Name != "equal" {
			return nil, fmt.Errorf("%s does not take bool", v.Op.Name)
		}
		return mapBcast2(v, func(a, b bool) bool { return a == b }), nil
	}
	return pick(v, v.Args[0].Type.DType, cmpKernel[float32], cmpKernel[int8], cmpKernel[uint8], cmpKernel[int16], cmpKernel[int32], cmpKernel[int64], eqBool)
}

func buildLogic(v *ir.Value) (kernel, error) {
	for _, a := range v.Args {
		if a.Type.DType != ir.Bool {
			return nil, fmt.Errorf("%s takes bool, got %v", v.Op.Name, a.Type.DType)
		}
	}
	switch v.Op.Name {
	case "and":
		return mapBcast2(v, func(a, b bool) bool { return a && b }), nil
	case "or":
		return mapBcast2(v, func(a, b bool) bool { return a || b }), nil
	case "xor":
		return mapBcast2(v, func(a, b bool) bool { return a != b }), nil
	case "not":
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			for i, b := range args[0].Bool {
				out.Bool[i] = !b
			}
			return out, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown logic op %s", v.Op.Name)
}

func whereKernel[T elem](v *ir.Value) (kernel, error) {
	plan := newBcastPlan(v.Type.Shape, v.Args[0].Type.Shape, v.Args[1].Type.Shape, v.Args[2].Type.Shape)
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		c, a, b, o := args[0].Bool, data[T](args[1]), data[T](args[2]), data[T](out)
		sc, sa, sb := plan.istride[0], plan.istride[1], plan.istride[2]
		plan.each(func(off int, offs []int) {
			pc, pa, pb := c[offs[0]:], a[offs[1]:], b[offs[2]:]
			for i := range o[off : off+plan.inner] {
				if pc[i*sc] {
					o[off+i] = pa[i*sa]
				} else {
					o[off+i] = pb[i*sb]
				}
			}
		})
		return out, nil
	}, nil
}

// where selects stored elements: quantized operands share the result's
// quantization (the verifier checks), so no arithmetic is involved.
func buildWhere(v *ir.Value) (kernel, error) {
	if len(v.Args) != 3 || v.Args[0].Type.DType != ir.Bool || v.Args[1].Type.DType != v.Type.DType || v.Args[2].Type.DType != v.Type.DType {
		return nil, fmt.Errorf("where takes a bool condition and two operands of the result's dtype")
	}
	return pick(v, v.Type.DType, whereKernel[float32], whereKernel[int8], whereKernel[uint8], whereKernel[int16], whereKernel[int32], whereKernel[int64], whereKernel[bool])
}

// signOf is -1, 0 or 1; NaN stays NaN.
func signOf[T number](x T) T {
	switch {
	case x > 0:
		return 1
	case x < 0:
		var z T
		return z - 1
	}
	return x
}

func signKernel[T number](v *ir.Value) (kernel, error) {
	return unaryKernel(v, func(dst, src []T) {
		for i, x := range src[:len(dst)] {
			dst[i] = signOf(x)
		}
	}), nil
}

func buildSign(v *ir.Value) (kernel, error) {
	if v.Args[0].Type.Quant != nil {
		return nil, fmt.Errorf("sign of a quantized tensor")
	}
	return pick(v, v.Args[0].Type.DType, signKernel[float32], signKernel[int8], signKernel[uint8], signKernel[int16], signKernel[int32], signKernel[int64])
}

// modInt is ONNX Mod on integers: fmod false gives the remainder with the
// divisor's sign (Python's %), fmod true the dividend's (C's %); a
// remainder by 0 is 0 (ONNX leaves it undefined).
func modInt[T integer](a, b T, fmod bool) T {
	if b == 0 {
		return 0
	}
	var r, z T
	if b < 0 && b == z-1 {
		r = 0 // MIN % -1 would trap in C; the remainder is 0
	} else {
		r = a % b
	}
	if !fmod && r != 0 && (r < 0) != (b < 0) {
		r += b
	}
	return r
}

func modIntKernel[T integer](fmod bool) mkFn {
	return func(v *ir.Value) (kernel, error) {
		return mapBcast2(v, func(a, b T) T { return modInt(a, b, fmod) }), nil
	}
}

func buildMod(v *ir.Value) (kernel, error) {
	fmod := v.Int("fmod") == 1
	dt := v.Type.DType
	if dt == ir.F32 && !fmod {
		return nil, fmt.Errorf("mod on f32 needs fmod=1")
	}
	f32 := func(v *ir.Value) (kernel, error) {
		return mapBcast2(v, func(a, b float32) float32 { return float32(math.Mod(float64(a), float64(b))) }), nil
	}
	return pick(v, dt, f32, modIntKernel[int8](fmod), modIntKernel[uint8](fmod), modIntKernel[int16](fmod), modIntKernel[int32](fmod), modIntKernel[int64](fmod))
}

func floatPredicate(f func(x float64) bool) builder {
	return func(v *ir.Value) (kernel, error) {
		if v.Args[0].Type.DType != ir.F32 || v.Type.DType != ir.Bool {
			return nil, fmt.Errorf("%s maps f32 to bool", v.Op.Name)
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			for i, x := range args[0].F32 {
				out.Bool[i] = f(float64(x))
			}
			return out, nil
		}, nil
	}
}

// trigUnary are the float functions computed in float64 and rounded.
var trigUnary = map[string]func(float32) float32{
	"round": f64(math.RoundToEven),
	"sin":   f64(math.Sin), "cos": f64(math.Cos), "tan": f64(math.Tan),
	"asin": f64(math.Asin), "acos": f64(math.Acos), "atan": f64(math.Atan),
	"sinh": f64(math.Sinh), "cosh": f64(math.Cosh),
	"asinh": f64(math.Asinh), "acosh": f64(math.Acosh), "atanh": f64(math.Atanh),
}

func init() {
	for _, op := range []string{"equal", "less", "less_equal", "greater", "greater_equal"} {
		register(op, buildCompare)
	}
	for _, op := range []string{"and", "or", "xor", "not"} {
		register(op, buildLogic)
	}
	register("where", buildWhere)
	register("sign", buildSign)
	register("mod", buildMod)
	for name, f := range trigUnary {
		register(name, unaryFloatBuilder(f))
	}
	register("isnan", floatPredicate(math.IsNaN))
	register("isinf", func(v *ir.Value) (kernel, error) {
		pos, neg := v.Int("detect_positive") != 0, v.Int("detect_negative") != 0
		return floatPredicate(func(x float64) bool { return pos && math.IsInf(x, 1) || neg && math.IsInf(x, -1) })(v)
	})
}
