package llvm

import (
	"fmt"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
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
			if s.Out.DType != pir.F32 {
				// Integers (nearest): the element as it is.
				k.store(k.load(x, base), y, yo)
				return
			}
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

// convTranspose computes each output row once, in place in y: the row
// starts from the bias, then, per input channel and kernel row kh whose
// input row ih = (oh + PT - kh·DH) / SH exists, adds x[ic, ih, :] times
// the kernel row's weights at the positions iw·SW + kw·DW - PL. The row
// and the input rows it reads stay in L1; over the input positions every
// kernel column shares, the kernel columns are one loop body (an
// interleaved store group opt vectorizes when SW = KW).
func (k *kfn) convTranspose(s *codegen.Step, in []value.Value, y value.Value) error {
	c := s.Conv
	if upsampleConvT(c) {
		k.convTransposeUp(s, in, y)
		return nil
	}
	x, w := in[0], in[1]
	osz, isz, kk := c.OH*c.OW, c.H*c.W, c.KH*c.KW
	type span struct{ lo, hi int }
	spans := make([]span, c.KW)
	cl, ch := 0, c.W
	for kw := range spans {
		lo, hi := validRange(kw*c.DW-c.PL, c.SW, c.OW, c.W)
		spans[kw] = span{lo, hi}
		cl, ch = max(cl, lo), min(ch, hi)
	}
	if cl > ch {
		cl, ch = 0, 0
	}
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			k.loop(0, c.Mg, func(m value.Value) {
				oc := k.add(k.mul(g, c.Mg), m)
				yb := k.mul(k.add(k.mul(n, c.M), oc), osz)
				init := value.Value(cf(0))
				if c.Bias {
					init = k.load(in[2], oc)
				}
				k.loop(0, c.OH, func(oh value.Value) {
					yr := k.add(yb, k.mul(oh, c.OW))
					k.fill(y, yr, c.OW, init)
					k.loop(0, c.Cg, func(ci_ value.Value) {
						ic := k.add(k.mul(g, c.Cg), ci_)
						xb := k.mul(k.add(k.mul(n, c.C), ic), isz)
						wb := k.mul(k.add(k.mul(ic, c.Mg), m), kk)
						for kh := 0; kh < c.KH; kh++ {
							// ih·SH = oh + PT - kh·DH
							t := k.add(oh, ci(c.PT-kh*c.DH))
							ih := t
							ok := value.Value(k.b.NewICmp(enum.IPredSGE, t, ci(0)))
							if c.SH != 1 {
								ih = k.b.NewSDiv(t, ci(c.SH))
								ok = k.b.NewAnd(ok, k.b.NewICmp(enum.IPredEQ, k.b.NewSRem(t, ci(c.SH)), ci(0)))
							}
							ok = k.b.NewAnd(ok, k.b.NewICmp(enum.IPredSLT, ih, ci(c.H)))
							k.if_(ok, func() {
								xr := k.add(xb, k.mul(ih, c.W))
								wv := make([]value.Value, c.KW)
								for kw := range wv {
									wv[kw] = k.load(w, k.add(wb, ci(kh*c.KW+kw)))
								}
								upd := func(kw int, iw value.Value, xv value.Value) {
									yi := k.add(yr, k.add(k.mul(iw, c.SW), ci(kw*c.DW-c.PL)))
									k.store(k.b.NewFAdd(k.load(y, yi), k.b.NewFMul(xv, wv[kw])), y, yi)
								}
								for kw, sp := range spans {
									k.loop(sp.lo, min(sp.hi, cl), func(iw value.Value) { upd(kw, iw, k.load(x, k.add(xr, iw))) })
									k.loop(max(sp.lo, ch), sp.hi, func(iw value.Value) { upd(kw, iw, k.load(x, k.add(xr, iw))) })
								}
								k.loop(cl, ch, func(iw value.Value) {
									xv := k.load(x, k.add(xr, iw))
									for kw := range spans {
										upd(kw, iw, xv)
									}
								})
							})
						}
					})
				})
			})
		})
	})
	return nil
}

// upsampleConvT reports whether the transposed conv's kernel tiles the
// output without overlap or padding (stride = kernel, as in learned 2×
// upsampling): every output element is the bias plus one dot product
// over the input channels.
func upsampleConvT(c *codegen.Conv) bool {
	return c.SW == c.KW && c.SH == c.KH && c.DW == 1 && c.DH == 1 && c.PT == 0 && c.PL == 0 &&
		c.OW == c.W*c.KW && c.OH == c.H*c.KH
}

// convTransposeUp is convTranspose for upsampleConvT: per output row and
// block of 8·nvec input columns, KW·nvec accumulators over the input
// channels (one input vector load per channel and column block, one
// weight broadcast per kernel column), then the kernel columns interleaved
// into the output row.
func (k *kfn) convTransposeUp(s *codegen.Step, in []value.Value, y value.Value) {
	c := s.Conv
	x, w := in[0], in[1]
	osz, isz, kk := c.OH*c.OW, c.H*c.W, c.KH*c.KW
	fma := k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8)
	const blk = 4
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			k.loop(0, c.Mg, func(m value.Value) {
				oc := k.add(k.mul(g, c.Mg), m)
				yb := k.mul(k.add(k.mul(n, c.M), oc), osz)
				init := value.Value(vconst(0))
				if c.Bias {
					init = k.splat(k.load(in[2], oc))
				}
				xg := k.mul(k.add(k.mul(n, c.C), k.mul(g, c.Cg)), isz)
				k.loop(0, c.H, func(ih value.Value) {
					for kh := 0; kh < c.KH; kh++ {
						yr := k.add(yb, k.mul(k.madd(ih, c.KH, ci(kh)), c.OW))
						tile := func(iw0 value.Value, nvec int) {
							inits := make([]value.Value, nvec*c.KW)
							for i := range inits {
								inits[i] = init
							}
							acc := k.loopAcc(c.Cg, inits, func(ic value.Value, acc []value.Value) []value.Value {
								xr := k.add(k.add(xg, k.mul(ic, isz)), k.madd(ih, c.W, iw0))
								wb := k.madd(k.madd(k.add(k.mul(g, c.Cg), ic), c.Mg, m), kk, ci(kh*c.KW))
								xv := make([]value.Value, nvec)
								for v := range xv {
									xv[v] = k.vload(x, k.add(xr, ci(v*vlen)))
								}
								out := make([]value.Value, len(acc))
								for kw := 0; kw < c.KW; kw++ {
									wv := k.splat(k.load(w, k.add(wb, ci(kw))))
									for v := 0; v < nvec; v++ {
										out[v*c.KW+kw] = k.b.NewCall(fma, xv[v], wv, acc[v*c.KW+kw])
									}
								}
								return out
							})
							for v := 0; v < nvec; v++ {
								base := k.add(yr, k.mul(k.add(iw0, ci(v*vlen)), c.KW))
								if c.KW == 2 {
									a, b := acc[v*2], acc[v*2+1]
									k.vstore(k.b.NewShuffleVector(a, b, shuffleMask(0, 8, 1, 9, 2, 10, 3, 11)), y, base)
									k.vstore(k.b.NewShuffleVector(a, b, shuffleMask(4, 12, 5, 13, 6, 14, 7, 15)), y, k.add(base, ci(vlen)))
									continue
								}
								for kw := 0; kw < c.KW; kw++ {
									for l := 0; l < vlen; l++ {
										e := k.b.NewExtractElement(acc[v*c.KW+kw], constant.NewInt(types.I32, int64(l)))
										k.store(e, y, k.add(base, ci(l*c.KW+kw)))
									}
								}
							}
						}
						nfull := c.W / (blk * vlen)
						k.loop(0, nfull, func(jb value.Value) { tile(k.mul(jb, blk*vlen), blk) })
						if r := (c.W % (blk * vlen)) / vlen; r > 0 {
							tile(ci(nfull*blk*vlen), r)
						}
						// The last W % 8 columns one at a time.
						k.loop(c.W/vlen*vlen, c.W, func(iw value.Value) {
							for kw := 0; kw < c.KW; kw++ {
								yi := k.add(yr, k.madd(iw, c.KW, ci(kw)))
								acc := value.Value(cf(0))
								if c.Bias {
									acc = k.load(in[2], oc)
								}
								for ic := 0; ic < c.Cg; ic++ {
									xv := k.load(x, k.add(k.add(xg, ci(ic*isz)), k.madd(ih, c.W, iw)))
									wv := k.load(w, k.madd(k.madd(k.add(k.mul(g, c.Cg), ci(ic)), c.Mg, m), kk, ci(kh*c.KW+kw)))
									acc = k.b.NewFAdd(acc, k.b.NewFMul(xv, wv))
								}
								k.store(acc, y, yi)
							}
						})
					}
				})
			})
		})
	})
}

// shuffleMask is a constant <n x i32> shuffle mask.
func shuffleMask(idx ...int) value.Value {
	e := make([]constant.Constant, len(idx))
	for i, x := range idx {
		e[i] = constant.NewInt(types.I32, int64(x))
	}
	return constant.NewVector(types.NewVector(uint64(len(idx)), types.I32), e...)
}
