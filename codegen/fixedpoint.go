package codegen

import (
	"math"

	"github.com/pare-ml/pare/rt"
)

// gemmlowp's fixed-point exp, as rt computes it (rt/tflite_fixed.go), to
// tabulate TFLite's softmax exponentials at compile time.

func fpMul(a, b int32) int32 { return rt.SaturatingRoundingDoublingHighMul(a, b) }

func fpRescale(x int32, src, dst int) int32 {
	switch e := src - dst; {
	case e > 0:
		threshold := int32(1)<<(31-e) - 1
		switch {
		case x > threshold:
			return math.MaxInt32
		case x < -threshold:
			return math.MinInt32
		}
		return x << e
	case e < 0:
		return rt.RoundingDivideByPOT(x, -e)
	}
	return x
}

func expOnIntervalNegQuarter(a int32) int32 {
	const constantTerm = 1895147668
	const oneThird = 715827883
	x := a + 1<<28
	x2 := fpMul(x, x)
	x3 := fpMul(x2, x)
	x4 := fpMul(x2, x2)
	x4over4 := rt.RoundingDivideByPOT(x4, 2)
	poly := rt.RoundingDivideByPOT(fpMul(x4over4+x3, oneThird)+x2, 1)
	return constantTerm + fpMul(constantTerm, x+poly)
}

var expBarrel = [...]struct {
	exp  int
	mult int32
}{{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308}, {2, 39332535}, {3, 720401}, {4, 242}}

func expOnNegativeValues(a int32, intBits int) int32 {
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

// inputRadius is TFLite's CalculateInputRadius.
func inputRadius(intBits, leftShift, totalBits int) int32 {
	r := float64(int64(1)<<intBits-1) * float64(int64(1)<<(totalBits-intBits)) / float64(int64(1)<<leftShift)
	return int32(math.Floor(r))
}
