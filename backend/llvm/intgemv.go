package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The integer pointwise conv of a single output column (OH·OW = 1: a
// classifier or fully connected layer as a 1×1 conv) as a matrix-vector
// product on the panel kernel's weight pairs (appendIntPairs, k in groups
// of 2, rows in blocks of mrG = 4: Target.rowBlock). In a block of four
// rows, pair q of the rows is 8 consecutive weights, so 16 weights are
// pairs q and q+1 of the
// four rows; multiplied (pmaddwd) with x's pairs q and q+1, each repeated
// four times, they give the four rows' sums of q in the low lanes and of
// q+1 in the high ones. The panel kernel would run 16-column tiles for
// the one column. i16 products of |x - zx| <= 255 and i8 or zero-centred
// weights, summed in i32, are exact: the results equal rt's.

// mrG is the row block of the matrix-vector kernel's weights.
const mrG = 4

// intGemvStep reports whether s runs on intConvGemv.
func intGemvStep(s *codegen.Step, t Target) bool {
	c := s.Conv
	return intPanelStep(s) && c.Pointwise && c.OH*c.OW == 1 && c.Group == 1 && !t.hwDot(s)
}

// intConvGemv emits the kernel of an intGemvStep.
func (k *kfn) intConvGemv(s *codegen.Step, in []value.Value, y value.Value) {
	c := s.Conv
	x, bias := in[0], in[2]
	xdt := s.In[0].DType
	K := c.Cg
	kq := (K + 1) / 2
	kq2 := (kq + 1) / 2 // 16-lane vectors of x pairs
	zx := c32(int64(s.Rq.ZX))
	fin := k.requant(s, in)
	w8 := s.In[1].DType == pir.I8
	et := types.Type(i16)
	if w8 {
		et = types.I8
	}
	wg := k.b.NewGetElementPtr(k.e.weights.ContentType, k.e.weights, ci(0), ci(int(k.e.intPairs[s])))
	wg.InBounds = true
	wp := k.b.NewBitCast(wg, types.NewPointer(et))
	// xs: x's pairs as i32 (two i16), vector v holding pairs 2v (lanes 0-3)
	// and 2v+1 (lanes 4-7); a missing last pair or element is zero.
	xa := k.entryAlloca(types.NewArray(uint64(kq2*8), i32), 32)
	xa.(interface{ SetName(string) }).SetName("gemvx")
	xs := k.b.NewBitCast(xa, types.NewPointer(i32))
	if kq%2 == 1 {
		k.fill(xs, ci((kq2-1)*8+4), 4, c32(0))
	}
	wvec := func(off value.Value, n int) value.Value {
		vt := types.NewVector(uint64(n), et)
		l := k.b.NewLoad(vt, k.b.NewBitCast(k.at(wp, off), types.NewPointer(vt)))
		l.Align = 1
		var v value.Value = l
		if n < 16 { // the upper half zero
			v = k.b.NewShuffleVector(v, constant.NewZeroInitializer(vt), shuffleMask(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
		}
		if w8 {
			v = k.b.NewSExt(v, v16i6)
		}
		return v
	}
	xvec := func(v value.Value) value.Value {
		l := k.b.NewLoad(v16i6, k.b.NewBitCast(k.at(xs, k.mul(v, 8)), types.NewPointer(v16i6)))
		l.Align = 32
		return l
	}
	k.loop(0, c.N, func(n value.Value) {
		xb := k.mul(n, c.C)
		xi := func(kk value.Value) value.Value {
			return k.b.NewAnd(k.b.NewSub(k.loadInt(x, k.add(xb, kk), xdt), zx), c32(0xffff))
		}
		k.loop(0, kq, func(q value.Value) {
			lo := xi(k.mul(q, 2))
			var hi value.Value = c32(0)
			if K%2 == 0 {
				hi = xi(k.add(k.mul(q, 2), ci(1)))
			} else {
				// The last pair of an odd K has no second element.
				last := k.b.NewICmp(enum.IPredEQ, q, ci(kq-1))
				hi = k.b.NewSelect(last, c32(0), xi(k.b.NewSelect(last, ci(0), k.add(k.mul(q, 2), ci(1)))))
			}
			pair := k.b.NewOr(lo, k.b.NewShl(hi, c32(16)))
			base := k.add(k.mul(k.b.NewLShr(q, ci(1)), 8), k.mul(k.b.NewAnd(q, ci(1)), 4))
			for r := 0; r < 4; r++ {
				k.store(pair, xs, k.add(base, ci(r)))
			}
		})
		yb := k.mul(n, c.M)
		full, rem := c.M/mrG, c.M%mrG
		k.loop(0, full, func(ib value.Value) {
			b0 := k.mul(ib, mrG*kq*2) // the block's first weight
			zero := constant.NewZeroInitializer(v8i32)
			var acc value.Value = zero
			if kq >= 2 { // loopAcc runs its body at least once
				acc = k.loopAcc(kq/2, []value.Value{zero}, func(v value.Value, a []value.Value) []value.Value {
					return []value.Value{k.b.NewAdd(a[0], k.pmaddwd(wvec(k.add(b0, k.mul(v, 16)), 16), xvec(v)))}
				})[0]
			}
			if kq%2 == 1 {
				acc = k.b.NewAdd(acc, k.pmaddwd(wvec(k.add(b0, ci((kq-1)*8)), 8), xvec(ci(kq2-1))))
			}
			sum := k.b.NewAdd(k.b.NewShuffleVector(acc, constant.NewUndef(v8i32), shuffleMask(0, 1, 2, 3)),
				k.b.NewShuffleVector(acc, constant.NewUndef(v8i32), shuffleMask(4, 5, 6, 7)))
			for r := 0; r < mrG; r++ {
				m := k.add(k.mul(ib, mrG), ci(r))
				a := k.b.NewAdd(k.b.NewExtractElement(sum, c32(int64(r))), k.load(bias, m))
				k.storeInt(fin(a, m), y, k.add(yb, m), s.Out.DType)
			}
		})
		// The last rem rows: a block of rem rows, pair q of row r at
		// q·rem + r.
		b0 := full * mrG * kq * 2
		xs16 := k.b.NewBitCast(xs, types.NewPointer(i16))
		for r := 0; r < rem; r++ {
			m := ci(full*mrG + r)
			a := k.loopAcc(kq, []value.Value{k.load(bias, m)}, func(q value.Value, a []value.Value) []value.Value {
				xo := k.add(k.mul(k.b.NewLShr(q, ci(1)), 16), k.mul(k.b.NewAnd(q, ci(1)), 8))
				wo := k.add(ci(b0+2*r), k.mul(q, 2*rem))
				acc := a[0]
				for par := 0; par < 2; par++ {
					w := k.b.NewSExt(k.load(wp, k.add(wo, ci(par))), i32)
					acc = k.b.NewAdd(acc, k.b.NewMul(w, k.b.NewSExt(k.load(xs16, k.add(xo, ci(par))), i32)))
				}
				return []value.Value{acc}
			})[0]
			k.storeInt(fin(a, m), y, k.add(yb, m), s.Out.DType)
		}
	})
}
