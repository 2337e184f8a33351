package gosrc

import (
	"fmt"
	"math"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Resize and transposed convolution, computed in rt's order of float
// operations (products rounded explicitly, so that no target fuses them
// into an FMA that rt's amd64 build does not do).

func init() {
	extraKernels[codegen.KResize] = (*kfn).resize
	extraKernels[codegen.KConvTranspose] = (*kfn).convTranspose
}

// f32Only reports the step unsupported unless its operands are all f32.
func (k *kfn) f32Only() error {
	for _, o := range append(k.s.In[:len(k.s.In):len(k.s.In)], k.s.Out) {
		if o.DType != ir.F32 {
			return unsupported(k.s, "%s on %v", k.s.Kernel, o.DType)
		}
	}
	if len(k.s.Epilogue) > 0 && k.s.Loop == nil {
		return unsupported(k.s, "%s with an epilogue but no loop", k.s.Kernel)
	}
	return nil
}

// offsetAt is the Go expression (an int) of tab[o]: affine in o when the
// table is (a dim the resize keeps, or scales by an integer ratio down),
// else a lookup in a package-level int32 table named name; table is that
// name, "" for an affine expression.
func (k *kfn) offsetAt(name string, tab []int, o string) (expr, table string, err error) {
	if step, ok := affineStep(tab); ok {
		switch {
		case step == 0:
			return fmt.Sprint(tab[0]), "", nil
		case tab[0] == 0:
			return offsetExpr([]string{o}, []int{step}, 0), "", nil
		}
		return fmt.Sprintf("%d+%s", tab[0], offsetExpr([]string{o}, []int{step}, 0)), "", nil
	}
	v := make([]int64, len(tab))
	for i, x := range tab {
		if x < 0 || x > math.MaxInt32 {
			return "", "", unsupported(k.s, "resize offset %d beyond int32", x)
		}
		v[i] = int64(x)
	}
	k.intTable(name, v)
	return fmt.Sprintf("int(%s[%s])", name, o), name, nil
}

// resize: per output element, rt's sum s = 0, then for every corner c of
// the blending dims (bit b of c: the second input coordinate of the b-th
// blending dim) with weight w (the dims' weights multiplied in dim order)
// not zero, s += w·x. Per-dim work sits in that dim's loop: the offsets of
// the kept dims add into a base, the blending dims' weight products and
// corner offsets are formed as their loops are entered. Where a kept dim
// (not the innermost) reads the same input coordinate as the previous
// output coordinate (nearest upsampling), the block is a copy of the one
// before it.
func (k *kfn) resize() error {
	if k.s.Out.DType == ir.F32 || k.s.Out.DType != k.s.In[0].DType {
		if err := k.f32Only(); err != nil {
			return err
		}
	}
	r := k.s.Resize
	shape := r.Shape
	for _, n := range shape {
		if n == 0 {
			return nil
		}
	}
	ostr := ir.Strides(shape)
	rank := len(shape)
	if rank == 0 {
		k.add(L("y[0] = 0 + x0[0]"))
		return nil
	}
	type corner struct{ w, off string } // weight ("" for 1) and offset expressions
	var level func(d int, base, yo string, cs []corner) ([]jen.Code, error)
	level = func(d int, base, yo string, cs []corner) ([]jen.Code, error) {
		o := fmt.Sprintf("o%d", d)
		m := r.Dims[d]
		nm := fmt.Sprintf("%s_d%d", k.name, d)
		var body []jen.Code
		ynext := o
		if yo != "0" {
			ynext = yo + "+" + o
		}
		if d < rank-1 {
			ynext = fmt.Sprintf("y%d", d)
			outer := 1 // yo's stride: none when yo is "0"
			if yo == "0" {
				outer = 0
			}
			body = append(body, L("%s := %s", ynext, offsetExpr([]string{yo, o}, []int{outer, ostr[d]}, 0)))
		}
		if !m.Lerp {
			e, tab, err := k.offsetAt(nm+"_i", m.I0, o)
			if err != nil {
				return nil, err
			}
			if dup := dupCond(m.I0, tab, o); dup != "" && d < rank-1 {
				body = append(body, jen.If(L("%s", dup)).Block(
					L("copy(y[%s:][:%d], y[%s-%d:][:%d])", ynext, ostr[d], ynext, ostr[d], ostr[d]),
					jen.Continue()))
			}
			nb := fmt.Sprintf("b%d", d)
			if base == "0" {
				body = append(body, L("%s := %s", nb, e))
			} else {
				body = append(body, L("%s := %s + %s", nb, base, e))
			}
			base = nb
		} else {
			e0, _, err := k.offsetAt(nm+"_i0", m.I0, o)
			if err != nil {
				return nil, err
			}
			e1, _, err := k.offsetAt(nm+"_i1", m.I1, o)
			if err != nil {
				return nil, err
			}
			w0 := make([]float32, len(m.W1))
			for i, f := range m.W1 {
				w0[i] = 1 - f
			}
			t0, t1 := k.floatTable(nm+"_w0", w0), k.floatTable(nm+"_w1", m.W1)
			body = append(body, L("p%d, q%d := %s, %s", d, d, e0, e1),
				L("u%d, v%d := %s[%s], %s[%s]", d, d, t0, o, t1, o))
			// This dim is the highest bit of the corner number so far: the
			// corners [0, n) read p and weigh u, [n, 2n) read q and weigh v.
			var next []corner
			for hi, pq := range []string{"p", "q"} {
				wt := fmt.Sprintf("%s%d", map[string]string{"p": "u", "q": "v"}[pq], d)
				for j, c := range cs {
					nc := corner{w: wt, off: fmt.Sprintf("%s%d", pq, d)}
					if c.w != "" {
						nc.w = fmt.Sprintf("w%d_%d", d, hi*len(cs)+j)
						body = append(body, L("%s := %s * %s", nc.w, c.w, wt))
					}
					if c.off != "" {
						nc.off = fmt.Sprintf("f%d_%d", d, hi*len(cs)+j)
						body = append(body, L("%s := %s + %s%d", nc.off, c.off, pq, d))
					}
					next = append(next, nc)
				}
			}
			cs = next
		}
		if d < rank-1 {
			inner, err := level(d+1, base, ynext, cs)
			if err != nil {
				return nil, err
			}
			body = append(body, inner...)
			return []jen.Code{For(o, 0, shape[d], body...)}, nil
		}
		at := func(off string) string {
			switch {
			case off == "":
				return base
			case base == "0":
				return off
			}
			return base + "+" + off
		}
		if len(cs) == 1 && cs[0].w == "" {
			body = append(body, L("y[%s] = 0 + x0[%s]", ynext, at(cs[0].off)))
		} else {
			body = append(body, L("s := float32(0)"))
			for _, c := range cs {
				body = append(body, jen.If(L("%s != 0", c.w)).Block(L("s += float32(%s * x0[%s])", c.w, at(c.off))))
			}
			body = append(body, L("y[%s] = s", ynext))
		}
		return []jen.Code{For(o, 0, shape[d], body...)}, nil
	}
	code, err := level(0, "0", "0", []corner{{}})
	if err != nil {
		return err
	}
	k.add(code...)
	return nil
}

// affineStep returns step when tab[i] = tab[0] + i·step for every i.
func affineStep(tab []int) (step int, ok bool) {
	if len(tab) > 1 {
		step = tab[1] - tab[0]
	}
	for i := 2; i < len(tab); i++ {
		if tab[i]-tab[i-1] != step {
			return 0, false
		}
	}
	return step, true
}

// dupCond is the condition under which output coordinate o of a kept dim
// reads the same input coordinate as o-1 ("" when none does): tab is
// the name of tab's package-level table, "" when affine.
func dupCond(v []int, tab, o string) string {
	for i := 1; i < len(v); i++ {
		if v[i] == v[i-1] {
			if tab == "" {
				return o + " > 0"
			}
			return fmt.Sprintf("%s > 0 && %s[%s] == %s[%s-1]", o, tab, o, tab, o)
		}
	}
	return ""
}

// convTranspose computes rt's col = Wᵀ·X then col2im, output row by output
// row: a row starts at 0; for each kernel row kh whose input row ih
// exists and each kernel column kw (in rt's kernel-offset order), the
// column of col for (m, kh, kw) over the input row, Σ over the group's
// input channels of w·x in rt's GEMM order (blocks of 256 channels summed
// into the column after each other; without blocks and skipping zero
// weights where rt's GEMM takes its small path), is added at the output
// positions iw·SW + kw·DW - PL; then the bias.
func (k *kfn) convTranspose() error {
	if err := k.f32Only(); err != nil {
		return err
	}
	c := k.s.Conv
	if c.N*c.M*c.OH*c.OW == 0 {
		return nil
	}
	kk, hw, osz := c.KH*c.KW, c.H*c.W, c.OH*c.OW
	small := c.Mg*kk < 2 || hw < 4 // rt's smallGemm: rows or columns too few
	const kc = 256                 // rt's GEMM depth block
	blocked := !small && c.Cg > kc
	col := k.name + "_col"
	k.g.tables = append(k.g.tables, jen.Commentf("%s holds a column of %s's Wᵀ·X per kernel column over an input row.", col, k.name).Line().
		Var().Id(col).Index(jen.Lit(c.KW*c.W)).Float32())
	acc := "t"
	if blocked {
		acc = "bk"
		k.g.tables = append(k.g.tables, jen.Commentf("%s holds one block of %d input channels of %s.", col+"_blk", kc, col).Line().
			Var().Id(col+"_blk").Index(jen.Lit(c.KW*c.W)).Float32())
	}
	// sweep adds input channels [ci, end) into acc, unrolled (but for rt's
	// small path, which skips zero weights) by four channels, each column
	// element loaded and stored once per four products added in order.
	sweep := func(end string) []jen.Code {
		pass := func(u int) []jen.Code {
			var head, inner, rows []jen.Code
			body := []jen.Code{L("v := ts[i]")}
			for j := 0; j < u; j++ {
				cj := "ci"
				if j > 0 {
					cj = fmt.Sprintf("(ci+%d)", j)
				}
				head = append(head, L("xr%d := xg[%s*%d+ih*%d:][:%d]", j, cj, hw, c.W, c.W),
					L("wr%d := x1[((g*%d+%s)*%d+m)*%d+kh*%d:][:%d]", j, c.Cg, cj, c.Mg, kk, c.KW, c.KW))
				inner = append(inner, L("w%d := wr%d[kw]", j, j))
				rows = append(rows, L("a%d := xr%d[lo[kw]:hi[kw]][:len(ts)]", j, j))
				body = append(body, L("v += float32(w%d * a%d[i])", j, j))
			}
			if small {
				inner = append(inner, jen.If(L("w0 == 0")).Block(jen.Continue()))
			}
			inner = append(inner, L("ts := %s[kw*%d+lo[kw]:][:hi[kw]-lo[kw]]", acc, c.W))
			inner = append(append(inner, rows...), jen.For(L("i := range ts")).Block(append(body, L("ts[i] = v"))...))
			return append(head, For("kw", 0, c.KW, inner...), L("ci += %d", u))
		}
		var out []jen.Code
		if !small {
			out = append(out, jen.For(L("ci+4 <= %s", end)).Block(pass(4)...))
		}
		return append(out, jen.For(L("ci < %s", end)).Block(pass(1)...))
	}
	var dot []jen.Code
	if blocked {
		dot = []jen.Code{jen.For(L("pc := 0"), L("pc < %d", c.Cg), L("pc += %d", kc)).Block(append(append([]jen.Code{
			L("clear(bk)"),
			L("ci, end := pc, min(pc+%d, %d)", kc, c.Cg)},
			sweep("end")...),
			jen.If(L("pc == 0")).Block(L("copy(t, bk)")).Else().Block(
				jen.For(L("i, v := range bk")).Block(L("t[i] += v"))))...),
		}
	} else {
		dot = append([]jen.Code{L("clear(t)"), L("ci := 0")}, sweep(fmt.Sprint(c.Cg))...)
	}
	ih := "oh - kh"
	if c.DH != 1 {
		ih += fmt.Sprintf("*%d", c.DH)
	}
	if c.PT != 0 {
		ih += fmt.Sprintf(" + %d", c.PT)
	}
	row := []jen.Code{L("ih := %s", ih)}
	if c.SH != 1 {
		row = append(row, jen.If(L("ih < 0 || ih%%%d != 0", c.SH)).Block(jen.Continue()), L("ih /= %d", c.SH))
	} else {
		row = append(row, jen.If(L("ih < 0")).Block(jen.Continue()))
	}
	row = append(row, jen.If(L("ih >= %d", c.H)).Block(jen.Continue()))
	row = append(row, dot...)
	row = append(row, For("kw", 0, c.KW,
		L("ts := t[kw*%d:][:%d]", c.W, c.W),
		jen.For(L("iw := lo[kw]"), L("iw < hi[kw]"), L("iw++")).Block(
			L("yr[%s] += ts[iw]", offsetExpr([]string{"iw", "kw"}, []int{c.SW, c.DW}, -c.PL)))))
	out := []jen.Code{
		L("yr := yp[oh*%d:][:%d]", c.OW, c.OW),
		L("clear(yr)"),
		For("kh", 0, c.KH, row...),
	}
	if c.Bias {
		out = append(out, L("b := x2[oc]"), jen.For(L("i := range yr")).Block(L("yr[i] += b")))
	}
	k.add(L("t := %s[:]", col))
	if blocked {
		k.add(L("bk := %s_blk[:]", col))
	}
	// The input columns [lo, hi) of kernel column kw that land in the output.
	k.add(L("var lo, hi [%d]int", c.KW),
		jen.For(L("kw := range lo")).Block(L("lo[kw], hi[kw] = validRange(kw*%d-%d, %d, %d, %d)", c.DW, c.PL, c.SW, c.OW, c.W)))
	k.add(For("n", 0, c.N, For("g", 0, c.Group,
		L("xg := x0[(n*%d+g*%d)*%d:][:%d]", c.C, c.Cg, hw, c.Cg*hw),
		For("m", 0, c.Mg,
			L("oc := g*%d + m", c.Mg),
			L("yp := y[(n*%d+oc)*%d:][:%d]", c.M, osz, osz),
			For("oh", 0, c.OH, out...)))))
	return nil
}
