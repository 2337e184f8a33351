package onnx

import (
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// GatherElements and GatherND whose indices are computed at run time
// (TopK's indices, an input): the flat position of every selected element
// (or row) is computed in the graph with integer ops, and one gather
// reads them. An index outside [-n, n) turns its flat position into one
// past the data, so the gather fails on it (rt's error; the compiled
// kernels' nonzero return) instead of reading another element.

// checkedIndex normalizes runtime indices idx (i32 or i64) along a dim of
// size n: norm = idx + n where idx < 0; bad marks the entries outside
// [-n, n).
func (b *builder) checkedIndex(name string, idx *ir.Value, n int) (norm, bad *ir.Value) {
	if b.err != nil {
		return nil, nil
	}
	dt := idx.Type.DType
	zero := b.c.scalar(name+"_zero", dt, 0)
	size := b.c.scalar(name+"_size", dt, float64(n))
	neg := b.op("less", name+"_neg", nil, idx, zero)
	norm = b.op("where", name+"_norm", nil, neg, b.op("add", name+"_wrapped", nil, idx, size), idx)
	bad = b.op("or", name+"_bad", nil, b.op("less", name+"_low", nil, norm, zero), b.op("greater_equal", name+"_high", nil, norm, size))
	return norm, bad
}

// indexType returns integer indices in a dtype the flat positions, up to
// past (one past the last), fit in: i32 indices stay i32 when past does
// (the compiled backends take i32 and i64 arithmetic, and no cast from i32
// to i64), others become i64.
func (b *builder) indexType(name string, idx *ir.Value, past int) *ir.Value {
	dt := idx.Type.DType
	if b.err != nil || dt == ir.I64 || dt == ir.I32 && past <= math.MaxInt32 {
		return idx
	}
	return b.typed("cast", name, nil, ir.Type{DType: ir.I64}, idx)
}

// gatherElementsRT: y[p] = x[p with idx[p] at axis] for runtime idx of
// the shape s: the flat position is base[p] + norm(idx[p])·stride[axis],
// base the constant contribution of the other dims.
func (c *nodeCtx) gatherElementsRT(x, idx *ir.Value, axis int) error {
	b := c.build()
	return b.finish(b.gatherElementsAt("", x, idx, axis))
}

// gatherElementsAt adds the ops of gatherElementsRT, the result named
// name (see builder.name).
func (b *builder) gatherElementsAt(name string, x, idx *ir.Value, axis int) *ir.Value {
	if b.err != nil {
		return nil
	}
	c := b.c
	xs, s := x.Type.Shape, idx.Type.Shape
	st := ir.Strides(xs)
	base := ir.NewTensor(ir.I64, s)
	for i := range base.Len() {
		pos := unflatIndex(i, s)
		pos[axis] = 0
		base.I64[i] = int64(flatIndex(pos, xs))
	}
	total := x.Type.NumElements()
	idx = b.indexType("indices64", idx, total)
	if b.err != nil {
		return nil
	}
	dt := idx.Type.DType
	if dt == ir.I32 {
		base = toI32(base)
	}
	norm, bad := b.checkedIndex("index", idx, xs[axis])
	if b.err != nil {
		return nil
	}
	flat := b.op("add", "flat", nil, c.constant(c.tmpName("base"), base, nil),
		b.op("mul", "along", nil, norm, c.scalar("stride", dt, float64(st[axis]))))
	flat = b.op("where", "checked", nil, bad, c.scalar("past_end", dt, float64(total)), flat)
	flatX := b.reshape("flat_data", x, []int{total})
	return b.op("gather", name, ir.Attrs{"axis": ir.Int(0)}, flatX, flat)
}

// gatherNDRT: each runtime index tuple idx[t, :] (after batch_dims bd)
// selects the row Σ_j norm(idx[t, j])·stride_j (+ its batch's offset) of
// x viewed as [Π shape[:bd+m], rest].
func (c *nodeCtx) gatherNDRT(x, idx *ir.Value, bd int) error {
	xs, is := x.Type.Shape, idx.Type.Shape
	q := len(is)
	m := is[q-1]
	lead, tuples := xs[:bd+m], is[:q-1]
	st := ir.Strides(lead)
	rows := ir.NumElements(lead)
	base := ir.NewTensor(ir.I64, tuples)
	for t := range base.Len() {
		pos := unflatIndex(t, tuples)
		off := 0
		for d := 0; d < bd; d++ {
			off += pos[d] * st[d]
		}
		base.I64[t] = int64(off)
	}
	b := c.build()
	i64 := b.indexType("indices64", idx, rows)
	if b.err != nil {
		return b.err
	}
	dt := i64.Type.DType
	if dt == ir.I32 {
		base = toI32(base)
	}
	row := c.constant(c.tmpName("batch_rows"), base, nil)
	var anyBad *ir.Value
	for j := range m {
		ij := b.reshape("index", b.sliceAxis("index", i64, q-1, j, j+1), tuples)
		norm, bad := b.checkedIndex("index", ij, lead[bd+j])
		row = b.op("add", "row", nil, row, b.op("mul", "along", nil, norm, c.scalar("stride", dt, float64(st[bd+j]))))
		if anyBad == nil {
			anyBad = bad
		} else {
			anyBad = b.op("or", "bad", nil, anyBad, bad)
		}
	}
	if b.err != nil {
		return b.err
	}
	row = b.op("where", "checked", nil, anyBad, c.scalar("past_end", dt, float64(rows)), row)
	rest := xs[bd+m:]
	table := b.reshape("rows", x, []int{rows, ir.NumElements(rest)})
	g := b.op("gather", "gathered", ir.Attrs{"axis": ir.Int(0)}, table, row)
	return b.finish(b.reshape("", g, slices.Concat(tuples, rest)))
}

// toI32 converts an i64 tensor of small values to i32.
func toI32(t *ir.Tensor) *ir.Tensor {
	r := ir.NewTensor(ir.I32, t.Shape)
	for i, v := range t.I64 {
		r.I32[i] = int32(v)
	}
	return r
}

// oneHotRT: OneHot of indices or values computed at run time:
// where(equal(norm(idx) with a 1 at axis, iota along axis), on, off), the
// indices truncated to i32 when they are floats; an index outside
// [-depth, depth) matches nothing (all off, as ONNX says).
func (c *nodeCtx) oneHotRT(idx, vals *ir.Value, depth int) error {
	r := idx.Type.Rank() + 1
	axis, err := c.normAxis(c.int("axis", -1), r)
	if err != nil {
		return err
	}
	b := c.build()
	if !idx.Type.DType.IsInt() || idx.Type.Quant != nil {
		if idx.Type.DType != ir.F32 || idx.Type.Quant != nil {
			return c.errf("indices %v must be integers or f32", idx.Type)
		}
		idx = b.typed("cast", "indices_int", nil, ir.Type{DType: ir.I32}, idx)
	}
	if b.err != nil {
		return b.err
	}
	dt := idx.Type.DType
	zero := c.scalar("zero", dt, 0)
	neg := b.op("less", "neg", nil, idx, zero)
	norm := b.op("where", "norm", nil, neg, b.op("add", "wrapped", nil, idx, c.scalar("depth", dt, float64(depth))), idx)
	if b.err != nil {
		return b.err
	}
	col := b.reshape("column", norm, slices.Insert(slices.Clone(idx.Type.Shape), axis, 1))
	iotaShape := make([]int, r)
	for i := range iotaShape {
		iotaShape[i] = 1
	}
	iotaShape[axis] = depth
	iota := ir.NewTensor(dt, iotaShape)
	for i := range depth {
		iota.Set(i, float64(i))
	}
	hot := b.op("equal", "hot", nil, col, c.constant(c.tmpName("iota"), iota, nil))
	off := b.reshape("off", b.sliceAxis("off", vals, 0, 0, 1), []int{})
	on := b.reshape("on", b.sliceAxis("on", vals, 0, 1, 2), []int{})
	return b.finish(b.op("where", "", nil, hot, on, off))
}
