package rt

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Fine-tuning of compressed graphs (fakequant.go, distill.go).

func TestFakeQuantSTE(t *testing.T) {
	g := ir.NewGraph("fq")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 5}})
	q, err := g.Add("quantize", []*ir.Value{x}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.1, 0)}, "q", "")
	if err != nil {
		t.Fatal(err)
	}
	dq, err := g.Add("dequantize", []*ir.Value{q}, nil, ir.Type{}, "dq", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{dq}
	d, err := NewGrad(g, []*ir.Value{x})
	if err != nil {
		t.Fatal(err)
	}
	in := ir.FromF32([]int{1, 5}, []float32{0.123, -3.04, 12.6, 13, -20})
	tape, err := d.Forward([]*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	out := tape.Results()[0].F32
	wantOut := []float32{0.1, -3.0, 12.6, 12.7, -12.8}
	dy := ir.FromF32([]int{1, 5}, []float32{1, 2, 3, 4, 5})
	gs, err := tape.Backward([]*ir.Tensor{dy})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 3, 0, 0} // identity inside the range, zero where quantize saturates
	for i := range want {
		if math.Abs(float64(out[i]-wantOut[i])) > 1e-5 || math.Abs(float64(gs[0].F32[i]-want[i])) > 1e-5 {
			t.Errorf("x=%v: fake quant %v (want %v), gradient %v (want %v)", in.F32[i], out[i], wantOut[i], gs[0].F32[i], want[i])
		}
	}
}

func TestLiftMaskPreserved(t *testing.T) {
	m := newTinyNet(3)
	for i := range m.w2.F32 {
		if i%2 == 0 {
			m.w2.F32[i] = 0 // pruned
		}
	}
	g, _ := m.graph(t, 1)
	s, err := Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Params) != 4 {
		t.Fatalf("%d parameters, want 4 (2 weights, 2 biases)", len(s.Params))
	}
	before := append([]float32{}, m.w2.F32...)
	if _, err := FineTune(s, blobs{n: 64}, FineTuneConfig{Batch: 8, Shards: 2, MaxSteps: 2, LR: 1e-2}); err != nil {
		t.Fatal(err)
	}
	var w2 *ir.Tensor
	for _, v := range g.Values {
		if v.Name == "w2" {
			w2 = v.Const
		}
	}
	if w2 == m.w2 {
		t.Fatal("commit did not write a new tensor")
	}
	changed := 0
	for i, x := range w2.F32 {
		if i%2 == 0 && x != 0 {
			t.Fatalf("pruned weight %d became %v", i, x)
		}
		if x != before[i] {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("no weight changed")
	}
}

// codebookGraph is x[1,4] → gemm with a 3×4 weight decoded from a 4-entry
// codebook (2-bit indices) → [1,3].
func codebookGraph(t *testing.T, cb []float32) *ir.Graph {
	g := ir.NewGraph("cb")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 4}})
	idx := []int{0, 1, 2, 3, 1, 1, 0, 2, 3, 3, 1, 0}
	packed := ir.NewTensor(ir.U8, []int{3})
	for i, c := range idx {
		packed.U8[i*2/8] |= uint8(c << (i * 2 % 8))
	}
	c := g.AddConst("w.cb", ir.FromF32([]int{4}, append([]float32{}, cb...)), nil)
	ix := g.AddConst("w.idx", packed, nil)
	w, err := g.Add("codebook_decode", []*ir.Value{c, ix}, ir.Attrs{"bits": ir.Int(2)}, ir.Type{DType: ir.F32, Shape: []int{3, 4}}, "w", "")
	if err != nil {
		t.Fatal(err)
	}
	y, err := g.Add("gemm", []*ir.Value{x, w}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{}, "y", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{y}
	return g
}

func TestCentroidGradient(t *testing.T) {
	cb := []float32{0.5, -0.25, 0.75, 0} // entry 3 is a pruned zero: fixed
	x := ir.FromF32([]int{1, 4}, []float32{0.3, -1.2, 0.7, 2.1})
	r := []float64{1.5, -0.5, 2}
	loss := func(g *ir.Graph) float64 {
		out, err := Run(g, []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		var l float64
		for i, y := range out[0].F32 {
			l += r[i] * float64(y)
		}
		return l
	}
	g := codebookGraph(t, cb)
	s, err := Lift(g)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Params[0]
	entries, cgrad := s.Tied(p)
	if entries == nil {
		t.Fatal("the decoded weight is not tied to its codebook")
	}
	d, err := NewGrad(s.Float, []*ir.Value{p.V})
	if err != nil {
		t.Fatal(err)
	}
	tape, err := d.Forward([]*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	dy := ir.FromF32([]int{1, 3}, []float32{1.5, -0.5, 2})
	gs, err := tape.Backward([]*ir.Tensor{dy})
	if err != nil {
		t.Fatal(err)
	}
	got := cgrad(gs[0].F32)
	// The sum of the member gradients, and finite differences of the loss
	// with respect to each (free) entry.
	idx := []int{0, 1, 2, 3, 1, 1, 0, 2, 3, 3, 1, 0}
	for k := range cb {
		var sum float64
		for j, c := range idx {
			if c == k {
				sum += float64(gs[0].F32[j])
			}
		}
		if k == 3 {
			sum = 0 // fixed zero entry
		}
		const eps = 1e-2
		pert := func(dx float32) float64 {
			c := append([]float32{}, cb...)
			c[k] += dx
			return loss(codebookGraph(t, c))
		}
		num := (pert(eps) - pert(-eps)) / (2 * eps)
		if k == 3 {
			num = 0
		}
		if math.Abs(float64(got[k])-sum) > 1e-5 || math.Abs(float64(got[k])-num) > 1e-3 {
			t.Errorf("entry %d: centroid gradient %v, sum of members %v, finite difference %v", k, got[k], sum, num)
		}
	}
	// One optimizer step moves the entries, rewrites the dense weight from
	// them, and keeps the zero entry.
	opt := s.Optimizer(&SGD{})
	opt.Step(s.Params, [][]float32{gs[0].F32}, 0.1)
	for j, c := range idx {
		if w := p.Data()[j]; w != entries.Data()[c] {
			t.Fatalf("dense weight %d = %v, codebook entry %d = %v", j, w, c, entries.Data()[c])
		}
	}
	if entries.Data()[3] != 0 || entries.Data()[0] == cb[0] {
		t.Fatalf("entries after a step: %v", entries.Data())
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if l0, l1 := loss(codebookGraph(t, cb)), loss(g); l1 >= l0 {
		t.Errorf("loss %v after a gradient step on the codebook, %v before", l1, l0)
	}
}

func TestDistillLossNoLabels(t *testing.T) {
	logits := ir.FromF32([]int{2, 3}, []float32{0.5, -1, 2, 0.1, 0.2, -0.3})
	teacher := ir.FromF32([]int{2, 3}, []float32{1, 0, -1, 3, -2, 0.5})
	d := Distill{Teacher: func(*Batch) (*ir.Tensor, error) { return teacher, nil }, Temperature: 4, Alpha: 0.3}
	f := func() (float64, *ir.Tensor) {
		l, g, err := d.Eval(&Batch{}, []*ir.Tensor{logits}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		return l, g[0]
	}
	l, g := f()
	kl, _, _ := KLDivergence(logits, teacher, 4, 0.5)
	if math.Abs(l-kl) > 1e-9 {
		t.Errorf("without labels the loss is %v, want the T²·KL term %v", l, kl)
	}
	const eps = 1e-3
	for i := range logits.F32 {
		x0 := logits.F32[i]
		logits.F32[i] = x0 + eps
		lp, _ := f()
		logits.F32[i] = x0 - eps
		lm, _ := f()
		logits.F32[i] = x0
		if num := (lp - lm) / (2 * eps); math.Abs(float64(g.F32[i])-num) > 1e-3 {
			t.Errorf("d/dlogit[%d] = %v, finite difference %v", i, g.F32[i], num)
		}
	}
}

func TestRebatch(t *testing.T) {
	m := newTinyNet(1)
	g, _ := m.graph(t, 1)
	g8, err := Rebatch(g, 8)
	if err != nil {
		t.Fatal(err)
	}
	if s := g8.Results[0].Type.Shape; s[0] != 8 {
		t.Fatalf("result %v", s)
	}
	x := ir.NewTensor(ir.F32, []int{8, 1, 6, 6})
	blobs{n: 8}.Example(5, x.F32[5*36:6*36])
	out8, err := Run(g8, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	out1, err := Run(g, []*ir.Tensor{ir.FromF32([]int{1, 1, 6, 6}, x.F32[5*36:6*36])})
	if err != nil {
		t.Fatal(err)
	}
	for j := range out1[0].F32 {
		if math.Abs(float64(out1[0].F32[j]-out8[0].F32[5*3+j])) > 1e-5 {
			t.Fatalf("row 5 of the batch %v, alone %v", out8[0].F32[15:18], out1[0].F32)
		}
	}
}
