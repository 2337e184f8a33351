package tflite

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Ops whose result is known at import (shapes are static): FILL,
// ZEROS_LIKE, RANGE and ONE_HOT become constants; FILL of a
// computed value becomes an expand.

// copyElem sets element i of dst to element j of src (one dtype).
func copyElem(dst *ir.Tensor, i int, src *ir.Tensor, j int) {
	if src.DType == ir.F32 {
		dst.F32[i] = src.F32[j]
		return
	}
	dst.SetInt(i, src.IntAt(j))
}

// setConst records a constant of the output's type as output 0.
func (o *opctx) setConst(t *ir.Tensor, q *ir.Quant) error {
	return o.set(o.im.addConst(o.out.name, "", t, q), false)
}

// convFill imports FILL: dims (input 0) must be the output's static shape;
// a constant value (input 1) gives a constant, a computed one an expand.
// A quantized value keeps its parameters (TFLite requires the output's).
func convFill(o *opctx) error {
	dims, err := o.constList(0, "dims")
	if err != nil {
		return err
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	if !ir.EqualShape(dims, want.Shape) {
		return fmt.Errorf("dims %v differ from the output's shape %v", dims, want.Shape)
	}
	vi := o.in(1)
	shape, err := o.inShape(vi)
	if err != nil {
		return err
	}
	if ir.NumElements(shape) != 1 {
		return fmt.Errorf("value %v must be a scalar", shape)
	}
	c, q, err := o.im.constTensor(vi)
	if err != nil {
		return err
	}
	if c != nil {
		if c.DType != want.DType || !q.Equal(want.Quant) {
			return fmt.Errorf("value %v (%v) does not match the output %v", c.DType, q, want)
		}
		t := ir.NewTensor(want.DType, want.Shape)
		for i := 0; i < t.Len(); i++ {
			copyElem(t, i, c, 0)
		}
		return o.setConst(t, q)
	}
	x, err := o.im.get(vi)
	if err != nil {
		return err
	}
	ones := make([]int, len(dims))
	for i := range ones {
		ones[i] = 1
	}
	if x, err = o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: ones}); err != nil {
		return err
	}
	v, err := o.add("expand", []*ir.Value{x}, nil, ir.Type{Shape: dims})
	if err != nil {
		return err
	}
	return o.setMoved(0, v, false)
}

// convConstLike imports ZEROS_LIKE (v = 0; TFLite has no ONES_LIKE builtin): a
// constant of the output's shape and dtype (float or integer, not
// quantized, as TFLite's kernels take).
func convConstLike(v float64) func(o *opctx) error {
	return func(o *opctx) error {
		want, err := o.outType()
		if err != nil {
			return err
		}
		if want.Quant != nil {
			return fmt.Errorf("unsupported: quantized output %v", want)
		}
		t := ir.NewTensor(want.DType, want.Shape)
		for i := 0; i < t.Len(); i++ {
			t.Set(i, v)
		}
		return o.setConst(t, nil)
	}
}

// constScalar reads constant scalar input k.
func (o *opctx) constScalar(k int, what string) (*ir.Tensor, error) {
	c, q, err := o.im.constTensor(o.in(k))
	if err != nil {
		return nil, err
	}
	if c == nil || c.Len() != 1 {
		return nil, fmt.Errorf("%s (input %d) must be a constant scalar", what, k)
	}
	if q != nil {
		return nil, fmt.Errorf("%s (input %d) is quantized", what, k)
	}
	return c, nil
}

// convRange imports RANGE of constant start, limit and delta: a constant,
// computed as TFLite's kernel does (val = start, then val += delta, in the
// output's type).
func convRange(o *opctx) error {
	var sld [3]*ir.Tensor
	for k, what := range []string{"start", "limit", "delta"} {
		c, err := o.constScalar(k, what)
		if err != nil {
			return err
		}
		sld[k] = c
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	if len(want.Shape) != 1 {
		return fmt.Errorf("output %v must be a vector", want.Shape)
	}
	var n int
	switch want.DType {
	case ir.F32:
		start, limit, delta := float32(sld[0].At(0)), float32(sld[1].At(0)), float32(sld[2].At(0))
		if delta == 0 || (limit > start) != (delta > 0) && limit != start {
			return fmt.Errorf("delta %v does not lead from start %v to limit %v", delta, start, limit)
		}
		n = int(math.Ceil(math.Abs(float64((limit - start) / delta))))
		if n == want.Shape[0] {
			t := ir.NewTensor(ir.F32, []int{n})
			for i, v := 0, start; i < n; i, v = i+1, v+delta {
				t.F32[i] = v
			}
			return o.setConst(t, nil)
		}
	case ir.I32, ir.I64:
		start, limit, delta := sld[0].IntAt(0), sld[1].IntAt(0), sld[2].IntAt(0)
		if delta == 0 || (limit > start) != (delta > 0) && limit != start {
			return fmt.Errorf("delta %v does not lead from start %v to limit %v", delta, start, limit)
		}
		d := delta
		if d < 0 {
			d = -d
		}
		diff := limit - start
		if diff < 0 {
			diff = -diff
		}
		n64 := (diff + d - 1) / d
		if n64 == int64(want.Shape[0]) {
			n = int(n64)
			t := ir.NewTensor(want.DType, []int{n})
			for i := 0; i < n; i++ {
				t.SetInt(i, start+int64(i)*delta)
			}
			return o.setConst(t, nil)
		}
		n = int(min(n64, math.MaxInt32))
	default:
		return fmt.Errorf("unsupported: RANGE of %v (f32, i32, i64)", want.DType)
	}
	return fmt.Errorf("the range has %d elements, the output declares %v", n, want.Shape)
}

// convOneHot imports ONE_HOT of constant indices, depth, on_value and
// off_value: a constant, on_value where the index along axis equals the
// index (out-of-range indices give a row of off_value).
func convOneHot(o *opctx) error {
	ix, _, err := o.im.constTensor(o.in(0))
	if err != nil {
		return err
	}
	if ix == nil || (ix.DType != ir.I32 && ix.DType != ir.I64) {
		return fmt.Errorf("unsupported: indices must be a constant i32 or i64 tensor")
	}
	dc, err := o.constScalar(1, "depth")
	if err != nil {
		return err
	}
	on, err := o.constScalar(2, "on_value")
	if err != nil {
		return err
	}
	off, err := o.constScalar(3, "off_value")
	if err != nil {
		return err
	}
	depth := int(dc.IntAt(0))
	r := len(ix.Shape)
	axis := int(o.op.opt.axis)
	if axis == -1 {
		axis = r
	}
	if axis < 0 || axis > r || depth < 0 {
		return fmt.Errorf("axis %d or depth %d out of range for indices %v", o.op.opt.axis, depth, ix.Shape)
	}
	shape := append(append(append([]int{}, ix.Shape[:axis]...), depth), ix.Shape[axis:]...)
	want, err := o.outType()
	if err != nil {
		return err
	}
	if !ir.EqualShape(shape, want.Shape) || want.DType != on.DType || on.DType != off.DType {
		return fmt.Errorf("indices %v, depth %d, values %v give %v%v, the model declares %v", ix.Shape, depth, on.DType, on.DType, shape, want)
	}
	if want.Quant != nil {
		return fmt.Errorf("unsupported: quantized output %v", want)
	}
	t := ir.NewTensor(want.DType, shape)
	inner := ir.NumElements(ix.Shape[axis:])
	for i := 0; i < t.Len(); i++ {
		outer, rest := i/(depth*inner), i%(depth*inner)
		d, in := rest/inner, rest%inner
		if ix.IntAt(outer*inner+in) == int64(d) {
			copyElem(t, i, on, 0)
		} else {
			copyElem(t, i, off, 0)
		}
	}
	return o.setConst(t, nil)
}
