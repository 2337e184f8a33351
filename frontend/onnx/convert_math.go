package onnx

import (
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// Elementwise math, activations, reductions and casts.

func convUnary(op string) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		x, err := c.need(0)
		if err != nil {
			return err
		}
		return c.out(op, []*ir.Value{x}, nil, ir.Type{})
	}
}

// binaryArgs returns the two operands of an elementwise op. Before opset 7,
// broadcast=1 aligned b with a's dims from axis (default: trailing dims);
// b is reshaped so that numpy broadcasting does the same.
func (c *nodeCtx) binaryArgs() (*ir.Value, *ir.Value, error) {
	vs, err := c.needN(2)
	if err != nil {
		return nil, nil, err
	}
	a, b := vs[0], vs[1]
	if c.opset < 7 && c.int("broadcast", 0) != 0 && c.has("axis") {
		ra, rb := a.Type.Rank(), b.Type.Rank()
		axis := c.int("axis", ra-rb)
		if axis < 0 {
			axis += ra
		}
		if axis < 0 || axis+rb > ra {
			return nil, nil, c.errf("legacy broadcast of %v at axis %d into %v", b.Type.Shape, axis, a.Type.Shape)
		}
		shape := append(append([]int{}, b.Type.Shape...), make([]int, ra-axis-rb)...)
		for i := rb; i < len(shape); i++ {
			shape[i] = 1
		}
		if b, err = c.reshape(b, shape, c.tmpName("b")); err != nil {
			return nil, nil, err
		}
	}
	return a, b, nil
}

func convBinary(op string) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		a, b, err := c.binaryArgs()
		if err != nil {
			return err
		}
		return c.out(op, []*ir.Value{a, b}, nil, ir.Type{})
	}
}

// chain folds the inputs with a binary op, naming the last value as output 0.
func (c *nodeCtx) chain(op string, name string) (*ir.Value, error) {
	ins := c.n.GetInput()
	if len(ins) == 0 {
		return nil, c.errf("needs at least one input")
	}
	acc, err := c.need(0)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(ins); i++ {
		x, err := c.need(i)
		if err != nil {
			return nil, err
		}
		n := c.tmpName(op + string(rune('0'+i%10)))
		if i == len(ins)-1 {
			n = name
		}
		if acc, err = c.add(op, []*ir.Value{acc, x}, nil, ir.Type{}, n); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

func convVariadic(op string) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		v, err := c.chain(op, c.outName(0))
		if err != nil {
			return err
		}
		c.set(0, v)
		return nil
	}
}

func convMean(c *nodeCtx) error {
	n := len(c.n.GetInput())
	if n == 1 {
		return convIdentity(c)
	}
	sum, err := c.chain("add", c.tmpName("sum"))
	if err != nil {
		return err
	}
	if sum.Type.DType != ir.F32 {
		return c.errf("Mean takes FLOAT inputs, got %v", sum.Type.DType)
	}
	return c.out("div", []*ir.Value{sum, c.scalar("count", ir.F32, float64(n))}, nil, ir.Type{})
}

func convPow(c *nodeCtx) error {
	x, y, err := c.binaryArgs() // Pow-1: legacy broadcast too
	if err != nil {
		return err
	}
	if y.Type.DType != ir.F32 && x.Type.DType == ir.F32 {
		if y, err = c.add("cast", []*ir.Value{y}, nil, ir.Type{DType: ir.F32}, c.tmpName("exponent")); err != nil {
			return err
		}
	}
	return c.out("pow", []*ir.Value{x, y}, nil, ir.Type{})
}

func convPRelu(c *nodeCtx) error {
	vs, err := c.needN(2)
	if err != nil {
		return err
	}
	x, slope := vs[0], vs[1]
	// Before opset 7 a 1-D slope of C values applied per channel (dim 1).
	if c.opset < 7 && slope.Type.Rank() == 1 && x.Type.Rank() > 2 && slope.Type.Shape[0] == x.Type.Shape[1] {
		shape := make([]int, x.Type.Rank()-1)
		for i := range shape {
			shape[i] = 1
		}
		shape[0] = slope.Type.Shape[0]
		if slope, err = c.reshape(slope, shape, c.tmpName("slope")); err != nil {
			return err
		}
	}
	return c.out("prelu", []*ir.Value{x, slope}, nil, ir.Type{})
}

func convLeakyRelu(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	return c.out("leaky_relu", []*ir.Value{x}, ir.Attrs{"alpha": ir.Float(c.float("alpha", 0.01))}, ir.Type{})
}

func convHardSigmoid(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	return c.out("hardsigmoid", []*ir.Value{x}, ir.Attrs{"alpha": ir.Float(c.float("alpha", 0.2)), "beta": ir.Float(c.float("beta", 0.5))}, ir.Type{})
}

func convClip(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	attrs := ir.Attrs{}
	if c.opset < 11 {
		if c.has("min") {
			attrs["min"] = ir.Float(c.float("min", 0))
		}
		if c.has("max") {
			attrs["max"] = ir.Float(c.float("max", 0))
		}
	} else {
		if runtimeBound(c) {
			return clipRuntime(c, x)
		}
		for i, name := range []string{"min", "max"} {
			t, err := c.constIn(i + 1)
			if err != nil {
				return err
			}
			if t == nil {
				continue
			}
			f, err := scalarF32(t)
			if err != nil {
				return c.errf("%s bound: %v", name, err)
			}
			attrs[name] = ir.Float(f)
		}
	}
	return c.out("clip", []*ir.Value{x}, attrs, ir.Type{})
}

// runtimeBound reports whether a Clip-11 bound is computed at run time.
func runtimeBound(c *nodeCtx) bool {
	for i := 1; i <= 2; i++ {
		if v := c.in(i); v != nil && !v.IsConst() {
			return true
		}
	}
	return false
}

// clipRuntime is Clip with a bound computed at run time: max(x, min), then
// min(·, max), which keep a NaN x as Clip does and give max where
// min > max; x must be f32 or plain integers, the bounds scalars of its
// type.
func clipRuntime(c *nodeCtx, x *ir.Value) error {
	if x.Type.Quant != nil {
		return c.unsupported("Clip of quantized %v with a bound computed at run time", x.Type)
	}
	b := c.build()
	y := x
	for i, op := range []string{"max", "min"} {
		bound := c.in(i + 1)
		if bound == nil {
			continue
		}
		if bound.Type.NumElements() != 1 || bound.Type.DType != x.Type.DType {
			return c.errf("bound %v must be a scalar of the input's type %v", bound.Type, x.Type.DType)
		}
		bound = b.reshape(op+"_bound", bound, []int{})
		name := "clipped_low"
		if i == 1 || c.in(2) == nil {
			name = ""
		}
		y = b.op(op, name, nil, y, bound)
	}
	return b.finish(y)
}

func convCast(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	var to int32
	if c.opset < 6 { // Cast-1: the type by name
		name := c.str("to", "")
		v, ok := onnxpb.TensorProto_DataType_value[name]
		if !ok {
			return c.errf("to %q is not a data type name", name)
		}
		to = v
	} else {
		to = int32(min(max(c.int("to", 0), -1), 1<<20))
	}
	if to == dtFloat16 || to == dtBFloat16 {
		to = dtFloat // half-precision models compute in f32 (decodeHalf)
	}
	dt, err := irDType(to)
	if err != nil {
		return c.unsupported("cast to %s", err.(*UnsupportedError).Reason)
	}
	if dt == x.Type.DType {
		c.set(0, x)
		return nil
	}
	return c.out("cast", []*ir.Value{x}, nil, ir.Type{DType: dt})
}

// foldArgs returns the n constant inputs and their broadcast shape, within
// the folding budget.
func (c *nodeCtx) foldArgs(n int) ([]*ir.Tensor, []int, error) {
	ts := make([]*ir.Tensor, n)
	var shape []int
	for i := range ts {
		t, err := c.constIn(i)
		if err != nil {
			return nil, nil, err
		}
		if t == nil {
			return nil, nil, c.errf("input %d is missing", i)
		}
		ts[i] = t
		if i == 0 {
			shape = t.Shape
		} else if shape, err = ir.Broadcast(shape, t.Shape); err != nil {
			return nil, nil, c.errf("%v", err)
		}
	}
	if err := checkShape(shape); err != nil || !c.im.budget(ir.NumElements(shape)*8) {
		return nil, nil, c.errf("result shape %v is too large to fold", shape)
	}
	return ts, shape, nil
}
