package gosrc

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// kfn collects one kernel function: its parameters (slices with their
// exact lengths) and body.
type kfn struct {
	g      *gen
	s      *codegen.Step
	name   string
	params []jen.Code
	args   []string
	body   []jen.Code
	fused  bool // the kernel applied the epilogue itself
}

func (k *kfn) param(name string, o codegen.Operand) error {
	t, err := goType(o.DType)
	if err != nil {
		return unsupported(k.s, "%v operand", o.DType)
	}
	e, err := k.g.operand(o)
	if err != nil {
		return err
	}
	k.params = append(k.params, L("%s []%s", name, t))
	k.args = append(k.args, e)
	// Reslicing to the constant length lets the compiler drop bounds checks.
	k.add(L("%s = %s[:%d:%d]", name, name, ir.NumElements(o.Shape), ir.NumElements(o.Shape)))
	return nil
}

func (k *kfn) add(c ...jen.Code) { k.body = append(k.body, c...) }

// step emits the kernel of step s and the statement that calls it.
func (g *gen) step(i int, s *codegen.Step) ([]jen.Code, jen.Code, error) {
	name := codegen.CName(s.Name)
	if !strings.HasPrefix(name, "k_") {
		name = "k_" + name
	}
	k := &kfn{g: g, s: s, name: name}
	for j, in := range s.In {
		if err := k.param(fmt.Sprintf("x%d", j), in); err != nil {
			return nil, nil, err
		}
	}
	if err := k.param("y", s.Out); err != nil {
		return nil, nil, err
	}
	if s.Scratch != nil {
		if err := k.param("scratch", *s.Scratch); err != nil {
			return nil, nil, err
		}
	}
	intMap := s.Kernel == codegen.KMap && s.Out.DType != ir.F32
	for j, e := range s.Epilogue {
		if e.Arg != nil {
			if e.Arg.DType != ir.F32 && !(intMap && e.Arg.DType == s.Out.DType) {
				return nil, nil, unsupported(s, "epilogue operand of %v", e.Arg.DType)
			}
			if err := k.param(fmt.Sprintf("e%d", j), *e.Arg); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(s.Epilogue) > 0 && s.Out.DType != ir.F32 && !intMap {
		return nil, nil, unsupported(s, "epilogue on a %v result", s.Out.DType)
	}
	var err error
	switch {
	case s.Rq != nil && (s.Kernel == codegen.KConvGemm || s.Kernel == codegen.KIntConvRuntime):
		err = k.intConv()
	case s.Rq != nil && s.Kernel == codegen.KConvDepthwise:
		err = k.intDepthwise()
	case s.Rq != nil && s.Kernel == codegen.KGemm:
		err = k.intGemm()
	case s.Rq != nil && s.Kernel == codegen.KPool:
		err = k.intPool()
	case s.Rq != nil && s.Kernel == codegen.KSoftmax:
		err = k.intSoftmax()
	case s.Rq != nil:
		err = unsupported(s, "integer kernel %s", s.Kernel)
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case s.Rq != nil:
	case s.Kernel == codegen.KConvGemm:
		err = k.convGemm()
	case s.Kernel == codegen.KConvDepthwise:
		err = k.convDepthwise()
	case s.Kernel == codegen.KGemm:
		err = k.gemm()
	case s.Kernel == codegen.KMap:
		err = k.mapStep()
	case s.Kernel == codegen.KPool:
		err = k.pool()
	case s.Kernel == codegen.KGlobalAvgPool:
		err = k.globalAvgPool()
	case s.Kernel == codegen.KSoftmax:
		err = k.softmax()
	case s.Kernel == codegen.KReduce:
		err = k.reduce()
	case s.Kernel == codegen.KCopy:
		err = k.copyStep()
	default:
		if h, ok := extraKernels[s.Kernel]; ok {
			err = h(k)
		} else {
			err = unsupported(s, "kernel %s", s.Kernel)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if s.Kernel != codegen.KMap && len(s.Epilogue) > 0 && !k.fused {
		k.epilogueSweep()
	}
	var ins []string
	for _, o := range s.In {
		ins = append(ins, fmt.Sprintf("%v%v", o.DType, ir.FormatShape(o.Shape)))
	}
	doc := fmt.Sprintf("%s: %s(%s) -> %v%v", name, s.Kernel, strings.Join(ins, ", "), s.Out.DType, ir.FormatShape(s.Out.Shape))
	var eps []string
	for _, e := range s.Epilogue {
		eps = append(eps, string(e.Op))
	}
	if len(eps) > 0 {
		doc += " then " + strings.Join(eps, ", ")
	}
	fn := []jen.Code{jen.Comment(doc).Line().Comment("Source: " + comment(s.Where)).Line().
		Func().Id(name).Params(k.params...).Block(k.body...)}
	return fn, L("%s(%s)", name, strings.Join(k.args, ", ")), nil
}

// extraKernels holds kernels added beside codegen's own (integer ones).
var extraKernels = map[codegen.Kernel]func(*kfn) error{}

// offsetExpr is sum_d idx[d]*strides[d] as code ("0" when empty).
func offsetExpr(idx []string, strides []int, base int) string {
	var terms []string
	if base != 0 {
		terms = append(terms, fmt.Sprint(base))
	}
	for d, s := range strides {
		switch s {
		case 0:
		case 1:
			terms = append(terms, idx[d])
		default:
			terms = append(terms, fmt.Sprintf("%s*%d", idx[d], s))
		}
	}
	if len(terms) == 0 {
		return "0"
	}
	return strings.Join(terms, "+")
}

// nest wraps inner in loops over shape with index variables i0, i1, ...
func nest(shape []int, inner func(idx []string) []jen.Code) jen.Code {
	idx := make([]string, len(shape))
	for d := range shape {
		idx[d] = fmt.Sprintf("i%d", d)
	}
	body := inner(idx)
	for d := len(shape) - 1; d >= 0; d-- {
		body = []jen.Code{For(idx[d], 0, shape[d], body...)}
	}
	return jen.Block(body...)
}

// epi returns the statements applying the epilogue to v; argIdx[j] is the
// index expression of entry j's operand.
func (k *kfn) epi(argIdx []string) []jen.Code {
	var out []jen.Code
	for j, e := range k.s.Epilogue {
		if e.Op.Binary() {
			a := fmt.Sprintf("e%d[%s]", j, argIdx[j])
			x, y := "v", a
			if e.Swapped {
				x, y = a, "v"
			}
			switch e.Op {
			case codegen.EpiAdd:
				out = append(out, L("v = %s + %s", x, y))
			case codegen.EpiSub:
				out = append(out, L("v = %s - %s", x, y))
			case codegen.EpiMul:
				out = append(out, L("v = %s * %s", x, y))
			case codegen.EpiDiv:
				if k.s.Out.DType != ir.F32 {
					// As rt's: division by zero gives 0; MIN / -1 wraps
					// to MIN in Go as in rt.
					out = append(out, jen.If(L("t, u := %s, %s; u != 0", x, y)).Block(L("v = t / u")).Else().Block(L("v = 0")))
				} else {
					out = append(out, L("v = %s / %s", x, y))
				}
			case codegen.EpiMax:
				out = append(out, jen.If(L("t, u := %s, %s; u > t", x, y)).Block(L("v = u")).Else().Block(L("v = t")))
			case codegen.EpiMin:
				out = append(out, jen.If(L("t, u := %s, %s; u < t", x, y)).Block(L("v = u")).Else().Block(L("v = t")))
			case codegen.EpiPow:
				out = append(out, L("v = float32(math.Pow(float64(%s), float64(%s)))", x, y))
			case codegen.EpiPrelu:
				out = append(out, jen.If(L("v < 0")).Block(L("v = %s * v", a)))
			}
			continue
		}
		switch e.Op {
		case codegen.EpiRelu:
			out = append(out, jen.If(L("v < 0")).Block(L("v = 0")))
		case codegen.EpiLeakyRelu:
			out = append(out, jen.If(L("v < 0")).Block(L("v = %s * v", flit(e.A))))
		case codegen.EpiClip:
			out = append(out, jen.If(L("v < %s", flit(e.A))).Block(L("v = %s", flit(e.A))))
			out = append(out, jen.If(L("v > %s", flit(e.B))).Block(L("v = %s", flit(e.B))))
		case codegen.EpiSigmoid:
			out = append(out, L("v = float32(1 / (1 + math.Exp(-float64(v))))"))
		case codegen.EpiTanh, codegen.EpiExp, codegen.EpiLog, codegen.EpiSqrt, codegen.EpiErf, codegen.EpiFloor, codegen.EpiCeil:
			fn := map[codegen.EpiOp]string{codegen.EpiTanh: "Tanh", codegen.EpiExp: "Exp", codegen.EpiLog: "Log", codegen.EpiSqrt: "Sqrt",
				codegen.EpiErf: "Erf", codegen.EpiFloor: "Floor", codegen.EpiCeil: "Ceil"}[e.Op]
			out = append(out, L("v = float32(math.%s(float64(v)))", fn))
		case codegen.EpiHardSigmoid:
			out = append(out, L("v = max(0, min(1, %s*v+%s))", flit(e.A), flit(e.B)))
		case codegen.EpiHardSwish:
			out = append(out, L("v = v * max(0, min(1, v/6+0.5))"))
		case codegen.EpiNeg:
			out = append(out, L("v = -v"))
		case codegen.EpiAbs:
			out = append(out, L("v = float32(math.Abs(float64(v)))"))
		case codegen.EpiReciprocal:
			out = append(out, L("v = 1 / v"))
		default:
			out = append(out, L("panic(%q)", "unknown epilogue op"))
		}
	}
	return out
}

// epilogueSweep applies the step's epilogue to its output in place.
func (k *kfn) epilogueSweep() {
	lp := k.s.Loop
	k.add(nest(lp.Shape, func(idx []string) []jen.Code {
		o := offsetExpr(idx, lp.Strides[0], 0)
		var argIdx []string
		for j := range k.s.Epilogue {
			argIdx = append(argIdx, offsetExpr(idx, lp.Strides[j+1], 0))
		}
		body := []jen.Code{L("v := y[%s]", o)}
		body = append(body, k.epi(argIdx)...)
		return append(body, L("y[%s] = v", o))
	}))
}

// mapStep: y = epilogue(x0) elementwise over the loop; y is contiguous.
func (k *kfn) mapStep() error {
	lp := k.s.Loop
	if dt := k.s.In[0].DType; dt != ir.F32 {
		// Plain integer arithmetic, wrapping in the element type as rt's:
		// binary entries only, on operands of the result's type.
		if dt == ir.Bool || dt != k.s.Out.DType {
			return unsupported(k.s, "map over %v to %v", dt, k.s.Out.DType)
		}
		for _, e := range k.s.Epilogue {
			if !e.Op.Binary() || e.Op == codegen.EpiPow || e.Op == codegen.EpiPrelu {
				return unsupported(k.s, "integer %s", e.Op)
			}
		}
	}
	k.add(L("o := 0"))
	k.add(nest(lp.Shape, func(idx []string) []jen.Code {
		var argIdx []string
		for j := range k.s.Epilogue {
			argIdx = append(argIdx, offsetExpr(idx, lp.Strides[j+1], 0))
		}
		body := []jen.Code{L("v := x0[%s]", offsetExpr(idx, lp.Strides[0], 0))}
		body = append(body, k.epi(argIdx)...)
		return append(body, L("y[o] = v"), L("o++"))
	}))
	return nil
}

// axpyRows emits c[j] += Σ_k a(k)·elem(b(k)[j]) over a row c, 4-way
// unrolled over k, skipping groups of four zero a's: aExpr(k) is the code of
// a[k] (k a code expression), bRow(k) the code of the start of row k of B,
// elem wraps an element of B (a conversion to the accumulator's type, or
// nothing). The f32 GEMM and the integer conv share it.
func axpyRows(c string, kk int, aExpr, bRow, elem func(k string) string) []jen.Code {
	var out []jen.Code
	b := func(i int) string { return elem(fmt.Sprintf("b%d[j]", i)) }
	k4 := kk / 4 * 4
	if k4 > 0 {
		out = append(out, jen.For(L("k := 0"), L("k < %d", k4), L("k += 4")).Block(
			L("a0, a1, a2, a3 := %s, %s, %s, %s", aExpr("k"), aExpr("k+1"), aExpr("k+2"), aExpr("k+3")),
			jen.If(L("a0 == 0 && a1 == 0 && a2 == 0 && a3 == 0")).Block(jen.Continue()),
			L("b0 := %s[:len(%s)]", bRow("k"), c),
			L("b1 := %s[:len(%s)]", bRow("k+1"), c),
			L("b2 := %s[:len(%s)]", bRow("k+2"), c),
			L("b3 := %s[:len(%s)]", bRow("k+3"), c),
			jen.For(L("j := range %s", c)).Block(
				L("%s[j] += a0*%s + a1*%s + a2*%s + a3*%s", c, b(0), b(1), b(2), b(3)),
			),
		))
	}
	if k4 < kk {
		out = append(out, For("k", k4, kk,
			L("a0 := %s", aExpr("k")),
			L("b0 := %s[:len(%s)]", bRow("k"), c),
			jen.For(L("j := range %s", c)).Block(L("%s[j] += a0 * %s", c, b(0))),
		))
	}
	return out
}

// same leaves an element as it is (f32 accumulators over f32 B).
func same(x string) string { return x }

// toInt32 widens an integer element to the int32 accumulator.
func toInt32(x string) string { return "int32(" + x + ")" }

// rowsAxpy emits y_i += Σ_k w_i[k]·B[k] for r rows y0..y{r-1} of the
// same length with weight rows w0..w{r-1}, unrolled over k by 4 (2 for four
// rows, so the weights of one step stay in registers): every B element loaded is
// reused r times.
func rowsAxpy(r, kk int, bRow func(k string) string) []jen.Code {
	u := 4
	if r > 2 {
		u = 2
	}
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
		for t := 0; t < u; t++ {
			out = append(out, L("p%d := %s[:len(y0)]", t, bRow(fmt.Sprintf("k+%d", t))))
		}
		var inner []jen.Code
		for t := 0; t < u; t++ {
			inner = append(inner, L("q%d := p%d[j]", t, t))
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
		out = append(out, jen.For(L("j := range y0")).Block(inner...))
		_ = k0
		return out
	}
	var out []jen.Code
	ku := kk / u * u
	if ku > 0 {
		out = append(out, jen.For(L("k := 0"), L("k < %d", ku), L("k += %d", u)).Block(step(u, "k")...))
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

// gemm: C[b] = alpha·A[b]·B[b] (+ bias row) per batch entry.
func (k *kfn) gemm() error {
	gm := k.s.Gemm
	if k.s.In[0].DType != ir.F32 || k.s.In[1].DType != ir.F32 {
		return unsupported(k.s, "gemm on %v", k.s.In[0].DType)
	}
	M, N, K := gm.M, gm.N, gm.K
	if M*N == 0 {
		return nil
	}
	aAt := func(kk string) string {
		if gm.TransA {
			return fmt.Sprintf("a[(%s)*%d+m]", kk, M)
		}
		return fmt.Sprintf("a[m*%d+%s]", K, kk)
	}
	var row []jen.Code
	row = append(row, L("cr := c[m*%d:][:%d]", N, N), L("clear(cr)"))
	if !gm.TransB {
		row = append(row, axpyRows("cr", K, aAt, func(kk string) string { return fmt.Sprintf("b[(%s)*%d:]", kk, N) }, same)...)
	} else {
		var ar string
		if gm.TransA {
			ar = "" // strided A: scalar dot
		} else {
			ar = fmt.Sprintf("ar := a[m*%d:][:%d]", K, K)
		}
		dot := []jen.Code{L("br := b[j*%d:][:%d]", K, K)}
		if ar != "" {
			dot = append(dot, L("var s0, s1, s2, s3 float32"), L("kk := 0"),
				jen.For(L("; kk+4 <= %d; kk += 4", K)).Block(
					L("s0 += ar[kk] * br[kk]"), L("s1 += ar[kk+1] * br[kk+1]"), L("s2 += ar[kk+2] * br[kk+2]"), L("s3 += ar[kk+3] * br[kk+3]")),
				jen.For(L("; kk < %d; kk++", K)).Block(L("s0 += ar[kk] * br[kk]")),
				L("cr[j] = (s0 + s1) + (s2 + s3)"))
			row = append(row, L("%s", ar))
		} else {
			dot = append(dot, L("var s float32"), For("kk", 0, K, L("s += %s * br[kk]", aAt("kk"))), L("cr[j] = s"))
		}
		row = append(row, For("j", 0, N, dot...))
	}
	if gm.Alpha != 1 {
		row = append(row, jen.For(L("j := range cr")).Block(L("cr[j] *= %s", flit(gm.Alpha))))
	}
	if gm.Bias {
		row = append(row, L("bias := x2[:%d]", N), jen.For(L("j := range cr")).Block(L("cr[j] += bias[j]")))
	}
	nA, nB, nC := M*K, K*N, M*N
	for _, bt := range gm.Batch {
		k.add(jen.Block(
			L("a := x0[%d:][:%d]", bt[0], nA),
			L("b := x1[%d:][:%d]", bt[1], nB),
			L("c := y[%d:][:%d]", bt[2], nC),
			For("m", 0, M, row...),
		))
	}
	return nil
}

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

func (k *kfn) softmax() error {
	outer, n, inner := k.s.Softmax[0], k.s.Softmax[1], k.s.Softmax[2]
	if k.s.In[0].DType != ir.F32 {
		return unsupported(k.s, "softmax on %v", k.s.In[0].DType)
	}
	if n == 0 {
		return nil
	}
	k.add(For("o", 0, outer, For("in", 0, inner,
		L("base := o*%d + in", n*inner),
		L("m := float32(math.Inf(-1))"),
		For("j", 0, n, jen.If(L("v := x0[base+j*%d]; v > m", inner)).Block(L("m = v"))),
		L("var s float32"),
		For("j", 0, n, L("e := float32(math.Exp(float64(x0[base+j*%d] - m)))", inner), L("y[base+j*%d] = e", inner), L("s += e")),
		For("j", 0, n, L("y[base+j*%d] /= s", inner)),
	)))
	return nil
}

func (k *kfn) reduce() error {
	r := k.s.Reduce
	if k.s.In[0].DType != ir.F32 {
		return unsupported(k.s, "reduce on %v", k.s.In[0].DType)
	}
	n := ir.NumElements(r.Inner)
	ostr := ir.Strides(r.Outer)
	init := "0"
	if r.Op == "max" {
		init = "float32(math.Inf(-1))"
	}
	k.add(nest(r.Outer, func(oidx []string) []jen.Code {
		base := offsetExpr(oidx, r.OStride, 0)
		iidx := make([]string, len(r.Inner))
		for d := range iidx {
			iidx[d] = fmt.Sprintf("j%d", d)
		}
		var upd jen.Code
		if r.Op == "max" {
			upd = jen.If(L("v := x0[base+%s]; v > acc", offsetExpr(iidx, r.IStride, 0))).Block(L("acc = v"))
		} else {
			upd = L("acc += x0[base+%s]", offsetExpr(iidx, r.IStride, 0))
		}
		inner := []jen.Code{upd}
		for d := len(r.Inner) - 1; d >= 0; d-- {
			inner = []jen.Code{For(iidx[d], 0, r.Inner[d], inner...)}
		}
		body := []jen.Code{L("base := %s", base), L("_ = base"), L("acc := float32(%s)", init)}
		body = append(body, inner...)
		if r.Op == "mean" {
			body = append(body, L("acc /= %d", n))
		}
		return append(body, L("y[%s] = acc", offsetExpr(oidx, ostr, 0)))
	}))
	return nil
}

func (k *kfn) copyStep() error {
	s := k.s
	if s.HasFill {
		switch s.Out.DType {
		case ir.F32:
			k.add(jen.For(L("i := range y")).Block(L("y[i] = %s", flit(s.Fill))))
		case ir.Bool:
			k.add(jen.For(L("i := range y")).Block(L("y[i] = %v", s.Fill != 0)))
		default:
			if s.Fill != float32(int64(s.Fill)) {
				return unsupported(s, "fill %v of an integer tensor", s.Fill)
			}
			t, _ := goType(s.Out.DType)
			k.add(jen.For(L("i := range y")).Block(L("y[i] = %s(%d)", t, int64(s.Fill))))
		}
	}
	for _, c := range s.Copies {
		if s.In[c.Src].DType != s.Out.DType {
			return unsupported(s, "copy from %v to %v", s.In[c.Src].DType, s.Out.DType)
		}
		src := fmt.Sprintf("x%d", c.Src)
		r := len(c.Shape)
		if r > 0 && c.SrcStrides[r-1] == 1 && c.DstStrides[r-1] == 1 {
			n := c.Shape[r-1]
			k.add(nest(c.Shape[:r-1], func(idx []string) []jen.Code {
				so := offsetExpr(idx, c.SrcStrides[:r-1], c.SrcOff)
				do := offsetExpr(idx, c.DstStrides[:r-1], c.DstOff)
				return []jen.Code{L("copy(y[%s:][:%d], %s[%s:][:%d])", do, n, src, so, n)}
			}))
			continue
		}
		k.add(nest(c.Shape, func(idx []string) []jen.Code {
			return []jen.Code{L("y[%s] = %s[%s]", offsetExpr(idx, c.DstStrides, c.DstOff), src, offsetExpr(idx, c.SrcStrides, c.SrcOff))}
		}))
	}
	return nil
}
