package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// convAffineGrid (opset 20): the sampling grid of theta, [N, H, W, 2]
// (or [N, D, H, W, 3]) = the constant homogeneous points (x, y[, z], 1)
// of the normalized output positions, [H·W, 3], times thetaᵀ [N, 3, 2]
// (a batch-broadcast matmul), reshaped. size must be constant.
// Normalized positions: −1 + 2i/(n − 1) with align_corners, else
// −1 + (2i + 1)/n; a dim of 1 with align_corners is at 0 (torch).
func convAffineGrid(c *nodeCtx) error {
	theta, err := c.floatIn(0)
	if err != nil {
		return err
	}
	st, err := c.constArg(1, "size")
	if err != nil {
		return err
	}
	if !st.DType.IsInt() || len(st.Shape) != 1 || st.Len() != 4 && st.Len() != 5 {
		return c.errf("size %v must be 4 or 5 integers (N, C, H, W or N, C, D, H, W)", st.Shape)
	}
	sp := st.Len() - 2 // spatial dims: 2 or 3
	ts := theta.Type.Shape
	if len(ts) != 3 || ts[1] != sp || ts[2] != sp+1 {
		return c.errf("theta %v must be [N, %d, %d] for a size of %d dims", ts, sp, sp+1, st.Len())
	}
	if n := st.IntAt(0); n != int64(ts[0]) {
		return c.errf("size[0] = %d differs from theta's batch %d", n, ts[0])
	}
	dims := make([]int, sp)
	for i := range dims {
		d := st.IntAt(2 + i)
		if d < 1 || d > int64(ir.MaxElements) {
			return c.errf("size[%d] = %d must be positive", 2+i, d)
		}
		dims[i] = int(d)
	}
	pts := ir.NumElements(dims)
	if pts > ir.MaxElements || !c.im.budget(4*pts*(sp+1)) {
		return c.errf("a grid of %v points is too large", dims)
	}
	align := c.int("align_corners", 0) != 0
	coord := func(i, n int) float64 {
		if align {
			if n == 1 {
				return 0 // undefined in ONNX: torch's 0 (ONNX Runtime 1.30 gives 1)
			}
			return -1 + 2*float64(i)/float64(n-1)
		}
		return -1 + float64(2*i+1)/float64(n)
	}
	// base[p, k]: coordinate k of point p, x (the last dim) first.
	base := ir.NewTensor(ir.F32, []int{pts, sp + 1})
	for p := range pts {
		idx := unflatIndex(p, dims)
		for k := range sp {
			d := sp - 1 - k
			base.F32[p*(sp+1)+k] = float32(coord(idx[d], dims[d]))
		}
		base.F32[p*(sp+1)+sp] = 1
	}
	b := c.build()
	tt := b.op("transpose", "theta_t", ir.Attrs{"perm": ir.Ints(0, 2, 1)}, theta)
	g := b.op("matmul", "grid_points", nil, c.constant(c.tmpName("base_grid"), base, nil), tt)
	return b.finish(b.reshape("", g, append(append([]int{ts[0]}, dims...), sp)))
}

// convGridSample samples X [N, C, H, W] at the grid [N, Ho, Wo, 2] of
// normalized (x, y) positions: unnormalized to pixels (align_corners:
// (g + 1)(size − 1)/2, else ((g + 1)·size − 1)/2); border padding clips
// them to the image. Linear: the four neighbours floor and floor + 1 with
// weights 1 − frac and frac; nearest: round (ties to even). The values
// are gathered from X as [N·H·W, C] at runtime flat indices
// n·H·W + y·W + x (computed in f32, cast to i32; each neighbour's
// coordinates clipped into the image), weighted (zeros padding: 0 for a
// neighbour outside), summed and moved back to [N, C, Ho, Wo].
// A grid known at import folds the indices and weights to constants; a
// computed one gathers at indices computed at run time (rt and both
// compiled backends: codegen's KGather).
// Cubic modes, reflection padding and more than 2 spatial dims are
// unsupported.
func convGridSample(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	grid, err := c.floatIn(1)
	if err != nil {
		return err
	}
	xs, gs := x.Type.Shape, grid.Type.Shape
	if len(xs) != 4 {
		return c.unsupported("input %v: pare imports GridSample on 4-D inputs [N, C, H, W] only", xs)
	}
	if len(gs) != 4 || gs[0] != xs[0] || gs[3] != 2 {
		return c.errf("grid %v must be [%d, Ho, Wo, 2]", gs, xs[0])
	}
	mode := c.str("mode", map[bool]string{true: "linear", false: "bilinear"}[c.opset >= 20])
	switch mode {
	case "bilinear", "linear":
		mode = "linear"
	case "nearest":
	case "bicubic", "cubic":
		return c.unsupported("mode %q is not supported (linear and nearest are)", mode)
	default:
		return c.errf("unknown mode %q", mode)
	}
	pad := c.str("padding_mode", "zeros")
	switch pad {
	case "zeros", "border":
	case "reflection":
		return c.unsupported("padding_mode \"reflection\" is not supported (zeros and border are)")
	default:
		return c.errf("unknown padding_mode %q", pad)
	}
	align := c.int("align_corners", 0) != 0
	n, h, w := xs[0], xs[2], xs[3]
	if n*h*w >= 1<<24 {
		return c.unsupported("an input of %d pixels: the flat indices are computed in f32, exact below 2^24", n*h*w)
	}
	b := c.build()
	// The pixel coordinate of grid component k (0: x along W, 1: y along H).
	pixel := func(k, size int) *ir.Value {
		g := b.sliceAxis([]string{"gx", "gy"}[k], grid, 3, k, k+1)
		s, o := float64(size)/2, float64(size-1)/2
		if align {
			s = o
		}
		p := b.op("add", []string{"px", "py"}[k], nil, b.op("mul", []string{"gx_scaled", "gy_scaled"}[k], nil, g, b.k("scale", s)), b.k("offset", o))
		if pad == "border" {
			p = b.op("clip", []string{"px_border", "py_border"}[k], ir.Attrs{"min": ir.Float(0), "max": ir.Float(float32(size - 1))}, p)
		}
		return p
	}
	px, py := pixel(0, w), pixel(1, h)
	// offsets[n] = n·H·W.
	off := ir.NewTensor(ir.F32, []int{n, 1, 1, 1})
	for i := range n {
		off.F32[i] = float32(i * h * w)
	}
	offv := c.constant(c.tmpName("batch_offsets"), off, nil)
	ps := pixelSampler{rows: b.pixelRows(x), base: offv, h: h, w: w, shape: []int{n, gs[1], gs[2]}, zeros: pad == "zeros"}
	var y *ir.Value
	if mode == "nearest" {
		y = ps.corner(b, "nearest", b.op("round", "px_round", nil, px), b.op("round", "py_round", nil, py), nil)
	} else {
		y = ps.bilinear(b, px, py)
	}
	return b.finish(b.op("transpose", "", ir.Attrs{"perm": ir.Ints(0, 3, 1, 2)}, y))
}

// pixelSampler reads pixels of an image viewed as the rows [N·H·W, C]
// (pixelRows) at coordinates computed at run time: base holds the flat
// index of each coordinate's image (n·H·W, broadcast against the
// coordinates), shape is the coordinates' shape without their trailing
// 1 (the gathered values are shape + [C]), zeros gives 0 for a
// neighbour outside the image (else it reads the clipped pixel).
type pixelSampler struct {
	rows, base *ir.Value
	h, w       int
	shape      []int
	zeros      bool
}

// corner gathers the pixels at integer-valued coordinates (cx, cy),
// weighted by wgt (nil: 1): each coordinate is clipped into the image
// (the gather never reads past the rows), and with zeros the weight of
// a neighbour outside is 0 (where the clip moved it).
func (ps pixelSampler) corner(b *builder, name string, cx, cy, wgt *ir.Value) *ir.Value {
	xc := b.op("clip", name+"_xc", ir.Attrs{"min": ir.Float(0), "max": ir.Float(float32(ps.w - 1))}, cx)
	yc := b.op("clip", name+"_yc", ir.Attrs{"min": ir.Float(0), "max": ir.Float(float32(ps.h - 1))}, cy)
	flat := b.op("add", name+"_flat", nil, b.op("add", name+"_yw", nil, b.op("mul", name+"_y_row", nil, yc, b.k("width", float64(ps.w))), xc), ps.base)
	v := b.gatherPixels(name, ps.rows, flat, ps.shape)
	if ps.zeros {
		inside := b.op("and", name+"_inside", nil, b.op("equal", name+"_x_inside", nil, cx, xc), b.op("equal", name+"_y_inside", nil, cy, yc))
		zero := b.k("zero", 0)
		if wgt == nil {
			wgt = b.op("where", name+"_weight", nil, inside, b.k("one", 1), zero)
		} else {
			wgt = b.op("where", name+"_weight_inside", nil, inside, wgt, zero)
		}
	}
	if wgt == nil {
		return v
	}
	return b.op("mul", name+"_weighted", nil, v, wgt)
}

// bilinear interpolates at the pixel coordinates (px, py): the four
// neighbours floor and floor + 1 with weights 1 − frac and frac, added.
func (ps pixelSampler) bilinear(b *builder, px, py *ir.Value) *ir.Value {
	x0, y0 := b.op("floor", "px_floor", nil, px), b.op("floor", "py_floor", nil, py)
	one := b.k("one", 1)
	x1, y1 := b.op("add", "px_ceil", nil, x0, one), b.op("add", "py_ceil", nil, y0, one)
	wx1, wy1 := b.op("sub", "wx1", nil, px, x0), b.op("sub", "wy1", nil, py, y0)
	wx0, wy0 := b.op("sub", "wx0", nil, one, wx1), b.op("sub", "wy0", nil, one, wy1)
	y := ps.corner(b, "c00", x0, y0, b.op("mul", "w00", nil, wx0, wy0))
	y = b.op("add", "sum01", nil, y, ps.corner(b, "c10", x1, y0, b.op("mul", "w10", nil, wx1, wy0)))
	y = b.op("add", "sum02", nil, y, ps.corner(b, "c01", x0, y1, b.op("mul", "w01", nil, wx0, wy1)))
	return b.op("add", "sum03", nil, y, ps.corner(b, "c11", x1, y1, b.op("mul", "w11", nil, wx1, wy1)))
}

// pixelRows views X [N, C, H, W] as its pixels' rows [N·H·W, C] (a
// transpose to NHWC and a reshape), for gatherPixels.
func (b *builder) pixelRows(x *ir.Value) *ir.Value {
	if b.err != nil {
		return nil
	}
	s := x.Type.Shape
	return b.reshape("rows", b.op("transpose", "nhwc", ir.Attrs{"perm": ir.Ints(0, 2, 3, 1)}, x), []int{s[0] * s[2] * s[3], s[1]})
}

// gatherPixels gathers the rows of pixelRows at the flat pixel indices
// flat (f32 holding integers n·H·W + y·W + x, computed at run time; exact
// below 2^24), cast to i32 and reshaped to shape: the result is shape +
// [C]. An index past the rows fails the gather (rt's error, the compiled
// kernels' nonzero return).
func (b *builder) gatherPixels(name string, rows, flat *ir.Value, shape []int) *ir.Value {
	if b.err != nil {
		return nil
	}
	idx := b.typed("cast", name+"_index", nil, ir.Type{DType: ir.I32, Shape: flat.Type.Shape}, flat)
	idx = b.reshape(name+"_index_3d", idx, shape)
	return b.op("gather", name+"_values", ir.Attrs{"axis": ir.Int(0)}, rows, idx)
}

// convCol2Im (opset 18) sums the columns [N, C·Πblock, L] back into an
// image [N, C, image...]: column element (block offset k, patch l) lands
// at the image position l·stride + k·dilation − pad_begin (dropped in the
// padding). With the columns viewed as [N, C, Πblock·L] and a 0 appended,
// layer j gathers the j-th contribution to each image position (the 0
// where there is none) at constant indices, and the layers are added.
// image_shape and block_shape must be constant.
func convCol2Im(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	read := func(i int, what string) ([]int, error) {
		t, err := c.constArg(i, what)
		if err != nil {
			return nil, err
		}
		if !t.DType.IsInt() || len(t.Shape) != 1 || t.Len() < 1 {
			return nil, c.errf("%s %v must be a 1-D integer tensor", what, t.Shape)
		}
		out := make([]int, t.Len())
		for j := range out {
			v := t.IntAt(j)
			if v < 1 || v > int64(ir.MaxElements) {
				return nil, c.errf("%s[%d] = %d must be positive", what, j, v)
			}
			out[j] = int(v)
		}
		return out, nil
	}
	img, err := read(1, "image_shape")
	if err != nil {
		return err
	}
	blk, err := read(2, "block_shape")
	if err != nil {
		return err
	}
	d := len(img)
	if len(blk) != d {
		return c.errf("image_shape %v and block_shape %v differ in length", img, blk)
	}
	dil, strides, pads := c.window("dilations", d, 1), c.window("strides", d, 1), c.window("pads", 2*d, 0)
	if c.err != nil {
		return c.err
	}
	if dil == nil {
		dil = ones(d)
	}
	if strides == nil {
		strides = ones(d)
	}
	if pads == nil {
		pads = make([]int, 2*d)
	}
	patches := make([]int, d) // patches per dim
	for i := range d {
		span := img[i] + pads[i] + pads[d+i] - dil[i]*(blk[i]-1) - 1
		if span < 0 {
			return c.errf("the block %v (dilations %v) does not fit the padded image %v (pads %v)", blk, dil, img, pads)
		}
		patches[i] = span/strides[i] + 1
	}
	bn, ln := ir.NumElements(blk), ir.NumElements(patches)
	xs := x.Type.Shape
	if len(xs) != 3 || xs[1]%bn != 0 || xs[2] != ln {
		return c.errf("input %v must be [N, C·%d, %d] (block %v, %v patches)", xs, bn, ln, blk, patches)
	}
	ch := xs[1] / bn
	pix := ir.NumElements(img)
	src := bn * ln // the index of the appended 0
	var layers [][]int64
	count := make([]int, pix)
	pos := make([]int, d)
	for k := range bn {
		kk := unflatIndex(k, blk)
		for l := range ln {
			ll := unflatIndex(l, patches)
			inside := true
			for i := range d {
				pos[i] = ll[i]*strides[i] + kk[i]*dil[i] - pads[i]
				inside = inside && pos[i] >= 0 && pos[i] < img[i]
			}
			if !inside {
				continue
			}
			o := flatIndex(pos, img)
			j := count[o]
			count[o]++
			if j == len(layers) {
				if !c.im.budget(8 * pix) {
					return c.errf("the image %v is too large to build at import", img)
				}
				layer := make([]int64, pix)
				for i := range layer {
					layer[i] = int64(src)
				}
				layers = append(layers, layer)
			}
			layers[j][o] = int64(k*ln + l)
		}
	}
	b := c.build()
	cols := b.reshape("columns", x, []int{xs[0], ch, src})
	zero := c.constant(c.tmpName("zero"), ir.NewTensor(ir.F32, []int{xs[0], ch, 1}), nil)
	cols = b.op("concat", "columns_zero", ir.Attrs{"axis": ir.Int(2)}, cols, zero)
	var y *ir.Value
	for j, l := range layers {
		g := b.op("gather", fmt.Sprintf("layer%d", j), ir.Attrs{"axis": ir.Int(2)}, cols, c.constant(c.tmpName(fmt.Sprintf("layer%d_indices", j)), ir.FromI64([]int{pix}, l), nil))
		if y == nil {
			y = g
		} else {
			y = b.op("add", fmt.Sprintf("sum%d", j), nil, y, g)
		}
	}
	if y == nil { // every column element falls in the padding
		y = c.constant(c.tmpName("zeros"), ir.NewTensor(ir.F32, []int{xs[0], ch, pix}), nil)
	}
	return b.finish(b.reshape("", y, append([]int{xs[0], ch}, img...)))
}
