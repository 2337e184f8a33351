package gosrc

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// BenchmarkMnistRT is the reference interpreter on mnist-7 (ns/op).
func BenchmarkMnistRT(b *testing.B) {
	g := sharedmodels.ONNX(b, "onnx/mnist-7/mnist-7.onnx")
	in := sharedmodels.MnistInputs(b)[0]
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
	benchGenerated(b, sharedmodels.ONNX(b, "onnx/mnist-7/mnist-7.onnx"), sharedmodels.MnistInputs(b)[0])
}

// benchGenerated builds g's command and reports, beside the median latency
// the command measures in-process (no process start-up counted), rt's
// median on the same inputs in the same run (half before, half after, so
// load on a shared machine falls on both alike) and their ratio, the build
// time, the binary size, the weights, and the binary beyond its weights
// and beyond the floor (a minimal Go program built the same way).
func benchGenerated(b *testing.B, g *pir.Graph, in []*pir.Tensor) {
	needGo(b)
	p, err := lowerGo(g)
	if err != nil {
		b.Fatal(err)
	}
	r, err := rt.New(g)
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
	n := max(b.N, 10)
	var rtTimes []float64
	rtRuns := func(k int) {
		for i := 0; i < k; i++ {
			s := time.Now()
			if _, err := r.Run(in); err != nil {
				b.Fatal(err)
			}
			rtTimes = append(rtTimes, float64(time.Since(s).Nanoseconds()))
		}
	}
	b.ResetTimer()
	rtRuns(n / 2)
	args[1] = itoa(n)
	out, err := exec.Command(exe, args...).Output()
	if err != nil {
		b.Fatal(err)
	}
	rtRuns(n - n/2)
	b.StopTimer()
	var res struct {
		Median float64 `json:"median_ms"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	sort.Float64s(rtTimes)
	goNs, rtNs := res.Median*1e6, rtTimes[len(rtTimes)/2]
	size := float64(st.Size()) / 1024
	w := float64(len(p.Weights)) / 1024
	b.ReportMetric(goNs, "go-ns/op")
	b.ReportMetric(rtNs, "rt-ns/op")
	b.ReportMetric(rtNs/goNs, "x-rt")
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(size, "binary-KiB")
	b.ReportMetric(w, "weights-KiB")
	b.ReportMetric(size-w, "beyond-weights-KiB")
	if fl := floorSize(b); fl > 0 {
		b.ReportMetric(size-w-fl, "beyond-floor-KiB")
	}
}

var floorOnce struct {
	sync.Once
	kib float64
}

// floorSize is the size in KiB of a minimal Go command (writing a line to
// stdout with os) built like the generated ones: what any Go binary costs.
func floorSize(b *testing.B) float64 {
	floorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pare-gosrc-floor-")
		if err != nil {
			return
		}
		defer os.RemoveAll(dir)
		src := "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hi\\n\") }\n"
		if os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644) != nil ||
			os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module floor\n\ngo 1.22\n"), 0o644) != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "floor", ".")
		cmd.Dir, cmd.Env = dir, GoEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Logf("floor build: %v\n%s", err, out)
			return
		}
		if st, err := os.Stat(filepath.Join(dir, "floor")); err == nil {
			floorOnce.kib = float64(st.Size()) / 1024
			b.Logf("floor: a minimal Go command built with -trimpath -ldflags=\"-s -w\" is %.0f KiB", floorOnce.kib)
		}
	})
	return floorOnce.kib
}

func itoa(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

// benchExe builds p's command into a fresh directory and writes the
// inputs beside it, returning the command line of a --bench run (its
// count at index 1).
func benchExe(b *testing.B, p *codegen.Program, in []*pir.Tensor) []string {
	dir := b.TempDir()
	exe := filepath.Join(dir, "model")
	if err := BuildExe(p, filepath.Join(dir, "src"), exe); err != nil {
		b.Fatal(err)
	}
	args := []string{exe, "--bench", "0"}
	for i, t := range in {
		f := filepath.Join(dir, "in"+itoa(i)+".bin")
		if err := os.WriteFile(f, t.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		args = append(args, f)
	}
	return args
}

// benchBinarySize is the size of p's command built as benchExe builds it.
func benchBinarySize(b *testing.B, p *codegen.Program) int64 {
	args := benchExe(b, p, nil)
	st, err := os.Stat(args[0])
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// benchInterleaved builds the commands of programs ps (taking the same
// inputs) and runs them in turn, rounds times each with n inferences a
// run, so that load on a shared machine falls on all alike; it returns
// each program's median over its runs' medians (ns).
func benchInterleaved(b *testing.B, ps []*codegen.Program, in []*pir.Tensor, n, rounds int) []float64 {
	return benchInterleavedRT(b, ps, in, n, rounds, nil)
}

// benchInterleavedRT is benchInterleaved with, when ref is not nil, n
// runs of rt's ref in-process after each round of commands, its median
// appended last.
func benchInterleavedRT(b *testing.B, ps []*codegen.Program, in []*pir.Tensor, n, rounds int, ref *rt.Interp) []float64 {
	var cmds [][]string
	for _, p := range ps {
		cmds = append(cmds, benchExe(b, p, in))
	}
	meds := make([][]float64, len(ps))
	var rtMeds []float64
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for i, c := range cmds {
			c[2] = itoa(n)
			out, err := exec.Command(c[0], c[1:]...).Output()
			if err != nil {
				b.Fatal(err)
			}
			var res struct {
				Median float64 `json:"median_ms"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			meds[i] = append(meds[i], res.Median*1e6)
		}
		if ref != nil {
			var t []float64
			for i := 0; i < n; i++ {
				s := time.Now()
				if _, err := ref.Run(in); err != nil {
					b.Fatal(err)
				}
				t = append(t, float64(time.Since(s).Nanoseconds()))
			}
			sort.Float64s(t)
			rtMeds = append(rtMeds, t[len(t)/2])
		}
	}
	b.StopTimer()
	var ns []float64
	for _, m := range append(meds, rtMeds) {
		if len(m) > 0 {
			sort.Float64s(m)
			ns = append(ns, m[len(m)/2])
		}
	}
	return ns
}

// BenchmarkMnistSideBySide times the generated f32 and int8 mnist-7 and rt
// (on the f32 graph) interleaved in one run: the medians (ns), each
// command's speed-up over rt and f32/int8 (above 1: int8 is faster).
func BenchmarkMnistSideBySide(b *testing.B) {
	needGo(b)
	gf := sharedmodels.ONNX(b, "onnx/mnist-7/mnist-7.onnx")
	gi, sets := quantizedMnist(b)
	var ps []*codegen.Program
	for _, g := range []*pir.Graph{gf, gi} {
		p, err := lowerGo(g)
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	r, err := rt.New(gf)
	if err != nil {
		b.Fatal(err)
	}
	ns := benchInterleavedRT(b, ps, sets[0], max(b.N, 20), 5, r)
	b.ReportMetric(ns[0], "f32-ns")
	b.ReportMetric(ns[1], "int8-ns")
	b.ReportMetric(ns[2], "rt-ns")
	b.ReportMetric(ns[2]/ns[0], "f32-x-rt")
	b.ReportMetric(ns[2]/ns[1], "int8-x-rt")
	b.ReportMetric(ns[0]/ns[1], "f32/int8")
}
