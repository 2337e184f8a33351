package passes

import (
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// tinyMLP is a trained 16-32-3 classifier of a synthetic set, and the set
// (batch-1 samples).
func tinyMLP(t *testing.T) (*ir.Graph, *Dataset) {
	t.Helper()
	r := rt.NewRand(5)
	d := &Dataset{Name: "blobs"}
	for i := 0; i < 512; i++ {
		c := i % 3
		x := ir.NewTensor(ir.F32, []int{1, 16})
		for j := range x.F32 {
			x.F32[j] = float32(r.Float64())
			if j%3 == c {
				x.F32[j] += 0.6
			}
		}
		d.Inputs = append(d.Inputs, []*ir.Tensor{x})
		d.Labels = append(d.Labels, c)
	}
	w1, b1 := ir.NewTensor(ir.F32, []int{32, 16}), ir.NewTensor(ir.F32, []int{32})
	w2, b2 := ir.NewTensor(ir.F32, []int{3, 32}), ir.NewTensor(ir.F32, []int{3})
	r.Uniform(w1.F32, 0.4)
	r.Uniform(w2.F32, 0.3)
	g := ir.NewGraph("mlp")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 16}})
	add := func(op string, args []*ir.Value, name string) *ir.Value {
		v, err := g.Add(op, args, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{}, name, name)
		if op == "relu" {
			v, err = g.Add(op, args, nil, ir.Type{}, name, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h := add("gemm", []*ir.Value{x, g.AddConst("fc1.w", w1, nil), g.AddConst("fc1.b", b1, nil)}, "fc1")
	h = add("relu", []*ir.Value{h}, "relu")
	y := add("gemm", []*ir.Value{h, g.AddConst("fc2.w", w2, nil), g.AddConst("fc2.b", b2, nil)}, "fc2")
	g.Results = []*ir.Value{y}
	s, err := rt.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.FineTune(s, DatasetExamples(d), rt.FineTuneConfig{Epochs: 2, Batch: 32, LR: 1e-2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return g, d
}

func constZeros(t *testing.T, g *ir.Graph, name string) float64 {
	for _, v := range g.Values {
		if v.Name == name && v.Args[1].IsConst() {
			w := v.Args[1].Const
			z := 0
			for _, x := range w.F32 {
				if x == 0 {
					z++
				}
			}
			return float64(z) / float64(w.Len())
		}
	}
	t.Fatalf("no layer %s with a constant weight", name)
	return 0
}

func TestDistillPipeline(t *testing.T) {
	g0, d := tinyMLP(t)
	acc0, err := Evaluate(g0, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc0.Top1Pct() < 90 {
		t.Fatalf("teacher top-1 %.1f %%", acc0.Top1Pct())
	}
	g := g0.Clone()
	reps, err := RunSpec(g, "prune{ratio=0.5,refit=false},distill{epochs=2,lr=0.01},prune{ratio=0.75,refit=false},distill{epochs=2,lr=0.01}", &Context{Data: d})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 4 || len(reps[1].Notes) == 0 {
		t.Fatalf("reports: %v", reps)
	}
	if z := constZeros(t, g, "fc1"); z < 0.7 {
		t.Errorf("fc1 weight is %.2f zeros after prune 75 %% and distill", z)
	}
	acc, err := Evaluate(g, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("teacher %.1f %%, pruned 75 %% and distilled %.1f %%", acc0.Top1Pct(), acc.Top1Pct())
	if acc.Top1Pct() < acc0.Top1Pct()-5 {
		t.Errorf("distilled student %.1f %% vs teacher %.1f %%", acc.Top1Pct(), acc0.Top1Pct())
	}
	// The teacher (the pipeline's input) is untouched.
	if z := constZeros(t, g0, "fc1"); z != 0 {
		t.Errorf("the input graph changed: %.2f zeros", z)
	}
}

func TestDistillQuantizedShared(t *testing.T) {
	g0, d := tinyMLP(t)
	g := g0.Clone()
	if _, err := RunSpec(g, "prune{ratio=0.5,refit=false},quantize,share{bits=4}", &Context{Data: d}); err != nil {
		t.Fatal(err)
	}
	// Lifting and committing without training changes nothing.
	s, err := rt.Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, g, s.Float, 1e-4, 3)
	before := g.Clone()
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, before, g, 0, 3)
	// Distillation keeps the encodings.
	text := func(g *ir.Graph) (n int) {
		for _, v := range g.Values {
			if v.Op.Name == "codebook_decode" {
				n++
			}
		}
		return n
	}
	ncb := text(g)
	if _, err := RunSpec(g, "distill{epochs=1,lr=0.005}", &Context{Data: d, Teacher: g0}); err != nil {
		t.Fatal(err)
	}
	if text(g) != ncb || ncb == 0 {
		t.Errorf("%d codebooks after distill, %d before", text(g), ncb)
	}
	acc, err := Evaluate(g, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Top1Pct() < 80 {
		t.Errorf("quantized, shared and distilled: top-1 %.1f %%", acc.Top1Pct())
	}
}

// Distillation reads and rewrites Deep Compression's relative-index
// encoding: the gaps stay as they were, zero fillers (and a codebook's zero
// entry) stay zero, and the codebook entries or stored values train.
func TestDistillRelativeIndices(t *testing.T) {
	stored := func(v *ir.Value) *ir.Tensor { // the codebook, or the values
		if v.Args[0].IsConst() {
			return v.Args[0].Const
		}
		return v.Args[0].Args[0].Const
	}
	g0, d := tinyMLP(t)
	for _, spec := range []string{"prune{ratio=0.8,refit=false},share{bits=4,index=rel}", "prune{ratio=0.8,refit=false},quantize,share{bits=4,index=rel}",
		"prune{ratio=0.8,refit=false},sparse{index=rel}", "prune{ratio=0.8,refit=false},quantize,sparse{index=rel}"} {
		g := g0.Clone()
		if _, err := RunSpec(g, spec, &Context{Data: d}); err != nil {
			t.Fatal(err)
		}
		gaps := map[string]*ir.Tensor{}
		books := map[string][]float64{}
		for _, v := range g.Values {
			if v.Op.Name == "sparse_rel_decode" {
				gaps[v.Name] = v.Args[1].Const
				cb := stored(v)
				for i := 0; i < cb.Len(); i++ {
					books[v.Name] = append(books[v.Name], cb.At(i))
				}
			}
		}
		if len(gaps) == 0 {
			t.Fatalf("%s: no relative-index weight", spec)
		}
		s, err := rt.Lift(g)
		if err != nil {
			t.Fatalf("%s: lift: %v", spec, err)
		}
		sameOutputs(t, g, s.Float, 1e-4, 3)
		if _, err := RunSpec(g, "distill{epochs=1,lr=0.005}", &Context{Data: d, Teacher: g0}); err != nil {
			t.Fatal(err)
		}
		moved := 0
		for _, v := range g.Values {
			if v.Op.Name != "sparse_rel_decode" {
				continue
			}
			if v.Args[1].Const != gaps[v.Name] {
				t.Errorf("%s: the gaps of %s were rewritten", spec, v.Name)
			}
			cb := stored(v)
			for i := 0; i < cb.Len(); i++ {
				if books[v.Name][i] == 0 && cb.At(i) != 0 {
					t.Errorf("%s: %s: the zero entry %d became %v", spec, v.Name, i, cb.At(i))
				}
				if cb.At(i) != books[v.Name][i] {
					moved++
				}
			}
		}
		if moved == 0 {
			t.Errorf("%s: no codebook entry or value moved", spec)
		}
		acc, err := Evaluate(g, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Top1Pct() < 80 {
			t.Errorf("%s, distilled: top-1 %.1f %%", spec, acc.Top1Pct())
		}
	}
}

// prune{steps,distill} interleaves pruning and distillation, evaluates each
// step on held-out samples, and recovers what pruning alone loses.
func TestPruneDistillSteps(t *testing.T) {
	g0, d := tinyMLP(t)
	acc := func(spec string) (float64, *ir.Graph, []*Report) {
		g := g0.Clone()
		reps, err := RunSpec(g, spec, &Context{Data: d})
		if err != nil {
			t.Fatal(err)
		}
		a, err := Evaluate(g, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a.Top1Pct(), g, reps
	}
	plain, _, _ := acc("prune{ratio=0.85,steps=3,refit=false,samples=128}")
	dist, g, reps := acc("prune{ratio=0.85,steps=3,refit=false,samples=128,distill=2,lr=0.01}")
	t.Logf("pruned 85 %% in 3 steps: %.1f %%; with distillation after each: %.1f %%", plain, dist)
	if z := constZeros(t, g, "fc1"); z < 0.8 {
		t.Errorf("fc1 is %.2f zeros", z)
	}
	if dist <= plain {
		t.Errorf("distillation after every step did not help: %.1f %% vs %.1f %%", dist, plain)
	}
	notes := strings.Join(reps[0].Notes, "\n")
	if strings.Count(notes, "step ") < 3 || !strings.Contains(notes, "epochs on 384 samples") {
		t.Errorf("notes:\n%s", notes)
	}
	if _, err := RunSpec(g0.Clone(), "prune{ratio=0.5,distill=1}", &Context{}); err == nil || !strings.Contains(err.Error(), "needs data") {
		t.Errorf("prune{distill} without data: %v", err)
	}
}
