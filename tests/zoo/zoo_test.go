package main

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/ortpath"
)

// shipped lists the committed models and the top-1 each must reach.
var shipped = []struct {
	name   string
	params int
	target float64
}{
	{"lenet300", 266610, 0.982},
	{"lenet5", 431080, 0.990},
}

func TestParamCounts(t *testing.T) {
	for _, s := range shipped {
		m := newModel(s.name)
		if got := m.Params(); got != s.params {
			t.Errorf("%s has %d parameters, want %d (Deep Compression's Table 1)", s.name, got, s.params)
		}
		for _, n := range []int{1, 16} {
			if _, err := m.build(n); err != nil {
				t.Errorf("%s at batch %d: %v", s.name, n, err)
			}
		}
	}
}

func importShipped(t *testing.T, name string) *ir.Graph {
	t.Helper()
	g, err := onnx.Import(name+".onnx", onnx.Options{})
	if err != nil {
		t.Fatalf("%s.onnx: %v", name, err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("%s.onnx: %v", name, err)
	}
	if len(g.Params) != 1 || g.Params[0].Name != "input" || !ir.EqualShape(g.Params[0].Type.Shape, []int{1, 1, 28, 28}) {
		t.Fatalf("%s.onnx: inputs %v, want input f32[1,1,28,28]", name, g.Params)
	}
	if len(g.Results) != 1 || g.Results[0].Name != "logits" || !ir.EqualShape(g.Results[0].Type.Shape, []int{1, 10}) {
		t.Fatalf("%s.onnx: results %v, want logits f32[1,10]", name, g.Results)
	}
	return g
}

// TestShippedModels imports the committed models and scores them on the
// 10,000 MNIST test images through rt (the scoring is skipped with -short).
func TestShippedModels(t *testing.T) {
	for _, s := range shipped {
		t.Run(s.name, func(t *testing.T) {
			g := importShipped(t, s.name)
			n := 0
			for _, v := range g.Values {
				if v.IsConst() && v.Type.DType == ir.F32 {
					n += v.Const.Len()
				}
			}
			if n != s.params {
				t.Errorf("%d f32 weights, want %d", n, s.params)
			}
			if testing.Short() {
				t.Skip("MNIST test accuracy: skipped with -short")
			}
			test, err := dataset.MNIST("test")
			if err != nil {
				t.Fatal(err)
			}
			c, err := rt.Evaluate(g, mnist{test})
			if err != nil {
				t.Fatal(err)
			}
			acc := float64(c) / float64(test.N)
			t.Logf("%s.onnx: %d/%d = %.2f%% top-1", s.name, c, test.N, 100*acc)
			if acc < s.target {
				t.Errorf("%s.onnx scores %.2f%%, want >= %.1f%%", s.name, 100*acc, 100*s.target)
			}
		})
	}
}

// ortDir finds ONNX Runtime's harness: $PARE_ORT_DIR, .cache/ort, /tmp/ort.
func ortDir() string { return ortpath.Dir(filepath.Join("..", "..")) }

// TestONNXRuntime runs the shipped models in ONNX Runtime on MNIST test
// images and compares the logits with rt's.
func TestONNXRuntime(t *testing.T) {
	dir := ortDir()
	if dir == "" {
		t.Skip("ONNX Runtime not installed (set PARE_ORT_DIR, or make ort, or /tmp/ort)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: ONNX Runtime cannot run")
	}
	test, err := dataset.MNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, s := range shipped {
		g := importShipped(t, s.name)
		model, err := filepath.Abs(s.name + ".onnx")
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range []int{0, 1, 4321} {
			x := ir.NewTensor(ir.F32, []int{1, 1, 28, 28})
			mnist{test}.Example(img, x.F32)
			in, out := filepath.Join(tmp, "in.bin"), filepath.Join(tmp, "out.bin")
			raw := make([]byte, 4*len(x.F32))
			for i, v := range x.F32 {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
			}
			if err := os.WriteFile(in, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("node", filepath.Join(dir, "bench.mjs"), model, "--threads", "1", "--iters", "1", "--warmup", "0", "--input", in, "--out", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("onnxruntime on %s: %v\n%s", s.name, err, b)
			}
			ob, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := rt.Run(g, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if len(ob) != 4*10 {
				t.Fatalf("%s: ONNX Runtime wrote %d bytes, want 40", s.name, len(ob))
			}
			for i, w := range want[0].F32 {
				got := math.Float32frombits(binary.LittleEndian.Uint32(ob[4*i:]))
				if math.Abs(float64(got-w)) > 1e-4+1e-4*math.Abs(float64(w)) {
					t.Errorf("%s image %d logit %d: ONNX Runtime %v, rt %v", s.name, img, i, got, w)
				}
			}
		}
	}
}

// TestDeterministic trains each model briefly twice, on one core and on
// all, and wants the same weights bit for bit.
func TestDeterministic(t *testing.T) {
	train, err := dataset.MNIST("train")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shipped {
		t.Run(s.name, func(t *testing.T) {
			r := recipes[s.name]
			r.epochs = 1
			n := map[string]int{"lenet300": 1280, "lenet5": 256}[s.name]
			if testing.Short() {
				n /= 2
			}
			sub := train.Limit(n)
			var runs [2][]uint32
			var accs [2]int
			for i, procs := range []int{1, max(2, runtime.NumCPU())} {
				prev := runtime.GOMAXPROCS(procs)
				m, stats, err := trainModel(s.name, r, 7, sub, nil, nil)
				runtime.GOMAXPROCS(prev)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range m.weights {
					for _, x := range w.t.F32 {
						runs[i] = append(runs[i], math.Float32bits(x))
					}
				}
				accs[i] = int(stats[0].TrainAcc * float64(sub.N))
			}
			for j := range runs[0] {
				if runs[0][j] != runs[1][j] {
					t.Fatalf("weight %d differs between runs: %08x vs %08x", j, runs[0][j], runs[1][j])
				}
			}
			if accs[0] != accs[1] {
				t.Errorf("training accuracy differs: %d vs %d", accs[0], accs[1])
			}
		})
	}
}
