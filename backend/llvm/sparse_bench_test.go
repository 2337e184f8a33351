package llvm

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// BenchmarkSparseConv compares the dense and the sparse kernel of one conv
// (32→32 channels, 3×3, pads 1, 28×28, fused relu; f32 and int8; and a
// depthwise 3×3 over 64 channels at 56×56, _dw) at
// weight densities 0.1 to 0.8: where the sparse kernel stops winning is
// the density threshold worth choosing (codegen.SparseMaxDensityF32,
// SparseMaxDensityInt). Both executables run side by side, alternating,
// the best of 3 medians of 2000 runs each. Run with
//
//	go test -run '^$' -bench SparseConv -benchtime 1x ./backend/llvm
func BenchmarkSparseConv(b *testing.B) {
	needTools(b)
	host, err := HostTarget()
	if err != nil {
		b.Skip(err)
	}
	for _, kind := range []string{"f32", "int8", "f32_dw", "int8_dw"} {
		for _, d := range []float64{0.1, 0.2, 0.35, 0.5, 0.65, 0.8} {
			b.Run(fmt.Sprintf("%s/density=%.2f", kind, d), func(b *testing.B) {
				benchDenseSparse(b, host, benchConv(b, kind[:3] == "int", strings.HasSuffix(kind, "_dw"), d))
			})
		}
	}
}

// BenchmarkSparseGemm is BenchmarkSparseConv for a dense layer (1×784 by
// 784×300, LeNet-300-100's first, with bias; f32 and int8), and for 64
// rows of A (_m64).
func BenchmarkSparseGemm(b *testing.B) {
	needTools(b)
	host, err := HostTarget()
	if err != nil {
		b.Skip(err)
	}
	for _, kind := range []string{"f32", "int8", "f32_m64", "int8_m64"} {
		for _, d := range []float64{0.05, 0.1, 0.2, 0.35, 0.5} {
			m := 1
			if strings.HasSuffix(kind, "_m64") {
				m = 64
			}
			b.Run(fmt.Sprintf("%s/density=%.2f", kind, d), func(b *testing.B) {
				benchDenseSparse(b, host, benchGemm(b, kind[:3] == "int", m, d))
			})
		}
	}
}

// benchDenseSparse builds g's one conv or gemm with dense and with sparse
// weights and reports both latencies: the best of 3 medians of 2000 runs,
// the two executables alternating.
func benchDenseSparse(b *testing.B, host Target, g *pir.Graph) {
	var exes []*Executable
	for _, mode := range []string{codegen.WeightsDense, codegen.WeightsCompressed} {
		p, err := codegen.LowerWith(g, codegen.Options{Weights: mode})
		if err != nil {
			b.Fatal(err)
		}
		if sparse := p.Steps[0].Sparse != nil; sparse != (mode == codegen.WeightsCompressed) {
			b.Fatalf("%s: step 0 is %s", mode, p.Steps[0].Kernel)
		}
		x, err := BuildProgram(p, host)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		exes = append(exes, x)
	}
	in := filepath.Join(b.TempDir(), "in")
	if err := os.WriteFile(in, make([]byte, exes[0].P.Inputs[0].Bytes()), 0o644); err != nil {
		b.Fatal(err)
	}
	best := []float64{0, 0}
	for i := 0; i < b.N; i++ {
		for round := 0; round < 3; round++ {
			for j, x := range exes {
				ms := benchMedian(b, x.Path, in, 2000)
				if best[j] == 0 || ms < best[j] {
					best[j] = ms
				}
			}
		}
	}
	b.ReportMetric(best[0]*1000, "dense_us")
	b.ReportMetric(best[1]*1000, "sparse_us")
	b.ReportMetric(best[0]/best[1], "speedup")
}

// sparsifier zeroes each weight with probability 1-density.
func sparsifier(r *rand.Rand, density float64) func(t *pir.Tensor) *pir.Tensor {
	return func(t *pir.Tensor) *pir.Tensor { return codegentest.Sparsify(r, t, density) }
}

// benchGemm is one dense layer of the benchmark with weights of the given
// density, encoded by the sparse pass.
func benchGemm(b *testing.B, integer bool, m int, density float64) *pir.Graph {
	r := rand.New(rand.NewSource(1))
	zero := sparsifier(r, density)
	g := pir.NewGraph("bgemm")
	var v *pir.Value
	var err error
	if integer {
		a := g.AddParam("a", codegentest.QT(pir.U8, 0.05, 100, m, 784))
		bt := codegentest.QT(pir.I8, 0.01, 0, 784, 300)
		w := g.AddConst("w", zero(codegentest.RandInt(r, bt)), bt.Quant)
		v, err = g.Add("gemm", []*pir.Value{a, w, codegentest.I32Const(g, r, 300)}, nil, codegentest.QT(pir.U8, 0.2, 90), "fc", "fc")
	} else {
		a := g.AddParam("a", pir.TensorType(pir.F32, m, 784))
		w := g.AddConst("w", zero(codegentest.RandTensor(r, 784, 300)), nil)
		v, err = g.Add("gemm", []*pir.Value{a, w, g.AddConst("c", codegentest.RandTensor(r, 300), nil)}, nil, pir.Type{}, "fc", "fc")
	}
	if err != nil {
		b.Fatal(err)
	}
	g.Results = []*pir.Value{v}
	if _, err := passes.RunSpec(g, "sparse{min=0.1}", nil); err != nil {
		b.Fatal(err)
	}
	return g
}

// benchConv is one conv of the benchmark with weights of the given
// density, encoded by the sparse pass: 32→32 3×3 at 28×28, or depthwise
// (dw) 3×3 over 64 channels at 56×56.
func benchConv(b *testing.B, integer, dw bool, density float64) *pir.Graph {
	r := rand.New(rand.NewSource(1))
	g := pir.NewGraph("bconv")
	zero := sparsifier(r, density)
	attrs := pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}
	c, hw, cg := 32, 28, 32
	if dw {
		c, hw, cg = 64, 56, 1
		attrs["group"] = pir.Int(c)
	}
	var v *pir.Value
	var err error
	if integer {
		x := g.AddParam("x", codegentest.QT(pir.I8, 0.05, -3, 1, c, hw, hw))
		scales, zps := make([]float32, c), make([]int64, c)
		for i := range scales {
			scales[i] = 0.002 + 0.003*r.Float32()
		}
		wt := pir.Type{DType: pir.I8, Shape: []int{c, cg, 3, 3}, Quant: codegentest.QAxis(0, scales, zps)}
		w := g.AddConst("w", zero(codegentest.RandInt(r, wt)), wt.Quant)
		attrs["act"] = pir.Str("relu")
		v, err = g.Add("conv", []*pir.Value{x, w, codegentest.I32Const(g, r, c)}, attrs, codegentest.QT(pir.I8, 0.04, -1), "conv", "conv")
	} else {
		x := g.AddParam("x", pir.TensorType(pir.F32, 1, c, hw, hw))
		w := g.AddConst("w", zero(codegentest.RandTensor(r, c, cg, 3, 3)), nil)
		c, err2 := g.Add("conv", []*pir.Value{x, w, g.AddConst("b", codegentest.RandTensor(r, c), nil)}, attrs, pir.Type{}, "conv", "conv")
		if err2 != nil {
			b.Fatal(err2)
		}
		v, err = g.Add("relu", []*pir.Value{c}, nil, pir.Type{}, "relu", "conv")
	}
	if err != nil {
		b.Fatal(err)
	}
	g.Results = []*pir.Value{v}
	if _, err := passes.RunSpec(g, "sparse{min=0.1}", nil); err != nil {
		b.Fatal(err)
	}
	return g
}

var medianRE = regexp.MustCompile(`"median_ms": *([0-9.]+)`)

// benchMedian runs an executable's --bench and returns its median (ms).
func benchMedian(b *testing.B, exe, in string, iters int) float64 {
	out, err := exec.Command(exe, "--bench", strconv.Itoa(iters), in).Output()
	if err != nil {
		b.Fatalf("%s: %v", exe, err)
	}
	m := medianRE.FindSubmatch(out)
	if m == nil {
		b.Fatalf("%s: no median in %q", exe, out)
	}
	ms, _ := strconv.ParseFloat(string(m[1]), 64)
	return ms
}
