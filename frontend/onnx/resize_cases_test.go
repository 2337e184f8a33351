package onnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/backendrun"
)

// Cases of Resize in the separable matrix form (convert_resize.go): cubic
// (cubic_coeff_a, exclude_outside), antialias, tf_crop_and_resize (roi,
// extrapolation_value), half_pixel_symmetric, keep_aspect_ratio_policy and
// axes, checked against a float64 reference written per output element
// from the spec (refResize), and through decompCases against ONNX Runtime
// and both compiled backends.

type rzCase struct {
	name      string
	opset     int64
	x         []int
	mode      string // "": absent (nearest)
	coord     string // "": absent (half_pixel)
	nearest   string // "": absent (round_prefer_floor)
	cubicA    float32
	hasA      bool
	exclude   bool
	antialias bool
	policy    string  // "": absent (stretch)
	axes      []int64 // nil: absent
	scales    []float32
	sizes     []int64
	roi       []float32 // nil: absent
	extrap    float32
	hasExtrap bool
	ortSkip   string
}

func (rc rzCase) attrs() []*attrProto {
	var at []*attrProto
	if rc.mode != "" {
		at = append(at, aStr("mode", rc.mode))
	}
	if rc.coord != "" {
		at = append(at, aStr("coordinate_transformation_mode", rc.coord))
	}
	if rc.nearest != "" {
		at = append(at, aStr("nearest_mode", rc.nearest))
	}
	if rc.hasA {
		at = append(at, aFloat("cubic_coeff_a", rc.cubicA))
	}
	if rc.exclude {
		at = append(at, aInt("exclude_outside", 1))
	}
	if rc.antialias {
		at = append(at, aInt("antialias", 1))
	}
	if rc.policy != "" {
		at = append(at, aStr("keep_aspect_ratio_policy", rc.policy))
	}
	if rc.axes != nil {
		at = append(at, aInts("axes", rc.axes...))
	}
	if rc.hasExtrap {
		at = append(at, aFloat("extrapolation_value", rc.extrap))
	}
	return at
}

// params are the inputs roi, scales, sizes: absent ones nil from opset 13,
// empty tensors before (roi and scales are required in Resize-11).
func (rc rzCase) params() []*ir.Tensor {
	empty := ir.NewTensor(ir.F32, []int{0})
	var roi, sc, sz *ir.Tensor
	if rc.roi != nil {
		roi = f32s([]int{len(rc.roi)}, rc.roi...)
	}
	if rc.scales != nil {
		sc = f32s([]int{len(rc.scales)}, rc.scales...)
	}
	if rc.sizes != nil {
		sz = i64s(rc.sizes...)
	}
	if rc.opset < 13 {
		if roi == nil {
			roi = empty
		}
		if sc == nil {
			sc = empty
		}
	}
	ps := []*ir.Tensor{roi, sc}
	if sz != nil {
		ps = append(ps, sz)
	}
	return ps
}

// rzTap is one input index (clamped to the input) and its weight.
type rzTap struct {
	i int
	w float64
}

// refAxis computes, from the spec, the taps of output position o along an
// axis of input length in and output length out with coordinate scale
// scale; outside: tf_crop_and_resize maps o outside the input.
func (rc rzCase) refAxis(in, out int, scale, roiS, roiE float64, o int) (taps []rzTap, outside bool) {
	xr := float64(o)
	var x float64
	switch rc.coord {
	case "align_corners":
		if out > 1 {
			x = xr * float64(in-1) / float64(out-1)
		}
	case "asymmetric":
		x = xr / scale
	case "pytorch_half_pixel":
		if out > 1 {
			x = (xr+0.5)/scale - 0.5
		}
	case "half_pixel_symmetric":
		outW := scale * float64(in) // the unrounded output length
		adjustment := float64(out) / outW
		center := float64(in) / 2
		x = center*(1-adjustment) + (xr+0.5)/scale - 0.5
	case "tf_crop_and_resize":
		if out > 1 {
			x = roiS*float64(in-1) + xr*(roiE-roiS)*float64(in-1)/float64(out-1)
		} else {
			x = 0.5 * (roiS + roiE) * float64(in-1)
		}
		if x < 0 || x > float64(in-1) {
			return nil, true
		}
	default:
		x = (xr+0.5)/scale - 0.5
	}
	clamp := func(i int) int { return max(0, min(in-1, i)) }
	mode := rc.mode
	if mode == "" {
		mode = "nearest"
	}
	if mode == "nearest" {
		var i int
		fl := math.Floor(x)
		switch rc.nearest {
		case "floor":
			i = int(fl)
		case "ceil":
			i = int(math.Ceil(x))
		case "round_prefer_ceil":
			i = int(math.Floor(x + 0.5))
		default:
			if x-fl == 0.5 {
				i = int(fl)
			} else {
				i = int(math.Round(x))
			}
		}
		return []rzTap{{clamp(i), 1}}, false
	}
	a := -0.75
	if rc.hasA {
		a = float64(rc.cubicA)
	}
	if rc.antialias { // every input position within the stretched support
		s := min(scale, 1)
		support := 1.0
		k := func(t float64) float64 { return max(0, 1-t) }
		if mode == "cubic" {
			support = 2
			k = func(t float64) float64 {
				if t <= 1 {
					return (a+2)*t*t*t - (a+3)*t*t + 1
				}
				if t < 2 {
					return a*t*t*t - 5*a*t*t + 8*a*t - 4*a
				}
				return 0
			}
		}
		sum := 0.0
		for p := int(math.Floor(x-support/s)) - 1; p <= int(math.Ceil(x+support/s))+1; p++ {
			if w := k(math.Abs(float64(p)-x) * s); w != 0 {
				taps = append(taps, rzTap{p, w})
				sum += w
			}
		}
		for j := range taps {
			taps[j].w /= sum
		}
	} else {
		x0 := int(math.Ceil(x)) - 1 // the left neighbour; ratio in (0, 1]
		r := x - float64(x0)
		if mode == "linear" {
			taps = []rzTap{{x0, 1 - r}, {x0 + 1, r}}
		} else {
			taps = []rzTap{
				{x0 - 1, ((a*(r+1)-5*a)*(r+1)+8*a)*(r+1) - 4*a},
				{x0, ((a+2)*r-(a+3))*r*r + 1},
				{x0 + 1, ((a+2)*(1-r)-(a+3))*(1-r)*(1-r) + 1},
				{x0 + 2, ((a*(2-r)-5*a)*(2-r)+8*a)*(2-r) - 4*a},
			}
		}
	}
	if rc.exclude {
		var kept []rzTap
		sum := 0.0
		for _, t := range taps {
			if t.i >= 0 && t.i < in {
				kept = append(kept, t)
				sum += t.w
			}
		}
		for j := range kept {
			kept[j].w /= sum
		}
		taps = kept
	}
	for j := range taps {
		taps[j].i = clamp(taps[j].i)
	}
	return taps, false
}

// refGeometry is the output shape and per-axis scales and roi of the spec.
func (rc rzCase) refGeometry(shape []int) (out []int, scale []float64, roi [][2]float64) {
	r := len(shape)
	axes := make([]int, 0, r)
	if rc.axes == nil {
		for i := range r {
			axes = append(axes, i)
		}
	}
	for _, a := range rc.axes {
		axes = append(axes, (int(a)+r)%r)
	}
	out = append([]int{}, shape...)
	scale = make([]float64, r)
	roi = make([][2]float64, r)
	for i := range r {
		scale[i], roi[i] = 1, [2]float64{0, 1}
	}
	for i, a := range axes {
		if rc.roi != nil {
			roi[a] = [2]float64{float64(rc.roi[i]), float64(rc.roi[len(axes)+i])}
		}
		if rc.scales != nil {
			scale[a] = float64(rc.scales[i])
			out[a] = int(scale[a] * float64(shape[a]))
		} else {
			scale[a] = float64(rc.sizes[i]) / float64(shape[a])
			out[a] = int(rc.sizes[i])
		}
	}
	if rc.sizes != nil && rc.policy != "" && rc.policy != "stretch" {
		k := scale[axes[0]]
		for _, a := range axes {
			if rc.policy == "not_larger" {
				k = math.Min(k, scale[a])
			} else {
				k = math.Max(k, scale[a])
			}
		}
		for _, a := range axes {
			scale[a] = k
			out[a] = int(k*float64(shape[a]) + 0.5)
		}
	}
	return out, scale, roi
}

// ref is Resize of x per output element: the sum over the product of the
// axes' taps, or extrapolation_value when any axis falls outside.
func (rc rzCase) ref(x *ir.Tensor) *ir.Tensor {
	out, scale, roi := rc.refGeometry(x.Shape)
	return refOut(out, func(ix []int) float64 {
		taps := make([][]rzTap, len(ix))
		for d, o := range ix {
			t, outside := rc.refAxis(x.Shape[d], out[d], scale[d], roi[d][0], roi[d][1], o)
			if outside {
				return float64(rc.extrap)
			}
			taps[d] = t
		}
		var sum func(d int, src []int, w float64) float64
		sum = func(d int, src []int, w float64) float64 {
			if d == len(ix) {
				return w * x.At(flat(src, x.Shape))
			}
			s := 0.0
			for _, t := range taps[d] {
				s += sum(d+1, append(src, t.i), w*t.w)
			}
			return s
		}
		return sum(0, nil, 1)
	})
}

// ortCubicShapes: ONNX Runtime runs cubic on 2-D inputs and on 4-D ones
// whose outer two scales are 1 only.
const ortCubicShapes = "ONNX Runtime 1.30 runs cubic Resize only on 2-D inputs and on 4-D ones with the outer two scales 1"

func resizeCases() []decompCase {
	x4 := []int{1, 2, 4, 4}
	var rcs []rzCase
	// cubic in every coordinate_transformation_mode, both coefficients,
	// with and without exclude_outside, up and down.
	for i, coord := range []string{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"} {
		for j, a := range []float32{-0.5, -0.75} {
			for _, ex := range []bool{false, true} {
				sc := []float32{1, 1, 2, 1.5}
				if (i+j)%2 == 1 {
					sc = []float32{1, 1, 0.6, 0.8}
				}
				rcs = append(rcs, rzCase{name: fmt.Sprintf("cubic_%s_a%v_ex%v_%v", coord, a, ex, sc), opset: 19, x: x4, mode: "cubic",
					coord: coord, cubicA: a, hasA: true, exclude: ex, scales: sc})
			}
		}
	}
	rcs = append(rcs,
		rzCase{name: "cubic_default_a_opset11", opset: 11, x: x4, mode: "cubic", scales: []float32{1, 1, 2, 2}},
		rzCase{name: "cubic_sizes_opset13", opset: 13, x: x4, mode: "cubic", sizes: []int64{1, 2, 9, 10}, exclude: true},
		rzCase{name: "cubic_sizes_down_opset18", opset: 18, x: []int{1, 1, 8, 8}, mode: "cubic", sizes: []int64{1, 1, 3, 5}},
		rzCase{name: "cubic_pytorch_len1", opset: 19, x: x4, mode: "cubic", coord: "pytorch_half_pixel", sizes: []int64{1, 2, 3, 1}},
		rzCase{name: "linear_half_pixel_symmetric", opset: 19, x: x4, mode: "linear", coord: "half_pixel_symmetric", scales: []float32{1, 1, 2.5, 1.7}},
		rzCase{name: "nearest_half_pixel_symmetric", opset: 19, x: x4, coord: "half_pixel_symmetric", scales: []float32{1, 1, 1.8, 0.6}},
		// antialias: downscaling stretches the kernel; upscaling is plain.
		rzCase{name: "linear_antialias_down", opset: 18, x: []int{1, 1, 8, 8}, mode: "linear", antialias: true, scales: []float32{1, 1, 0.6, 0.6}},
		rzCase{name: "linear_antialias_sizes", opset: 18, x: []int{1, 2, 7, 9}, mode: "linear", antialias: true, sizes: []int64{1, 2, 3, 4}},
		rzCase{name: "linear_antialias_up_down", opset: 19, x: []int{1, 1, 4, 9}, mode: "linear", antialias: true, scales: []float32{1, 1, 1.5, 0.35}},
		rzCase{name: "linear_antialias_align_corners", opset: 19, x: []int{2, 6, 6}, mode: "linear", antialias: true, coord: "align_corners", scales: []float32{1, 0.5, 0.7}},
		rzCase{name: "cubic_antialias_down", opset: 18, x: []int{1, 1, 8, 8}, mode: "cubic", antialias: true, scales: []float32{1, 1, 0.6, 0.6}},
		rzCase{name: "cubic_antialias_sizes_a05", opset: 18, x: []int{1, 2, 9, 7}, mode: "cubic", antialias: true, cubicA: -0.5, hasA: true, sizes: []int64{1, 2, 4, 3}},
		rzCase{name: "cubic_antialias_exclude", opset: 19, x: []int{1, 1, 8, 8}, mode: "cubic", antialias: true, exclude: true, scales: []float32{1, 1, 0.45, 0.7}},
		// tf_crop_and_resize: roi, extrapolation_value, up and down, axes.
		rzCase{name: "tf_crop_linear", opset: 13, x: x4, mode: "linear", coord: "tf_crop_and_resize", roi: []float32{0, 0, 0.4, 0.6, 1, 1, 0.6, 0.8}, sizes: []int64{1, 2, 3, 3}},
		rzCase{name: "tf_crop_linear_extrapolate", opset: 13, x: x4, mode: "linear", coord: "tf_crop_and_resize", roi: []float32{0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7}, sizes: []int64{1, 2, 3, 3}, extrap: 10, hasExtrap: true},
		rzCase{name: "tf_crop_cubic_up_extrapolate", opset: 19, x: x4, mode: "cubic", coord: "tf_crop_and_resize", roi: []float32{0, 0, -0.2, 0.1, 1, 1, 1.1, 1.3}, scales: []float32{1, 1, 2, 2.5}, extrap: -7.5, hasExtrap: true},
		rzCase{name: "tf_crop_cubic_down", opset: 19, x: []int{1, 1, 8, 8}, mode: "cubic", coord: "tf_crop_and_resize", roi: []float32{0, 0, 0.1, 0.2, 1, 1, 0.9, 0.7}, sizes: []int64{1, 1, 3, 4}},
		rzCase{name: "tf_crop_nearest", opset: 19, x: x4, coord: "tf_crop_and_resize", roi: []float32{0, 0, -0.25, 0.2, 1, 1, 0.9, 1.4}, sizes: []int64{1, 2, 5, 3}, extrap: 2, hasExtrap: true},
		rzCase{name: "tf_crop_axes_2_3", opset: 18, x: x4, mode: "linear", coord: "tf_crop_and_resize", axes: []int64{2, 3}, roi: []float32{0.4, 0.6, 1.2, 1.7}, sizes: []int64{3, 3}, extrap: 10, hasExtrap: true},
		rzCase{name: "tf_crop_axes_3_2", opset: 18, x: x4, mode: "linear", coord: "tf_crop_and_resize", axes: []int64{3, 2}, roi: []float32{0.6, 0.4, 0.8, 0.6}, sizes: []int64{3, 3}},
		rzCase{name: "tf_crop_len1", opset: 19, x: x4, mode: "linear", coord: "tf_crop_and_resize", roi: []float32{0, 0, 0.2, 0.3, 1, 1, 0.7, 0.6}, sizes: []int64{1, 2, 1, 3}},
		// keep_aspect_ratio_policy with sizes (and axes).
		rzCase{name: "nearest_not_larger", opset: 18, x: []int{1, 1, 2, 2}, policy: "not_larger", axes: []int64{2, 3}, sizes: []int64{7, 8}},
		rzCase{name: "nearest_not_smaller", opset: 18, x: []int{1, 1, 2, 2}, policy: "not_smaller", axes: []int64{2, 3}, sizes: []int64{7, 8}},
		rzCase{name: "linear_not_larger_down", opset: 18, x: []int{1, 1, 4, 4}, mode: "linear", policy: "not_larger", axes: []int64{2, 3}, sizes: []int64{1, 3}},
		rzCase{name: "linear_not_smaller_down", opset: 18, x: []int{1, 1, 4, 4}, mode: "linear", policy: "not_smaller", axes: []int64{2, 3}, sizes: []int64{1, 3}},
		rzCase{name: "cubic_not_larger_all_axes", opset: 19, x: []int{1, 2, 3, 5}, mode: "cubic", policy: "not_larger", sizes: []int64{2, 4, 9, 9}, ortSkip: ortCubicShapes},
		// axes on other ranks: the last, a middle and the first axis.
		rzCase{name: "cubic_axes_last", opset: 18, x: x4, mode: "cubic", axes: []int64{3}, scales: []float32{2}},
		rzCase{name: "cubic_axes_neg", opset: 18, x: x4, mode: "cubic", axes: []int64{-1, -2}, scales: []float32{1.5, 0.5}},
		rzCase{name: "cubic_rank3_middle", opset: 18, x: []int{2, 5, 3}, mode: "cubic", axes: []int64{1}, scales: []float32{1.4}, ortSkip: ortCubicShapes},
		rzCase{name: "linear_antialias_rank2_first", opset: 18, x: []int{9, 3}, mode: "linear", antialias: true, axes: []int64{0}, sizes: []int64{4}},
		rzCase{name: "cubic_rank2", opset: 19, x: []int{5, 6}, mode: "cubic", coord: "align_corners", exclude: true, scales: []float32{1.6, 0.7}},
		rzCase{name: "cubic_rank1", opset: 19, x: []int{7}, mode: "cubic", coord: "asymmetric", sizes: []int64{12}, ortSkip: ortCubicShapes},
		rzCase{name: "cubic_rank5", opset: 19, x: []int{1, 1, 3, 4, 2}, mode: "cubic", scales: []float32{1, 1, 1.5, 0.5, 2}, ortSkip: ortCubicShapes},
	)
	var out []decompCase
	for _, rc := range rcs {
		out = append(out, decompCase{name: "Resize/" + rc.name, opset: rc.opset, op: "Resize", x: rc.x, attrs: rc.attrs(),
			params: rc.params(), tol: 1e-4, ref: rc.ref, ortSkip: rc.ortSkip})
	}
	return out
}

// TestResizeMatrixErrors: what the matrix form cannot import is an error
// naming the node and the reason.
func TestResizeMatrixErrors(t *testing.T) {
	cubic := func(opset int64, in []string, attrs ...*attrProto) *mb {
		m := newModel(opset).input("x", dtFloat, 1, 1, 4, 4).input("d", dtFloat, 4).init("s", f32s([]int{4}, 1, 1, 2, 2)).
			init("z", i64s(1, 1, 8, 8)).init("r", f32s([]int{8}, 0, 0, 0, 0, 1, 1, 1, 1)).init("r2", f32s([]int{2}, 0, 1))
		return m.node("Resize", in, []string{"y"}, append([]*attrProto{aStr("mode", "cubic")}, attrs...)...).output("y")
	}
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		{"scales computed", cubic(13, []string{"x", "", "d"}), `input "d" must be a constant`},
		{"roi computed", cubic(13, []string{"x", "d", "s"}, aStr("coordinate_transformation_mode", "tf_crop_and_resize")), `input "d" must be a constant`},
		{"roi length", cubic(13, []string{"x", "r2", "s"}, aStr("coordinate_transformation_mode", "tf_crop_and_resize")), "roi has shape [2]; want [8]"},
		{"both", cubic(13, []string{"x", "", "s", "z"}), "exactly one of scales and sizes"},
		{"policy", cubic(18, []string{"x", "", "", "z"}, aStr("keep_aspect_ratio_policy", "fit")), `keep_aspect_ratio_policy "fit"`},
		{"axes count", cubic(18, []string{"x", "", "s"}, aInts("axes", 2, 3)), "4 scales/sizes for 2 axes"},
		{"coord", cubic(13, []string{"x", "", "s"}, aStr("coordinate_transformation_mode", "tf_half_pixel_for_nn")), "tf_half_pixel_for_nn is for nearest mode"},
		{"int32 input", newModel(13).input("x", dtInt32, 1, 1, 4, 4).init("s", f32s([]int{4}, 1, 1, 2, 2)).
			node("Resize", []string{"x", "", "s"}, []string{"y"}, aStr("mode", "cubic")).output("y"), "FLOAT tensors only"},
		{"mode", newModel(13).input("x", dtFloat, 1, 1, 4, 4).init("s", f32s([]int{4}, 1, 1, 2, 2)).
			node("Resize", []string{"x", "", "s"}, []string{"y"}, aStr("mode", "lanczos")).output("y"), `resize mode "lanczos" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.load(t, Options{})
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Resize") {
				t.Errorf("error %q, want one naming the node (Resize) and containing %q", err, tc.want)
			}
		})
	}
}

// TestResizeCompiled builds the Resize cases (one model per opset) with the
// LLVM backend (in -short too) and the Go backend (without -short) and
// compares the executables with rt and the references.
func TestResizeCompiled(t *testing.T) {
	for _, cg := range groupByOpset(false, func(tc decompCase) bool { return strings.HasPrefix(tc.name, "Resize/") }) {
		g := cg.m.mustLoad(t, Options{})
		want, err := rt.Run(g, cg.xs)
		if err != nil {
			t.Fatal(err)
		}
		backendrun.Both(t, fmt.Sprintf("opset%d", cg.opset), g, cg.xs, false, func(t *testing.T, backend string, got []*ir.Tensor) {
			cg.check(t, backend, got, want, true)
		})
	}
}
