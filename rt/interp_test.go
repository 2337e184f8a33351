package rt

import (
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// smallCNN builds conv → relu → maxpool → reshape → gemm → softmax.
func smallCNN(t testing.TB, rng *rand.Rand) *ir.Graph {
	g := ir.NewGraph("cnn")
	must := func(v *ir.Value, err error) *ir.Value {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 20, 20))
	w := g.AddConst("w", randF32(rng, 16, 3, 3, 3), nil)
	b := g.AddConst("b", randF32(rng, 16), nil)
	c := must(g.Add("conv", []*ir.Value{x, w, b}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "conv1", "Conv_0"))
	r := must(g.Add("relu", []*ir.Value{c}, nil, ir.Type{}, "relu1", "Relu_1"))
	p := must(g.Add("maxpool", []*ir.Value{r}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{}, "pool1", "MaxPool_2"))
	f := must(g.Add("reshape", []*ir.Value{p}, nil, ir.TensorType(ir.F32, 1, 16*10*10), "flat", "Reshape_3"))
	fw := g.AddConst("fw", randF32(rng, 10, 1600), nil)
	d := must(g.Add("gemm", []*ir.Value{f, fw}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{}, "fc", "Gemm_4"))
	s := must(g.Add("softmax", []*ir.Value{d}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "prob", "Softmax_5"))
	g.Results = []*ir.Value{s, p}
	return g
}

// One Interp run from 4 goroutines gives each the sequential result.
func TestConcurrentRun(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	g := smallCNN(t, rng)
	p, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	inputs := make([]*ir.Tensor, n)
	want := make([][]*ir.Tensor, n)
	for i := range inputs {
		inputs[i] = randF32(rng, 1, 3, 20, 20)
		if want[i], err = p.Run([]*ir.Tensor{inputs[i]}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				for i := w; i < n; i += 2 {
					got, err := p.Run([]*ir.Tensor{inputs[i]})
					if err != nil {
						t.Error(err)
						return
					}
					for k := range got {
						if !got[k].Equal(want[i][k]) {
							t.Errorf("goroutine %d input %d result %d differs from the sequential run", w, i, k)
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

func TestTraceVisitsEveryValue(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	g := smallCNN(t, rng)
	p, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*ir.Value]bool{}
	err = p.Trace([]*ir.Tensor{randF32(rng, 1, 3, 20, 20)}, func(v *ir.Value, x *ir.Tensor) {
		if seen[v] {
			t.Errorf("%s visited twice", v.Where())
		}
		seen[v] = true
		if !ir.EqualShape(x.Shape, v.Type.Shape) || x.DType != v.Type.DType {
			t.Errorf("%s: tensor %v%v, type %v", v.Where(), x.DType, x.Shape, v.Type)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(g.Values) {
		t.Errorf("visited %d values, graph has %d", len(seen), len(g.Values))
	}
}

func TestRunInputErrors(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	g := smallCNN(t, rng)
	cases := []struct {
		in   []*ir.Tensor
		want string
	}{
		{nil, "takes 1 inputs, got 0"},
		{[]*ir.Tensor{randF32(rng, 1, 3, 20, 21)}, "%x"},
		{[]*ir.Tensor{ir.NewTensor(ir.U8, []int{1, 3, 20, 20})}, "%x"},
		{[]*ir.Tensor{{DType: ir.F32, Shape: []int{1, 3, 20, 20}, F32: make([]float32, 5)}}, "holds 5 elements"},
		{[]*ir.Tensor{nil}, "nil"},
	}
	for _, c := range cases {
		_, err := Run(g, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// Kernel errors name the value and its source node.
func TestErrorsNameTheValue(t *testing.T) {
	g := ir.NewGraph("bad")
	x := g.AddParam("x", ir.TensorType(ir.F32, 4))
	v, err := g.Add("gather", []*ir.Value{x, g.AddConst("i", i64t(shp(1), 9), nil)}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, "pick", "Gather_7")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{v}
	_, err = Run(g, []*ir.Tensor{f32t(shp(4))})
	if err == nil || !strings.Contains(err.Error(), `rt: gather %pick (node "Gather_7")`) {
		t.Errorf("error %v does not name the value", err)
	}
}

func TestEvalOp(t *testing.T) {
	g := ir.NewGraph("e")
	a := g.AddConst("a", f32t(shp(2), 1, 2), nil)
	if got, err := EvalOp(a, nil); err != nil || got != a.Const {
		t.Errorf("EvalOp(const) = %v, %v", got, err)
	}
	b := g.AddParam("b", ir.TensorType(ir.F32, 2))
	v, err := ir.NewValue("add", []*ir.Value{a, b}, nil, ir.Type{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := EvalOp(v, []*ir.Tensor{a.Const, f32t(shp(2), 10, 20)})
	if err != nil {
		t.Fatal(err)
	}
	closeF32(t, "EvalOp add", got.F32, []float32{11, 22}, 0, 0)
	if _, err := EvalOp(v, []*ir.Tensor{a.Const, f32t(shp(3), 1, 2, 3)}); err == nil {
		t.Error("EvalOp with a wrong argument shape: no error")
	}
	if _, err := EvalOp(v, []*ir.Tensor{a.Const}); err == nil {
		t.Error("EvalOp with a missing argument: no error")
	}
}

// Results that are constants or inputs come back as copies.
func TestResultsDoNotAlias(t *testing.T) {
	g := ir.NewGraph("alias")
	x := g.AddParam("x", ir.TensorType(ir.F32, 2))
	c := g.AddConst("c", f32t(shp(2), 1, 2), nil)
	g.Results = []*ir.Value{x, c}
	in := f32t(shp(2), 5, 6)
	out, err := Run(g, []*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	out[0].F32[0], out[1].F32[0] = -1, -1
	if in.F32[0] != 5 || c.Const.F32[0] != 1 {
		t.Error("a result shares storage with an input or a constant")
	}
}

func BenchmarkSmallCNN(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	p, err := New(smallCNN(b, rng))
	if err != nil {
		b.Fatal(err)
	}
	in := []*ir.Tensor{randF32(rng, 1, 3, 20, 20)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}
