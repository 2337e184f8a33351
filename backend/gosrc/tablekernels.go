package gosrc

import (
	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Kernels computed from tables codegen builds (N-d pooling) and
// batchnorm with runtime parameters, as rt's.

func init() {
	extraKernels[codegen.KPoolTable] = (*kfn).poolTable
	extraKernels[codegen.KBatchNorm] = (*kfn).batchNorm
}

// poolTable: N-d max or average pooling, or maxpool_index, over the
// window tables of codegen.PoolTable (x1: the plane offset of each window
// position, -1 outside the input), in rt's order: the maximum starts at
// -Inf and takes strictly greater values (the first maximum wins), the
// average sums the valid positions in window order and divides by x2 (0
// for an empty divisor); maxpool_index reports pl·InSz plus x2's offset of
// the first maximum (-1 for an empty window).
func (k *kfn) poolTable() error {
	p := k.s.PoolT
	if k.s.In[0].DType != ir.F32 || len(k.s.Epilogue) > 0 && k.s.Loop == nil {
		return unsupported(k.s, "pool table on %v", k.s.In[0].DType)
	}
	var body []jen.Code
	switch {
	case p.Index:
		if k.s.Out.DType != ir.I64 {
			return unsupported(k.s, "maxpool_index to %v", k.s.Out.DType)
		}
		body = []jen.Code{
			L("m, best := float32(math.Inf(-1)), -1"),
			For("t", 0, p.K,
				L("off := x1[o*%d+t]", p.K),
				jen.If(L("off < 0")).Block(jen.Continue()),
				jen.If(L("v := xp[off]; v > m || best < 0")).Block(L("m, best = v, t"))),
			jen.If(L("best < 0")).Block(L("yp[o] = -1")).Else().Block(
				L("yp[o] = int64(pl*%d) + int64(x2[o*%d+best])", p.InSz, p.K)),
		}
	case p.Max:
		body = []jen.Code{
			L("m := float32(math.Inf(-1))"),
			For("t", 0, p.K,
				L("off := x1[o*%d+t]", p.K),
				jen.If(L("off >= 0 && xp[off] > m")).Block(L("m = xp[off]"))),
			L("yp[o] = m"),
		}
	default:
		body = []jen.Code{
			L("var s float32"),
			For("t", 0, p.K,
				jen.If(L("off := x1[o*%d+t]; off >= 0", p.K)).Block(L("s += xp[off]"))),
			jen.If(L("d := x2[o]; d > 0")).Block(L("yp[o] = s / d")).Else().Block(L("yp[o] = 0")),
		}
	}
	k.add(For("pl", 0, p.Planes, append([]jen.Code{
		L("xp := x0[pl*%d:][:%d]", p.InSz, p.InSz),
		L("yp := y[pl*%d:][:%d]", p.OutSz, p.OutSz),
	}, For("o", 0, p.OutSz, body...))...))
	return nil
}

// batchNorm: per channel a = scale/sqrt(var+eps) (the root in float64)
// and b = bias - mean·a, then y = x·a + b, as rt's; the products are
// rounded explicitly so that no target fuses them into an FMA.
func (k *kfn) batchNorm() error {
	b := k.s.BN
	for _, o := range append(k.s.In[:5:5], k.s.Out) {
		if o.DType != ir.F32 {
			return unsupported(k.s, "batchnorm on %v", o.DType)
		}
	}
	if len(k.s.Epilogue) > 0 && k.s.Loop == nil {
		return unsupported(k.s, "batchnorm with an epilogue")
	}
	k.add(For("c", 0, b.C,
		L("a := x1[c] / float32(math.Sqrt(float64(x4[c]+%s)))", flit(b.Eps)),
		L("b := x2[c] - float32(x3[c]*a)"),
		For("n", 0, b.N,
			L("i := (n*%d + c) * %d", b.C, b.Inner),
			L("xs, ys := x0[i:][:%d], y[i:][:%d]", b.Inner, b.Inner),
			jen.For(L("j, v := range xs")).Block(L("ys[j] = float32(v*a) + b")))))
	return nil
}
