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
	// With constant weights and bias, bias - zx·Σb' per column is a table
	// (intGemmStart).
	start := ""
	if packed {
		start = k.intGemmStart()
	}
	if start != "" {
		row = []jen.Code{L("copy(acc, %s[:])", start)}
	}
	if packed {
		// Σ(a-zx)·b' = Σa·b' - zx·Σb' (per column, computed once per step).
		if start == "" {
			row = append(row, jen.For(L("j := range acc")).Block(L("acc[j] -= %d * bsum[j]", r.ZX)))
		}
		row = append(row, axpyRows("acc", K, aAt, func(kk string) string { return fmt.Sprintf("b[(%s)*%d:]", kk, N) }, toInt32)...)
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
		if packed && start == "" {
			blk = append(blk, L("var bsum [%d]int32", N), For("k", 0, K, L("br := b[k*%d:][:%d]", N, N),
				jen.For(L("j, v := range br")).Block(L("bsum[j] += int32(v)"))))
		}
		blk = append(blk, For("m", 0, M, row...))
		k.add(jen.Block(blk...))
	}
	return nil
}

// intGemmStart returns the name of a table of every column's bias - zx·Σb'
// (wrapping int32, as the kernel would compute it) when the step's B and
// bias are constants and every batch entry reads the same B, else "".
func (k *kfn) intGemmStart() string {
	gm := k.s.Gemm
	b, ok := k.g.weightInts(k.s.In[1])
	bias, ok2 := k.g.weightInts(k.s.In[2])
	if !ok || !ok2 || len(bias) != gm.N {
		return ""
	}
	b0 := gm.Batch[0][1]
	for _, bt := range gm.Batch {
		if bt[1] != b0 || b0+gm.K*gm.N > len(b) {
			return ""
		}
	}
	v := make([]int64, gm.N)
	for j := range v {
		var sum int32
		for kk := 0; kk < gm.K; kk++ {
			sum += int32(b[b0+kk*gm.N+j])
		}
		v[j] = int64(int32(bias[j]) - k.s.Rq.ZX*sum)
	}
	return k.intTable(k.name+"_start", v)
}
