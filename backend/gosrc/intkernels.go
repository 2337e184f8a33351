package gosrc

import (
	"fmt"
	"math"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Integer kernels (codegen.Requant, codegen.QMap): int32 accumulators in an
// arena row, wrapping int32 arithmetic as rt's, then the requantization of
// rt (rq=float: round half to even of float32(acc)·scale; rq=tflite:
// MultiplyByQuantizedMultiplier) written with the same Go helpers as rt's,
// so results are identical.
//
// Zero points are folded out of the inner loops: Σ(x-zx)·w' equals
// Σx·w' - zx·Σw' in wrapping int32 arithmetic, so the inner loops multiply
// the stored 8-bit values directly, and padding positions hold zx.

func init() {
	extraKernels[codegen.KQuant] = (*kfn).qmap
	extraKernels[codegen.KQBinary] = (*kfn).qbinary
}

func isInt8(dt ir.DType) bool { return dt == ir.I8 || dt == ir.U8 }

// finish is the code storing the requantized accumulator acc of channel c
// into dst.
func (k *kfn) finish(dst, acc, c string) (jen.Code, error) {
	r := k.s.Rq
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return nil, err
	}
	k.g.intHelpers = true
	switch r.Mode {
	case "float":
		return L("%s = %s(%s)", dst, t, k.quantFCall(acc, fmt.Sprintf("x3[%s]", c))), nil
	case "tflite":
		if f := k.rqFixPlan(); f != nil {
			return L("%s = %s(%s(%s, &%s[%s], %d, %d, %d))", dst, t, f.fn, acc, f.table, c, f.shift, r.Lo, r.Hi), nil
		}
		if k.fastRq() {
			return L("%s = %s(rqT(%s, x3[%s], x4[%s], %d, %d, %d))", dst, t, acc, c, c, r.ZY, r.Lo, r.Hi), nil
		}
		return L("%s = %s(clampI(mbqm(%s, x3[%s], x4[%s])+%d, %d, %d))", dst, t, acc, c, c, r.ZY, r.Lo, r.Hi), nil
	case "i32":
		if k.s.Out.DType != ir.I32 {
			return nil, unsupported(k.s, "i32 accumulators into %v", k.s.Out.DType)
		}
		return L("%s = %s", dst, acc), nil
	}
	return nil, unsupported(k.s, "requantization %q", r.Mode)
}

// fastRq reports whether the step's TFLite multipliers (In[3]) and shifts
// (In[4]) are constants with no MinInt32 mantissa and shifts within
// [-31, 31], so that rqT and rqp compute mbqm exactly.
func (k *kfn) fastRq() bool {
	if k.s.Rq.Mode != "tflite" || len(k.s.In) < 5 || k.s.In[3].DType != ir.I32 || k.s.In[4].DType != ir.I32 {
		return false
	}
	m, ok := k.g.weightInts(k.s.In[3])
	sh, ok2 := k.g.weightInts(k.s.In[4])
	if !ok || !ok2 {
		return false
	}
	for _, v := range m {
		if v == math.MinInt32 {
			return false
		}
	}
	for _, v := range sh {
		if v < -31 || v > 31 {
			return false
		}
	}
	return true
}

// rqPrepType is the Go type of a channel's prepared requantization
// (rqPrepInto), "" when there is none.
func (k *kfn) rqPrepType() string {
	switch {
	case k.s.Rq.Mode == "float":
		return "float32"
	case k.rqFixPlan() != nil:
		return "*[4]int64"
	case k.fastRq():
		return "rqp"
	case k.s.Rq.Mode == "tflite":
		return "[2]int32"
	}
	return ""
}

// rqPrepInto is the code preparing the requantization of channel c into
// v (of type rqPrepType), hoisted out of a loop over the channel's
// outputs; finishPrep stores an accumulator requantized with it.
func (k *kfn) rqPrepInto(v, c string) jen.Code {
	switch {
	case k.s.Rq.Mode == "float":
		return L("%s = x3[%s]", v, c)
	case k.rqFixPlan() != nil:
		return L("%s = &%s[%s]", v, k.rqf.table, c)
	case k.fastRq():
		k.g.rqp = true
		return L("%s = rqPrep(x3[%s], x4[%s])", v, c, c)
	case k.s.Rq.Mode == "tflite":
		return L("%s = [2]int32{x3[%s], x4[%s]}", v, c, c)
	}
	return jen.Null()
}

// rqPrep declares v and prepares channel c's requantization in it.
func (k *kfn) rqPrep(v, c string) jen.Code {
	t := k.rqPrepType()
	if t == "" {
		return jen.Null()
	}
	return jen.Var().Id(v).Id(t).Line().Add(k.rqPrepInto(v, c))
}

// finishPrep is finish with the channel's requantization prepared in v
// (rqPrep).
func (k *kfn) finishPrep(dst, acc, v string) (jen.Code, error) {
	r := k.s.Rq
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return nil, err
	}
	k.g.intHelpers = true
	switch {
	case r.Mode == "float":
		return L("%s = %s(%s)", dst, t, k.quantFCall(acc, v)), nil
	case k.rqFixPlan() != nil:
		return L("%s = %s(%s(%s, %s, %d, %d, %d))", dst, t, k.rqf.fn, acc, v, k.rqf.shift, r.Lo, r.Hi), nil
	case k.fastRq():
		return L("%s = %s(%s.apply(%s, %d, %d, %d))", dst, t, v, acc, r.ZY, r.Lo, r.Hi), nil
	case r.Mode == "tflite":
		return L("%s = %s(clampI(mbqm(%s, %s[0], %s[1])+%d, %d, %d))", dst, t, acc, v, v, r.ZY, r.Lo, r.Hi), nil
	case r.Mode == "i32":
		if k.s.Out.DType != ir.I32 {
			return nil, unsupported(k.s, "i32 accumulators into %v", k.s.Out.DType)
		}
		return L("%s = %s", dst, acc), nil
	}
	return nil, unsupported(k.s, "requantization %q", r.Mode)
}

// intConv: per image and group, an int32 im2col of the stored values
// (padding holds zx) after the accumulator row, then one axpy sweep per
// output channel.
func (k *kfn) intConv() error {
	c := k.s.Conv
	wdt := k.s.In[1].DType
	if !isInt8(k.s.In[0].DType) || !(isPackedWeight(wdt) || k.s.Rq.BRuntime && isInt8(wdt)) || k.s.Scratch == nil {
		return unsupported(k.s, "integer conv on %v", k.s.In[0].DType)
	}
	if k.intWinoOK() {
		return k.convWino()
	}
	if ok, err := k.intConvLanes(); ok || err != nil {
		return err
	}
	zx := k.s.Rq.ZX
	// Runtime weights (codegen.KIntConvRuntime) are stored with their
	// per-channel zero points (the last operand), subtracted as read.
	wz := ""
	if k.s.Rq.BRuntime {
		wz = fmt.Sprintf("x%d", len(k.s.In)-1)
	}
	hw, P, K := c.H*c.W, c.OH*c.OW, c.Cg*c.KH*c.KW
	if _, err := k.finish("yr[j]", "acc[j]", "oc"); err != nil {
		return err
	}
	body := []jen.Code{L("xg := x0[(n*%d+g*%d)*%d:][:%d]", c.C, c.Cg, hw, c.Cg*hw)}
	var bRow func(kk string) string
	if c.Pointwise {
		bRow = func(kk string) string { return fmt.Sprintf("xg[(%s)*%d:]", kk, P) }
	} else {
		var rowCopy jen.Code
		if c.SW == 1 {
			rowCopy = For("ow", "lo", "hi", L("rr[ow] = int32(xr[ow+off])"))
		} else {
			rowCopy = For("ow", "lo", "hi", L("rr[ow] = int32(xr[ow*%d+off])", c.SW))
		}
		body = append(body, For("c", 0, c.Cg, For("kh", 0, c.KH, For("kw", 0, c.KW,
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
			)))))
		bRow = func(kk string) string { return fmt.Sprintf("col[(%s)*%d:]", kk, P) }
	}
	// Output channels in blocks (intBlocks): each input value loaded
	// feeds every channel of the block. The columns go in
	// tiles of intTile so the block's accumulators (on the stack) stay in
	// L1; each tile is requantized into its rows as soon as it is done.
	body = append(body, k.intRowBlocks(c.Mg, K, P, "g*"+fmt.Sprint(c.Mg), func(i int) string {
		return fmt.Sprintf("y[(n*%d+oc+%d)*%d+j0:]", c.M, i, P)
	}, bRow, zx, wz)...)
	k.add(L("var accb [4][%d]int32", min(P, intTile)))
	if !c.Pointwise {
		k.add(L("col := scratch[%d:][:%d]", P, K*P))
	}
	k.add(For("n", 0, c.N, For("g", 0, c.Group, body...)))
	return nil
}

// intTile is the column tile of the blocked integer kernels.
const intTile = 256

// intBlocks are the output-channel blocks of the integer conv and intU
// their unrolling over k: measured, two rows four k at a time beat four
// rows (whose weights, pointers and accumulators do not fit amd64's
// general registers at once).
var (
	intBlocks = []int{2, 1}
	intU      = map[int]int{4: 1, 2: 4, 1: 4}
)

// intRowBlocks emits, for rows m in [0, rows) of the output in blocks of
// 4, 2 and 1 (oc = base + m), acc_i = bias[oc+i] - zx·Σw_i + Σ_k w_i[k]·B[k]
// over column tiles of at most intTile (j0 the tile start; bRow(k) the
// start of row k of B, yRow(i) the start of output row i of the tile),
// requantizing each finished tile into its row. W is x1 [rows][K].
// wz names the per-row weight zero points subtracted from every weight
// ("" for zero-centred weights).
func (k *kfn) intRowBlocks(rows, K, P int, base string, yRow func(i int) string, bRow func(k string) string, zx int32, wz string) []jen.Code {
	var out []jen.Code
	wsub := func(i int) string {
		if wz == "" {
			return ""
		}
		return fmt.Sprintf(" - zw%d", i)
	}
	zw := func(i int) jen.Code {
		if wz == "" {
			return jen.Null()
		}
		return L("zw%d := %s[oc+%d]", i, wz, i)
	}
	T := min(P, intTile)
	m := 0
	for _, r := range intBlocks {
		if rows-m < r {
			continue
		}
		n := (rows - m) / r
		lo := m
		m += n * r
		var blk []jen.Code
		for i := 0; i < r; i++ {
			blk = append(blk,
				L("w%d := x1[(oc+%d)*%d:][:%d]", i, i, K, K),
				zw(i),
				L("var ws%d int32", i),
				jen.For(L("_, w := range w%d", i)).Block(L("ws%d += int32(w)%s", i, wsub(i))),
				L("s%d := x2[oc+%d] - %d*ws%d", i, i, zx, i))
		}
		var tile []jen.Code
		tile = append(tile, L("y0 := accb[0][:min(%d, %d-j0)]", T, P))
		for i := 1; i < r; i++ {
			tile = append(tile, L("y%d := accb[%d][:len(y0)]", i, i))
		}
		for i := 0; i < r; i++ {
			tile = append(tile, jen.For(L("j := range y0")).Block(L("y%d[j] = s%d", i, i)))
		}
		tile = append(tile, intRowsAxpy(r, K, func(kk string) string { return bRow(kk) + "[j0:]" }, wsub)...)
		for i := 0; i < r; i++ {
			fin, err := k.finish("yr[j]", fmt.Sprintf("y%d[j]", i), fmt.Sprintf("oc+%d", i))
			if err != nil {
				panic(err)
			}
			tile = append(tile, jen.Block(L("yr := %s[:len(y0)]", yRow(i)), jen.For(L("j := range y0")).Block(fin)))
		}
		blk = append(blk, jen.For(L("j0 := 0"), L("j0 < %d", P), L("j0 += %d", T)).Block(tile...))
		out = append(out, jen.For(L("m := %d", lo), L("m < %d", m), L("m += %d", r)).Block(
			append([]jen.Code{L("oc := %s + m", base)}, blk...)...))
	}
	return out
}

// intRowsAxpy is rowsAxpy on int32 accumulator rows y0..y{r-1} with
// integer weight rows w0..w{r-1} and integer B rows (converted to int32).
// Four rows go one k at a time, fewer two k at a time, so the weights,
// the loaded B values and the row pointers stay in registers.
func intRowsAxpy(r, kk int, bRow func(k string) string, wsub func(i int) string) []jen.Code {
	u := intU[r]
	step := func(u int) []jen.Code {
		var out []jen.Code
		cond := ""
		for i := 0; i < r; i++ {
			for t := 0; t < u; t++ {
				out = append(out, L("a%d%d := int32(w%d[k+%d])%s", i, t, i, t, wsub(i)))
				if cond != "" {
					cond += "|"
				}
				cond += fmt.Sprintf("a%d%d", i, t)
			}
		}
		out = append(out, jen.If(L("%s == 0", cond)).Block(jen.Continue()))
		return append(out, sweepRows(r, u, func(t int) string { return bRow(fmt.Sprintf("(k+%d)", t)) }, "int32(%s)")...)
	}
	var out []jen.Code
	ku := kk / u * u
	if ku > 0 {
		out = append(out, jen.For(L("k := 0"), L("k < %d", ku), L("k += %d", u)).Block(step(u)...))
	}
	if ku < kk {
		out = append(out, jen.For(L("k := %d", ku), L("k < %d", kk), L("k++")).Block(step(1)...))
	}
	return out
}

// intDepthwise: one accumulator row per output channel.
func (k *kfn) intDepthwise() error {
	c := k.s.Conv
	if !isInt8(k.s.In[0].DType) || !isPackedWeight(k.s.In[1].DType) || k.s.Scratch == nil {
		return unsupported(k.s, "integer depthwise conv on %v", k.s.In[0].DType)
	}
	if k.intWinoOK() {
		return k.convWino()
	}
	if c.Mg >= 2 {
		// Several output channels per input channel: a conv for the
		// lane-packed kernel.
		if ok, err := k.intConvLanes(); ok || err != nil {
			return err
		}
	} else if ok, err := k.intDepthwiseLanes(); ok || err != nil {
		return err
	}
	zx := k.s.Rq.ZX
	hw, P, T := c.H*c.W, c.OH*c.OW, c.KH*c.KW
	fin, err := k.finishPrep("yp[j]", "acc[j]", "q")
	if err != nil {
		return err
	}
	body := []jen.Code{
		L("xp := x0[(n*%d+m/%d)*%d:][:%d]", c.C, c.Mg, hw, hw),
		L("wm := x1[m*%d:][:%d]", T, T),
		L("b := x2[m]"),
		jen.For(L("j := range acc")).Block(L("acc[j] = b")),
	}
	if c.SW == 1 && c.KW > 1 && c.KW <= 8 {
		// As the f32 kernel: a row of taps at once over the output columns
		// where every tap of the row reads inside the input ([loC, hiC)),
		// one sweep doing all KW multiply-adds of the stored values with
		// the zero point folded out (zx·Σw of the row); the edges go tap by
		// tap.
		var ws, xs []jen.Code
		sum, wsum := "", ""
		for kw := 0; kw < c.KW; kw++ {
			ws = append(ws, L("w%d := int32(wk[%d])", kw, kw))
			xs = append(xs, L("x%ds := xr[%s:][:len(ys)]", kw, offsetExpr([]string{"loC"}, []int{1}, kw*c.DW-c.PL)))
			if kw > 0 {
				sum += " + "
				wsum += " + "
			}
			sum += fmt.Sprintf("w%d*int32(x%ds[j])", kw, kw)
			wsum += fmt.Sprintf("w%d", kw)
		}
		rowBody := append([]jen.Code{
			L("ih := oh*%d + kh*%d - %d", c.SH, c.DH, c.PT),
			L("xr := xp[ih*%d:][:%d]", c.W, c.W),
			L("ar := acc[oh*%d:][:%d]", c.OW, c.OW),
		}, jen.If(L("loC < hiC")).Block(append(append([]jen.Code{L("ys := ar[loC:hiC]")}, xs...),
			jen.For(L("j := range ys")).Block(L("ys[j] += %s - wz", sum)))...))
		rowBody = append(rowBody,
			For("kw", 0, c.KW,
				L("wv := int32(wk[kw])"),
				L("off := kw*%d - %d", c.DW, c.PL),
				L("lo, hi := validRange(off, 1, %d, %d)", c.W, c.OW),
				For("ow", "lo", "min(loC, hi)", L("ar[ow] += wv * (int32(xr[ow+off]) - %d)", zx)),
				For("ow", "max(hiC, lo)", "hi", L("ar[ow] += wv * (int32(xr[ow+off]) - %d)", zx)),
			))
		body = append(body, For("kh", 0, c.KH,
			append(append([]jen.Code{
				L("ohLo, ohHi := validRange(kh*%d-%d, %d, %d, %d)", c.DH, c.PT, c.SH, c.H, c.OH),
				L("wk := wm[kh*%d:][:%d]", c.KW, c.KW),
			}, ws...),
				L("wz := %d * (%s)", zx, wsum),
				L("loC, hiC := validRange(-%d, 1, %d, %d)", c.PL, c.W-(c.KW-1)*c.DW, c.OW),
				L("hiC = max(hiC, loC)"),
				For("oh", "ohLo", "ohHi", rowBody...),
			)...))
	} else {
		var tap jen.Code
		if c.SW == 1 {
			tap = jen.Block(L("xs := xr[lo+off : hi+off]"), L("as := ar[lo:hi]"), L("as = as[:len(xs)]"),
				jen.For(L("j := range xs")).Block(L("as[j] += wv*int32(xs[j]) - wz")))
		} else {
			tap = For("ow", "lo", "hi", L("ar[ow] += wv*int32(xr[ow*%d+off]) - wz", c.SW))
		}
		body = append(body, For("kh", 0, c.KH,
			L("ohLo, ohHi := validRange(kh*%d-%d, %d, %d, %d)", c.DH, c.PT, c.SH, c.H, c.OH),
			For("kw", 0, c.KW,
				L("wv := int32(wm[kh*%d+kw])", c.KW),
				L("wz := %d * wv", zx),
				L("off := kw*%d - %d", c.DW, c.PL),
				L("lo, hi := validRange(off, %d, %d, %d)", c.SW, c.W, c.OW),
				jen.If(L("lo >= hi")).Block(jen.Continue()),
				For("oh", "ohLo", "ohHi",
					L("ih := oh*%d + kh*%d - %d", c.SH, c.DH, c.PT),
					L("xr := xp[ih*%d:][:%d]", c.W, c.W),
					L("ar := acc[oh*%d:][:%d]", c.OW, c.OW),
					tap,
				),
			),
		))
	}
	body = append(body,
		L("yp := y[(n*%d+m)*%d:][:%d]", c.M, P, P),
		k.rqPrep("q", "m"),
		jen.For(L("j := range acc")).Block(fin))
	k.add(L("acc := scratch[:%d]", P))
	k.add(For("n", 0, c.N, For("m", 0, c.M, body...)))
	return nil
}

// intPool: integer max pooling and TFLite's average pooling.
func (k *kfn) intPool() error {
	p := k.s.Pool
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return err
	}
	k.g.intHelpers = true
	avg := k.s.Rq.Mode == "tflite"
	var upd, store []jen.Code
	if avg {
		upd = []jen.Code{L("s += int32(xp[ih*%d+iw])", p.W), L("cnt++")}
		store = []jen.Code{
			jen.If(L("cnt == 0")).Block(L("cnt = 1")),
			L("num := s - cnt/2"),
			jen.If(L("s > 0")).Block(L("num = s + cnt/2")),
			L("yp[oh*%d+ow] = %s(clampI(num/cnt, %d, %d))", p.OW, t, k.s.Rq.Lo, k.s.Rq.Hi),
		}
	} else {
		upd = []jen.Code{jen.If(L("v := int32(xp[ih*%d+iw]); v > s", p.W)).Block(L("s = v"))}
		store = []jen.Code{L("yp[oh*%d+ow] = %s(s)", p.OW, t)}
	}
	if !avg && p.PT == 0 && p.PL == 0 && (p.OH-1)*p.SH+(p.KH-1)*p.DH < p.H && (p.OW-1)*p.SW+(p.KW-1)*p.DW < p.W && p.KH*p.KW <= 16 {
		// Every window inside the input: the max of its taps, unrolled.
		hw, P := p.H*p.W, p.OH*p.OW
		span := (p.OW-1)*p.SW + (p.KW-1)*p.DW + 1
		rows := []jen.Code{L("yr := yp[oh*%d:][:%d]", p.OW, p.OW)}
		var taps []jen.Code
		for kh := 0; kh < p.KH; kh++ {
			rows = append(rows, L("r%d := xp[(oh*%d+%d)*%d:][:%d]", kh, p.SH, kh*p.DH, p.W, span))
			for kw := 0; kw < p.KW; kw++ {
				v := fmt.Sprintf("r%d[i+%d]", kh, kw*p.DW)
				if kh == 0 && kw == 0 {
					taps = append(taps, L("s := %s", v))
				} else {
					taps = append(taps, L("s = max(s, %s)", v))
				}
			}
		}
		k.add(For("pl", 0, p.Planes,
			L("xp := x0[pl*%d:][:%d]", hw, hw),
			L("yp := y[pl*%d:][:%d]", P, P),
			For("oh", 0, p.OH, append(rows, jen.For(L("ow := range yr")).Block(
				append(append([]jen.Code{L("i := ow * %d", p.SW)}, taps...), L("yr[ow] = s"))...))...)))
		return nil
	}
	init := "s := int32(math.MinInt32)"
	if avg {
		init = "s, cnt := int32(0), int32(0)"
	}
	hw, P := p.H*p.W, p.OH*p.OW
	k.add(For("pl", 0, p.Planes,
		L("xp := x0[pl*%d:][:%d]", hw, hw),
		L("yp := y[pl*%d:][:%d]", P, P),
		For("oh", 0, p.OH, For("ow", 0, p.OW, append([]jen.Code{L("%s", init),
			For("kh", 0, p.KH,
				L("ih := oh*%d + kh*%d - %d", p.SH, p.DH, p.PT),
				jen.If(L("ih < 0 || ih >= %d", p.H)).Block(jen.Continue()),
				For("kw", 0, p.KW,
					L("iw := ow*%d + kw*%d - %d", p.SW, p.DW, p.PL),
					jen.If(L("iw < 0 || iw >= %d", p.W)).Block(jen.Continue()),
					jen.Block(upd...),
				)),
		}, store...)...))))
	return nil
}

// intSoftmax: TFLite's integer softmax with the exponentials from the
// step's tables (indexed by max - x).
func (k *kfn) intSoftmax() error {
	outer, depth, inner := k.s.Softmax[0], k.s.Softmax[1], k.s.Softmax[2]
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return err
	}
	k.g.intHelpers = true
	lo, hi := k.s.Rq.Lo, k.s.Rq.Hi
	k.add(For("o", 0, outer, For("in", 0, inner,
		L("base := o*%d + in", depth*inner),
		L("mx := int32(math.MinInt32)"),
		For("c", 0, depth, jen.If(L("v := int32(x0[base+c*%d]); v > mx", inner)).Block(L("mx = v"))),
		L("var sum int32"),
		For("c", 0, depth, L("sum += x2[uint8(mx-int32(x0[base+c*%d]))]", inner)),
		L("head := int32(bits.LeadingZeros32(uint32(sum)))"),
		L("recip := oneOverOnePlusX(sum<<head - math.MinInt32)"),
		L("shift := 12 - head + 23"),
		For("c", 0, depth,
			L("e := x1[uint8(mx-int32(x0[base+c*%d]))]", inner),
			L("r := clampI(rdbpot(srdhm(recip, e), shift)+%d, %d, %d)", lo, lo, hi),
			jen.If(L("e < 0")).Block(L("r = %d", lo)),
			L("y[base+c*%d] = %s(r)", inner, t),
		),
	)))
	k.g.f.ImportName("math/bits", "bits")
	k.g.needBits = true
	return nil
}

// isPackedWeight reports whether codegen packed constant integer weights
// (zero-centred) in a type the integer kernels read.
func isPackedWeight(dt ir.DType) bool { return dt == ir.I8 || dt == ir.I16 || dt == ir.I32 }
