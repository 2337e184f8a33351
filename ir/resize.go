package ir

import "math"

// ResizeMap is, for one dim of a resize, what each output coordinate o
// reads: (1-W1[o])·x[I0[o]] + W1[o]·x[I1[o]] (nearest: I0 = I1, W1 = 0).
// Lerp reports that some W1 is not zero.
type ResizeMap struct {
	I0, I1 []int
	W1     []float32
	Lerp   bool
}

// ResizeAxis computes the map of dim d of resize value v from in to out
// elements, in float32 as ONNX Runtime does: the ONNX coordinate
// transformation (attribute coord), then the nearest mode or the linear
// neighbours clamped to the input. The scale is the "scales" attribute
// when given, else out/in. rt and the compiled backends share it, so they
// pick the same pixels.
func ResizeAxis(v *Value, d, in, out int) ResizeMap {
	scale := float32(out) / float32(in)
	if sc := v.FloatList("scales"); len(sc) > d {
		scale = sc[d]
	}
	coord, mode, nearest := v.Str("coord"), v.Str("mode"), v.Str("nearest_mode")
	m := ResizeMap{I0: make([]int, out), I1: make([]int, out), W1: make([]float32, out)}
	for o := 0; o < out; o++ {
		x := resizeCoord(coord, float32(o), scale, in, out)
		if mode == "nearest" {
			i := min(max(nearestIndex(nearest, x), 0), in-1)
			m.I0[o], m.I1[o] = i, i
			continue
		}
		x = min(max(x, 0), float32(in-1))
		i0 := int(x)
		i1 := min(i0+1, in-1)
		w := x - float32(i0)
		m.I0[o], m.I1[o], m.W1[o] = i0, i1, w
		if w != 0 {
			m.Lerp = true
		}
	}
	return m
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
