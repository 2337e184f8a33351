package onnx

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Constants, shape queries, and ops removed at import (Identity, Dropout).

func convIdentity(c *nodeCtx) error {
	if s := c.im.seqs[c.inName(0)]; s != nil {
		c.setSeq(0, s)
		return nil
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	c.set(0, x)
	return nil
}

func convDropout(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if t, err := c.constIn(2); err != nil {
		return err
	} else if t != nil && t.Len() == 1 && t.At(0) != 0 {
		return c.unsupported("training_mode=true is not supported (pare imports inference graphs)")
	}
	c.set(0, x)
	if c.outName(1) != "" {
		if !c.im.budget(x.Type.NumElements()) {
			return c.errf("the mask output is too large")
		}
		c.set(1, c.constant(c.outName(1), filled(&ir.Tensor{DType: ir.Bool, Bool: []bool{true}}, x.Type.Shape), nil))
	}
	return nil
}

func convConstant(c *nodeCtx) error {
	var t *ir.Tensor
	attrs := c.n.GetAttribute()
	if len(attrs) != 1 {
		return c.errf("needs exactly one value attribute, has %d", len(attrs))
	}
	switch name := attrs[0].GetName(); name {
	case "value":
		t = c.tensor(name)
	case "value_float":
		t = ir.ScalarF32(c.float(name, 0))
	case "value_floats":
		f := c.floats(name)
		t = ir.FromF32([]int{len(f)}, append([]float32{}, f...))
	case "value_int":
		t = ir.FromI64([]int{}, []int64{attrs[0].GetI()})
	case "value_ints":
		t = ir.FromI64([]int{len(attrs[0].GetInts())}, append([]int64{}, attrs[0].GetInts()...))
	default:
		return c.unsupported("constant attribute %s is not supported (pare supports value, value_float(s) and value_int(s))", name)
	}
	if t == nil {
		return c.err
	}
	c.set(0, c.constant(c.outName(0), t, nil))
	return nil
}

func convConstantOfShape(c *nodeCtx) error {
	t, err := c.constIn(0)
	if err != nil {
		return err
	}
	if t == nil {
		return c.errf("the shape input is missing")
	}
	shape, err := intList(t)
	if err == nil {
		err = checkShape(shape)
	}
	if err != nil {
		return c.errf("shape: %v", err)
	}
	value := ir.ScalarF32(0)
	if c.has("value") {
		if value = c.tensor("value"); value == nil {
			return c.err
		}
		if value.Len() != 1 {
			return c.errf("value must hold one element, has shape %v", value.Shape)
		}
	}
	if !c.im.budget(ir.NumElements(shape) * value.DType.Size()) {
		return c.errf("a constant of shape %v is larger than the folding limit of %d bytes", shape, MaxFoldBytes)
	}
	c.set(0, c.constant(c.outName(0), filled(value, shape), nil))
	return nil
}

func convShape(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	clamp := func(v int) int {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(c.int("start", 0)), clamp(c.int("end", r))
	dims := []int64{}
	for i := start; i < end; i++ {
		dims = append(dims, int64(x.Type.Shape[i]))
	}
	c.set(0, c.constant(c.outName(0), ir.FromI64([]int{len(dims)}, dims), nil))
	return nil
}

func convSize(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	c.set(0, c.constant(c.outName(0), ir.FromI64([]int{}, []int64{int64(x.Type.NumElements())}), nil))
	return nil
}

func convRange(c *nodeCtx) error {
	ts, _, err := c.foldArgs(3)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Len() != 1 || t.DType != ts[0].DType {
			return c.errf("start, limit and delta must be scalars of one dtype")
		}
	}
	start, limit, delta := ts[0].At(0), ts[1].At(0), ts[2].At(0)
	if delta == 0 {
		return c.errf("delta is 0")
	}
	n := math.Ceil((limit - start) / delta)
	if !(n < ir.MaxElements) {
		return c.errf("range of %v elements", n)
	}
	count := max(int(n), 0)
	if !c.im.budget(count * 8) {
		return c.errf("range of %d elements is too large to fold", count)
	}
	out := ir.NewTensor(ts[0].DType, []int{count})
	for i := 0; i < count; i++ {
		if out.DType.IsInt() {
			out.SetInt(i, ts[0].IntAt(0)+int64(i)*ts[2].IntAt(0))
		} else {
			out.Set(i, float64(float32(start)+float32(i)*float32(delta)))
		}
	}
	c.set(0, c.constant(c.outName(0), out, nil))
	return nil
}

// filled returns a tensor of shape with every element the one of value.
func filled(value *ir.Tensor, shape []int) *ir.Tensor {
	out := ir.NewTensor(value.DType, shape)
	switch value.DType {
	case ir.F32:
		fill(out.F32, value.F32[0])
	case ir.I8:
		fill(out.I8, value.I8[0])
	case ir.U8:
		fill(out.U8, value.U8[0])
	case ir.I16:
		fill(out.I16, value.I16[0])
	case ir.I32:
		fill(out.I32, value.I32[0])
	case ir.I64:
		fill(out.I64, value.I64[0])
	case ir.Bool:
		fill(out.Bool, value.Bool[0])
	}
	return out
}

func fill[T comparable](s []T, v T) {
	var zero T
	if v == zero {
		return
	}
	for i := range s {
		s[i] = v
	}
}
