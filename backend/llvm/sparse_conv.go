package llvm

import (
	"fmt"
	"hash/fnv"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// spPhases returns the start and length of each phase r < SW of a padded
// row of wp elements (its columns r, r+SW, …, stored one phase after the
// other).
func spPhases(wp, sw int) (start, n []int) {
	start, n = make([]int, sw), make([]int, sw)
	at := 0
	for r := 0; r < sw; r++ {
		start[r] = at
		if r < wp {
			n[r] = (wp - r + sw - 1) / sw
		}
		at += n[r]
	}
	return start, n
}

// spColOff is the offset in a phase-split padded row of column kw·DW of
// output column 0 (output column ow reads it plus ow).
func spColOff(c *codegen.Conv, start []int, kw int) int {
	p := kw * c.DW
	return start[p%c.SW] + p/c.SW
}

// spPad copies batch entry xb of the input x (of dtype xdt; integers as
// x − zx in i32) into the padded planes at xp (phase-split rows), padding
// with zeros; contiguous runs go by vectors.
func (k *kfn) spPad(c *codegen.Conv, sp *codegen.Sparse, vec spVec, x value.Value, xdt pir.DType, zx int32, xb, xp value.Value) {
	start, n := spPhases(sp.Wp, c.SW)
	ld := func(i value.Value) value.Value {
		if vec.elem == f32 {
			return k.load(x, i)
		}
		return k.b.NewSub(k.loadInt(x, i, xdt), c32(int64(zx)))
	}
	vld := func(i value.Value) value.Value {
		if vec.elem == f32 {
			return vec.load(x, i, vlen)
		}
		t := types.NewVector(vlen, elemType(xdt))
		l := k.b.NewLoad(t, k.b.NewBitCast(k.at(x, i), types.NewPointer(t)))
		l.Align = 1
		var w value.Value
		if xdt == pir.U8 {
			w = k.b.NewZExt(l, vec.t)
		} else {
			w = k.b.NewSExt(l, vec.t)
		}
		return k.b.NewSub(w, vec.splat(c32(int64(zx))))
	}
	// run stores n elements at xp[d:]: get(j) for j < n (nil: zeros),
	// vget(j) 8 of them from j when the source is contiguous.
	run := func(d value.Value, n int, get, vget func(j value.Value) value.Value) {
		full := 0
		if vget != nil || get == nil {
			full = n / vlen
			k.loop(0, full, func(j value.Value) {
				v := vec.zero()
				if vget != nil {
					v = vget(k.mul(j, vlen))
				}
				vec.store(v, xp, k.add(d, k.mul(j, vlen)), vlen)
			})
		}
		k.loop(full*vlen, n, func(j value.Value) {
			v := value.Value(cf(0))
			if vec.elem != f32 {
				v = c32(0)
			}
			if get != nil {
				v = get(j)
			}
			k.store(v, xp, k.add(d, j))
		})
	}
	k.loop(0, c.C, func(ch value.Value) {
		xc := k.add(xb, k.mul(ch, c.H*c.W))
		k.loop(0, sp.Hp, func(ph value.Value) {
			dr := k.add(k.mul(ch, sp.Hp*sp.Wp), k.mul(ph, sp.Wp))
			ih := k.add(ph, ci(-c.PT))
			k.ifElse(k.b.NewICmp(enum.IPredULT, ih, ci(c.H)), func() {
				xr := k.add(xc, k.mul(ih, c.W))
				for r := 0; r < c.SW; r++ {
					lo, hi := validRange(r-c.PL, c.SW, c.W, n[r])
					d := k.add(dr, ci(start[r]))
					src := func(q value.Value) value.Value { return k.add(xr, k.add(k.mul(q, c.SW), ci(r-c.PL))) }
					var vget func(j value.Value) value.Value
					if c.SW == 1 {
						vget = func(j value.Value) value.Value { return vld(src(k.add(j, ci(lo)))) }
					}
					run(d, lo, nil, nil)
					run(k.add(d, ci(lo)), hi-lo, func(j value.Value) value.Value { return ld(src(k.add(j, ci(lo)))) }, vget)
					run(k.add(d, ci(hi)), n[r]-hi, nil, nil)
				}
			}, func() { run(dr, sp.Wp, nil, nil) })
		})
	})
}

// spTaps is taps[t]: an affine expression, or a load from a constant table
// named after its contents, which every kernel with those taps shares (so
// that steps of one geometry keep one kernel text).
func (k *kfn) spTaps(taps []int, t value.Value) value.Value {
	h := fnv.New64a()
	for _, x := range taps {
		fmt.Fprintf(h, "%d,", x)
	}
	name := fmt.Sprintf("sparse_taps_%d_%x", len(taps), h.Sum64())
	for _, g := range k.e.m.Globals {
		if g.Name() == name {
			return k.load(constant.NewGetElementPtr(g.ContentType, g, ci(0), ci(0)), t)
		}
	}
	return k.offsetAt(name, taps, t)
}

// spBlock is one block of output columns: vector starts (relative to the
// block's first column) and their valid lanes.
type spBlock struct{ starts, lanes []int }

// spColumns splits an output row of ow columns into full blocks of nvec
// (at most maxVec) vectors (nfb of them, from column 0) and a last block at
// column nfb·nvec·8 (empty starts: none). Rows of 8 columns or more use
// full vectors only, the last one ending at ow (it recomputes columns of
// the one before); narrower rows use one masked vector.
func spColumns(ow, maxVec int) (nvec, nfb int, last spBlock) {
	if ow < vlen {
		return 1, 0, spBlock{[]int{0}, []int{ow}}
	}
	nvr := ow / vlen
	nvec = min(maxVec, (ow+vlen-1)/vlen)
	nfb = nvr / nvec
	base := nfb * nvec * vlen
	for v := nfb * nvec; v < nvr; v++ {
		last.starts = append(last.starts, v*vlen-base)
		last.lanes = append(last.lanes, vlen)
	}
	if ow%vlen != 0 {
		last.starts = append(last.starts, ow-vlen-base)
		last.lanes = append(last.lanes, vlen)
	}
	return nvec, nfb, last
}

// sparseConv emits a KSparseConv step (f32 or integer); an f32 step's
// epilogue is applied to the accumulators as they are stored when it
// vectorizes (fusedEpi), else by the sweep after the kernel.
func (k *kfn) sparseConv(s *codegen.Step, rd *spReader, in []value.Value, y, scratch value.Value, epiArgs []value.Value) {
	c, sp := s.Conv, s.Sparse
	integer := s.Rq != nil
	vec := k.spVec(integer)
	ncol := sp.Cols
	T := c.KH * c.KW
	plane := sp.Hp * sp.Wp
	P := c.OH * c.OW
	// Scratch: the table (offsets, then values), the padded input, then
	// the integer accumulator plane.
	offs := k.b.NewBitCast(scratch, types.NewPointer(i32))
	tvals := k.at(scratch, ci(ncol))
	xp := k.at(scratch, ci(2*ncol))
	acc := k.at(scratch, ci(2*ncol+c.C*plane))
	start, _ := spPhases(sp.Wp, c.SW)
	taps := make([]int, T)
	for t := range taps {
		taps[t] = t/c.KW*c.DH*sp.Wp + spColOff(c, start, t%c.KW)
	}
	// The output plane as rows of columns: OH rows of OW, or one row of
	// OH·OW when the input rows the output rows read follow each other as
	// the output rows do (pointwise convs), so that blocks fill vectors.
	rows, cols := c.OH, c.OW
	if c.SW == 1 && c.SH*sp.Wp == c.OW {
		rows, cols = 1, c.OH*c.OW
	}
	maxVec := spAcc / 2 // blocks of two rows or more
	if rows == 1 {
		maxVec = spAcc
	}
	nvec, nfb, last := spColumns(cols, maxVec)
	R := min(max(1, spAcc/nvec), rows)
	nrb := (rows + R - 1) / R
	var fin func(acc, c value.Value) value.Value
	if integer {
		fin = k.requant(s, in)
	}
	k.loop(0, c.N, func(n value.Value) {
		xb := k.mul(n, c.C*c.H*c.W)
		zx := int32(0)
		if integer {
			zx = s.Rq.ZX
		}
		k.spPad(c, sp, vec, in[0], s.In[0].DType, zx, xb, xp)
		k.loop(0, c.M, func(m value.Value) {
			g := value.Value(ci(0))
			if c.Group > 1 {
				g = k.b.NewUDiv(m, ci(c.Mg))
			}
			chan0 := k.mul(g, c.Cg)
			// The table of row m's non-zeros.
			lo, hi := rd.bounds(m)
			nt := k.loopCarry(lo, hi, []value.Value{ci(-1), ci(0)}, func(e value.Value, st []value.Value) []value.Value {
				col := rd.next(st[0], e)
				w := rd.value(e)
				cg, t := col, value.Value(ci(0))
				if T > 1 {
					cg, t = k.b.NewUDiv(col, ci(T)), k.b.NewURem(col, ci(T))
				}
				off := k.add(k.mul(k.add(chan0, cg), plane), k.spTaps(taps, t))
				k.store(k.b.NewTrunc(off, i32), offs, st[1])
				k.store(w, tvals, st[1])
				var nz value.Value
				if integer {
					nz = k.b.NewICmp(enum.IPredNE, w, c32(0))
				} else {
					nz = k.b.NewFCmp(enum.FPredUNE, w, cf(0))
				}
				return []value.Value{col, k.add(st[1], k.b.NewZExt(nz, i64))}
			})[1]
			init := vec.zero()
			if integer || c.Bias { // integer steps always have one
				init = vec.splat(k.load(in[2], m))
			}
			yb := k.mul(k.madd(n, c.M, m), P)
			block := func(oh0, ow0 value.Value, b spBlock) {
				xr := k.at(xp, k.add(k.mul(oh0, c.SH*sp.Wp), ow0))
				inits := make([]value.Value, R*len(b.starts))
				for i := range inits {
					inits[i] = init
				}
				res := k.loopCarry(ci(0), nt, inits, func(t value.Value, a []value.Value) []value.Value {
					p := k.at(xr, k.b.NewSExt(k.load(offs, t), i64))
					w := vec.splat(k.load(tvals, t))
					out := make([]value.Value, len(a))
					for r := 0; r < R; r++ {
						for v, st := range b.starts {
							x := vec.load(p, ci(r*c.SH*sp.Wp+st), b.lanes[v])
							out[r*len(b.starts)+v] = vec.madd(w, x, a[r*len(b.starts)+v])
						}
					}
					return out
				})
				for r := 0; r < R; r++ {
					row := k.madd(k.add(oh0, ci(r)), cols, ow0)
					for v, st := range b.starts {
						if integer {
							vec.store(res[r*len(b.starts)+v], acc, k.add(row, ci(st)), b.lanes[v])
						} else {
							idx := k.add(yb, k.add(row, ci(st)))
							x := res[r*len(b.starts)+v]
							if fusedEpi(s) {
								x = k.vepi(s, x, epiArgs, idx, b.lanes[v])
							}
							vec.store(x, y, idx, b.lanes[v])
						}
					}
				}
			}
			full := spBlock{}
			for v := 0; v < nvec; v++ {
				full.starts = append(full.starts, v*vlen)
				full.lanes = append(full.lanes, vlen)
			}
			k.loop(0, nrb, func(rb value.Value) {
				oh0 := k.mul(rb, R)
				if nrb*R > rows { // the last block ends at the last row
					lastStart := ci(rows - R)
					oh0 = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, oh0, lastStart), oh0, lastStart)
				}
				k.loop(0, nfb, func(jb value.Value) { block(oh0, k.mul(jb, nvec*vlen), full) })
				if len(last.starts) > 0 {
					block(oh0, ci(nfb*nvec*vlen), last)
				}
			})
			if integer {
				k.loop(0, P, func(j value.Value) {
					k.storeInt(fin(k.load(acc, j), m), y, k.add(yb, j), s.Out.DType)
				})
			}
		})
	})
}
