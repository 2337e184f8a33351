package llvm

import (
	"fmt"

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
// time, each row entry decoded once per chunk, spGroup entries at a time.
//
// sparse_conv.go holds the conv, sparse_gemm.go the gemm.

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
	// The hot loops are explicit vectors: optsize costs no time and spares
	// opt's unrolled and vectorized copies of the rest (a third of the
	// code); noinline keeps it (inlined, a kernel takes NAME_run's).
	for _, a := range []enum.FuncAttr{enum.FuncAttrOptSize, enum.FuncAttrNoInline} {
		if !hasFuncAttr(k.f, a) {
			k.f.FuncAttrs = append(k.f.FuncAttrs, a)
		}
	}
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

func hasFuncAttr(f *ir.Func, a enum.FuncAttr) bool {
	for _, x := range f.FuncAttrs {
		if x == a {
			return true
		}
	}
	return false
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
