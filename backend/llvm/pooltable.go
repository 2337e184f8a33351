package llvm

import (
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// poolTable: N-d pooling and maxpool_index from codegen's window tables
// (codegen.PoolTable). Every output reduces over its K window positions in
// rt's order, skipping those outside the input (offset -1): max keeps the
// first strictly greater value (from -inf), the average sums from 0 and
// divides by the table's divisor (0 where it is 0), the index reports the
// first maximum's flat index (-1 for an empty window).
func (k *kfn) poolTable(s *codegen.Step, in []value.Value, y value.Value) error {
	p := s.PoolT
	if p.OutSz == 0 || p.Planes == 0 {
		return nil
	}
	x, offs := in[0], in[1]
	k.loop(0, p.Planes, func(pl value.Value) {
		xb := k.mul(pl, p.InSz)
		yb := k.mul(pl, p.OutSz)
		k.loop(0, p.OutSz, func(o value.Value) {
			tb := k.mul(o, p.K)
			init := []value.Value{cfInf(-1), c32(-1)}
			if !p.Max {
				init[0] = cf(0)
			}
			res := k.loopAcc(p.K, init, func(t value.Value, a []value.Value) []value.Value {
				j := k.add(tb, t)
				off := k.load(offs, j)
				ok := k.b.NewICmp(enum.IPredSGE, off, c32(0))
				xi := k.add(xb, k.b.NewSExt(k.b.NewSelect(ok, off, c32(0)), i64))
				xv := k.load(x, xi)
				if !p.Max {
					return []value.Value{k.b.NewSelect(ok, k.b.NewFAdd(a[0], xv), a[0]), a[1]}
				}
				gt := k.b.NewFCmp(enum.FPredOGT, xv, a[0])
				var take value.Value = gt
				if p.Index {
					take = k.b.NewOr(gt, k.b.NewICmp(enum.IPredSLT, a[1], c32(0)))
				}
				take = k.b.NewAnd(ok, take)
				return []value.Value{k.b.NewSelect(take, xv, a[0]), k.b.NewSelect(take, k.b.NewTrunc(j, i32), a[1])}
			})
			yi := k.add(yb, o)
			switch {
			case p.Index:
				best := res[1]
				has := k.b.NewICmp(enum.IPredSGE, best, c32(0))
				rep := k.load(in[2], k.b.NewSExt(k.b.NewSelect(has, best, c32(0)), i64))
				flat := k.add(xb, k.b.NewSExt(rep, i64))
				k.store(k.b.NewSelect(has, flat, ci(-1)), y, yi)
			case p.Max:
				k.store(res[0], y, yi)
			default:
				d := k.load(in[2], o)
				q := k.b.NewFDiv(res[0], d)
				k.store(k.b.NewSelect(k.b.NewFCmp(enum.FPredOGT, d, cf(0)), q, cf(0)), y, yi)
			}
		})
	})
	return nil
}

// batchNorm: runtime-parameter batchnorm as rt's: per channel a =
// scale/float32(sqrt(float64(var+eps))), b = bias - mean·a, y = x·a + b.
func (k *kfn) batchNorm(s *codegen.Step, in []value.Value, y value.Value) error {
	bn := s.BN
	x, scale, bias, mean, vr := in[0], in[1], in[2], in[3], in[4]
	sqrt := k.e.intrinsic("llvm.sqrt.f64", types.Double, types.Double)
	k.loop(0, bn.N, func(n value.Value) {
		k.loop(0, bn.C, func(c value.Value) {
			ve := k.b.NewFAdd(k.load(vr, c), cf(bn.Eps))
			root := k.b.NewFPTrunc(k.b.NewCall(sqrt, k.b.NewFPExt(ve, types.Double)), f32)
			a := k.b.NewFDiv(k.load(scale, c), root)
			b := k.b.NewFSub(k.load(bias, c), k.b.NewFMul(k.load(mean, c), a))
			base := k.mul(k.madd(n, bn.C, c), bn.Inner)
			k.loop(0, bn.Inner, func(i value.Value) {
				j := k.add(base, i)
				k.store(k.b.NewFAdd(k.b.NewFMul(k.load(x, j), a), b), y, j)
			})
		})
	})
	return nil
}
