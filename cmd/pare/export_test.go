package main

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/tests/ortpath"
)

// ortDir finds ONNX Runtime's harness: $PARE_ORT_DIR, .cache/ort, /tmp/ort.
func ortDir() string { return ortpath.Dir(filepath.Join("..", "..")) }

// TestExportFloatRunsInORT: mnist-7 after canonicalize,fuse (folded biases,
// gemm, fused relu) exported to ONNX gives rt's outputs in ONNX Runtime.
func TestExportFloatRunsInORT(t *testing.T) {
	model := "../../../shared/models/onnx/mnist-7/mnist-7.onnx"
	if _, err := os.Stat(model); err != nil {
		t.Skip(model, " not found")
	}
	dir := t.TempDir()
	opt, onnxOut := filepath.Join(dir, "m.ir"), filepath.Join(dir, "m.onnx")
	if code := runMain([]string{"opt", model, "-passes", "canonicalize,fuse", "-o", opt}); code != 0 {
		t.Fatalf("opt exit %d", code)
	}
	if code := runMain([]string{"export", opt, "-o", onnxOut}); code != 0 {
		t.Fatalf("export exit %d", code)
	}
	ort := ortDir()
	node, err := exec.LookPath("node")
	if ort == "" || err != nil {
		t.Skip("ONNX Runtime not found ($PARE_ORT_DIR, ./.cache/ort, /tmp/ort) or node missing: skipping the ORT comparison")
	}
	in := make([]byte, 784*4)
	for i := 0; i < 784; i++ {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32((i*37)%256)))
	}
	inPath, ortOut, rtOut := filepath.Join(dir, "in.bin"), filepath.Join(dir, "ort.bin"), filepath.Join(dir, "rt.bin")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, filepath.Join(ort, "bench.mjs"), onnxOut, "--threads", "1", "--iters", "1", "--input", inPath, "--out", ortOut).CombinedOutput(); err != nil {
		t.Fatalf("ORT: %v\n%s", err, out)
	}
	if code := runMain([]string{"run", opt, "--input", inPath, "--out", rtOut}); code != 0 {
		t.Fatalf("run exit %d", code)
	}
	a, _ := os.ReadFile(ortOut)
	b, _ := os.ReadFile(rtOut)
	if len(a) != 40 || len(b) != 40 {
		t.Fatalf("outputs of %d and %d bytes", len(a), len(b))
	}
	for i := 0; i < 10; i++ {
		x := math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:]))
		y := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.Abs(float64(x-y)) > 1e-3*(1+math.Abs(float64(x))) {
			t.Errorf("output %d: ORT %v, rt %v", i, x, y)
		}
	}
}
