package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDiffNumeric: pare diff --input compares every value two graphs share
// by name: LeNet-5 against itself exactly (+Inf dB), against its int8 form
// within 20–70 dB for each quantized layer, fused relu accounted for.
func TestDiffNumeric(t *testing.T) {
	dir := t.TempDir()
	f, q := filepath.Join(dir, "f.ir"), filepath.Join(dir, "q.ir")
	model, in := filepath.Join("..", "..", "tests", "zoo", "lenet5.onnx"), filepath.Join("..", "..", "tests", "testdata", "mnist_test_0_label7.npy")
	if code, _, errOut := pare("opt", model, "-passes", "canonicalize", "-o", f); code != 0 {
		t.Fatalf("opt: %s", errOut)
	}
	if code, _, errOut := pare("opt", model, "-passes", "canonicalize,quantize,fuse", "--calib-limit", "64", "-o", q); code != 0 {
		t.Skipf("quantize (needs the MNIST module: make data): %s", errOut)
	}
	code, out, errOut := pare("diff", f, f, "--input", in)
	if code != 0 || strings.Count(out, "+Inf") < 4 {
		t.Errorf("diff of a graph with itself: exit %d %s\n%s", code, errOut, out)
	}
	code, out, errOut = pare("diff", f, q, "--input", in)
	if code != 1 {
		t.Fatalf("diff f32 / int8: exit %d (want 1: they differ) %s", code, errOut)
	}
	_, table, ok := strings.Cut(out, "snr_dB")
	if !ok {
		t.Fatalf("no numeric table:\n%s", out)
	}
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		fs := strings.Fields(line)
		if len(fs) < 4 || !strings.HasPrefix(fs[3], "%") {
			continue
		}
		snr, err := strconv.ParseFloat(fs[0], 64)
		if err != nil || snr < 20 || snr > 70 {
			t.Errorf("row %q: want an SNR within 20–70 dB", line)
		}
		rows++
	}
	if rows < 5 {
		t.Errorf("%d compared values, want the convs, pools, gemms:\n%s", rows, out)
	}
}
