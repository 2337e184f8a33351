package passes

import (
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// compressNet is a small conv net with every layer kind the compression
// passes handle: conv → relu → maxpool → conv → relu → flatten → gemm
// (trans_b) → relu → matmul.
func compressNet(t testing.TB) *ir.Graph {
	t.Helper()
	r := rand.New(rand.NewSource(3))
	g := ir.NewGraph("cnet")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 2, 8, 8}})
	rnd := func(name string, shape ...int) *ir.Value {
		tt := ir.NewTensor(ir.F32, shape)
		for i := range tt.F32 {
			tt.F32[i] = float32(r.NormFloat64()) * 0.4
		}
		return g.AddConst(name, tt, nil)
	}
	add := func(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, name string) *ir.Value {
		v, err := g.Add(op, args, attrs, hint, name, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	c1 := add("conv", []*ir.Value{x, rnd("w1", 8, 2, 3, 3), rnd("b1", 8)}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "conv1")
	r1 := add("relu", []*ir.Value{c1}, nil, ir.Type{}, "relu1")
	p1 := add("maxpool", []*ir.Value{r1}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{}, "pool1")
	c2 := add("conv", []*ir.Value{p1, rnd("w2", 12, 8, 3, 3), rnd("b2", 12)}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "conv2")
	r2 := add("relu", []*ir.Value{c2}, nil, ir.Type{}, "relu2")
	f := add("reshape", []*ir.Value{r2}, nil, ir.Type{DType: ir.F32, Shape: []int{1, 192}}, "flat")
	d1 := add("gemm", []*ir.Value{f, rnd("w3", 32, 192), rnd("b3", 32)}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{}, "fc1")
	r3 := add("relu", []*ir.Value{d1}, nil, ir.Type{}, "relu3")
	d2 := add("matmul", []*ir.Value{r3, rnd("w4", 32, 10)}, nil, ir.Type{}, "fc2")
	g.Results = []*ir.Value{d2}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// randomData is n deterministic samples for g (labels: the argmax of g).
func randomData(t testing.TB, g *ir.Graph, n int) *Dataset {
	t.Helper()
	d := &Dataset{Name: "random"}
	ip, err := rt.New(g)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		in := inputsFor(g, i+100)
		for _, x := range in {
			for j := range x.F32 {
				x.F32[j] = float32(math.Max(0, float64(x.F32[j])+math.Sin(float64(i*j+1))))
			}
		}
		out, err := ip.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for j, s := range out[0].F32 {
			if s > out[0].F32[best] {
				best = j
			}
		}
		d.Inputs = append(d.Inputs, in)
		d.Labels = append(d.Labels, best)
	}
	return d
}

func mustRun(t testing.TB, g *ir.Graph, spec string, ctx *Context) []*Report {
	t.Helper()
	reps, err := RunSpec(g, spec, ctx)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return reps
}

// outputError is the mean squared difference of the first results of a and b on data.
func outputError(t testing.TB, a, b *ir.Graph, d *Dataset) float64 {
	t.Helper()
	s := 0.0
	for _, in := range d.Inputs {
		ra, err := rt.Run(a, in)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := rt.Run(b, in)
		if err != nil {
			t.Fatal(err)
		}
		for j := range ra[0].F32 {
			e := float64(ra[0].F32[j] - rb[0].F32[j])
			s += e * e
		}
	}
	return s / float64(len(d.Inputs))
}

func zeroFraction(t *ir.Tensor) float64 {
	z := 0
	for i := 0; i < t.Len(); i++ {
		if t.At(i) == 0 {
			z++
		}
	}
	return float64(z) / float64(t.Len())
}

func TestPruneUnstructured(t *testing.T) {
	for _, scope := range []string{"global", "layer"} {
		g := compressNet(t)
		mustRun(t, g, "prune{ratio=0.8,scope="+scope+"}", nil)
		total, zeros := 0, 0.0
		for _, l := range prunableLayers(g, nil, 0) {
			z := zeroFraction(l.w.Const)
			if scope == "layer" && math.Abs(z-0.8) > 0.02 {
				t.Errorf("%s: %s has %.3f zeros, want 0.8", scope, l.v.Name, z)
			}
			total += l.w.Const.Len()
			zeros += z * float64(l.w.Const.Len())
		}
		if math.Abs(zeros/float64(total)-0.8) > 0.01 {
			t.Errorf("%s: %.3f of the weights are zero, want 0.8", scope, zeros/float64(total))
		}
	}
}

func TestPruneRefitRecovers(t *testing.T) {
	g0 := compressNet(t)
	data := randomData(t, g0, 64)
	plain, fit := g0.Clone(), g0.Clone()
	mustRun(t, plain, "prune{ratio=0.7,refit=false}", nil)
	mustRun(t, fit, "prune{ratio=0.7}", &Context{Data: data})
	for _, l := range prunableLayers(plain, nil, 0) {
		lf := weightLayer(fit.Lookup(l.v.Name))
		for i, x := range l.w.Const.F32 { // refit keeps the mask (inputs dead on the data may get 0)
			if x == 0 && lf.w.Const.F32[i] != 0 {
				t.Fatalf("%s: refit changed the sparsity pattern at %d: %v vs %v", l.v.Name, i, x, lf.w.Const.F32[i])
			}
		}
	}
	ep, ef := outputError(t, g0, plain, data), outputError(t, g0, fit, data)
	t.Logf("output MSE: magnitude pruning %.4g, with refit %.4g", ep, ef)
	if !(ef < ep) {
		t.Errorf("refit did not reduce the output error: %.4g vs %.4g", ef, ep)
	}
}

func TestSparseEncodingExact(t *testing.T) {
	g := compressNet(t)
	mustRun(t, g, "prune{ratio=0.85,scope=layer}", nil)
	dense := g.Clone()
	reps := mustRun(t, g, "sparse{index=csr}", nil)
	n := 0
	for _, v := range g.Values {
		if v.Op.Name == "sparse_decode" {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d weights encoded, want 4\n%s", n, g)
	}
	if a, b := reps[0].Before.Bytes, reps[0].After.Bytes; b >= a {
		t.Errorf("bytes %d → %d: CSR not smaller", a, b)
	}
	sameOutputs(t, dense, g, 1e-5, 3) // sparse kernels (density 0.15) against dense
	roundTrip(t, g)
	// The compiled program keeps the pruned layers sparse.
	p, err := codegen.LowerWith(g, codegen.Options{Weights: codegen.WeightsCompressed})
	if err != nil {
		t.Fatalf("codegen.Lower of a CSR graph: %v", err)
	}
	sparse := 0
	for _, st := range p.Steps {
		if st.Sparse != nil {
			sparse++
		}
	}
	if sparse != 4 {
		t.Errorf("codegen lowered %d sparse steps, want 4", sparse)
	}
}

// roundTrip writes g in the text form, reads it back and compares outputs.
func roundTrip(t *testing.T, g *ir.Graph) *ir.Graph {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g.ir")
	if err := ir.WriteFile(path, g); err != nil {
		t.Fatal(err)
	}
	h, err := ir.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != g.String() {
		t.Fatalf("text round trip differs:\n%s\n---\n%s", g, h)
	}
	sameOutputs(t, g, h, 0, 2)
	return h
}

func TestPruneStructured(t *testing.T) {
	g0 := compressNet(t)
	data := randomData(t, g0, 64)
	g := g0.Clone()
	reps := mustRun(t, g, "prune{ratio=0.5,structured}", &Context{Data: data})
	if s := g.Lookup("conv1").Type.Shape; s[1] != 4 {
		t.Errorf("conv1 output %v, want 4 channels\n%s", s, g)
	}
	if s := g.Lookup("flat").Type.Shape; s[1] != 96 {
		t.Errorf("flatten %v, want 96 columns", s)
	}
	if s := g.Lookup("fc1").Type.Shape; s[1] != 16 {
		t.Errorf("fc1 %v, want 16 neurons", s)
	}
	if a, b := reps[0].Before.MACs, reps[0].After.MACs; b >= a*6/10 {
		t.Errorf("MACs %d → %d", a, b)
	}
	plain := g0.Clone()
	mustRun(t, plain, "prune{ratio=0.5,structured,refit=false}", nil)
	ep, ef := outputError(t, g0, plain, data), outputError(t, g0, g, data)
	t.Logf("output MSE: structured %.4g, with refit %.4g", ep, ef)
	if !(ef < ep) {
		t.Errorf("refit did not help: %.4g vs %.4g", ef, ep)
	}
	roundTrip(t, g)
}

func TestLowrank(t *testing.T) {
	g0 := compressNet(t)
	full := g0.Clone()
	mustRun(t, full, "lowrank{energy=1}", nil) // full rank saves nothing: unchanged
	if full.String() != g0.String() {
		t.Errorf("energy=1 changed the graph")
	}
	for _, spec := range []string{"lowrank{ratio=0.6}", "lowrank{energy=0.9}"} {
		g := g0.Clone()
		reps := mustRun(t, g, spec, nil)
		if a, b := reps[0].Before.Params, reps[0].After.Params; b >= a {
			t.Errorf("%s: params %d → %d", spec, a, b)
		}
		n := 0
		for _, v := range g.Values {
			if v.Op.Name == "conv" && v.Args[1].Type.Shape[2] == 1 {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no conv split\n%s", spec, g)
		}
		roundTrip(t, g)
	}
	// A weight of rank 3 is reproduced by a rank-3 split.
	g := g0.Clone()
	fc1 := g.Lookup("fc1")
	w := ir.NewTensor(ir.F32, []int{32, 192})
	for i := 0; i < 32; i++ {
		for j := 0; j < 192; j++ {
			w.F32[i*192+j] = float32(math.Sin(float64(i+j)) + math.Cos(float64(2*i-j))*0.5 + 0.1*float64(i%3))
		}
	}
	fc1.Args[1] = g.AddConst("w3r", w, nil)
	g.RemoveDead()
	topoSort(g)
	before := g.Clone()
	mustRun(t, g, "lowrank{energy=0.999999,skip=conv1,conv2}", nil)
	if r := g.Lookup("fc1").Args[1].Type.Shape[1]; r > 4 {
		t.Errorf("rank %d for a rank-3 weight", r)
	}
	sameOutputs(t, before, g, 1e-3, 2)
}
