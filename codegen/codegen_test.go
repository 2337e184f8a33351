package codegen

import (
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

const modelsDir = "../../shared/models"

func loadONNX(t testing.TB, rel string) *ir.Graph {
	t.Helper()
	path := modelsDir + "/" + rel
	if _, err := os.Stat(path); err != nil {
		t.Skipf("model %s not found: %v", path, err)
	}
	g, err := onnx.Import(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMnistPlan(t *testing.T) {
	g := loadONNX(t, "onnx/mnist-7/mnist-7.onnx")
	p, err := Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	p.Dump(&b)
	t.Log(b.String())
	if p.ArenaSize >= p.BufferBytes {
		t.Errorf("arena %d bytes is not smaller than the sum of its buffers %d", p.ArenaSize, p.BufferBytes)
	}
	// conv+add+relu fuse into one step (the add folds into the bias).
	kinds := map[Kernel]int{}
	for _, s := range p.Steps {
		kinds[s.Kernel]++
	}
	if kinds[KConvGemm]+kinds[KConvDepthwise] != 2 || kinds[KMap] != 0 || kinds[KGemm] != 1 || len(p.Steps) != 5 {
		t.Errorf("steps %v, want 2 conv, 2 pool, 1 gemm and no standalone elementwise step", kinds)
	}
	checkPlan(t, g, p)
}

// checkPlan replays the program on an abstract arena that records, per
// byte, which step wrote it, and checks that every read of an arena
// operand sees the bytes its producing step wrote (no live buffer was
// overwritten), and that no operand reaches outside the arena.
func checkPlan(t *testing.T, g *ir.Graph, p *Program) {
	t.Helper()
	writer := make([]int, p.ArenaSize)
	for i := range writer {
		writer[i] = -1
	}
	producer := map[string]int{}
	root := func(name string) string {
		v := g.Lookup(name)
		for v != nil && v.Op.Name == "reshape" {
			v = v.Args[0]
		}
		if v == nil {
			return name
		}
		return v.Name
	}
	read := func(i int, o Operand) {
		if o.Space != Arena {
			return
		}
		end := o.Offset + o.Bytes()
		if o.Offset < 0 || end > p.ArenaSize {
			t.Fatalf("step %d %s: operand %s [%d,%d) outside the arena of %d bytes", i, p.Steps[i].Name, o.Value, o.Offset, end, p.ArenaSize)
		}
		want, ok := producer[root(o.Value)]
		if !ok {
			t.Fatalf("step %d: operand %s has no producer", i, o.Value)
		}
		for b := o.Offset; b < end; b++ {
			if writer[b] != want {
				t.Fatalf("step %d %s: operand %s byte %d was written by step %d, want step %d", i, p.Steps[i].Name, o.Value, b, writer[b], want)
			}
		}
	}
	write := func(i int, o Operand) {
		if o.Space != Arena {
			return
		}
		end := o.Offset + o.Bytes()
		if end > p.ArenaSize {
			t.Fatalf("step %d: output [%d,%d) outside the arena", i, o.Offset, end)
		}
		for b := o.Offset; b < end; b++ {
			writer[b] = i
		}
	}
	for i, s := range p.Steps {
		for _, in := range s.In {
			read(i, in)
		}
		for _, e := range s.Epilogue {
			if e.Arg != nil {
				read(i, *e.Arg)
			}
		}
		if s.Scratch != nil {
			write(i, *s.Scratch)
		}
		write(i, s.Out)
		producer[s.Out.Value] = i
	}
}

// randomGraph builds a graph of f32 ops over [1,4,6,6] tensors with random
// wiring: convs, elementwise ops, reshapes, concats and pools.
func randomGraph(r *rand.Rand, n int) (*ir.Graph, error) {
	g := ir.NewGraph("random")
	shape := []int{1, 4, 6, 6}
	pool := []*ir.Value{g.AddParam("x", ir.TensorType(ir.F32, shape...))}
	pick := func() *ir.Value { return pool[r.Intn(len(pool))] }
	w := ir.NewTensor(ir.F32, []int{4, 4, 3, 3})
	for i := range w.F32 {
		w.F32[i] = r.Float32() - 0.5
	}
	wc := g.AddConst("w", w, nil)
	for i := 0; i < n; i++ {
		var v *ir.Value
		var err error
		name := fmt.Sprintf("v%d", i)
		switch r.Intn(7) {
		case 0:
			v, err = g.Add("conv", []*ir.Value{pick(), wc}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, name, name)
		case 1:
			v, err = g.Add("relu", []*ir.Value{pick()}, nil, ir.Type{}, name, name)
		case 2:
			v, err = g.Add("add", []*ir.Value{pick(), pick()}, nil, ir.Type{}, name, name)
		case 3:
			v, err = g.Add("mul", []*ir.Value{pick(), pick()}, nil, ir.Type{}, name, name)
		case 4:
			var t *ir.Value
			t, err = g.Add("reshape", []*ir.Value{pick()}, nil, ir.TensorType(ir.F32, 1, 144), name+"r", name)
			if err == nil {
				v, err = g.Add("reshape", []*ir.Value{t}, nil, ir.TensorType(ir.F32, shape...), name, name)
			}
		case 5:
			var t *ir.Value
			t, err = g.Add("concat", []*ir.Value{pick(), pick()}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, name+"c", name)
			if err == nil {
				v, err = g.Add("slice", []*ir.Value{t}, ir.Attrs{"starts": ir.Ints(0, 2, 0, 0), "ends": ir.Ints(1, 6, 6, 6),
					"steps": ir.Ints(1, 1, 1, 1)}, ir.Type{}, name, name)
			}
		case 6:
			v, err = g.Add("maxpool", []*ir.Value{pick()}, ir.Attrs{"kernel": ir.Ints(3, 3), "pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, name, name)
		}
		if err != nil {
			return nil, err
		}
		pool = append(pool, v)
	}
	g.Results = []*ir.Value{pool[len(pool)-1]}
	if r.Intn(2) == 0 {
		g.Results = append(g.Results, pick())
	}
	g.RemoveDead()
	return g, nil
}

func TestPlanNeverOverlapsLiveBuffers(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for iter := 0; iter < 300; iter++ {
		g, err := randomGraph(r, 2+r.Intn(25))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Lower(g)
		if err != nil {
			t.Fatalf("graph %d: %v\n%s", iter, err, printGraph(g))
		}
		checkPlan(t, g, p)
		if t.Failed() {
			t.Log(printGraph(g))
			return
		}
	}
}

func TestCName(t *testing.T) {
	for in, want := range map[string]string{"mnist-7": "mnist_7", "7up": "m_7up", "": "m_", "a\";system(x);//": "a__system_x____", "ok_1": "ok_1"} {
		if got := CName(in); got != want {
			t.Errorf("CName(%q) = %q, want %q", in, got, want)
		}
	}
}

func printGraph(g *ir.Graph) string {
	var b strings.Builder
	ir.Print(&b, g)
	return b.String()
}
