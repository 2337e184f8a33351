package gosrc

import (
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// The f32 poolings.

func poolCounts(out, kern, stride, dil, pb, pe, in int, includePad bool) []float32 {
	c := make([]float32, out)
	for o := range c {
		for kk := 0; kk < kern; kk++ {
			pos := o*stride - pb + kk*dil
			if (pos >= 0 && pos < in) || (includePad && pos >= -pb && pos < in+pe) {
				c[o]++
			}
		}
	}
	return c
}

func (k *kfn) floatTable(name string, v []float32) string {
	var vals []jen.Code
	for _, f := range v {
		vals = append(vals, L("%s", strings.TrimSuffix(strings.TrimPrefix(flit(f), "float32("), ")")))
	}
	k.g.tables = append(k.g.tables, jen.Var().Id(name).Op("=").Index(jen.Lit(len(v))).Float32().Values(vals...))
	return name
}

func (k *kfn) pool() error {
	p := k.s.Pool
	if k.s.In[0].DType != ir.F32 {
		return unsupported(k.s, "pool on %v", k.s.In[0].DType)
	}
	hw, P := p.H*p.W, p.OH*p.OW
	if p.Max && p.PT == 0 && p.PL == 0 && (p.OH-1)*p.SH+(p.KH-1)*p.DH < p.H && (p.OW-1)*p.SW+(p.KW-1)*p.DW < p.W && p.KH*p.KW <= 16 {
		k.maxPoolInside()
		return nil
	}
	init := "0"
	acc := "yr[ow] += xr[ow*%d+off]"
	if p.Max {
		init = "float32(math.Inf(-1))"
	}
	var upd jen.Code
	if p.Max {
		upd = jen.If(L("xv := xr[ow*%d+off]; xv > yr[ow]", p.SW)).Block(L("yr[ow] = xv"))
	} else {
		upd = L(acc, p.SW)
	}
	body := []jen.Code{
		L("xp := x0[pl*%d:][:%d]", hw, hw),
		L("yp := y[pl*%d:][:%d]", P, P),
		jen.For(L("i := range yp")).Block(L("yp[i] = %s", init)),
		For("kh", 0, p.KH,
			L("ohLo, ohHi := validRange(kh*%d-%d, %d, %d, %d)", p.DH, p.PT, p.SH, p.H, p.OH),
			For("kw", 0, p.KW,
				L("off := kw*%d - %d", p.DW, p.PL),
				L("lo, hi := validRange(off, %d, %d, %d)", p.SW, p.W, p.OW),
				For("oh", "ohLo", "ohHi",
					L("ih := oh*%d + kh*%d - %d", p.SH, p.DH, p.PT),
					L("xr := xp[ih*%d:][:%d]", p.W, p.W),
					L("yr := yp[oh*%d:][:%d]", p.OW, p.OW),
					For("ow", "lo", "hi", upd),
				),
			),
		),
	}
	if !p.Max {
		rows := k.floatTable(k.name+"_rows", poolCounts(p.OH, p.KH, p.SH, p.DH, p.PT, p.PB, p.H, p.IncludePad))
		cols := k.floatTable(k.name+"_cols", poolCounts(p.OW, p.KW, p.SW, p.DW, p.PL, p.PR, p.W, p.IncludePad))
		body = append(body, For("oh", 0, p.OH,
			L("rv := %s[oh]", rows),
			For("ow", 0, p.OW,
				L("d := rv * %s[ow]", cols),
				L("i := oh*%d + ow", p.OW),
				jen.If(L("d > 0")).Block(L("yp[i] = yp[i] / d")).Else().Block(L("yp[i] = 0")),
			)))
	}
	k.add(For("pl", 0, p.Planes, body...))
	return nil
}

// maxPoolInside: a max pool whose windows all lie inside the input takes
// each output from its taps unrolled (no per-tap range), compared as rt
// does (from -∞, a tap replaces the max only if greater: NaNs skipped).
func (k *kfn) maxPoolInside() {
	p := k.s.Pool
	hw, P := p.H*p.W, p.OH*p.OW
	span := (p.OW-1)*p.SW + (p.KW-1)*p.DW + 1
	rows := []jen.Code{L("yr := yp[oh*%d:][:%d]", p.OW, p.OW)}
	taps := []jen.Code{L("i := ow * %d", p.SW), L("s := float32(math.Inf(-1))")}
	for kh := 0; kh < p.KH; kh++ {
		rows = append(rows, L("r%d := xp[(oh*%d+%d)*%d:][:%d]", kh, p.SH, kh*p.DH, p.W, span))
		for kw := 0; kw < p.KW; kw++ {
			taps = append(taps, jen.If(L("v := r%d[i+%d]; v > s", kh, kw*p.DW)).Block(L("s = v")))
		}
	}
	k.add(For("pl", 0, p.Planes,
		L("xp := x0[pl*%d:][:%d]", hw, hw),
		L("yp := y[pl*%d:][:%d]", P, P),
		For("oh", 0, p.OH, append(rows, jen.For(L("ow := range yr")).Block(append(taps, L("yr[ow] = s"))...))...)))
}

func (k *kfn) globalAvgPool() error {
	in := k.s.In[0].Shape
	if k.s.In[0].DType != ir.F32 || len(in) < 2 {
		return unsupported(k.s, "global_avgpool on %v%v", k.s.In[0].DType, ir.FormatShape(in))
	}
	planes := in[0] * in[1]
	sz := ir.NumElements(in[2:])
	k.add(For("pl", 0, planes,
		L("var s float32"),
		jen.For(L("_, v := range x0[pl*%d:][:%d]", sz, sz)).Block(L("s += v")),
		L("y[pl] = s / %d", sz),
	))
	return nil
}
