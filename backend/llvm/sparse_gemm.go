package llvm

import (
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

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
			// U independent sums per row (entry u of a group adds to sum
			// u mod U) hide the latency of float adds in short chunks.
			U := 1
			switch {
			case integer:
			case R == 1:
				U = 4
			case R == 2:
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
