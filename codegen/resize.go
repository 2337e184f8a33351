package codegen

import (
	"github.com/pare-ml/pare/ir"
)

// Resize and transposed convolution lowering. The resize coordinate maps
// are ir.ResizeAxis's, the same rt uses.

func (l *lowerer) lowerResize(v *ir.Value) (*Step, error) {
	intNearest := v.Args[0].Type.DType != ir.F32
	if !isF32(v) && !(intNearest && v.Str("mode") == "nearest" && v.Type.DType == v.Args[0].Type.DType) {
		return nil, Unsupported(v, "resize of %v (f32, and integers in nearest mode, are compiled)", v.Args[0].Type)
	}
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	if len(in) != len(out) {
		return nil, Unsupported(v, "resize from rank %d to %d", len(in), len(out))
	}
	istr := ir.Strides(in)
	rs := &Resize{Shape: out, Dims: make([]ResizeDim, len(in))}
	for d := range in {
		n := out[d]
		if n == 0 {
			continue
		}
		if in[d] == 0 {
			return nil, Unsupported(v, "resize of an empty dim")
		}
		a := ir.ResizeAxis(v, d, in[d], n)
		if intNearest && a.Lerp {
			return nil, Unsupported(v, "integer resize blending dim %d", d)
		}
		m := ResizeDim{I0: a.I0, I1: a.I1, W1: a.W1, Lerp: a.Lerp}
		for o := range m.I0 {
			m.I0[o] *= istr[d]
			m.I1[o] *= istr[d]
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
		return nil, Unsupported(v, "%d-D conv_transpose (1-D and 2-D are compiled, and 3-D on f32)", x.Rank()-2)
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
