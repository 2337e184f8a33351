package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
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
