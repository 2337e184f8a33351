package tests

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// sharedDir is ../shared from the repository root.
const sharedDir = "../../shared"

// sharedPath returns a path under shared/, skipping the test when it is absent.
func sharedPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found (shared/ is expected beside the repository): %v", p, err)
	}
	return p
}

func importONNX(t testing.TB, path string, opts onnx.Options) *ir.Graph {
	t.Helper()
	g, err := onnx.Import(path, opts)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	return g
}

func runGraph(t testing.TB, g *ir.Graph, in ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	out, err := rt.Run(g, in)
	if err != nil {
		t.Fatalf("run %s: %v", g.Name, err)
	}
	return out
}

func readPB(t testing.TB, path string) *ir.Tensor {
	t.Helper()
	_, x, err := onnx.ReadTensorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// allClose reports the worst element outside atol + rtol*|want|.
func allClose(t testing.TB, what string, got, want *ir.Tensor, rtol, atol float64) {
	t.Helper()
	if got.DType != want.DType || !ir.EqualShape(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v%v, want %v%v", what, got.DType, got.Shape, want.DType, want.Shape)
	}
	bad, worst, at := 0, 0.0, 0
	for i := 0; i < got.Len(); i++ {
		g, w := got.At(i), want.At(i)
		d := math.Abs(g - w)
		if d > atol+rtol*math.Abs(w) || math.IsNaN(d) {
			bad++
			if d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ; worst |Δ| %.3g at %d (got %.6g, want %.6g)", what, bad, got.Len(), worst, at, got.At(at), want.At(at))
	}
}

// rampInput is the ONNX test runner's deterministic input: element i is i/n.
func rampInput(tp ir.Type) *ir.Tensor {
	x := ir.NewTensor(ir.F32, tp.Shape)
	n := float32(len(x.F32))
	for i := range x.F32 {
		x.F32[i] = float32(i) / n
	}
	return x
}

// parallelEach calls f(worker, i) for i in [0, n) on one goroutine per core.
func parallelEach(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
