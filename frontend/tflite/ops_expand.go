package tflite

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// BROADCAST_TO and TILE: expand, with reshapes around it for TILE (a
// rank-4 input that exists only in NCHW is expanded in NCHW); SHAPE.

// convBroadcastTo expands input 0 to the output's shape (input 1, checked).
func convBroadcastTo(o *opctx) error {
	want, err := o.outType()
	if err != nil {
		return err
	}
	if _, err := o.constVector(1, want.Rank(), "shape"); err != nil {
		return err
	}
	if s, _, _ := o.constInts(1); !ir.EqualShape(s, want.Shape) {
		return fmt.Errorf("shape %v differs from the output's %v", s, want.Shape)
	}
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	x, nchw, err := o.movedIn(xi, len(shape) == 4 && want.Rank() == 4)
	if err != nil {
		return err
	}
	target := want.Shape
	if nchw {
		target = permuted(target, toNCHW)
	}
	v, err := o.add("expand", []*ir.Value{x}, nil, ir.Type{Shape: target})
	if err != nil {
		return err
	}
	return o.setMoved(0, v, nchw)
}

// convTile repeats input 0 multiples[d] times along each dim d: x viewed
// as [.., 1, n_d, ..] (a size-1 dim before each repeated one), expanded
// to [.., m_d, n_d, ..], then merged into [.., m_d·n_d, ..].
func convTile(o *opctx) error {
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	r := len(shape)
	mult, err := o.constVector(1, r, "multiples")
	if err != nil {
		return err
	}
	x, nchw, err := o.movedIn(xi, r == 4)
	if err != nil {
		return err
	}
	if nchw {
		mult = permuted(mult, toNCHW)
	}
	var split, wide, out []int
	for d, n := range x.Type.Shape {
		m := mult[d]
		if m < 0 {
			return fmt.Errorf("multiples %v must not be negative", mult)
		}
		if m != 1 {
			split, wide = append(split, 1), append(wide, m)
		}
		split, wide, out = append(split, n), append(wide, n), append(out, m*n)
	}
	v := x
	if len(split) > r {
		v, err = o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: split})
		if err == nil {
			v, err = o.add("expand", []*ir.Value{v}, nil, ir.Type{Shape: wide})
		}
		if err == nil {
			v, err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: out})
		}
		if err != nil {
			return err
		}
	}
	return o.setMoved(0, v, nchw)
}

// convShape imports SHAPE: shapes are static, so the output is a constant
// of the output tensor's integer type.
func convShape(o *opctx) error {
	shape, err := o.inShape(o.in(0))
	if err != nil {
		return err
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	if want.DType != ir.I32 && want.DType != ir.I64 {
		return fmt.Errorf("output type %v (want i32 or i64)", want.DType)
	}
	t := ir.NewTensor(want.DType, []int{len(shape)})
	for i, n := range shape {
		t.SetInt(i, int64(n))
	}
	return o.set(o.im.addConst(o.out.name, "", t, nil), false)
}
