package codegen

import (
	"github.com/pare-ml/pare/ir"
)

// lowerLayout lowers the ops that only move elements into strided copies.
func (l *lowerer) lowerLayout(v *ir.Value) (*Step, error) {
	x := v.Args[0].Type
	out := v.Type.Shape
	ostr := ir.Strides(out)
	st := &Step{Kernel: KCopy, Op: v.Op.Name, Where: v.Where()}
	istr := ir.Strides(x.Shape)
	switch v.Op.Name {
	case "transpose":
		p := v.IntList("perm")
		s := make([]int, len(p))
		for i, a := range p {
			s[i] = istr[a]
		}
		st.Copies = []Copy{{Shape: out, SrcStrides: s, DstStrides: ostr}}
	case "slice":
		starts, steps := v.IntList("starts"), v.IntList("steps")
		s := make([]int, len(out))
		base := 0
		for d := range out {
			if out[d] > 0 {
				base += starts[d] * istr[d]
			}
			s[d] = istr[d] * steps[d]
		}
		st.Copies = []Copy{{Shape: out, SrcOff: base, SrcStrides: s, DstStrides: ostr}}
	case "expand":
		st.Copies = []Copy{{Shape: out, SrcStrides: bcastStrides(x.Shape, out), DstStrides: ostr}}
	case "concat":
		ax := v.Int("axis")
		off := 0
		for i, a := range v.Args {
			st.Copies = append(st.Copies, Copy{Src: i, Shape: a.Type.Shape, SrcStrides: ir.Strides(a.Type.Shape),
				DstOff: off * ostr[ax], DstStrides: ostr})
			off += a.Type.Shape[ax]
		}
	case "pad":
		if v.Str("mode") != "constant" {
			return nil, Unsupported(v, "pad mode %s (constant is compiled)", v.Str("mode"))
		}
		if x.Quant != nil || (x.DType != ir.F32 && v.Float("value") != 0) {
			return nil, Unsupported(v, "pad of %v with value %v", x, v.Float("value"))
		}
		pads := v.IntList("pads")
		r := len(out)
		shape := make([]int, r)
		src, dst := 0, 0
		for d := 0; d < r; d++ {
			b := pads[d]
			shape[d] = x.Shape[d]
			if b < 0 {
				src += -b * istr[d]
				shape[d] += b
			} else {
				dst += b * ostr[d]
			}
			if e := pads[d+r]; e < 0 {
				shape[d] += e
			}
			if shape[d] < 0 {
				shape[d] = 0
			}
		}
		st.HasFill, st.Fill = true, v.Float("value")
		st.Copies = []Copy{{Shape: shape, SrcOff: src, SrcStrides: istr, DstOff: dst, DstStrides: ostr}}
	case "gather":
		ix := constOf(v.Args[1])
		if ix == nil {
			return nil, Unsupported(v, "gather with non-constant indices")
		}
		ax := v.Int("axis")
		outer, inner, n := ir.NumElements(x.Shape[:ax]), ir.NumElements(x.Shape[ax+1:]), x.Shape[ax]
		k := ix.Len()
		for j := 0; j < k; j++ {
			i := int(ix.IntAt(j))
			if i < 0 {
				i += n
			}
			if i < 0 || i >= n {
				return nil, Unsupported(v, "gather index %d out of range for size %d", ix.IntAt(j), n)
			}
			st.Copies = append(st.Copies, Copy{Shape: []int{outer, inner}, SrcOff: i * inner, SrcStrides: []int{n * inner, 1},
				DstOff: j * inner, DstStrides: []int{k * inner, 1}})
		}
		st.In = []Operand{l.operand(v.Args[0])}
		return st, nil
	}
	for _, a := range v.Args {
		st.In = append(st.In, l.operand(a))
	}
	for i := range st.Copies {
		st.Copies[i].simplify()
	}
	return st, nil
}

// simplify drops unit dims and merges dims both sides walk contiguously.
func (c *Copy) simplify() {
	lp := Loop{Shape: c.Shape, Strides: [][]int{c.DstStrides, c.SrcStrides}}
	lp.simplify()
	c.Shape, c.DstStrides, c.SrcStrides = lp.Shape, lp.Strides[0], lp.Strides[1]
}
