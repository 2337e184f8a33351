package tflite

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND on 4-D tensors, in NCHW: pad
// (or crop) the spatial dims and regroup the block offsets into the batch,
// which TFLite orders as (block row, block column, batch).

// blockArgs reads the constant block_shape (input 1, two positive values)
// and the [2, 2] paddings or crops (input 2).
func (o *opctx) blockArgs(what string) (bh, bw int, p []int, err error) {
	block, err := o.constVector(1, 2, "block_shape")
	if err != nil {
		return 0, 0, nil, err
	}
	if block[0] < 1 || block[1] < 1 {
		return 0, 0, nil, fmt.Errorf("block_shape %v must be positive", block)
	}
	p, shape, err := o.constInts(2)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%s: %v", what, err)
	}
	if !ir.EqualShape(shape, []int{2, 2}) || min(p[0], p[1], p[2], p[3]) < 0 {
		return 0, 0, nil, fmt.Errorf("%s %v must be [2, 2] and not negative", what, p)
	}
	return block[0], block[1], p, nil
}

func convSpaceToBatch(o *opctx) error {
	bh, bw, p, err := o.blockArgs("paddings")
	if err != nil {
		return err
	}
	x, err := o.im.getNCHW(o.in(0))
	if err != nil {
		return err
	}
	if p[0]+p[1]+p[2]+p[3] > 0 {
		// The pad value is the real value 0 (the zero point when quantized), as TFLite pads.
		if x, err = o.add("pad", []*ir.Value{x}, ir.Attrs{"pads": ir.Ints(0, 0, p[0], p[2], 0, 0, p[1], p[3])}, ir.Type{}); err != nil {
			return err
		}
	}
	s := x.Type.Shape
	n, c, h, w := s[0], s[1], s[2], s[3]
	if h%bh != 0 || w%bw != 0 {
		return fmt.Errorf("padded input %v: height and width must be multiples of block_shape [%d %d]", s, bh, bw)
	}
	v, err := o.regroup(x, []int{n, c, h / bh, bh, w / bw, bw}, []int{3, 5, 0, 1, 2, 4}, []int{bh * bw * n, c, h / bh, w / bw})
	if err != nil {
		return err
	}
	return o.setMoved(0, v, true)
}

func convBatchToSpace(o *opctx) error {
	bh, bw, p, err := o.blockArgs("crops")
	if err != nil {
		return err
	}
	x, err := o.im.getNCHW(o.in(0))
	if err != nil {
		return err
	}
	s := x.Type.Shape
	b, c, h, w := s[0], s[1], s[2], s[3]
	if b%(bh*bw) != 0 {
		return fmt.Errorf("input %v: batch must be a multiple of block_shape [%d %d]", s, bh, bw)
	}
	n, oh, ow := b/(bh*bw), h*bh, w*bw
	if p[0]+p[1] > oh || p[2]+p[3] > ow {
		return fmt.Errorf("crops %v exceed the %dx%d output", p, oh, ow)
	}
	v, err := o.regroup(x, []int{bh, bw, n, c, h, w}, []int{2, 3, 4, 0, 5, 1}, []int{n, c, oh, ow})
	if err != nil {
		return err
	}
	if p[0]+p[1]+p[2]+p[3] > 0 {
		attrs := ir.Attrs{"starts": ir.Ints(0, 0, p[0], p[2]), "ends": ir.Ints(n, c, oh-p[1], ow-p[3]), "steps": ir.Ints(1, 1, 1, 1)}
		if v, err = o.add("slice", []*ir.Value{v}, attrs, ir.Type{}); err != nil {
			return err
		}
	}
	return o.setMoved(0, v, true)
}
