package gosrc

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Integer convolutions with lane-packed weights.
//
// Plain Go has no SIMD, but one 64-bit multiply can do several 8-bit
// products at once: the constant weights of three output channels are
// packed into one int64 word (lanes of 21 bits: w0 + w1·2²¹ + w2·2⁴²),
// and x·word accumulates x·w0, x·w1 and x·w2 in their lanes. The sums are
// exact modulo 2⁶⁴, so each lane is recovered exactly (sign-extending the
// low bits, subtracting, shifting) as long as its sum lies in
// [-2²⁰, 2²⁰): the plan (planLanes) checks that at generation time from
// the weights (Σ|w|·max|x| over every chunk of k between two
// extractions), and falls back to two lanes of 32 bits, then to the plain
// kernel. The integer sums are then the same as rt's int32 ones (which
// cannot wrap within those bounds), so results stay bit-identical.
//
// The kernel computes a tile of one word (up to three channels) by
// laneCols output columns with the accumulators in registers and k
// innermost, then requantizes the tile straight into the output.

// laneCols is the number of output columns of one tile (accumulators).
const laneCols = 6

// lanePlan is the packing of a constant weight matrix: lanes channels per
// int64 word, lane l at bit l·width, the lanes extracted every chunk k.
type lanePlan struct {
	lanes, width, chunk int
}

// weightInts returns the values of a constant integer operand.
func (g *gen) weightInts(o codegen.Operand) ([]int64, bool) {
	if o.Space != codegen.Weights {
		return nil, false
	}
	n := ir.NumElements(o.Shape)
	es := o.DType.Size()
	if o.Offset < 0 || o.Offset+int64(n*es) > int64(len(g.p.Weights)) {
		return nil, false
	}
	b := g.p.Weights[o.Offset:]
	v := make([]int64, n)
	for i := range v {
		switch o.DType {
		case ir.I8:
			v[i] = int64(int8(b[i]))
		case ir.I16:
			v[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case ir.I32:
			v[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		default:
			return nil, false
		}
	}
	return v, true
}

// planLanes picks the packing of w [rows][K] against inputs of magnitude
// at most xmax (in [0, xmax] when unsigned): three lanes if every lane sum
// over chunks of at least 16 k stays within 21 bits, else two lanes of 32
// bits. Chunks are multiples of unit k (the kernel extracts between rows
// of taps). A lane sum of signed inputs is bounded by Σ|w|·xmax; of
// unsigned ones by the larger of Σw over w > 0 and Σ|w| over w < 0, times
// xmax.
func planLanes(w []int64, rows, K, unit int, xmax int64, unsigned bool) (lanePlan, bool) {
	fits := func(c int, bound int64) bool {
		for r := 0; r < rows; r++ {
			row := w[r*K:][:K]
			for k0 := 0; k0 < K; k0 += c {
				var pos, neg int64
				for _, v := range row[k0:min(k0+c, K)] {
					if v > 0 {
						pos += v
					} else {
						neg -= v
					}
				}
				s := pos + neg
				if unsigned {
					s = max(pos, neg)
				}
				if s*xmax >= bound {
					return false
				}
			}
		}
		return true
	}
	for _, p := range []struct{ lanes, width, minChunk int }{{3, 21, 16}, {2, 32, 1}} {
		bound := int64(1) << (p.width - 1)
		// The fewest chunks: K/n rounded up to a multiple of unit for n up
		// to 8, then unit times the powers of two below, largest first.
		var cands []int
		for n := 1; n <= 8; n++ {
			cands = append(cands, ((K+n-1)/n+unit-1)/unit*unit)
		}
		var pows []int
		for n := 1; n*unit < cands[7]; n *= 2 {
			pows = append([]int{n * unit}, pows...)
		}
		cands = append(cands, pows...)
		last := 0
		for _, c := range cands {
			if c != last && c >= min(p.minChunk, K) && fits(c, bound) {
				return lanePlan{p.lanes, p.width, c}, true
			}
			last = c
		}
	}
	return lanePlan{}, false
}

// intConvLanes emits the integer conv with lane-packed constant weights;
// it reports false (emitting nothing) when the weights are not constant
// or do not fit a plan.
func (k *kfn) intConvLanes() (bool, error) {
	s, c := k.s, k.s.Conv
	if s.Rq.BRuntime || !isInt8(s.In[0].DType) || !isPackedWeight(s.In[1].DType) || s.Scratch == nil {
		return false, nil
	}
	w, ok := k.g.weightInts(s.In[1])
	K, P := c.Cg*c.KH*c.KW, c.OH*c.OW
	if !ok || len(w) != c.M*K {
		return false, nil
	}
	xmax := int64(128)
	if s.In[0].DType == ir.U8 || k.laneUnsigned() {
		xmax = 255
	}
	unit := 1
	if !c.Pointwise {
		unit = c.KW
	}
	pl, ok := planLanes(w, c.M, K, unit, xmax, k.laneUnsigned())
	if !ok {
		return false, nil
	}
	if _, err := k.finish("yr[0]", "0", "oc"); err != nil {
		return false, err
	}
	// zx·Σw per channel, folded out of the sums (wrapping int32 as rt's).
	zws := make([]int64, c.M)
	for m := range zws {
		if k.laneUnsigned() {
			break // the inputs are read as x - zx
		}
		var sum int32
		for _, v := range w[m*K:][:K] {
			sum += int32(v)
		}
		zws[m] = int64(s.Rq.ZX * sum)
	}
	zwName := k.intTable(k.name+"_zw", zws)
	nw := (c.Mg + pl.lanes - 1) / pl.lanes
	wName := k.name + "_lanes"
	wsrc, err := k.g.operand(s.In[1])
	if err != nil {
		return false, err
	}
	// Mixed words (intmixed.go): F float64 channels beside the lanes.
	F, restPx := k.mixedFloats(w, pl, xmax)
	var fName, restName string
	if F > 0 {
		wName, fName = k.mixedTables(wsrc, pl, F)
	} else {
		k.g.tables = append(k.g.tables, jen.Comment(fmt.Sprintf("%s holds the weights of %s, %d output channels per int64 word (lanes of %d bits).",
			wName, k.name, pl.lanes, pl.width)).Line().
			Var().Id(wName).Op("=").Id("packLanes").Call(L("%s, %d, %d, %d, %d, %d", wsrc, c.Group, c.Mg, K, pl.lanes, pl.width)))
		k.g.lanes = true
	}

	hw := c.H * c.W
	body := []jen.Code{L("xg := x0[(n*%d+g*%d)*%d:][:%d]", c.C, c.Cg, hw, c.Cg*hw)}
	src := laneSrc{pointwise: c.Pointwise, P: P, SW: c.SW}
	if c.Pointwise && k.laneUnsigned() && s.In[0].DType == ir.I8 {
		// x - zx = x + 128 as uint8 (zero-extending loads).
		xu := k.name + "_u"
		k.g.tables = append(k.g.tables, jen.Commentf("%s is a group of %s's input as x - zx (uint8).", xu, k.name).Line().
			Var().Id(xu).Index(jen.Lit(c.Cg*hw)).Uint8())
		body = []jen.Code{L("xs := x0[(n*%d+g*%d)*%d:][:%d]", c.C, c.Cg, hw, c.Cg*hw), L("xg := %s[:]", xu),
			jen.For(L("i, v := range xs")).Block(L("xg[i] = uint8(v) ^ 0x80"))}
	}
	full := c.Mg / (pl.lanes + F)
	rest := c.Mg - full*(pl.lanes+F)
	px, pxOK := k.pixelRestPlan(w, full*(pl.lanes+F), xmax)
	if F > 0 {
		pxOK = pxOK && restPx
	}
	if F > 0 && rest > 0 && !pxOK {
		// The rest as one word of integer lanes of its own.
		restName = k.name + "_rest"
		k.g.tables = append(k.g.tables, jen.Commentf("%s holds the weights of %s's last %d channels (one word of int64 lanes).", restName, k.name, rest).Line().
			Var().Id(restName).Op("=").Id("packLanes").Call(L("%s[%d:], 1, %d, %d, %d, %d", wsrc, full*(pl.lanes+F)*K, rest, K, pl.lanes, pl.width)))
		k.g.lanes = true
	}
	if !c.Pointwise {
		var pre []jen.Code
		minW := 0
		if pxOK {
			minW = px.minW
		}
		src.koff, src.wp, pre = k.lanePad(minW)
		body = append(body, pre...)
		if F > 0 {
			hp, _ := k.padDims()
			body = append(body, k.mixedInput("xp", c.Cg*hp*src.wp)...)
		}
	} else if F > 0 {
		body = append(body, k.mixedInput("xg", c.Cg*hw)...)
	}
	// Full words, then the last word with fewer lanes.
	word := func(lanes, nf int) []jen.Code {
		var out []jen.Code
		switch {
		case nf > 0:
			out = []jen.Code{L("wp := %s[wd*%d:][:%d]", wName, K, K), L("fp := %s[wd*%d:][:%d]", fName, K, K), L("oc := wd * %d", pl.lanes+nf)}
		case restName != "":
			out = []jen.Code{L("wp := %s[:%d]", restName, K), L("oc := %d", full*(pl.lanes+F))}
		default:
			out = []jen.Code{L("wp := %s[(g*%d+wd)*%d:][:%d]", wName, nw, K, K), L("oc := g*%d + wd*%d", c.Mg, pl.lanes)}
		}
		out = append(out, L("var cw [%d]int32", lanes+nf))
		prep := []jen.Code{L("cw[l] = x2[oc+l] - %s[oc+l]", zwName)}
		if qt := k.rqPrepType(); qt != "" {
			out = append(out, L("var qw [%d]%s", lanes+nf, qt))
			prep = append(prep, k.rqPrepInto("qw[l]", "oc+l"))
		}
		out = append(out, For("l", 0, lanes+nf, prep...))
		// Tiles of laneCols columns over the flat output (pointwise) or
		// over each output row (the tile reads one input row per tap).
		n, v, head := P, "j", []jen.Code{}
		if !c.Pointwise {
			n, v = c.OW, "ow"
			head = []jen.Code{L("j := oh*%d + ow", c.OW), L("base := %s", offsetExpr([]string{"oh", "ow"}, []int{c.SH * src.wp, c.SW}, 0))}
		}
		var tiles []jen.Code
		tc := laneCols
		if (n+laneCols)/(laneCols+1) < (n+laneCols-1)/laneCols {
			tc++ // one tile fewer (a row of 14: two of 7)
		}
		cols := n / tc * tc
		if cols > 0 {
			tiles = append(tiles, jen.For(L("%s := 0", v), L("%s < %d", v, cols), L("%s += %d", v, tc)).Block(
				append(append([]jen.Code{}, head...), k.laneTile(pl, lanes, nf, tc, K, src)...)...))
		}
		if cols < n {
			tiles = append(tiles, jen.Block(append(append([]jen.Code{L("%s := %d", v, cols)}, head...), k.laneTile(pl, lanes, nf, n-cols, K, src)...)...))
		}
		if c.Pointwise {
			return append(out, tiles...)
		}
		return append(out, For("oh", 0, c.OH, tiles...))
	}
	if full > 0 {
		body = append(body, For("wd", 0, full, word(pl.lanes, F)...))
	}
	switch {
	case rest > 0 && pxOK:
		body = append(body, k.pixelRest(px, w, full*(pl.lanes+F), src.wp, zwName)...)
	case rest > 0:
		wd := L("wd := %d", full)
		if restName != "" {
			wd = jen.Null() // its own table
		}
		body = append(body, jen.Block(append([]jen.Code{wd}, word(rest, 0)...)...))
	}
	k.add(For("n", 0, c.N, For("g", 0, c.Group, body...)))
	return true, nil
}

// laneSrc is where a lane tile reads its inputs: pointwise, row k of B is
// x's channel k (stride P); else the tap k of output column j+t reads
// xp[base + roff[r] + kw·DW + t·SW] for the tap (r, kw) of row r = (c,
// kh) in the padded input xp (row width wp).
type laneSrc struct {
	pointwise bool
	P, SW, wp int
	koff      string
}

// padDims is the extent of a conv's padded input: every tap of every
// output inside it.
func (k *kfn) padDims() (hp, wp int) {
	c := k.s.Conv
	return max((c.OH-1)*c.SH+(c.KH-1)*c.DH+1, c.H+c.PT), max((c.OW-1)*c.SW+(c.KW-1)*c.DW+1, c.W+c.PL)
}

// lanePad emits the copy of group g's input into a zero-point padded
// buffer (when the conv has padding) and the table of tap offsets; it
// returns the table's name, the padded row width and the code, which
// leaves the input in xp.
func (k *kfn) lanePad(minW int) (string, int, []jen.Code) {
	c, zx := k.s.Conv, k.s.Rq.ZX
	t, _ := goType(k.s.In[0].DType)
	copyRow := func(dst, src string) jen.Code { return L("copy(%s, %s)", dst, src) }
	if k.laneUnsigned() {
		// The inputs as x - zx in uint8: padding is 0.
		if t == "int8" {
			copyRow = func(dst, src string) jen.Code {
				return jen.Block(L("d := %s", dst), jen.For(L("i, v := range %s", src)).Block(L("d[i] = uint8(v) ^ 0x80")))
			}
		}
		t, zx = "uint8", 0
	}
	// The padded extent: every tap of every output inside it.
	hp, wp := k.padDims()
	wp = max(wp, minW)
	var code []jen.Code
	if c.PT == 0 && c.PL == 0 && hp == c.H && wp == c.W && !(k.laneUnsigned() && k.s.In[0].DType == ir.I8) {
		code = append(code, L("xp := xg"))
	} else {
		pad := k.name + "_pad"
		k.g.tables = append(k.g.tables, jen.Commentf("%s is %s's input with its padding (zero points).", pad, k.name).Line().
			Var().Id(pad).Index(jen.Lit(c.Cg*hp*wp)).Id(t))
		code = append(code,
			L("xp := %s[:]", pad),
			jen.For(L("i := range xp")).Block(L("xp[i] = %d", zx)),
			For("c", 0, c.Cg, For("h", 0, c.H,
				copyRow(fmt.Sprintf("xp[(c*%d+h+%d)*%d+%d:][:%d]", hp, c.PT, wp, c.PL, c.W), fmt.Sprintf("xg[(c*%d+h)*%d:][:%d]", c.H, c.W, c.W)))))
	}
	if k.laneUnsigned() {
		// nz[i] counts the inputs other than the zero point before xp[i]:
		// a row of taps is all zero points when the count does not change.
		nz := k.name + "_nz"
		k.g.tables = append(k.g.tables, jen.Commentf("%s counts the nonzero entries of %s's padded input before each.", nz, k.name).Line().
			Var().Id(nz).Index(jen.Lit(c.Cg*hp*wp+1)).Int32())
		code = append(code, L("nz := %s[:]", nz), L("cnt := int32(0)"),
			jen.For(L("i, v := range xp")).Block(L("cnt += int32(min(v, 1))"), L("nz[i+1] = cnt")))
	}
	var offs []int64
	for ci := 0; ci < c.Cg; ci++ {
		for kh := 0; kh < c.KH; kh++ {
			offs = append(offs, int64(ci*hp*wp+kh*c.DH*wp))
		}
	}
	return k.intTable(k.name+"_roff", offs), wp, code
}

// laneUnsigned reports whether the conv's inputs minus their zero point
// fit uint8 (int8 with zx = -128, uint8 with zx = 0): the lane kernels
// then read x - zx (no zero point to fold out) and skip the rows of taps
// whose inputs all equal the zero point (ReLU outputs, image background).
func (k *kfn) laneUnsigned() bool {
	dt, zx := k.s.In[0].DType, k.s.Rq.ZX
	return (dt == ir.I8 && zx == -128) || (dt == ir.U8 && zx == 0)
}

// zeroSkip is the code skipping the rest of a loop iteration when the n
// inputs from xp[o] on all equal the zero point (unsigned inputs; nothing
// otherwise).
func (k *kfn) zeroSkip(o string, n int) jen.Code {
	if !k.laneUnsigned() {
		return jen.Null()
	}
	return jen.If(L("nz[%s+%d] == nz[%s]", o, n, o)).Block(jen.Continue())
}

// laneTile is the code of one tile: columns [j, j+cols) of one word, its
// first `lanes` channels stored (oc the word's first channel, cw and qw
// the channels' constants and requantizations, wp the word's weights),
// then F float64 channels (mixed words: fp their weights, xf the input).
func (k *kfn) laneTile(pl lanePlan, lanes, F, cols, K int, src laneSrc) []jen.Code {
	var out []jen.Code
	chunked := pl.chunk < K
	acc := func(t int) string { return fmt.Sprintf("a%d", t) }
	var decl string
	for t := 0; t < cols; t++ {
		if t > 0 {
			decl += ", "
		}
		decl += acc(t)
	}
	var inner []jen.Code
	if src.pointwise {
		inner = append(inner, L("b := xg[o : o+%d : o+%d]", cols, cols))
		for t := 0; t < cols; t++ {
			inner = append(inner, L("%s += int64(b[%d]) * w", acc(t), t))
		}
		// Row k of the float channels' weights: k0+kk, kk or o >> log2 P
		// (as the loops below).
		kf := "kk"
		switch {
		case chunked:
			kf = "k0+kk"
		case src.P&(src.P-1) == 0:
			kf = fmt.Sprintf("o>>%d", bits.TrailingZeros(uint(src.P)))
		}
		inner = append(inner, mixedPointwise(F, cols, kf)...)
		inner = append(inner, L("o += %d", src.P))
	} else {
		// A row of taps at a time: one slice of the input row, the
		// row's KW weights in turn.
		c := k.s.Conv
		span := (cols-1)*c.SW + 1
		inner = []jen.Code{
			L("o := base + int(%s[r])", src.koff),
			k.zeroSkip("o", span+(c.KW-1)*c.DW),
			L("row := xp[o:][:%d]", span+(c.KW-1)*c.DW),
			L("ws := wp[r*%d:][:%d]", c.KW, c.KW),
		}
		inner = append(inner, mixedRow(F, c.KW, span+(c.KW-1)*c.DW)...)
		if c.KW <= 8 {
			// Unrolled over the row's taps: constant offsets.
			for kw := 0; kw < c.KW; kw++ {
				var tap []jen.Code
				tap = append(tap, L("w := ws[%d]", kw))
				for t := 0; t < cols; t++ {
					tap = append(tap, L("%s += int64(row[%d]) * w", acc(t), kw*c.DW+t*c.SW))
				}
				tap = append(tap, mixedTap(F, kw, cols, func(t int) int { return kw*c.DW + t*c.SW })...)
				inner = append(inner, jen.Block(tap...))
			}
		} else {
			tap := []jen.Code{L("b := row[%s:][:%d]", offsetExpr([]string{"kw"}, []int{c.DW}, 0), span)}
			for t := 0; t < cols; t++ {
				tap = append(tap, L("%s += int64(b[%d]) * w", acc(t), t*c.SW))
			}
			inner = append(inner, jen.For(L("kw, w := range ws")).Block(tap...))
		}
	}
	kk := "_" // the row index, for the float channels' weights
	if F > 0 {
		kk = "kk"
	}
	// extract adds (or, unchunked, assigns) the lanes of every accumulator:
	// the low lanes sign-extended, then shifted out; the top lane is what
	// remains.
	extract := func(op string) []jen.Code {
		sh := 64 - pl.width
		low := lanes
		if lanes == pl.lanes {
			low--
		}
		var body []jen.Code
		for l := 0; l < low; l++ {
			body = append(body, L("e%d := a << %d >> %d", l, sh, sh), L("a = (a - e%d) >> %d", l, pl.width))
		}
		for l := 0; l < low; l++ {
			body = append(body, L("s[%d][t] %s int32(e%d)", l, op, l))
		}
		if low < lanes {
			body = append(body, L("s[%d][t] %s int32(a)", low, op))
		}
		return []jen.Code{jen.For(L("t, a := range [%d]int64{%s}", cols, decl)).Block(body...)}
	}
	if !chunked {
		// One pass: the sums, then each column's lanes extracted and
		// requantized straight into the channels' output rows.
		out = append(out, L("var %s int64", decl), mixedDecl(F, cols))
		switch {
		case src.pointwise && src.P&(src.P-1) == 0:
			// Row k's offset o = j + k·P is the only induction variable
			// (k = o >> log2 P, as j < P): one register fewer in the loop.
			loop := append([]jen.Code{L("w := wp[o>>%d]", bits.TrailingZeros(uint(src.P)))}, inner[:len(inner)-1]...)
			out = append(out, jen.For(L("o := j"), L("o < %d", K*src.P), L("o += %d", src.P)).Block(loop...))
		case src.pointwise:
			out = append(out, L("o := j"), jen.For(L("%s, w := range wp", kk)).Block(inner...))
		default:
			out = append(out, For("r", 0, K/k.s.Conv.KW, inner...))
		}
		out = append(out, k.laneStore(pl, lanes, cols)...)
		return append(out, k.mixedStore(lanes, F, cols)...)
	}
	out = append(out, L("var s [%d][%d]int32", lanes, cols), mixedDecl(F, cols))
	switch {
	case src.pointwise:
		chunk := []jen.Code{L("var %s int64", decl), L("o := k0*%d + j", src.P),
			jen.For(L("%s, w := range wp[k0:min(k0+%d, %d)]", kk, pl.chunk, K)).Block(inner...)}
		chunk = append(chunk, extract("+=")...)
		out = append(out, jen.For(L("k0 := 0"), L("k0 < %d", K), L("k0 += %d", pl.chunk)).Block(chunk...))
	default:
		rows, cr := K/k.s.Conv.KW, pl.chunk/k.s.Conv.KW
		chunk := []jen.Code{L("var %s int64", decl),
			jen.For(L("r := r0"), L("r < min(r0+%d, %d)", cr, rows), L("r++")).Block(inner...)}
		chunk = append(chunk, extract("+=")...)
		out = append(out, jen.For(L("r0 := 0"), L("r0 < %d", rows), L("r0 += %d", cr)).Block(chunk...))
	}
	fin, err := k.finishPrep("yr[t]", "cw[l]+v", "qw[l]")
	if err != nil {
		panic(err) // checked by the caller
	}
	out = append(out, For("l", 0, lanes,
		L("yr := y[(n*%d+oc+l)*%d+j:][:%d]", k.s.Conv.M, k.s.Conv.OH*k.s.Conv.OW, cols),
		jen.For(L("t, v := range s[l]")).Block(fin)))
	return append(out, k.mixedStore(lanes, F, cols)...)
}

// laneStore is the end of an unchunked tile: column t's accumulator a<t>
// split into its lanes (the low ones sign-extended, the top one what
// remains) and each lane requantized into its channel's output row.
func (k *kfn) laneStore(pl lanePlan, lanes, cols int) []jen.Code {
	c := k.s.Conv
	var out []jen.Code
	useB := k.laneB(k.laneZX())
	for l := 0; l < lanes; l++ {
		out = append(out, L("y%d := y[(n*%d+oc+%d)*%d+j:][:%d]", l, c.M, l, c.OH*c.OW, cols))
		switch {
		case useB:
			out = append(out, L("qb%d := rqB(cw[%d], qw[%d])", l, l, l))
		case k.rqPrepType() != "":
			out = append(out, L("cw%d, qw%d := cw[%d], qw[%d]", l, l, l, l))
		default:
			out = append(out, L("cw%d := cw[%d]", l, l))
		}
	}
	sh := 64 - pl.width
	var decl []string
	for t := 0; t < cols; t++ {
		decl = append(decl, fmt.Sprintf("a%d", t))
	}
	// A loop over the columns (not unrolled: the compiler would hoist and
	// spill every column's lanes at once).
	{
		var b []jen.Code
		for l := 0; l < lanes; l++ {
			e := fmt.Sprintf("e%d", l)
			switch {
			case l == pl.lanes-1:
				b = append(b, L("%s := a", e))
			case l == lanes-1:
				b = append(b, L("%s := a << %d >> %d", e, sh, sh))
			default:
				b = append(b, L("%s := a << %d >> %d", e, sh, sh), L("a = (a - %s) >> %d", e, pl.width))
			}
		}
		for l := 0; l < lanes; l++ {
			b = append(b, k.laneFinish(fmt.Sprintf("y%d[t]", l), fmt.Sprintf("e%d", l), fmt.Sprintf("cw%d", l), fmt.Sprintf("qw%d", l), fmt.Sprintf("qb%d", l), useB))
		}
		out = append(out, jen.For(L("t, a := range [%d]int64{%s}", cols, strings.Join(decl, ", "))).Block(b...))
	}
	return out
}

// intIm2col fills col [K][P] (int32) with the stored input values of group
// g, padding positions holding zx.
func (k *kfn) intIm2col() []jen.Code {
	c, zx := k.s.Conv, k.s.Rq.ZX
	P := c.OH * c.OW
	var rowCopy jen.Code
	if c.SW == 1 {
		rowCopy = For("ow", "lo", "hi", L("rr[ow] = int32(xr[ow+off])"))
	} else {
		rowCopy = For("ow", "lo", "hi", L("rr[ow] = int32(xr[ow*%d+off])", c.SW))
	}
	return []jen.Code{For("c", 0, c.Cg, For("kh", 0, c.KH, For("kw", 0, c.KW,
		L("row := col[((c*%d+kh)*%d+kw)*%d:][:%d]", c.KH, c.KW, P, P),
		L("off := kw*%d - %d", c.DW, c.PL),
		L("lo, hi := validRange(off, %d, %d, %d)", c.SW, c.W, c.OW),
		For("oh", 0, c.OH,
			L("rr := row[oh*%d:][:%d]", c.OW, c.OW),
			L("ih := oh*%d + kh*%d - %d", c.SH, c.DH, c.PT),
			jen.If(L("ih < 0 || ih >= %d", c.H)).Block(jen.For(L("i := range rr")).Block(L("rr[i] = %d", zx)), jen.Continue()),
			L("xr := xg[(c*%d+ih)*%d:][:%d]", c.H, c.W, c.W),
			For("ow", 0, "lo", L("rr[ow] = %d", zx)),
			For("ow", "hi", c.OW, L("rr[ow] = %d", zx)),
			rowCopy,
		))))}
}

// intTable adds a package-level int32 table and returns its name.
func (k *kfn) intTable(name string, v []int64) string {
	var vals []jen.Code
	for _, x := range v {
		vals = append(vals, jen.Lit(int(x)))
	}
	k.g.tables = append(k.g.tables, jen.Var().Id(name).Op("=").Index(jen.Lit(len(v))).Int32().Values(vals...))
	return name
}

// packLanesSrc is the generated helper that packs weight rows into words.
const packLanesSrc = `
// packLanes packs weights w [groups][rows][k] into int64 words of lanes
// rows each, lane l at bit l·width (the words [groups][ceil(rows/lanes)][k]):
// x·word then accumulates the lanes' products at once.
func packLanes[T int8 | int16 | int32](w []T, groups, rows, k, lanes, width int) []int64 {
	nw := (rows + lanes - 1) / lanes
	p := make([]int64, groups*nw*k)
	for g := 0; g < groups; g++ {
		for r := 0; r < rows; r++ {
			dst := p[(g*nw+r/lanes)*k:][:k]
			src := w[(g*rows+r)*k:][:k]
			for j, v := range src {
				dst[j] += int64(v) << (width * (r % lanes))
			}
		}
	}
	return p
}
`
