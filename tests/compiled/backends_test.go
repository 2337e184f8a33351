package compiled

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/pare-ml/pare/backend/gosrc"
	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/ortpath"
)

const shared = "../../../shared/models"

// backendModel is one model of BenchmarkBackends: its graph, an input, and
// the ONNX file ONNX Runtime runs (the model itself, or pare's QOperator
// export of a quantized one; "" when there is none).
type backendModel struct {
	name  string
	iters int
	load  func(b *testing.B) (*ir.Graph, []*ir.Tensor)
}

func mnist7(b *testing.B, int8 bool) (*ir.Graph, []*ir.Tensor) {
	path := shared + "/onnx/mnist-7/mnist-7.onnx"
	if _, err := os.Stat(path); err != nil {
		b.Skip("../shared not found: ", err)
	}
	g, err := onnx.Import(path, onnx.Options{})
	if err != nil {
		b.Fatal(err)
	}
	_, in, err := onnx.ReadTensorFile(shared + "/onnx/mnist-7/test_data_set_0/input_0.pb")
	if err != nil {
		b.Fatal(err)
	}
	if int8 {
		// mnist-7 reads raw 0..255 pixels.
		s, err := dataset.MNIST("train")
		if err != nil {
			b.Skip("MNIST not available: ", err)
		}
		s = s.Limit(200)
		d := &passes.Dataset{Name: "mnist:train"}
		for i := 0; i < s.N; i++ {
			x := ir.NewTensor(ir.F32, []int{1, 1, 28, 28})
			for j, p := range s.Image(i) {
				x.F32[j] = float32(p)
			}
			d.Inputs = append(d.Inputs, []*ir.Tensor{x})
		}
		if _, err := passes.RunSpec(g, "canonicalize,quantize,fuse", &passes.Context{Data: d}); err != nil {
			b.Fatal(err)
		}
	}
	return g, []*ir.Tensor{in}
}

func tfliteModel(rel string) func(b *testing.B) (*ir.Graph, []*ir.Tensor) {
	return func(b *testing.B) (*ir.Graph, []*ir.Tensor) {
		path := shared + "/tflite/" + rel
		if _, err := os.Stat(path); err != nil {
			b.Skip("../shared not found: ", err)
		}
		g, err := tflite.Import(path, tflite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return g, codegentest.RandInputs(g, 1)
	}
}

// BenchmarkBackends runs each model of issue 7's list in rt, as the LLVM
// backend's executable, as the Go backend's and in ONNX Runtime (1
// thread; quantized models as pare's QOperator export, ORT's u8s8
// kernels), in rounds that alternate between them (best of 3 medians
// each), on the same input: µs per inference, the ratios, build times and
// executable sizes. Run it with
//
//	go test -run '^$' -bench Backends -benchtime 1x ./tests/compiled
func BenchmarkBackends(b *testing.B) {
	tg := needLLVM(b)
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("go not on PATH")
	}
	ort := ortpath.Dir("../..")
	for _, m := range []backendModel{
		{"mnist-7", 2000, func(b *testing.B) (*ir.Graph, []*ir.Tensor) { return mnist7(b, false) }},
		{"mnist-7_int8", 2000, func(b *testing.B) (*ir.Graph, []*ir.Tensor) { return mnist7(b, true) }},
		{"person_detect", 300, tfliteModel("tflite-micro/person_detect.tflite")},
		{"mobilenet_v1_0.25_128_quant", 300, tfliteModel("coral/mobilenet_v1_0.25_128_quant.tflite")},
	} {
		b.Run(m.name, func(b *testing.B) {
			g, in := m.load(b)
			dir := b.TempDir()
			var args []string
			for i, t := range in {
				f := filepath.Join(dir, "in"+strconv.Itoa(i)+".bin")
				if err := os.WriteFile(f, t.Bytes(), 0o644); err != nil {
					b.Fatal(err)
				}
				args = append(args, f)
			}
			// The two executables, timed builds.
			pl, err := codegen.LowerWith(g, codegen.Options{Backend: "llvm"})
			if err != nil {
				b.Fatal(err)
			}
			pg, err := codegen.LowerWith(g, codegen.Options{Backend: "go"})
			if err != nil {
				b.Fatal(err)
			}
			llExe, goExe := filepath.Join(dir, "llvm"), filepath.Join(dir, "go")
			work := filepath.Join(dir, "llvm-work")
			if err := os.MkdirAll(work, 0o755); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := llvm.BuildExe(pl, tg, llExe, work); err != nil {
				b.Fatal(err)
			}
			llBuild := time.Since(start)
			start = time.Now()
			if err := gosrc.BuildExe(pg, filepath.Join(dir, "go-src"), goExe); err != nil {
				b.Fatal(err)
			}
			goBuild := time.Since(start)
			// ORT's model: the ONNX file, or the QOperator export.
			var ortModel string
			if ort != "" {
				ortModel = filepath.Join(dir, "model.onnx")
				form := "float"
				for _, v := range g.Values {
					if v.Type.Quant != nil {
						form = "qoperator"
						break
					}
				}
				if err := onnx.ExportFileWith(g, ortModel, onnx.ExportOptions{Form: form}); err != nil {
					b.Logf("no ONNX Runtime figure: export: %v", err)
					ortModel = ""
				}
			}
			r, err := rt.New(g)
			if err != nil {
				b.Fatal(err)
			}
			rtIters := max(m.iters/20, 10)
			best := map[string]float64{"rt": 1e9, "llvm": 1e9, "go": 1e9, "ort": 1e9}
			median := func(cmd []string) float64 {
				out, err := exec.Command(cmd[0], cmd[1:]...).Output()
				if err != nil {
					b.Fatalf("%v: %v", cmd, err)
				}
				var res struct {
					Median float64 `json:"median_ms"`
				}
				if err := json.Unmarshal(out, &res); err != nil {
					b.Fatalf("%v: %v: %s", cmd, err, out)
				}
				return res.Median * 1e3
			}
			for round := 0; round < 3; round++ {
				var ts []float64
				for i := 0; i < rtIters; i++ {
					s := time.Now()
					if _, err := r.Run(in); err != nil {
						b.Fatal(err)
					}
					ts = append(ts, float64(time.Since(s).Nanoseconds())/1e3)
				}
				sort.Float64s(ts)
				best["rt"] = min(best["rt"], ts[len(ts)/2])
				it := strconv.Itoa(m.iters)
				best["llvm"] = min(best["llvm"], median(append([]string{llExe, "--bench", it}, args...)))
				best["go"] = min(best["go"], median(append([]string{goExe, "--bench", it}, args...)))
				if ortModel != "" {
					cmd := []string{"node", filepath.Join(ort, "bench.mjs"), ortModel, "--threads", "1", "--iters", it}
					if len(args) == 1 {
						cmd = append(cmd, "--input", args[0])
					}
					best["ort"] = min(best["ort"], median(cmd))
				}
			}
			size := func(f string) float64 {
				st, err := os.Stat(f)
				if err != nil {
					b.Fatal(err)
				}
				return float64(st.Size()) / 1024
			}
			b.ReportMetric(best["rt"], "rt-µs")
			b.ReportMetric(best["llvm"], "llvm-µs")
			b.ReportMetric(best["go"], "go-µs")
			b.ReportMetric(best["rt"]/best["go"], "go-x-rt")
			if ortModel != "" {
				b.ReportMetric(best["ort"], "ort-µs")
				b.ReportMetric(best["llvm"]/best["ort"], "llvm/ort")
				b.ReportMetric(best["go"]/best["ort"], "go/ort")
			}
			b.ReportMetric(llBuild.Seconds(), "llvm-build-s")
			b.ReportMetric(goBuild.Seconds(), "go-build-s")
			b.ReportMetric(size(llExe), "llvm-exe-KiB")
			b.ReportMetric(size(goExe), "go-exe-KiB")
		})
	}
}
