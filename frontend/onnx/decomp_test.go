package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/backendrun"
	"github.com/pare-ml/pare/tests/ortpath"
)

// The ops the importer decomposes (convert_act.go, convert_norm.go,
// convert_layout.go, convert_reduce.go), checked on random inputs against
// float64 references (decomp_ref_test.go), lowered by codegen, and when
// available run in ONNX Runtime and both compiled backends.

// decompCase is one node on one input x (the graph input) and constant
// inputs after it.
type decompCase struct {
	name   string
	opset  int64
	op     string
	x      []int
	attrs  []*attrProto
	params []*ir.Tensor                  // inputs 1, 2, ...: constants; nil for an absent optional input
	lo, hi float64                       // the range of x; both 0: [-3, 3]
	tol    float64                       // relative and absolute tolerance; 0: 1e-5
	ref    func(x *ir.Tensor) *ir.Tensor // nil: checked against ONNX Runtime and the backends only
	// body, when set, replaces the single node: it adds the nodes and
	// constants that compute p+"y" from p+"x" (a small network).
	body func(m *mb, p string)
	// ortBody, when set, replaces body in the model ONNX Runtime runs: an
	// equivalent form of what ONNX Runtime does not implement (a batch-major
	// recurrence as transposes around the sequence-major one).
	ortBody func(m *mb, p string)
	// fixed, when set, is the input x (instead of a random one).
	fixed *ir.Tensor
	// ortSkip says why ONNX Runtime cannot run the case ("": it can).
	ortSkip string
}

// decompCases lists every case of the decomposed ops.
func decompCases() []decompCase {
	return slices.Concat(actCases(), normCases(), layoutCases(), reduceCases(), argCases(), netCases(), logicCases(), norm2Cases(), rnnCases(), einsumCases(), misc2Cases(), misc3Cases(), attentionCases(), ropeCases(), seqCases(), stftCases(), melCases(), bitsCases(), affineGridCases(), gridSampleCases(), col2ImCases(), detCases(), maxUnpoolCases(), resizeCases())
}

// addTo adds the case to m with its names prefixed by p: input p+"x",
// constants p+"p1" ..., output p+"y".
func (tc decompCase) addTo(m *mb, p string) *mb {
	dims := make([]int64, len(tc.x))
	for i, d := range tc.x {
		dims[i] = int64(d)
	}
	m.input(p+"x", dtFloat, dims...)
	if tc.body != nil {
		tc.body(m, p)
		return m.output(p + "y")
	}
	in := []string{p + "x"}
	for i, t := range tc.params {
		if t == nil {
			in = append(in, "")
			continue
		}
		name := fmt.Sprintf("%sp%d", p, i+1)
		m.init(name, t)
		in = append(in, name)
	}
	return m.node(tc.op, in, []string{p + "y"}, tc.attrs...).output(p + "y")
}

func (tc decompCase) model() *mb { return tc.addTo(newModel(tc.opset), "") }

// input is a seeded random x in the case's range.
func (tc decompCase) input(seed int64) *ir.Tensor {
	if tc.fixed != nil {
		return tc.fixed
	}
	lo, hi := tc.lo, tc.hi
	if lo == 0 && hi == 0 {
		lo, hi = -3, 3
	}
	r := rand.New(rand.NewSource(seed))
	x := ir.NewTensor(ir.F32, tc.x)
	for i := range x.F32 {
		x.F32[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

func (tc decompCase) tolerance() float64 {
	if tc.tol == 0 {
		return 1e-5
	}
	return tc.tol
}

// randParam is a seeded random f32 constant.
func randParam(seed int64, lo, hi float64, shape ...int) *ir.Tensor {
	return decompCase{x: shape, lo: lo, hi: hi}.input(seed)
}

// TestDecompositions runs every case in rt against its reference and
// lowers the imported graph with codegen.
func TestDecompositions(t *testing.T) {
	for i, tc := range decompCases() {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.model().mustLoad(t, Options{})
			x := tc.input(int64(i))
			out, err := rt.Run(g, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ref != nil { // networks are checked against ONNX Runtime and the backends
				if err := allClose(out[0], tc.ref(x), tc.tolerance(), tc.tolerance()); err != nil {
					t.Errorf("rt against the reference: %v (ops %v)", err, ops(g))
				}
			}
			if _, err := codegen.Lower(g); err != nil {
				t.Errorf("codegen.Lower: %v", err)
			}
		})
	}
}

// caseGroup is one model holding several cases of one opset: case i reads
// input i and writes output i.
type caseGroup struct {
	opset int64
	m     *mb
	cases []decompCase
	xs    []*ir.Tensor
}

// groupByOpset builds one model per opset from the cases keep accepts.
// ort: the models are for ONNX Runtime (ortBody replaces body).
func groupByOpset(ort bool, keep func(decompCase) bool) []caseGroup {
	by := map[int64]*caseGroup{}
	for i, tc := range decompCases() {
		if !keep(tc) {
			continue
		}
		g := by[tc.opset]
		if g == nil {
			g = &caseGroup{opset: tc.opset, m: newModel(tc.opset)}
			by[tc.opset] = g
		}
		mc := tc
		if ort && tc.ortBody != nil {
			mc.body = tc.ortBody
		}
		mc.addTo(g.m, fmt.Sprintf("c%d_", len(g.cases)))
		g.cases = append(g.cases, tc)
		g.xs = append(g.xs, tc.input(int64(i)))
	}
	var out []caseGroup
	for _, k := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[k])
	}
	return out
}

// check compares the outputs of a runtime with rt's (and with the
// references when ref is set), 10× the cases' tolerances.
func (cg caseGroup) check(t *testing.T, what string, got, want []*ir.Tensor, ref bool) {
	t.Helper()
	if len(got) != len(cg.cases) {
		t.Fatalf("%s gave %d outputs, want %d", what, len(got), len(cg.cases))
	}
	for i, tc := range cg.cases {
		tol := 10 * tc.tolerance()
		if err := allClose(got[i], want[i], tol, tol); err != nil {
			t.Errorf("%s: %s against rt: %v", tc.name, what, err)
		}
		if ref && tc.ref != nil {
			if err := allClose(got[i], tc.ref(cg.xs[i]), tol, tol); err != nil {
				t.Errorf("%s: %s against the reference: %v", tc.name, what, err)
			}
		}
	}
}

// ortRunner runs a model in onnxruntime-node: it reads a JSON job
// {model, inputs: [{name, file, dims, type}], outputs: [{name, file}]}
// (type float32, the default, int32 or int64; the files little-endian) and
// writes each output's raw little-endian data.
const ortRunner = `const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const [ortDir, jobPath] = process.argv.slice(2);
const ort = createRequire(ortDir + '/package.json')('onnxruntime-node');
const job = JSON.parse(readFileSync(jobPath, 'utf8'));
(async () => {
  const s = await ort.InferenceSession.create(job.model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const feeds = {};
  const arrays = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array };
  for (const i of job.inputs) {
    const b = readFileSync(i.file);
    const type = i.type || 'float32';
    feeds[i.name] = new ort.Tensor(type, new arrays[type](b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), i.dims);
  }
  const r = await s.run(feeds);
  for (const o of job.outputs) {
    const d = r[o.name].data;
    writeFileSync(o.file, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
})().catch((e) => { console.error(e); process.exit(1); });
`

// runORT runs the group's model in ONNX Runtime; its outputs are read as
// the dtypes of like's.
func (cg caseGroup) runORT(t *testing.T, node, ortDir string, like []*ir.Tensor) []*ir.Tensor {
	var feeds []ortFeed
	var outs []string
	for i, x := range cg.xs {
		feeds = append(feeds, ortFeed{fmt.Sprintf("c%d_x", i), x})
		outs = append(outs, fmt.Sprintf("c%d_y", i))
	}
	return runORTModel(t, node, ortDir, cg.m.bytes(t), feeds, outs, like)
}

// ortFeed is a named input of an ONNX Runtime run: f32, i32 or i64.
type ortFeed struct {
	name string
	x    *ir.Tensor
}

// runORTModel runs model in ONNX Runtime on feeds and returns the outputs
// named outs, read as the dtypes of like's (flat: 1-D).
func runORTModel(t *testing.T, node, ortDir string, model []byte, feeds []ortFeed, outs []string, like []*ir.Tensor) []*ir.Tensor {
	t.Helper()
	dir := t.TempDir()
	type io struct {
		Name string `json:"name"`
		File string `json:"file"`
		Dims []int  `json:"dims,omitempty"`
		Type string `json:"type,omitempty"`
	}
	job := struct {
		Model   string `json:"model"`
		Inputs  []io   `json:"inputs"`
		Outputs []io   `json:"outputs"`
	}{Model: filepath.Join(dir, "m.onnx")}
	files := map[string][]byte{job.Model: model, filepath.Join(dir, "run.cjs"): []byte(ortRunner)}
	for i, f := range feeds {
		x := f.x
		in := io{Name: f.name, File: filepath.Join(dir, fmt.Sprintf("x%d.bin", i)), Dims: x.Shape}
		var raw []byte
		switch x.DType {
		case ir.F32:
			raw = make([]byte, 4*len(x.F32))
			for j, v := range x.F32 {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
			}
		case ir.I32:
			in.Type = "int32"
			raw = make([]byte, 4*len(x.I32))
			for j, v := range x.I32 {
				binary.LittleEndian.PutUint32(raw[4*j:], uint32(v))
			}
		case ir.I64:
			in.Type = "int64"
			raw = make([]byte, 8*len(x.I64))
			for j, v := range x.I64 {
				binary.LittleEndian.PutUint64(raw[8*j:], uint64(v))
			}
		default:
			t.Fatalf("ONNX Runtime input %s: %v is not fed", f.name, x.DType)
		}
		files[in.File] = raw
		job.Inputs = append(job.Inputs, in)
	}
	for i, name := range outs {
		job.Outputs = append(job.Outputs, io{Name: name, File: filepath.Join(dir, fmt.Sprintf("y%d.bin", i))})
	}
	jb, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	files[filepath.Join(dir, "job.json")] = jb
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := exec.Command(node, filepath.Join(dir, "run.cjs"), ortDir, filepath.Join(dir, "job.json")).CombinedOutput(); err != nil {
		t.Fatalf("ONNX Runtime: %v\n%s", err, b)
	}
	var out []*ir.Tensor
	for i, o := range job.Outputs {
		b, err := os.ReadFile(o.File)
		if err != nil {
			t.Fatal(err)
		}
		dt := like[i].DType
		y, err := ir.TensorFromBytes(dt, []int{len(b) / max(dt.Size(), 1)}, b)
		if err != nil {
			t.Fatalf("ONNX Runtime output %s: %v", o.Name, err)
		}
		out = append(out, y)
	}
	return out
}

// TestDecompositionsORT runs the cases in ONNX Runtime (one model per
// opset) and compares its outputs with rt's and the references.
func TestDecompositionsORT(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ONNX Runtime; skipped in -short")
	}
	dir, err := filepath.Abs(ortpath.Dir(filepath.Join("..", "..")))
	node, nerr := exec.LookPath("node")
	if ortpath.Dir(filepath.Join("..", "..")) == "" || err != nil || nerr != nil {
		t.Skip("ONNX Runtime not found ($PARE_ORT_DIR, .cache/ort, /tmp/ort; make ort) or node missing: skipping the ORT comparison")
	}
	skipped := 0
	for _, cg := range groupByOpset(true, func(tc decompCase) bool {
		if tc.ortSkip != "" {
			skipped++
		}
		return tc.ortSkip == ""
	}) {
		t.Run(fmt.Sprintf("opset%d", cg.opset), func(t *testing.T) {
			g := cg.m.mustLoad(t, Options{})
			want, err := rt.Run(g, cg.xs)
			if err != nil {
				t.Fatal(err)
			}
			got := cg.runORT(t, node, dir, want)
			for i := range got {
				if got[i].Len() == want[i].Len() {
					got[i].Shape = want[i].Shape
				}
			}
			cg.check(t, "ONNX Runtime", got, want, true)
		})
	}
	t.Logf("%d cases left out (ONNX Runtime does not run them; see ortSkip)", skipped)
}

// TestDecompositionsCompiled builds the cases with the Go and LLVM backends
// (one model per opset) and compares the executables' outputs with rt's.
func TestDecompositionsCompiled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds executables; skipped in -short")
	}
	for _, cg := range groupByOpset(false, func(decompCase) bool { return true }) {
		g := cg.m.mustLoad(t, Options{})
		want, err := rt.Run(g, cg.xs)
		if err != nil {
			t.Fatal(err)
		}
		backendrun.Both(t, fmt.Sprintf("opset%d", cg.opset), g, cg.xs, true, func(t *testing.T, backend string, got []*ir.Tensor) {
			cg.check(t, backend, got, want, false)
		})
	}
}
