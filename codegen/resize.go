package codegen

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Resize and transposed convolution lowering. The resize coordinate maps
// are computed here exactly as rt's (rt/resize.go), in float32.

func resizeCoord(coord string, x, scale float32, in, out int) float32 {
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
	if x-f == 0.5 {
		return int(f)
	}
	return int(math.Round(float64(x)))
}

func (l *lowerer) lowerResize(v *ir.Value) (*Step, error) {
	if !isF32(v) {
		return nil, Unsupported(v, "resize of %v (f32 is compiled)", v.Args[0].Type)
	}
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	if len(in) != len(out) {
		return nil, Unsupported(v, "resize from rank %d to %d", len(in), len(out))
	}
	istr := ir.Strides(in)
	rs := &Resize{Shape: out, Dims: make([]ResizeDim, len(in))}
	coord, mode := v.Str("coord"), v.Str("mode")
	scales := v.FloatList("scales")
	for d := range in {
		n := out[d]
		if n == 0 {
			continue
		}
		if in[d] == 0 {
			return nil, Unsupported(v, "resize of an empty dim")
		}
		scale := float32(n) / float32(in[d])
		if len(scales) > d {
			scale = scales[d]
		}
		m := ResizeDim{I0: make([]int, n), I1: make([]int, n), W1: make([]float32, n)}
		for o := 0; o < n; o++ {
			x := resizeCoord(coord, float32(o), scale, in[d], n)
			if mode == "nearest" {
				i := min(max(nearestIndex(v.Str("nearest_mode"), x), 0), in[d]-1)
				m.I0[o], m.I1[o] = i*istr[d], i*istr[d]
				continue
			}
			x = min(max(x, 0), float32(in[d]-1))
			i0 := int(x)
			i1 := min(i0+1, in[d]-1)
			w := x - float32(i0)
			m.I0[o], m.I1[o], m.W1[o] = i0*istr[d], i1*istr[d], w
			if w != 0 {
				m.Lerp = true
			}
		}
		rs.Dims[d] = m
	}
	st := &Step{Kernel: KResize, Op: "resize", Where: v.Where(), Resize: rs}
	st.In = []Operand{l.operand(v.Args[0])}
	return st, nil
}

// lowerConvTranspose lowers a 1-D or 2-D f32 transposed convolution.
func (l *lowerer) lowerConvTranspose(v *ir.Value) (*Step, error) {
	if !isF32(v) {
		return nil, Unsupported(v, "conv_transpose on %v (f32 is compiled)", v.Args[0].Type)
	}
	x, w := v.Args[0].Type, v.Args[1].Type
	if x.Rank() != 3 && x.Rank() != 4 {
		return nil, Unsupported(v, "%d-D conv_transpose (1-D and 2-D are compiled)", x.Rank()-2)
	}
	win, err := ir.WindowOf(v, x.Rank()-2, w.Shape[2:])
	if err != nil {
		return nil, err
	}
	g := v.Int("group")
	c := &Conv{N: x.Shape[0], C: x.Shape[1], H: 1, W: x.Shape[2], Mg: w.Shape[1], OH: 1, OW: v.Type.Shape[2],
		KH: 1, KW: w.Shape[2], SH: 1, SW: win.Strides[0], DH: 1, DW: win.Dilations[0], PL: win.PadsBegin[0], Group: g}
	if x.Rank() == 4 {
		c.H, c.W, c.OH, c.OW = x.Shape[2], x.Shape[3], v.Type.Shape[2], v.Type.Shape[3]
		c.KH, c.KW = w.Shape[2], w.Shape[3]
		c.SH, c.SW, c.DH, c.DW = win.Strides[0], win.Strides[1], win.Dilations[0], win.Dilations[1]
		c.PT, c.PL = win.PadsBegin[0], win.PadsBegin[1]
	}
	if g < 1 || c.C%g != 0 || w.Shape[0] != c.C {
		return nil, Unsupported(v, "conv_transpose of %v with weight %v in %d groups", x, w, g)
	}
	c.Cg, c.M = c.C/g, c.Mg*g
	st := &Step{Kernel: KConvTranspose, Op: "conv_transpose", Where: v.Where(), Conv: c}
	st.In = []Operand{l.operand(v.Args[0]), l.operand(v.Args[1])}
	if len(v.Args) == 3 {
		st.In = append(st.In, l.operand(v.Args[2]))
		c.Bias = true
	}
	return st, nil
}
