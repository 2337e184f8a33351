package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// The last output channels of a lane-packed conv.
//
// When a group's channel count is not a multiple of a word's lanes, the
// last word holds one or two channels and its multiplies do one or two
// products. Those channels are computed with pixel lanes instead (as the
// depthwise kernel, intdwlanes.go): each padded input row becomes words of
// three pixels T·SW apart, and one multiply by a tap's weight accumulates
// three output columns of the channel. The lane sums over all the
// channel's taps must stay within 21 bits (no chunks), which
// pixelRestPlan checks from the constant weights.

// pixelPlan is the shape of the pixel-lane words of a conv: T output
// columns per lane, jw words per padded row, the padded rows at least minW
// wide.
type pixelPlan struct {
	T, jw, span, minW int
	cc                int // input channels summed between two extractions
}

// pixelRestPlan reports whether the channels [m0, Mg) of every group can
// be computed with pixel lanes (w the constant weights [M][K], inputs of
// magnitude at most xmax, unsigned per laneUnsigned).
func (k *kfn) pixelRestPlan(w []int64, m0 int, xmax int64) (pixelPlan, bool) {
	c := k.s.Conv
	if c.Pointwise || m0 == c.Mg || m0 == 0 || c.OW < 3 || c.KW > 8 || c.KH*c.KW > 25 {
		return pixelPlan{}, false
	}
	K, taps := c.Cg*c.KH*c.KW, c.KH*c.KW
	bound := int64(1) << (dwLaneBits - 1)
	// fits reports whether every chunk of cc input channels keeps the
	// lane sums within bound.
	fits := func(cc int) bool {
		for g := 0; g < c.Group; g++ {
			for m := g*c.Mg + m0; m < (g+1)*c.Mg; m++ {
				for c0 := 0; c0 < c.Cg; c0 += cc {
					var pos, neg int64
					for _, v := range w[m*K+c0*taps : m*K+min(c0+cc, c.Cg)*taps] {
						if v > 0 {
							pos += v
						} else {
							neg -= v
						}
					}
					s := pos + neg
					if k.laneUnsigned() {
						s = max(pos, neg)
					}
					if s*xmax >= bound {
						return false
					}
				}
			}
		}
		return true
	}
	cc := c.Cg
	for cc > 0 && !fits(cc) {
		cc = (cc + 1) / 2
		if cc == 1 && !fits(1) {
			return pixelPlan{}, false
		}
	}
	T := (c.OW + 2) / 3
	span := (c.KW-1)*c.DW + 1
	jw := (T-1)*c.SW + span
	return pixelPlan{T: T, jw: jw, span: span, minW: 2*T*c.SW + jw, cc: cc}, true
}

// pixelRest is the code of the channels [m0, Mg) of group g with pixel
// lanes, reading the padded input xp (rows wp wide) of lanePad; zw is the
// table of folded zero points.
func (k *kfn) pixelRest(px pixelPlan, w []int64, m0, wp int, zw string) []jen.Code {
	c := k.s.Conv
	hp, _ := k.padDims()
	K, P, taps := c.Cg*c.KH*c.KW, c.OH*c.OW, c.KH*c.KW
	rest := c.Mg - m0
	useB := k.laneB(k.laneZX())
	xq, wname := k.name+"_xq", k.name+"_pxw"
	var wv []int64
	for g := 0; g < c.Group; g++ {
		wv = append(wv, w[(g*c.Mg+m0)*K:(g+1)*c.Mg*K]...)
	}
	var lits []jen.Code
	for _, v := range wv {
		lits = append(lits, jen.Lit(int(v)))
	}
	k.g.tables = append(k.g.tables,
		jen.Commentf("%s holds %s's padded input as words of three pixels %d columns apart.", xq, k.name, px.T*c.SW).Line().
			Var().Id(xq).Index(jen.Lit(c.Cg*hp*px.jw)).Int64(),
		jen.Commentf("%s holds the weights of %s's last %d channels of each group (pixel lanes).", wname, k.name, rest).Line().
			Var().Id(wname).Op("=").Index(jen.Lit(len(wv))).Int64().Values(lits...))
	var acc []jen.Code
	for kh := 0; kh < c.KH; kh++ {
		sum := ""
		for kw := 0; kw < c.KW; kw++ {
			if kw > 0 {
				sum += " + "
			}
			sum += fmt.Sprintf("r%d[%d]*wc[%d]", kh, kw*c.DW, kh*c.KW+kw)
		}
		acc = append(acc, L("r%d := xq[(c*%d+oh*%d+%d)*%d+ow*%d:][:%d]", kh, hp, c.SH, kh*c.DH, px.jw, c.SW, px.span), L("a += %s", sum))
	}
	sh := 64 - dwLaneBits
	store := func(n int) []jen.Code {
		sum := append([]jen.Code{L("wc := wv[c*%d:][:%d]", taps, taps)}, acc...)
		extract := []jen.Code{
			L("e0 := a << %d >> %d", sh, sh),
			L("a = (a - e0) >> %d", dwLaneBits),
			L("e1 := a << %d >> %d", sh, sh),
			L("e2 := (a - e1) >> %d", dwLaneBits)}
		var out []jen.Code
		if px.cc == c.Cg {
			out = append([]jen.Code{L("var a int64"), For("c", 0, c.Cg, sum...)}, extract[:3]...)
			if n == 3 {
				out = append(out, extract[3])
			}
		} else {
			// Lanes extracted every cc input channels (the sums' bound).
			out = []jen.Code{L("var e0, e1, e2 int64"), jen.For(L("c0 := 0"), L("c0 < %d", c.Cg), L("c0 += %d", px.cc)).Block(
				L("var a int64"),
				jen.For(L("c := c0"), L("c < min(c0+%d, %d)", px.cc, c.Cg), L("c++")).Block(sum...),
				L("f0 := a << %d >> %d", sh, sh),
				L("a = (a - f0) >> %d", dwLaneBits),
				L("f1 := a << %d >> %d", sh, sh),
				L("e0, e1, e2 = e0+f0, e1+f1, e2+(a-f1)>>%d", dwLaneBits))}
		}
		out = append(out, L("j := oh*%d + ow", c.OW))
		for l := 0; l < n; l++ {
			out = append(out, k.laneFinish(fmt.Sprintf("yp[j+%d]", l*px.T), fmt.Sprintf("e%d", l), "cw", "q", "qb", useB))
		}
		return out
	}
	n2 := c.OW - 2*px.T
	rows := []jen.Code{For("ow", 0, n2, store(3)...)}
	if n2 < px.T {
		rows = append(rows, For("ow", n2, px.T, store(2)...))
	}
	return []jen.Code{
		L("xq := %s[:]", xq),
		For("i", 0, c.Cg*hp,
			L("xr := xp[i*%d:][:%d]", wp, wp),
			L("wr := xq[i*%d:][:%d]", px.jw, px.jw),
			jen.For(L("j := range wr")).Block(L("wr[j] = int64(xr[j]) + int64(xr[j+%d])<<%d + int64(xr[j+%d])<<%d",
				px.T*c.SW, dwLaneBits, 2*px.T*c.SW, 2*dwLaneBits))),
		For("mr", 0, rest,
			L("oc := g*%d + %d + mr", c.Mg, m0),
			L("wv := %s[(g*%d+mr)*%d:][:%d]", wname, rest, K, K),
			L("cw := x2[oc] - %s[oc]", zw),
			k.rqPrep("q", "oc"),
			qbPrep(useB),
			L("yp := y[(n*%d+oc)*%d:][:%d]", c.M, P, P),
			For("oh", 0, c.OH, rows...)),
	}
}
