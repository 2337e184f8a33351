package gosrc

// intHelpers emits rt's integer arithmetic (rt/quant.go, rt/tflite_fixed.go)
// as the generated kernels call it.
const intHelperSrc = `
// srdhm is gemmlowp's SaturatingRoundingDoublingHighMul.
func srdhm(a, b int32) int32 {
	if a == b && a == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - (1 << 30)
	}
	return int32((ab + nudge) / (1 << 31))
}

// rdbpot is gemmlowp's RoundingDivideByPOT (ties away from zero).
func rdbpot(x int32, exponent int32) int32 {
	mask := int32(1)<<exponent - 1
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> exponent
	if remainder > threshold {
		r++
	}
	return r
}

// mbqm is TFLite's MultiplyByQuantizedMultiplier.
func mbqm(x, mantissa, shift int32) int32 {
	left, right := int32(0), int32(0)
	if shift > 0 {
		left = shift
	} else {
		right = -shift
	}
	return rdbpot(srdhm(x*(1<<left), mantissa), right)
}

// rqT is clampI(mbqm(x, m, shift)+zy, lo, hi) for a mantissa m other than
// MinInt32 (so srdhm never saturates), without branches: srdhm's nudge and
// truncating division are one rounding shift ((x·m + 2³⁰) >> 31 for either
// sign), and rdbpot's rounding half away from zero of v/2^e is
// (v + 2^(e-1) - [v < 0]) >> e for e > 0 (v itself for e = 0).
func rqT(x, m, shift, zy, lo, hi int32) int32 {
	v := (int64(x<<max(shift, 0))*int64(m) + 1<<30) >> 31
	e := max(-shift, 0)
	h := int64(1) << e >> 1
	return min(max(int32((v+h+(v>>63)&(-h>>63))>>e)+zy, lo), hi)
}

// quantF is round_half_even(f) + zy saturated to [lo, hi] (NaN gives 0).
func quantF(f float32, zy, lo, hi int32) int32 {
	r := math.RoundToEven(float64(f)) + float64(zy)
	switch {
	case r != r:
		return 0
	case r <= float64(lo):
		return lo
	case r >= float64(hi):
		return hi
	}
	return int32(r)
}

// quantFAway is quantF with ties rounded away from zero (TFLite's QUANTIZE).
func quantFAway(f float32, zy, lo, hi int32) int32 {
	r := math.Round(float64(f)) + float64(zy)
	switch {
	case r != r:
		return 0
	case r <= float64(lo):
		return lo
	case r >= float64(hi):
		return hi
	}
	return int32(r)
}

// clampI is min(max(x, lo), hi).
func clampI(x, lo, hi int32) int32 {
	return min(max(x, lo), hi)
}

func fpMul(a, b int32) int32 { return srdhm(a, b) }

func fpSatShiftLeft(x int32, e int32) int32 {
	threshold := int32(1)<<(31-e) - 1
	switch {
	case x > threshold:
		return math.MaxInt32
	case x < -threshold:
		return math.MinInt32
	}
	return x << e
}

// oneOverOnePlusX is gemmlowp's 1/(1+x), Q0.31 in and out.
func oneOverOnePlusX(a int32) int32 {
	s := int64(a) + int64(math.MaxInt32)
	sign := int64(1)
	if s < 0 {
		sign = -1
	}
	half := int32((s + sign) / 2)
	x := int32(1515870810) + fpMul(half, -1010580540)
	for i := 0; i < 3; i++ {
		oneMinus := int32(1)<<29 - fpMul(half, x)
		x += fpSatShiftLeft(fpMul(x, oneMinus), 2)
	}
	return fpSatShiftLeft(x, 1)
}
`

// rqpSrc is rqT prepared per channel (rqp), emitted when a kernel uses it.
const rqpSrc = `
// rqp is one channel's rqT with its shifts and rounding terms worked out
// (rqPrep), for a loop over the channel's outputs.
type rqp struct {
	m, h, hm int64
	left, e  uint8
}

func rqPrep(m, shift int32) rqp {
	e := max(-shift, 0)
	h := int64(1) << e >> 1
	return rqp{m: int64(m), h: h, hm: -h >> 63, left: uint8(max(shift, 0)), e: uint8(e)}
}

// apply is rqT(x, m, shift, zy, lo, hi) (shifts within [-31, 31]).
func (q *rqp) apply(x, zy, lo, hi int32) int32 {
	v := (int64(x<<(q.left&31))*q.m + 1<<30) >> 31
	return min(max(int32((v+q.h+(v>>63)&q.hm)>>(q.e&63))+zy, lo), hi)
}
`
