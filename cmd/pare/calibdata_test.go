package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
)

// TestOptCalibSeveralInputs: a model with two inputs (a chunk and a
// recurrent state, as silero VAD) calibrates from one .npy per input
// (NAME=FILE.npy,...); a single-sample file is shared by every sample; the
// single-input spec names the inputs in its error.
func TestOptCalibSeveralInputs(t *testing.T) {
	dir := t.TempDir()
	g := ir.NewGraph("cell")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 4}})
	h := g.AddParam("h", ir.Type{DType: ir.F32, Shape: []int{1, 4}})
	d := make([]float32, 16)
	for i := range d {
		d[i] = float32(i%5) - 2
	}
	w := g.AddConst("w", ir.FromF32([]int{4, 4}, d), nil)
	px, err := g.Add("matmul", []*ir.Value{x, w}, nil, ir.Type{}, "px", "")
	if err != nil {
		t.Fatal(err)
	}
	y, err := g.Add("add", []*ir.Value{px, h}, nil, ir.Type{}, "y", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{y}
	model := filepath.Join(dir, "cell.ir")
	if err := ir.WriteFile(model, g); err != nil {
		t.Fatal(err)
	}
	xs := ir.NewTensor(ir.F32, []int{6, 1, 4})
	for i := range xs.F32 {
		xs.F32[i] = float32(i%7) - 3
	}
	hs := ir.NewTensor(ir.F32, []int{1, 1, 4})
	hs.F32[0], hs.F32[3] = 1, -1
	xf, hf := filepath.Join(dir, "x.npy"), filepath.Join(dir, "h.npy")
	if err := tensorfile.Write(xf, xs); err != nil {
		t.Fatal(err)
	}
	if err := tensorfile.Write(hf, hs); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "q.ir")
	code, stdout, stderr := pare("opt", model, "-passes", "canonicalize,quantize,fuse", "--calib", "x="+xf+",h="+hf, "-o", out)
	if code != 0 || !strings.Contains(stdout, "on 6 calibration samples") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ spec, want string }{
		{xf, "cell has 2 inputs (x, h): give their samples as NAME=FILE.npy"},
		{"x=" + xf, "gives no samples for input h of cell"},
		{"x=" + xf + ",z=" + hf, "z is not an input of cell (inputs: x, h)"},
	} {
		if code, _, stderr := pare("opt", model, "-passes", "canonicalize,quantize", "--calib", c.spec); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("--calib %s: exit %d, stderr %q, want %q", c.spec, code, stderr, c.want)
		}
	}
}
