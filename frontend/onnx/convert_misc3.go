package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// Hardmax, RMSNormalization, ScatterElements, ScatterND, ReverseSequence,
// CenterCropPad and the window functions: decomposed into existing IR ops
// or constants (what must be known at import is a constant input).

// iotaAlong is the constant 0, 1, ..., n-1 (i64) along axis of a tensor of
// rank r, size 1 on the other dims.
func (c *nodeCtx) iotaAlong(n, axis, r int) *ir.Value {
	shape := ones(r)
	shape[axis] = n
	t := ir.NewTensor(ir.I64, shape)
	for i := range n {
		t.I64[i] = int64(i)
	}
	return c.constant(c.tmpName("iota"), t, nil)
}

// convHardmax: argmax along the axis (keepdims), equal against a constant
// iota along it, where 1 else 0: one-hot of the first maximum. Before
// opset 13 the axis coerces x to 2-D as Softmax does.
func convHardmax(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	if r == 0 {
		return c.errf("input is a scalar; Hardmax needs rank >= 1")
	}
	def := -1
	if c.opset < 13 {
		def = 1
	}
	axis, err := c.normAxis(c.int("axis", def), r)
	if err != nil {
		return err
	}
	b := c.build()
	in := x
	if trailing := ir.NumElements(x.Type.Shape[axis+1:]); c.opset < 13 && trailing > 1 {
		inner := x.Type.Shape[axis] * trailing
		in, axis = b.reshape("2d", x, []int{x.Type.NumElements() / max(inner, 1), inner}), 1
	}
	if b.err != nil {
		return b.err
	}
	am := b.typed("argmax", "argmax", ir.Attrs{"axis": ir.Int(axis), "keepdims": ir.Int(1), "select_last_index": ir.Int(0)}, ir.Type{DType: ir.I64}, in)
	if b.err != nil {
		return b.err
	}
	hot := b.op("equal", "is_max", nil, am, c.iotaAlong(in.Type.Shape[axis], axis, in.Type.Rank()))
	one, zero := b.k("one", 1), b.k("zero", 0)
	if in == x {
		return b.finish(b.op("where", "", nil, hot, one, zero))
	}
	y := b.op("where", "hardmax_2d", nil, hot, one, zero)
	return b.finish(b.reshape("", y, x.Type.Shape))
}

// convRMSNorm: x / sqrt(mean(x², axes from axis on) + epsilon) · scale,
// the statistics in f32 (stash_type 1).
func convRMSNorm(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	scale, err := c.floatIn(1)
	if err != nil {
		return err
	}
	if st := c.int("stash_type", 1); st != 1 {
		return c.unsupported("stash_type %d is not supported (1, statistics in FLOAT, is)", st)
	}
	r := x.Type.Rank()
	if r == 0 {
		return c.errf("input is a scalar; RMSNormalization needs rank >= 1")
	}
	axis, err := c.normAxis(c.int("axis", -1), r)
	if err != nil {
		return err
	}
	if s, err := ir.Broadcast(scale.Type.Shape, x.Type.Shape); err != nil || !ir.EqualShape(s, x.Type.Shape) {
		return c.errf("scale %v does not broadcast to the input %v", scale.Type.Shape, x.Type.Shape)
	}
	var axes []int
	for i := axis; i < r; i++ {
		axes = append(axes, i)
	}
	b := c.build()
	ms := b.reduce("reduce_mean", "mean_square", b.op("mul", "square", nil, x, x), axes, true)
	rms := b.op("sqrt", "rms", nil, b.op("add", "mean_square_eps", nil, ms, b.k("epsilon", float64(c.float("epsilon", 1e-5)))))
	return b.finish(b.op("mul", "", nil, b.op("div", "norm", nil, x, rms), scale))
}
