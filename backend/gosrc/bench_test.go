package gosrc

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// BenchmarkMnistRT is the reference interpreter on mnist-7 (ns/op).
func BenchmarkMnistRT(b *testing.B) {
	g := loadModel(b, "onnx/mnist-7/mnist-7.onnx")
	in := mnistInputs(b)[0]
	p, err := rt.New(g)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMnistGo builds the generated mnist-7 command (reporting the
// build time and binary size) and reports the median latency its --bench
// measures in-process, so no process start-up is counted.
func BenchmarkMnistGo(b *testing.B) {
	benchGenerated(b, loadModel(b, "onnx/mnist-7/mnist-7.onnx"), mnistInputs(b)[0])
}

func benchGenerated(b *testing.B, g *pir.Graph, in []*pir.Tensor) {
	needGo(b)
	p, err := codegen.Lower(g)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	exe := filepath.Join(dir, "model")
	start := time.Now()
	// A fresh package path each time, but the Go build cache still holds
	// the standard library: this is the cost a user sees on a rebuild.
	if err := BuildExe(p, filepath.Join(dir, "src"), exe); err != nil {
		b.Fatal(err)
	}
	build := time.Since(start)
	st, err := os.Stat(exe)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"--bench", "0"}
	for i, t := range in {
		f := filepath.Join(dir, "in"+string(rune('0'+i))+".bin")
		if err := os.WriteFile(f, t.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		args = append(args, f)
	}
	b.ResetTimer()
	args[1] = itoa(max(b.N, 10))
	out, err := exec.Command(exe, args...).Output()
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	var r struct {
		Median float64 `json:"median_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	b.ReportMetric(r.Median*1e6, "median-ns/op")
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(float64(st.Size())/1024, "binary-KiB")
	b.ReportMetric(float64(len(p.Weights))/1024, "weights-KiB")
}

func itoa(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
