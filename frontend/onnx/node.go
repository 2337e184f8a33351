package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// nodeCtx is what a converter sees of the node it converts. Attribute
// getters record the first malformed attribute in err (checked after the
// converter returns), so converters read attributes without error plumbing.
type nodeCtx struct {
	im    *importer
	n     *onnxpb.NodeProto
	name  string // node name, or op_type_index: the Source of every value made
	op    string
	opset int
	err   error
}

// errf is an error about this node.
func (c *nodeCtx) errf(format string, args ...any) error {
	return &nodeError{model: c.im.model, node: c.name, op: c.op, err: fmt.Errorf(format, args...)}
}

// unsupported is an *UnsupportedError about this node.
func (c *nodeCtx) unsupported(format string, args ...any) error {
	return &UnsupportedError{Model: c.im.model, Node: c.name, Op: c.op, Reason: fmt.Sprintf(format, args...)}
}

func (c *nodeCtx) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// in returns input i, or nil when it is absent (optional and not given).
func (c *nodeCtx) in(i int) *ir.Value {
	ins := c.n.GetInput()
	if i >= len(ins) || ins[i] == "" {
		return nil
	}
	return c.im.vals[ins[i]]
}

// inName is the ONNX name of input i ("" when absent).
func (c *nodeCtx) inName(i int) string {
	if i < len(c.n.GetInput()) {
		return c.n.GetInput()[i]
	}
	return ""
}

// need returns required input i.
func (c *nodeCtx) need(i int) (*ir.Value, error) {
	if v := c.in(i); v != nil {
		return v, nil
	}
	return nil, c.errf("input %d is missing", i)
}

// needN returns the first n inputs, all required.
func (c *nodeCtx) needN(n int) ([]*ir.Value, error) {
	vs := make([]*ir.Value, n)
	for i := range vs {
		v, err := c.need(i)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

// constIn returns the data of input i, which must be a constant; nil when
// the input is absent.
func (c *nodeCtx) constIn(i int) (*ir.Tensor, error) {
	v := c.in(i)
	if v == nil {
		return nil, nil
	}
	if v.IsConst() {
		return v.Const, nil
	}
	if v.IsParam() {
		return nil, c.errf("input %q must be a constant; bind it with --bind %s=FILE", c.inName(i), c.inName(i))
	}
	if err := c.im.foldErr[v]; err != nil {
		return nil, c.errf("input %q must be a constant, but evaluating %s at import failed: %v", c.inName(i), v.Where(), err)
	}
	return nil, c.errf("input %q must be a constant, but it is computed by %s, which pare cannot evaluate at import", c.inName(i), v.Where())
}

// outName is the ONNX name of output i ("" when absent).
func (c *nodeCtx) outName(i int) string {
	if i < len(c.n.GetOutput()) {
		return c.n.GetOutput()[i]
	}
	return ""
}

// tmpName names an intermediate value made while lowering this node, under
// its first output present (an LSTM may leave out Y and keep Y_h).
func (c *nodeCtx) tmpName(suffix string) string {
	for _, o := range c.n.GetOutput() {
		if o != "" {
			return o + "/" + suffix
		}
	}
	return c.name + "/" + suffix
}

// set defines output i (ignored when the output is absent).
func (c *nodeCtx) set(i int, v *ir.Value) {
	if name := c.outName(i); name != "" {
		c.im.vals[name] = v
	}
}

// add builds a value of an IR op, folds it when every argument is constant
// and the evaluators support the op, and appends it to the graph.
func (c *nodeCtx) add(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, name string) (*ir.Value, error) {
	v, err := ir.NewValue(op, args, attrs, hint)
	if err != nil {
		return nil, c.errf("%s: %v", op, err)
	}
	if err := checkShape(v.Type.Shape); err != nil {
		return nil, c.errf("%s: result %v", op, err)
	}
	v.Source = c.name
	t, err := c.im.fold(v)
	if err != nil {
		return nil, c.errf("evaluating %s at import: %v", op, err)
	}
	if t != nil {
		return c.constant(name, t, v.Type.Quant), nil
	}
	c.im.g.Insert(v, name)
	for _, a := range args {
		c.im.uses[a]++
	}
	return v, nil
}

// out adds an op whose value is output 0.
func (c *nodeCtx) out(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) error {
	v, err := c.add(op, args, attrs, hint, c.outName(0))
	if err != nil {
		return err
	}
	c.set(0, v)
	return nil
}

// constant adds a constant made by this node.
func (c *nodeCtx) constant(name string, t *ir.Tensor, q *ir.Quant) *ir.Value {
	v := c.im.g.AddConst(name, t, q)
	v.Source = c.name
	return v
}

// scalar adds a constant scalar of dtype dt.
func (c *nodeCtx) scalar(name string, dt ir.DType, x float64) *ir.Value {
	t := ir.NewTensor(dt, []int{})
	t.Set(0, x)
	return c.constant(c.tmpName(name), t, nil)
}

// reshape adds a reshape (or returns x when the shape is already right).
func (c *nodeCtx) reshape(x *ir.Value, shape []int, name string) (*ir.Value, error) {
	if ir.EqualShape(x.Type.Shape, shape) {
		return x, nil
	}
	return c.add("reshape", []*ir.Value{x}, nil, x.Type.WithShape(shape), name)
}

// Attributes.

func (c *nodeCtx) attr(name string) *onnxpb.AttributeProto {
	for _, a := range c.n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func (c *nodeCtx) has(name string) bool { return c.attr(name) != nil }

// kindOK checks an attribute's declared type (old models leave it unset).
func (c *nodeCtx) kindOK(a *onnxpb.AttributeProto, want onnxpb.AttributeProto_AttributeType) bool {
	if a.GetType() == want || a.GetType() == onnxpb.AttributeProto_UNDEFINED {
		return true
	}
	c.fail(c.errf("attribute %s is %v, want %v", a.GetName(), a.GetType(), want))
	return false
}

func clampInt(v int64) int { return int(max(min(v, bigInt), -bigInt)) }

func (c *nodeCtx) int(name string, def int) int {
	a := c.attr(name)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_INT) {
		return def
	}
	return clampInt(a.GetI())
}

func (c *nodeCtx) ints(name string) []int {
	a := c.attr(name)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_INTS) {
		return nil
	}
	out := make([]int, len(a.GetInts()))
	for i, v := range a.GetInts() {
		out[i] = clampInt(v)
	}
	return out
}

func (c *nodeCtx) float(name string, def float32) float32 {
	a := c.attr(name)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_FLOAT) {
		return def
	}
	return a.GetF()
}

func (c *nodeCtx) floats(name string) []float32 {
	a := c.attr(name)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_FLOATS) {
		return nil
	}
	return a.GetFloats()
}

func (c *nodeCtx) str(name, def string) string {
	a := c.attr(name)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_STRING) {
		return def
	}
	return string(a.GetS())
}

func (c *nodeCtx) tensor(name string) *ir.Tensor {
	a := c.attr(name)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_TENSOR) {
		return nil
	}
	tp, err := loadExternal(c.im.dir, a.GetT())
	if err != nil {
		c.fail(c.errf("attribute %s: %v", name, err))
		return nil
	}
	t, err := DecodeTensor(tp)
	if err != nil {
		if ue, ok := err.(*UnsupportedError); ok {
			c.fail(c.unsupported("attribute %s: %s", name, ue.Reason))
		} else {
			c.fail(c.errf("attribute %s: %v", name, err))
		}
		return nil
	}
	return t
}

// window reads an ints attribute of a conv or pool window (kernel_shape,
// strides, dilations, pads): n entries (or none), each within [lo, 2^31).
func (c *nodeCtx) window(name string, n, lo int) []int {
	l := c.ints(name)
	if l == nil {
		return nil
	}
	if len(l) != n {
		c.fail(c.errf("%s %v has %d entries, want %d", name, l, len(l), n))
		return nil
	}
	for _, v := range l {
		if v < lo || v >= 1<<31 {
			c.fail(c.errf("%s %v out of range", name, l))
			return nil
		}
	}
	return l
}

// normAxis normalizes a possibly negative axis for rank r.
func (c *nodeCtx) normAxis(axis, r int) (int, error) {
	if axis < -r || axis >= r {
		return 0, c.errf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	return axis, nil
}
