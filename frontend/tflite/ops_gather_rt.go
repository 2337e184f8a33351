package tflite

import (
	"fmt"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Gathers at indices computed at run time. TFLite's kernels fail on an
// index outside [0, n): here such an index becomes a position past the
// data, so the gather fails on it (rt's error, the compiled kernels'
// nonzero return) rather than reading another element.

// scalarOf is a constant scalar of dt named after the op's output.
func (b *detBuilder) scalarOf(suffix string, dt ir.DType, x float64) *ir.Value {
	t := ir.NewTensor(dt, []int{})
	t.Set(0, x)
	return b.o.im.addConst(b.o.out.name, suffix, t, nil)
}

// outside marks the runtime indices ix outside [0, n).
func (b *detBuilder) outside(suffix string, ix *ir.Value, n int) *ir.Value {
	dt := ix.Type.DType
	return b.add(suffix+"_out", "or", []*ir.Value{
		b.add(suffix+"_low", "less", []*ir.Value{ix, b.scalarOf(suffix+"_zero", dt, 0)}, nil, ir.Type{}),
		b.add(suffix+"_high", "greater_equal", []*ir.Value{ix, b.scalarOf(suffix+"_size", dt, float64(n))}, nil, ir.Type{})}, nil, ir.Type{})
}

// gatherNDRuntime: GATHER_ND at runtime indices iv [..., k] of params
// shaped shape: row = Σ_j iv[..., j]·stride_j of params viewed as
// [d0·…·d(k−1), rest...], each column checked in range.
func gatherNDRuntime(o *opctx, iv *ir.Value, shape []int) error {
	is := iv.Type.Shape
	if len(is) == 0 {
		return fmt.Errorf("indices %v must have rank >= 1", iv.Type)
	}
	k := is[len(is)-1]
	if k < 1 || k > len(shape) {
		return fmt.Errorf("indices %v index %d dims of params %v", is, k, shape)
	}
	lead := is[:len(is)-1]
	rows := ir.NumElements(shape[:k])
	st := ir.Strides(shape[:k])
	dt := iv.Type.DType
	b := &detBuilder{o: o}
	var row, bad *ir.Value
	for j := 0; j < k; j++ {
		st0, en := make([]int, len(is)), slices.Clone(is)
		st0[len(is)-1], en[len(is)-1] = j, j+1
		col := b.reshape(".column", b.slice(".column", iv, st0, en), lead...)
		if b.err != nil {
			return b.err
		}
		out := b.outside(".index", col, shape[j])
		term := b.add(".along", "mul", []*ir.Value{col, b.scalarOf(".stride", dt, float64(st[j]))}, nil, ir.Type{})
		if row == nil {
			row, bad = term, out
		} else {
			row = b.add(".row", "add", []*ir.Value{row, term}, nil, ir.Type{})
			bad = b.add(".bad", "or", []*ir.Value{bad, out}, nil, ir.Type{})
		}
	}
	row = b.add(".checked", "where", []*ir.Value{bad, b.scalarOf(".past", dt, float64(rows)), row}, nil, ir.Type{})
	x, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	x = b.reshape(".rows", x, append([]int{rows}, shape[k:]...)...)
	v := b.add("", "gather", []*ir.Value{x, row}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	if b.err != nil {
		return b.err
	}
	return o.setMoved(0, v, false)
}

// convEmbeddingLookup imports EMBEDDING_LOOKUP (ids i32 [n], values
// [rows, ...]): a gather of the rows at the ids, an id outside [0, rows)
// an error; quantized values with a float output (the hybrid form) are
// dequantized after the gather.
func convEmbeddingLookup(o *opctx) error {
	ids, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	vals, err := o.im.get(o.in(1))
	if err != nil {
		return err
	}
	if dt := ids.Type.DType; (dt != ir.I32 && dt != ir.I64) || ids.Type.Quant != nil || ids.Type.Rank() != 1 {
		return fmt.Errorf("lookup ids %v must be a 1-D i32 tensor", ids.Type)
	}
	b := &detBuilder{o: o}
	n := vals.Type.Shape[0]
	ix := b.add(".ids", "where", []*ir.Value{b.outside(".id", ids, n), b.scalarOf(".past", ids.Type.DType, float64(n)), ids}, nil, ir.Type{})
	v := b.add("", "gather", []*ir.Value{vals, ix}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	if b.err != nil {
		return b.err
	}
	want, err := o.outTypeAt(0)
	if err != nil {
		return err
	}
	if v.Type.Quant != nil && want.Quant == nil && want.DType == ir.F32 {
		v = b.add(".f32", "dequantize", []*ir.Value{v}, nil, ir.Type{DType: ir.F32})
	}
	if b.err != nil {
		return b.err
	}
	return o.set(v, false)
}
