package gosrc

import (
	"fmt"
	"math/rand"
	"os/exec"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// lowerGo lowers g for the Go backend (codegen's sparse limits for Go).
func lowerGo(g *pir.Graph) (*codegen.Program, error) {
	return codegen.LowerWith(g, codegen.Options{Backend: "go"})
}

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
	p, err := codegen.LowerWith(g, codegen.Options{Weights: weights, Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	if n := sparseSteps(p); n < want {
		t.Fatalf("%s with weights %q: %d sparse steps, want at least %d", g.Name, weights, n, want)
	}
	return p
}

// TestSparseGraph: the shared sparse cases (f32 and integer convs and
// gemms of every geometry), with their weights sparse-encoded, shared then
// sparse-encoded, and plain, compiled with sparse kernels for every
// encoded weight (and with codegen's automatic choice), equal rt's
// results (integers exactly). Short mode checks the shared and encoded
// weights (gaps and codebook indices) only.
func TestSparseGraph(t *testing.T) {
	needGo(t)
	encodes := []string{"share{bits=4},sparse{min=0.5}", "sparse{min=0.5}", ""}
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
				// Every encoded weight runs a sparse kernel; plain ones
				// or auto: those codegen's limits pick.
				want := 13
				if mode == codegen.WeightsAuto || enc == "" {
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
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
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
	checkProgram(t, g, lowerSparse(t, g, codegen.WeightsCompressed, 2), nil, nil, sharedmodels.MnistInputs(t)...)
}

// sparseConvGraph is one 32→32 3×3 conv (pad 1, bias, relu) on 28×28 with
// weights of the given density (sparse-encoded): f32, or int8 (per-channel weights, int8
// activations with zero point -128, rq=float).
func sparseConvGraph(integer bool, density float64) (*pir.Graph, []*pir.Tensor, error) {
	r := rand.New(rand.NewSource(11))
	g := pir.NewGraph("spconv")
	x, w := []int{1, 32, 28, 28}, []int{32, 32, 3, 3}
	attrs := pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}
	zero := func(t *pir.Tensor) *pir.Tensor { return codegentest.Sparsify(r, t, density) }
	var v *pir.Value
	var in *pir.Tensor
	var err error
	if integer {
		scales := make([]float32, w[0])
		for i := range scales {
			scales[i] = 0.002 + 0.003*r.Float32()
		}
		wt := pir.Type{DType: pir.I8, Shape: w, Quant: codegentest.QAxis(0, scales, make([]int64, w[0]))}
		xt := codegentest.QT(pir.I8, 0.05, -128, x...)
		in = codegentest.RandInt(r, xt)
		args := []*pir.Value{g.AddParam("x", xt), g.AddConst("w", zero(codegentest.RandInt(r, wt)), wt.Quant), codegentest.I32Const(g, r, w[0])}
		attrs["act"] = pir.Str("relu")
		v, err = g.Add("conv", args, attrs, codegentest.QT(pir.I8, 0.04, -128), "conv", "conv")
	} else {
		in = codegentest.RandTensor(r, x...)
		args := []*pir.Value{g.AddParam("x", pir.TensorType(pir.F32, x...)), g.AddConst("w", zero(codegentest.RandTensor(r, w...)), nil),
			g.AddConst("b", codegentest.RandTensor(r, w[0]), nil)}
		if v, err = g.Add("conv", args, attrs, pir.Type{}, "conv", "conv"); err == nil {
			v, err = g.Add("relu", []*pir.Value{v}, nil, pir.Type{}, "relu", "relu")
		}
	}
	if err != nil {
		return nil, nil, err
	}
	g.Results = []*pir.Value{v}
	// Encoded, so that codegen.WeightsCompressed runs a sparse kernel at
	// any density.
	if _, err := passes.RunSpec(g, "sparse{min=0.3}", nil); err != nil {
		return nil, nil, err
	}
	return g, []*pir.Tensor{in}, pir.Verify(g)
}

// BenchmarkSparseConv times the dense and the sparse kernel of one conv
// (sparseConvGraph) side by side at several weight densities, reporting
// both medians (ns) and dense/sparse: where the ratio falls below 1 the
// sparse kernel stops winning (0.6 is the densest the sparse pass
// encodes with min=0.3; codegen's auto limits for this backend are its
// sparseLimitsOf["go"]).
func BenchmarkSparseConv(b *testing.B) {
	needGo(b)
	for _, integer := range []bool{false, true} {
		for _, d := range []float64{0.1, 0.2, 0.35, 0.5, 0.6} {
			name := fmt.Sprintf("f32/density=%.2f", d)
			if integer {
				name = fmt.Sprintf("int8/density=%.2f", d)
			}
			b.Run(name, func(b *testing.B) {
				g, in, err := sparseConvGraph(integer, d)
				if err != nil {
					b.Fatal(err)
				}
				dense := lowerSparse(b, g, codegen.WeightsDense, 0)
				sparse := lowerSparse(b, g, codegen.WeightsCompressed, 1)
				ns := benchInterleaved(b, []*codegen.Program{dense, sparse}, in, max(b.N, 20), 5)
				b.ReportMetric(ns[0], "dense-ns")
				b.ReportMetric(ns[1], "sparse-ns")
				b.ReportMetric(ns[0]/ns[1], "dense/sparse")
			})
		}
	}
}

// BenchmarkMnistPrunedShared compares mnist-7 pruned and shared
// (prunedMnist) compiled with sparse kernels for its encoded weights and
// with dense ones: latency side by side, binary and weights sizes.
func BenchmarkMnistPrunedShared(b *testing.B) {
	needGo(b)
	g := prunedMnist(b)
	dense := lowerSparse(b, g, codegen.WeightsDense, 0)
	sparse := lowerSparse(b, g, codegen.WeightsCompressed, 1)
	ps := []*codegen.Program{dense, sparse}
	ns := benchInterleaved(b, ps, sharedmodels.MnistInputs(b)[0], max(b.N, 20), 5)
	for i, tag := range []string{"dense", "sparse"} {
		b.ReportMetric(ns[i], tag+"-ns")
		b.ReportMetric(float64(len(ps[i].Weights))/1024, tag+"-weights-KiB")
		b.ReportMetric(float64(benchBinarySize(b, ps[i]))/1024, tag+"-binary-KiB")
	}
	b.ReportMetric(ns[0]/ns[1], "dense/sparse")
}

// TestSparseArm64: the sparse cases (codebook-encoded), the fused pools
// and the int8 mnist-7 built with GOARCH=arm64 and run under qemu-aarch64
// equal rt.
func TestSparseArm64(t *testing.T) {
	needGo(t)
	if testing.Short() {
		t.Skip("cross-builds and emulates")
	}
	if _, err := exec.LookPath("qemu-aarch64"); err != nil {
		t.Skip("qemu-aarch64 not found (make toolchain installs qemu-user)")
	}
	arm := []string{"GOARCH=arm64", "CGO_ENABLED=0"}
	g, vals, err := codegentest.SparseGraph("share{bits=4},sparse{min=0.5}")
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, g, lowerSparse(t, g, codegen.WeightsCompressed, 13), arm, []string{"qemu-aarch64"}, vals)
	gp, pvals := poolFuseGraph(t)
	checkAgainstRT(t, gp, arm, []string{"qemu-aarch64"}, pvals)
	// The int8 mnist-7: mixed lane words, the exact float64 Winograd conv.
	gq, in := quantizedMnist(t)
	checkAgainstRT(t, gq, arm, []string{"qemu-aarch64"}, in[0])
}
