package tflite

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// convTransformLandmarks imports MediaPipe's TransformLandmarks, version 2
// (face_landmark_with_attention): landmarks [1, K, D] (D = 2 or 3, the
// last dim; no custom options) and a matrix [1, 4, 4], row-major M. Each
// landmark (x, y[, z]) becomes (M00·x + M01·y + M03, M10·x + M11·y + M13
// [, z]): the first two matrix rows against (x, y, 0, 1). In the IR: a
// batched matmul of the (x, y) columns with the 2×2 block of M transposed,
// plus column 3 of M's first two rows; z is concatenated back. Version 1
// (rank-4 landmarks, FlexBuffers options) is not supported.
func convTransformLandmarks(o *opctx) error {
	if o.code.version != 2 {
		return fmt.Errorf("unsupported: version %d (version 2 is supported; version 1 reads FlexBuffers options)", o.code.version)
	}
	l, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	m, err := o.im.get(o.in(1))
	if err != nil {
		return err
	}
	s := l.Type.Shape
	if len(s) != 3 || s[0] != 1 || (s[2] != 2 && s[2] != 3) {
		return fmt.Errorf("landmarks %v must be [1, K, 2] or [1, K, 3] (the kernel reads batch 0 only)", s)
	}
	if !ir.EqualShape(m.Type.Shape, []int{1, 4, 4}) {
		return fmt.Errorf("matrix %v must be [1, 4, 4]", m.Type.Shape)
	}
	k, d := s[1], s[2]
	slice := func(suffix string, x *ir.Value, starts, ends []int) (*ir.Value, error) {
		return o.named(suffix, "slice", []*ir.Value{x}, ir.Attrs{"starts": ir.Ints(starts...), "ends": ir.Ints(ends...), "steps": ir.Ints(1, 1, 1)}, ir.Type{})
	}
	xy := l
	if d == 3 {
		if xy, err = slice(".xy", l, []int{0, 0, 0}, []int{1, k, 2}); err != nil {
			return err
		}
	}
	a, err := slice(".linear", m, []int{0, 0, 0}, []int{1, 2, 2})
	if err != nil {
		return err
	}
	if a, err = o.named(".linear_t", "transpose", []*ir.Value{a}, ir.Attrs{"perm": ir.Ints(0, 2, 1)}, ir.Type{}); err != nil {
		return err
	}
	t, err := slice(".shift", m, []int{0, 0, 3}, []int{1, 2, 4})
	if err != nil {
		return err
	}
	if t, err = o.named(".shift_row", "reshape", []*ir.Value{t}, nil, ir.Type{Shape: []int{1, 1, 2}}); err != nil {
		return err
	}
	v, err := o.named(".rotated", "matmul", []*ir.Value{xy, a}, nil, ir.Type{})
	if err != nil {
		return err
	}
	if d == 2 {
		v, err = o.add("add", []*ir.Value{v, t}, nil, ir.Type{})
	} else if v, err = o.named(".moved", "add", []*ir.Value{v, t}, nil, ir.Type{}); err == nil {
		var z *ir.Value
		if z, err = slice(".z", l, []int{0, 0, 2}, []int{1, k, 3}); err == nil {
			v, err = o.add("concat", []*ir.Value{v, z}, ir.Attrs{"axis": ir.Int(2)}, ir.Type{})
		}
	}
	if err != nil {
		return err
	}
	return o.set(v, false)
}
