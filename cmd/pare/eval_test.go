package main

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

// TestEvalImageFolder: pare eval on a folder of MNIST PNGs with labels.txt
// gives the accuracy it gives on the same images from the MNIST files.
func TestEvalImageFolder(t *testing.T) {
	model := sharedPath(t, "models/onnx/mnist-7/mnist-7.onnx")
	s, err := dataset.MNIST("test")
	if err != nil {
		t.Skip("MNIST: ", err)
	}
	s = s.Limit(50)
	dir := t.TempDir()
	var lines []string
	for i := 0; i < s.N; i++ {
		img := image.NewGray(image.Rect(0, 0, s.W, s.H))
		copy(img.Pix, s.Image(i))
		name := fmt.Sprintf("%03d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		lines = append(lines, fmt.Sprintf("%s %d", name, s.Labels[i]))
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.txt"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, folder, e := pare("eval", model, "--data", dir)
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, e)
	}
	code, idx, e := pare("eval", model, "--data", "mnist", "--limit", "50")
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, e)
	}
	top := func(s string) string { _, a, _ := strings.Cut(s, "top-1 "); b, _, _ := strings.Cut(a, ","); return b }
	t.Log(strings.TrimSpace(folder))
	if top(folder) == "" || top(folder) != top(idx) {
		t.Errorf("folder: %q, MNIST files: %q", folder, idx)
	}
}

// TestModelInputScale: pare.input_scale metadata, a doc_string line, or the
// LeNets' "(pixel/255)" doc_string set the default scale.
func TestModelInputScale(t *testing.T) {
	g := ir.NewGraph("m")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 4}})
	r, err := g.Add("relu", []*ir.Value{x}, nil, ir.Type{}, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{r}
	dir := t.TempDir()
	for i, o := range []onnx.ExportOptions{
		{Metadata: map[string]string{"pare.input_scale": "1/255"}},
		{DocString: "a model\npare.input_scale=0.00392156862745098"},
		{DocString: "input: f32[1,1,28,28] MNIST image, NCHW, pixels scaled to [0,1] (pixel/255); output: logits"},
		{},
	} {
		p := filepath.Join(dir, fmt.Sprintf("m%d.onnx", i))
		if err := onnx.ExportFileWith(g, p, o); err != nil {
			t.Fatal(err)
		}
		want := 1.0 / 255
		if i == 3 {
			want = 0
		}
		if s := modelInputScale(p); math.Abs(s-want) > 1e-12 {
			t.Errorf("%+v: scale %v, want %v", o, s, want)
		}
	}
}
