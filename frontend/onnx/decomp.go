package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// builder chains the IR values of a decomposition (an ONNX op that becomes
// several IR ops). The first error sticks: later steps return nil and add
// nothing, so a converter writes its formula without error plumbing and
// returns finish's error.
type builder struct {
	c   *nodeCtx
	err error
}

func (c *nodeCtx) build() *builder { return &builder{c: c} }

// name is the value name of a step: output 0's for "", else a name under it.
func (b *builder) name(s string) string {
	if s == "" {
		return b.c.outName(0)
	}
	return b.c.tmpName(s)
}

// typed adds op over args with a type hint (the shape of a reshape or expand).
func (b *builder) typed(op, name string, attrs ir.Attrs, hint ir.Type, args ...*ir.Value) *ir.Value {
	if b.err != nil {
		return nil
	}
	v, err := b.c.add(op, args, attrs, hint, b.name(name))
	b.err = err
	return v
}

// op adds op over args; name "" makes it output 0's value.
func (b *builder) op(op, name string, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	return b.typed(op, name, attrs, ir.Type{}, args...)
}

// k is a scalar f32 constant.
func (b *builder) k(name string, x float64) *ir.Value {
	if b.err != nil {
		return nil
	}
	return b.c.scalar(name, ir.F32, x)
}

// reshape reshapes x (x itself when the shape is already right).
func (b *builder) reshape(name string, x *ir.Value, shape []int) *ir.Value {
	if b.err != nil {
		return nil
	}
	v, err := b.c.reshape(x, shape, b.name(name))
	b.err = err
	return v
}

// finish makes v output 0 and returns the first error.
func (b *builder) finish(v *ir.Value) error {
	if b.err == nil {
		b.c.set(0, v)
	}
	return b.err
}

// reduce adds an IR reduction over axes; no axes is the identity (a
// reduction over no dims, as noop_with_empty_axes asks).
func (b *builder) reduce(op, name string, x *ir.Value, axes []int, keep bool) *ir.Value {
	if len(axes) == 0 {
		return x
	}
	k := 0
	if keep {
		k = 1
	}
	return b.op(op, name, ir.Attrs{"axes": ir.Ints(axes...), "keepdims": ir.Int(k)}, x)
}

// normalize returns (x - mean) / sqrt(var + eps) with the mean and the
// (biased) variance over axes, both kept as size-1 dims.
func (b *builder) normalize(x *ir.Value, axes []int, eps float32) (norm, mean, variance *ir.Value) {
	mean = b.reduce("reduce_mean", "mean", x, axes, true)
	d := b.op("sub", "centered", nil, x, mean)
	variance = b.reduce("reduce_mean", "var", b.op("mul", "square", nil, d, d), axes, true)
	sd := b.op("sqrt", "std", nil, b.op("add", "var_eps", nil, variance, b.k("epsilon", float64(eps))))
	return b.op("div", "norm", nil, d, sd), mean, variance
}

// floatIn returns input i, which must be a plain f32 tensor: the
// decompositions compute in f32.
func (c *nodeCtx) floatIn(i int) (*ir.Value, error) {
	x, err := c.need(i)
	if err != nil {
		return nil, err
	}
	if x.Type.DType != ir.F32 || x.Type.Quant != nil {
		return nil, c.unsupported("input %d is %v; pare imports %s on FLOAT tensors only", i, x.Type, c.op)
	}
	return x, nil
}

// onlyOutput0 rejects a node whose optional outputs after the first are used.
func (c *nodeCtx) onlyOutput0(what string) error {
	for i := 1; i < len(c.n.GetOutput()); i++ {
		if c.outName(i) != "" {
			return c.unsupported("output %d (%s) is not supported; pare imports only the first output", i, what)
		}
	}
	return nil
}

// ones is n ones.
func ones(n int) []int {
	l := make([]int, n)
	for i := range l {
		l[i] = 1
	}
	return l
}

// softmaxLike adds a Softmax-like op (Softmax, LogSoftmax, Hardmax) of x
// along the node's axis attribute (default 1 before opset 13, -1 from 13).
// Before opset 13 these ops work on x coerced to 2-D at the axis: when
// dims follow the axis, op runs on that 2-D view along axis 1 (its result
// named inner) and the result is reshaped back to x's shape. op builds the
// result of in along axis, named name.
func (c *nodeCtx) softmaxLike(x *ir.Value, inner string, op func(b *builder, in *ir.Value, axis int, name string) *ir.Value) error {
	r := x.Type.Rank()
	if r == 0 {
		return c.errf("input is a scalar; %s needs rank >= 1", c.op)
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
	trailing := ir.NumElements(x.Type.Shape[axis+1:])
	if c.opset >= 13 || trailing == 1 {
		return b.finish(op(b, x, axis, ""))
	}
	n := x.Type.Shape[axis] * trailing
	flat := b.reshape("2d", x, []int{x.Type.NumElements() / max(n, 1), n})
	if b.err != nil {
		return b.err
	}
	return b.finish(b.reshape("", op(b, flat, 1, inner), x.Type.Shape))
}
