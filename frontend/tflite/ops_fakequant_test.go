package tflite

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

func fakeQuantOpts(lo, hi float32, bits int32, narrow bool) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.FakeQuantOptionsStart(b)
		fb.FakeQuantOptionsAddMin(b, lo)
		fb.FakeQuantOptionsAddMax(b, hi)
		fb.FakeQuantOptionsAddNumBits(b, bits)
		fb.FakeQuantOptionsAddNarrowRange(b, narrow)
		return fb.FakeQuantOptionsEnd(b)
	}
}

// fakeQuantRef is TFLite's reference FakeQuant in float32, written from
// its definition (nudged range, then clamp, shift, scale, round half away
// from zero, unscale).
func fakeQuantRef(x []float32, lo, hi float32, bits int) []float64 {
	qmax := float32(int(1)<<bits - 1)
	scale := (hi - lo) / qmax
	z := -lo / scale
	z = float32(math.Max(0, math.Min(float64(qmax), math.Round(float64(z)))))
	nmin, nmax := -z*scale, (qmax-z)*scale
	inv := 1 / scale
	out := make([]float64, len(x))
	for i, v := range x {
		c := min(nmax, max(nmin, v))
		out[i] = float64(float32(math.Round(float64((c-nmin)*inv)))*scale + nmin)
	}
	return out
}

func TestFakeQuant(t *testing.T) {
	// By hand: [0, 255] in 8 bits is scale 1, zero point 0; [-10.3, 244.7]
	// nudges to [-10, 245]. Halves round away from zero.
	for _, c := range []struct {
		lo, hi float32
		x      []float32
		want   []float64
	}{
		{0, 255, []float32{2.5, 3.5, -1, 300, 0.4999, 0.5, 254.5}, []float64{3, 4, 0, 255, 0, 1, 255}},
		{-10.3, 244.7, []float32{-10.5, 2.5, -2.5, 244.9, 245.6}, []float64{-10, 3, -2, 245, 245}},
	} {
		n := int32(len(c.x))
		op := oneOp{code: fb.BuiltinOperatorFAKE_QUANT, ins: []opIn{f32In(n)}, outs: []opIn{f32In(n)},
			optType: fb.BuiltinOptionsFakeQuantOptions, opt: fakeQuantOpts(c.lo, c.hi, 8, false)}
		_, outs := op.run(t, ir.FromF32([]int{int(n)}, c.x))
		near(t, fmt.Sprintf("[%v, %v]", c.lo, c.hi), outs[0], nd{shape: []int{int(n)}, v: c.want}, 0)
	}
	rng := rand.New(rand.NewSource(41))
	for _, bits := range []int{2, 4, 8, 16} {
		for _, r := range [][2]float32{{-0.7, 1.3}, {0, 6}, {-1, 1}, {-3, 0}} {
			for _, pool := range []bool{false, true} {
				shape := []int{1, 4, 5, 8}
				x := ir.NewTensor(ir.F32, shape)
				for i := range x.F32 {
					x.F32[i] = float32(rng.NormFloat64() * 1.5)
				}
				// Exact ties of the nudged grid.
				nmin, _, scale := nudge(r[0], r[1], bits)
				for i := 0; i < 40; i++ {
					x.F32[i] = nmin + (float32(i%7)+0.5)*scale
				}
				op := oneOp{code: fb.BuiltinOperatorFAKE_QUANT, ins: []opIn{f32In(ints32(shape)...)}, outs: []opIn{f32In(ints32(shape)...)},
					optType: fb.BuiltinOptionsFakeQuantOptions, opt: fakeQuantOpts(r[0], r[1], int32(bits), false), pool: pool}
				_, outs := op.run(t, x)
				near(t, fmt.Sprintf("bits %d range %v pool %v", bits, r, pool), outs[0], nd{shape: shape, v: fakeQuantRef(x.F32, r[0], r[1], bits)}, 0)
			}
		}
	}
	op := oneOp{code: fb.BuiltinOperatorFAKE_QUANT, ins: []opIn{f32In(3)}, outs: []opIn{f32In(3)},
		optType: fb.BuiltinOptionsFakeQuantOptions, opt: fakeQuantOpts(-1, 1, 8, true)}
	op.importErr(t, "narrow_range")
	op.opt = fakeQuantOpts(0.5, 1, 8, false)
	op.importErr(t, "must hold 0")
}
