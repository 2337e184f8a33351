package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// Sparse kernels (codegen.KSparseConv, codegen.KSparseGemm): the weights
// stay in the embedded file as codegen.Sparse encodes them (per output
// channel a run of entries: bit-packed gaps, then values or bit-packed
// codebook indices) and the kernels decode them as they run, so that the
// binary is about as small as the encoding. The generated code depends on
// the encoding's widths only (literals), never on the entries.
//
// A conv decodes each output channel's entries once into a table of
// (offset in the padded input, weight), fillers dropped, then sweeps every
// output row over the table: row[j] += w·xpad[off + oh·SH·Wp + j·SW]. The
// zero-padded input (integer steps: x - zx as int32, padding 0) makes the
// sweeps free of bounds tests; integer steps accumulate into an int32
// plane and requantize it as the dense kernels do (finishPrep). A gemm
// walks the entries of column n of B for every row of A.

// sparseFieldSrc is the generated helper reading a bit field.
const sparseFieldSrc = `
// sparseField is the little-endian bit field at bit b of p masked by mask
// (at most 8 bits wide): one 16-bit load, as every packed stream has a
// spare byte at its end.
func sparseField(p []uint8, b int, mask uint) int {
	return int((uint(p[b>>3]) | uint(p[b>>3+1])<<8) >> uint(b&7) & mask)
}
`

// sparseParams adds the step's encoding beyond In[1] as parameters: the
// row pointers rp, the gaps and the codebook book.
func (k *kfn) sparseParams() error {
	sp := k.s.Sparse
	if sp == nil || sp.GapBits < 0 || sp.GapBits > 8 || sp.IdxBits < 0 || sp.IdxBits > 8 || (sp.IdxBits > 0) != (sp.Codebook != nil) {
		return unsupported(k.s, "sparse kernel without a valid encoding")
	}
	if sp.RowPtr.DType != ir.I32 || ir.NumElements(sp.RowPtr.Shape) != sp.Rows+1 {
		return unsupported(k.s, "sparse row pointers of %v", sp.RowPtr.DType)
	}
	if err := k.param("rp", sp.RowPtr); err != nil {
		return err
	}
	if sp.GapBits > 0 {
		if err := k.param("gaps", sp.Gaps); err != nil {
			return err
		}
	}
	if sp.IdxBits > 0 {
		if k.s.In[1].DType != ir.U8 {
			return unsupported(k.s, "codebook indices of %v", k.s.In[1].DType)
		}
		if err := k.param("book", *sp.Codebook); err != nil {
			return err
		}
	}
	k.g.sparse = true
	return nil
}

// sparseEntries is the walk over row r's entries (r an expression): col
// is the entry's column and v its weight (converted by conv, "%s" to
// leave it as stored); body runs for the entries whose weight is not 0
// (fillers are skipped).
func (k *kfn) sparseEntries(r, conv string, body ...jen.Code) []jen.Code {
	sp := k.s.Sparse
	gap := L("col++")
	if sp.GapBits > 0 {
		gap = L("col += sparseField(gaps, e*%d, %d) + 1", sp.GapBits, 1<<sp.GapBits-1)
	}
	val := L("v := "+conv, "x1[e]")
	if sp.IdxBits > 0 {
		val = L("v := "+conv, fmt.Sprintf("book[sparseField(x1, e*%d, %d)]", sp.IdxBits, 1<<sp.IdxBits-1))
	}
	return []jen.Code{
		L("col := -1"),
		jen.For(L("e := int(rp[%s])", r), L("e < int(rp[%s+1])", r), L("e++")).Block(
			append([]jen.Code{gap, val, jen.If(L("v == 0")).Block(jen.Continue())}, body...)...),
	}
}

// sparseConv: per image, the zero-padded input; per output channel, its
// entries decoded into the table, then every output row swept over it.
func (k *kfn) sparseConv() error {
	c, sp, r := k.s.Conv, k.s.Sparse, k.s.Rq
	integer := r != nil
	if integer {
		if !isInt8(k.s.In[0].DType) || !(isPackedWeight(k.valueType()) && k.valueType() != ir.I32) {
			return unsupported(k.s, "integer sparse conv on %v", k.s.In[0].DType)
		}
	} else if k.s.In[0].DType != ir.F32 || k.valueType() != ir.F32 {
		return unsupported(k.s, "sparse conv on %v", k.s.In[0].DType)
	}
	K, T, P := c.Cg*c.KH*c.KW, c.KH*c.KW, c.OH*c.OW
	hp, wp := sp.Hp, sp.Wp
	if sp.Rows != c.M || sp.Cols != K || hp < (c.OH-1)*c.SH+(c.KH-1)*c.DH+1 || wp < (c.OW-1)*c.SW+(c.KW-1)*c.DW+1 ||
		k.s.Scratch == nil || ir.NumElements(k.s.Scratch.Shape) < 2*K+c.C*hp*wp+boolInt(integer)*P {
		return unsupported(k.s, "sparse conv of inconsistent geometry")
	}
	if err := k.sparseParams(); err != nil {
		return err
	}
	// The table: the offset of every entry's tap in the padded input, then
	// its weight. f32 steps keep the offset's bits in the f32 word.
	offset := func(i string) string { return fmt.Sprintf("int(tab[%s])", i) }
	conv, store := "int32(%s)", "tab[2*cnt] = int32(off)"
	if !integer {
		offset = func(i string) string { return fmt.Sprintf("int(math.Float32bits(tab[%s]))", i) }
		conv, store = "%s", "tab[2*cnt] = math.Float32frombits(uint32(off))"
	}
	// The tap of column col: input channel cg = col/(KH·KW) of the group,
	// row kh = col%(KH·KW)/KW, column kw = col%KW.
	ch := fmt.Sprintf("col/%d", T)
	if c.Group > 1 {
		ch = fmt.Sprintf("m/%d*%d+col/%d", c.Mg, c.Cg, T)
	}
	off := fmt.Sprintf("(%s)*%d", ch, hp*wp)
	if c.KH > 1 {
		off += fmt.Sprintf(" + col%%%d/%d*%d", T, c.KW, c.DH*wp)
	}
	if c.KW > 1 {
		off += fmt.Sprintf(" + col%%%d*%d", c.KW, c.DW)
	}
	note := "tab: per entry of row m, the tap's offset in pad, then its weight"
	if !integer {
		note += " (the offset as float32 bits)"
	}
	table := append([]jen.Code{jen.Comment(note), L("cnt := 0")}, k.sparseEntries("m", conv,
		L("off := %s", off),
		L("%s", store),
		L("tab[2*cnt+1] = v"),
		L("cnt++"))...)
	body := table
	if integer {
		body = append(body, L("yp := acc"))
	} else {
		body = append(body, L("yp := y[(n*%d+m)*%d:][:%d]", c.M, P, P))
	}
	if c.Bias || integer {
		body = append(body, L("b := x2[m]"))
	} else {
		body = append(body, L("b := float32(0)"))
	}
	body = append(body, For("oh", 0, c.OH, append([]jen.Code{
		L("yr := yp[oh*%d:][:%d]", c.OW, c.OW),
		jen.For(L("j := range yr")).Block(L("yr[j] = b")),
		L("base := oh * %d", c.SH*wp),
	}, sparseSweep(offset, c.OW, c.SW)...)...))
	if integer {
		fin, err := k.finishPrep("yq[j]", "acc[j]", "q")
		if err != nil {
			return err
		}
		body = append(body, L("yq := y[(n*%d+m)*%d:][:%d]", c.M, P, P), k.rqPrep("q", "m"), jen.For(L("j := range acc")).Block(fin))
	} else if k.unaryEpilogue() {
		body = append(body, jen.For(L("j, v := range yp")).Block(append(k.epi(nil), L("yp[j] = v"))...))
		k.fused = true
	}
	k.add(L("tab := scratch[:%d]", 2*K), L("pad := scratch[%d:][:%d]", 2*K, c.C*hp*wp))
	if integer {
		k.add(L("acc := scratch[%d:][:%d]", 2*K+c.C*hp*wp, P))
	}
	k.add(For("n", 0, c.N, append(k.sparsePad(), For("m", 0, c.M, body...))...))
	return nil
}

// valueType is the type of the weights of a sparse step: In[1]'s, or the
// codebook's.
func (k *kfn) valueType() ir.DType {
	if k.s.Sparse != nil && k.s.Sparse.Codebook != nil {
		return k.s.Sparse.Codebook.DType
	}
	return k.s.In[1].DType
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sparsePad fills pad [C][Hp][Wp] with image n of the input (f32, or x -
// zx as int32), zeros around it.
func (k *kfn) sparsePad() []jen.Code {
	c, sp := k.s.Conv, k.s.Sparse
	hw := c.H * c.W
	lo, hi := min(c.PL, sp.Wp), min(c.PL+c.W, sp.Wp)
	var fill jen.Code
	if k.s.Rq == nil {
		fill = L("copy(pr[%d:%d], xr)", lo, hi)
	} else {
		fill = jen.For(L("i, v := range xr")).Block(L("pr[%d+i] = int32(v) - %d", lo, k.s.Rq.ZX))
	}
	row := []jen.Code{
		L("pr := pad[(c*%d+h)*%d:][:%d]", sp.Hp, sp.Wp, sp.Wp),
		L("ih := h - %d", c.PT),
		jen.If(L("ih < 0 || ih >= %d", c.H)).Block(L("clear(pr)"), jen.Continue()),
	}
	if lo > 0 {
		row = append(row, L("clear(pr[:%d])", lo))
	}
	if hi < sp.Wp {
		row = append(row, L("clear(pr[%d:])", hi))
	}
	if hi > lo {
		row = append(row, L("xr := x0[(n*%d+c)*%d+ih*%d:][:%d]", c.C, hw, c.W, hi-lo), fill)
	}
	return []jen.Code{For("c", 0, c.C, For("h", 0, sp.Hp, row...))}
}

// sparseSweep is the sweep of output row yr over the table's cnt entries
// (offset(i) the code of the offset at tab[i]), four entries at a time so that
// the row is loaded and stored once per four products.
func sparseSweep(offset func(t string) string, ow, sw int) []jen.Code {
	span := (ow-1)*sw + 1
	at := func(i int) string {
		if sw == 1 {
			return fmt.Sprintf("p%d[j]", i)
		}
		return fmt.Sprintf("p%d[j*%d]", i, sw)
	}
	entries := func(u int) []jen.Code {
		var out []jen.Code
		sum := ""
		for i := 0; i < u; i++ {
			ix := "2*t"
			if i > 0 {
				ix = fmt.Sprintf("2*(t+%d)", i)
			}
			out = append(out, L("p%d := pad[base+%s:][:%d]", i, offset(ix), span), L("v%d := tab[%s+1]", i, ix))
			if i > 0 {
				sum += " + "
			}
			sum += fmt.Sprintf("v%d*%s", i, at(i))
		}
		return append(out, jen.For(L("j := range yr")).Block(L("yr[j] += %s", sum)))
	}
	return []jen.Code{
		L("t := 0"),
		jen.For(L("; t+4 <= cnt; t += 4")).Block(entries(4)...),
		jen.For(L("; t < cnt; t++")).Block(entries(1)...),
	}
}

// sparseGemm: for every row of A, column n of the output is the walk over
// column n of B's entries.
func (k *kfn) sparseGemm() error {
	gm, sp, r := k.s.Gemm, k.s.Sparse, k.s.Rq
	integer := r != nil
	if integer {
		if !isInt8(k.s.In[0].DType) || !(isPackedWeight(k.valueType()) && k.valueType() != ir.I32) {
			return unsupported(k.s, "integer sparse gemm on %v", k.s.In[0].DType)
		}
	} else if k.s.In[0].DType != ir.F32 || k.valueType() != ir.F32 {
		return unsupported(k.s, "sparse gemm on %v", k.s.In[0].DType)
	}
	M, N, K := gm.M, gm.N, gm.K
	if sp.Rows != N || sp.Cols != K {
		return unsupported(k.s, "sparse gemm of inconsistent geometry")
	}
	if err := k.sparseParams(); err != nil {
		return err
	}
	if M*N == 0 {
		return nil
	}
	a := "ar[col]"
	if gm.TransA {
		a = fmt.Sprintf("a[col*%d+i]", M)
	}
	var walk []jen.Code
	if integer {
		fin, err := k.finish("cr[n]", "acc", "n")
		if err != nil {
			return err
		}
		walk = append([]jen.Code{L("acc := x2[n]")},
			k.sparseEntries("n", "int32(%s)", L("acc += v * (int32(%s) - %d)", a, r.ZX))...)
		walk = append(walk, fin)
	} else {
		walk = append([]jen.Code{L("var s float32")}, k.sparseEntries("n", "%s", L("s += v * %s", a))...)
		res := "s"
		if gm.Alpha != 1 {
			res = fmt.Sprintf("s * %s", flit(gm.Alpha))
		}
		if gm.Bias {
			res += " + x2[n]"
		}
		walk = append(walk, L("cr[n] = %s", res))
	}
	row := []jen.Code{L("cr := c[i*%d:][:%d]", N, N)}
	if !gm.TransA {
		row = append(row, L("ar := a[i*%d:][:%d]", K, K))
	}
	row = append(row, For("n", 0, N, walk...))
	for _, bt := range gm.Batch {
		k.add(jen.Block(
			L("a := x0[%d:][:%d]", bt[0], M*K),
			L("c := y[%d:][:%d]", bt[2], M*N),
			For("i", 0, M, row...),
		))
	}
	return nil
}
