package llvm

import (
	"fmt"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// intTable is an internal constant i64 array, returned as a pointer.
func (e *emitter) intTable(name string, v []int) value.Value {
	var elems []constant.Constant
	for _, x := range v {
		elems = append(elems, ci(x))
	}
	t := types.NewArray(uint64(len(v)), i64)
	g := e.m.NewGlobalDef(name, constant.NewArray(t, elems...))
	g.Linkage = enum.LinkageInternal
	g.Immutable = true
	return constant.NewGetElementPtr(t, g, ci(0), ci(0))
}

// offsetAt is tab[o]: an affine expression when the table is one (the
// dims a resize keeps), else a load from a constant table.
func (k *kfn) offsetAt(name string, tab []int, o value.Value) value.Value {
	if len(tab) == 1 {
		return ci(tab[0])
	}
	step := tab[1] - tab[0]
	affine := true
	for i, x := range tab {
		if x != tab[0]+i*step {
			affine = false
			break
		}
	}
	if affine {
		return k.add(ci(tab[0]), k.mul(o, step))
	}
	return k.load(k.e.intTable(name, tab), o)
}

// resize: per output element, rt's weighted sum over the corners of the
// blending dims; coordinates and weights come from tables made by codegen.
func (k *kfn) resize(s *codegen.Step, x, y value.Value) error {
	r := s.Resize
	shape := r.Shape
	for _, n := range shape {
		if n == 0 {
			return nil
		}
	}
	var lerp []int
	for d, m := range r.Dims {
		if m.Lerp {
			lerp = append(lerp, d)
		}
	}
	ostr := contiguousStrides(shape)
	idx := make([]value.Value, len(shape))
	var rec func(d int, base, yo value.Value)
	rec = func(d int, base, yo value.Value) {
		if d == len(shape) {
			// The two offsets and weights of every blending dim.
			o0, o1, w0, w1 := make([]value.Value, len(lerp)), make([]value.Value, len(lerp)), make([]value.Value, len(lerp)), make([]value.Value, len(lerp))
			for b, dd := range lerp {
				m := r.Dims[dd]
				nm := fmt.Sprintf("%s_d%d", s.Name, dd)
				o0[b] = k.offsetAt(nm+"_i0", m.I0, idx[dd])
				o1[b] = k.offsetAt(nm+"_i1", m.I1, idx[dd])
				ws := make([]float32, len(m.W1))
				for i, f := range m.W1 {
					ws[i] = 1 - f
				}
				w0[b] = k.load(k.e.floatTable(nm+"_w0", ws), idx[dd])
				w1[b] = k.load(k.e.floatTable(nm+"_w1", m.W1), idx[dd])
			}
			acc := value.Value(cf(0))
			for c := 0; c < 1<<len(lerp); c++ {
				off, w := base, value.Value(nil)
				for b := range lerp {
					wt := w0[b]
					if c>>b&1 == 0 {
						off = k.add(off, o0[b])
					} else {
						off = k.add(off, o1[b])
						wt = w1[b]
					}
					if w == nil {
						w = wt
					} else {
						w = k.b.NewFMul(w, wt)
					}
				}
				xv := k.load(x, off)
				if w == nil {
					acc = k.b.NewFAdd(acc, xv)
					continue
				}
				sum := k.b.NewFAdd(acc, k.b.NewFMul(w, xv))
				acc = k.b.NewSelect(k.b.NewFCmp(enum.FPredUNE, w, cf(0)), sum, acc)
			}
			k.store(acc, y, yo)
			return
		}
		k.loop(0, shape[d], func(o value.Value) {
			idx[d] = o
			nb := base
			if !r.Dims[d].Lerp {
				nb = k.add(base, k.offsetAt(fmt.Sprintf("%s_d%d_i", s.Name, d), r.Dims[d].I0, o))
			}
			rec(d+1, nb, k.madd(o, ostr[d], yo))
		})
	}
	rec(0, ci(0), ci(0))
	return nil
}

// convTranspose scatters every input row, times one weight, into the
// output rows it reaches; kernel offsets are unrolled with their valid
// input ranges computed here.
func (k *kfn) convTranspose(s *codegen.Step, in []value.Value, y value.Value) error {
	c := s.Conv
	x, w := in[0], in[1]
	osz, isz, kk := c.OH*c.OW, c.H*c.W, c.KH*c.KW
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			k.loop(0, c.Mg, func(m value.Value) {
				oc := k.add(k.mul(g, c.Mg), m)
				yb := k.mul(k.add(k.mul(n, c.M), oc), osz)
				init := value.Value(cf(0))
				if c.Bias {
					init = k.load(in[2], oc)
				}
				k.fill(y, yb, osz, init)
				k.loop(0, c.Cg, func(ci_ value.Value) {
					ic := k.add(k.mul(g, c.Cg), ci_)
					xb := k.mul(k.add(k.mul(n, c.C), ic), isz)
					wb := k.mul(k.add(k.mul(ic, c.Mg), m), kk)
					for kh := 0; kh < c.KH; kh++ {
						offH := kh*c.DH - c.PT
						hLo, hHi := validRange(offH, c.SH, c.OH, c.H)
						for kw := 0; kw < c.KW; kw++ {
							offW := kw*c.DW - c.PL
							wLo, wHi := validRange(offW, c.SW, c.OW, c.W)
							if hLo >= hHi || wLo >= wHi {
								continue
							}
							wv := k.load(w, k.add(wb, ci(kh*c.KW+kw)))
							k.loop(hLo, hHi, func(ih value.Value) {
								oh := k.add(k.mul(ih, c.SH), ci(offH))
								xr := k.add(xb, k.mul(ih, c.W))
								yr := k.add(yb, k.mul(oh, c.OW))
								k.loop(wLo, wHi, func(iw value.Value) {
									yi := k.add(yr, k.add(k.mul(iw, c.SW), ci(offW)))
									xv := k.load(x, k.add(xr, iw))
									k.store(k.b.NewFAdd(k.load(y, yi), k.b.NewFMul(xv, wv)), y, yi)
								})
							})
						}
					}
				})
			})
		})
	})
	return nil
}
