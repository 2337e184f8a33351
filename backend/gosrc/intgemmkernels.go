package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// The integer gemm (codegen.Requant on a KGemm step).

// intGemm: one accumulator row per output row; the channel is the column.
func (k *kfn) intGemm() error {
	gm := k.s.Gemm
	r := k.s.Rq
	if !isInt8(k.s.In[0].DType) || k.s.Scratch == nil {
		return unsupported(k.s, "integer gemm on %v", k.s.In[0].DType)
	}
	M, N, K := gm.M, gm.N, gm.K
	if M*N == 0 {
		return nil
	}
	fin, err := k.finish("cr[j]", "acc[j]", "j")
	if err != nil {
		return err
	}
	// Constant weights come packed zero-centred (i8 or i16); a runtime B
	// keeps its stored type and zero point.
	packed := !r.BRuntime
	aAt := func(kk string) string {
		if gm.TransA {
			return fmt.Sprintf("int32(a[(%s)*%d+m])", kk, M)
		}
		return fmt.Sprintf("int32(a[m*%d+%s])", K, kk)
	}
	row := []jen.Code{jen.For(L("j := range acc")).Block(L("acc[j] = x2[j]"))}
	if packed {
		// Σ(a-zx)·b' with a-zx per row of B, so that the rows whose
		// inputs all equal the zero point (a relu's zeros) are skipped.
		aZ := func(kk string) string { return aAt(kk) + subZ(r.ZX) }
		row = append(row, axpyRows("acc", K, aZ, func(kk string) string { return fmt.Sprintf("b[(%s)*%d:]", kk, N) }, toInt32)...)
	} else {
		row = append(row, For("k", 0, K,
			L("av := %s - %d", aAt("k"), r.ZX),
			L("br := b[k*%d:][:len(acc)]", N),
			jen.For(L("j := range acc")).Block(L("acc[j] += av * (int32(br[j]) - %d)", r.ZB))))
	}
	row = append(row, L("cr := c[m*%d:][:%d]", N, N), jen.For(L("j := range acc")).Block(fin))
	k.add(L("acc := scratch[:%d]", N))
	for _, bt := range gm.Batch {
		blk := []jen.Code{
			L("a := x0[%d:][:%d]", bt[0], M*K),
			L("b := x1[%d:][:%d]", bt[1], K*N),
			L("c := y[%d:][:%d]", bt[2], M*N),
		}
		blk = append(blk, For("m", 0, M, row...))
		k.add(jen.Block(blk...))
	}
	return nil
}

// subZ is " - z" (" + -z" read badly), or "" for a zero point of 0.
func subZ(z int32) string {
	switch {
	case z == 0:
		return ""
	case z < 0:
		return fmt.Sprintf(" + %d", -int64(z))
	}
	return fmt.Sprintf(" - %d", z)
}
