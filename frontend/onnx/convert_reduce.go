package onnx

import (
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Reductions: ReduceMean/Sum/Max map to IR ops; ReduceMin, ReduceL1,
// ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp decompose
// into them and elementwise ops.

// reduceArgs reads the input and the axes of a Reduce* node (an attribute
// before opset inputSince, an input after), normalized and sorted. No axes
// (nil) means no reduction: noop_with_empty_axes=1 with empty axes, or a
// scalar input.
func (c *nodeCtx) reduceArgs(inputSince int) (x *ir.Value, axes []int, keep bool, err error) {
	if x, err = c.need(0); err != nil {
		return
	}
	if c.opset >= inputSince {
		t, err := c.constIn(1)
		if err != nil {
			return nil, nil, false, err
		}
		if t != nil {
			if axes, err = intList(t); err != nil {
				return nil, nil, false, c.errf("axes: %v", err)
			}
		}
	} else {
		axes = c.ints("axes")
	}
	keep = c.int("keepdims", 1) != 0
	r := x.Type.Rank()
	if len(axes) == 0 {
		if c.int("noop_with_empty_axes", 0) != 0 || r == 0 {
			return x, nil, keep, c.err
		}
		for i := 0; i < r; i++ {
			axes = append(axes, i)
		}
	}
	norm := make([]int, len(axes))
	for i, a := range axes {
		if norm[i], err = c.normAxis(a, r); err != nil {
			return nil, nil, false, err
		}
	}
	slices.Sort(norm)
	if len(slices.Compact(slices.Clone(norm))) != len(norm) {
		return nil, nil, false, c.errf("axes %v repeat an axis", axes)
	}
	return x, norm, keep, c.err
}

// convReduce converts ReduceMean/Sum/Max; axes became an input at opset
// inputSince.
func convReduce(op string, inputSince int) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		x, axes, keep, err := c.reduceArgs(inputSince)
		if err != nil {
			return err
		}
		b := c.build()
		return b.finish(b.reduce(op, "", x, axes, keep))
	}
}

// reduceForm is a reduction decomposed as post(op(pre(x))).
type reduceForm struct {
	pre  func(b *builder, x *ir.Value) *ir.Value // nil: none
	op   string                                  // reduce_sum or reduce_max
	post string                                  // a unary IR op after the reduction, or ""
}

func square(b *builder, x *ir.Value) *ir.Value { return b.op("mul", "square", nil, x, x) }

func unaryStep(op string) func(b *builder, x *ir.Value) *ir.Value {
	return func(b *builder, x *ir.Value) *ir.Value { return b.op(op, op, nil, x) }
}

// The decomposed reductions (the axes input arrived at opset 18).
var (
	reduceMin       = reduceForm{pre: unaryStep("neg"), op: "reduce_max", post: "neg"} // −max(−x)
	reduceL1        = reduceForm{pre: unaryStep("abs"), op: "reduce_sum"}
	reduceL2        = reduceForm{pre: square, op: "reduce_sum", post: "sqrt"}
	reduceSumSquare = reduceForm{pre: square, op: "reduce_sum"}
	reduceLogSum    = reduceForm{op: "reduce_sum", post: "log"}
)

// floatReduceArgs is reduceArgs for the decomposed reductions: axes an
// input from opset 18, and an f32 input.
func (c *nodeCtx) floatReduceArgs() (*ir.Value, []int, bool, error) {
	if _, err := c.floatIn(0); err != nil {
		return nil, nil, false, err
	}
	return c.reduceArgs(18)
}

func convReduceForm(f reduceForm) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		x, axes, keep, err := c.floatReduceArgs()
		if err != nil {
			return err
		}
		b := c.build()
		if f.pre != nil {
			x = f.pre(b, x)
		}
		if f.post == "" {
			return b.finish(b.reduce(f.op, "", x, axes, keep))
		}
		return b.finish(b.op(f.post, "", nil, b.reduce(f.op, "reduced", x, axes, keep)))
	}
}

// convReduceLogSumExp: log(Σ exp(x − m)) + m with m the maximum over the
// axes, so that large inputs do not overflow.
func convReduceLogSumExp(c *nodeCtx) error {
	x, axes, keep, err := c.floatReduceArgs()
	if err != nil {
		return err
	}
	b := c.build()
	m := b.reduce("reduce_max", "max", x, axes, true)
	e := b.op("exp", "exp", nil, b.op("sub", "shifted", nil, x, m))
	s := b.reduce("reduce_sum", "sum", e, axes, true)
	name := ""
	if !keep && len(axes) > 0 {
		name = "kept"
	}
	y := b.op("add", name, nil, b.op("log", "log", nil, s), m)
	if name == "" {
		return b.finish(y)
	}
	var shape []int
	for i, d := range x.Type.Shape {
		if !slices.Contains(axes, i) {
			shape = append(shape, d)
		}
	}
	if shape == nil {
		shape = []int{}
	}
	return b.finish(b.reshape("", y, shape))
}

// convArgMax converts ArgMax, and ArgMin (min: of f32 inputs, as the
// argmax of −x, exact): axis (default 0), keepdims, select_last_index
// (opset 12), an i64 result.
func convArgMax(min bool) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		x, err := c.need(0)
		if err != nil {
			return err
		}
		if min {
			if x, err = c.floatIn(0); err != nil {
				return err
			}
		}
		if x.Type.Quant != nil {
			return c.unsupported("input is quantized (%v)", x.Type)
		}
		axis, err := c.normAxis(c.int("axis", 0), x.Type.Rank())
		if err != nil {
			return err
		}
		if min {
			if x, err = c.add("neg", []*ir.Value{x}, nil, ir.Type{}, c.tmpName("neg")); err != nil {
				return err
			}
		}
		return c.out("argmax", []*ir.Value{x}, ir.Attrs{"axis": ir.Int(axis), "keepdims": ir.Int(c.int("keepdims", 1)),
			"select_last_index": ir.Int(c.int("select_last_index", 0))}, ir.Type{DType: ir.I64})
	}
}

// convTopK: Values → topk, Indices → topk_index (i64), K constant (an
// attribute before opset 10); sorted=0 allows any order, so the sorted one
// serves.
func convTopK(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	k := c.int("k", 0)
	if c.opset >= 10 {
		t, err := c.constIn(1)
		if err != nil {
			return err
		}
		if t == nil {
			return c.errf("the K input is missing")
		}
		l, err := intList(t)
		if err != nil || len(l) != 1 {
			return c.errf("K must be one integer")
		}
		k = l[0]
	}
	axis, err := c.normAxis(c.int("axis", -1), x.Type.Rank())
	if err != nil {
		return err
	}
	attrs := ir.Attrs{"k": ir.Int(k), "axis": ir.Int(axis), "largest": ir.Int(c.int("largest", 1))}
	for i, op := range []string{"topk", "topk_index"} {
		if c.outName(i) == "" {
			continue
		}
		v, err := c.add(op, []*ir.Value{x}, attrs, ir.Type{}, c.outName(i))
		if err != nil {
			return err
		}
		c.set(i, v)
	}
	return nil
}
