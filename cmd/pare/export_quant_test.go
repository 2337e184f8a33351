package main

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestExportQuantized: mnist-7 quantized to int8 (canonicalize, quantize
// with 200 calibration images, fuse) exported in QDQ and QOperator form
// gives rt's outputs within one quantization step of the output in ONNX
// Runtime (when installed), and imported back (onnx.Import understands QDQ
// and QLinear nodes) gives them in rt.
func TestExportQuantized(t *testing.T) {
	model := sharedPath(t, "models/onnx/mnist-7/mnist-7.onnx")
	set, err := dataset.MNIST("test")
	if err != nil {
		t.Skip("MNIST: ", err)
	}
	dir := t.TempDir()
	qir := filepath.Join(dir, "q.ir")
	if code, _, e := pare("opt", model, "-passes", "canonicalize,quantize,fuse", "--calib", "mnist:train", "--calib-limit", "200", "-o", qir); code != 0 {
		t.Fatalf("opt exit %d: %s", code, e)
	}
	g, err := ir.ReadFile(qir)
	if err != nil {
		t.Fatal(err)
	}
	// One quantization step of the output: the scale of the dequantized result.
	res := g.Results[0]
	if res.Op.Name != "dequantize" {
		t.Fatalf("result %s is not dequantized", res.Where())
	}
	step := float64(res.Args[0].Type.Quant.Scale[0])
	inputs, _, err := set.Limit(4).Tensors(g.Params[0].Type.Shape, dataset.Preprocess{Scale: 1, Std: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]*ir.Tensor, len(inputs))
	for i, x := range inputs {
		out, err := rt.Run(g, []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out[0]
	}
	ort := ortDir()
	node, nodeErr := exec.LookPath("node")
	for _, form := range []string{"qdq", "qoperator"} {
		path := filepath.Join(dir, form+".onnx")
		if code, _, e := pare("export", qir, "-o", path, "--form", form); code != 0 {
			t.Fatalf("export --form %s exit %d: %s", form, code, e)
		}
		back, err := onnx.Import(path, onnx.Options{})
		if err != nil {
			t.Fatalf("%s: import: %v", form, err)
		}
		raw, _ := os.ReadFile(path)
		for _, op := range map[string][]string{"qdq": {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm"}, "qoperator": {"QLinearConv"}}[form] {
			if !strings.Contains(string(raw), op) {
				t.Errorf("%s: no %s node", form, op)
			}
		}
		for i, x := range inputs {
			out, err := rt.Run(back, []*ir.Tensor{x})
			if err != nil {
				t.Fatalf("%s: rt on the imported model: %v", form, err)
			}
			compareSteps(t, form+" imported, rt", i, out[0].F32, want[i].F32, step)
		}
		if ort == "" || nodeErr != nil {
			continue
		}
		for i, x := range inputs {
			in, outPath := filepath.Join(dir, "in.bin"), filepath.Join(dir, "ort.bin")
			if err := os.WriteFile(in, f32Bytes(x.F32), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(node, filepath.Join(ort, "bench.mjs"), path, "--threads", "1", "--iters", "1", "--warmup", "0",
				"--input", in, "--out", outPath).CombinedOutput(); err != nil {
				t.Fatalf("%s: ORT: %v\n%s", form, err, out)
			}
			b, _ := os.ReadFile(outPath)
			got := make([]float32, len(b)/4)
			for j := range got {
				got[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			}
			compareSteps(t, form+" in ONNX Runtime", i, got, want[i].F32, step)
		}
	}
	if ort == "" || nodeErr != nil {
		t.Skip("ONNX Runtime not found ($PARE_ORT_DIR, ./.cache/ort, /tmp/ort) or node missing: skipped the ORT comparison (the import round trip ran)")
	}
}

// compareSteps checks got against want within one quantization step and
// logs how many elements differ at all.
func compareSteps(t *testing.T, what string, sample int, got, want []float32, step float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: sample %d: %d outputs, want %d", what, sample, len(got), len(want))
	}
	var diff []string
	for j := range got {
		d := math.Abs(float64(got[j] - want[j]))
		if d > step*1.001 {
			t.Errorf("%s: sample %d output %d: %v, rt %v (more than one step %v)", what, sample, j, got[j], want[j], step)
		}
		if d > step*1e-3 {
			diff = append(diff, string(rune('0'+j)))
		}
	}
	if len(diff) > 0 {
		t.Logf("%s: sample %d: outputs %s differ by one step", what, sample, strings.Join(diff, ","))
	}
}

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, f := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}
