package codegen

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// lowerCast lowers cast as an elementwise conversion (QMap), the values
// rt's cast gives:
//
//   - an integer or a bool to f32: a dequantize with scale 1 and zero
//     point 0 (float32(x), rounded to nearest even as the conversion);
//
//   - an integer or a bool to an integer of 32 bits or fewer, and those to
//     i64: a clamp over the whole int32 range, so that the store's
//     truncation wraps as rt's conversion does (an i64 read keeps its low
//     32 bits; a store to i64 sign-extends);
//
//   - f32 to such an integer: "trunc" (toward zero, then wrapped; NaN and
//     values beyond int64 give MinInt64's low bits, as rt).
//
//   - anything to bool: x != 0 (NaN too), an elementwise not(equal(x, 0)).
//
// f32 to i64 and f32 → f32 are not compiled: the error names the node.
func (l *lowerer) lowerCast(v *ir.Value) (*Step, error) {
	x := v.Args[0]
	from, to := x.Type.DType, v.Type.DType
	narrow := func(dt ir.DType) bool { return dt == ir.I8 || dt == ir.U8 || dt == ir.I16 || dt == ir.I32 }
	// wide: the integers a clamp reads (bools as 0 and 1; an i64 wraps to
	// its low 32 bits, which is all a narrower result keeps).
	wide := func(dt ir.DType) bool { return narrow(dt) || dt == ir.Bool || dt == ir.I64 }
	m := &QMap{Outer: 1, Dim: 1, Inner: v.Type.NumElements(), Lo: math.MinInt32, Hi: math.MaxInt32}
	st := &Step{Kernel: KQuant, Op: v.Op.Name, Where: v.Where(), QMap: m}
	st.In = []Operand{l.operand(x)}
	switch {
	case to == ir.Bool && from != ir.Bool && x.Type.Quant == nil && (wide(from) || from == ir.F32):
		// x != 0 (NaN too) as the elementwise kernels' compare: not(equal(x, 0)).
		out := v.Type.Shape
		ms := &Step{Kernel: KMap, Op: v.Op.Name, Where: v.Where(), In: []Operand{l.operand(x)},
			Loop: &Loop{Shape: out, Strides: [][]int{ir.Strides(out)}}}
		l.appendEpi(ms, epiArg{e: Epi{Op: EpiEqual}, t: ir.NewTensor(from, []int{})})
		l.appendEpi(ms, epiArg{e: Epi{Op: EpiNot}})
		return ms, nil
	case (narrow(from) || from == ir.I64 || from == ir.Bool) && to == ir.F32:
		m.Kind = "dequantize"
		st.In = append(st.In, l.packed(ir.FromF32([]int{1}, []float32{1})), l.packed(i32Tensor([]int{1}, []int32{0})))
	case wide(from) && (narrow(to) || to == ir.I64 && from != ir.I64):
		// Into i64 the clamp's i32 sign-extends: every narrower integer
		// and bool exactly.
		m.Kind = "clamp"
	case from == ir.F32 && narrow(to):
		m.Kind = "trunc"
	default:
		return nil, Unsupported(v, "cast from %v to %v (compiled: between f32, bool and the integers, but not f32 to i64, or f32 to f32)", from, to)
	}
	return st, nil
}
