package tflite

import (
	"fmt"
	"math"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// PAD, PADV2, MIRROR_PAD and the block moves SPACE_TO_DEPTH, DEPTH_TO_SPACE.

func convPad(o *opctx) error { return o.pad("constant", 0) }

// convPadV2 pads with a constant value (input 2). A quantized value must
// share the output's parameters (TFLite copies its stored integer).
func convPadV2(o *opctx) error {
	ci := o.in(2)
	if ci < 0 {
		return o.pad("constant", 0)
	}
	c, q, err := o.im.constTensor(ci)
	if err != nil {
		return err
	}
	if c == nil || c.Len() != 1 {
		return fmt.Errorf("constant_values must be a constant with one element")
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	if c.DType != want.DType {
		return fmt.Errorf("constant_values is %v, the output %v", c.DType, want.DType)
	}
	switch {
	case c.DType == ir.F32:
		return o.pad("constant", c.F32[0])
	case want.Quant != nil:
		if !q.Equal(want.Quant) {
			return fmt.Errorf("constant_values quantization %v differs from the output's %v", q, want.Quant)
		}
		// rt quantizes the fill back into the output's parameters: the
		// real value of the stored integer gives that integer again.
		s, z := want.Quant.Scale[0], want.Quant.ZeroPoint[0]
		real := float32(c.IntAt(0)-z) * s
		if back := int64(math.RoundToEven(float64(real/s))) + z; back != c.IntAt(0) {
			return fmt.Errorf("constant_values %d does not round-trip through scale %v", c.IntAt(0), s)
		}
		return o.pad("constant", real)
	}
	return fmt.Errorf("constant_values of %v is not supported (f32 or quantized)", c.DType)
}

// convMirrorPad imports MIRROR_PAD: REFLECT is the IR's pad mode
// reflect; SYMMETRIC (the edge repeated), which the IR's pad lacks, is a
// gather per padded dim.
func convMirrorPad(o *opctx) error {
	switch m := o.op.opt.mirrorMode; m {
	case fb.MirrorPadModeREFLECT:
		return o.pad("reflect", 0)
	case fb.MirrorPadModeSYMMETRIC:
		return o.pad("symmetric", 0)
	default:
		return fmt.Errorf("mode %v is not supported (REFLECT or SYMMETRIC)", m)
	}
}

// symmetricPad pads x by gathering, per padded dim, the rows
// TFLite's SYMMETRIC mirror pad reads: -i-1 before the start, 2n-1-i after the end.
func (o *opctx) symmetricPad(x *ir.Value, pads []int) (*ir.Value, error) {
	r := x.Type.Rank()
	for d := 0; d < r; d++ {
		b, n := pads[d], x.Type.Shape[d]
		size := b + n + pads[d+r]
		if size == n {
			continue
		}
		ix := ir.NewTensor(ir.I32, []int{size})
		for j := range ix.I32 {
			i := j - b
			switch {
			case i < 0:
				i = -i - 1
			case i >= n:
				i = 2*n - 1 - i
			}
			ix.I32[j] = int32(i)
		}
		var err error
		c := o.im.addConst(o.out.name, ".mirror", ix, nil)
		if x, err = o.add("gather", []*ir.Value{x, c}, ir.Attrs{"axis": ir.Int(d)}, ir.Type{}); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// pad imports a pad of input 0 by the constant paddings of input 1.
func (o *opctx) pad(mode string, value float32) error {
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	r := len(shape)
	p, pshape, err := o.constInts(1)
	if err != nil {
		return err
	}
	if !ir.EqualShape(pshape, []int{r, 2}) {
		return fmt.Errorf("paddings %v must be [%d, 2]", pshape, r)
	}
	x, nchw, err := o.movedIn(xi, true)
	if err != nil {
		return err
	}
	pads := make([]int, 2*r)
	for d := 0; d < r; d++ {
		src := d
		if nchw {
			src = toNCHW[d]
		}
		pads[d], pads[d+r] = p[2*src], p[2*src+1]
		if pads[d] < 0 || pads[d+r] < 0 {
			return fmt.Errorf("negative paddings %v", p)
		}
		if mode == "reflect" && max(pads[d], pads[d+r]) >= x.Type.Shape[d] {
			return fmt.Errorf("REFLECT paddings %v must be smaller than the dims %v", p, shape)
		}
		if mode == "symmetric" && max(pads[d], pads[d+r]) > x.Type.Shape[d] {
			return fmt.Errorf("SYMMETRIC paddings %v must not exceed the dims %v", p, shape)
		}
	}
	if mode == "symmetric" {
		v, err := o.symmetricPad(x, pads)
		if err != nil {
			return err
		}
		return o.setMoved(0, v, nchw)
	}
	// value is a real value (a quantized fill is its quantization).
	attrs := ir.Attrs{"pads": ir.Ints(pads...)}
	if mode != "constant" {
		attrs["mode"] = ir.Str(mode)
	}
	if value != 0 {
		attrs["value"] = ir.Float(value)
	}
	v, err := o.add("pad", []*ir.Value{x}, attrs, ir.Type{})
	if err != nil {
		return err
	}
	return o.setMoved(0, v, nchw)
}

// blockMove imports SPACE_TO_DEPTH (toDepth) and DEPTH_TO_SPACE in NCHW as
// reshape, transpose, reshape. TFLite orders the depth as (block row,
// block column, channel).
func blockMove(toDepth bool) func(o *opctx) error {
	return func(o *opctx) error {
		b := int(o.op.opt.blockSize)
		if b < 1 {
			return fmt.Errorf("block_size %d must be positive", b)
		}
		x, err := o.im.getNCHW(o.in(0))
		if err != nil {
			return err
		}
		s := x.Type.Shape
		n, c, h, w := s[0], s[1], s[2], s[3]
		var split, perm, out []int
		if toDepth {
			if h%b != 0 || w%b != 0 {
				return fmt.Errorf("input %v: height and width must be multiples of block_size %d", s, b)
			}
			split, perm, out = []int{n, c, h / b, b, w / b, b}, []int{0, 3, 5, 1, 2, 4}, []int{n, c * b * b, h / b, w / b}
		} else {
			if c%(b*b) != 0 {
				return fmt.Errorf("input %v: channels must be a multiple of block_size² %d", s, b*b)
			}
			split, perm, out = []int{n, b, b, c / (b * b), h, w}, []int{0, 3, 4, 1, 5, 2}, []int{n, c / (b * b), h * b, w * b}
		}
		v, err := o.regroup(x, split, perm, out)
		if err != nil {
			return err
		}
		return o.setMoved(0, v, true)
	}
}

// regroup reshapes x to split, transposes by perm and reshapes to out.
func (o *opctx) regroup(x *ir.Value, split, perm, out []int) (*ir.Value, error) {
	v, err := o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: split})
	if err == nil {
		v, err = o.add("transpose", []*ir.Value{v}, ir.Attrs{"perm": ir.Ints(perm...)}, ir.Type{})
	}
	if err == nil {
		v, err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: out})
	}
	return v, err
}
