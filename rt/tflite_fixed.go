package rt

import (
	"math"
	"math/bits"
)

// gemmlowp's fixed-point arithmetic as TFLite's reference integer kernels
// use it (fixedpoint/fixedpoint.h). A fixed-point value is an int32 raw
// value with a number of integer bits the caller keeps track of: Qm.(31-m).
// Additions wrap, as the C++ code does on every platform TFLite runs on.

// fpSatShiftLeft is SaturatingRoundingMultiplyByPOT with a positive
// exponent: a left shift saturating to the int32 range.
func fpSatShiftLeft(x int32, exp int) int32 {
	threshold := int32(1)<<(31-exp) - 1
	switch {
	case x > threshold:
		return math.MaxInt32
	case x < -threshold:
		return math.MinInt32
	}
	return x << exp
}

// fpRescale changes the integer bits of a raw value from src to dst
// (gemmlowp::Rescale): a saturating left or a rounding right shift.
func fpRescale(x int32, src, dst int) int32 {
	switch e := src - dst; {
	case e > 0:
		return fpSatShiftLeft(x, e)
	case e < 0:
		return RoundingDivideByPOT(x, -e)
	}
	return x
}

// fpMul multiplies two fixed-point values; the integer bits add up.
func fpMul(a, b int32) int32 { return SaturatingRoundingDoublingHighMul(a, b) }

// roundingHalfSum is (a+b)/2 rounded to nearest, halves away from zero.
func roundingHalfSum(a, b int32) int32 {
	s := int64(a) + int64(b)
	sign := int64(1)
	if s < 0 {
		sign = -1
	}
	return int32((s + sign) / 2)
}

// expOnIntervalNegQuarter is exp(a) for a in [-1/4, 0), Q0.31 in and out:
// the Taylor expansion around -1/8.
func expOnIntervalNegQuarter(a int32) int32 {
	const constantTerm = 1895147668 // exp(-1/8)
	const oneThird = 715827883
	x := a + 1<<28 // a + 1/8
	x2 := fpMul(x, x)
	x3 := fpMul(x2, x)
	x4 := fpMul(x2, x2)
	x4over4 := RoundingDivideByPOT(x4, 2)
	poly := RoundingDivideByPOT(fpMul(x4over4+x3, oneThird)+x2, 1)
	return constantTerm + fpMul(constantTerm, x+poly)
}

// expBarrel are exp(-2^k) in Q0.31 for k = -2 ... 4.
var expBarrel = [...]struct {
	exp  int
	mult int32
}{{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308}, {2, 39332535}, {3, 720401}, {4, 242}}

// ExpOnNegativeValues is gemmlowp's exp(a) for a <= 0 in Q(intBits), result Q0.31.
func ExpOnNegativeValues(a int32, intBits int) int32 {
	frac := 31 - intBits
	quarter := int32(1) << (frac - 2)
	aModQuarter := (a & (quarter - 1)) - quarter
	result := expOnIntervalNegQuarter(fpRescale(aModQuarter, intBits, 0))
	remainder := aModQuarter - a
	for _, b := range expBarrel {
		if intBits > b.exp && remainder&(int32(1)<<(frac+b.exp)) != 0 {
			result = fpMul(result, b.mult)
		}
	}
	if intBits > 5 && a < -(int32(1)<<(36-intBits)) {
		result = 0
	}
	if a == 0 {
		result = math.MaxInt32
	}
	return result
}

// newtonRaphson refines x ≈ 1/(2·halfDen) in Q2.29 three times, the common
// core of gemmlowp's 1/(1+x) and (1-x)/(1+x).
func newtonRaphson(halfDen int32) int32 {
	const c48over17, cNeg32over17 = 1515870810, -1010580540 // Q2.29
	x := c48over17 + fpMul(halfDen, cNeg32over17)
	for i := 0; i < 3; i++ {
		oneMinus := int32(1)<<29 - fpMul(halfDen, x)
		x += fpRescale(fpMul(x, oneMinus), 4, 2)
	}
	return x
}

// oneOverOnePlusX is 1/(1+x) for x in (0, 1), Q0.31 in and out.
func oneOverOnePlusX(a int32) int32 {
	x := newtonRaphson(roundingHalfSum(a, math.MaxInt32))
	return fpRescale(x, 1, 0) // ExactMulByPot<-1> makes Q2 a Q1
}

// oneMinusXOverOnePlusX is (1-x)/(1+x) for x in (0, 1), Q0.31 in and out.
func oneMinusXOverOnePlusX(a int32) int32 {
	x := newtonRaphson(roundingHalfSum(a, math.MaxInt32))
	return fpRescale(x-int32(1)<<29, 2, 0)
}

// fpLogistic is gemmlowp::logistic of a Q(intBits) value, result Q0.31.
func fpLogistic(a int32, intBits int) int32 {
	if a == 0 {
		return 1 << 30
	}
	abs := a
	if a <= 0 {
		abs = -a
	}
	pos := oneOverOnePlusX(ExpOnNegativeValues(-abs, intBits))
	if a > 0 {
		return pos
	}
	return math.MaxInt32 - pos
}

// fpTanh is gemmlowp::tanh of a Q(intBits) value, result Q0.31.
func fpTanh(a int32, intBits int) int32 {
	if a == 0 {
		return 0
	}
	n := -a // the value as a negative number
	if a < 0 {
		n = a
	}
	// ExactMulByPot<1>: the same raw value read with one more integer bit.
	t := oneMinusXOverOnePlusX(ExpOnNegativeValues(n, intBits+1))
	if a < 0 {
		return -t
	}
	return t
}

// getReciprocal is TFLite's GetReciprocal: 1/x for x in Q(intDigits), as a
// Q0.31 value and the number of bits it is scaled by.
func getReciprocal(x int32, intDigits int) (int32, int) {
	headroom := bits.LeadingZeros32(uint32(x))
	shifted := int32(uint32(x)<<headroom - 1<<31)
	return oneOverOnePlusX(shifted), intDigits - headroom
}

// CalculateInputRadius is TFLite's CalculateInputRadius.
func CalculateInputRadius(intBits, leftShift, totalBits int) int32 {
	r := float64(int64(1)<<intBits-1) * float64(int64(1)<<(totalBits-intBits)) / float64(int64(1)<<leftShift)
	return int32(math.Floor(r))
}

// multiplyGreaterThanOne is MultiplyByQuantizedMultiplierGreaterThanOne.
func multiplyGreaterThanOne(x, mult int32, leftShift int) int32 {
	return SaturatingRoundingDoublingHighMul(x*(1<<leftShift), mult)
}

// frexpMultiplier is the Q0.31 multiplier and exponent the activation
// kernels compute without QuantizeMultiplier's renormalization.
func frexpMultiplier(real float64) (int32, int) {
	q, exp := math.Frexp(real)
	m := math.Round(q * (1 << 31))
	if m > math.MaxInt32 {
		m = math.MaxInt32
	}
	return int32(m), exp
}

// 16-bit gemmlowp arithmetic, for hard swish.

func srdhm16(a, b int16) int16 {
	if a == b && a == math.MinInt16 {
		return math.MaxInt16
	}
	ab := int32(a) * int32(b)
	nudge := int32(1 << 14)
	if ab < 0 {
		nudge = 1 - (1 << 14)
	}
	return int16((ab + nudge) / (1 << 15))
}

// satDoublingHighMul16 is SaturatingDoublingHighMul: as srdhm16, truncating.
func satDoublingHighMul16(a, b int16) int16 {
	if a == b && a == math.MinInt16 {
		return math.MaxInt16
	}
	return int16(int32(a) * int32(b) / (1 << 15))
}

func roundingDivideByPOT16(x int16, exp int) int16 {
	mask := int16(int32(1)<<exp - 1)
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> exp
	if remainder > threshold {
		r++
	}
	return r
}

func satLeftShift16(x int16, amount int) int16 {
	r := int64(x) * (int64(1) << amount)
	return int16(max(min(r, math.MaxInt16), math.MinInt16))
}

// downScaleMultiplier16 is DownScaleInt32ToInt16Multiplier.
func downScaleMultiplier16(m int32) int16 {
	const offset = 1 << 15
	if m >= math.MaxInt32-offset {
		return math.MaxInt16
	}
	return int16((m + offset) >> 16)
}
