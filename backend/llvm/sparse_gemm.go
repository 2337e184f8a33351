package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// spStackBytes bounds the transposed chunk of A a sparse gemm keeps on the
// stack (spRows rows of K elements); longer rows go row by row.
const spStackBytes = 64 << 10

// sparseGemm emits a KSparseGemm step: per batch entry and chunk of up to
// spRows rows of A, per output column n a dot over row n's entries, decoded
// once per chunk. Chunks of 2 rows or more are first transposed onto the
// stack ([K][spRows], integers as a − ZX in i32; lanes past the chunk's
// rows unused), so that each entry is one vector multiply-add over the
// chunk's rows; a single row goes by scalars.
func (k *kfn) sparseGemm(s *codegen.Step, rd *spReader, in []value.Value, out value.Value) {
	gm := s.Gemm
	integer := s.Rq != nil
	vec := k.spVec(integer)
	var fin func(acc, c value.Value) value.Value
	var zx value.Value
	zero := value.Value(cf(0))
	if integer {
		fin, zx, zero = k.requant(s, in), c32(int64(s.Rq.ZX)), c32(0)
	}
	var tr value.Value // the transposed chunk
	if gm.M >= 2 && gm.K*spRows*4 <= spStackBytes {
		tr = k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64(gm.K*spRows), vec.elem), 32), types.NewPointer(vec.elem))
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
		// store writes the dot sum of row i, column n.
		store := func(i, n, sum value.Value) {
			oi := k.add(cOff, k.madd(i, gm.N, n))
			if integer {
				k.storeInt(fin(k.b.NewAdd(sum, k.load(in[2], n)), n), out, oi, s.Out.DType)
				return
			}
			if gm.Alpha != 1 {
				sum = k.b.NewFMul(sum, cf(gm.Alpha))
			}
			if gm.Bias {
				sum = k.b.NewFAdd(sum, k.load(in[2], n))
			}
			k.store(sum, out, oi)
		}
		// chunk: rows [i0, i0+R), by vectors over the rows of tr when set.
		chunk := func(i0 value.Value, R int, tr value.Value) {
			if tr != nil {
				k.loop(0, gm.K, func(p value.Value) {
					for r := 0; r < R; r++ {
						k.store(aAt(k.add(i0, ci(r)), p), tr, k.madd(p, spRows, ci(r)))
					}
				})
			}
			// U independent sums per row (entry u of a group adds to sum
			// u mod U) hide the latency of float adds.
			U := 1
			switch {
			case integer:
			case R == 1 || tr != nil:
				U = 4
			case R == 2:
				U = 2
			}
			nacc := U * R
			if tr != nil {
				nacc = U
			}
			k.loop(0, gm.N, func(n value.Value) {
				lo, hi := rd.bounds(n)
				// one entry (the column after col by gap, weight w) into
				// the accumulators of slot u
				entry := func(col, gap, w value.Value, a []value.Value, u int) value.Value {
					col = k.add(col, k.add(gap, ci(1)))
					if tr != nil {
						a[u] = vec.madd(vec.splat(w), vec.load(tr, k.mul(col, spRows), vlen), a[u])
						return col
					}
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
				st := make([]value.Value, 1+nacc)
				st[0] = ci(-1)
				for i := 1; i < len(st); i++ {
					st[i] = zero
					if tr != nil {
						st[i] = vec.zero()
					}
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
				add := func(a, b value.Value) value.Value {
					if integer {
						return k.b.NewAdd(a, b)
					}
					return k.b.NewFAdd(a, b)
				}
				if tr != nil {
					sum := st[1]
					for u := 1; u < U; u++ {
						sum = add(sum, st[1+u])
					}
					for r := 0; r < R; r++ {
						store(k.add(i0, ci(r)), n, k.b.NewExtractElement(sum, constant.NewInt(types.I32, int64(r))))
					}
					return
				}
				for r := 0; r < R; r++ {
					sum := st[1+r]
					for u := 1; u < U; u++ {
						sum = add(sum, st[1+u*R+r])
					}
					store(k.add(i0, ci(r)), n, sum)
				}
			})
		}
		k.loop(0, gm.M/spRows, func(ib value.Value) { chunk(k.mul(ib, spRows), spRows, tr) })
		if r := gm.M % spRows; r > 0 {
			if r == 1 {
				chunk(ci(gm.M-r), r, nil)
			} else {
				chunk(ci(gm.M-r), r, tr)
			}
		}
	}
}

func init() {
	if spRows != vlen {
		panic("llvm: a sparse gemm chunk is one vector of rows")
	}
}
