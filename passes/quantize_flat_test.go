package passes

import (
	"math"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// recurrentCell is silero VAD's LSTM step reduced to its shape: a chunk and
// a recurrent state, each through a matmul, summed, then tanh; the state
// input's calibration samples are all zeros (a stream's first chunk).
func recurrentCell(t *testing.T) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("cell")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 8}})
	h := g.AddParam("h", ir.Type{DType: ir.F32, Shape: []int{1, 8}})
	w := func(name string, seed float64) *ir.Value {
		d := make([]float32, 64)
		for i := range d {
			d[i] = float32(math.Sin(float64(i)*0.7+seed)) * 0.5
		}
		return g.AddConst(name, ir.FromF32([]int{8, 8}, d), nil)
	}
	must := mustValue(t)
	px := must(g.Add("matmul", []*ir.Value{x, w("wx", 1)}, nil, ir.Type{}, "px", ""))
	ph := must(g.Add("matmul", []*ir.Value{h, w("wh", 2)}, nil, ir.Type{}, "ph", ""))
	s := must(g.Add("add", []*ir.Value{px, ph}, nil, ir.Type{}, "pre", ""))
	y := must(g.Add("tanh", []*ir.Value{s}, nil, ir.Type{}, "y", ""))
	g.Results = []*ir.Value{y}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestQuantizeFlatRange: an activation that takes one value on every
// calibration sample (a recurrent state calibrated on zeros) has no range to
// quantize with; quantize leaves it and the layers that read it in f32 and
// says so, instead of giving it a scale of 1e-8/255 that saturates every
// real state. The other layer is still quantized, and on a non-zero state
// the int8 graph stays close to the f32 one.
func TestQuantizeFlatRange(t *testing.T) {
	g := recurrentCell(t)
	f := g.Clone()
	data := &Dataset{Name: "zero-state"}
	for s := 0; s < 8; s++ {
		in := inputsFor(g, s)
		in[1] = ir.NewTensor(ir.F32, []int{1, 8})
		data.Inputs = append(data.Inputs, in)
		data.Labels = append(data.Labels, -1)
	}
	reps, err := RunSpec(g, "canonicalize,quantize,fuse", &Context{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(reps[1].Notes, "\n")
	for _, want := range []string{"h (always 0)", "ph (always 0)", "quantized 1 of 2 layers", "left in f32: [ph]"} {
		if !strings.Contains(notes, want) {
			t.Errorf("report lacks %q:\n%s", want, notes)
		}
	}
	for _, v := range g.Values {
		if v.Op.Name == "matmul" {
			if want := map[string]ir.DType{"px": ir.I8, "ph": ir.F32}[v.Name]; v.Args[1].Type.DType != want {
				t.Errorf("%s weights are %v, want %v", v.Name, v.Args[1].Type.DType, want)
			}
		}
	}
	in := inputsFor(f, 5) // a non-zero state
	a, err := rt.Run(f, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rt.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range a[0].F32 {
		if d := math.Abs(float64(b[0].F32[i] - x)); d > 0.05 {
			t.Errorf("element %d: int8 %v, f32 %v", i, b[0].F32[i], x)
		}
	}
}

// TestQuantizeReportResultLayer: a layer whose result is a graph output
// (its integer value renamed NAME.q, its dequantize taking NAME) counts as
// quantized in the report, not as left in f32.
func TestQuantizeReportResultLayer(t *testing.T) {
	g := recurrentCell(t)
	g.Results = []*ir.Value{g.Lookup("px"), g.Lookup("y")}
	data := &Dataset{Name: "random"}
	for s := 0; s < 4; s++ {
		data.Inputs = append(data.Inputs, inputsFor(g, s))
		data.Labels = append(data.Labels, -1)
	}
	reps, err := RunSpec(g, "canonicalize,quantize", &Context{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(reps[1].Notes, "\n"); !strings.Contains(notes, "quantized 2 of 2 layers") || strings.Contains(notes, "left in f32") {
		t.Errorf("report:\n%s", notes)
	}
}

// TestQuantizeSigmoidFullRange: a quantized sigmoid keeps its whole range
// [0, 1), and its input at least [-6, 6], whatever calibration saw (here
// logits near -2: a presence score on pictures without the object), so
// that a probability head can still say yes at run time.
func TestQuantizeSigmoidFullRange(t *testing.T) {
	g := ir.NewGraph("head")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 8}})
	w := g.AddConst("w", ir.FromF32([]int{8, 1}, []float32{1, 1, 1, 1, -1, -1, -1, -1}), nil)
	b := g.AddConst("b", ir.FromF32([]int{1}, []float32{-2}), nil)
	l, err := g.Add("gemm", []*ir.Value{x, w, b}, nil, ir.Type{}, "logit", "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Add("sigmoid", []*ir.Value{l}, nil, ir.Type{}, "score", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{s}
	// Calibration: both halves alike, logits within -2 ± 0.4.
	data := &Dataset{Name: "no-object"}
	for k := 0; k < 8; k++ {
		in := ir.NewTensor(ir.F32, []int{1, 8})
		for i := 0; i < 4; i++ {
			in.F32[i] = float32((k+i)%5) / 4
			in.F32[i+4] = in.F32[i] + float32(k%3-1)*0.1/4
		}
		data.Inputs = append(data.Inputs, []*ir.Tensor{in})
		data.Labels = append(data.Labels, -1)
	}
	// fuse without lookups: the quantized sigmoid stays to be looked at.
	if _, err := RunSpec(g, "canonicalize,quantize,fuse{lut=false}", &Context{Data: data}); err != nil {
		t.Fatal(err)
	}
	q := g.Lookup("score.q")
	if q == nil || q.Op.Name != "sigmoid" || !q.Type.Quant.Equal(ir.PerTensor(1.0/256, -128)) {
		t.Fatalf("quantized sigmoid: %v", q)
	}
	// A logit of +2, never seen in calibration, still reads as a yes.
	in := ir.FromF32([]int{1, 8}, []float32{1, 1, 1, 1, 0, 0, 0, 0})
	out, err := rt.Run(g, []*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	if p := out[0].F32[0]; p < 0.85 {
		t.Errorf("score for logit +2: %v, want sigmoid(2) = 0.88", p)
	}
}
