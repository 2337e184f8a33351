package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// intDepthwiseRows is intDepthwise for stride 1 across and 8-bit inputs,
// as convDepthwiseRows: each output row once, i32 accumulators in
// registers (8 columns a vector, 4 vectors a block) over row segments
// with static kernel rows, edge columns unrolled; then requantized.
// Integer sums: the same results as rt's in any order.
func (k *kfn) intDepthwiseRows(s *codegen.Step, in []value.Value, y value.Value) {
	c := s.Conv
	x, w := in[0], in[1]
	xdt, wdt := s.In[0].DType, s.In[1].DType
	osz := c.OH * c.OW
	fin := k.requant(s, in)
	zx := c32(int64(s.Rq.ZX))
	v8i8 := types.NewVector(8, types.I8)
	splat32 := func(v value.Value) value.Value {
		b := k.b.NewInsertElement(constant.NewUndef(v8i32), v, constant.NewInt(types.I32, 0))
		return k.b.NewShuffleVector(b, constant.NewUndef(v8i32), constant.NewZeroInitializer(v8i32))
	}
	xvec := func(idx value.Value) value.Value {
		l := k.b.NewLoad(v8i8, k.b.NewBitCast(k.at(x, idx), types.NewPointer(v8i8)))
		l.Align = 1
		var v value.Value
		if xdt == pir.U8 {
			v = k.b.NewZExt(l, v8i32)
		} else {
			v = k.b.NewSExt(l, v8i32)
		}
		return k.b.NewSub(v, splat32(zx))
	}
	const blk = dwBlk
	lo, nblk, nvec, vEnd, cuts := planDWRows(c)
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.M, func(m value.Value) {
			xb := k.dwInput(c, n, m)
			yb := k.mul(k.add(k.mul(n, c.M), m), osz)
			bias := k.load(in[2], m)
			wt := make([]value.Value, c.KH*c.KW)
			for t := range wt {
				wt[t] = k.loadInt(w, k.madd(m, c.KH*c.KW, ci(t)), wdt)
			}
			k.dwRowSegments(c, cuts, xb, yb, func(khs []int, yr value.Value, xr []value.Value) {
				vecs := func(ow0 value.Value, nv int) {
					a := make([]value.Value, nv)
					for v := range a {
						a[v] = splat32(bias)
					}
					for _, kh := range khs {
						for kw := 0; kw < c.KW; kw++ {
							wv := splat32(wt[kh*c.KW+kw])
							for v := range a {
								xv := xvec(k.add(xr[kh], k.add(ow0, ci(v*vlen+kw*c.DW-c.PL))))
								a[v] = k.b.NewAdd(a[v], k.b.NewMul(wv, xv))
							}
						}
					}
					for v := range a {
						k.storeIntN(fin(a[v], m), y, k.add(yr, k.add(ow0, ci(v*vlen))), s.Out.DType, vlen)
					}
				}
				k.dwColumns(c, lo, nblk, nvec, vEnd, khs, xr, vecs, bias,
					func(acc value.Value, t int, at value.Value) value.Value {
						return k.b.NewAdd(acc, k.b.NewMul(wt[t], k.b.NewSub(k.loadInt(x, at, xdt), zx)))
					},
					func(ow int, acc value.Value) { k.storeInt(fin(acc, m), y, k.add(yr, ci(ow)), s.Out.DType) })
			})
		})
	})
}
