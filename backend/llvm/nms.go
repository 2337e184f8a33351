package llvm

import (
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// nms: nms_index as rt's loops (rt/nms.go, codegen.KNMS): the corners
// normalized, the areas and the candidate flags into the scratch, then
// MaxOut rounds of a scan for the best candidate and a suppression sweep.
// Plain fadd / fsub / fmul / fdiv without the contract flag, so that no
// FMA changes an IoU; std::min / std::max as selects in their operand
// order.
func (k *kfn) nms(s *codegen.Step, in []value.Value, out, scr value.Value) error {
	p := s.NMS
	n := p.N
	boxes, scores := in[0], in[1]
	minF := func(a, b value.Value) value.Value { return k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, b, a), b, a) }
	maxF := func(a, b value.Value) value.Value { return k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, a, b), b, a) }
	areaAt := func(i value.Value) value.Value { return k.add(ci(4*n), i) }
	candAt := func(i value.Value) value.Value { return k.add(ci(5*n), i) }
	k.loop(0, n, func(i value.Value) {
		b := k.mul(i, 4)
		c := make([]value.Value, 4)
		for j := range c {
			c[j] = k.load(boxes, k.add(b, ci(j)))
		}
		ymin, ymax := minF(c[0], c[2]), maxF(c[0], c[2])
		xmin, xmax := minF(c[1], c[3]), maxF(c[1], c[3])
		for j, v := range []value.Value{ymin, xmin, ymax, xmax} {
			k.store(v, scr, k.add(b, ci(j)))
		}
		k.store(k.b.NewFMul(k.b.NewFSub(ymax, ymin), k.b.NewFSub(xmax, xmin)), scr, areaAt(i))
		cand := k.b.NewFCmp(enum.FPredOGE, k.load(scores, i), cf(p.Score))
		k.store(k.b.NewSelect(cand, cf(1), cf(0)), scr, candAt(i))
	})
	k.loop(0, p.MaxOut, func(r value.Value) {
		best := k.loopAcc(n, []value.Value{ci(-1), cf(0)}, func(i value.Value, acc []value.Value) []value.Value {
			isCand := k.b.NewFCmp(enum.FPredONE, k.load(scr, candAt(i)), cf(0))
			sc := k.load(scores, i)
			better := k.b.NewOr(k.b.NewICmp(enum.IPredSLT, acc[0], ci(0)), k.b.NewFCmp(enum.FPredOGT, sc, acc[1]))
			take := k.b.NewAnd(isCand, better)
			return []value.Value{k.b.NewSelect(take, i, acc[0]), k.b.NewSelect(take, sc, acc[1])}
		})[0]
		k.ifElse(k.b.NewICmp(enum.IPredSGE, best, ci(0)), func() {
			k.store(k.b.NewTrunc(best, i32), out, r)
			k.store(cf(0), scr, candAt(best))
			ab := k.load(scr, areaAt(best))
			k.if_(k.b.NewFCmp(enum.FPredUGT, ab, cf(0)), func() { // not area <= 0
				bb := k.mul(best, 4)
				bc := make([]value.Value, 4)
				for j := range bc {
					bc[j] = k.load(scr, k.add(bb, ci(j)))
				}
				k.loop(0, n, func(i value.Value) {
					ai := k.load(scr, areaAt(i))
					live := k.b.NewAnd(k.b.NewFCmp(enum.FPredONE, k.load(scr, candAt(i)), cf(0)), k.b.NewFCmp(enum.FPredUGT, ai, cf(0)))
					k.if_(live, func() {
						ib := k.mul(i, 4)
						c := make([]value.Value, 4)
						for j := range c {
							c[j] = k.load(scr, k.add(ib, ci(j)))
						}
						ih := maxF(k.b.NewFSub(minF(bc[2], c[2]), maxF(bc[0], c[0])), cf(0))
						iw := maxF(k.b.NewFSub(minF(bc[3], c[3]), maxF(bc[1], c[1])), cf(0))
						inter := k.b.NewFMul(ih, iw)
						iou := k.b.NewFDiv(inter, k.b.NewFSub(k.b.NewFAdd(ab, ai), inter))
						k.if_(k.b.NewFCmp(enum.FPredOGT, iou, cf(p.IoU)), func() { k.store(cf(0), scr, candAt(i)) })
					})
				})
			})
		}, func() { k.store(c32(-1), out, r) })
	})
	return nil
}
