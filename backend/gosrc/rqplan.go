package gosrc

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Requantizations prepared at generation time.
//
// TFLite's MultiplyByQuantizedMultiplier rounds twice (srdhm's rounding
// shift by 31, then rdbpot's rounding shift by e half away from zero),
// with a per-channel shift. Both roundings are one floor division:
// with p = (x<<left)·m + 2³⁰, the result is
//
//	(p + h·2³¹ - [p < 0]·c·2³¹) >> (31+e)   (h = 2^(e-1), c = 1; both 0 when e = 0)
//
// and scaling the numerator by 2^(E-e) (E the layer's largest e) gives
// every channel the same shift 31+E, a constant. The left shift is folded
// into the multiplier and the output zero point into the rounding term.
// This is exact when nothing overflows: the accumulators' bound (from the
// constant weights and bias) makes x<<left fit int32 and the int64 sums
// stay below 2⁶²; rqFixPlan checks both, else the kernels use rqp.
//
// rt's float requantization, round_half_even(float32(acc)·scale)+zy
// saturated, is computed by quantFI when the scales are positive with a
// bounded ratio (quantFIBound: the accumulator clamped in int32 first, no
// float clamps), else by quantFC when every scale is finite (so there is
// no NaN): clamped first to [lo-zy, hi-zy] (rounding fixes integers,
// so clamping before or after rounding is the same), rounded by adding
// 1.5·2²³ in float32 (ties to even, the integer in the low mantissa bits;
// exact for the clamped magnitudes, below 2²²).

// rqFix is a step's prepared TFLite requantization: per channel {M, A, H,
// C} (rqS) and the shift.
type rqFix struct {
	table string
	shift int
	fn    string // rqS, or rqSR when the clamp's floor is at least zy
}

// accBound returns a bound on the magnitude of the step's int32
// accumulators (Σ(x-zx)·w + bias), and false when it is not known.
func (k *kfn) accBound() (float64, bool) {
	s := k.s
	if len(s.In) < 3 || s.Rq == nil || s.Rq.BRuntime {
		return 0, false
	}
	lo, hi := s.In[0].DType.Range()
	xr := float64(max(hi-int64(s.Rq.ZX), int64(s.Rq.ZX)-lo))
	bias, ok := k.g.weightInts(s.In[2])
	if !ok {
		return 0, false
	}
	var bmax float64
	for _, b := range bias {
		bmax = max(bmax, math.Abs(float64(b)))
	}
	var K int
	switch {
	case s.Conv != nil:
		K = s.Conv.Cg * s.Conv.KH * s.Conv.KW
	case s.Gemm != nil:
		K = s.Gemm.K
	default:
		return 0, false
	}
	w, ok := k.g.weightInts(s.In[1])
	if s.Sparse != nil { // In[1] holds entries: the bound needs the rows
		d, err := codegen.DecodeSparse(k.g.p, s)
		w, ok = d, err == nil
	}
	if !ok || K == 0 || len(w)%K != 0 {
		return 0, false
	}
	var wsum float64 // the largest Σ|w| of a row of K (a conv's channel) or K·max|w|
	if s.Conv != nil {
		for r := 0; r < len(w)/K; r++ {
			var t float64
			for _, v := range w[r*K:][:K] {
				t += math.Abs(float64(v))
			}
			wsum = max(wsum, t)
		}
	} else {
		var wm float64
		for _, v := range w {
			wm = max(wm, math.Abs(float64(v)))
		}
		wsum = float64(K) * wm
	}
	return bmax + wsum*xr, true
}

// rqFixPlan returns the step's prepared TFLite requantization (adding its
// table), or nil when it is not exact by the bounds above.
func (k *kfn) rqFixPlan() *rqFix {
	if k.rqfDone {
		return k.rqf
	}
	k.rqfDone = true
	if !k.fastRq() {
		return nil
	}
	bound, ok := k.accBound()
	if !ok {
		return nil
	}
	ms, _ := k.g.weightInts(k.s.In[3])
	shs, _ := k.g.weightInts(k.s.In[4])
	// The rows are checked here and computed again by rqRows at init.
	_, S, ok := rqFixRows(ms, shs, bound, k.s.Rq.ZY)
	if !ok {
		return nil
	}
	name := k.name + "_rq"
	m3, err := k.g.operand(k.s.In[3])
	if err != nil {
		return nil
	}
	m4, err := k.g.operand(k.s.In[4])
	if err != nil {
		return nil
	}
	rows := jen.Id("rqRows").Call(L("%s, %s, %d, %d", m3, m4, S-31, k.s.Rq.ZY))
	k.rqf = &rqFix{table: name, shift: S, fn: "rqS"}
	comment := "%s is %s's requantization per channel {M, A, H, C} for rqS (shift %d)."
	if k.s.Rq.Lo >= k.s.Rq.ZY {
		// A relu's clamp: the sign correction C cannot matter (rqSR).
		rows = jen.Id("rqRelu").Call(rows)
		k.rqf.fn = "rqSR"
		comment = "%s is %s's requantization per channel {M, A+H, 0, 0} for rqSR (shift %d)."
		k.g.rqSR = true
	}
	k.g.tables = append(k.g.tables, jen.Commentf(comment, name, k.name, S).Line().
		Var().Id(name).Op("=").Add(rows))
	k.g.rqS = true
	return k.rqf
}

// laneB reports whether a lane kernel may requantize its channels' lane
// sums e by rqb (rqB, at): the requantization is rqSR's, and every channel's
// constant cw = bias - zx·Σw (zx 0 when the inputs are read as x - zx) is
// the same in int32 (wrapping, as computed) and int64, so that int64(cw)+e
// is the accumulator itself (within accBound, below 2³¹: rqSR's int32 sum
// would not wrap either) and cw·M + A+H can be prepared per channel.
func (k *kfn) laneB(zx int64) bool {
	f, c := k.rqFixPlan(), k.s.Conv
	if f == nil || f.fn != "rqSR" || c == nil {
		return false
	}
	w, ok := k.g.weightInts(k.s.In[1])
	bias, ok2 := k.g.weightInts(k.s.In[2])
	K := c.Cg * c.KH * c.KW
	if !ok || !ok2 || len(bias) != c.M || len(w) != c.M*K {
		return false
	}
	for m, b := range bias {
		var sw int64
		for _, v := range w[m*K:][:K] {
			sw += v
		}
		if v := b - zx*sw; v != int64(int32(v)) {
			return false
		}
	}
	k.g.rqB = true
	return true
}

// qbPrep declares qb, the rqb of the channel's cw and q, when useB.
func qbPrep(useB bool) jen.Code {
	if !useB {
		return jen.Null()
	}
	return L("qb := rqB(cw, q)")
}

// laneZX is the zero point folded into the lane kernels' cw: none when
// the inputs are read as x - zx.
func (k *kfn) laneZX() int64 {
	if k.laneUnsigned() {
		return 0
	}
	return int64(k.s.Rq.ZX)
}

// laneFinish stores the lane sum e requantized: by qb (rqb, when laneB)
// or else by finishPrep with q and the channel's constant cw.
func (k *kfn) laneFinish(dst, e, cw, q, qb string, useB bool) jen.Code {
	if useB {
		r := k.s.Rq
		t, err := goType(k.s.Out.DType)
		if err != nil {
			panic(err) // checked by the caller (finish)
		}
		return L("%s = %s(%s.at(%s, %d, %d, %d))", dst, t, qb, e, k.rqf.shift, r.Lo, r.Hi)
	}
	f, err := k.finishPrep(dst, fmt.Sprintf("%s+int32(%s)", cw, e), q)
	if err != nil {
		panic(err) // checked by the caller
	}
	return f
}

// rqFixRows prepares the channels' multipliers ms and shifts shs for rqS
// with accumulators of magnitude at most bound and output zero point zy:
// the rows {M, A, H, C} and the shift, ok false when it would not be exact.
func rqFixRows(ms, shs []int64, bound float64, zy32 int32) ([][4]int64, int, bool) {
	if len(ms) != len(shs) || len(ms) == 0 || bound >= 1<<31 {
		return nil, 0, false
	}
	E := 0
	for _, sh := range shs {
		if sh < -31 || sh > 31 {
			return nil, 0, false
		}
		E = max(E, int(-sh))
	}
	S := 31 + E
	zy := big.NewInt(int64(zy32))
	limit := new(big.Int).Lsh(big.NewInt(1), 62)
	B := big.NewInt(int64(bound) + 1)
	var rows [][4]int64
	for c, m := range ms {
		left, e := max(int(shs[c]), 0), max(int(-shs[c]), 0)
		if m == math.MinInt32 || (bound+1)*math.Exp2(float64(left)) >= 1<<31 {
			return nil, 0, false // srdhm would saturate, or x<<left wrap in int32
		}
		M := new(big.Int).Lsh(big.NewInt(m), uint(left+E-e))
		A := new(big.Int).Lsh(big.NewInt(1), uint(30+E-e))
		H := new(big.Int).Lsh(zy, uint(S))
		C := big.NewInt(0)
		if e > 0 {
			H.Add(H, new(big.Int).Lsh(big.NewInt(1), uint(30+E)))
			C.Lsh(big.NewInt(1), uint(31+E-e))
		}
		// |x·M| + |A| + |H| + |C| < 2⁶²: no int64 sum can overflow.
		t := new(big.Int).Mul(B, new(big.Int).Abs(M))
		t.Add(t, A)
		t.Add(t, new(big.Int).Abs(H))
		t.Add(t, C)
		if t.Cmp(limit) >= 0 {
			return nil, 0, false
		}
		rows = append(rows, [4]int64{M.Int64(), A.Int64(), H.Int64(), C.Int64()})
	}
	return rows, S, true
}

// floatScales returns the step's float requantization scales (In[3])
// when they are constants, all finite (quantFC applies).
func (k *kfn) floatScales() ([]float32, bool) {
	if k.s.Rq == nil || k.s.Rq.Mode != "float" || len(k.s.In) < 4 {
		return nil, false
	}
	sc, ok := k.g.weightF32(k.s.In[3])
	if !ok {
		return nil, false
	}
	for _, v := range sc {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, false
		}
	}
	return sc, true
}

// weightF32 returns the values of a constant f32 operand.
func (g *gen) weightF32(o codegen.Operand) ([]float32, bool) {
	if o.Space != codegen.Weights || o.DType != ir.F32 {
		return nil, false
	}
	n := ir.NumElements(o.Shape)
	if o.Offset < 0 || o.Offset+int64(4*n) > int64(len(g.p.Weights)) {
		return nil, false
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(g.p.Weights[o.Offset+int64(4*i):]))
	}
	return v, true
}

// quantFIBound returns the clamp a of quantFI's accumulators for positive
// scales in [smin, smax] and results within ±span of the zero point:
// |float32(a)·s| stays below 2²¹ (so the rounding by 1.5·2²³ is exact),
// and beyond ±a every result saturates (|acc·s| ≥ 2·(span+2)), so
// clamping the accumulator changes nothing.
func quantFIBound(smin, smax float64, span int64) (int32, bool) {
	if !(smin > 0) || smax > 1e30 || span >= 1<<20 {
		return 0, false
	}
	a := math.Min(math.Floor(math.Exp2(21)/smax), math.MaxInt32)
	if a*smin*(1-1e-6) < float64(2*(span+2)) {
		return 0, false
	}
	return int32(a), true
}

// quantFCall is the call of quantFI (positive finite scales of a bounded
// ratio), quantFC (finite scales) or quantF on float32(acc)·scale.
func (k *kfn) quantFCall(acc, scale string) string {
	r := k.s.Rq
	lo, hi := int64(r.Lo)-int64(r.ZY), int64(r.Hi)-int64(r.ZY)
	sc, ok := k.floatScales()
	if ok {
		smin, smax := math.Inf(1), 0.0
		for _, v := range sc {
			smin, smax = math.Min(smin, float64(v)), math.Max(smax, float64(v))
		}
		if a, ok := quantFIBound(smin, smax, max(-lo, lo, -hi, hi)); ok {
			k.g.quantFC = true
			return fmt.Sprintf("quantFI(%s, %s, %d, %d, %d, %d)", acc, scale, r.ZY, r.Lo, r.Hi, a)
		}
	}
	if ok && max(-lo, lo, -hi, hi) < 1<<22 {
		k.g.quantFC = true
		return fmt.Sprintf("quantFC(float32(%s)*%s, %d, %d, %d)", acc, scale, r.ZY, lo, hi)
	}
	return fmt.Sprintf("quantF(float32(%s)*%s, %d, %d, %d)", acc, scale, r.ZY, r.Lo, r.Hi)
}

// rqSSrc and quantFCSrc are the generated helpers.
const rqSSrc = `
// rqRows prepares rqS's constants {M, A, H, C} for the multipliers m and
// shifts sh with the layer's largest right shift E and zero point zy (the
// generator checked that the sums cannot overflow).
func rqRows(m, sh []int32, E uint, zy int64) [][4]int64 {
	rows := make([][4]int64, len(m))
	for c := range rows {
		left, e := uint(max(sh[c], 0)), uint(max(-sh[c], 0))
		rows[c] = [4]int64{int64(m[c]) << (left + E - e), 1 << (30 + E - e), zy << (31 + E), 0}
		if e > 0 {
			rows[c][2] += 1 << (30 + E)
			rows[c][3] = 1 << (31 + E - e)
		}
	}
	return rows
}

// rqS is rqT with a channel's constants q = {M, A, H, C} prepared at
// generation time and the layer's shift s (one floor division for both of
// MultiplyByQuantizedMultiplier's roundings, the zero point in H).
func rqS(x int32, q *[4]int64, s uint, lo, hi int32) int32 {
	p := int64(x)*q[0] + q[1]
	return min(max(int32((p+q[2]-(p>>63)&q[3])>>s), lo), hi)
}
`

// rqSRSrc is rqS for clamps [lo, hi] with lo ≥ zy (relus). When p =
// x·M + A < 0, x·m < 0, so srdhm ≤ 0 and rqT's result is at most zy; so
// is floor((p+H)/2^s) (H = zy·2^s + 2^(s-1) when e > 0, and p + 2^(s-1) <
// 2^(s-1)). Both clamp to lo, and for p ≥ 0 the correction is zero: the
// sum is one multiply-add, A+H prepared.
const rqSRSrc = `
// rqRelu folds rqRows' rows {M, A, H, C} into {M, A+H, 0, 0} for rqSR.
func rqRelu(rows [][4]int64) [][4]int64 {
	for c := range rows {
		rows[c] = [4]int64{rows[c][0], rows[c][1] + rows[c][2], 0, 0}
	}
	return rows
}

// rqSR is rqS for a clamp whose floor lo is at least the zero point (a
// relu's), with q = {M, A+H, 0, 0} (rqRelu): a negative sum (x·m < 0) ends
// at lo with or without rqS's sign correction.
func rqSR(x int32, q *[4]int64, s uint, lo, hi int32) int32 {
	return min(max(int32((int64(x)*q[0]+q[1])>>s), lo), hi)
}
`

// rqBSrc is rqSR with a channel's constant term prepared (laneB).
const rqBSrc = `
// rqb is a channel's rqSR with its constant cw folded in: {M, cw·M + A+H}.
type rqb struct{ m, b int64 }

// rqB prepares rqb from the channel's constant cw and rqSR's row q.
func rqB(cw int32, q *[4]int64) rqb { return rqb{q[0], int64(cw)*q[0] + q[1]} }

// at is rqSR(cw+e, q, s, lo, hi) for a lane sum e.
func (r rqb) at(e int64, s uint, lo, hi int32) int32 {
	return min(max(int32((e*r.m+r.b)>>s), lo), hi)
}
`

const quantFCSrc = `
// quantFI is quantF(float32(acc)·s) for a positive scale: the accumulator
// clamped to ±a (beyond which the result saturates either way, and within
// which |float32(acc)·s| < 2²¹), rounded half to even by adding 1.5·2²³,
// then clamped to [lo, hi]. The product is converted explicitly: else
// arm64 fuses it into the add (FMADDS), rounding x·s to an integer once
// where rt rounds it to float32 first (x·s just above a half-integer).
func quantFI(acc int32, s float32, zy, lo, hi, a int32) int32 {
	f := float32(float32(min(max(acc, -a), a)) * s)
	return min(max(int32(math.Float32bits(f+0x1.8p23))-0x4b400000+zy, lo), hi)
}

// quantFC is quantF for a finite f: clamped to [lo-zy, hi-zy] (within
// ±2²²), then rounded half to even by adding 1.5·2²³ (the sum's bits are
// those of 1.5·2²³ plus the integer).
func quantFC(f float32, zy int32, lo, hi float32) int32 {
	r := min(max(f, lo), hi)
	return int32(math.Float32bits(r+0x1.8p23)) - 0x4b400000 + zy
}

// quantFQ is quantF for any f with [lo-zy, hi-zy] within ±2²²: NaN gives
// 0, anything else quantFC, with the clamps as branches (taken rarely on
// a model's inputs: cheaper than min and max, which order NaNs and zeros).
func quantFQ(f float32, zy int32, lo, hi float32) int32 {
	if !(f >= lo) {
		if f != f {
			return 0
		}
		f = lo
	} else if f > hi {
		f = hi
	}
	return int32(math.Float32bits(f+0x1.8p23)) - 0x4b400000 + zy
}
`
