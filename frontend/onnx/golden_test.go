package onnx

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// TestGolden compares the IR text of whole imported models with
// testdata/<model>.golden (go test -run TestGolden -update rewrites them),
// and checks that the text parses back to the same text.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		path string
		opts Options
	}{
		{"models/onnx/mnist-7/mnist-7.onnx", Options{}},
		{"models/onnx/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", Options{Shapes: map[string][]int{"x": {1, 3, 48, 192}}}},
	} {
		path := filepath.Join(shared, tc.path)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("%s not found; skipping", path)
		}
		g, err := Import(path, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		got := g.String()
		golden := filepath.Join("testdata", filepath.Base(path)+".golden")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGolden -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s: the imported IR differs from %s (go test -run TestGolden -update rewrites it):\n%s", filepath.Base(path), golden, firstDiff(got, string(want)))
		}
		back, err := ir.Parse(g.Name, []byte(got), ir.WeightsOf(g))
		if err != nil {
			t.Errorf("%s: the text does not parse: %v", filepath.Base(path), err)
		} else if back.String() != got {
			t.Errorf("%s: print → parse → print changes the text:\n%s", filepath.Base(path), firstDiff(back.String(), got))
		}
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, x, y)
		}
	}
	return ""
}
