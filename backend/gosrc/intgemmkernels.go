package gosrc

import (
	"fmt"
	"strings"

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
	aZ := func(kk string) string { return aAt(kk) + subZ(r.ZX) }
	lanes := k.intGemmLanes(aZ)
	if lanes != nil {
		row = append(row, lanes...)
	} else if packed {
		// Σ(a-zx)·b' with a-zx per row of B, so that the rows whose
		// inputs all equal the zero point (a relu's zeros) are skipped.
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
		blk := []jen.Code{L("a := x0[%d:][:%d]", bt[0], M*K)}
		if lanes == nil {
			blk = append(blk, L("b := x1[%d:][:%d]", bt[1], K*N))
		}
		blk = append(blk, L("c := y[%d:][:%d]", bt[2], M*N))
		blk = append(blk, For("m", 0, M, row...))
		k.add(jen.Block(blk...))
	}
	return nil
}

// gemmLaneWords is the most int64 words of lanes the lane gemm keeps as
// accumulators (registers) over a row of A.
const gemmLaneWords = 8

// intGemmLanes returns the sweep of one row m of A over a constant B with
// B's columns packed as lanes into int64 words (packLanes, [K][words]):
// each a-zx multiplies a whole word, the words' sums are extracted into
// acc every chunk of k (planLanes bounds a chunk's lane sums). nil when B
// is not constant, has too many columns for the registers or does not fit
// a plan. Mnist-7's 256×10 gemm: the int32 sweep ran one multiply per
// entry of B, this one per two.
func (k *kfn) intGemmLanes(aZ func(string) string) []jen.Code {
	gm, r := k.s.Gemm, k.s.Rq
	N, K := gm.N, gm.K
	b, ok := k.g.weightInts(k.s.In[1])
	if r.BRuntime || !ok || !isPackedWeight(k.s.In[1].DType) {
		return nil
	}
	b0 := gm.Batch[0][1]
	for _, bt := range gm.Batch {
		if bt[1] != b0 || b0+K*N > len(b) {
			return nil
		}
	}
	bt := make([]int64, N*K) // Bᵀ: planLanes's rows are the lanes
	for kk := 0; kk < K; kk++ {
		for j := 0; j < N; j++ {
			bt[j*K+kk] = b[b0+kk*N+j]
		}
	}
	pl, ok := planLanes(bt, N, K, 1, 255, k.laneUnsigned())
	nw := (N + pl.lanes - 1) / pl.lanes
	if !ok || nw > gemmLaneWords {
		return nil
	}
	wsrc, err := k.g.operand(k.s.In[1])
	if err != nil {
		return nil
	}
	name := k.name + "_lanes"
	k.g.tables = append(k.g.tables, jen.Commentf("%s holds %s's B, %d columns per int64 word (lanes of %d bits): [k][word].", name, k.name, pl.lanes, pl.width).Line().
		Var().Id(name).Op("=").Id("packLanes").Call(L("%s[%d:%d], %d, %d, 1, %d, %d", wsrc, b0, b0+K*N, K, N, pl.lanes, pl.width)))
	k.g.lanes = true
	var decl, sweep []string
	for t := 0; t < nw; t++ {
		decl = append(decl, fmt.Sprintf("s%d", t))
		sweep = append(sweep, fmt.Sprintf("s%d += av * bw[%d]", t, t))
	}
	// The words' lanes into acc: the low ones sign-extended and shifted
	// out, the top one what remains.
	var ext []jen.Code
	sh := 64 - pl.width
	for t := 0; t < nw; t++ {
		for l := 0; l < pl.lanes && t*pl.lanes+l < N; l++ {
			j := t*pl.lanes + l
			if l == pl.lanes-1 {
				ext = append(ext, L("acc[%d] += int32(s%d)", j, t))
				continue
			}
			blk := []jen.Code{L("e := s%d << %d >> %d", t, sh, sh), L("acc[%d] += int32(e)", j)}
			if j+1 < N {
				blk = append(blk, L("s%d = (s%d - e) >> %d", t, t, pl.width))
			}
			ext = append(ext, jen.Block(blk...))
		}
	}
	chunk := func(lo, hi string) []jen.Code {
		body := []jen.Code{
			L("var %s int64", strings.Join(decl, ", ")),
			jen.For(L("k := %s", lo), L("k < %s", hi), L("k++")).Block(
				append([]jen.Code{L("av := int64(%s)", aZ("k")), L("bw := %s[k*%d:][:%d]", name, nw, nw)}, lines(sweep)...)...),
		}
		return append(body, ext...)
	}
	if pl.chunk >= K {
		return []jen.Code{jen.Block(chunk("0", fmt.Sprint(K))...)}
	}
	return []jen.Code{jen.For(L("k0 := 0"), L("k0 < %d", K), L("k0 += %d", pl.chunk)).Block(chunk("k0", fmt.Sprintf("min(k0+%d, %d)", pl.chunk, K))...)}
}

// lines is one statement per string.
func lines(ss []string) []jen.Code {
	out := make([]jen.Code, len(ss))
	for i, s := range ss {
		out[i] = L("%s", s)
	}
	return out
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
