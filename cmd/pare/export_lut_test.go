package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportLUT: table lookups (fuse's, of an 8-bit chain into an i8 output
// and of the whole chain into an f32 output) export in QDQ and QOperator form as Gathers that
// ONNX Runtime runs to rt's outputs, bit for bit.
func TestExportLUT(t *testing.T) {
	dir := t.TempDir()
	src, fused := filepath.Join(dir, "m.ir"), filepath.Join(dir, "f.ir")
	err := os.WriteFile(src, []byte(`graph @lutnet(%x: f32[1,3,8,8]) -> (f32[1,3,8,8], i8[1,3,8,8] q(0.02,-20)) {
  %q = quantize %x : i8[1,3,8,8] q(0.03,-5)
  %d = dequantize %q : f32[1,3,8,8]
  %a = const f32[1] [0.75]
  %b = const f32[1] [-0.125]
  %m = mul %d, %a : f32[1,3,8,8]
  %s = add %m, %b : f32[1,3,8,8]
  %h = hardswish %s : f32[1,3,8,8]
  %q2 = quantize %h : i8[1,3,8,8] q(0.02,-20)
  %d2 = dequantize %q2 : f32[1,3,8,8]
  %y = sigmoid %d2 : f32[1,3,8,8]
  return %y, %q2
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := pare("opt", src, "-passes", "fuse", "-o", fused)
	if code != 0 || !strings.Contains(out, "table lookups: 2") {
		t.Fatalf("opt fuse: exit %d %s\n%s", code, errOut, out)
	}
	ort := ortDir()
	node, err := exec.LookPath("node")
	if ort == "" || err != nil {
		t.Skip("ONNX Runtime not found ($PARE_ORT_DIR, ./.cache/ort, /tmp/ort) or node missing: skipping the ORT comparison")
	}
	in := make([]byte, 192*4)
	for i := 0; i < 192; i++ {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32(i%41-20)*0.2))
	}
	inPath, rtOut := filepath.Join(dir, "in.bin"), filepath.Join(dir, "rt.bin")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := pare("run", fused, "--input", inPath, "--out", rtOut); code != 0 {
		t.Fatalf("run: %s", errOut)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "rt.y.bin")) // the first output; run writes one file per output
	for _, form := range []string{"qdq", "qoperator"} {
		onnxOut, ortOut := filepath.Join(dir, form+".onnx"), filepath.Join(dir, form+".bin")
		if code, _, errOut := pare("export", fused, "-o", onnxOut, "--form", form); code != 0 {
			t.Fatalf("export %s: %s", form, errOut)
		}
		if out, err := exec.Command(node, filepath.Join(ort, "bench.mjs"), onnxOut, "--threads", "1", "--iters", "1", "--input", inPath, "--out", ortOut).CombinedOutput(); err != nil {
			t.Fatalf("ORT %s: %v\n%s", form, err, out)
		}
		got, _ := os.ReadFile(ortOut)
		if len(want) != 192*4 || !bytes.Equal(got, want) {
			t.Errorf("%s: ORT's outputs (%d bytes) differ from rt's (%d bytes)", form, len(got), len(want))
		}
	}
}
