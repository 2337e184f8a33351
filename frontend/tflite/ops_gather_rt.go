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

// chain adds IR values one after another; the first error sticks.
type chain struct {
	o   *opctx
	err error
}

func (c *chain) add(op string, attrs ir.Attrs, hint ir.Type, args ...*ir.Value) *ir.Value {
	if c.err != nil {
		return nil
	}
	v, err := c.o.add(op, args, attrs, hint)
	c.err = err
	return v
}

// scalar is a constant scalar of dt named after the op's indices.
func (c *chain) scalar(suffix string, dt ir.DType, x float64) *ir.Value {
	t := ir.NewTensor(dt, []int{})
	t.Set(0, x)
	return c.o.im.addConst(c.o.im.sg.tensors[c.o.in(1)].name, suffix, t, nil)
}

// outside marks the runtime indices ix outside [0, n).
func (c *chain) outside(ix *ir.Value, n int) *ir.Value {
	dt := ix.Type.DType
	return c.add("or", nil, ir.Type{}, c.add("less", nil, ir.Type{}, ix, c.scalar(".zero", dt, 0)),
		c.add("greater_equal", nil, ir.Type{}, ix, c.scalar(".size", dt, float64(n))))
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
	c := &chain{o: o}
	var row, bad *ir.Value
	for j := 0; j < k; j++ {
		st0, en := make([]int, len(is)), slices.Clone(is)
		st0[len(is)-1], en[len(is)-1] = j, j+1
		one := make([]int, len(is))
		for i := range one {
			one[i] = 1
		}
		col := c.add("slice", ir.Attrs{"starts": ir.Ints(st0...), "ends": ir.Ints(en...), "steps": ir.Ints(one...)}, ir.Type{}, iv)
		col = c.add("reshape", nil, ir.Type{DType: dt, Shape: lead}, col)
		if c.err != nil {
			return c.err
		}
		b := c.outside(col, shape[j])
		term := c.add("mul", nil, ir.Type{}, col, c.scalar(".stride", dt, float64(st[j])))
		if row == nil {
			row, bad = term, b
		} else {
			row, bad = c.add("add", nil, ir.Type{}, row, term), c.add("or", nil, ir.Type{}, bad, b)
		}
	}
	row = c.add("where", nil, ir.Type{}, bad, c.scalar(".past", dt, float64(rows)), row)
	x, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	if view := append([]int{rows}, shape[k:]...); !ir.EqualShape(view, shape) {
		x = c.add("reshape", nil, ir.Type{Shape: view}, x)
	}
	v := c.add("gather", ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, x, row)
	if c.err != nil {
		return c.err
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
	c := &chain{o: o}
	ix := c.add("where", nil, ir.Type{}, c.outside(ids, vals.Type.Shape[0]), c.scalar(".past", ids.Type.DType, float64(vals.Type.Shape[0])), ids)
	v := c.add("gather", ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, vals, ix)
	if c.err != nil {
		return c.err
	}
	want, err := o.outTypeAt(0)
	if err != nil {
		return err
	}
	if v.Type.Quant != nil && want.Quant == nil && want.DType == ir.F32 {
		v = c.add("dequantize", nil, ir.Type{DType: ir.F32}, v)
	}
	if c.err != nil {
		return c.err
	}
	return o.set(v, false)
}
