package litert

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/frontend/tflite"
	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// opsShortBytes: under -short, TestLiteRTOps looks at the shared models
// up to this size only (the three tflite-micro ones: about 15 s).
const opsShortBytes = 310 << 10

// TestLiteRTOps runs every operator of every model alone, in rt and in
// LiteRT.js, on LiteRT's own values of its inputs (from the whole model
// cut at each input tensor), and compares within the per-operator
// tolerances: floats within atol 1e-4 + rtol 1e-3·|want|, quantized
// results within one unit. Whole-model differences compound; this is the
// test that pins a difference to one operator. An operator runs with the
// operators on constants that feed it (the DEQUANTIZE of float16
// weights), which XNNPack folds.
func TestLiteRTOps(t *testing.T) { eachWholeModel(t, checkOps) }

// TestLiteRTOpModels compares the single-operator models of
// .cache/litert/opmodels (`make litert-opmodels`) in one LiteRT.js
// process, within the per-operator tolerances.
func TestLiteRTOpModels(t *testing.T) {
	node, dir := harness(t)
	ms := models(t)
	var names []string
	for n := range ms {
		// The detection models leave slots after the count unwritten in
		// TFLite: TestLiteRTDetection compares them.
		if strings.HasPrefix(n, "ops/") && !strings.HasPrefix(n, "ops/detection_postprocess") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Skip("no single-operator models in .cache/litert/opmodels: run `make litert-opmodels`")
	}
	sort.Strings(names)
	tmp := t.TempDir()
	var jobs []job
	var graphs []*ir.Graph
	var inputs [][]*ir.Tensor
	for k, name := range names {
		g, err := tflite.Import(ms[name], tflite.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ins := seededInputs(g, ms[name])
		var files []string
		for j, x := range ins {
			f := filepath.Join(tmp, fmt.Sprintf("m%d_in%d.npy", k, j))
			writeNPY(t, f, x)
			files = append(files, f)
		}
		jobs = append(jobs, job{Model: ms[name], Inputs: files, Out: filepath.Join(tmp, fmt.Sprintf("m%d", k))})
		graphs = append(graphs, g)
		inputs = append(inputs, ins)
	}
	res := runBatch(t, node, dir, jobs)
	for k, name := range names {
		t.Run(name, func(t *testing.T) {
			if res[k].Error != "" {
				t.Fatalf("LiteRT: %s", res[k].Error)
			}
			g := graphs[k]
			got, err := rt.Run(g, inputs[k])
			if err != nil {
				t.Fatalf("rt: %v", err)
			}
			for j := range got {
				want := readOut(t, jobs[k].Out, j)
				compareOutput(t, fmt.Sprintf("output %d", j), g.Results[j].Type, got[j], want, rtol, atol, 1)
			}
		})
	}
}

type job struct {
	Model  string   `json:"model"`
	Inputs []string `json:"inputs"`
	Out    string   `json:"out"`
}

type jobResult struct {
	harnessOut
	Error string `json:"error"`
}

// runBatch runs the jobs in one LiteRT.js process.
func runBatch(t *testing.T, node, dir string, jobs []job) []jobResult {
	t.Helper()
	if len(jobs) == 0 {
		return nil
	}
	tmp := t.TempDir()
	spec, _ := json.Marshal(jobs)
	file := filepath.Join(tmp, "jobs.json")
	if err := os.WriteFile(file, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(repoRoot(t), "tests", "litert", "run.mjs"), "--batch", file, "--litert", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("LiteRT.js batch: %v\n%s", err, tail(stderr.String(), 15))
	}
	var res []jobResult
	dec := json.NewDecoder(strings.NewReader(string(stdout)))
	for dec.More() {
		var r jobResult
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("LiteRT.js batch: bad report: %v", err)
		}
		res = append(res, r)
	}
	if len(res) != len(jobs) {
		t.Fatalf("LiteRT.js batch: %d reports for %d jobs\n%s", len(res), len(jobs), tail(stderr.String(), 15))
	}
	return res
}

func readOut(t *testing.T, dir string, k int) *ir.Tensor {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("output_%d.npy", k)))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tensorfile.ReadNPY(data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// opInfo is one operator of subgraph 0.
type opInfo struct {
	k      int
	kind   fb.BuiltinOperator
	ins    []int32 // non-constant inputs, deduplicated
	out    int32
	group  []int // the operators on constants feeding it, then k
	static bool  // all its inputs are constant
}

// operators lists the operators, with the tensors computed from
// constants only ("static": buffers with data and what operators make of
// them alone).
func operators(data []byte) []opInfo {
	m, sg := subgraph0(data)
	var op fb.Operator
	var code fb.OperatorCode
	var ten fb.Tensor
	var buf fb.Buffer
	static := map[int32]bool{}
	producer := map[int32]int{}
	for i := 0; i < sg.TensorsLength(); i++ {
		sg.Tensors(&ten, i)
		if m.Buffers(&buf, int(ten.Buffer())) && (buf.DataLength() > 0 || buf.Size() > 0) {
			static[int32(i)] = true
		}
	}
	var list []opInfo
	for k := 0; k < sg.OperatorsLength(); k++ {
		sg.Operators(&op, k)
		m.OperatorCodes(&code, int(op.OpcodeIndex()))
		o := opInfo{k: k, kind: max(code.BuiltinCode(), fb.BuiltinOperator(code.DeprecatedBuiltinCode())), static: true, out: -1}
		seen := map[int32]bool{}
		var feed []int
		for j := 0; j < op.InputsLength(); j++ {
			in := op.Inputs(j)
			switch {
			case in < 0:
			case static[in]:
				if p, ok := producer[in]; ok {
					feed = append(feed, list[p].group...)
				}
			default:
				o.static = false
				if !seen[in] {
					o.ins = append(o.ins, in)
					seen[in] = true
				}
			}
		}
		sort.Ints(feed)
		for j, f := range feed {
			if j == 0 || f != feed[j-1] {
				o.group = append(o.group, f)
			}
		}
		o.group = append(o.group, k)
		if op.OutputsLength() > 0 {
			o.out = op.Outputs(0)
			for j := 0; j < op.OutputsLength(); j++ {
				producer[op.Outputs(j)] = k
				if o.static {
					static[op.Outputs(j)] = true
				}
			}
		}
		list = append(list, o)
	}
	return list
}

func checkOps(t *testing.T, node, dir, path string) {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() && (st.Size() > opsShortBytes || !strings.HasPrefix(path, sharedmodels.Path("tflite"))) {
		t.Skipf("%s is %.1f MB: checked without -short", path, float64(st.Size())/(1<<20))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g0, err := tflite.ImportBytes(filepath.Base(path), data, tflite.Options{})
	if err != nil {
		if strings.Contains(err.Error(), "unsupported op") {
			t.Skipf("pare does not import it: %v", firstLine(err.Error(), 160))
		}
		t.Fatal(err)
	}
	tmp := t.TempDir()
	_, sg := subgraph0(data)
	// The seeded inputs, then LiteRT's value of every tensor an operator
	// reads, from the whole model cut at that tensor.
	npy := map[int32]string{}
	for j, x := range seededInputs(g0, path) {
		f := filepath.Join(tmp, fmt.Sprintf("input_%d.npy", j))
		writeNPY(t, f, x)
		npy[sg.Inputs(j)] = f
	}
	var inputs []string
	for j := 0; j < sg.InputsLength(); j++ {
		inputs = append(inputs, npy[sg.Inputs(j)])
	}
	ops := operators(data)
	var cuts []job
	var cutTensor []int32
	for _, o := range ops {
		for _, in := range o.ins {
			if _, ok := npy[in]; ok {
				continue
			}
			d := filepath.Join(tmp, fmt.Sprintf("t%d", in))
			file := writeTemp(t, tmp, fmt.Sprintf("cut%d", in), withOutput(data, in))
			cuts = append(cuts, job{Model: file, Inputs: inputs, Out: d})
			cutTensor = append(cutTensor, in)
			npy[in] = filepath.Join(d, "output_0.npy")
		}
	}
	for j, r := range runBatch(t, node, dir, cuts) {
		if r.Error != "" {
			t.Logf("tensor %d: LiteRT: %s", cutTensor[j], r.Error)
			delete(npy, cutTensor[j])
		}
	}
	// Each operator alone.
	type single struct {
		o     opInfo
		model []byte
	}
	var singles []single
	var jobs []job
	skipped := 0
	for _, o := range ops {
		if o.static || o.out < 0 {
			continue
		}
		var files []string
		for _, in := range o.ins {
			files = append(files, npy[in])
		}
		if len(files) == 0 || strings.Contains(strings.Join(files, "\x00")+"\x00", "\x00\x00") || files[0] == "" {
			skipped++
			continue
		}
		model, err := groupModel(data, o.group, o.ins, o.out)
		if err != nil {
			t.Logf("op %d %s: not cut out: %v", o.k, o.kind, err)
			skipped++
			continue
		}
		file := writeTemp(t, tmp, fmt.Sprintf("op%d", o.k), model)
		singles = append(singles, single{o, model})
		jobs = append(jobs, job{Model: file, Inputs: files, Out: filepath.Join(tmp, fmt.Sprintf("o%d", o.k))})
	}
	res := runBatch(t, node, dir, jobs)
	checked, off1, rqFloat := 0, 0, 0
	for j, s := range singles {
		what := fmt.Sprintf("op %d %s", s.o.k, s.o.kind)
		if res[j].Error != "" {
			t.Errorf("%s: LiteRT: %s", what, res[j].Error)
			continue
		}
		g, err := tflite.ImportBytes(fmt.Sprintf("op%d.tflite", s.o.k), s.model, tflite.Options{})
		if err != nil {
			t.Errorf("%s: pare import: %v", what, err)
			continue
		}
		var ins []*ir.Tensor
		for _, f := range jobs[j].Inputs {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			x, err := tensorfile.ReadNPY(data)
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, x)
		}
		got, err := rt.Run(g, ins)
		if err != nil {
			t.Errorf("%s: rt: %v", what, err)
			continue
		}
		want := readOut(t, jobs[j].Out, 0)
		line, _ := diffLine(g.Results[0].Type, got[0], want)
		if testing.Verbose() {
			t.Logf("%s: %s", what, line)
		}
		off1 += countOff1(g.Results[0].Type, got[0], want)
		compareOutput(t, what, g.Results[0].Type, got[0], want, rtol, atol, 1)
		checked++
		// With XNNPack's requantization (rq=float: acc·scale in float32,
		// ties to even), a quantized conv / fully connected gives LiteRT's
		// numbers exactly.
		if setRQ(g, "float") > 0 {
			xg, err := rt.Run(g, ins)
			if err != nil {
				t.Errorf("%s: rt with rq=float: %v", what, err)
				continue
			}
			if n := countDiff(xg[0], want); n > 0 {
				line, _ := diffLine(g.Results[0].Type, xg[0], want)
				t.Errorf("%s: with rq=float (XNNPack's requantization), %d elements differ from LiteRT: %s", what, n, line)
			}
			rqFloat++
		}
	}
	t.Logf("%d operators alone: %d checked (%d also with rq=float), %d not cut out; %d elements one unit apart in all", len(ops), checked, rqFloat, skipped, off1)
}

// countDiff counts the elements that differ.
func countDiff(got, want *ir.Tensor) int {
	if got.DType != want.DType || got.Len() != want.Len() {
		return max(got.Len(), want.Len())
	}
	n := 0
	for i := 0; i < got.Len(); i++ {
		if got.At(i) != want.At(i) {
			n++
		}
	}
	return n
}

// countOff1 counts the quantized elements one unit apart.
func countOff1(typ ir.Type, got, want *ir.Tensor) int {
	if typ.Quant == nil || got.DType == ir.F32 || got.Len() != want.Len() {
		return 0
	}
	n := 0
	for i := 0; i < got.Len(); i++ {
		if d := got.IntAt(i) - want.IntAt(i); d == 1 || d == -1 {
			n++
		}
	}
	return n
}
