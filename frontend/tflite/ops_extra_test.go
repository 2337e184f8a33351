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

// reduceRef reduces a over the dims marked in red with f from init, in
// row-major order of a (TFLite's reference order), keeping them as size 1
// when keep.
func reduceRef(a nd, red []bool, keep bool, init float64, f func(acc, v float64) float64) nd {
	var out []int
	for d, n := range a.shape {
		if !red[d] {
			out = append(out, n)
		} else if keep {
			out = append(out, 1)
		}
	}
	want := newND(out...)
	for i := range want.v {
		want.v[i] = init
	}
	for i, v := range a.v {
		var o []int
		for d, j := range a.index(i) {
			switch {
			case !red[d]:
				o = append(o, j)
			case keep:
				o = append(o, 0)
			}
		}
		k := want.flat(o)
		want.v[k] = f(want.v[k], v)
	}
	return want
}

func TestReduceMinProd(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	in := []int{2, 3, 4, 5}
	for _, code := range []fb.BuiltinOperator{fb.BuiltinOperatorREDUCE_MIN, fb.BuiltinOperatorREDUCE_PROD} {
		for _, axes := range [][]int32{{1, 2}, {-1}, {3, 0}, {2}} {
			for _, keep := range []bool{true, false} {
				for _, pool := range []bool{false, true} {
					red := make([]bool, 4)
					for _, a := range axes {
						red[(int(a)+4)%4] = true
					}
					x, a := randF32(rng, in...)
					var want nd
					if code == fb.BuiltinOperatorREDUCE_MIN {
						want = reduceRef(a, red, keep, math.Inf(1), math.Min)
					} else {
						want = reduceRef(a, red, keep, 1, func(acc, v float64) float64 { return acc * v })
					}
					op := oneOp{code: code, ins: []opIn{f32In(ints32(in)...), vecConst(axes...)}, outs: []opIn{f32In(ints32(want.shape)...)},
						optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(keep), pool: pool}
					_, outs := op.run(t, x)
					near(t, fmt.Sprintf("%v axes %v keep %v pool %v", code, axes, keep, pool), outs[0], want, 1e-5)
				}
			}
		}
	}
}

func TestReduceMinQuantized(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for _, dt := range []ir.DType{ir.I8, ir.U8} {
		typ, zp := fb.TensorTypeINT8, int64(-3)
		if dt == ir.U8 {
			typ, zp = fb.TensorTypeUINT8, 130
		}
		q := func(shape ...int32) opIn { return opIn{shape: shape, typ: typ, scale: 0.05, zp: zp} }
		x, a := randInt(rng, dt, 2, 3, 4, 5)
		want := reduceRef(a, []bool{false, true, false, true}, false, math.Inf(1), math.Min)
		op := oneOp{code: fb.BuiltinOperatorREDUCE_MIN, ins: []opIn{q(2, 3, 4, 5), vecConst(1, 3)}, outs: []opIn{q(2, 4)},
			optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false)}
		_, outs := op.run(t, x)
		if outs[0].DType != dt {
			t.Fatalf("%v: result %v", dt, outs[0].DType)
		}
		near(t, dt.String(), outs[0], want, 0)
	}
	// Other output parameters would need TFLite's requantization: an error.
	op := oneOp{code: fb.BuiltinOperatorREDUCE_MIN, ins: []opIn{i8In(0.05, 0, 2, 3), vecConst(1)}, outs: []opIn{i8In(0.1, 0, 2)},
		optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false)}
	op.importErr(t, "one shared per-tensor quantization")
	op = oneOp{code: fb.BuiltinOperatorREDUCE_PROD, ins: []opIn{i8In(0.05, 0, 2, 3), vecConst(1)}, outs: []opIn{i8In(0.05, 0, 2)},
		optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false)}
	op.importErr(t, "quantized REDUCE_PROD")
	op = oneOp{code: fb.BuiltinOperatorREDUCE_PROD, ins: []opIn{f32In(2, 100), vecConst(1)}, outs: []opIn{f32In(2)},
		optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false)}
	op.importErr(t, "over 100 elements per output")
}

func lrnOpts(radius int32, bias, alpha, beta float32) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.LocalResponseNormalizationOptionsStart(b)
		fb.LocalResponseNormalizationOptionsAddRadius(b, radius)
		fb.LocalResponseNormalizationOptionsAddBias(b, bias)
		fb.LocalResponseNormalizationOptionsAddAlpha(b, alpha)
		fb.LocalResponseNormalizationOptionsAddBeta(b, beta)
		return fb.LocalResponseNormalizationOptionsEnd(b)
	}
}

// lrnRef is TFLite's LocalResponseNormalization on NHWC a.
func lrnRef(a nd, r int, bias, alpha, beta float64) nd {
	out := newND(a.shape...)
	c := a.shape[3]
	for i, v := range a.v {
		ch := i % c
		sum := 0.0
		for j := max(ch-r, 0); j < min(ch+r+1, c); j++ {
			w := a.v[i-ch+j]
			sum += w * w
		}
		out.v[i] = v * math.Pow(bias+alpha*sum, -beta)
	}
	return out
}

func TestLRN(t *testing.T) {
	// By hand: x = 1..5, radius 1, bias 1, alpha 1, beta 1: x / (1 + Σ x²).
	op := oneOp{code: fb.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, ins: []opIn{f32In(1, 1, 1, 5)}, outs: []opIn{f32In(1, 1, 1, 5)},
		optType: fb.BuiltinOptionsLocalResponseNormalizationOptions, opt: lrnOpts(1, 1, 1, 1)}
	_, outs := op.run(t, ir.FromF32([]int{1, 1, 1, 5}, []float32{1, 2, 3, 4, 5}))
	near(t, "by hand", outs[0], nd{shape: []int{1, 1, 1, 5}, v: []float64{1.0 / 6, 2.0 / 15, 3.0 / 30, 4.0 / 51, 5.0 / 42}}, 1e-6)

	rng := rand.New(rand.NewSource(13))
	for _, r := range []int32{0, 2, 9} {
		for _, pool := range []bool{false, true} {
			shape := []int{2, 3, 4, 6}
			op := oneOp{code: fb.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, ins: []opIn{f32In(ints32(shape)...)}, outs: []opIn{f32In(ints32(shape)...)},
				optType: fb.BuiltinOptionsLocalResponseNormalizationOptions, opt: lrnOpts(r, 2, 0.1, 0.75), pool: pool}
			x, a := randF32(rng, shape...)
			_, outs := op.run(t, x)
			near(t, fmt.Sprintf("radius %d pool %v", r, pool), outs[0], lrnRef(a, int(r), 2, 0.1, 0.75), 1e-5)
		}
	}
	op = oneOp{code: fb.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, ins: []opIn{i8In(0.1, 0, 1, 1, 1, 5)}, outs: []opIn{i8In(0.1, 0, 1, 1, 1, 5)},
		optType: fb.BuiltinOptionsLocalResponseNormalizationOptions, opt: lrnOpts(1, 1, 1, 1)}
	op.importErr(t, "quantized LOCAL_RESPONSE_NORMALIZATION")
}
