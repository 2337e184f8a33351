package gosrc

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// extremeInt fills a tensor of t with values drawn mostly from the ends of
// its dtype's range (where lane sums are largest), some from inside it.
func extremeInt(r *rand.Rand, t pir.Type) *pir.Tensor {
	x := pir.NewTensor(t.DType, t.Shape)
	lo, hi := t.DType.Range()
	for i := 0; i < x.Len(); i++ {
		v := []int64{lo, hi, lo, hi, lo + 1, hi - 1, 0, lo + r.Int63n(hi-lo+1)}[r.Intn(8)]
		x.SetInt(i, v)
	}
	return x
}

// laneConvCase is an integer conv of an input x of dt with constant int8
// weights w of extreme values.
func laneConvCase(name string, dt pir.DType, x, w []int, attrs pir.Attrs) codegentest.IntCase {
	return laneConvCaseY(name, dt, x, w, attrs, 0.7)
}

// laneConvCaseY is laneConvCase with the output scale sy (below the
// product of the input and weight scales, the TFLite multipliers shift
// left).
func laneConvCaseY(name string, dt pir.DType, x, w []int, attrs pir.Attrs, sy float32) codegentest.IntCase {
	zx := int64(-128)
	if dt == pir.U8 {
		zx = 0
	}
	return laneConvCaseZ(name, dt, zx, x, w, attrs, sy)
}

// laneConvCaseZ is laneConvCaseY with the input zero point zx (-128 for
// int8 and 0 for uint8 make the kernels read x - zx as uint8 and skip
// rows of zero points; others keep the stored values signed).
func laneConvCaseZ(name string, dt pir.DType, zx int64, x, w []int, attrs pir.Attrs, sy float32) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		xv := add(codegentest.QT(dt, 0.05, zx, x...))
		s, z := make([]float32, w[0]), make([]int64, w[0])
		for i := range s {
			s[i] = 0.01 + 0.003*float32(i)
		}
		wt := pir.Type{DType: pir.I8, Shape: w, Quant: codegentest.QAxis(0, s, z)}
		wv := g.AddConst("w", extremeInt(r, wt), wt.Quant)
		return g.Add("conv", []*pir.Value{xv, wv, codegentest.I32Const(g, r, w[0])}, attrs, codegentest.QT(dt, sy, 3, nil...), name, name)
	}}
}

// TestLaneConvsExtreme: the lane-packed integer convs (channels packed in
// a weight word; pixels packed in an input word for true depthwise convs
// and for the channels left over from the last word, with and without
// chunked extraction)
// and the requantizations prepared at generation (rqS, quantFC; output
// scales that make the TFLite shifts left or right) equal rt bit for bit with weights and inputs at the ends of their range,
// over the shapes that change the kernels' tiling (output widths not a
// multiple of three or of a tile, strides, dilations, asymmetric padding,
// 5×5 taps, chunked lane extraction over long rows of k).
func TestLaneConvsExtreme(t *testing.T) {
	needGo(t)
	var cases []codegentest.IntCase
	for _, rq := range []string{"tflite", "float"} {
		for _, ow := range []int{3, 4, 5, 7, 8, 13} {
			cases = append(cases,
				laneConvCase(fmt.Sprintf("dw_%s_w%d", rq, ow), pir.I8, []int{1, 3, 5, ow}, []int{3, 1, 3, 3},
					pir.Attrs{"rq": pir.Str(rq), "group": pir.Int(3), "pads": pir.Ints(1, 1, 1, 1)}))
		}
		cases = append(cases,
			laneConvCase("dw_s2_"+rq, pir.I8, []int{1, 4, 9, 11}, []int{4, 1, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "group": pir.Int(4), "pads": pir.Ints(0, 1, 1, 0), "strides": pir.Ints(2, 2)}),
			laneConvCase("dw_dil_5x5_"+rq, pir.I8, []int{1, 2, 9, 10}, []int{2, 1, 5, 5},
				pir.Attrs{"rq": pir.Str(rq), "group": pir.Int(2), "pads": pir.Ints(2, 1, 2, 3), "dilations": pir.Ints(1, 2)}),
			laneConvCase("dw_u8_"+rq, pir.U8, []int{1, 2, 6, 6}, []int{2, 1, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "group": pir.Int(2), "pads": pir.Ints(1, 1, 1, 1)}),
			laneConvCase("dw_mult_"+rq, pir.I8, []int{1, 2, 7, 7}, []int{6, 1, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "group": pir.Int(2), "pads": pir.Ints(1, 1, 1, 1)}),
			laneConvCase("pw_long_"+rq, pir.I8, []int{1, 300, 3, 5}, []int{7, 300, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}),
			// Planes of a power of two: the row offset the only induction variable.
			laneConvCaseZ("pw_pow2_"+rq, pir.U8, 0, []int{1, 24, 4, 8}, []int{7, 24, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}, 0.5),
			laneConvCase("pw_pow2_signed_"+rq, pir.I8, []int{1, 16, 1, 16}, []int{8, 16, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}),
			// Pointwise mixed words (k ≥ 64): planes of a power of two or
			// not, a rest word of three lanes, chunked extraction (pw_long).
			laneConvCaseZ("pw_mixed_pow2_"+rq, pir.U8, 0, []int{1, 64, 2, 8}, []int{10, 64, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}, 0.5),
			laneConvCase("pw_mixed_"+rq, pir.I8, []int{1, 70, 3, 5}, []int{13, 70, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}),
			laneConvCaseZ("pw_mixed_signed_"+rq, pir.I8, -3, []int{1, 64, 2, 7}, []int{10, 64, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}, 0.5),
			laneConvCaseY("dw_left_"+rq, pir.I8, []int{1, 3, 5, 6}, []int{3, 1, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "group": pir.Int(3), "pads": pir.Ints(1, 1, 1, 1)}, 0.0002),
			laneConvCaseY("pw_mid_"+rq, pir.I8, []int{1, 16, 2, 7}, []int{8, 16, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}, 0.02),
			laneConvCaseZ("pw_signed_"+rq, pir.I8, -3, []int{1, 40, 2, 7}, []int{8, 40, 1, 1}, pir.Attrs{"rq": pir.Str(rq)}, 0.5),
			laneConvCaseZ("conv_signed_"+rq, pir.I8, 5, []int{1, 6, 6, 9}, []int{4, 6, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "pads": pir.Ints(1, 1, 1, 1)}, 0.5),
			laneConvCaseZ("conv_u8_"+rq, pir.U8, 128, []int{1, 6, 6, 9}, []int{4, 6, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "pads": pir.Ints(1, 0, 1, 2)}, 0.5),
			laneConvCase("conv_5x5_"+rq, pir.I8, []int{1, 9, 8, 9}, []int{5, 9, 5, 5},
				pir.Attrs{"rq": pir.Str(rq), "pads": pir.Ints(2, 2, 2, 2)}),
			// Mixed words with two float lanes and a rest as one full
			// integer word (8 = 5 + 3) or as pixel lanes (12 = 5 + 5 + 2);
			// one float channel when Σ|w|·xmax reaches 2²⁵ (1800 taps).
			laneConvCase("conv_mixed8_"+rq, pir.I8, []int{1, 2, 7, 9}, []int{8, 2, 5, 5},
				pir.Attrs{"rq": pir.Str(rq), "pads": pir.Ints(2, 2, 2, 2)}),
			laneConvCaseZ("conv_mixed12_"+rq, pir.U8, 0, []int{1, 3, 6, 8}, []int{12, 3, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "pads": pir.Ints(1, 1, 1, 1)}, 0.5),
			laneConvCase("conv_mixed1_"+rq, pir.I8, []int{1, 200, 4, 5}, []int{5, 200, 3, 3},
				pir.Attrs{"rq": pir.Str(rq), "pads": pir.Ints(1, 1, 1, 1)}),
		)
	}
	// Relu clamps (lo ≥ zy): rqSR, and the lane sums requantized by rqb
	// with the channel's constant folded in (laneB).
	for _, a := range []struct {
		n   string
		act pir.Attrs
	}{{"relu", pir.Attrs{"act": pir.Str("relu")}}, {"clip", pir.Attrs{"act": pir.Str("clip"), "act_min": pir.Float(3), "act_max": pir.Float(4)}}} {
		n, act := a.n, a.act
		with := func(a pir.Attrs) pir.Attrs {
			a["rq"] = pir.Str("tflite")
			for k, v := range act {
				a[k] = v
			}
			return a
		}
		cases = append(cases,
			laneConvCase("dw_"+n, pir.I8, []int{1, 3, 5, 8}, []int{3, 1, 3, 3}, with(pir.Attrs{"group": pir.Int(3), "pads": pir.Ints(1, 1, 1, 1)})),
			laneConvCaseZ("dw_u8_"+n, pir.U8, 7, []int{1, 2, 6, 7}, []int{2, 1, 3, 3}, with(pir.Attrs{"group": pir.Int(2), "pads": pir.Ints(1, 1, 1, 1)}), 0.5),
			laneConvCaseY("pw_"+n, pir.I8, []int{1, 16, 2, 7}, []int{8, 16, 1, 1}, with(pir.Attrs{}), 0.02),
			laneConvCaseZ("pw_u8_"+n, pir.U8, 0, []int{1, 40, 3, 5}, []int{7, 40, 1, 1}, with(pir.Attrs{}), 0.5),
			laneConvCaseZ("pw_u8_pow2_"+n, pir.U8, 0, []int{1, 40, 4, 4}, []int{7, 40, 1, 1}, with(pir.Attrs{}), 0.5),
			laneConvCaseZ("pw_mixed_"+n, pir.U8, 0, []int{1, 64, 4, 4}, []int{12, 64, 1, 1}, with(pir.Attrs{}), 0.5),
			laneConvCaseZ("pw_signed_"+n, pir.I8, -3, []int{1, 40, 2, 7}, []int{8, 40, 1, 1}, with(pir.Attrs{}), 0.5),
			laneConvCaseZ("conv_signed_"+n, pir.I8, 5, []int{1, 6, 6, 9}, []int{4, 6, 3, 3}, with(pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}), 0.5),
			laneConvCaseZ("conv_u8_"+n, pir.U8, 128, []int{1, 6, 6, 9}, []int{4, 6, 3, 3}, with(pir.Attrs{"pads": pir.Ints(1, 0, 1, 2)}), 0.5),
		)
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	ext, sparse := extremeSets(g, 5, 7)
	checkAgainstRT(t, g, nil, nil, vals, ext, sparse)
}

// laneGemmCase is an integer gemm (B transposed, constant int8 of extreme
// values) of an input x [M][K] of dt with zero point zx (or [K][M] with
// trans_a).
func laneGemmCase(name string, dt pir.DType, zx int64, m, kk, n int, rq string, transA bool) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		shape := []int{m, kk}
		attrs := pir.Attrs{"trans_b": pir.Int(1), "rq": pir.Str(rq)}
		if transA {
			shape = []int{kk, m}
			attrs["trans_a"] = pir.Int(1)
		}
		xv := add(codegentest.QT(dt, 0.05, zx, shape...))
		s, z := make([]float32, n), make([]int64, n)
		for i := range s {
			s[i] = 0.01 + 0.003*float32(i)
		}
		wt := pir.Type{DType: pir.I8, Shape: []int{n, kk}, Quant: codegentest.QAxis(0, s, z)}
		wv := g.AddConst("w", extremeInt(r, wt), wt.Quant)
		return g.Add("gemm", []*pir.Value{xv, wv, codegentest.I32Const(g, r, n)}, attrs, codegentest.QT(dt, 0.7, 3), name, name)
	}}
}

// TestLaneGemmsExtreme: the integer gemm over B's columns packed as lanes
// (intGemmLanes: three lanes, chunked over long k or not, the last word
// partly filled; up to gemmLaneWords words, beyond them the int32 sweep)
// equals rt bit for bit with weights and inputs at the ends of their
// range and with inputs mostly at the zero point.
func TestLaneGemmsExtreme(t *testing.T) {
	needGo(t)
	var cases []codegentest.IntCase
	for _, rq := range []string{"tflite", "float"} {
		cases = append(cases,
			laneGemmCase("g_mnist_"+rq, pir.I8, -128, 1, 256, 10, rq, false),
			laneGemmCase("g_signed_"+rq, pir.I8, 5, 3, 40, 7, rq, false),
			laneGemmCase("g_words8_"+rq, pir.I8, -128, 2, 33, 24, rq, false),
			laneGemmCase("g_words9_"+rq, pir.I8, -128, 2, 20, 25, rq, false),
			laneGemmCase("g_one_"+rq, pir.U8, 0, 2, 9, 1, rq, false),
			laneGemmCase("g_u8_signed_"+rq, pir.U8, 128, 2, 20, 5, rq, false),
			laneGemmCase("g_transa_"+rq, pir.I8, -128, 3, 70, 4, rq, true),
		)
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	ext, sparse := extremeSets(g, 7, 5)
	checkAgainstRT(t, g, nil, nil, vals, ext, sparse)
}

// extremeSets draws two input sets for g's parameters (seeded): extreme
// integers, and mostly zero points (all but one in every, so that whole
// rows of taps are skipped) with some extremes.
func extremeSets(g *pir.Graph, seed int64, every int) (ext, sparse []*pir.Tensor) {
	r := rand.New(rand.NewSource(seed))
	for _, p := range g.Params {
		ext = append(ext, extremeInt(r, p.Type))
		sp := extremeInt(r, p.Type)
		for j := 0; j < sp.Len(); j++ {
			if r.Intn(every) != 0 {
				sp.SetInt(j, p.Type.Quant.ZeroPoint[0])
			}
		}
		sparse = append(sparse, sp)
	}
	return ext, sparse
}
