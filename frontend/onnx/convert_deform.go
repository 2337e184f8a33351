package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// convDeformConv (opsets 19, 22): the deformable conv of X [N, C, H, W]
// with W [oC, C/group, kH, kW], the offsets [N, og·kH·kW·2, oH, oW]
// (og = offset_group; per group and kernel tap a (Δy, Δx) pair, computed
// at run time), the optional bias [oC] and mask [N, og·kH·kW, oH, oW].
// Tap (i, j) of output position (oh, ow) samples X bilinearly at
// (oh·sH − padT + i·dH + Δy, ow·sW − padL + j·dW + Δx): the offsets are
// reshaped and transposed to [N, og, kH·kW, oH·oW, 2], sliced and added
// to the constant base positions; a neighbour outside the image
// contributes 0 (so does a point outside (−1, H) × (−1, W)). The
// neighbours are gathered from X viewed as [N·og·H·W, C/og] (the
// channels of offset group g read that group's offsets) at flat indices
// (n·og + g)·H·W + y·W + x (pixelSampler, as GridSample), giving the
// sampled columns [N, og, kH·kW, oH·oW, C/og]; mul by the mask, a
// transpose and reshapes to the im2col [N, group, C/group·kH·kW, oH·oW],
// and the conv is a batch-broadcast matmul by W as [1, group,
// oC/group, C/group·kH·kW], reshaped to [N, oC, oH, oW], plus the bias.
// A NaN or infinite offset samples 0 (the clip moves it, so its weights
// are masked). 2-D only.
func convDeformConv(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	wt, err := c.floatIn(1)
	if err != nil {
		return err
	}
	offset, err := c.floatIn(2)
	if err != nil {
		return err
	}
	var bias, mask *ir.Value
	if bias = c.in(3); bias != nil {
		if bias, err = c.floatIn(3); err != nil {
			return err
		}
	}
	if mask = c.in(4); mask != nil {
		if mask, err = c.floatIn(4); err != nil {
			return err
		}
	}
	xs, ws := x.Type.Shape, wt.Type.Shape
	if len(xs) != 4 {
		return c.unsupported("input X %v: pare imports DeformConv on 4-D inputs [N, C, H, W] only", xs)
	}
	if len(ws) != 4 {
		return c.errf("weight %v must be 4-D [oC, C/group, kH, kW]", ws)
	}
	n, ch, h, w := xs[0], xs[1], xs[2], xs[3]
	oc, kh, kw := ws[0], ws[2], ws[3]
	if ks := c.window("kernel_shape", 2, 1); ks != nil && (ks[0] != kh || ks[1] != kw) {
		return c.errf("kernel_shape %v does not match weight %v", ks, ws)
	}
	strides, dil, pads := c.window("strides", 2, 1), c.window("dilations", 2, 1), c.window("pads", 4, 0)
	group, og := c.int("group", 1), c.int("offset_group", 1)
	if c.err != nil {
		return c.err
	}
	if strides == nil {
		strides = ones(2)
	}
	if dil == nil {
		dil = ones(2)
	}
	if pads == nil {
		pads = make([]int, 4)
	}
	if group < 1 || ch%group != 0 || oc%group != 0 {
		return c.errf("group %d must be positive and divide C = %d and oC = %d", group, ch, oc)
	}
	if ws[1] != ch/group {
		return c.errf("weight %v must have C/group = %d input channels", ws, ch/group)
	}
	if og < 1 || ch%og != 0 {
		return c.errf("offset_group %d must be positive and divide C = %d", og, ch)
	}
	var outHW [2]int
	for i, in := range []int{h, w} {
		k := []int{kh, kw}[i]
		span := in + pads[i] + pads[2+i] - dil[i]*(k-1) - 1
		if span < 0 {
			return c.errf("the kernel %dx%d (dilations %v) does not fit the padded input %v (pads %v)", kh, kw, dil, xs, pads)
		}
		outHW[i] = span/strides[i] + 1
	}
	oh, ow := outHW[0], outHW[1]
	k, l := kh*kw, oh*ow
	if os := offset.Type.Shape; len(os) != 4 || os[0] != n || os[1] != og*k*2 || os[2] != oh || os[3] != ow {
		return c.errf("offset %v must be [%d, %d, %d, %d] (N, offset_group·kH·kW·2, oH, oW)", os, n, og*k*2, oh, ow)
	}
	if mask != nil {
		if ms := mask.Type.Shape; len(ms) != 4 || ms[0] != n || ms[1] != og*k || ms[2] != oh || ms[3] != ow {
			return c.errf("mask %v must be [%d, %d, %d, %d] (N, offset_group·kH·kW, oH, oW)", ms, n, og*k, oh, ow)
		}
	}
	if bias != nil {
		if bs := bias.Type.Shape; len(bs) != 1 || bs[0] != oc {
			return c.errf("bias %v must be [%d]", bs, oc)
		}
	}
	if n*og*h*w >= 1<<24 {
		return c.unsupported("an input of %d pixels per offset group: the flat indices are computed in f32, exact below 2^24", n*og*h*w)
	}
	if cols := float64(n) * float64(ch) * float64(k) * float64(l); cols > float64(ir.MaxElements) || !c.im.budget(4*int(cols)) {
		return c.errf("the sampled columns [%d, %d·%d, %d] are too large to build", n, ch, k, l)
	}
	cg := ch / og
	b := c.build()
	// The sample positions [N, og, K, L, 1] (y, x): offsets plus the base.
	offs := b.reshape("offsets_5d", offset, []int{n, og, k, 2, l})
	offs = b.op("transpose", "offsets_last", ir.Attrs{"perm": ir.Ints(0, 1, 2, 4, 3)}, offs)
	by, bx := ir.NewTensor(ir.F32, []int{1, 1, k, l, 1}), ir.NewTensor(ir.F32, []int{1, 1, k, l, 1})
	for i := range kh {
		for j := range kw {
			for p := range oh {
				for q := range ow {
					at := (i*kw+j)*l + p*ow + q
					by.F32[at] = float32(p*strides[0] - pads[0] + i*dil[0])
					bx.F32[at] = float32(q*strides[1] - pads[1] + j*dil[1])
				}
			}
		}
	}
	py := b.op("add", "py", nil, b.sliceAxis("dy", offs, 4, 0, 1), c.constant(c.tmpName("base_y"), by, nil))
	px := b.op("add", "px", nil, b.sliceAxis("dx", offs, 4, 1, 2), c.constant(c.tmpName("base_x"), bx, nil))
	// base[n, g] = (n·og + g)·H·W: the first row of image n's group g.
	base := ir.NewTensor(ir.F32, []int{n, og, 1, 1, 1})
	for i := range base.F32 {
		base.F32[i] = float32(i * h * w)
	}
	ps := pixelSampler{
		rows:  b.pixelRows(b.reshape("x_offset_groups", x, []int{n * og, cg, h, w})),
		base:  c.constant(c.tmpName("group_offsets"), base, nil),
		h:     h,
		w:     w,
		shape: []int{n, og, k, l},
		zeros: true,
	}
	s := ps.bilinear(b, px, py) // [N, og, K, L, C/og]
	if mask != nil {
		s = b.op("mul", "masked", nil, s, b.reshape("mask_5d", mask, []int{n, og, k, l, 1}))
	}
	cols := b.op("transpose", "columns_t", ir.Attrs{"perm": ir.Ints(0, 1, 4, 2, 3)}, s) // [N, og, C/og, K, L]
	cols = b.reshape("columns", cols, []int{n, group, ch / group * k, l})
	wm := b.reshape("weight_matrix", wt, []int{1, group, oc / group, ch / group * k})
	y := b.op("matmul", "conv", nil, wm, cols) // [N, group, oC/group, L]
	if bias == nil {
		return b.finish(b.reshape("", y, []int{n, oc, oh, ow}))
	}
	y = b.reshape("conv_4d", y, []int{n, oc, oh, ow})
	return b.finish(b.op("add", "", nil, y, b.reshape("bias_4d", bias, []int{1, oc, 1, 1})))
}
