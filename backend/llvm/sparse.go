package llvm

import (
	"fmt"
	"hash/fnv"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Sparse kernels (codegen.KSparseConv, codegen.KSparseGemm). The weights
// stay in the encoding codegen.Sparse documents (per output channel a run
// of entries: bit-packed gaps, then values or bit-packed codebook indices)
// and are decoded at run time, so the object is as small as the encoding
// and the work follows the non-zeros. Bit fields are read with a 16-bit
// load at byte ⌊bit/8⌋ shifted right by bit mod 8 (the streams have a
// spare byte).
//
// Conv: per batch entry the input is copied once, zero-padded, into
// Scratch ([C][Hp][Wp], integers as x − ZX in i32). Each padded row is
// stored phase by phase (its columns ≡ r mod SW, for r < SW, one after
// the other: Wp elements still), so that the input columns of SW-strided
// output columns are contiguous for every stride. Per output channel its
// entries are decoded once into a table (an offset into the padded input
// and the value; filler entries are dropped), then each block of rows ×
// columns of the output plane accumulates over the table in vector
// registers, starting from the bias. Integer blocks go to Scratch's
// accumulator plane, which the requantization (requant) then stores.
//
// Gemm: a sparse dot per output, for chunks of up to spRows rows of A at a
// time, each row entry decoded once per chunk.

const (
	// spAcc is the number of <8 x T> accumulators of a conv block.
	spAcc = 8
	// spRows is the number of rows of A a gemm chunk reads per decode.
	spRows = 8
)

// sparse emits a KSparseConv or KSparseGemm step; rest are the operands
// of its epilogue's binary entries, then the row pointers, gaps and
// codebook (operands: parameters, so that steps of one geometry and
// encoding share their kernel).
func (k *kfn) sparse(s *codegen.Step, in []value.Value, out, scratch value.Value, rest []value.Value) error {
	if s.Sparse == nil {
		return fmt.Errorf("%s: %s step without a sparse weight", s.Where, s.Kernel)
	}
	nsp := 2
	if s.Sparse.Codebook != nil {
		nsp = 3
	}
	if len(rest) < nsp {
		return fmt.Errorf("%s: sparse step without its encoding operands", s.Where)
	}
	epiArgs, enc := rest[:len(rest)-nsp], rest[len(rest)-nsp:]
	rd := k.spReader(s, in[1], enc)
	switch s.Kernel {
	case codegen.KSparseConv:
		if s.Conv == nil || scratch == nil {
			return fmt.Errorf("%s: sparse conv without geometry or scratch", s.Where)
		}
		k.sparseConv(s, rd, in, out, scratch, epiArgs)
		return nil
	case codegen.KSparseGemm:
		if s.Gemm == nil {
			return fmt.Errorf("%s: sparse gemm without geometry", s.Where)
		}
		k.sparseGemm(s, rd, in, out)
		return nil
	}
	return fmt.Errorf("%s: kernel %s is not sparse", s.Where, s.Kernel)
}

// spReader reads a step's sparse encoding.
type spReader struct {
	k                  *kfn
	sp                 *codegen.Sparse
	rowptr, gaps, book value.Value
	vals               value.Value
	valDT, bookDT      pir.DType
	f32                bool
}

// spReader reads the encoding of step s: values or indices vals (In[1]),
// then enc: row pointers, gaps and codebook.
func (k *kfn) spReader(s *codegen.Step, vals value.Value, enc []value.Value) *spReader {
	sp := s.Sparse
	r := &spReader{k: k, sp: sp, vals: vals, valDT: s.In[1].DType, f32: s.Rq == nil, rowptr: enc[0], gaps: enc[1]}
	if sp.Codebook != nil {
		r.book, r.bookDT = enc[2], sp.Codebook.DType
	}
	return r
}

// bitField is the bits-wide little-endian field at bit e·bits of the bytes
// at base, as i64.
func (k *kfn) bitField(base, e value.Value, bits int) value.Value {
	if bits == 0 {
		return ci(0)
	}
	bit := k.mul(e, bits)
	p := k.b.NewBitCast(k.at(base, k.b.NewLShr(bit, ci(3))), types.NewPointer(types.I16))
	l := k.b.NewLoad(types.I16, p)
	l.Align = 1
	w := k.b.NewLShr(k.b.NewZExt(l, i64), k.b.NewAnd(bit, ci(7)))
	return k.b.NewAnd(w, ci(1<<bits-1))
}

// bounds is the entry range [lo, hi) of row r.
func (r *spReader) bounds(row value.Value) (lo, hi value.Value) {
	k := r.k
	lo = k.b.NewSExt(k.load(r.rowptr, row), i64)
	hi = k.b.NewSExt(k.load(r.rowptr, k.add(row, ci(1))), i64)
	return lo, hi
}

// next is the column of entry e after the column col of the one before.
func (r *spReader) next(col, e value.Value) value.Value {
	return r.k.add(col, r.k.add(r.k.bitField(r.gaps, e, r.sp.GapBits), ci(1)))
}

// value is the weight of entry e: f32, or i32 for integer steps.
func (r *spReader) value(e value.Value) value.Value {
	if r.sp.IdxBits == 0 {
		return r.weight(e, nil)
	}
	return r.weight(nil, r.k.bitField(r.vals, e, r.sp.IdxBits))
}

// weight is the value of entry e (no codebook) or codebook entry idx.
func (r *spReader) weight(e, idx value.Value) value.Value {
	k := r.k
	switch {
	case idx != nil && r.f32:
		return k.load(r.book, idx)
	case idx != nil:
		return k.loadInt(r.book, idx, r.bookDT)
	case r.f32:
		return k.load(r.vals, e)
	}
	return k.loadInt(r.vals, e, r.valDT)
}

// spGroup is the number of entries a gemm decodes at once: a group that
// starts at an entry index multiple of spGroup starts at a byte of both bit
// streams, and its fields fill exactly bits·spGroup/8 bytes, read as one
// word.
const (
	spGroupLog = 3
	spGroup    = 1 << spGroupLog
)

// spWord is the n bytes at base[off:] as one little-endian integer (i64).
func (k *kfn) spWord(base, off value.Value, n int) value.Value {
	t := types.NewInt(uint64(8 * n))
	l := k.b.NewLoad(t, k.b.NewBitCast(k.at(base, off), types.NewPointer(t)))
	l.Align = 1
	if n == 8 {
		return l
	}
	return k.b.NewZExt(l, i64)
}

// group decodes entries [j·spGroup, (j+1)·spGroup): their gaps and weights.
func (r *spReader) group(j value.Value) (gaps, ws []value.Value) {
	k := r.k
	field := func(w value.Value, u, bits int) value.Value {
		if bits == 0 {
			return ci(0)
		}
		return k.b.NewAnd(k.b.NewLShr(w, ci(u*bits)), ci(1<<bits-1))
	}
	var gw, iw value.Value
	if r.sp.GapBits > 0 {
		gw = k.spWord(r.gaps, k.mul(j, r.sp.GapBits), r.sp.GapBits)
	}
	if r.sp.IdxBits > 0 {
		iw = k.spWord(r.vals, k.mul(j, r.sp.IdxBits), r.sp.IdxBits)
	}
	e0 := k.mul(j, spGroup)
	for u := 0; u < spGroup; u++ {
		gaps = append(gaps, field(gw, u, r.sp.GapBits))
		if iw != nil {
			ws = append(ws, r.weight(nil, field(iw, u, r.sp.IdxBits)))
		} else {
			ws = append(ws, r.weight(k.add(e0, ci(u)), nil))
		}
	}
	return gaps, ws
}

// loopCarry runs body for i in [lo, hi) (bounds at run time, possibly
// empty), threading values through phis; it returns their final values.
func (k *kfn) loopCarry(lo, hi value.Value, inits []value.Value, body func(i value.Value, c []value.Value) []value.Value) []value.Value {
	pre := k.b
	head, bodyB, exit := k.f.NewBlock(""), k.f.NewBlock(""), k.f.NewBlock("")
	pre.NewBr(head)
	k.b = head
	i := head.NewPhi(ir.NewIncoming(lo, pre))
	phis := make([]*ir.InstPhi, len(inits))
	cur := make([]value.Value, len(inits))
	for j, v := range inits {
		phis[j] = head.NewPhi(ir.NewIncoming(v, pre))
		cur[j] = phis[j]
	}
	head.NewCondBr(head.NewICmp(enum.IPredSLT, i, hi), bodyB, exit)
	k.b = bodyB
	next := body(i, cur)
	ni := k.b.NewAdd(i, ci(1))
	ni.OverflowFlags = []enum.OverflowFlag{enum.OverflowFlagNSW}
	i.Incs = append(i.Incs, ir.NewIncoming(ni, k.b))
	for j := range phis {
		phis[j].Incs = append(phis[j].Incs, ir.NewIncoming(next[j], k.b))
	}
	k.b.NewBr(head)
	k.b = exit
	return cur
}

// spVec is the vector arithmetic of a sparse kernel: <8 x float> with
// fused multiply-adds, or <8 x i32> with wrapping ones.
type spVec struct {
	k    *kfn
	t    *types.VectorType
	elem types.Type
	name string // the intrinsics' type suffix
}

func (k *kfn) spVec(integer bool) spVec {
	if integer {
		return spVec{k, types.NewVector(vlen, i32), i32, "v8i32"}
	}
	return spVec{k, v8, f32, "v8f32"}
}

func (v spVec) zero() value.Value { return constant.NewZeroInitializer(v.t) }

func (v spVec) splat(x value.Value) value.Value {
	b := v.k.b
	ins := b.NewInsertElement(constant.NewUndef(v.t), x, constant.NewInt(types.I32, 0))
	return b.NewShuffleVector(ins, constant.NewUndef(v.t), constant.NewZeroInitializer(types.NewVector(vlen, types.I32)))
}

func (v spVec) ptr(p, idx value.Value) value.Value {
	return v.k.b.NewBitCast(v.k.at(p, idx), types.NewPointer(v.t))
}

// load reads the first n lanes at p[idx] (the others are zero).
func (v spVec) load(p, idx value.Value, n int) value.Value {
	if n >= vlen {
		l := v.k.b.NewLoad(v.t, v.ptr(p, idx))
		l.Align = 4
		return l
	}
	pt := types.NewPointer(v.t)
	f := v.k.e.intrinsic("llvm.masked.load."+v.name+".p0"+v.name, v.t, pt, types.I32, v8i1, v.t)
	return v.k.b.NewCall(f, v.ptr(p, idx), constant.NewInt(types.I32, 4), laneMask(n), v.zero())
}

// store writes the first n lanes to p[idx].
func (v spVec) store(x, p, idx value.Value, n int) {
	if n >= vlen {
		s := v.k.b.NewStore(x, v.ptr(p, idx))
		s.Align = 4
		return
	}
	pt := types.NewPointer(v.t)
	f := v.k.e.intrinsic("llvm.masked.store."+v.name+".p0"+v.name, types.Void, v.t, pt, types.I32, v8i1)
	v.k.b.NewCall(f, x, v.ptr(p, idx), constant.NewInt(types.I32, 4), laneMask(n))
}

// madd is acc + w·x.
func (v spVec) madd(w, x, acc value.Value) value.Value {
	if v.elem == f32 {
		return v.k.b.NewCall(v.k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8), w, x, acc)
	}
	return v.k.b.NewAdd(acc, v.k.b.NewMul(w, x))
}

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

// spPad copies batch entry xb of the input into the padded planes at xp
// (phase-split rows), ld reading element i of x, zero the padding.
func (k *kfn) spPad(c *codegen.Conv, sp *codegen.Sparse, xb, xp, zero value.Value, ld func(i value.Value) value.Value) {
	start, n := spPhases(sp.Wp, c.SW)
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
					k.fill(xp, d, lo, zero)
					k.loop(lo, hi, func(q value.Value) {
						k.store(ld(k.add(xr, k.add(k.mul(q, c.SW), ci(r-c.PL)))), xp, k.add(d, q))
					})
					k.fill(xp, k.add(d, ci(hi)), n[r]-hi, zero)
				}
			}, func() { k.fill(xp, dr, sp.Wp, zero) })
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
// vectors (nfb of them, from column 0) and a last block at column
// nfb·nvec·8 (empty starts: none). Rows of 8 columns or more use full
// vectors only, the last one ending at ow (it recomputes columns of the
// one before); narrower rows use one masked vector.
func spColumns(ow int) (nvec, nfb int, last spBlock) {
	if ow < vlen {
		return 1, 0, spBlock{[]int{0}, []int{ow}}
	}
	nvr := ow / vlen
	nvec = min(spAcc/2, (ow+vlen-1)/vlen)
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
	cols := sp.Cols
	T := c.KH * c.KW
	plane := sp.Hp * sp.Wp
	P := c.OH * c.OW
	// Scratch: the table (offsets, then values), the padded input, then
	// the integer accumulator plane.
	offs := k.b.NewBitCast(scratch, types.NewPointer(i32))
	tvals := k.at(scratch, ci(cols))
	xp := k.at(scratch, ci(2*cols))
	acc := k.at(scratch, ci(2*cols+c.C*plane))
	start, _ := spPhases(sp.Wp, c.SW)
	taps := make([]int, T)
	for t := range taps {
		taps[t] = t/c.KW*c.DH*sp.Wp + spColOff(c, start, t%c.KW)
	}
	nvec, nfb, last := spColumns(c.OW)
	R := min(max(1, spAcc/nvec), c.OH)
	nrb := (c.OH + R - 1) / R
	var fin func(acc, c value.Value) value.Value
	if integer {
		fin = k.requant(s, in)
	}
	k.loop(0, c.N, func(n value.Value) {
		xb := k.mul(n, c.C*c.H*c.W)
		if integer {
			zx := c32(int64(s.Rq.ZX))
			k.spPad(c, sp, xb, xp, c32(0), func(i value.Value) value.Value {
				return k.b.NewSub(k.loadInt(in[0], i, s.In[0].DType), zx)
			})
		} else {
			k.spPad(c, sp, xb, xp, cf(0), func(i value.Value) value.Value { return k.load(in[0], i) })
		}
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
					row := k.madd(k.add(oh0, ci(r)), c.OW, ow0)
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
				if nrb*R > c.OH { // the last block ends at OH
					lastStart := ci(c.OH - R)
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

// sparseGemm emits a KSparseGemm step: per batch entry and chunk of rows
// of A, per output column n a dot over row n's entries.
func (k *kfn) sparseGemm(s *codegen.Step, rd *spReader, in []value.Value, out value.Value) {
	gm := s.Gemm
	integer := s.Rq != nil
	var fin func(acc, c value.Value) value.Value
	var zx value.Value
	zero := value.Value(cf(0))
	if integer {
		fin, zx, zero = k.requant(s, in), c32(int64(s.Rq.ZX)), c32(0)
	}
	for _, bt := range gm.Batch {
		aOff, cOff := ci(bt[0]), ci(bt[2])
		aAt := func(i, col value.Value) value.Value {
			idx := k.add(aOff, k.madd(i, gm.K, col))
			if gm.TransA {
				idx = k.add(aOff, k.madd(col, gm.M, i))
			}
			if integer {
				return k.b.NewSub(k.loadInt(in[0], idx, s.In[0].DType), zx)
			}
			return k.load(in[0], idx)
		}
		chunk := func(i0 value.Value, R int) {
			U := 1 // entries per iteration: independent chains for short chunks
			switch R {
			case 1:
				U = 4
			case 2:
				U = 2
			}
			k.loop(0, gm.N, func(n value.Value) {
				lo, hi := rd.bounds(n)
				// one entry (the column after col by gap, weight w) into
				// the accumulators of slot u
				entry := func(col, gap, w value.Value, a []value.Value, u int) value.Value {
					col = k.add(col, k.add(gap, ci(1)))
					for r := 0; r < R; r++ {
						x := aAt(k.add(i0, ci(r)), col)
						if integer {
							a[u*R+r] = k.b.NewAdd(a[u*R+r], k.b.NewMul(w, x))
						} else {
							a[u*R+r] = k.fadd(a[u*R+r], k.fmul(w, x))
						}
					}
					return col
				}
				one := func(e value.Value, c []value.Value) []value.Value {
					a := append([]value.Value(nil), c[1:]...)
					col := entry(c[0], k.bitField(rd.gaps, e, rd.sp.GapBits), rd.value(e), a, 0)
					return append([]value.Value{col}, a...)
				}
				st := make([]value.Value, 1+U*R)
				st[0] = ci(-1)
				for i := 1; i < len(st); i++ {
					st[i] = zero
				}
				// Entries one by one up to a multiple of spGroup, then
				// whole groups, then the rest one by one.
				lo8 := k.b.NewAnd(k.add(lo, ci(spGroup-1)), ci(-spGroup))
				headEnd := k.smin(lo8, hi)
				hi8 := k.b.NewAnd(hi, ci(-spGroup))
				st = k.loopCarry(lo, headEnd, st, one)
				st = k.loopCarry(k.b.NewAShr(lo8, ci(spGroupLog)), k.b.NewAShr(hi8, ci(spGroupLog)), st, func(j value.Value, c []value.Value) []value.Value {
					a := append([]value.Value(nil), c[1:]...)
					col := c[0]
					gaps, ws := rd.group(j)
					for u := range gaps {
						col = entry(col, gaps[u], ws[u], a, u%U)
					}
					return append([]value.Value{col}, a...)
				})
				st = k.loopCarry(k.smax(headEnd, hi8), hi, st, one)
				for r := 0; r < R; r++ {
					sum := st[1+r]
					for u := 1; u < U; u++ {
						if integer {
							sum = k.b.NewAdd(sum, st[1+u*R+r])
						} else {
							sum = k.b.NewFAdd(sum, st[1+u*R+r])
						}
					}
					oi := k.add(cOff, k.madd(k.add(i0, ci(r)), gm.N, n))
					if integer {
						k.storeInt(fin(k.b.NewAdd(sum, k.load(in[2], n)), n), out, oi, s.Out.DType)
						continue
					}
					if gm.Alpha != 1 {
						sum = k.b.NewFMul(sum, cf(gm.Alpha))
					}
					if gm.Bias {
						sum = k.b.NewFAdd(sum, k.load(in[2], n))
					}
					k.store(sum, out, oi)
				}
			})
		}
		k.loop(0, gm.M/spRows, func(ib value.Value) { chunk(k.mul(ib, spRows), spRows) })
		if r := gm.M % spRows; r > 0 {
			chunk(ci(gm.M-r), r)
		}
	}
}
