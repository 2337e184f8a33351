package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Mixed words: integer lanes and float64 channels in one tile.
//
// The lane kernel is bound by the integer multiplier (one 64-bit multiply
// a cycle), while the floating-point units sit idle. A float64 multiply
// of two small integers is exact, and so is a float64 sum of them below
// 2⁵³: a channel whose Σ|w|·max|x| stays below that is computed exactly
// in float64. So each word of a mixed conv carries, beside its integer
// lanes, mixedMax more channels as float64 accumulators over a float64
// copy of the padded input; the tile's loop issues both kinds of
// multiplies, which run on separate units. The float sums are converted
// back (int64, then wrapping int32 as rt's) before the requantization.
//
// Two float channels as two accumulators per column spill registers and
// lose to one (measured on mnist-7, tiles of four or six columns); so
// several float channels share one float64 accumulator as lanes of
// mixedFW bits (the weights w0 + w1·2²⁶, an exact integer as are all the
// products and sums while every lane's sum stays within ±2²⁵), split like
// the integer lanes after the conversion to int64.

// mixedMax is the largest number of float64 channels (lanes of one
// accumulator) per word.
const mixedMax = 2

// mixedFW is the width of a float lane.
const mixedFW = 26

// mixedFloats returns the number of float64 channels per word of the
// lane-packed conv with weights w [M][K] (0: no mixing; two as lanes of
// one accumulator when every channel's Σ|w|·xmax is below 2²⁵), and
// reports whether the channels left over after the mixed words go as
// pixel lanes (else as one word of integer lanes).
func (k *kfn) mixedFloats(w []int64, pl lanePlan, xmax int64) (int, bool) {
	c := k.s.Conv
	// Measured: person_detect's first conv (3×3, stride 2) is slower with
	// mixed words, mnist-7's 5×5 stride-1 ones and mobilenet's pointwise
	// ones faster.
	if c.Group != 1 || !c.Pointwise && (c.KW > 8 || c.SW != 1) {
		return 0, false
	}
	K := c.Cg * c.KH * c.KW
	var big float64 // the largest Σ|w|·xmax of a channel
	for m := 0; m < c.M; m++ {
		var s int64
		for _, v := range w[m*K:][:K] {
			s += max(v, -v)
		}
		big = max(big, float64(s)*float64(xmax))
	}
	for f := mixedMax; f > 0; f-- {
		full := c.Mg / (pl.lanes + f)
		rest := c.Mg - full*(pl.lanes+f)
		if full == 0 || big >= 1<<53 || f > 1 && big >= 1<<(mixedFW-1) {
			continue
		}
		// Measured on mobilenet_v1_0.25_128_quant: pointwise convs gain
		// from two float channels over k ≥ 64 rows (~5-10%), lose with one
		// or over fewer rows (the requantization dominates there).
		if c.Pointwise && (f < 2 || K < 64) {
			continue
		}
		// A rest that fills one word of integer lanes runs as that word
		// over the same padded input (measured on mnist-7: 5+3 channels
		// faster than 5 and pixel lanes, and than 4+4); another as pixel
		// lanes when it can (a word of one or two lanes wastes the rest).
		if rest == pl.lanes {
			return f, false
		}
		if _, ok := k.pixelRestPlan(w, full*(pl.lanes+f), xmax); ok {
			return f, true
		}
		if rest < pl.lanes {
			return f, false
		}
	}
	return 0, false
}

// mixedTables adds the packed weights of the mixed words (integer words
// and float64 channels, packMixed) and returns their names.
func (k *kfn) mixedTables(wsrc string, pl lanePlan, F int) (words, floats string) {
	c := k.s.Conv
	K := c.Cg * c.KH * c.KW
	words, floats = k.name+"_lanes", k.name+"_fl"
	k.g.tables = append(k.g.tables, jen.Commentf("%s and %s hold the weights of %s's mixed words: %d channels as int64 lanes of %d bits, then %d as float64 lanes of %d bits ([word][k]).",
		words, floats, k.name, pl.lanes, pl.width, F, mixedFW).Line().
		Var().List(jen.Id(words), jen.Id(floats)).Op("=").Id("packMixed").Call(L("%s, %d, %d, %d, %d, %d, %d", wsrc, c.Mg, K, pl.lanes, pl.width, F, mixedFW)))
	k.g.mixed = true
	return words, floats
}

// mixedInput is the float64 copy xf of the input src (the padded input
// xp, or a pointwise conv's group xg) of n elements.
func (k *kfn) mixedInput(src string, n int) []jen.Code {
	xf := k.name + "_xf"
	k.g.tables = append(k.g.tables, jen.Commentf("%s is %s's input as float64 (mixed words).", xf, k.name).Line().
		Var().Id(xf).Index(jen.Lit(n)).Float64())
	return []jen.Code{L("xf := %s[:len(%s)]", xf, src), jen.For(L("i, v := range %s", src)).Block(L("xf[i] = float64(v)"))}
}

// mixedPointwise is a pointwise tile's float multiply-adds for row k of
// the weights (fp[k]) over xf at o: column t reads xf[o+t].
func mixedPointwise(F, cols int, k string) []jen.Code {
	if F == 0 {
		return nil
	}
	out := []jen.Code{L("v := fp[%s]", k), L("bf := xf[o : o+%d : o+%d]", cols, cols)}
	for t := 0; t < cols; t++ {
		out = append(out, L("%s += bf[%d] * v", mixedAcc(t), t))
	}
	return out
}

// mixedAcc names the float64 accumulator of column t.
func mixedAcc(t int) string { return fmt.Sprintf("h%d", t) }

// mixedDecl declares the float64 accumulators of cols columns (none
// without float channels).
func mixedDecl(F, cols int) jen.Code {
	if F == 0 {
		return jen.Null()
	}
	d := mixedAcc(0)
	for t := 1; t < cols; t++ {
		d += ", " + mixedAcc(t)
	}
	return L("var %s float64", d)
}

// mixedRow is the head of a row of taps for the float channels: the row
// of xf at o and the row's weights.
func mixedRow(F, kw, n int) []jen.Code {
	if F == 0 {
		return nil
	}
	return []jen.Code{L("rf := xf[o:][:%d]", n), L("fs := fp[r*%d:][:%d]", kw, kw)}
}

// mixedTap is tap kw's float multiply-adds: column t reads rf[idx(t)].
func mixedTap(F, kw, cols int, idx func(t int) int) []jen.Code {
	if F == 0 {
		return nil
	}
	out := []jen.Code{L("v := fs[%d]", kw)}
	for t := 0; t < cols; t++ {
		out = append(out, L("%s += rf[%d] * v", mixedAcc(t), idx(t)))
	}
	return out
}

// mixedStore requantizes the float channels' sums (channels oc+lanes+f)
// into their output rows: each column's accumulator as int64, split into
// its F lanes (the low ones sign-extended, the top one what remains).
func (k *kfn) mixedStore(lanes, F, cols int) []jen.Code {
	c := k.s.Conv
	if F == 0 {
		return nil
	}
	var ys, st []jen.Code
	for f := 0; f < F; f++ {
		ys = append(ys, L("yf%d := y[(n*%d+oc+%d)*%d+j:][:%d]", f, c.M, lanes+f, c.OH*c.OW, cols))
	}
	sh := 64 - mixedFW
	for t := 0; t < cols; t++ {
		blk := []jen.Code{L("a := int64(%s)", mixedAcc(t))}
		for f := 0; f < F; f++ {
			v := "a"
			if f < F-1 {
				v = "e"
				blk = append(blk, L("e := a << %d >> %d", sh, sh))
			}
			fin, err := k.finishPrep(fmt.Sprintf("yf%d[%d]", f, t), fmt.Sprintf("cw[%d]+int32(%s)", lanes+f, v), fmt.Sprintf("qw[%d]", lanes+f))
			if err != nil {
				panic(err) // checked by the caller
			}
			blk = append(blk, fin)
			if f < F-1 {
				blk = append(blk, L("a = (a - e) >> %d", mixedFW))
			}
		}
		st = append(st, jen.Block(blk...))
	}
	return append(ys, st...)
}

// packMixedSrc is the generated helper packing the mixed words.
const packMixedSrc = `
// packMixed packs the weights w [rows][k] of a conv's mixed words, each
// of lanes+nf channels: the first lanes as packLanes' words ([word][k]),
// the other nf as lanes of fw bits of a float64 ([word][k]; exact
// integers).
func packMixed[T int8 | int16 | int32](w []T, rows, k, lanes, width, nf, fw int) ([]int64, []float64) {
	nw := rows / (lanes + nf)
	p := make([]int64, nw*k)
	f := make([]float64, nw*k)
	for wd := 0; wd < nw; wd++ {
		for l := 0; l < lanes+nf; l++ {
			src := w[(wd*(lanes+nf)+l)*k:][:k]
			for j, v := range src {
				if l < lanes {
					p[wd*k+j] += int64(v) << (width * l)
				} else {
					f[wd*k+j] += float64(int64(v) << (fw * (l - lanes)))
				}
			}
		}
	}
	return p, f
}
`
