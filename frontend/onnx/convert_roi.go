package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// convRoiAlign (opsets 10, 16, 22) pools X [N, C, H, W] over the regions
// rois [R, 4] (x1, y1, x2, y2; computed at run time) of the images
// batch_indices [R] into [R, C, output_height, output_width], as ONNX's
// reference and ONNX Runtime do. Per roi, the region's start is
// x1·spatial_scale − 0.5 (half_pixel; output_half_pixel, opset 10's only
// mode: no shift) and its size (x2 − x1)·spatial_scale (at least 1 with
// output_half_pixel); a bin is size/output_width wide, and its
// sampling_ratio² sample points sit at start + bin·(j + (i + 0.5)/sr)
// (sub, mul, add of run-time [R, 1] columns with a constant row of
// offsets). Each sample is bilinearly interpolated with RoiAlign's own
// boundary rules: a point below −1 or past H (W) contributes 0 (its
// weights are masked), else the coordinate is clipped into [0, H − 1]
// (so y ≤ 0 reads row 0 and y ≥ H − 1 reads row H − 1 with weight 1),
// the low neighbour is its floor and the high one floor + 1 clipped to
// H − 1. The four neighbours are gathered from X viewed as [N·H·W, C]
// at flat indices b·H·W + y·W + x (gatherPixels; a batch index outside
// [0, N) makes the index past the data, so the gather fails, as ONNX
// Runtime rejects it). avg: the weighted neighbours are added and a
// bin's samples averaged (reduce_mean); max: like the reference and ONNX
// Runtime, each sample is the max of its four weighted neighbours
// (w·x, not the interpolated value) and a bin the max of its samples
// (reduce_max). sampling_ratio 0 (adaptive: ceil(size/output_size) per
// roi) needs the rois at import: constant rois are grouped by their grid.
func convRoiAlign(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	rois, err := c.floatIn(1)
	if err != nil {
		return err
	}
	bi, err := c.need(2)
	if err != nil {
		return err
	}
	xs, rs, bs := x.Type.Shape, rois.Type.Shape, bi.Type.Shape
	if len(xs) != 4 {
		return c.errf("input X %v must be 4-D [N, C, H, W]", xs)
	}
	if len(rs) != 2 || rs[1] != 4 {
		return c.errf("rois %v must be [num_rois, 4]", rs)
	}
	if dt := bi.Type.DType; dt != ir.I64 && dt != ir.I32 || bi.Type.Quant != nil {
		return c.unsupported("batch_indices is %v; it must be INT64", bi.Type)
	}
	if len(bs) != 1 || bs[0] != rs[0] {
		return c.errf("batch_indices %v must be [%d] (one per roi)", bs, rs[0])
	}
	half := false
	if c.opset >= 16 {
		switch m := c.str("coordinate_transformation_mode", "half_pixel"); m {
		case "half_pixel":
			half = true
		case "output_half_pixel":
		default:
			return c.errf("unknown coordinate_transformation_mode %q (half_pixel or output_half_pixel)", m)
		}
	}
	mode := c.str("mode", "avg")
	if mode != "avg" && mode != "max" {
		return c.errf("unknown mode %q (avg or max)", mode)
	}
	oh, ow := c.int("output_height", 1), c.int("output_width", 1)
	if oh < 1 || ow < 1 {
		return c.errf("output_height %d and output_width %d must be positive", oh, ow)
	}
	sr := c.int("sampling_ratio", 0)
	if sr < 0 {
		return c.errf("sampling_ratio %d must be >= 0", sr)
	}
	scale := c.float("spatial_scale", 1)
	if c.err != nil {
		return c.err
	}
	n, h, w := xs[0], xs[2], xs[3]
	if n*h*w >= 1<<24 {
		return c.unsupported("an input of %d pixels: the flat indices are computed in f32, exact below 2^24", n*h*w)
	}
	ra := roiAlign{x: x, rois: rois, bi: bi, half: half, max: mode == "max", oh: oh, ow: ow, scale: scale}
	b := c.build()
	ra.rows = b.pixelRows(x)
	if sr > 0 {
		if !ra.fits(c, sr, sr, rs[0]) {
			return c.errf("%d rois of %d×%d samples per bin of %d×%d bins are too many to build", rs[0], sr, sr, oh, ow)
		}
		return b.finish(ra.pool(b, "", rois, bi, sr, sr))
	}
	if !rois.IsConst() {
		return c.unsupported("sampling_ratio 0 (adaptive) needs the rois' sizes at import; set sampling_ratio (rois is computed at run time)")
	}
	return ra.adaptive(b, c)
}

// roiAlign holds a RoiAlign node's inputs and attributes.
type roiAlign struct {
	x, rois, bi, rows *ir.Value
	half, max         bool
	oh, ow            int
	scale             float32
}

// fits reports whether r rois of gh×gw samples per bin fit the budget.
func (ra roiAlign) fits(c *nodeCtx, gh, gw, r int) bool {
	s := float64(r) * float64(ra.oh*gh) * float64(ra.ow*gw) * float64(ra.x.Type.Shape[1])
	return s <= float64(ir.MaxElements) && c.im.budget(4*int(s))
}

// grid is the adaptive sampling grid of a constant roi (f32 as ONNX
// Runtime computes it): ceil(size/output_size) per axis.
func (ra roiAlign) grid(r []float32) (gh, gw int) {
	off := float32(0)
	if ra.half {
		off = 0.5
	}
	sw := (r[2]*ra.scale - off) - (r[0]*ra.scale - off)
	sh := (r[3]*ra.scale - off) - (r[1]*ra.scale - off)
	if !ra.half {
		sw, sh = max(sw, 1), max(sh, 1)
	}
	g := func(size float32, o int) int {
		v := math.Ceil(float64(size / float32(o)))
		if math.IsNaN(v) || v < 0 {
			return 0
		}
		return int(min(v, 1<<20))
	}
	return g(sh, ra.oh), g(sw, ra.ow)
}

// adaptive imports sampling_ratio 0 with constant rois: the rois are
// grouped by their grid, each group pooled (a roi of an empty grid
// gives 0, as the reference's empty loops do), the groups concatenated
// and put back in the rois' order by a gather at constant indices.
func (ra roiAlign) adaptive(b *builder, c *nodeCtx) error {
	rt := ra.rois.Const
	nr := rt.Shape[0]
	type key struct{ gh, gw int }
	var order []key
	groups := map[key][]int64{}
	for r := range nr {
		gh, gw := ra.grid(rt.F32[4*r : 4*r+4])
		if gh == 0 || gw == 0 {
			gh, gw = 0, 0
		}
		k := key{gh, gw}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], int64(r))
	}
	ch := ra.x.Type.Shape[1]
	var parts []*ir.Value
	var perm []int64 // perm[i]: the roi at row i of the concatenation
	for gi, k := range order {
		idx := groups[k]
		name := fmt.Sprintf("grid%d", gi)
		if k.gh > 0 && !ra.fits(c, k.gh, k.gw, len(idx)) {
			return c.errf("%d rois of an adaptive %d×%d samples per bin are too many to build", len(idx), k.gh, k.gw)
		}
		var p *ir.Value
		if k.gh == 0 {
			p = c.constant(c.tmpName(name+"_zeros"), ir.NewTensor(ir.F32, []int{len(idx), ch, ra.oh, ra.ow}), nil)
		} else {
			rois, bi := ra.rois, ra.bi
			if len(order) > 1 {
				at := c.constant(c.tmpName(name+"_rois_at"), ir.FromI64([]int{len(idx)}, idx), nil)
				rois = b.op("gather", name+"_rois", ir.Attrs{"axis": ir.Int(0)}, rois, at)
				bi = b.op("gather", name+"_batch_indices", ir.Attrs{"axis": ir.Int(0)}, bi, at)
			}
			out := ""
			if len(order) > 1 {
				out = name
			}
			p = ra.pool(b, out, rois, bi, k.gh, k.gw)
		}
		parts = append(parts, p)
		perm = append(perm, idx...)
	}
	if len(parts) == 1 {
		return b.finish(parts[0])
	}
	y := b.op("concat", "groups", ir.Attrs{"axis": ir.Int(0)}, parts...)
	inv := make([]int64, nr)
	for i, r := range perm {
		inv[r] = int64(i)
	}
	return b.finish(b.op("gather", "", ir.Attrs{"axis": ir.Int(0)}, y, c.constant(c.tmpName("roi_order"), ir.FromI64([]int{nr}, inv), nil)))
}

// pool adds the RoiAlign of rois [R, 4] in images bi [R] with gh×gw
// samples per bin: [R, C, output_height, output_width], named name.
func (ra roiAlign) pool(b *builder, name string, rois, bi *ir.Value, gh, gw int) *ir.Value {
	if b.err != nil {
		return nil
	}
	c := b.c
	p := name
	if p != "" {
		p += "_"
	}
	xs := ra.x.Type.Shape
	n, ch, h, w := xs[0], xs[1], xs[2], xs[3]
	nr := rois.Type.Shape[0]
	off := 0.0
	if ra.half {
		off = 0.5
	}
	scale := b.k(p+"spatial_scale", float64(ra.scale))
	// axis returns the sample coordinates along one axis, [R, bins·g]:
	// k = 0 for x (columns 0 and 2), 1 for y.
	axis := func(k, bins, g int) *ir.Value {
		a := []string{"x", "y"}[k]
		start := b.op("mul", p+a+"1_scaled", nil, b.sliceAxis(p+a+"1", rois, 1, k, k+1), scale)
		end := b.op("mul", p+a+"2_scaled", nil, b.sliceAxis(p+a+"2", rois, 1, k+2, k+3), scale)
		if off != 0 {
			start = b.op("sub", p+a+"_start", nil, start, b.k(p+"half_pixel", off))
			end = b.op("sub", p+a+"_end", nil, end, b.k(p+"half_pixel", off))
		}
		size := b.op("sub", p+a+"_size", nil, end, start)
		if !ra.half {
			size = b.op("max", p+a+"_size_min1", nil, size, b.k(p+"one", 1))
		}
		bin := b.op("div", p+a+"_bin", nil, size, b.k(p+a+"_bins", float64(bins)))
		pos := ir.NewTensor(ir.F32, []int{1, bins * g})
		for j := range bins {
			for i := range g {
				pos.F32[j*g+i] = float32(float64(j) + (float64(i)+0.5)/float64(g))
			}
		}
		return b.op("add", p+a+"_samples", nil, start, b.op("mul", p+a+"_offsets", nil, bin, c.constant(c.tmpName(p+a+"_sample_pos"), pos, nil)))
	}
	sx := b.reshape(p+"x_samples_3d", axis(0, ra.ow, gw), []int{nr, 1, ra.ow * gw})
	sy := b.reshape(p+"y_samples_3d", axis(1, ra.oh, gh), []int{nr, ra.oh * gh, 1})
	// neighbours returns, along one axis of size size, the low and high
	// neighbours and their weights (0 for a sample outside [-1, size]).
	neighbours := func(a string, s *ir.Value, size int) (lo, hi, wlo, whi *ir.Value) {
		last := float64(size - 1)
		cl := b.op("clip", p+a+"_clipped", ir.Attrs{"min": ir.Float(0), "max": ir.Float(float32(last))}, s)
		lo = b.op("floor", p+a+"_low", nil, cl)
		hi = b.op("clip", p+a+"_high", ir.Attrs{"max": ir.Float(float32(last))}, b.op("add", p+a+"_low_1", nil, lo, b.k(p+"one", 1)))
		whi = b.op("sub", p+a+"_frac", nil, cl, lo)
		wlo = b.op("sub", p+a+"_1_frac", nil, b.k(p+"one", 1), whi)
		inside := b.op("and", p+a+"_inside", nil,
			b.op("greater_equal", p+a+"_ge_m1", nil, s, b.k(p+"minus_one", -1)),
			b.op("less_equal", p+a+"_le_size", nil, s, b.k(p+a+"_size_limit", float64(size))))
		zero := b.k(p+"zero", 0)
		return lo, hi, b.op("where", p+a+"_w_low", nil, inside, wlo, zero), b.op("where", p+a+"_w_high", nil, inside, whi, zero)
	}
	x0, x1, wx0, wx1 := neighbours("x", sx, w)
	y0, y1, wy0, wy1 := neighbours("y", sy, h)
	// The images' offsets b·H·W, [R, 1, 1]; N·H·W (past the data) for a
	// batch index outside [0, N).
	bf := b.typed("cast", p+"batch_f32", nil, ir.Type{DType: ir.F32, Shape: bi.Type.Shape}, bi)
	bad := b.op("or", p+"batch_bad", nil,
		b.op("less", p+"batch_neg", nil, bf, b.k(p+"zero", 0)),
		b.op("greater_equal", p+"batch_past", nil, bf, b.k(p+"batches", float64(n))))
	boff := b.op("where", p+"batch_offset", nil, bad, b.k(p+"past_data", float64(n*h*w)), b.op("mul", p+"batch_row", nil, bf, b.k(p+"image_size", float64(h*w))))
	boff = b.reshape(p+"batch_offset_3d", boff, []int{nr, 1, 1})
	width := b.k(p+"width", float64(w))
	rowsOf := func(a string, y *ir.Value) *ir.Value {
		return b.op("add", p+a+"_image_row", nil, boff, b.op("mul", p+a+"_row", nil, y, width))
	}
	r0, r1 := rowsOf("y_low", y0), rowsOf("y_high", y1)
	shape := []int{nr, ra.oh * gh, ra.ow * gw}
	corner := func(a string, row, col, wy, wx *ir.Value) *ir.Value {
		v := b.gatherPixels(p+a, ra.rows, b.op("add", p+a+"_flat", nil, row, col), shape) // [R, Sh, Sw, C]
		wt := b.reshape(p+a+"_weight_4d", b.op("mul", p+a+"_weight", nil, wy, wx), append(shape, 1))
		return b.op("mul", p+a+"_weighted", nil, v, wt)
	}
	comb, red := "add", "reduce_mean"
	if ra.max {
		comb, red = "max", "reduce_max"
	}
	v := corner("c00", r0, x0, wy0, wx0)
	v = b.op(comb, p+"corners01", nil, v, corner("c01", r0, x1, wy0, wx1))
	v = b.op(comb, p+"corners02", nil, v, corner("c10", r1, x0, wy1, wx0))
	v = b.op(comb, p+"corners03", nil, v, corner("c11", r1, x1, wy1, wx1))
	v = b.reshape(p+"bins", v, []int{nr, ra.oh, gh, ra.ow, gw, ch})
	v = b.reduce(red, p+"pooled", v, []int{2, 4}, false) // [R, oh, ow, C]
	return b.op("transpose", name, ir.Attrs{"perm": ir.Ints(0, 3, 1, 2)}, v)
}
