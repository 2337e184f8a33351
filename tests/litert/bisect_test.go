package litert

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/tflite"
	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestLiteRTBisect is a diagnostic, run on demand: it finds the first
// operator of a model whose output differs between rt and LiteRT.js.
//
//	PARE_LITERT_BISECT=mobilenet_v1 go test -run Bisect -v ./tests/litert/
//
// For each operator in order, a copy of the model whose first output is
// that operator's first output is run in both (same seeded inputs); one
// line per operator gives the element count, how many differ by one unit
// (quantized) or beyond the float tolerance, and the largest difference.
// It stops after the first operator beyond tolerance, unless
// PARE_LITERT_BISECT_ALL is set; PARE_LITERT_BISECT_FROM=K starts at
// operator K and PARE_LITERT_BISECT_STEP=N looks at every Nth operator only.
// PARE_LITERT_BISECT_KINDS=N runs only the first N operators of each kind
// alone (no whole-model line), on LiteRT's values of their inputs.
// Operators whose inputs are all constants are left out (XNNPack folds
// the DEQUANTIZE of float16 weights and never writes its output). Floats also count the elements beyond a
// tight 1e-5 relative tolerance (tight=), to show where rounding noise
// starts.
func TestLiteRTBisect(t *testing.T) {
	want := os.Getenv("PARE_LITERT_BISECT")
	if want == "" {
		t.Skip("diagnostic: set PARE_LITERT_BISECT to a model name (substring) to bisect it")
	}
	node, dir := harness(t)
	ms := models(t)
	var names []string
	for n := range ms {
		if strings.Contains(n, want) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatalf("no model matches %q", want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) { bisect(t, node, dir, ms[name]) })
	}
}

func bisect(t *testing.T, node, dir, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g0, err := tflite.Import(path, tflite.Options{})
	if err != nil {
		t.Skip(err)
	}
	ins := seededInputs(g0, path)
	m, sg := subgraph0(data)
	var op fb.Operator
	var code fb.OperatorCode
	var ten fb.Tensor
	tmp := t.TempDir()
	all := os.Getenv("PARE_LITERT_BISECT_ALL") != ""
	step, from := 1, 0
	if s := os.Getenv("PARE_LITERT_BISECT_STEP"); s != "" {
		fmt.Sscan(s, &step)
		step = max(step, 1)
	}
	if s := os.Getenv("PARE_LITERT_BISECT_FROM"); s != "" {
		fmt.Sscan(s, &from)
	}
	// LiteRT's value of a tensor, from the whole model cut at it.
	litert := map[int32]*ir.Tensor{}
	for j := 0; j < sg.InputsLength() && j < len(ins); j++ {
		litert[sg.Inputs(j)] = ins[j]
	}
	kinds, seen := 0, map[fb.BuiltinOperator]int{}
	if s := os.Getenv("PARE_LITERT_BISECT_KINDS"); s != "" {
		fmt.Sscan(s, &kinds)
	}
	run := func(name string, model []byte, in []*ir.Tensor) (*ir.Graph, *ir.Tensor, *ir.Tensor, bool) {
		file := writeTemp(t, tmp, name, model)
		g, err := tflite.ImportBytes(filepath.Base(file), model, tflite.Options{})
		if err != nil {
			t.Logf("%s: pare import: %v", name, err)
			return nil, nil, nil, false
		}
		got, err := rt.Run(g, in)
		if err != nil {
			t.Fatalf("%s: rt: %v", name, err)
		}
		return g, got[0], runLiteRT(t, node, dir, file, in)[0], true
	}
	for k := from; k < sg.OperatorsLength(); k++ {
		if (k-from)%step != 0 {
			continue
		}
		sg.Operators(&op, k)
		m.OperatorCodes(&code, int(op.OpcodeIndex()))
		b := code.BuiltinCode()
		if d := fb.BuiltinOperator(code.DeprecatedBuiltinCode()); d > b {
			b = d
		}
		// Operators on constants only (DEQUANTIZE of float16 weights) are
		// folded by XNNPack and their outputs are not materialized.
		if op.OutputsLength() == 0 || constOnly(sg, m, &op) {
			continue
		}
		out := op.Outputs(0)
		sg.Tensors(&ten, int(out))
		bad := false
		if kinds > 0 {
			// Kinds mode: the operator alone only, the first few of each kind.
			in, ok := soleInput(sg, m, &op)
			if !ok || seen[b] >= kinds {
				continue
			}
			seen[b]++
			if litert[in] == nil {
				litert[in] = runLiteRT(t, node, dir, writeTemp(t, tmp, fmt.Sprintf("in%d", k), withOutput(data, in)), ins)[0]
			}
		} else {
			g, got, want, ok := run(fmt.Sprintf("op%d", k), withOutput(data, out), ins)
			if !ok {
				continue
			}
			litert[out] = want
			var line string
			line, bad = diffLine(g.Results[0].Type, got, want)
			t.Logf("op %3d %-18s %-40.40s whole model: %s", k, b, ten.Name(), line)
		}
		// The operator alone on LiteRT's value of its one non-constant
		// input, when it has one and LiteRT's value is known.
		if in, ok := soleInput(sg, m, &op); ok && litert[in] != nil {
			g, got, want, ok := run(fmt.Sprintf("single%d", k), singleOp(data, k, in, out), []*ir.Tensor{litert[in]})
			if ok {
				line, bad1 := diffLine(g.Results[0].Type, got, want)
				t.Logf("op %3d %-18s %-40.40s alone:       %s", k, b, ten.Name(), line)
				bad = bad || bad1
			}
		}
		if bad && !all {
			return
		}
	}
}

func writeTemp(t *testing.T, dir, name string, model []byte) string {
	file := filepath.Join(dir, name+".tflite")
	if err := os.WriteFile(file, model, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// soleInput returns op's only non-constant input.
func soleInput(sg *fb.SubGraph, m *fb.Model, op *fb.Operator) (int32, bool) {
	var ten fb.Tensor
	var buf fb.Buffer
	found, n := int32(-1), 0
	for j := 0; j < op.InputsLength(); j++ {
		in := op.Inputs(j)
		if in < 0 {
			continue
		}
		sg.Tensors(&ten, int(in))
		if m.Buffers(&buf, int(ten.Buffer())) && (buf.DataLength() > 0 || buf.Size() > 0) {
			continue
		}
		found, n = in, n+1
	}
	return found, n == 1
}

// constOnly reports whether every input of op is a constant (a tensor
// with data in its buffer).
func constOnly(sg *fb.SubGraph, m *fb.Model, op *fb.Operator) bool {
	var ten fb.Tensor
	var buf fb.Buffer
	for j := 0; j < op.InputsLength(); j++ {
		in := op.Inputs(j)
		if in < 0 {
			continue
		}
		sg.Tensors(&ten, int(in))
		if !m.Buffers(&buf, int(ten.Buffer())) || (buf.DataLength() == 0 && buf.Size() == 0) {
			return false
		}
	}
	return true
}

// diffLine summarizes got against want: element count, one-unit
// differences, differences beyond tolerance, largest difference.
func diffLine(typ ir.Type, got, want *ir.Tensor) (string, bool) {
	if got.DType != want.DType || !ir.EqualShape(got.Shape, want.Shape) {
		return fmt.Sprintf("rt %v%v, LiteRT %v%v", got.DType, got.Shape, want.DType, want.Shape), true
	}
	n, one, beyond, tight, worst, above := got.Len(), 0, 0, 0, 0.0, 0
	for i := 0; i < n; i++ {
		d := math.Abs(got.At(i) - want.At(i))
		if got.At(i) > want.At(i) {
			above++
		}
		worst = math.Max(worst, d)
		if d > 1e-6+1e-5*math.Abs(want.At(i)) {
			tight++
		}
		switch {
		case got.DType == ir.F32 && d > atol+rtol*math.Abs(want.At(i)):
			beyond++
		case got.DType != ir.F32 && d == 1 && typ.Quant != nil:
			one++
		case got.DType != ir.F32 && d >= 1:
			beyond++
		}
	}
	if got.DType == ir.F32 {
		return fmt.Sprintf("%v%v n=%d tight=%d beyond=%d max|Δ|=%.4g", got.DType, got.Shape, n, tight, beyond, worst), beyond > 0
	}
	return fmt.Sprintf("%v%v n=%d off1=%d (rt above %d) beyond=%d max|Δ|=%.4g", got.DType, got.Shape, n, one, above, beyond, worst), beyond > 0
}
