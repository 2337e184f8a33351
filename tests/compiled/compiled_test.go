// Package compiled checks and measures compressed models end to end: a
// LeNet pruned, (quantized,) and shared by pare's passes, compiled by both
// backends with sparse kernels (codegen.WeightsCompressed) against the same
// model compiled with dense weights (codegen.WeightsDense).
package compiled

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pare-ml/pare/backend/gosrc"
	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

// The per-layer prune ratios of the README's compression table
// (tests/compress), where their accuracy is measured.
var pruneSpec = map[string]string{
	"lenet300": "layers=ip1:0.8,ip2:0.7,logits:0.3",
	"lenet5":   "layers=conv1:0.3,conv2:0.7,ip1:0.9,logits:0.5",
}

// digits returns the first n MNIST images of split as model inputs
// (pixel/255, [1,1,28,28]), with their labels.
func digits(t testing.TB, split string, n int) ([][]*ir.Tensor, []int) {
	s, err := dataset.MNIST(split)
	if err != nil {
		t.Skip("MNIST not available: ", err)
	}
	s = s.Limit(n)
	var in [][]*ir.Tensor
	var labels []int
	for i := 0; i < s.N; i++ {
		x := ir.NewTensor(ir.F32, []int{1, 1, 28, 28})
		for j, p := range s.Image(i) {
			x.F32[j] = float32(p) / 255
		}
		in = append(in, []*ir.Tensor{x})
		labels = append(labels, int(s.Labels[i]))
	}
	return in, labels
}

// compressed loads a zoo LeNet and runs prune → (quantize →) share 4 bits.
func compressed(t testing.TB, model string, int8 bool) *ir.Graph {
	t.Helper()
	g, err := onnx.Import("../zoo/"+model+".onnx", onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := "canonicalize,prune{" + pruneSpec[model] + "},"
	ctx := &passes.Context{}
	if int8 {
		in, labels := digits(t, "train", 200)
		ctx.Data = &passes.Dataset{Name: "mnist:train", Inputs: in, Labels: labels}
		spec += "quantize,"
	}
	spec += "share{bits=4}"
	if _, err := passes.RunSpec(g, spec, ctx); err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return g
}

func needLLVM(t testing.TB) llvm.Target {
	tg, err := llvm.HostTarget()
	if err == nil {
		err = llvm.CheckTarget(tg)
	}
	if err != nil {
		t.Skip("LLVM toolchain: ", err, " (make toolchain)")
	}
	return tg
}

// TestCompressedLeNets: the compressed LeNets compiled with sparse kernels
// by both backends give rt's outputs (integers identical, floats within
// 1e-4), with their sparse layers' weights several times smaller than the
// dense build's.
func TestCompressedLeNets(t *testing.T) {
	tg := needLLVM(t)
	in, _ := digits(t, "test", 2)
	for _, c := range []struct {
		model string
		int8  bool
	}{{"lenet300", false}, {"lenet5", true}} {
		g := compressed(t, c.model, c.int8)
		dense, err := codegen.LowerWith(g, codegen.Options{Weights: codegen.WeightsDense})
		if err != nil {
			t.Fatal(err)
		}
		p, err := codegen.LowerWith(g, codegen.Options{Weights: codegen.WeightsCompressed})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Weights)*3 > len(dense.Weights) {
			t.Errorf("%s: compressed weights %d bytes, dense %d: want at least 3× smaller", c.model, len(p.Weights), len(dense.Weights))
		}
		r, err := rt.New(g)
		if err != nil {
			t.Fatal(err)
		}
		xl, err := llvm.BuildProgram(p, tg)
		if err != nil {
			t.Fatal(err)
		}
		defer xl.Close()
		var runners = map[string]func([]*ir.Tensor) ([]*ir.Tensor, error){"llvm": xl.Run}
		if _, err := exec.LookPath("go"); err == nil {
			xg, err := gosrc.BuildProgram(p)
			if err != nil {
				t.Fatal(err)
			}
			defer xg.Close()
			runners["go"] = xg.Run
		}
		for _, x := range in {
			want, err := r.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			for name, run := range runners {
				got, err := run(x)
				if err != nil {
					t.Fatalf("%s %s: %v", c.model, name, err)
				}
				same(t, c.model+" "+name, got[0], want[0])
			}
		}
	}
}

func same(t *testing.T, what string, got, want *ir.Tensor) {
	t.Helper()
	if got.DType != ir.F32 {
		if string(got.Bytes()) != string(want.Bytes()) {
			t.Errorf("%s: %v, rt %v", what, got, want)
		}
		return
	}
	for i := range want.F32 {
		d := float64(got.F32[i] - want.F32[i])
		if d < 0 {
			d = -d
		}
		if w := float64(want.F32[i]); d > 1e-4*max(1, w, -w) {
			t.Errorf("%s: output %d is %v, rt %v", what, i, got.F32[i], want.F32[i])
			return
		}
	}
}

// BenchmarkCompressed compiles each compressed LeNet by each backend with
// dense weights, with sparse kernels where codegen expects them to be
// faster (auto), and with sparse kernels for every compressed weight
// (compressed), and times the three executables alternately on one test
// digit (best median of 3 rounds each): µs per inference, the speed-up
// over dense, and the executable and weight sizes. Run it with
//
//	go test -run '^$' -bench Compressed -benchtime 1x ./tests/compiled
func BenchmarkCompressed(b *testing.B) {
	tg := needLLVM(b)
	in, _ := digits(b, "test", 1)
	for _, c := range []struct {
		model string
		int8  bool
		iters int
	}{{"lenet300", false, 3000}, {"lenet300", true, 3000}, {"lenet5", false, 500}, {"lenet5", true, 500}} {
		g := compressed(b, c.model, c.int8)
		name := c.model
		if c.int8 {
			name += "_int8"
		}
		for _, backend := range []string{"llvm", "go"} {
			b.Run(name+"/"+backend, func(b *testing.B) {
				dir := b.TempDir()
				modes := []string{codegen.WeightsDense, codegen.WeightsAuto, codegen.WeightsCompressed}
				exes := make([]string, len(modes))
				sizes := make([]int64, len(modes))
				wsizes := make([]int64, len(modes))
				for i, mode := range modes {
					p, err := codegen.LowerWith(g, codegen.Options{Weights: mode, Backend: backend})
					if err != nil {
						b.Fatal(err)
					}
					exe := filepath.Join(dir, mode)
					if backend == "llvm" {
						work := filepath.Join(dir, mode+"-work")
						if err := os.MkdirAll(work, 0o755); err != nil {
							b.Fatal(err)
						}
						err = llvm.BuildExe(p, tg, exe, work)
					} else {
						err = gosrc.BuildExe(p, filepath.Join(dir, mode+"-src"), exe)
					}
					if err != nil {
						b.Fatal(err)
					}
					st, err := os.Stat(exe)
					if err != nil {
						b.Fatal(err)
					}
					exes[i], sizes[i], wsizes[i] = exe, st.Size(), int64(len(p.Weights))
				}
				f := filepath.Join(dir, "in.bin")
				if err := os.WriteFile(f, in[0][0].Bytes(), 0o644); err != nil {
					b.Fatal(err)
				}
				best := []float64{1e9, 1e9, 1e9}
				for round := 0; round < 3; round++ {
					for i, exe := range exes {
						out, err := exec.Command(exe, "--bench", strconv.Itoa(c.iters), f).Output()
						if err != nil {
							b.Fatalf("%s: %v", exe, err)
						}
						var res struct {
							Median float64 `json:"median_ms"`
						}
						if err := json.Unmarshal(out, &res); err != nil {
							b.Fatalf("%v: %s", err, out)
						}
						best[i] = min(best[i], res.Median)
					}
				}
				for i, mode := range modes {
					b.ReportMetric(best[i]*1e3, mode+"-µs")
					b.ReportMetric(float64(sizes[i])/1024, mode+"-exe-KiB")
					b.ReportMetric(float64(wsizes[i])/1024, mode+"-weights-KiB")
					if i > 0 {
						b.ReportMetric(best[0]/best[i], mode+"-speedup")
					}
				}
			})
		}
	}
}
