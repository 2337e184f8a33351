package gosrc

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// Depthwise integer convolutions with lane-packed pixels.
//
// A true depthwise conv (one output channel per input channel) has no
// channels to pack into a weight word, so the kernel packs pixels instead:
// an output row is cut into three segments of T columns, and one int64
// word holds the input pixels of the three segments at the same offset
// (lanes of 21 bits: x(j) + x(j+T·SW)·2²¹ + x(j+2T·SW)·2⁴²). One multiply
// of such a word by a tap's weight then accumulates the tap for three
// outputs. The words are built once per input row (xq, from a copy of the
// channel padded with its zero point) and every tap of the kernel reads
// them. The lanes are exact (see intlanes.go) when Σ|w|·max|x| over the
// taps stays below 2²⁰, which dwLanesFit checks at generation time.

// dwLaneBits is the width of a pixel lane.
const dwLaneBits = 21

// dwLanesFit reports whether the channels' lane sums stay within
// [-2²⁰, 2²⁰): from the constant weights when they are known, else from
// the largest magnitude of the weight type.
func (k *kfn) dwLanesFit(taps int, xmax int64) bool {
	bound := int64(1) << (dwLaneBits - 1)
	if w, ok := k.g.weightInts(k.s.In[1]); ok {
		for m := 0; m < len(w)/taps; m++ {
			var s int64
			for _, v := range w[m*taps:][:taps] {
				s += max(v, -v)
			}
			if s*xmax >= bound {
				return false
			}
		}
		return true
	}
	return k.s.In[1].DType == ir.I8 && int64(taps)*128*xmax < bound
}

// intDepthwiseLanes emits the depthwise conv with pixel lanes; it reports
// false (emitting nothing) when the conv does not suit it.
func (k *kfn) intDepthwiseLanes() (bool, error) {
	s, c := k.s, k.s.Conv
	if c.Mg != 1 || c.Cg != 1 || c.OW < 3 || c.KH*c.KW > 25 || c.KW > 8 || !isInt8(s.In[0].DType) || !isPackedWeight(s.In[1].DType) {
		return false, nil
	}
	xmax := int64(128)
	if s.In[0].DType == ir.U8 {
		xmax = 255
	}
	taps := c.KH * c.KW
	if !k.dwLanesFit(taps, xmax) {
		return false, nil
	}
	if _, err := k.finishPrep("y[0]", "0", "q"); err != nil {
		return false, err
	}
	t, _ := goType(s.In[0].DType)
	zx := s.Rq.ZX
	T := (c.OW + 2) / 3
	span := (c.KW-1)*c.DW + 1
	jw := (T-1)*c.SW + span                            // packed words per row
	hp := max((c.OH-1)*c.SH+(c.KH-1)*c.DH+1, c.PT+c.H) // padded rows
	wp := max(2*T*c.SW+jw, c.PL+c.W)                   // padded row width
	hw, P := c.H*c.W, c.OH*c.OW
	pad, xq := k.name+"_pad", k.name+"_xq"
	k.g.tables = append(k.g.tables,
		jen.Commentf("%s is a channel of %s's input with its padding (zero points).", pad, k.name).Line().
			Var().Id(pad).Index(jen.Lit(hp*wp)).Id(t),
		jen.Commentf("%s holds %s's padded channel as words of three pixels T=%d columns apart.", xq, k.name, T*c.SW).Line().
			Var().Id(xq).Index(jen.Lit(hp*jw)).Int64())

	// The words of one output: rows of taps, the row's weights in turn.
	var acc []jen.Code
	for kh := 0; kh < c.KH; kh++ {
		var sum string
		for kw := 0; kw < c.KW; kw++ {
			if kw > 0 {
				sum += " + "
			}
			sum += fmt.Sprintf("r[%d]*wv[%d]", kw*c.DW, kh*c.KW+kw)
		}
		op := "+="
		if kh == 0 {
			op = ":="
		}
		acc = append(acc, L("r%d := xq[(oh*%d+%d)*%d+ow*%d:][:%d]", kh, c.SH, kh*c.DH, jw, c.SW, span), L("a %s %s", op, strings.ReplaceAll(sum, "r[", fmt.Sprintf("r%d[", kh))))
	}
	// store writes the lanes [0, lanes) of a: e0 and e1 sign-extended from
	// the low bits, e2 what remains.
	useB := k.laneB(int64(zx))
	sh := 64 - dwLaneBits
	store := func(n int) []jen.Code {
		out := append(append([]jen.Code{}, acc...),
			L("e0 := a << %d >> %d", sh, sh),
			L("a = (a - e0) >> %d", dwLaneBits),
			L("e1 := a << %d >> %d", sh, sh))
		if n == 3 {
			out = append(out, L("e2 := (a - e1) >> %d", dwLaneBits))
		}
		out = append(out, L("j := oh*%d + ow", c.OW))
		for l := 0; l < n; l++ {
			out = append(out, k.laneFinish(fmt.Sprintf("yp[j+%d]", l*T), fmt.Sprintf("e%d", l), "cw", "q", "qb", useB))
		}
		return out
	}
	n2 := c.OW - 2*T // columns whose third lane is an output
	rows := []jen.Code{For("ow", 0, n2, store(3)...)}
	if n2 < T {
		rows = append(rows, For("ow", n2, T, store(2)...))
	}
	var packed []string
	for l := 0; l < 3; l++ {
		term := fmt.Sprintf("int64(xr[j+%d])", l*T*c.SW)
		if l > 0 {
			term += fmt.Sprintf("<<%d", l*dwLaneBits)
		}
		packed = append(packed, term)
	}
	body := []jen.Code{
		L("xg := x0[(n*%d+m)*%d:][:%d]", c.C, hw, hw),
		For("h", 0, c.H, L("copy(xp[(h+%d)*%d+%d:][:%d], xg[h*%d:][:%d])", c.PT, wp, c.PL, c.W, c.W, c.W)),
		For("h", 0, hp,
			L("xr := xp[h*%d:][:%d]", wp, wp),
			L("wr := xq[h*%d:][:%d]", jw, jw),
			jen.For(L("j := range wr")).Block(L("wr[j] = %s + %s + %s", packed[0], packed[1], packed[2]))),
		L("wm := x1[m*%d:][:%d]", taps, taps),
		L("var wv [%d]int64", taps),
		L("var sw int32"),
		jen.For(L("i, w := range wm")).Block(L("wv[i] = int64(w)"), L("sw += int32(w)")),
		// bias - zx·Σw: the zero point folded out (wrapping int32 as rt's).
		L("cw := x2[m] - %d*sw", zx),
		k.rqPrep("q", "m"),
		qbPrep(useB),
		L("yp := y[(n*%d+m)*%d:][:%d]", c.M, P, P),
		For("oh", 0, c.OH, rows...),
	}
	k.add(L("xp := %s[:]", pad), L("xq := %s[:]", xq),
		jen.For(L("i := range xp")).Block(L("xp[i] = %d", zx)),
		For("n", 0, c.N, For("m", 0, c.M, body...)))
	return true, nil
}
