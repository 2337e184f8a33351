package passes

import (
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestCalibMSE: the mse observer clips a few far outliers (which minmax
// keeps, spending the 256 levels on them) and keeps the whole range of
// values spread evenly over it.
func TestCalibMSE(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	observe := func(x []float32) *observer {
		o := newObserver()
		tt := ir.FromF32([]int{len(x)}, x)
		o.observeRange(tt)
		o.observeHist(tt)
		return o
	}
	// Laplace-distributed values: a long tail that minmax spends most
	// levels on.
	lap := make([]float32, 100000)
	for i := range lap {
		lap[i] = float32(r.ExpFloat64())
		if r.Intn(2) == 0 {
			lap[i] = -lap[i]
		}
	}
	m := calibMethod{name: "mse"}
	o := observe(lap)
	lo, hi := o.rangeOf(m, 128)
	fq := func(lo, hi float64) float64 { // mean squared error of 256-level fake quantization
		step, e := (hi-lo)/255, 0.0
		for _, x := range lap {
			q := math.Round((math.Min(hi, math.Max(lo, float64(x)))-lo)/step)*step + lo
			e += (q - float64(x)) * (q - float64(x))
		}
		return e / float64(len(lap))
	}
	if hi >= o.max || lo <= o.min || fq(lo, hi) >= fq(o.min, o.max) {
		t.Errorf("laplace on [%.2f, %.2f]: mse range [%.2f, %.2f] with error %.3g, minmax's %.3g: want a clipped range with less error", o.min, o.max, lo, hi, fq(lo, hi), fq(o.min, o.max))
	}
	uniform := make([]float32, 100000)
	for i := range uniform {
		uniform[i] = r.Float32()*10 - 2
	}
	lo, hi = observe(uniform).rangeOf(m, 128)
	if lo > -1.9 || hi < 7.8 {
		t.Errorf("uniform on [-2, 8): mse range [%.2f, %.2f], want about all of it", lo, hi)
	}
	if _, err := parseCalib("mse:3"); err == nil {
		t.Error("calib=mse:3 accepted")
	}
}
