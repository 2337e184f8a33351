// Package litert compares pare's TFLite frontend and reference interpreter
// with LiteRT.js, Google's TFLite runtime (XNNPack in WebAssembly) run
// under Node.js by run.mjs. `make litert` installs it into .cache/litert;
// without node or the package the tests skip and say so.
//
// Models: every .tflite under ../shared/models/tflite, the MediaPipe models
// `make litert-models` fetches into .cache/litert/models, those already
// unpacked under /tmp/npmm (mediapipe-*/package/*.tflite), and the
// single-operator models `make litert-opmodels` writes into
// .cache/litert/opmodels (frontend/tflite's TestWriteLiteRTModels), when
// present.
// Models with ops pare does not import (MediaPipe's CUSTOM ops) skip.
//
// Tolerances (see the constants): whole-model float outputs within
// atol 1e-3 + rtol 1e-2·|want|, quantized outputs within 8 units; the
// counts of elements one unit and more apart are logged. rt keeps TFLite's
// reference rounding (gemmlowp's doubling high multiply, then a rounding
// shift: two roundings, ties away from zero); XNNPack, which LiteRT runs,
// rounds acc·scale once in float32, ties to even. Alone, an operator
// differs by at most one unit and rt is the higher in every such element
// (the double rounding's bias); with pare's rq=float (XNNPack's scheme),
// the conv-only models give LiteRT's outputs (logged).
package litert

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

const (
	// An operator alone (the bisection): float within atol + rtol·|want|,
	// quantized within one unit.
	rtol = 1e-3
	atol = 1e-4
	// A whole model: rounding differences compound over tens of layers.
	// Float: 10× the per-operator tolerance (the MediaPipe pose models
	// reach 3e-3 relative on 0.1 % of their elements). Quantized: rt keeps
	// TFLite's reference rounding and LiteRT uses XNNPack's; an element
	// one unit apart in one layer moves the next layer's results by up to
	// the product of its weights and scales, so whole-model outputs are
	// compared within wholeUnits units.
	wholeRtol  = 1e-2
	wholeAtol  = 1e-3
	wholeUnits = 8
	// wholeRareFloat: of a whole model's float output, one element in
	// this many may fall outside the tolerance (logged): after hundreds of
	// layers a rounding difference can flip a comparison (a ReLU, a max)
	// and move one element further. pose_landmark_full's segmentation
	// output has one such element of 65,536 (1.8 % off), while every one
	// of its operators alone agrees (TestLiteRTOps).
	wholeRareFloat = 10000
	// shortBytes: under -short, models larger than this skip, which
	// keeps the test near 20 s (each model costs a Node start, LiteRT's
	// compile and rt's run).
	shortBytes = 600 << 10
)

// repoRoot is the directory above the working directory holding go.mod.
func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// harness returns the node binary and the LiteRT folder, or skips.
func harness(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the LiteRT.js comparison needs Node.js (apt-get install nodejs) and `make litert`")
	}
	dir = os.Getenv("PARE_LITERT_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), ".cache", "litert")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@litertjs", "core", "dist", "index.js")); err != nil {
		t.Skipf("LiteRT.js not installed in %s: run `make litert` (or set PARE_LITERT_DIR)", dir)
	}
	return node, dir
}

// models lists the .tflite files to compare, by a short name.
func models(t testing.TB) map[string]string {
	found := map[string]string{}
	shared := sharedmodels.Path("tflite")
	filepath.WalkDir(shared, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".tflite") {
			rel, _ := filepath.Rel(shared, p)
			found["shared/"+rel] = p
		}
		return nil
	})
	if len(found) == 0 {
		t.Logf("no models under %s (../shared beside the checkout)", shared)
	}
	globs := []string{
		filepath.Join(repoRoot(t), ".cache", "litert", "models", "*", "*.tflite"),
		filepath.Join(repoRoot(t), ".cache", "litert", "opmodels", "*.tflite"),
		"/tmp/npmm/mediapipe-*/package/*.tflite",
	}
	for _, g := range globs {
		ms, _ := filepath.Glob(g)
		for _, p := range ms {
			name := "mediapipe/" + filepath.Base(p)
			if strings.Contains(p, "opmodels") {
				name = "ops/" + filepath.Base(p)
			}
			if _, dup := found[name]; !dup {
				found[name] = p
			}
		}
	}
	return found
}

func TestLiteRT(t *testing.T) { eachWholeModel(t, compareModel) }

// eachWholeModel runs check on every model but the single-operator ones
// (TestLiteRTOpModels), in parallel subtests named after them.
func eachWholeModel(t *testing.T, check func(t *testing.T, node, dir, path string)) {
	node, dir := harness(t)
	ms := models(t)
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, "ops/") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, node, dir, ms[name])
		})
	}
}

// seededInputs draws one input per graph parameter, seeded by the model's
// file name: floats uniform in [-1, 1), integers over their whole range
// (int32 / int64 over [0, 16), as they are often indices).
func seededInputs(g *ir.Graph, path string) []*ir.Tensor {
	h := fnv.New64a()
	h.Write([]byte(filepath.Base(path)))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	var ins []*ir.Tensor
	for _, p := range g.Params {
		x := ir.NewTensor(p.Type.DType, p.Type.Shape)
		for i := 0; i < x.Len(); i++ {
			switch p.Type.DType {
			case ir.F32:
				x.Set(i, float64(float32(2*r.Float64()-1)))
			case ir.U8:
				x.SetInt(i, int64(r.IntN(256)))
			case ir.I8:
				x.SetInt(i, int64(r.IntN(256))-128)
			case ir.Bool:
				x.SetInt(i, int64(r.IntN(2)))
			default:
				x.SetInt(i, int64(r.IntN(16)))
			}
		}
		ins = append(ins, x)
	}
	return ins
}

type ioDesc struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
}

type harnessOut struct {
	Inputs  []ioDesc `json:"inputs"`
	Outputs []ioDesc `json:"outputs"`
	Patches []string `json:"patches"`
}

// runLiteRT runs the model in LiteRT.js on ins and returns its outputs in
// the order of the subgraph's outputs.
func runLiteRT(t *testing.T, node, dir, model string, ins []*ir.Tensor) []*ir.Tensor {
	t.Helper()
	tmp := t.TempDir()
	args := []string{filepath.Join(repoRoot(t), "tests", "litert", "run.mjs"), model}
	for i, x := range ins {
		f := filepath.Join(tmp, fmt.Sprintf("input_%d.npy", i))
		writeNPY(t, f, x)
		args = append(args, f)
	}
	args = append(args, "--out", tmp, "--litert", dir)
	cmd := exec.Command(node, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("LiteRT.js: %v\n%s", err, tail(stderr.String(), 15))
	}
	var res harnessOut
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("LiteRT.js: bad report %q: %v", stdout, err)
	}
	if len(res.Patches) > 0 {
		t.Logf("LiteRT.js ran a patched copy: %d patches, first: %s", len(res.Patches), res.Patches[0])
	}
	outs := make([]*ir.Tensor, len(res.Outputs))
	for k, o := range res.Outputs {
		data, err := os.ReadFile(filepath.Join(tmp, fmt.Sprintf("output_%d.npy", o.Index)))
		if err != nil {
			t.Fatal(err)
		}
		x, err := tensorfile.ReadNPY(data)
		if err != nil {
			t.Fatalf("output %d: %v", o.Index, err)
		}
		if o.Index != k {
			t.Fatalf("LiteRT.js outputs out of order: %+v", res.Outputs)
		}
		outs[k] = x
	}
	return outs
}

func writeNPY(t *testing.T, path string, x *ir.Tensor) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tensorfile.WriteNPY(f, x); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func compareModel(t *testing.T, node, dir, path string) {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() && st.Size() > shortBytes {
		t.Skipf("%s is %.1f MB: compared without -short", path, float64(st.Size())/(1<<20))
	}
	g, err := tflite.Import(path, tflite.Options{})
	if err != nil {
		if strings.Contains(err.Error(), "unsupported op") {
			t.Skipf("pare does not import it: %v", firstLine(err.Error(), 160))
		}
		t.Fatal(err)
	}
	ins := seededInputs(g, path)
	want := runLiteRT(t, node, dir, path, ins)
	got, err := rt.Run(g, ins)
	if err != nil {
		t.Fatalf("rt: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("rt gives %d outputs, LiteRT.js %d", len(got), len(want))
	}
	for k := range got {
		compareOutput(t, fmt.Sprintf("output %d %q", k, g.Results[k].Source), g.Results[k].Type, got[k], want[k], wholeRtol, wholeAtol, wholeUnits)
	}
	// XNNPack requantizes an integer conv / matmul accumulator with a
	// float32 scale rounded half to even: pare's rq=float. Run with it, a
	// quantized model should give LiteRT's numbers exactly.
	if n := setRQ(g, "float"); n > 0 {
		xg, err := rt.Run(g, ins)
		if err != nil {
			t.Fatalf("rt with rq=float: %v", err)
		}
		for k := range xg {
			line, _ := diffLine(g.Results[k].Type, xg[k], want[k])
			t.Logf("output %d with rq=float on %d ops (XNNPack's requantization): %s", k, n, line)
		}
	}
}

// setRQ sets the requantization scheme of the ops that accumulate int32
// products and requantize them (conv, matmul, gemm: XNNPack's
// requantization differs from TFLite's reference there only) and returns
// how many it changed.
func setRQ(g *ir.Graph, rq string) int {
	n := 0
	for _, v := range g.Values {
		switch v.Op.Name {
		case "conv", "matmul", "gemm":
		default:
			continue
		}
		if v.Attrs != nil && v.Op.AttrDef("rq") != nil && v.Str("rq") != rq {
			v.Attrs["rq"] = ir.Str(rq)
			n++
		}
	}
	return n
}

func firstLine(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// compareOutput checks rt's output got against LiteRT's want.
func compareOutput(t *testing.T, what string, typ ir.Type, got, want *ir.Tensor, rtol, atol float64, units int64) {
	t.Helper()
	if got.DType != want.DType || !ir.EqualShape(got.Shape, want.Shape) {
		t.Errorf("%s: rt gives %v%v, LiteRT.js %v%v", what, got.DType, got.Shape, want.DType, want.Shape)
		return
	}
	n := got.Len()
	if got.DType == ir.F32 {
		bad, worst, at := 0, 0.0, 0
		for i := 0; i < n; i++ {
			g, w := got.At(i), want.At(i)
			d := math.Abs(g - w)
			if d > atol+rtol*math.Abs(w) || math.IsNaN(d) {
				bad++
				if d > worst || math.IsNaN(d) {
					worst, at = d, i
				}
			}
		}
		report := t.Errorf
		if bad*wholeRareFloat <= n && units > 1 { // a whole model: see wholeRareFloat
			report = t.Logf
		}
		if bad > 0 {
			report("%s: %d of %d elements outside atol %g + rtol %g; worst |Δ| %.3g at %d (rt %.6g, LiteRT %.6g)",
				what, bad, n, atol, rtol, worst, at, got.At(at), want.At(at))
		}
		return
	}
	// Integers: quantized tensors within one unit, others exact.
	slack := int64(0)
	if typ.Quant != nil {
		slack = units
	}
	off1, more, bad, at := 0, 0, 0, -1
	for i := 0; i < n; i++ {
		d := got.IntAt(i) - want.IntAt(i)
		if d < 0 {
			d = -d
		}
		switch {
		case d == 0:
		case d <= slack:
			if d == 1 {
				off1++
			} else {
				more++
			}
		default:
			bad++
			if at < 0 {
				at = i
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ by more than %d; first at %d (rt %d, LiteRT %d)",
			what, bad, n, slack, at, got.IntAt(at), want.IntAt(at))
	}
	if off1+more > 0 {
		t.Logf("%s: of %d elements, %d differ by one unit, %d by more (within %d)", what, n, off1, more, slack)
	}
}
