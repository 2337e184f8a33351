package gosrc

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

const modelsDir = "../../../shared/models"

func needGo(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not found on PATH")
	}
}

func loadModel(t testing.TB, rel string) *pir.Graph {
	t.Helper()
	path := filepath.Join(modelsDir, rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("model %s not found", path)
	}
	g, err := onnx.Import(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// closeEnough compares float outputs within rtol relative to the largest
// magnitude of want (plus a small absolute floor); integers exactly.
func closeEnough(t *testing.T, what string, got, want *pir.Tensor, rtol float64) {
	t.Helper()
	if got.DType != want.DType || !pir.EqualShape(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v%v, want %v%v", what, got.DType, got.Shape, want.DType, want.Shape)
	}
	scale := 0.0
	for i := 0; i < want.Len(); i++ {
		scale = math.Max(scale, math.Abs(want.At(i)))
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.At(i), want.At(i)
		if want.DType != pir.F32 {
			if g != w {
				t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
			}
			continue
		}
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > rtol*math.Max(math.Abs(w), 1e-3*scale)+1e-6 {
			t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
		}
	}
}

// checkAgainstRT builds g's command (for env's GOARCH, run through runner)
// and compares its outputs with rt's on every input set.
func checkAgainstRT(t *testing.T, g *pir.Graph, env, runner []string, inputs ...[]*pir.Tensor) {
	t.Helper()
	x, err := Build(g, env...)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.Runner = runner
	for n, in := range inputs {
		want, err := rt.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			closeEnough(t, fmt.Sprintf("%s output %d (%s) set %d", g.Name, i, g.Results[i].Where(), n), got[i], want[i], 1e-4)
		}
	}
}

func mnistInputs(t testing.TB) [][]*pir.Tensor {
	var sets [][]*pir.Tensor
	for i := 0; i < 3; i++ {
		p := filepath.Join(modelsDir, "onnx/mnist-7", fmt.Sprintf("test_data_set_%d", i), "input_0.pb")
		_, in, err := onnx.ReadTensorFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, []*pir.Tensor{in})
	}
	return sets
}

func TestMnist(t *testing.T) {
	needGo(t)
	g := loadModel(t, "onnx/mnist-7/mnist-7.onnx")
	checkAgainstRT(t, g, nil, nil, mnistInputs(t)...)
}
