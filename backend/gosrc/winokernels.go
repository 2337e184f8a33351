package gosrc

import (
	"fmt"
	"math"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// f32 convolutions with 5 taps per row by Winograd's minimal filtering
// along the rows, F(4,5): four outputs of a row from eight inputs with
// eight multiplies instead of twenty (F(2,5), six for two, took a third
// more multiplies in the row sweeps, which dominate mnist-7). The eight
// inputs of each window are transformed once (d' = Bᵀd, shared by every
// output channel and kernel row), the weights once at init (g' = G·g),
// the products summed over the input channels and kernel rows as eight
// GEMMs (one per transformed component, the row sweeps of convGemm), and
// four outputs recovered per window (y = Aᵀ(Σ g'⊙d')); the last window
// of a row may reach into the padding (its extra outputs are not
// stored). The transforms come from Toom-Cook interpolation at 0, ±1,
// ±2, ±1/2 and ∞ (winoMatrices). The transformed values and their sums
// are float64 (the scalar float64 multiply-adds cost what float32 ones
// do): the transforms' cancellations stay well within the backend's 1e-4
// of rt even for outputs much smaller than their terms.

// winoM is the number of outputs per window.
const winoM = 4

// winoMatrices returns Bᵀ (n×n), G (n×r) and Aᵀ (m×n) of the correlation
// y[i] = Σ_k g[k]·d[i+k] (i < m) by evaluation at the points pts (the last
// one ∞), n = m + r - 1 = len(pts).
func winoMatrices(m, r int, pts []float64) (bt, g, at [][]float64) {
	n := m + r - 1
	vand := func(p float64, inf bool, deg int) []float64 {
		row := make([]float64, deg)
		if inf {
			row[deg-1] = 1
			return row
		}
		for j := range row {
			row[j] = math.Pow(p, float64(j))
		}
		return row
	}
	v := make([][]float64, n)
	a := make([][]float64, n)
	g = make([][]float64, n)
	for i := 0; i < n; i++ {
		inf := i == n-1
		v[i] = vand(pts[i], inf, n)
		a[i] = vand(pts[i], inf, m)
		g[i] = vand(pts[i], inf, r)
	}
	vi := invert(v)
	bt = make([][]float64, n)
	for i := range bt {
		bt[i] = make([]float64, n)
		for j := range bt[i] {
			bt[i][j] = vi[j][i]
		}
	}
	at = make([][]float64, m)
	for t := range at {
		at[t] = make([]float64, n)
		for i := range at[t] {
			at[t][i] = a[i][t]
		}
	}
	return bt, g, at
}

// invert inverts a small matrix by Gauss-Jordan elimination with partial
// pivoting.
func invert(a [][]float64) [][]float64 {
	n := len(a)
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, 2*n)
		copy(m[i], a[i])
		m[i][n+i] = 1
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		d := m[c][c]
		for j := range m[c] {
			m[c][j] /= d
		}
		for r := 0; r < n; r++ {
			if r != c && m[r][c] != 0 {
				f := m[r][c]
				for j := range m[r] {
					m[r][j] -= f * m[c][j]
				}
			}
		}
	}
	inv := make([][]float64, n)
	for i := range inv {
		inv[i] = m[i][n:]
	}
	return inv
}

// winoPoints are the interpolation points of F(4,5) (∞ last).
var winoPoints = []float64{0, 1, -1, 2, -2, 0.5, -0.5, math.Inf(1)}

// winoOK reports whether the step is an f32 conv convWino computes:
// 5 taps per row, unit strides and dilations, enough kernel rows and
// output channels per group to amortize the transforms (not a true
// depthwise conv).
func (k *kfn) winoOK() bool {
	c := k.s.Conv
	return k.s.In[0].DType == ir.F32 && k.s.In[1].DType == ir.F32 && !c.Pointwise &&
		c.KW == 5 && c.SW == 1 && c.DW == 1 && c.SH == 1 && c.DH == 1 && c.Mg >= 2 && c.Cg*c.KH*c.Mg >= 16 && c.OW >= 4
}

// lit is a float64 constant as Go source.
func lit(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%v", v)
}

// combo is Σ coef[i]·term(i) over the nonzero coefficients, as Go source.
func combo(coef []float64, term func(i int) string) string {
	var b strings.Builder
	for i, cf := range coef {
		if math.Abs(cf) < 1e-12 {
			continue
		}
		switch {
		case b.Len() == 0 && cf == 1:
		case b.Len() == 0 && cf == -1:
			b.WriteString("-")
		case b.Len() == 0:
			b.WriteString(lit(cf) + "*")
		case cf == 1:
			b.WriteString(" + ")
		case cf == -1:
			b.WriteString(" - ")
		case cf < 0:
			b.WriteString(" - " + lit(-cf) + "*")
		default:
			b.WriteString(" + " + lit(cf) + "*")
		}
		b.WriteString(term(i))
	}
	if b.Len() == 0 {
		return "0"
	}
	return b.String()
}

// winoPairs returns, for each point, the index of its opposite (p and -p,
// p ≠ 0), or -1.
func winoPairs(pts []float64) []int {
	pair := make([]int, len(pts))
	for i, p := range pts {
		pair[i] = -1
		for j, q := range pts {
			if p != 0 && !math.IsInf(p, 0) && q == -p {
				pair[i] = j
			}
		}
	}
	return pair
}

// splitPair splits the coefficients u of the transform at a point p and v
// of the one at -p, where v[j] = ±u[j] (Toom-Cook at opposite points:
// x ↦ -x flips the odd powers), into the terms they share and those of
// opposite signs: u = e + o, v = e - o, so the two take one sum of each
// instead of two full sums. ok is false if u and v are not so related or
// e or o is empty.
func splitPair(u, v []float64) (e, o []float64, ok bool) {
	e, o = make([]float64, len(u)), make([]float64, len(u))
	var ne, no int
	for j := range u {
		tol := 1e-9 * (1 + math.Abs(u[j]))
		switch {
		case math.Abs(u[j]) < 1e-12 && math.Abs(v[j]) < 1e-12:
		case math.Abs(v[j]-u[j]) < tol:
			e[j], ne = u[j], ne+1
		case math.Abs(v[j]+u[j]) < tol:
			o[j], no = u[j], no+1
		default:
			return nil, nil, false
		}
	}
	return e, o, ne > 0 && no > 0
}

// winoInput is the input transform of a window d0, d1, … as statements
// storing component xi in dst(xi), opposite points' components from one
// even and one odd sum (splitPair).
func winoInput(bt [][]float64, pair []int, dst func(xi int) string) []jen.Code {
	d := func(i int) string { return fmt.Sprintf("d%d", i) }
	var out []jen.Code
	done := make([]bool, len(bt))
	for xi := range bt {
		if done[xi] {
			continue
		}
		if b := pair[xi]; b > xi {
			if e, o, ok := splitPair(bt[xi], bt[b]); ok {
				out = append(out, L("e%d, o%d := %s, %s", xi, xi, combo(e, d), combo(o, d)),
					L("%s = e%d + o%d", dst(xi), xi, xi), L("%s = e%d - o%d", dst(b), xi, xi))
				done[b] = true
				continue
			}
		}
		out = append(out, L("%s = %s", dst(xi), combo(bt[xi], d)))
	}
	return out
}

// winoOutput is the output transform of the sums s0, s1, …: statements
// forming the sums and differences of opposite points' sums (sp, sm) and
// the expression of each output.
func winoOutput(at [][]float64, pair []int) (pre []jen.Code, outs []string) {
	n := len(at[0])
	var names []string
	coefs := make([][]float64, len(at))
	add := func(name string, col func(t int) float64) {
		names = append(names, name)
		for t := range at {
			coefs[t] = append(coefs[t], col(t))
		}
	}
	for xi := 0; xi < n; xi++ {
		b := pair[xi]
		if b >= 0 && b < xi {
			continue
		}
		u, v := make([]float64, len(at)), make([]float64, len(at))
		for t := range at {
			u[t] = at[t][xi]
			if b >= 0 {
				v[t] = at[t][b]
			}
		}
		e, o, ok := splitPair(u, v)
		if b < 0 || !ok {
			add(fmt.Sprintf("s%d", xi), func(t int) float64 { return u[t] })
			if b >= 0 {
				add(fmt.Sprintf("s%d", b), func(t int) float64 { return v[t] })
			}
			continue
		}
		pre = append(pre, L("sp%d, sm%d := s%d+s%d, s%d-s%d", xi, xi, xi, b, xi, b))
		add(fmt.Sprintf("sp%d", xi), func(t int) float64 { return e[t] })
		add(fmt.Sprintf("sm%d", xi), func(t int) float64 { return o[t] })
	}
	for t := range at {
		outs = append(outs, combo(coefs[t], func(i int) string { return names[i] }))
	}
	return pre, outs
}

// convWino emits the conv by F(4,5) along the rows.
func (k *kfn) convWino() error {
	c := k.s.Conv
	integer := k.s.Rq != nil // intWinoOK: exact sums of integers
	bt, gm, at := winoMatrices(winoM, c.KW, winoPoints)
	n := len(bt)
	nw := (c.OW + winoM - 1) / winoM // windows per row
	hp := max(c.OH+c.KH-1, c.H+c.PT)
	wp := max(winoM*nw+c.KW-1, c.W+c.PL)
	KK := c.Cg * c.KH // the GEMMs' k: (input channel, kernel row)
	pos := c.OH * nw  // the GEMMs' columns: (output row, window)
	hw := c.H * c.W
	pad, dq, yq, wg := k.name+"_pad", k.name+"_d", k.name+"_y", k.name+"_g"
	w1, err := k.g.operand(k.s.In[1])
	if err != nil {
		return err
	}
	var grows []string
	for _, row := range gm {
		var vs []string
		for _, v := range row {
			vs = append(vs, lit(v))
		}
		grows = append(grows, "{"+strings.Join(vs, ", ")+"}")
	}
	var offs []int64
	for ci := 0; ci < c.Cg; ci++ {
		for kh := 0; kh < c.KH; kh++ {
			offs = append(offs, int64((ci*hp+kh)*nw))
		}
	}
	off := k.intTable(k.name+"_off", offs)
	k.g.tables = append(k.g.tables,
		jen.Commentf("%s is a group of %s's input with its padding.", pad, k.name).Line().
			Var().Id(pad).Index(jen.Lit(c.Cg*hp*wp)).Float32(),
		jen.Commentf("%s holds the transformed input windows [%d][Cg·rows][%d windows].", dq, n, nw).Line().
			Var().Id(dq).Index(jen.Lit(n*c.Cg*hp*nw)).Float64(),
		jen.Commentf("%s holds the transformed sums of a block of output channels [%d][4][%d]", yq, n, pos).Line().
			Comment("(a slice, not an array: the sweeps address its rows from a register, not each from the symbol).").Line().
			Var().Id(yq).Op("=").Make(jen.Index().Float64(), jen.Lit(n*4*pos)),
		jen.Commentf("%s holds %s's transformed weights [%d][M][Cg·KH] (G·g of each kernel row).", wg, k.name, n).Line().
			Var().Id(wg).Op("=").Id("winoWeights").Call(L("%s, [][]float64{%s}, %d, %d", w1, strings.Join(grows, ", "), c.M, c.KW)))
	k.g.wino = true

	// The padded group and its transformed windows.
	body := []jen.Code{
		L("xg := x0[(n*%d+g*%d)*%d:][:%d]", c.C, c.Cg, hw, c.Cg*hw),
		L("xp := %s[:]", pad),
		For("c", 0, c.Cg, For("h", 0, c.H, k.winoRow(fmt.Sprintf("xp[(c*%d+h+%d)*%d+%d:][:%d]", hp, c.PT, wp, c.PL, c.W),
			fmt.Sprintf("xg[(c*%d+h)*%d:][:%d]", c.H, c.W, c.W)))),
		L("dq := %s[:]", dq),
		L("yq := %s[:%d]", yq, n*4*pos),
	}
	var tr []jen.Code
	tr = append(tr, L("d := xr[w*%d:][:%d]", winoM, n))
	for i := 0; i < n; i++ {
		tr = append(tr, L("d%d := float64(d[%d])", i, i))
	}
	pair := winoPairs(winoPoints)
	tr = append(tr, winoInput(bt, pair, func(xi int) string { return fmt.Sprintf("dq[%d+i*%d+w]", xi*c.Cg*hp*nw, nw) })...)
	body = append(body, For("i", 0, c.Cg*hp,
		L("xr := xp[i*%d:][:%d]", wp, wp),
		For("w", 0, nw, tr...)))

	// Blocks of output channels: per component, the row sweeps; then four
	// outputs per window.
	fused := k.unaryEpilogue()
	m := 0
	for _, r := range []int{4, 2, 1} {
		if c.Mg-m < r {
			continue
		}
		cnt := (c.Mg - m) / r
		lo := m
		m += cnt * r
		var blk []jen.Code
		for xi := 0; xi < n; xi++ {
			var comp []jen.Code
			for i := 0; i < r; i++ {
				comp = append(comp, L("y%d := yq[%d:][:%d]", i, (xi*4+i)*pos, pos))
				if i > 0 {
					comp = append(comp, L("y%d = y%d[:len(y0)]", i, i))
				}
				comp = append(comp, L("clear(y%d)", i), L("w%d := %s[(%d*%d+oc+%d)*%d:][:%d]", i, wg, xi, c.M, i, KK, KK))
			}
			comp = append(comp, rowsAxpy(r, KK, func(kk string) string {
				return fmt.Sprintf("dq[%d+int(%s[%s]):]", xi*c.Cg*hp*nw, off, kk)
			})...)
			blk = append(blk, jen.Block(comp...))
		}
		for i := 0; i < r; i++ {
			var outw []jen.Code
			for xi := 0; xi < n; xi++ {
				outw = append(outw, L("s%d := yq[%d+p]", xi, (xi*4+i)*pos))
			}
			pre, outs := winoOutput(at, pair)
			outw = append(outw, pre...)
			for t, v := range outs {
				st := []jen.Code{L("v := b + float32(%s)", v)}
				if fused {
					st = append(st, k.epi(nil)...)
				}
				st = append(st, L("yr[w*%d+%d] = v", winoM, t))
				if integer {
					// The sum is within far less than 1/2 of the
					// integer it stands for: rounded (adding 1.5·2⁵²).
					fin, err := k.finish(fmt.Sprintf("yr[w*%d+%d]", winoM, t), fmt.Sprintf("b + int32(int64((%s+0x1.8p52)-0x1.8p52))", v), fmt.Sprintf("oc+%d", i))
					if err != nil {
						return err
					}
					st = []jen.Code{fin}
				}
				if winoM*(nw-1)+t >= c.OW {
					outw = append(outw, jen.If(L("w*%d+%d < %d", winoM, t, c.OW)).Block(st...))
				} else {
					outw = append(outw, jen.Block(st...))
				}
			}
			b := "float32(0)"
			if c.Bias || integer {
				b = fmt.Sprintf("x2[oc+%d]", i)
			}
			blk = append(blk, jen.Block(
				L("b := %s", b),
				L("yo := y[(n*%d+oc+%d)*%d:][:%d]", c.M, i, c.OH*c.OW, c.OH*c.OW),
				For("oh", 0, c.OH,
					L("yr := yo[oh*%d:][:%d]", c.OW, c.OW),
					For("w", 0, nw, append([]jen.Code{L("p := oh*%d + w", nw)}, outw...)...))))
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

// winoRow is the copy of an input row into the padded input (f32), or for
// integer convs its values minus the zero point.
func (k *kfn) winoRow(dst, src string) jen.Code {
	if k.s.Rq == nil {
		return L("copy(%s, %s)", dst, src)
	}
	return jen.Block(L("d := %s", dst), jen.For(L("i, v := range %s", src)).Block(L("d[i] = float32(int32(v) - %d)", k.s.Rq.ZX)))
}

// intWinoOK reports whether the integer conv step is computed by convWino
// exactly: the float64 transforms and sums of its integer inputs (x - zx)
// and weights stay so far within 2⁵⁰, and their rounding errors (bounded
// by the magnitudes of every term, so whatever cancels) so far below 1/4,
// that rounding the result recovers the integer sum rt computes. Only
// convs with enough input channels times kernel rows (the GEMMs' k): with
// few (mnist-7's first conv), the lane kernels are faster.
func (k *kfn) intWinoOK() bool {
	s, c := k.s, k.s.Conv
	if s.Rq == nil || s.Rq.BRuntime || (s.Kernel != codegen.KConvGemm && s.Kernel != codegen.KConvDepthwise) || !isInt8(s.In[0].DType) || (s.In[1].DType != ir.I8 && s.In[1].DType != ir.I16) ||
		c.Pointwise || c.KW != 5 || c.SW != 1 || c.DW != 1 || c.SH != 1 || c.DH != 1 || c.Mg < 2 || c.Cg*c.KH < intWinoMinK || c.OW < 4 {
		return false
	}
	w, ok := k.g.weightInts(s.In[1])
	if !ok || len(w) != c.M*c.Cg*c.KH*c.KW {
		return false
	}
	bt, gm, at := winoMatrices(winoM, c.KW, winoPoints)
	rowSum := func(m [][]float64) float64 {
		var mx float64
		for _, r := range m {
			var t float64
			for _, v := range r {
				t += math.Abs(v)
			}
			mx = max(mx, t)
		}
		return mx
	}
	var gmax float64 // the largest |G·g| bound of a row of taps
	for r := 0; r < len(w)/c.KW; r++ {
		for _, gr := range gm {
			var t float64
			for j, v := range w[r*c.KW:][:c.KW] {
				t += math.Abs(gr[j]) * math.Abs(float64(v))
			}
			gmax = max(gmax, t)
		}
	}
	lo, hi := s.In[0].DType.Range()
	x := float64(max(hi-int64(s.Rq.ZX), int64(s.Rq.ZX)-lo))
	kk := float64(c.Cg * c.KH)
	mag := rowSum(at) * kk * gmax * x * rowSum(bt)
	return mag < 1<<50 && 4*(kk+64)*0x1p-52*mag < 0.25
}

// intWinoMinK is the least k (input channels × kernel rows) of the
// GEMMs of an integer conv that convWino computes: measured on mnist-7,
// its first conv (k = 5) is faster with mixed lane words.
const intWinoMinK = 16

// winoSrc is the generated helper transforming the weights.
const winoSrc = `
// winoWeights transforms the weights w [M][Cg][KH][kw] of a conv by G
// (rows of kw taps to len(G) values), laid out [len(G)][M][Cg·KH] for the
// row sweeps.
func winoWeights[T int8 | int16 | float32](w []T, G [][]float64, M, kw int) []float64 {
	rows := len(w) / kw
	kk := rows / M
	out := make([]float64, len(G)*rows)
	for r := 0; r < rows; r++ {
		g := w[r*kw:][:kw]
		for xi, gr := range G {
			var s float64
			for j, v := range g {
				s += gr[j] * float64(v)
			}
			out[xi*rows+(r/kk)*kk+r%kk] = s
		}
	}
	return out
}
`
