package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// The f32 convolutions: im2col + GEMM and depthwise.

// sweepRows emits the inner sweep of rowsAxpy and intRowsAxpy: the u B
// rows p_t = bRow(t), then for every j, y_i[j] += Σ_t a_it·q_t with
// q_t = p_t[j] converted by load (a format of one %s).
func sweepRows(r, u int, bRow func(t int) string, load string) []jen.Code {
	var out, inner []jen.Code
	for t := 0; t < u; t++ {
		out = append(out, L("p%d := %s[:len(y0)]", t, bRow(t)))
		inner = append(inner, L("q%d := "+load, t, fmt.Sprintf("p%d[j]", t)))
	}
	for i := 0; i < r; i++ {
		e := ""
		for t := 0; t < u; t++ {
			if t > 0 {
				e += " + "
			}
			e += fmt.Sprintf("a%d%d*q%d", i, t, t)
		}
		inner = append(inner, L("y%d[j] += %s", i, e))
	}
	return append(out, jen.For(L("j := range y0")).Block(inner...))
}

// rowsAxpy emits y_i += Σ_k w_i[k]·B[k] for r rows y0..y{r-1} of the
// same length with weight rows w0..w{r-1}, unrolled over k by 4 (3 for four
// rows, the rest by 2: twelve weights stay in registers, the rows are
// loaded and stored once per three products): every B element loaded is
// reused r times.
func rowsAxpy(r, kk int, bRow func(k string) string) []jen.Code {
	step := func(u int, k0 string) []jen.Code {
		var as, zs, out []jen.Code
		for i := 0; i < r; i++ {
			for t := 0; t < u; t++ {
				as = append(as, L("a%d%d := w%d[k+%d]", i, t, i, t))
				zs = append(zs, L("a%d%d == 0", i, t))
			}
		}
		out = append(out, as...)
		cond := ""
		for i, z := range zs {
			if i > 0 {
				cond += " && "
			}
			cond += fmt.Sprintf("%#v", z)
		}
		out = append(out, jen.If(L("%s", cond)).Block(jen.Continue()))
		return append(out, sweepRows(r, u, func(t int) string { return bRow(fmt.Sprintf("k+%d", t)) }, "%s")...)
	}
	var out []jen.Code
	if r > 2 {
		// Steps of three, the rest by two (one only if k is 1).
		n3, n2, n1 := kk/3, 0, 0
		switch {
		case kk%3 == 1 && n3 > 0:
			n3, n2 = n3-1, 2
		case kk%3 == 2:
			n2 = 1
		case kk%3 == 1:
			n1 = 1
		}
		k0 := 0
		for _, st := range []struct{ u, n int }{{3, n3}, {2, n2}, {1, n1}} {
			if st.n > 0 {
				out = append(out, jen.For(L("k := %d", k0), L("k < %d", k0+st.u*st.n), L("k += %d", st.u)).Block(step(st.u, "k")...))
				k0 += st.u * st.n
			}
		}
		return out
	}
	ku := kk / 4 * 4
	if ku > 0 {
		out = append(out, jen.For(L("k := 0"), L("k < %d", ku), L("k += 4")).Block(step(4, "k")...))
	}
	if ku < kk {
		out = append(out, jen.For(L("k := %d", ku), L("k < %d", kk), L("k++")).Block(step(1, "k")...))
	}
	return out
}

// unaryEpilogue reports whether the step's epilogue takes no operand (so a
// kernel may apply it to each output row as it finishes).
func (k *kfn) unaryEpilogue() bool {
	if len(k.s.Epilogue) == 0 {
		return false
	}
	for _, e := range k.s.Epilogue {
		if e.Arg != nil || e.Op.Binary() {
			return false
		}
	}
	return true
}

// convGemm: per image and group, im2col into scratch (unless pointwise),
// then every output channel row is an axpy sweep over the columns.
func (k *kfn) convGemm() error {
	c := k.s.Conv
	if k.s.In[0].DType != ir.F32 || k.s.In[1].DType != ir.F32 {
		return unsupported(k.s, "conv on %v", k.s.In[0].DType)
	}
	if k.winoOK() {
		return k.convWino()
	}
	hw, P, K := c.H*c.W, c.OH*c.OW, c.Cg*c.KH*c.KW
	var body []jen.Code
	body = append(body, L("xg := x0[(n*%d+g*%d)*%d:][:%d]", c.C, c.Cg, hw, c.Cg*hw))
	src := "xg"
	if !c.Pointwise {
		src = "scratch"
		body = append(body, k.im2col()...)
	}
	// Output rows in blocks of four, then two, then one: each B element
	// loaded feeds every row of the block. Rows start from the bias (no
	// clear, no separate bias pass) and a unary epilogue is applied to each
	// row as it finishes, while it is in cache.
	fused := k.unaryEpilogue()
	m := 0
	for _, r := range []int{4, 2, 1} {
		if c.Mg-m < r {
			continue
		}
		n := (c.Mg - m) / r
		lo := m
		m += n * r
		var blk []jen.Code
		for i := 0; i < r; i++ {
			blk = append(blk, L("y%d := y[(n*%d+oc+%d)*%d:][:%d]", i, c.M, i, P, P))
			if i > 0 {
				blk = append(blk, L("y%d = y%d[:len(y0)]", i, i))
			}
			if c.Bias {
				blk = append(blk, L("b%d := x2[oc+%d]", i, i), jen.For(L("j := range y%d", i)).Block(L("y%d[j] = b%d", i, i)))
			} else {
				blk = append(blk, L("clear(y%d)", i))
			}
			blk = append(blk, L("w%d := x1[(oc+%d)*%d:][:%d]", i, i, K, K))
		}
		blk = append(blk, rowsAxpy(r, K, func(kk string) string { return fmt.Sprintf("%s[(%s)*%d:]", src, kk, P) })...)
		if fused {
			for i := 0; i < r; i++ {
				blk = append(blk, jen.For(L("j, v := range y%d", i)).Block(append(k.epi(nil), L("y%d[j] = v", i))...))
			}
		}
		body = append(body, jen.For(L("m := %d", lo), L("m < %d", m), L("m += %d", r)).Block(
			append([]jen.Code{L("oc := g*%d + m", c.Mg)}, blk...)...))
	}
	if fused {
		k.fused = true
	}
	k.add(For("n", 0, c.N, For("g", 0, c.Group, body...)))
	return nil
}

// im2col fills scratch [Cg*KH*KW][OH*OW] from xg.
func (k *kfn) im2col() []jen.Code {
	c := k.s.Conv
	P := c.OH * c.OW
	var rowCopy jen.Code
	if c.SW == 1 {
		rowCopy = L("copy(rr[lo:hi], xr[lo+off:hi+off])")
	} else {
		rowCopy = For("ow", "lo", "hi", L("rr[ow] = xr[ow*%d+off]", c.SW))
	}
	return []jen.Code{
		For("c", 0, c.Cg, For("kh", 0, c.KH, For("kw", 0, c.KW,
			L("row := scratch[((c*%d+kh)*%d+kw)*%d:][:%d]", c.KH, c.KW, P, P),
			L("off := kw*%d - %d", c.DW, c.PL),
			L("lo, hi := validRange(off, %d, %d, %d)", c.SW, c.W, c.OW),
			For("oh", 0, c.OH,
				L("rr := row[oh*%d:][:%d]", c.OW, c.OW),
				L("ih := oh*%d + kh*%d - %d", c.SH, c.DH, c.PT),
				jen.If(L("ih < 0 || ih >= %d", c.H)).Block(L("clear(rr)"), jen.Continue()),
				L("xr := xg[(c*%d+ih)*%d:][:%d]", c.H, c.W, c.W),
				L("clear(rr[:lo])"),
				L("clear(rr[hi:])"),
				rowCopy,
			),
		))),
	}
}

// convDepthwise: one input channel per group; every kernel tap is a
// bounds-check-free sweep over its valid output rectangle.
func (k *kfn) convDepthwise() error {
	c := k.s.Conv
	if k.s.In[0].DType != ir.F32 || k.s.In[1].DType != ir.F32 {
		return unsupported(k.s, "conv on %v", k.s.In[0].DType)
	}
	if k.winoOK() {
		return k.convWino()
	}
	hw, P, T := c.H*c.W, c.OH*c.OW, c.KH*c.KW
	var tap jen.Code
	if c.SW == 1 {
		tap = jen.Block(
			L("xs := xr[lo+off : hi+off]"),
			L("ys := yr[lo:hi]"),
			L("ys = ys[:len(xs)]"),
			jen.For(L("j := range xs")).Block(L("ys[j] += wv * xs[j]")),
		)
	} else {
		tap = For("ow", "lo", "hi", L("yr[ow] += wv * xr[ow*%d+off]", c.SW))
	}
	body := []jen.Code{
		L("xp := x0[(n*%d+m/%d)*%d:][:%d]", c.C, c.Mg, hw, hw),
		L("yp := y[(n*%d+m)*%d:][:%d]", c.M, P, P),
	}
	if c.Bias {
		body = append(body, L("b := x2[m]"), jen.For(L("j := range yp")).Block(L("yp[j] = b")))
	} else {
		body = append(body, L("clear(yp)"))
	}
	body = append(body, L("wm := x1[m*%d:][:%d]", T, T))
	if c.SW == 1 && c.KW > 1 && c.KW <= 8 {
		// A row of taps at once: over the output columns every tap of the
		// row reads inside the input ([loC, hiC)), one sweep does all KW
		// multiply-adds; the edges go tap by tap.
		var ws, xs []jen.Code
		sum := ""
		for kw := 0; kw < c.KW; kw++ {
			ws = append(ws, L("w%d := wk[%d]", kw, kw))
			xs = append(xs, L("x%ds := xr[%s:][:len(ys)]", kw, offsetExpr([]string{"loC"}, []int{1}, kw*c.DW-c.PL)))
			if kw > 0 {
				sum += " + "
			}
			sum += fmt.Sprintf("w%d*x%ds[j]", kw, kw)
		}
		rowBody := append([]jen.Code{
			L("ih := oh*%d + kh*%d - %d", c.SH, c.DH, c.PT),
			L("xr := xp[ih*%d:][:%d]", c.W, c.W),
			L("yr := yp[oh*%d:][:%d]", c.OW, c.OW),
		}, jen.If(L("loC < hiC")).Block(append(append([]jen.Code{L("ys := yr[loC:hiC]")}, xs...),
			jen.For(L("j := range ys")).Block(L("ys[j] += %s", sum)))...))
		rowBody = append(rowBody,
			For("kw", 0, c.KW,
				L("wv := wk[kw]"),
				L("off := kw*%d - %d", c.DW, c.PL),
				L("lo, hi := validRange(off, 1, %d, %d)", c.W, c.OW),
				For("ow", "lo", "min(loC, hi)", L("yr[ow] += wv * xr[ow+off]")),
				For("ow", "max(hiC, lo)", "hi", L("yr[ow] += wv * xr[ow+off]")),
			))
		body = append(body, For("kh", 0, c.KH,
			append(append([]jen.Code{
				L("ohLo, ohHi := validRange(kh*%d-%d, %d, %d, %d)", c.DH, c.PT, c.SH, c.H, c.OH),
				L("wk := wm[kh*%d:][:%d]", c.KW, c.KW),
			}, ws...),
				L("loC, hiC := validRange(-%d, 1, %d, %d)", c.PL, c.W-(c.KW-1)*c.DW, c.OW),
				L("hiC = max(hiC, loC)"),
				For("oh", "ohLo", "ohHi", rowBody...),
			)...))
	} else {
		body = append(body, For("kh", 0, c.KH,
			L("ohLo, ohHi := validRange(kh*%d-%d, %d, %d, %d)", c.DH, c.PT, c.SH, c.H, c.OH),
			For("kw", 0, c.KW,
				L("wv := wm[kh*%d+kw]", c.KW),
				L("off := kw*%d - %d", c.DW, c.PL),
				L("lo, hi := validRange(off, %d, %d, %d)", c.SW, c.W, c.OW),
				jen.If(L("lo >= hi")).Block(jen.Continue()),
				For("oh", "ohLo", "ohHi",
					L("ih := oh*%d + kh*%d - %d", c.SH, c.DH, c.PT),
					L("xr := xp[ih*%d:][:%d]", c.W, c.W),
					L("yr := yp[oh*%d:][:%d]", c.OW, c.OW),
					tap,
				),
			),
		))
	}
	if k.unaryEpilogue() {
		body = append(body, jen.For(L("j, v := range yp")).Block(append(k.epi(nil), L("yp[j] = v"))...))
		k.fused = true
	}
	k.add(For("n", 0, c.N, For("m", 0, c.M, body...)))
	return nil
}
