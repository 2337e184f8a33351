package tflite

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// REVERSE_V2, GATHER_ND and CUMSUM: data movement and a scan built from
// slice, gather, pad and add.

// convReverse imports REVERSE_V2 over constant axes: a slice with step −1
// on those dims (in NCHW when the input exists only so).
func convReverse(o *opctx) error {
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	raw, err := o.constList(1, "axis")
	if err != nil {
		return err
	}
	axes, err := normAxes(raw, len(shape))
	if err != nil {
		return err
	}
	r := len(shape)
	starts, ends, steps := make([]int, r), slices.Clone(shape), make([]int, r)
	for d := range steps {
		steps[d] = 1
	}
	for _, a := range axes {
		starts[a], ends[a], steps[a] = shape[a]-1, -1, -1
	}
	return o.sliceAt(0, xi, starts, ends, steps, true)
}

// convGatherND imports GATHER_ND with indices [..., k]: params viewed as
// [d0·…·d(k−1), rest...] and one gather along dim 0 by the flat indices,
// precomputed for constant indices (out of range: an import error, as
// TFLite's kernel fails on them), computed for runtime ones
// (gatherNDRuntime).
func convGatherND(o *opctx) error {
	pi, ii := o.in(0), o.in(1)
	shape, err := o.inShape(pi)
	if err != nil {
		return err
	}
	ix, _, err := o.im.constTensor(ii)
	if err != nil {
		return err
	}
	if ix == nil {
		iv, err := o.im.get(ii)
		if err != nil {
			return err
		}
		if dt := iv.Type.DType; (dt != ir.I32 && dt != ir.I64) || iv.Type.Quant != nil {
			return fmt.Errorf("indices must be an i32 or i64 tensor, not %v", iv.Type)
		}
		return gatherNDRuntime(o, iv, shape) // ops_gather_rt.go
	}
	if (ix.DType != ir.I32 && ix.DType != ir.I64) || len(ix.Shape) == 0 {
		return fmt.Errorf("unsupported: indices must be an i32 or i64 tensor of rank >= 1")
	}
	k := ix.Shape[len(ix.Shape)-1]
	if k > len(shape) {
		return fmt.Errorf("indices %v index %d dims of params %v", ix.Shape, k, shape)
	}
	rows := ir.NumElements(shape[:k])
	st := ir.Strides(shape[:k])
	lead := ix.Shape[:len(ix.Shape)-1]
	dt := ir.I32
	if rows > math.MaxInt32 {
		dt = ir.I64
	}
	flat := ir.NewTensor(dt, slices.Clone(lead))
	for i := 0; i < flat.Len(); i++ {
		f := int64(0)
		for d := 0; d < k; d++ {
			j := ix.IntAt(i*k + d)
			if j < 0 || j >= int64(shape[d]) {
				return fmt.Errorf("index %d out of range for dim %d of size %d", j, d, shape[d])
			}
			f += j * int64(st[d])
		}
		flat.SetInt(i, f)
	}
	x, err := o.im.get(pi)
	if err != nil {
		return err
	}
	view := append([]int{rows}, shape[k:]...)
	if !ir.EqualShape(view, shape) {
		if x, err = o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: view}); err != nil {
			return err
		}
	}
	c := o.im.addConst(o.im.sg.tensors[ii].name, ".flat", flat, nil)
	v, err := o.add("gather", []*ir.Value{x, c}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	if err != nil {
		return err
	}
	return o.setMoved(0, v, false)
}

// convCumsum imports CUMSUM (f32, i32, i64) along a constant axis: a
// Hillis–Steele scan, log2(n) steps of y + shift(y, 2^j), each shift a pad
// that adds zeros on one side and crops as many on the other (integers stay
// exact, wrapping as TFLite's do). reverse shifts the other way; exclusive
// shifts the inclusive result once more.
func convCumsum(o *opctx) error {
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	axis, err := o.constAxis(1, len(shape))
	if err != nil {
		return err
	}
	x, nchw, err := o.movedIn(xi, true)
	if err != nil {
		return err
	}
	if dt := x.Type.DType; x.Type.Quant != nil || (dt != ir.F32 && dt != ir.I32 && dt != ir.I64) {
		return fmt.Errorf("unsupported: CUMSUM of %v (TFLite's kernel takes float32, int32, int64)", x.Type)
	}
	if nchw {
		axis = nchwPos[axis]
	}
	r, n := x.Type.Rank(), x.Type.Shape[axis]
	rev := o.op.opt.reverse
	s := &steps{o: o}
	shift := func(y *ir.Value, by int) *ir.Value {
		pads := make([]int, 2*r)
		if rev {
			pads[axis], pads[r+axis] = -by, by
		} else {
			pads[axis], pads[r+axis] = by, -by
		}
		return s.add("pad", ir.Attrs{"pads": ir.Ints(pads...)}, y)
	}
	y := x
	for by := 1; by < n; by *= 2 {
		y = s.add("add", nil, y, shift(y, by))
	}
	if o.op.opt.exclusive && n > 0 {
		y = shift(y, 1)
	}
	if s.err != nil {
		return s.err
	}
	if y == x { // a scan of one element
		return o.setMoved(0, x, nchw)
	}
	return o.set(y, nchw)
}
