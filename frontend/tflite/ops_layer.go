package tflite

import (
	"fmt"
	"math"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// BATCH_MATMUL, TRANSPOSE_CONV, RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR.

// convBatchMatMul imports BATCH_MATMUL as matmul. Quantized (int8/uint8,
// per tensor): the IR's integer matmul with rq=tflite, TFLite's kernel:
// Σ(a-za)(b-zb) requantized by the multiplier of float32(sa·sb)/sy, no
// activation.
func convBatchMatMul(o *opctx) error {
	hint, err := o.hint()
	if err != nil {
		return err
	}
	var ab [2]*ir.Value
	for k, adj := range []bool{o.op.opt.adjX, o.op.opt.adjY} {
		if ab[k], err = o.adjoint(k, adj); err != nil {
			return err
		}
		if q := ab[k].Type.Quant; (q == nil) != (hint.Quant == nil) || (q != nil && q.Axis >= 0) {
			return fmt.Errorf("unsupported: input %d %v with output %v (float, or per-tensor quantized throughout)", k, ab[k].Type, hint)
		}
	}
	v, err := o.add("matmul", ab[:], nil, hint)
	if err != nil {
		return err
	}
	return o.set(v, false)
}

// adjoint returns input k in the model's layout, its last two dims swapped
// when adj (a constant is transposed at import).
func (o *opctx) adjoint(k int, adj bool) (*ir.Value, error) {
	i := o.in(k)
	shape, err := o.inShape(i)
	if err != nil {
		return nil, err
	}
	r := len(shape)
	if r < 2 {
		return nil, fmt.Errorf("input %d %v must have rank >= 2", k, shape)
	}
	if !adj {
		return o.im.get(i)
	}
	perm := make([]int, r)
	for d := range perm {
		perm[d] = d
	}
	perm[r-2], perm[r-1] = r-1, r-2
	if !o.im.isNCHW(i) && o.im.vals[i].plain == nil {
		c, q, err := o.im.constTensor(i)
		if err != nil {
			return nil, err
		}
		if c != nil {
			c, q = transposeConst(c, q, perm)
			return o.im.addConst(o.im.sg.tensors[i].name, ".adj", c, q), nil
		}
	}
	x, err := o.im.get(i)
	if err != nil {
		return nil, err
	}
	return o.im.permute(x, perm, ssaName(o.im.sg.tensors[i].name)+".adj", o.im.sg.tensors[i].name)
}

// convTransposeConv imports TRANSPOSE_CONV (inputs: output_shape, weights
// [O,H,W,I], input, optional bias) as conv_transpose with weights
// [I,O,H,W]. TFLite pads as the conv from its output to its input would:
// the padding before depends on the output size alone, and the output
// size is declared; the IR's pads end crops and output_padding extends so
// that the result has exactly the declared size.
func convTransposeConv(o *opctx) error {
	outShape, err := o.constVector(0, 4, "output_shape")
	if err != nil {
		return err
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	if !ir.EqualShape(want.Shape, outShape) {
		return fmt.Errorf("output_shape %v differs from the output tensor's %v", outShape, want.Shape)
	}
	w, err := o.weights(1, []int{3, 0, 1, 2})
	if err != nil {
		return err
	}
	x, err := o.im.getNCHW(o.in(2))
	if err != nil {
		return err
	}
	if w.Type.Shape[0] != x.Type.Shape[1] {
		return fmt.Errorf("weights [O,H,W,I] with I = %d do not fit %d input channels", w.Type.Shape[0], x.Type.Shape[1])
	}
	args := []*ir.Value{x, w}
	if bi := o.in(3); bi >= 0 {
		b, err := o.im.get(bi)
		if err != nil {
			return err
		}
		args = append(args, b)
	}
	sh, sw, _, _, err := o.window()
	if err != nil {
		return err
	}
	pads, outPad := make([]int, 4), make([]int, 2)
	extra := false
	for d, s := range []int{sh, sw} {
		in, k, out := x.Type.Shape[2+d], w.Type.Shape[2+d], outShape[1+d]
		before := 0
		if o.op.opt.padding == fb.PaddingSAME {
			before = max(((out+s-1)/s-1)*s+k-out, 0) / 2
		}
		full := s*(in-1) + k
		if before+out <= full {
			pads[d], pads[2+d] = before, full-before-out
		} else {
			pads[d], outPad[d] = before, before+out-full
			extra = true
		}
	}
	attrs := ir.Attrs{"strides": ir.Ints(sh, sw), "pads": ir.Ints(pads...)}
	if extra {
		attrs["output_padding"] = ir.Ints(outPad...)
	}
	v, err := o.add("conv_transpose", args, attrs, ir.Type{})
	if err != nil {
		return err
	}
	if v, err = o.activate(v, o.op.opt.act); err != nil {
		return err
	}
	return o.set(v, true)
}

// tfliteNearest is the input coordinate TFLite's RESIZE_NEAREST_NEIGHBOR
// reads for output coordinate i, in float32 as its kernel computes it.
func tfliteNearest(i, in, out int, alignCorners, halfPixel bool) int {
	scale := float32(in) / float32(out)
	if alignCorners && out > 1 {
		scale = float32(in-1) / float32(out-1)
	}
	var off float32
	if halfPixel {
		off = 0.5
	}
	x := (float32(i) + off) * scale
	var j int
	if alignCorners {
		j = int(math.Round(float64(x)))
	} else {
		j = int(math.Floor(float64(x)))
	}
	j = min(j, in-1)
	if halfPixel {
		j = max(j, 0)
	}
	return j
}

// convResize imports RESIZE_BILINEAR (linear) and RESIZE_NEAREST_NEIGHBOR
// in NCHW. Float: resize with the coordinate mode of the options. Nearest
// on integers, or where the IR's float coordinates would pick another
// pixel than TFLite's, is a gather per spatial dim with TFLite's indices.
func convResize(linear bool) func(o *opctx) error {
	return func(o *opctx) error {
		ac, hp := o.op.opt.alignCorners, o.op.opt.halfPixel
		if ac && hp {
			return fmt.Errorf("align_corners and half_pixel_centers together are not supported")
		}
		size, err := o.constVector(1, 2, "size")
		if err != nil {
			return err
		}
		want, err := o.outType()
		if err != nil {
			return err
		}
		if want.Rank() != 4 || want.Shape[1] != size[0] || want.Shape[2] != size[1] {
			return fmt.Errorf("size %v does not match the output %v", size, want.Shape)
		}
		x, err := o.im.getNCHW(o.in(0))
		if err != nil {
			return err
		}
		s := x.Type.Shape
		if x.Type.DType != ir.F32 {
			if linear {
				return fmt.Errorf("unsupported: quantized %s (pare has no bit-exact form of TFLite's integer kernel)", o.code.name())
			}
			return o.nearestByGather(x, size, ac, hp)
		}
		coord := "asymmetric"
		switch {
		case ac:
			coord = "align_corners"
		case hp && linear:
			coord = "half_pixel"
		case hp:
			coord = "tf_half_pixel_for_nn"
		}
		attrs := ir.Attrs{"coord": ir.Str(coord)}
		if linear {
			attrs["mode"] = ir.Str("linear")
		} else {
			// TFLite floors, or rounds half away from zero with align_corners.
			attrs["nearest_mode"] = ir.Str("floor")
			if ac {
				attrs["nearest_mode"] = ir.Str("round_prefer_ceil")
			}
		}
		v, err := o.add("resize", []*ir.Value{x}, attrs, ir.Type{Shape: []int{s[0], s[1], size[0], size[1]}})
		if err != nil {
			return err
		}
		if !linear {
			for d := 0; d < 2; d++ {
				m := ir.ResizeAxis(v, 2+d, s[2+d], size[d])
				for i, j := range m.I0 {
					if j != tfliteNearest(i, s[2+d], size[d], ac, hp) {
						return o.nearestByGather(x, size, ac, hp)
					}
				}
			}
		}
		return o.set(v, true)
	}
}

// nearestByGather resizes NCHW x to size by one gather per spatial dim.
func (o *opctx) nearestByGather(x *ir.Value, size []int, ac, hp bool) error {
	v := x
	for d := 0; d < 2; d++ {
		in := x.Type.Shape[2+d]
		ix := ir.NewTensor(ir.I32, []int{size[d]})
		identity := in == size[d]
		for i := range ix.I32 {
			j := tfliteNearest(i, in, size[d], ac, hp)
			ix.I32[i] = int32(j)
			identity = identity && j == i
		}
		if identity {
			continue
		}
		c := o.im.addConst(o.out.name, []string{".rows", ".cols"}[d], ix, nil)
		var err error
		if v, err = o.add("gather", []*ir.Value{v, c}, ir.Attrs{"axis": ir.Int(2 + d)}, ir.Type{}); err != nil {
			return err
		}
	}
	return o.setMoved(0, v, true)
}
