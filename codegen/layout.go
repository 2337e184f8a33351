package codegen

import (
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
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
		if m := v.Str("mode"); m != "constant" {
			cs, err := padBorders(v, m)
			if err != nil {
				return nil, err
			}
			st.Copies = cs
			break
		}
		fill := rt.PadFill(v)
		for c := 1; c < fill.Len(); c++ {
			if fill.At(c) != fill.At(0) {
				return nil, Unsupported(v, "pad of %v: its fill differs by channel", v.Type)
			}
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
		st.HasFill, st.Fill = true, float32(fill.At(0))
		st.Copies = []Copy{{Shape: shape, SrcOff: src, SrcStrides: istr, DstOff: dst, DstStrides: ostr}}
	case "gather":
		ix := constOf(v.Args[1])
		if ix == nil {
			return l.lowerGatherRuntime(v)
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

// padBorders is a reflect or edge pad as copies, rt's index map per dim:
// every dim's output range splits into the pads before (one index each),
// the input's own span, and the pads after; each combination of those
// pieces over the dims is one strided copy (3×3 of them for a 2-D pad of
// one on every side). Pads must not be negative.
func padBorders(v *ir.Value, mode string) ([]Copy, error) {
	if mode != "reflect" && mode != "edge" {
		return nil, Unsupported(v, "pad mode %s", mode)
	}
	x := v.Args[0].Type.Shape
	pads := v.IntList("pads")
	r := len(x)
	istr, ostr := ir.Strides(x), ir.Strides(v.Type.Shape)
	// piece: output start, length, input start, input step (0: one index).
	type piece struct{ out, n, in, step int }
	dims := make([][]piece, r)
	for d := 0; d < r; d++ {
		b, e := pads[d], pads[d+r]
		if b < 0 || e < 0 {
			return nil, Unsupported(v, "%s pad with negative pads %v", mode, pads)
		}
		if x[d] == 0 {
			return nil, Unsupported(v, "%s pad of an empty dim", mode)
		}
		src := func(i int) int {
			if mode == "edge" {
				return min(max(i, 0), x[d]-1)
			}
			return rt.ReflectIndex(i, x[d])
		}
		for o := 0; o < b; o++ {
			dims[d] = append(dims[d], piece{o, 1, src(o - b), 0})
		}
		dims[d] = append(dims[d], piece{b, x[d], 0, 1})
		for o := b + x[d]; o < b+x[d]+e; o++ {
			dims[d] = append(dims[d], piece{o, 1, src(o - b), 0})
		}
	}
	var out []Copy
	idx := make([]int, r)
	for {
		c := Copy{Shape: make([]int, r), SrcStrides: make([]int, r), DstStrides: make([]int, r)}
		for d := 0; d < r; d++ {
			p := dims[d][idx[d]]
			c.Shape[d] = p.n
			c.SrcOff += p.in * istr[d]
			c.DstOff += p.out * ostr[d]
			c.SrcStrides[d], c.DstStrides[d] = istr[d]*p.step, ostr[d]
		}
		out = append(out, c)
		d := r - 1
		for ; d >= 0; d-- {
			if idx[d]++; idx[d] < len(dims[d]) {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return out, nil
		}
	}
}
