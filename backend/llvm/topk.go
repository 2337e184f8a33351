package llvm

import (
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// topk: rt's passes (rt/topk.go). Per outer position, every element in
// index order is carried through the K output slots: a slot takes the
// carried element when it is not filled yet (slot ≥ i) or the element
// beats it (greater; Largest false: less; an ordered compare, so a NaN
// beats nothing), and the slot's element is carried on. topk keeps values
// in its output; topk_index keeps indices and reads their values from x.
func (k *kfn) topk(s *codegen.Step, x, y value.Value) {
	r := s.Reduce
	n, str := r.Inner[0], r.IStride[0]
	xdt, index := s.In[0].DType, r.Op == "topk_index"
	ld := func(i value.Value) value.Value { return k.loadElem(x, i, xdt) }
	beats := func(e, sv value.Value) value.Value {
		if r.Largest {
			return k.cmpElem(xdt, enum.FPredOGT, enum.IPredSGT, e, sv)
		}
		return k.cmpElem(xdt, enum.FPredOLT, enum.IPredSLT, e, sv)
	}
	k.nest(r.Outer, [][]int{r.OStride, r.OutStride}, func(offs []value.Value) {
		k.loop(0, n, func(i value.Value) {
			cv := ld(k.add(offs[0], k.mul(i, str)))
			ci := k.b.NewTrunc(i, i32)
			k.loopAcc(r.K, []value.Value{cv, ci}, func(sl value.Value, acc []value.Value) []value.Value {
				at := k.add(offs[1], k.mul(sl, r.KStride))
				empty := k.b.NewICmp(enum.IPredSGE, sl, i)
				var sv, si value.Value
				if index {
					si = k.loadInt(y, at, s.Out.DType)
					safe := k.b.NewSelect(empty, c32(0), si) // an unfilled slot holds no index to read
					sv = ld(k.add(offs[0], k.mul(k.b.NewSExt(safe, i64), str)))
				} else {
					sv = k.loadElem(y, at, xdt)
				}
				take := k.b.NewOr(empty, beats(acc[0], sv))
				if index { // equal values: the lower index first
					eq := k.cmpElem(xdt, enum.FPredOEQ, enum.IPredEQ, acc[0], sv)
					take = k.b.NewOr(take, k.b.NewAnd(eq, k.b.NewICmp(enum.IPredSLT, acc[1], si)))
					k.storeInt(k.b.NewSelect(take, acc[1], si), y, at, s.Out.DType)
					return []value.Value{k.b.NewSelect(take, sv, acc[0]), k.b.NewSelect(take, si, acc[1])}
				}
				nv := k.b.NewSelect(take, acc[0], sv)
				if xdt == pir.F32 {
					k.store(nv, y, at)
				} else {
					k.storeInt(nv, y, at, xdt)
				}
				return []value.Value{k.b.NewSelect(take, sv, acc[0]), acc[1]}
			})
		})
	})
}
