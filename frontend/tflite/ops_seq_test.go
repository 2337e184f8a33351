package tflite

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// seqModel is one sequence op on input x [d0, d1, in]; ins lists its
// other inputs in order (nil: absent, -1), consts with data, states without.
func seqModel(code fb.BuiltinOperator, x []int32, ins []*tTensor, out []int32, optType fb.BuiltinOptions, opt optFn) *tModel {
	m := &tModel{tensors: []tTensor{{name: "x", shape: x, typ: fb.TensorTypeFLOAT32}}, inputs: []int32{0}}
	opIns := []int32{0}
	for _, t := range ins {
		if t == nil {
			opIns = append(opIns, -1)
			continue
		}
		m.tensors = append(m.tensors, *t)
		opIns = append(opIns, int32(len(m.tensors)-1))
	}
	m.tensors = append(m.tensors, tTensor{name: "y", shape: out, typ: fb.TensorTypeFLOAT32})
	y := int32(len(m.tensors) - 1)
	m.ops = []tOp{{code: code, in: opIns, out: []int32{y}, optType: optType, opt: opt}}
	m.outputs = []int32{y}
	return m
}

// randMat is a random f32 constant [rows, cols] (a vector when cols is 0) and its values.
func randMat(rng *rand.Rand, name string, rows, cols int) (*tTensor, []float64) {
	n, shape := rows, []int32{int32(rows)}
	if cols > 0 {
		n, shape = rows*cols, []int32{int32(rows), int32(cols)}
	}
	v := make([]float32, n)
	f := make([]float64, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 0.5)
		f[i] = float64(v[i])
	}
	return &tTensor{name: name, shape: shape, typ: fb.TensorTypeFLOAT32, data: f32Bytes(v...)}, f
}

func state(name string, b, n int) *tTensor {
	return &tTensor{name: name, shape: []int32{int32(b), int32(n)}, typ: fb.TensorTypeFLOAT32}
}

// affine is x·wᵀ + bias (bias may be nil) for x [n_in], w [units, n_in].
func affine(x, w, bias []float64, units int) []float64 {
	out := make([]float64, units)
	in := len(x)
	for u := range out {
		if bias != nil {
			out[u] = bias[u]
		}
		for k := 0; k < in; k++ {
			out[u] += x[k] * w[u*in+k]
		}
	}
	return out
}

// seqAt is x[t][b] as a row, in either layout.
func seqAt(a nd, timeMajor bool, t, b int) []float64 {
	in := a.shape[2]
	i := a.flat([]int{b, t, 0})
	if timeMajor {
		i = a.flat([]int{t, b, 0})
	}
	return a.v[i : i+in]
}

func seqShape(timeMajor bool, t, b, n int) []int {
	if timeMajor {
		return []int{t, b, n}
	}
	return []int{b, t, n}
}

func rnnOpts(timeMajor bool, act fb.ActivationFunctionType) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.SequenceRNNOptionsStart(b)
		fb.SequenceRNNOptionsAddTimeMajor(b, timeMajor)
		fb.SequenceRNNOptionsAddFusedActivationFunction(b, act)
		return fb.SequenceRNNOptionsEnd(b)
	}
}

func TestSequenceRNN(t *testing.T) {
	rng := rand.New(rand.NewSource(51))
	T, B, I, N := 5, 2, 3, 4
	for _, tm := range []bool{true, false} {
		for _, act := range []fb.ActivationFunctionType{fb.ActivationFunctionTypeTANH, fb.ActivationFunctionTypeRELU} {
			w, wv := randMat(rng, "w", N, I)
			r, rv := randMat(rng, "r", N, N)
			bias, bv := randMat(rng, "b", N, 0)
			m := seqModel(fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_RNN, ints32(seqShape(tm, T, B, I)), []*tTensor{w, r, bias, state("h", B, N)},
				ints32(seqShape(tm, T, B, N)), fb.BuiltinOptionsSequenceRNNOptions, rnnOpts(tm, act))
			x, a := randF32(rng, seqShape(tm, T, B, I)...)
			want := newND(seqShape(tm, T, B, N)...)
			for b := 0; b < B; b++ {
				h := make([]float64, N)
				for s := 0; s < T; s++ {
					z := affine(seqAt(a, tm, s, b), wv, bv, N)
					hr := affine(h, rv, nil, N)
					for u := range z {
						z[u] += hr[u]
						if act == fb.ActivationFunctionTypeTANH {
							z[u] = math.Tanh(z[u])
						} else {
							z[u] = max(z[u], 0)
						}
					}
					h = z
					copy(seqAt(want, tm, s, b), h)
				}
			}
			checkSeq(t, fmt.Sprintf("time_major %v act %v", tm, act), m, x, want)
		}
	}
}

func checkSeq(t *testing.T, what string, m *tModel, x *ir.Tensor, want nd) {
	t.Helper()
	g, err := ImportBytes("seq.tflite", m.build(), Options{})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	out, err := interp(t, g).Run([]*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	oneOp{}.lowers(t, g)
	near(t, what, out[0], want, 1e-5)
}

func lstmOpts(timeMajor bool, cellClip float32) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.UnidirectionalSequenceLSTMOptionsStart(b)
		fb.UnidirectionalSequenceLSTMOptionsAddFusedActivationFunction(b, fb.ActivationFunctionTypeTANH)
		fb.UnidirectionalSequenceLSTMOptionsAddCellClip(b, cellClip)
		fb.UnidirectionalSequenceLSTMOptionsAddTimeMajor(b, timeMajor)
		return fb.UnidirectionalSequenceLSTMOptionsEnd(b)
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestSequenceLSTM(t *testing.T) {
	rng := rand.New(rand.NewSource(52))
	T, B, I, N := 4, 2, 3, 5
	for _, tm := range []bool{true, false} {
		for _, cifg := range []bool{false, true} {
			for _, clip := range []float32{0, 0.4} {
				ins := make([]*tTensor, 23)
				var w, r, bias [4][]float64
				for g := 0; g < 4; g++ {
					if g == 0 && cifg {
						continue
					}
					ins[lstmInputWeights-1+g], w[g] = randMat(rng, fmt.Sprintf("w%d", g), N, I)
					ins[lstmRecurrentWeights-1+g], r[g] = randMat(rng, fmt.Sprintf("r%d", g), N, N)
					ins[lstmGateBias-1+g], bias[g] = randMat(rng, fmt.Sprintf("b%d", g), N, 0)
				}
				ins[lstmOutputState-1], ins[lstmCellState-1] = state("h", B, N), state("c", B, N)
				m := seqModel(fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_LSTM, ints32(seqShape(tm, T, B, I)), ins,
					ints32(seqShape(tm, T, B, N)), fb.BuiltinOptionsUnidirectionalSequenceLSTMOptions, lstmOpts(tm, clip))
				x, a := randF32(rng, seqShape(tm, T, B, I)...)
				want := newND(seqShape(tm, T, B, N)...)
				for b := 0; b < B; b++ {
					h, c := make([]float64, N), make([]float64, N)
					for s := 0; s < T; s++ {
						xt := seqAt(a, tm, s, b)
						var z [4][]float64
						for g := 0; g < 4; g++ {
							if g == 0 && cifg {
								continue
							}
							z[g] = affine(xt, w[g], bias[g], N)
							for u, v := range affine(h, r[g], nil, N) {
								z[g][u] += v
							}
						}
						for u := 0; u < N; u++ {
							f := sigmoid(z[1][u])
							i := 1 - f
							if !cifg {
								i = sigmoid(z[0][u])
							}
							c[u] = f*c[u] + i*math.Tanh(z[2][u])
							if clip > 0 {
								c[u] = max(-float64(clip), min(float64(clip), c[u]))
							}
							h[u] = sigmoid(z[3][u]) * math.Tanh(c[u])
						}
						copy(seqAt(want, tm, s, b), h)
					}
				}
				checkSeq(t, fmt.Sprintf("time_major %v cifg %v clip %v", tm, cifg, clip), m, x, want)
			}
		}
	}
	// Peepholes are an error naming the op.
	ins := make([]*tTensor, 23)
	for g := 0; g < 4; g++ {
		ins[lstmInputWeights-1+g], _ = randMat(rng, fmt.Sprintf("w%d", g), N, I)
		ins[lstmRecurrentWeights-1+g], _ = randMat(rng, fmt.Sprintf("r%d", g), N, N)
		ins[lstmGateBias-1+g], _ = randMat(rng, fmt.Sprintf("b%d", g), N, 0)
	}
	ins[lstmPeephole], _ = randMat(rng, "peep", N, 0)
	ins[lstmOutputState-1], ins[lstmCellState-1] = state("h", B, N), state("c", B, N)
	m := seqModel(fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_LSTM, []int32{int32(T), int32(B), int32(I)}, ins,
		[]int32{int32(T), int32(B), int32(N)}, fb.BuiltinOptionsUnidirectionalSequenceLSTMOptions, lstmOpts(true, 0))
	_, err := ImportBytes("seq.tflite", m.build(), Options{})
	for _, s := range []string{"seq.tflite", "operator 0", "UNIDIRECTIONAL_SEQUENCE_LSTM", "peephole"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("peephole: error %v does not say %q", err, s)
		}
	}
}
