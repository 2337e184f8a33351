package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// The separable form of Resize: every mode resizes each axis on its own,
// so along a resized axis out[o] = Σ_i M[o, i]·in[i] with a constant
// matrix M [out_len, in_len] folded at import in float64 from the
// coordinate transform and the interpolation kernel. The frontend applies
// the matrices one axis at a time with matmuls, so every backend runs the
// modes the resize op does not have (cubic, antialias, tf_crop_and_resize,
// half_pixel_symmetric, keep_aspect_ratio_policy) without a new kernel.

// resizeSpec holds the attributes that shape the matrices.
type resizeSpec struct {
	mode, coord, nearest string
	cubicA               float64
	exclude, antialias   bool
}

// resizeAxis is one axis: its lengths, the scale of the coordinate
// transform and (tf_crop_and_resize) its roi.
type resizeAxis struct {
	in, out          int
	scale            float64
	roiStart, roiEnd float64
}

// origin maps output coordinate o to the input coordinate (the spec's
// coordinate_transformation_mode formulas).
func (s resizeSpec) origin(a resizeAxis, o int) float64 {
	x, in, out := float64(o), float64(a.in), float64(a.out)
	switch s.coord {
	case "align_corners":
		if a.out == 1 {
			return 0
		}
		return x * (in - 1) / (out - 1)
	case "asymmetric":
		return x / a.scale
	case "pytorch_half_pixel":
		if a.out == 1 {
			return 0
		}
		return (x+0.5)/a.scale - 0.5
	case "half_pixel_symmetric":
		adj := out / (a.scale * in)
		return in/2*(1-adj) + (x+0.5)/a.scale - 0.5
	case "tf_crop_and_resize":
		if a.out == 1 {
			return 0.5 * (a.roiStart + a.roiEnd) * (in - 1)
		}
		return a.roiStart*(in-1) + x*(a.roiEnd-a.roiStart)*(in-1)/(out-1)
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / a.scale
	}
	return (x+0.5)/a.scale - 0.5 // half_pixel
}

// kernel is the interpolation weight at distance t.
func (s resizeSpec) kernel(t float64) float64 {
	t = math.Abs(t)
	if s.mode == "linear" {
		return max(0, 1-t)
	}
	a := s.cubicA
	switch {
	case t <= 1:
		return ((a+2)*t-(a+3))*t*t + 1
	case t < 2:
		return ((a*t-5*a)*t+8*a)*t - 4*a
	}
	return 0
}

// nearestIndex rounds x by the nearest_mode.
func (s resizeSpec) nearestIndex(x float64) int {
	f := math.Floor(x)
	switch s.nearest {
	case "floor":
		return int(f)
	case "ceil":
		return int(math.Ceil(x))
	case "round_prefer_ceil":
		if x-f >= 0.5 {
			return int(f) + 1
		}
		return int(f)
	}
	if x-f > 0.5 { // round_prefer_floor
		return int(f) + 1
	}
	return int(f)
}

// matrix is M [out, in] (row-major) of axis a, and which output positions
// fall outside the input (tf_crop_and_resize: their rows are zero).
func (s resizeSpec) matrix(a resizeAxis) (m []float64, outside []bool) {
	m = make([]float64, a.out*a.in)
	outside = make([]bool, a.out)
	clamp := func(p int) int { return min(max(p, 0), a.in-1) }
	for o := range a.out {
		x := s.origin(a, o)
		row := m[o*a.in : (o+1)*a.in]
		if s.coord == "tf_crop_and_resize" && (x < 0 || x > float64(a.in-1)) {
			outside[o] = true
			continue
		}
		if s.mode == "nearest" {
			row[clamp(s.nearestIndex(x))] = 1
			continue
		}
		// The taps: n consecutive positions around x, the last left of x
		// (an integral x counts as the right end of the interval before it).
		sc, radius := 1.0, 1.0
		if s.mode == "cubic" {
			radius = 2
		}
		if s.antialias && a.scale < 1 {
			sc = a.scale
		}
		start := int(math.Floor(-radius/sc)) + 1
		n := 2 - 2*start
		base := int(math.Floor(x))
		if float64(base) == x {
			base--
		}
		ps, ws := make([]int, n), make([]float64, n)
		sum := 0.0
		for k := range n {
			ps[k] = base + start + k
			ws[k] = s.kernel(sc * (float64(ps[k]) - x))
			sum += ws[k]
		}
		if s.antialias {
			for k := range ws {
				ws[k] /= sum
			}
		}
		if s.exclude {
			sum = 0
			for k, p := range ps {
				if p < 0 || p >= a.in {
					ws[k] = 0
				}
				sum += ws[k]
			}
			for k := range ws {
				if sum != 0 {
					ws[k] /= sum
				}
			}
		}
		for k, p := range ps {
			row[clamp(p)] += ws[k]
		}
	}
	return m, outside
}

// identity says whether M is the identity (the axis is not resized).
func identity(m []float64, outside []bool, n int) bool {
	if len(outside) != n || len(m) != n*n {
		return false
	}
	for i := range n {
		if outside[i] {
			return false
		}
		for j := range n {
			want := 0.0
			if i == j {
				want = 1
			}
			if m[i*n+j] != want {
				return false
			}
		}
	}
	return true
}

// resizeSeparable lowers Resize on x to one matmul per resized axis:
// axes[i] has output length out[i], coordinate scale scales[i] and roi
// roi[i] ([start, end]; tf_crop_and_resize only). Output positions of
// tf_crop_and_resize whose source falls outside the input along any axis
// are extrapolation_value.
func (c *nodeCtx) resizeSeparable(x *ir.Value, s resizeSpec, out []int, scales []float64, roi [][2]float64, extrap float32) error {
	if x.Type.DType != ir.F32 || x.Type.Quant != nil {
		return c.unsupported("input %v: pare imports Resize in %s mode (coordinate_transformation_mode %s, antialias %v) on FLOAT tensors only", x.Type, s.mode, s.coord, s.antialias)
	}
	r := x.Type.Rank()
	shape := append([]int{}, x.Type.Shape...)
	if err := checkShape(out); err != nil {
		return c.errf("output shape: %v", err)
	}
	b := c.build()
	y := x
	var mask []bool // over maskShape: a resized axis's output position is outside
	maskShape := ones(r)
	for ax := range r {
		a := resizeAxis{in: shape[ax], out: out[ax], scale: scales[ax], roiStart: roi[ax][0], roiEnd: roi[ax][1]}
		if a.out < 1 || a.in < 1 {
			return c.errf("resizing axis %d from length %d to %d: both must be positive", ax, a.in, a.out)
		}
		if a.out*a.in > ir.MaxElements {
			return c.unsupported("the %d×%d interpolation matrix of axis %d is too large", a.out, a.in, ax)
		}
		if !(a.scale > 0) || math.IsInf(a.scale, 0) {
			return c.errf("invalid scale %v on axis %d", a.scale, ax)
		}
		m, outside := s.matrix(a)
		if identity(m, outside, a.in) {
			continue
		}
		p, q := 1, 1
		for i := range ax {
			p *= shape[i]
		}
		for i := ax + 1; i < r; i++ {
			q *= shape[i]
		}
		next := append([]int{}, shape...)
		next[ax] = a.out
		name := fmt.Sprintf("axis%d", ax)
		if q == 1 { // [P, in] × Mᵀ [in, out]
			mt := ir.NewTensor(ir.F32, []int{a.in, a.out})
			for o := range a.out {
				for i := range a.in {
					mt.F32[i*a.out+o] = float32(m[o*a.in+i])
				}
			}
			y = b.reshape(name+"_rows", y, []int{p, a.in})
			y = b.op("matmul", name+"_resized", nil, y, c.constant(c.tmpName(name+"_matrix"), mt, nil))
		} else { // M [out, in] × [P, in, Q] (P broadcast)
			mt := ir.NewTensor(ir.F32, []int{a.out, a.in})
			for k, v := range m {
				mt.F32[k] = float32(v)
			}
			in3 := []int{p, a.in, q}
			if p == 1 {
				in3 = []int{a.in, q}
			}
			y = b.reshape(name+"_blocks", y, in3)
			y = b.op("matmul", name+"_resized", nil, c.constant(c.tmpName(name+"_matrix"), mt, nil), y)
		}
		shape = next // y stays in its matmul's shape until the end
		if s.coord == "tf_crop_and_resize" {
			mask = growMask(mask, maskShape, ax, outside)
			maskShape[ax] = a.out
		}
	}
	if b.err != nil {
		return b.err
	}
	if !anyTrue(mask) {
		return b.finish(b.reshape("", y, shape)) // x itself when no axis is resized
	}
	y = b.reshape("resized", y, shape)
	mt := &ir.Tensor{DType: ir.Bool, Shape: maskShape, Bool: mask}
	return b.finish(b.op("where", "", nil, c.constant(c.tmpName("outside"), mt, nil), b.k("extrapolation_value", float64(extrap)), y))
}

// growMask extends the mask over shape (1 at ax) with axis ax's outside
// positions: a position is outside when it was or its ax index is.
func growMask(mask []bool, shape []int, ax int, outside []bool) []bool {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if mask == nil {
		mask = make([]bool, n)
	}
	inner := 1
	for i := ax + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	outer := n / inner
	res := make([]bool, outer*len(outside)*inner)
	for o := range outer {
		for k, out := range outside {
			for j := range inner {
				res[(o*len(outside)+k)*inner+j] = out || mask[o*inner+j]
			}
		}
	}
	return res
}

func anyTrue(m []bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

// resizeByMatrix reads the attributes and the constant roi of a Resize
// (opset 11 on) in the separable form: the output lengths and coordinate
// scales per axis from scales or sizes (keep_aspect_ratio_policy), then
// resizeSeparable.
func (c *nodeCtx) resizeByMatrix(x *ir.Value, mode, coord, policy string, scales []float32, sizes []int) error {
	switch mode {
	case "nearest", "linear", "cubic":
	default:
		return c.unsupported("resize mode %q is not supported (nearest, linear and cubic are)", mode)
	}
	switch coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "half_pixel_symmetric":
	case "tf_half_pixel_for_nn":
		if mode != "nearest" {
			return c.unsupported("coordinate_transformation_mode tf_half_pixel_for_nn is for nearest mode, not %s", mode)
		}
	default:
		return c.unsupported("coordinate_transformation_mode %q is not supported", coord)
	}
	if (scales == nil) == (sizes == nil) {
		return c.errf("exactly one of scales and sizes must be given")
	}
	r := x.Type.Rank()
	axes := c.ints("axes")
	if axes == nil {
		for i := range r {
			axes = append(axes, i)
		}
	}
	seen := make([]bool, r)
	for i, a := range axes {
		n, err := c.normAxis(a, r)
		if err != nil {
			return err
		}
		if seen[n] {
			return c.errf("axes %v repeat axis %d", axes, n)
		}
		seen[n], axes[i] = true, n
	}
	if n := max(len(scales), len(sizes)); n != len(axes) {
		return c.errf("%d scales/sizes for %d axes %v", n, len(axes), axes)
	}
	out := append([]int{}, x.Type.Shape...)
	sc := make([]float64, r)
	for i := range sc {
		sc[i] = 1
	}
	switch {
	case scales != nil:
		for i, a := range axes {
			s := float64(scales[i])
			f := math.Floor(s * float64(x.Type.Shape[a]))
			if !(s > 0) || !(f < ir.MaxElements) {
				return c.errf("invalid scales %v", scales)
			}
			out[a], sc[a] = int(f), s
		}
	case policy == "stretch":
		for i, a := range axes {
			if sizes[i] < 1 || x.Type.Shape[a] < 1 {
				return c.errf("sizes %v: resizing %v needs positive lengths", sizes, x.Type.Shape)
			}
			out[a], sc[a] = sizes[i], float64(sizes[i])/float64(x.Type.Shape[a])
		}
	default: // one scale for every axis: the largest that fits in sizes (not_larger) or the smallest that covers it (not_smaller)
		k := 0.0
		for i, a := range axes {
			if sizes[i] < 1 || x.Type.Shape[a] < 1 {
				return c.errf("sizes %v: resizing %v needs positive lengths", sizes, x.Type.Shape)
			}
			s := float64(sizes[i]) / float64(x.Type.Shape[a])
			if i == 0 || (policy == "not_larger" && s < k) || (policy == "not_smaller" && s > k) {
				k = s
			}
		}
		for _, a := range axes {
			out[a], sc[a] = int(math.Floor(k*float64(x.Type.Shape[a])+0.5)), k
		}
	}
	roi := make([][2]float64, r)
	for i := range roi {
		roi[i] = [2]float64{0, 1}
	}
	if coord == "tf_crop_and_resize" {
		t, err := c.constIn(1)
		if err != nil {
			return err
		}
		if t != nil && t.Len() > 0 {
			if t.DType != ir.F32 {
				return c.unsupported("roi is %v; pare reads a FLOAT roi", t.DType)
			}
			if len(t.Shape) != 1 || t.Len() != 2*len(axes) {
				return c.errf("roi has shape %v; want [%d] (starts and ends of axes %v)", t.Shape, 2*len(axes), axes)
			}
			for i, a := range axes {
				roi[a] = [2]float64{t.At(i), t.At(len(axes) + i)}
			}
		}
	}
	s := resizeSpec{mode: mode, coord: coord, nearest: c.str("nearest_mode", "round_prefer_floor"),
		cubicA: float64(c.float("cubic_coeff_a", -0.75)), exclude: c.int("exclude_outside", 0) != 0,
		antialias: c.int("antialias", 0) != 0 && mode != "nearest"}
	switch s.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return c.unsupported("nearest_mode %q is not supported", s.nearest)
	}
	return c.resizeSeparable(x, s, out, sc, roi, c.float("extrapolation_value", 0))
}
