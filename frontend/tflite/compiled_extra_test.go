package tflite

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/tests/backendrun"
)

// merge joins one-op models side by side into one model (their inputs
// and outputs concatenated), so that one build per backend compiles them all.
func merge(ms ...*tModel) *tModel {
	out := &tModel{}
	for k, m := range ms {
		base := int32(len(out.tensors))
		for _, t := range m.tensors {
			t.name = fmt.Sprintf("m%d_%s", k, t.name)
			out.tensors = append(out.tensors, t)
		}
		shift := func(v []int32) []int32 {
			s := make([]int32, len(v))
			for i, x := range v {
				s[i] = x
				if x >= 0 { // -1: an absent optional input
					s[i] = x + base
				}
			}
			return s
		}
		for _, o := range m.ops {
			o.in, o.out = shift(o.in), shift(o.out)
			out.ops = append(out.ops, o)
		}
		out.inputs = append(out.inputs, shift(m.inputs)...)
		out.outputs = append(out.outputs, shift(m.outputs)...)
	}
	return out
}

// extraFamilies is one model per family of the ops in ops_extra.go,
// ops_const.go, ops_scan.go, sparse.go, ops_fakequant.go, ops_seq.go and
// ops_custom*.go (TFLite_Detection_PostProcess: the whole op, nms_index and
// the gathers at run-time indices included).
func extraFamilies() map[string]*tModel {
	red := func(code fb.BuiltinOperator, axes ...int32) *tModel {
		return oneOp{code: code, ins: []opIn{f32In(2, 3, 4, 5), vecConst(axes...)}, outs: []opIn{f32In(2, 4)},
			optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false), pool: true}.model()
	}
	i32 := opIn{shape: []int32{3, 9}, typ: fb.TensorTypeINT32}
	sp := sparsityOf([]int32{0, 1, 2, 3}, []int32{0, 1}, []sdim{{dense: 2}, {seg: []int32{0, 2, 3}, idx: []int32{0, 1, 1}}, {dense: 2}, {dense: 2}})
	rng := rand.New(rand.NewSource(9))
	rw, _ := randMat(rng, "w", 4, 3)
	rr, _ := randMat(rng, "r", 4, 4)
	rb, _ := randMat(rng, "b", 4, 0)
	lstm := make([]*tTensor, 23)
	for g := 0; g < 4; g++ {
		lstm[lstmInputWeights-1+g], _ = randMat(rng, fmt.Sprintf("w%d", g), 4, 3)
		lstm[lstmRecurrentWeights-1+g], _ = randMat(rng, fmt.Sprintf("r%d", g), 4, 4)
		lstm[lstmGateBias-1+g], _ = randMat(rng, fmt.Sprintf("b%d", g), 4, 0)
	}
	lstm[lstmOutputState-1], lstm[lstmCellState-1] = state("h", 2, 4), state("c", 2, 4)
	return map[string]*tModel{
		"reduce": merge(red(fb.BuiltinOperatorREDUCE_MIN, 1, 3), red(fb.BuiltinOperatorREDUCE_PROD, 3, 1),
			oneOp{code: fb.BuiltinOperatorREDUCE_MIN, ins: []opIn{i8In(0.05, -3, 2, 3, 4), vecConst(2)}, outs: []opIn{i8In(0.05, -3, 2, 3)},
				optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false)}.model()),
		"lrn": merge(oneOp{code: fb.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, ins: []opIn{f32In(1, 4, 5, 6)}, outs: []opIn{f32In(1, 4, 5, 6)},
			optType: fb.BuiltinOptionsLocalResponseNormalizationOptions, opt: lrnOpts(2, 1, 0.1, 0.75)}.model(),
			oneOp{code: fb.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, ins: []opIn{f32In(1, 4, 5, 6)}, outs: []opIn{f32In(1, 4, 5, 6)},
				optType: fb.BuiltinOptionsLocalResponseNormalizationOptions, opt: lrnOpts(1, 2, 0.5, 0.5), pool: true}.model()),
		"const": merge(oneOp{code: fb.BuiltinOperatorFILL, ins: []opIn{vecConst(2, 1, 3), f32In()}, outs: []opIn{f32In(2, 1, 3)}}.model(),
			oneOp{code: fb.BuiltinOperatorONE_HOT, ins: []opIn{i32Const([]int32{3}, 0, 2, 1), i32Const([]int32{}, 3), f32Const([]int32{}, 5), f32Const([]int32{}, -1), f32In(1)},
				outs: []opIn{f32In(3, 3)}, optType: fb.BuiltinOptionsOneHotOptions, opt: oneHotOpts(-1)}.model()),
		"scan": merge(oneOp{code: fb.BuiltinOperatorREVERSE_V2, ins: []opIn{f32In(2, 3, 4, 5), vecConst(1, 3)}, outs: []opIn{f32In(2, 3, 4, 5)}, pool: true}.model(),
			oneOp{code: fb.BuiltinOperatorGATHER_ND, ins: []opIn{f32In(3, 4, 5), i32Const([]int32{2, 2}, 0, 1, 2, 3)}, outs: []opIn{f32In(2, 5)}}.model(),
			oneOp{code: fb.BuiltinOperatorCUMSUM, ins: []opIn{f32In(2, 3, 4, 7), i32Const([]int32{}, 3)}, outs: []opIn{f32In(2, 3, 4, 7)},
				optType: fb.BuiltinOptionsCumsumOptions, opt: cumsumOpts(true, true), pool: true}.model(),
			oneOp{code: fb.BuiltinOperatorCUMSUM, ins: []opIn{i32, i32Const([]int32{}, 1)}, outs: []opIn{i32},
				optType: fb.BuiltinOptionsCumsumOptions, opt: cumsumOpts(false, false)}.model()),
		"sparse": sparseModel(4, 4, fb.TensorTypeFLOAT32, f32Bytes(1, 0, 0, 4, 2, 3, 0, 0, 5, 0, 0, 6), sp, true),
		"seq": merge(seqModel(fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_RNN, []int32{2, 4, 3}, []*tTensor{rw, rr, rb, state("h", 2, 4)},
			[]int32{2, 4, 4}, fb.BuiltinOptionsSequenceRNNOptions, rnnOpts(false, fb.ActivationFunctionTypeTANH)),
			seqModel(fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_LSTM, []int32{3, 2, 3}, lstm, []int32{3, 2, 4},
				fb.BuiltinOptionsUnidirectionalSequenceLSTMOptions, lstmOpts(true, 0.5))),
		"custom":    customFamily(rng),
		"detection": detectionFamily(),
		"nms":       ptrModel(nmsModel(true, 30, 8, 0.4, 0.1)),
		"nms_zero":  ptrModel(nmsModel(false, 20, 6, 0, -1)),
		"fake_quant": oneOp{code: fb.BuiltinOperatorFAKE_QUANT, ins: []opIn{f32In(1, 4, 5, 8)}, outs: []opIn{f32In(1, 4, 5, 8)},
			optType: fb.BuiltinOptionsFakeQuantOptions, opt: fakeQuantOpts(-0.7, 1.3, 8, false), pool: true}.model(),
	}
}

// randomFeeds is a random input per graph parameter.
func randomFeeds(g *ir.Graph, seed int64) []*ir.Tensor {
	rng := rand.New(rand.NewSource(seed))
	var xs []*ir.Tensor
	for _, p := range g.Params {
		x := ir.NewTensor(p.Type.DType, p.Type.Shape)
		for i := 0; i < x.Len(); i++ {
			if p.Type.DType == ir.F32 {
				x.F32[i] = float32(rng.NormFloat64())
			} else {
				lo, hi := p.Type.DType.Range()
				lo, hi = max(lo, -1<<31), min(hi, 1<<31-1)
				x.SetInt(i, lo+rng.Int63n(hi-lo+1))
			}
		}
		xs = append(xs, x)
	}
	return xs
}

// sameOutputs compares a backend's outputs with rt's: integers exactly,
// floats within 1e-4 relative.
func sameOutputs(t *testing.T, what string, got, want []*ir.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for k := range want {
		if got[k].DType != want[k].DType || got[k].Len() != want[k].Len() {
			t.Fatalf("%s: output %d is %v%v, want %v%v", what, k, got[k].DType, got[k].Shape, want[k].DType, want[k].Shape)
		}
		for i := 0; i < want[k].Len(); i++ {
			g, w := got[k].At(i), want[k].At(i)
			tol := 0.0
			if want[k].DType == ir.F32 {
				tol = 1e-4 * (1 + math.Abs(w))
			}
			if math.Abs(g-w) > tol {
				t.Fatalf("%s: output %d element %d = %v, rt %v", what, k, i, g, w)
			}
		}
	}
}

// TestExtraOpsCompiled compiles one model per op family with the Go and
// LLVM backends and compares the executables with rt.
func TestExtraOpsCompiled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds executables; skipped in -short")
	}
	for name, m := range extraFamilies() {
		g, err := ImportBytes(name+".tflite", m.build(), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		xs := randomFeeds(g, 7)
		want, err := interp(t, g).Run(xs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		backendrun.Both(t, name, g, xs, true, func(t *testing.T, backend string, got []*ir.Tensor) {
			sameOutputs(t, backend, got, want)
		})
	}
}

func ptrModel(m tModel) *tModel { return &m }
