package dataset

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

func writePNG(t *testing.T, path string, pix []uint8, w, h int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, pix)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestFolder: MNIST images written as PNGs, listed in labels.txt or in a
// folder per class, load back as the same tensors and labels.
func TestFolder(t *testing.T) {
	s, err := MNIST("test")
	if err != nil {
		t.Skip("MNIST: ", err)
	}
	s = s.Limit(12)
	pp := Preprocess{Scale: 1.0 / 255, Std: 1}
	want, wantLabels, err := s.Tensors([]int{1, 1, 28, 28}, pp)
	if err != nil {
		t.Fatal(err)
	}
	flat, perClass := t.TempDir(), t.TempDir()
	var lines []string
	for i := 0; i < s.N; i++ {
		name := fmt.Sprintf("img%02d.png", i)
		writePNG(t, filepath.Join(flat, name), s.Image(i), s.W, s.H)
		lines = append(lines, fmt.Sprintf("%s %d", name, s.Labels[i]))
		writePNG(t, filepath.Join(perClass, fmt.Sprint(s.Labels[i]), name), s.Image(i), s.W, s.H)
	}
	if err := os.WriteFile(filepath.Join(flat, "labels.txt"), []byte("# file label\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	typ := ir.Type{DType: ir.F32, Shape: []int{1, 1, 28, 28}}
	// labels.txt keeps its order; per-class folders come in class order.
	got, labels, err := FolderTensors(flat, typ, Raw, pp, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if labels[i] != wantLabels[i] || !got[i].Equal(want[i]) {
			t.Fatalf("labels.txt image %d: label %d (want %d), equal %v", i, labels[i], wantLabels[i], got[i].Equal(want[i]))
		}
	}
	got, labels, err = FolderTensors(perClass, typ, Raw, pp, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != s.N {
		t.Fatalf("%d images from the class folders, want %d", len(got), s.N)
	}
	for i := range got {
		found := false
		for j := range want {
			found = found || (labels[i] == wantLabels[j] && got[i].Equal(want[j]))
		}
		if !found || (i > 0 && labels[i] < labels[i-1]) {
			t.Fatalf("class-folder image %d (label %d) does not match", i, labels[i])
		}
	}
	// Named classes map to sorted positions.
	if l, c := labelIndices([]string{"dog", "cat", "dog"}); fmt.Sprint(l, c) != "[1 0 1] [cat dog]" {
		t.Errorf("labelIndices: %v %v", l, c)
	}
	if _, _, _, err := Folder(t.TempDir()); err == nil {
		t.Error("an empty folder loaded")
	}
}
