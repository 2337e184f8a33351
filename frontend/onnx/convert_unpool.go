package onnx

import (
	"fmt"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// convMaxUnpool writes X [N, C, spatial...] into zeros of the output shape
// (output_shape, else (in − 1)·stride − pads + kernel) at the flat indices
// I. Constant indices scatter (as ScatterElements); computed ones must be
// the Indices of a MaxPool of the same kernel, strides and pads whose
// input has the output's shape (as the operator intends): then output
// element o can only be written by the pooled elements whose window
// covers it, and per layer of those candidates the output becomes
// where(gather(I) == o, gather(X), output), at constant gather indices.
func convMaxUnpool(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	idx, err := c.need(1)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	r := len(s)
	if r < 3 {
		return c.errf("input %v must be [N, C, spatial...]", s)
	}
	if !ir.EqualShape(idx.Type.Shape, s) || !idx.Type.DType.IsInt() {
		return c.errf("indices %v must be integers of the input's shape %v", idx.Type, s)
	}
	d := r - 2
	kern := c.window("kernel_shape", d, 1)
	strides, pads := c.window("strides", d, 1), c.window("pads", 2*d, 0)
	if c.err != nil {
		return c.err
	}
	if kern == nil {
		return c.errf("the kernel_shape attribute is missing")
	}
	if strides == nil {
		strides = ones(d)
	}
	if pads == nil {
		pads = make([]int, 2*d)
	}
	out := slices.Clone(s)
	for i := range d {
		out[2+i] = (s[2+i]-1)*strides[i] - pads[i] - pads[d+i] + kern[i]
	}
	if c.in(2) != nil {
		t, err := c.constArg(2, "output_shape")
		if err != nil {
			return err
		}
		if t.Len() != r || !t.DType.IsInt() {
			return c.errf("output_shape %v must be %d integers", t.Shape, r)
		}
		for i := range r {
			v := t.IntAt(i)
			if i < 2 && v != int64(s[i]) || i >= 2 && (v < int64(out[i]) || v > int64(ir.MaxElements)) {
				return c.errf("output_shape %v must keep N and C of %v and be at least %v", t.I64, s, out)
			}
			out[i] = int(v)
		}
	}
	total := ir.NumElements(out)
	if total > ir.MaxElements || !c.im.budget(8*total) {
		return c.errf("the output %v is too large", out)
	}
	zeros := c.constant(c.tmpName("zeros"), ir.NewTensor(ir.F32, out), nil)
	if idx.IsConst() {
		dst := make([]int, idx.Type.NumElements())
		for u := range dst {
			v := idx.Const.IntAt(u)
			if v < 0 || v >= int64(total) {
				return c.errf("index %d is out of range for the output %v", v, out)
			}
			dst[u] = int(v)
		}
		return c.scatterFlat(zeros, x, dst, "none")
	}
	if err := c.fromMaxPool(idx, out, kern, strides, pads); err != nil {
		return err
	}
	// Layer j holds, per output element, the flat index of its j-th
	// candidate in X (P: the appended sentinel).
	inSp, outSp := s[2:], out[2:]
	p, nc := ir.NumElements(s), s[0]*s[1]
	perIn, perOut := ir.NumElements(inSp), ir.NumElements(outSp)
	var layers [][]int64
	count := make([]int, perOut)
	for q := range perIn {
		qq := unflatIndex(q, inSp)
		// The window of pooled element q: positions qq·stride − pad + [0, kernel).
		lo, hi := make([]int, d), make([]int, d)
		for i := range d {
			lo[i], hi[i] = qq[i]*strides[i]-pads[i], qq[i]*strides[i]-pads[i]+kern[i]
		}
		pos := slices.Clone(lo)
		for {
			inside := true
			for i := range d {
				inside = inside && pos[i] >= 0 && pos[i] < outSp[i]
			}
			if inside {
				o := flatIndex(pos, outSp)
				j := count[o]
				count[o]++
				if j == len(layers) {
					if !c.im.budget(8 * total) {
						return c.errf("the output %v is too large to build at import", out)
					}
					layers = append(layers, nil)
				}
				if layers[j] == nil {
					layers[j] = make([]int64, perOut)
					for i := range layers[j] {
						layers[j][i] = -1
					}
				}
				layers[j][o] = int64(q)
			}
			i := d - 1
			for ; i >= 0; i-- {
				if pos[i]++; pos[i] < hi[i] {
					break
				}
				pos[i] = lo[i]
			}
			if i < 0 {
				break
			}
		}
	}
	b := c.build()
	xf := b.op("concat", "x_sentinel", ir.Attrs{"axis": ir.Int(0)}, b.reshape("x_flat", x, []int{p}), c.constant(c.tmpName("x_zero"), ir.NewTensor(ir.F32, []int{1}), nil))
	sentinel := ir.NewTensor(idx.Type.DType, []int{1})
	sentinel.SetInt(0, -1)
	idf := b.op("concat", "i_sentinel", ir.Attrs{"axis": ir.Int(0)}, b.reshape("i_flat", idx, []int{p}), c.constant(c.tmpName("i_none"), sentinel, nil))
	target := ir.NewTensor(idx.Type.DType, []int{total})
	for o := range total {
		target.SetInt(o, int64(o))
	}
	tv := c.constant(c.tmpName("targets"), target, nil)
	y := b.reshape("zeros_flat", zeros, []int{total})
	for j, l := range layers {
		g := ir.NewTensor(ir.I64, []int{total})
		for k := range nc {
			for o, q := range l {
				if q < 0 {
					g.I64[k*perOut+o] = int64(p)
				} else {
					g.I64[k*perOut+o] = int64(k*perIn) + q
				}
			}
		}
		gv := c.constant(c.tmpName(fmt.Sprintf("candidates%d", j)), g, nil)
		xj := b.op("gather", fmt.Sprintf("x%d", j), ir.Attrs{"axis": ir.Int(0)}, xf, gv)
		ij := b.op("gather", fmt.Sprintf("i%d", j), ir.Attrs{"axis": ir.Int(0)}, idf, gv)
		y = b.op("where", fmt.Sprintf("unpooled%d", j), nil, b.op("equal", fmt.Sprintf("hit%d", j), nil, ij, tv), xj, y)
	}
	return b.finish(b.reshape("", y, out))
}

// fromMaxPool checks that the computed indices are those of a MaxPool
// whose windows are MaxUnpool's over an input of the output's shape.
func (c *nodeCtx) fromMaxPool(idx *ir.Value, out, kern, strides, pads []int) error {
	if idx.Op == nil || idx.Op.Name != "maxpool_index" {
		return c.unsupported("the indices %q are computed by %s: pare imports MaxUnpool of constant indices or of a MaxPool's Indices", c.inName(1), idx.Where())
	}
	norm := func(l []int, n, def int) []int {
		if len(l) == 0 {
			l = make([]int, n)
			for i := range l {
				l[i] = def
			}
		}
		return l
	}
	d := len(kern)
	ok := ir.EqualShape(idx.Args[0].Type.Shape, out) && idx.Int("storage_order") == 0 && idx.Int("ceil_mode") == 0 &&
		slices.Equal(idx.IntList("kernel"), kern) && slices.Equal(norm(idx.IntList("strides"), d, 1), strides) &&
		slices.Equal(norm(idx.IntList("pads"), 2*d, 0), pads) && slices.Equal(norm(idx.IntList("dilations"), d, 1), ones(d))
	if !ok {
		return c.unsupported("the indices come from a MaxPool (%s) of other windows or an input of another shape than the output %v: pare imports MaxUnpool of the Indices of a MaxPool with the same kernel, strides and pads over an input of the output's shape", idx.Where(), out)
	}
	return nil
}
