package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// The f32 GEMM and the row sweep it shares with the integer gemm.

// gemm: C[b] = alpha·A[b]·B[b] (+ bias row) per batch entry.
func (k *kfn) gemm() error {
	gm := k.s.Gemm
	if k.s.In[0].DType != ir.F32 || k.s.In[1].DType != ir.F32 {
		return unsupported(k.s, "gemm on %v", k.s.In[0].DType)
	}
	M, N, K := gm.M, gm.N, gm.K
	if M*N == 0 {
		return nil
	}
	aAt := func(kk string) string {
		if gm.TransA {
			return fmt.Sprintf("a[(%s)*%d+m]", kk, M)
		}
		return fmt.Sprintf("a[m*%d+%s]", K, kk)
	}
	var row []jen.Code
	row = append(row, L("cr := c[m*%d:][:%d]", N, N), L("clear(cr)"))
	if !gm.TransB {
		row = append(row, axpyRows("cr", K, aAt, func(kk string) string { return fmt.Sprintf("b[(%s)*%d:]", kk, N) }, same)...)
	} else {
		var ar string
		if gm.TransA {
			ar = "" // strided A: scalar dot
		} else {
			ar = fmt.Sprintf("ar := a[m*%d:][:%d]", K, K)
		}
		dot := []jen.Code{L("br := b[j*%d:][:%d]", K, K)}
		if ar != "" {
			dot = append(dot, L("var s0, s1, s2, s3 float32"), L("kk := 0"),
				jen.For(L("; kk+4 <= %d; kk += 4", K)).Block(
					L("s0 += ar[kk] * br[kk]"), L("s1 += ar[kk+1] * br[kk+1]"), L("s2 += ar[kk+2] * br[kk+2]"), L("s3 += ar[kk+3] * br[kk+3]")),
				jen.For(L("; kk < %d; kk++", K)).Block(L("s0 += ar[kk] * br[kk]")),
				L("cr[j] = (s0 + s1) + (s2 + s3)"))
			row = append(row, L("%s", ar))
		} else {
			dot = append(dot, L("var s float32"), For("kk", 0, K, L("s += %s * br[kk]", aAt("kk"))), L("cr[j] = s"))
		}
		row = append(row, For("j", 0, N, dot...))
	}
	if gm.Alpha != 1 {
		row = append(row, jen.For(L("j := range cr")).Block(L("cr[j] *= %s", flit(gm.Alpha))))
	}
	if gm.Bias {
		row = append(row, L("bias := x2[:%d]", N), jen.For(L("j := range cr")).Block(L("cr[j] += bias[j]")))
	}
	nA, nB, nC := M*K, K*N, M*N
	for _, bt := range gm.Batch {
		k.add(jen.Block(
			L("a := x0[%d:][:%d]", bt[0], nA),
			L("b := x1[%d:][:%d]", bt[1], nB),
			L("c := y[%d:][:%d]", bt[2], nC),
			For("m", 0, M, row...),
		))
	}
	return nil
}

// axpyRows emits c[j] += Σ_k a(k)·elem(b(k)[j]) over a row c, 4-way
// unrolled over k, skipping groups of four zero a's: aExpr(k) is the code of
// a[k] (k a code expression), bRow(k) the code of the start of row k of B,
// elem wraps an element of B (a conversion to the accumulator's type, or
// nothing). The f32 GEMM and the integer conv share it.
func axpyRows(c string, kk int, aExpr, bRow, elem func(k string) string) []jen.Code {
	var out []jen.Code
	b := func(i int) string { return elem(fmt.Sprintf("b%d[j]", i)) }
	k4 := kk / 4 * 4
	if k4 > 0 {
		out = append(out, jen.For(L("k := 0"), L("k < %d", k4), L("k += 4")).Block(
			L("a0, a1, a2, a3 := %s, %s, %s, %s", aExpr("k"), aExpr("k+1"), aExpr("k+2"), aExpr("k+3")),
			jen.If(L("a0 == 0 && a1 == 0 && a2 == 0 && a3 == 0")).Block(jen.Continue()),
			L("b0 := %s[:len(%s)]", bRow("k"), c),
			L("b1 := %s[:len(%s)]", bRow("k+1"), c),
			L("b2 := %s[:len(%s)]", bRow("k+2"), c),
			L("b3 := %s[:len(%s)]", bRow("k+3"), c),
			jen.For(L("j := range %s", c)).Block(
				L("%s[j] += a0*%s + a1*%s + a2*%s + a3*%s", c, b(0), b(1), b(2), b(3)),
			),
		))
	}
	if k4 < kk {
		out = append(out, For("k", k4, kk,
			L("a0 := %s", aExpr("k")),
			L("b0 := %s[:len(%s)]", bRow("k"), c),
			jen.For(L("j := range %s", c)).Block(L("%s[j] += a0 * %s", c, b(0))),
		))
	}
	return out
}

// same leaves an element as it is (f32 accumulators over f32 B).
func same(x string) string { return x }

// toInt32 widens an integer element to the int32 accumulator.
func toInt32(x string) string { return "int32(" + x + ")" }
