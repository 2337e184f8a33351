package llvm

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// checkProgramRT compiles p (lowered from g) for tgt, runs it on every
// input set and compares with rt: integers exactly, floats within 1e-4.
// It returns the number of sparse steps p has.
func checkProgramRT(t *testing.T, g *pir.Graph, p *codegen.Program, tgt Target, runner []string, inputs ...[]*pir.Tensor) int {
	t.Helper()
	x, err := BuildProgram(p, tgt)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.Runner = runner
	codegentest.CompareRuns(t, g, x, func(what string, got, want *pir.Tensor) {
		codegentest.CloseEnough(t, what, got, want, 1e-4)
	}, inputs...)
	sparse := 0
	for _, s := range p.Steps {
		if s.Sparse != nil {
			sparse++
		}
	}
	return sparse
}

// sparseEncodings are the weight encodings the sparse cases are compiled
// from: plain zeros, the IR's sparse encoding, and codebooks of it.
var sparseEncodings = []string{"", "sparse{min=0.5}", "share{bits=4},sparse{min=0.5}"}

// testSparseCases compiles the shared sparse cases (every conv and gemm
// geometry, f32 and integer) for tgt with compressed and default weights
// and compares them with rt.
func testSparseCases(t *testing.T, tgt Target, runner []string, encodings []string) {
	modes := []string{codegen.WeightsCompressed, codegen.WeightsAuto}
	if testing.Short() {
		modes = modes[:1]
	}
	for _, enc := range encodings {
		for _, mode := range modes {
			t.Run(fmt.Sprintf("%q/%s", enc, mode), func(t *testing.T) {
				g, vals, err := codegentest.SparseGraph(enc)
				if err != nil {
					t.Fatal(err)
				}
				p, err := codegen.LowerWith(g, codegen.Options{Weights: mode})
				if err != nil {
					t.Fatal(err)
				}
				n := checkProgramRT(t, g, p, tgt, runner, vals)
				if n < 10 {
					t.Errorf("only %d sparse steps", n)
				}
			})
		}
	}
}

// TestSparseCases: every sparse geometry on the host. -short compiles the
// plain-zeros graph with compressed weights only.
func TestSparseCases(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	encs := sparseEncodings
	if testing.Short() {
		encs = encs[:1]
	}
	testSparseCases(t, host, nil, encs)
}

func TestSparseCasesAArch64(t *testing.T) {
	if testing.Short() {
		t.Skip("qemu: not in -short")
	}
	needQemu(t)
	testSparseCases(t, aarch64, []string{"qemu-aarch64"}, sparseEncodings)
}

// TestSparseMnist: mnist-7 pruned 90% and shared on 4 bits, compiled with
// compressed weights (every conv and the dense layer sparse), equals rt.
func TestSparseMnist(t *testing.T) {
	if testing.Short() {
		t.Skip("not in -short")
	}
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	testSparseMnist(t, host, nil)
}

func TestSparseMnistAArch64(t *testing.T) {
	if testing.Short() {
		t.Skip("qemu: not in -short")
	}
	needQemu(t)
	testSparseMnist(t, aarch64, []string{"qemu-aarch64"})
}

func testSparseMnist(t *testing.T, tgt Target, runner []string) {
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	if _, err := passes.RunSpec(g, "canonicalize,prune{ratio=0.9},share{bits=4}", nil); err != nil {
		t.Fatal(err)
	}
	p, err := codegen.LowerWith(g, codegen.Options{Weights: codegen.WeightsCompressed})
	if err != nil {
		t.Fatal(err)
	}
	if n := checkProgramRT(t, g, p, tgt, runner, sharedmodels.MnistInputs(t)...); n < 3 {
		t.Errorf("mnist: %d sparse steps, want 3 (two convs, the dense layer)", n)
	}
}

// TestSparseResidual: a sparse conv whose epilogue adds a residual operand
// and applies relu (a ResNet block's tail), fused into its stores.
func TestSparseResidual(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	r := rand.New(rand.NewSource(2))
	g := pir.NewGraph("residual")
	x := g.AddParam("x", pir.TensorType(pir.F32, 2, 16, 9, 13))
	y := g.AddParam("y", pir.TensorType(pir.F32, 2, 16, 9, 13))
	w := codegentest.RandTensor(r, 16, 16, 3, 3)
	for i := range w.F32 {
		if r.Float64() > 0.2 {
			w.F32[i] = 0
		}
	}
	args := []*pir.Value{x, g.AddConst("w", w, nil), g.AddConst("b", codegentest.RandTensor(r, 16), nil)}
	c, err := g.Add("conv", args, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}, pir.Type{}, "conv", "conv")
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.Add("add", []*pir.Value{c, y}, nil, pir.Type{}, "add", "add")
	if err != nil {
		t.Fatal(err)
	}
	v, err := g.Add("relu", []*pir.Value{a}, nil, pir.Type{}, "relu", "relu")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*pir.Value{v}
	p, err := codegen.LowerWith(g, codegen.Options{Weights: codegen.WeightsAuto})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Steps[0]; s.Kernel != codegen.KSparseConv || len(s.Epilogue) != 2 || !fusedEpi(s) {
		t.Fatalf("step 0: %s with %d epilogue entries, fused %v", s.Kernel, len(s.Epilogue), fusedEpi(s))
	}
	in := []*pir.Tensor{codegentest.RandTensor(r, 2, 16, 9, 13), codegentest.RandTensor(r, 2, 16, 9, 13)}
	checkProgramRT(t, g, p, host, nil, in)
}

// TestSparseGemmRows: sparse gemms with chunks of 8 rows of A (vectors over
// the rows of a transposed chunk) and a rest: batched matmul, trans_a, and
// integer.
func TestSparseGemmRows(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	testSparseGemmRows(t, host, nil)
}

func TestSparseGemmRowsAArch64(t *testing.T) {
	if testing.Short() {
		t.Skip("qemu: not in -short")
	}
	needQemu(t)
	testSparseGemmRows(t, aarch64, []string{"qemu-aarch64"})
}

func testSparseGemmRows(t *testing.T, tgt Target, runner []string) {
	r := rand.New(rand.NewSource(4))
	g := pir.NewGraph("rows")
	sparse := func(w *pir.Tensor, d float64) *pir.Tensor {
		for i := 0; i < w.Len(); i++ {
			if r.Float64() > d {
				w.SetInt(i, 0)
				if w.DType == pir.F32 {
					w.F32[i] = 0
				}
			}
		}
		return w
	}
	var ins []*pir.Tensor
	add := func(op string, a pir.Type, b *pir.Tensor, q *pir.Quant, extra []*pir.Value, attrs pir.Attrs, ty pir.Type) {
		name := fmt.Sprintf("%s%d", op, len(ins))
		x := g.AddParam(name, a)
		if a.DType == pir.F32 {
			ins = append(ins, codegentest.RandTensor(r, a.Shape...))
		} else {
			ins = append(ins, codegentest.RandInt(r, a))
		}
		v, err := g.Add(op, append([]*pir.Value{x, g.AddConst(name+"_b", b, q)}, extra...), attrs, ty, name, name)
		if err != nil {
			t.Fatal(err)
		}
		g.Results = append(g.Results, v)
	}
	add("matmul", pir.TensorType(pir.F32, 2, 12, 40), sparse(codegentest.RandTensor(r, 40, 30), 0.2), nil, nil, nil, pir.Type{})
	add("gemm", pir.TensorType(pir.F32, 40, 17), sparse(codegentest.RandTensor(r, 40, 30), 0.2), nil,
		[]*pir.Value{g.AddConst("c", codegentest.RandTensor(r, 30), nil)}, pir.Attrs{"trans_a": pir.Int(1), "alpha": pir.Float(0.5)}, pir.Type{})
	bt := codegentest.QT(pir.I8, 0.01, 0, 64, 30)
	add("gemm", codegentest.QT(pir.U8, 0.05, 100, 9, 64), sparse(codegentest.RandInt(r, bt), 0.15), bt.Quant,
		[]*pir.Value{codegentest.I32Const(g, r, 30)}, nil, codegentest.QT(pir.U8, 0.2, 90))
	if _, err := passes.RunSpec(g, "sparse{min=0.5}", nil); err != nil {
		t.Fatal(err)
	}
	p, err := codegen.LowerWith(g, codegen.Options{Weights: codegen.WeightsCompressed})
	if err != nil {
		t.Fatal(err)
	}
	if n := checkProgramRT(t, g, p, tgt, runner, ins); n != 3 {
		t.Errorf("%d sparse steps, want 3", n)
	}
}
