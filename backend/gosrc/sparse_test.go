package gosrc

import (
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// sparseSteps counts the program's sparse conv and gemm steps.
func sparseSteps(p *codegen.Program) int {
	n := 0
	for _, s := range p.Steps {
		if s.Kernel == codegen.KSparseConv || s.Kernel == codegen.KSparseGemm {
			n++
		}
	}
	return n
}

// lowerSparse lowers g with the weight mode and checks that it has at
// least want sparse steps.
func lowerSparse(t testing.TB, g *pir.Graph, weights string, want int) *codegen.Program {
	t.Helper()
	p, err := codegen.LowerWith(g, codegen.Options{Weights: weights})
	if err != nil {
		t.Fatal(err)
	}
	if n := sparseSteps(p); n < want {
		t.Fatalf("%s with weights %q: %d sparse steps, want at least %d", g.Name, weights, n, want)
	}
	return p
}

// TestSparseGraph: the shared sparse cases (f32 and integer convs and
// gemms of every geometry), with their weights dense, sparse-encoded and
// shared then sparse-encoded, compiled with sparse kernels for every
// encoded weight (and with codegen's automatic choice), equal rt's
// results (integers exactly). Short mode checks the plain weights only.
func TestSparseGraph(t *testing.T) {
	needGo(t)
	encodes := []string{"", "sparse{min=0.5}", "share{bits=4},sparse{min=0.5}"}
	modes := []string{codegen.WeightsCompressed, codegen.WeightsAuto}
	if testing.Short() {
		encodes, modes = encodes[:1], modes[:1]
	}
	for _, enc := range encodes {
		for _, mode := range modes {
			t.Run(enc+"/"+mode, func(t *testing.T) {
				g, vals, err := codegentest.SparseGraph(enc)
				if err != nil {
					t.Fatal(err)
				}
				want := 13
				if mode == codegen.WeightsAuto && enc != "" {
					want = 1
				}
				checkProgram(t, g, lowerSparse(t, g, mode, want), nil, nil, vals)
			})
		}
	}
}

// prunedMnist is mnist-7 pruned to 10% of its weights and shared to 16
// values per layer.
func prunedMnist(t testing.TB) *pir.Graph {
	g := loadModel(t, "onnx/mnist-7/mnist-7.onnx")
	if _, err := passes.RunSpec(g, "canonicalize,prune{ratio=0.9},share{bits=4}", nil); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMnistPrunedShared: mnist-7 pruned and shared runs sparse kernels
// that decode the codebook indices and equals rt.
func TestMnistPrunedShared(t *testing.T) {
	needGo(t)
	if testing.Short() {
		t.Skip("builds a model")
	}
	g := prunedMnist(t)
	checkProgram(t, g, lowerSparse(t, g, codegen.WeightsCompressed, 2), nil, nil, mnistInputs(t)...)
}
