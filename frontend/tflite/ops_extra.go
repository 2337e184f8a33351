package tflite

import (
	"fmt"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// REDUCE_MIN, REDUCE_PROD and LOCAL_RESPONSE_NORMALIZATION, built from
// existing IR ops.

// reduceIn reads input 0 in the model's layout and the constant axes
// (input 1), normalized and sorted.
func (o *opctx) reduceIn() (*ir.Value, []int, error) {
	_, axes, err := o.constAxes()
	if err != nil {
		return nil, nil, err
	}
	x, err := o.im.get(o.in(0))
	return x, axes, err
}

// setReduced records v (reduced with keepdims) as output 0, reshaped to the
// declared shape (keep_dims false drops the reduced dims; TFLite may also
// declare size-1 dims).
func (o *opctx) setReduced(s *steps, v *ir.Value) error {
	want, err := o.outType()
	if err != nil {
		return err
	}
	if s.err == nil && !ir.EqualShape(v.Type.Shape, want.Shape) {
		if v.Type.NumElements() != want.NumElements() {
			return fmt.Errorf("reduces to %v, the model declares %v", v.Type.Shape, want.Shape)
		}
		v, s.err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: want.Shape})
	}
	if s.err != nil {
		return s.err
	}
	return o.set(v, false)
}

// convReduceMin imports REDUCE_MIN as −reduce_max(−x). Quantized (int8 or
// uint8, one per-tensor quantization for input and output, as TFLite's
// kernel compares stored integers): the float form between dequantize and
// quantize, which is exact, since (q − z)·s in float32 is increasing in q
// and quantizes back to q.
func convReduceMin(o *opctx) error {
	x, axes, err := o.reduceIn()
	if err != nil {
		return err
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	s := &steps{o: o}
	if q := x.Type.Quant; q != nil || want.Quant != nil {
		if q == nil || q.Axis >= 0 || !q.Equal(want.Quant) || x.Type.DType != want.DType {
			return fmt.Errorf("unsupported: quantized REDUCE_MIN with input %v and output %v (only one shared per-tensor quantization)", x.Type, want)
		}
		x = s.add("dequantize", nil, x)
	} else if x.Type.DType != ir.F32 {
		return fmt.Errorf("unsupported: REDUCE_MIN of %v (float or quantized int8/uint8 only)", x.Type)
	}
	v := s.add("neg", nil, s.add("reduce_max", ir.Attrs{"axes": ir.Ints(axes...), "keepdims": ir.Int(1)}, s.add("neg", nil, x)))
	if want.Quant != nil && s.err == nil {
		v, s.err = o.add("quantize", []*ir.Value{v}, nil, ir.Type{DType: want.DType, Quant: want.Quant})
	}
	return o.setReduced(s, v)
}

// maxProdExtent bounds the number of elements REDUCE_PROD multiplies into
// one output: one slice and one mul each.
const maxProdExtent = 64

// convReduceProd imports REDUCE_PROD of floats: the reduced dims moved last
// and flattened to one of n elements, then n slices multiplied left to
// right, the order of TFLite's reference kernel (row-major over the
// reduced indices). n is at most maxProdExtent.
func convReduceProd(o *opctx) error {
	x, axes, err := o.reduceIn()
	if err != nil {
		return err
	}
	shape := x.Type.Shape
	var keep, perm []int
	n := 1
	for d := range shape {
		if slices.Contains(axes, d) {
			n *= shape[d]
		} else {
			keep = append(keep, shape[d])
			perm = append(perm, d)
		}
	}
	if n > maxProdExtent {
		return fmt.Errorf("unsupported: REDUCE_PROD over %d elements per output (at most %d: one slice and mul each)", n, maxProdExtent)
	}
	if n == 0 {
		return fmt.Errorf("unsupported: REDUCE_PROD over an empty dim")
	}
	perm = append(perm, axes...)
	s := &steps{o: o}
	if !isIdentity(perm) {
		x = s.add("transpose", ir.Attrs{"perm": ir.Ints(perm...)}, x)
	}
	flat := append(slices.Clone(keep), n)
	if s.err == nil {
		x, s.err = o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: flat})
	}
	r := len(flat)
	starts, ends, stp := make([]int, r), slices.Clone(flat), make([]int, r)
	for d := range stp {
		stp[d] = 1
	}
	var v *ir.Value
	for k := 0; k < n; k++ {
		starts[r-1], ends[r-1] = k, k+1
		e := s.add("slice", ir.Attrs{"starts": ir.Ints(starts...), "ends": ir.Ints(ends...), "steps": ir.Ints(stp...)}, x)
		if v == nil {
			v = e
		} else {
			v = s.add("mul", nil, v, e)
		}
	}
	return o.setReduced(s, v)
}

// convLRN imports LOCAL_RESPONSE_NORMALIZATION (float, NHWC, depth last):
// y = x · (bias + alpha · Σ x²)^−beta, the sum over channels c − radius …
// c + radius clipped to the tensor (TFLite does not divide alpha by the
// window). The squares, viewed as [N·H·W, 1, C] (in NHWC) or
// [N, 1, C, H·W] (in NCHW), go through an avgpool over the channels with
// the window's pads and count_include_pad, which gives Σ x² / window.
func convLRN(o *opctx) error {
	x, nchw, err := o.elementwiseIn(0)
	if err != nil {
		return err
	}
	shape := x.Type.Shape
	if len(shape) != 4 {
		return fmt.Errorf("input %v must be 4-D (NHWC)", shape)
	}
	r := int(o.op.opt.radius)
	if r < 0 {
		return fmt.Errorf("radius %d must not be negative", r)
	}
	ch := shape[3]
	if nchw {
		ch = shape[1]
	}
	// A radius past C−1 channels covers no more of them.
	r = min(r, max(ch-1, 0))
	k := 2*r + 1
	s := &steps{o: o}
	sq := s.add("mul", nil, x, x)
	rows, attrs := []int{shape[0] * shape[1] * shape[2], 1, ch}, ir.Attrs{"kernel": ir.Ints(k), "pads": ir.Ints(r, r), "count_include_pad": ir.Int(1)}
	if nchw {
		rows, attrs = []int{shape[0], 1, ch, shape[2] * shape[3]}, ir.Attrs{"kernel": ir.Ints(k, 1), "pads": ir.Ints(r, 0, r, 0), "count_include_pad": ir.Int(1)}
	}
	reshape := func(v *ir.Value, to []int) *ir.Value {
		if s.err != nil {
			return nil
		}
		var out *ir.Value
		out, s.err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: to})
		return out
	}
	mean := reshape(s.add("avgpool", attrs, reshape(sq, rows)), shape)
	base := s.add("add", nil, s.add("mul", nil, mean, s.scalar(o.op.opt.alpha*float32(k))), s.scalar(o.op.opt.bias))
	v := s.add("mul", nil, x, s.add("pow", nil, base, s.scalar(-o.op.opt.beta)))
	if s.err != nil {
		return s.err
	}
	return o.set(v, nchw)
}
