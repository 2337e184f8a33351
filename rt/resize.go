package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// resize: nearest or (multi)linear, with the ONNX coordinate
// transformations, computed in float32 as ONNX Runtime does. The scale of
// a dim is the "scales" attribute when given, else out/in.

// axisMap holds, per output coordinate of one dim, the input coordinates and
// weights to blend (one coordinate with weight 1 for nearest).
type axisMap struct {
	i0, i1 []int
	w1     []float32 // weight of i1; i0 gets 1-w1
	lerp   bool      // some w1 is not zero
}

func resizeCoord(coord string, x float32, scale float32, in, out int) float32 {
	switch coord {
	case "asymmetric":
		return x / scale
	case "align_corners":
		if out == 1 {
			return 0
		}
		return x * float32(in-1) / float32(out-1)
	case "pytorch_half_pixel":
		if out > 1 {
			return (x+0.5)/scale - 0.5
		}
		return 0
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	}
	return (x+0.5)/scale - 0.5 // half_pixel
}

func nearestIndex(mode string, x float32) int {
	f := float32(math.Floor(float64(x)))
	switch mode {
	case "floor":
		return int(f)
	case "ceil":
		return int(math.Ceil(float64(x)))
	case "round_prefer_ceil":
		if x-f == 0.5 {
			return int(f) + 1
		}
		return int(math.Round(float64(x)))
	}
	// round_prefer_floor
	if x-f == 0.5 {
		return int(f)
	}
	return int(math.Round(float64(x)))
}

func newAxisMap(v *ir.Value, d, in, out int) axisMap {
	scale := float32(out) / float32(in)
	if sc := v.FloatList("scales"); len(sc) > d {
		scale = sc[d]
	}
	coord, mode := v.Str("coord"), v.Str("mode")
	m := axisMap{i0: make([]int, out), i1: make([]int, out), w1: make([]float32, out)}
	for o := 0; o < out; o++ {
		x := resizeCoord(coord, float32(o), scale, in, out)
		if mode == "nearest" {
			i := min(max(nearestIndex(v.Str("nearest_mode"), x), 0), in-1)
			m.i0[o], m.i1[o] = i, i
			continue
		}
		x = min(max(x, 0), float32(in-1))
		i0 := int(x)
		i1 := min(i0+1, in-1)
		w := x - float32(i0)
		m.i0[o], m.i1[o], m.w1[o] = i0, i1, w
		if w != 0 {
			m.lerp = true
		}
	}
	return m
}

func buildResize(v *ir.Value) (kernel, error) {
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	if v.Args[0].Type.DType != ir.F32 {
		return nil, fmt.Errorf("resize takes f32")
	}
	if len(in) != len(out) {
		return nil, fmt.Errorf("resize from rank %d to rank %d", len(in), len(out))
	}
	r := len(in)
	maps := make([]axisMap, r)
	for d := 0; d < r; d++ {
		if in[d] == 0 && out[d] > 0 {
			return nil, fmt.Errorf("resize of an empty dim")
		}
		if out[d] > 0 {
			maps[d] = newAxisMap(v, d, in[d], out[d])
		}
	}
	istr := ir.Strides(in)
	// Interpolation runs over the dims that blend; the others pick one
	// coordinate.
	var lerpDims []int
	for d := range maps {
		if maps[d].lerp {
			lerpDims = append(lerpDims, d)
		}
	}
	corners := 1 << len(lerpDims)
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		res := newResult(v)
		x, y := args[0].F32, res.F32
		if len(y) == 0 {
			return res, nil
		}
		od := newOdometer(out)
		for o := range y {
			base := 0
			for d := 0; d < r; d++ {
				if !maps[d].lerp {
					base += maps[d].i0[od.idx[d]] * istr[d]
				}
			}
			var s float32
			for c := 0; c < corners; c++ {
				off, w := base, float32(1)
				for b, d := range lerpDims {
					oc := od.idx[d]
					if c>>b&1 == 0 {
						off += maps[d].i0[oc] * istr[d]
						w *= 1 - maps[d].w1[oc]
					} else {
						off += maps[d].i1[oc] * istr[d]
						w *= maps[d].w1[oc]
					}
				}
				if w != 0 {
					s += w * x[off]
				}
			}
			y[o] = s
			od.next()
		}
		return res, nil
	}, nil
}

func init() { register("resize", buildResize) }
