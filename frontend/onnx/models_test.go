package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// shared is the shared models folder, beside the repository root.
const shared = "../../../shared"

func sharedGlob(t *testing.T, pattern string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(shared, pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Skipf("no files match %s; skipping", filepath.Join(shared, pattern))
	}
	sort.Strings(paths)
	return paths
}

// testInputs reads dir/test_data_set_0/input_*.pb, by tensor name (or by the
// position among the graph's inputs when unnamed).
func testInputs(t *testing.T, dir string) map[string]*ir.Tensor {
	t.Helper()
	out := map[string]*ir.Tensor{}
	for i := 0; ; i++ {
		p := filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(p); err != nil {
			return out
		}
		name, x, err := ReadTensorFile(p)
		if err != nil {
			var ue *UnsupportedError
			if errors.As(err, &ue) {
				continue
			}
			t.Fatal(err)
		}
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		out[name] = x
	}
}

// importBinding imports a model, binding from inputs what NeedConstError asks for.
func importBinding(path string, opts Options, inputs map[string]*ir.Tensor) (*ir.Graph, error) {
	g, err := Import(path, opts)
	var need *NeedConstError
	if errors.As(err, &need) {
		opts.Bind = map[string]*ir.Tensor{}
		for _, n := range need.Inputs {
			if inputs[n] == nil {
				return nil, fmt.Errorf("no test data for input %q: %w", n, err)
			}
			opts.Bind[n] = inputs[n]
		}
		g, err = Import(path, opts)
	}
	return g, err
}

// unsupportedReason checks that err is an *UnsupportedError that names
// what is unsupported, and returns its reason.
func unsupportedReason(t *testing.T, path string, err error) string {
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Errorf("%s: %v", path, err)
		return ""
	}
	for _, w := range []string{"not supported", "unsupported"} {
		if strings.Contains(ue.Reason, w) {
			return ue.Reason
		}
	}
	t.Errorf("%s: unsupported error without a reason: %v", path, err)
	return ue.Reason
}

func TestSharedModels(t *testing.T) {
	type want struct {
		opts Options
		out  []int
	}
	wants := map[string]want{
		"mnist-7.onnx":                        {out: []int{1, 10}},
		"light_resnet50.onnx":                 {out: []int{1, 1000}},
		"light_shufflenet.onnx":               {out: []int{1, 1000}},
		"light_squeezenet.onnx":               {out: []int{1, 1000, 1, 1}},
		"light_vgg19.onnx":                    {out: []int{1, 1000}},
		"ch_ppocr_mobile_v2.0_cls_infer.onnx": {opts: Options{Shapes: map[string][]int{"x": {1, 3, 48, 192}}}, out: []int{1, 2}},
		"ch_PP-OCRv4_det_infer.onnx":          {opts: Options{Shapes: map[string][]int{"x": {1, 3, 640, 640}}}, out: []int{1, 1, 640, 640}},
	}
	for _, path := range sharedGlob(t, "models/onnx/*/*.onnx") {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			if testing.Short() && base == "light_vgg19.onnx" {
				t.Skip("vgg19 folds 575 MB of weights; skipped in -short")
			}
			w, ok := wants[base]
			if !ok {
				t.Logf("no expectations for %s; checking that it imports", base)
			}
			g, err := Import(path, w.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(g); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if len(g.Results) != 1 {
				t.Fatalf("%d results, want 1", len(g.Results))
			}
			if r := g.Results[0].Type; r.DType != ir.F32 || (ok && !ir.EqualShape(r.Shape, w.out)) {
				t.Errorf("result %v, want f32%v", r, w.out)
			}
			for _, v := range g.Values {
				if v.IsConst() && v.Type.DType == ir.I64 && v.Type.Rank() == 1 && len(g.Values) > 0 {
					// shape constants are folded away unless an op reads them
					used := false
					for _, u := range g.Values {
						for _, a := range u.Args {
							used = used || a == v
						}
					}
					if !used && !isResult(g, v) {
						t.Errorf("unused constant %s left in the graph", v.Name)
					}
				}
			}
			t.Logf("%s: %d params, %d values, result %s %v", base, len(g.Params), len(g.Values), g.Results[0].Name, g.Results[0].Type)
		})
	}
}

func isResult(g *ir.Graph, v *ir.Value) bool {
	for _, r := range g.Results {
		if r == v {
			return true
		}
	}
	return false
}

// TestNodeTests imports every ONNX backend node test: each must import
// (binding the inputs the importer asks to bind) or fail with an
// *UnsupportedError that says what is unsupported.
func TestNodeTests(t *testing.T) {
	var ok, unsupported []string
	for _, path := range sharedGlob(t, "onnx-node*/*/model.onnx") {
		dir := filepath.Dir(path)
		name := filepath.Base(dir)
		inputs := testInputs(t, dir)
		opts := Options{Shapes: map[string][]int{}}
		for n, x := range inputs {
			if !strings.HasPrefix(n, "#") {
				opts.Shapes[n] = x.Shape
			}
		}
		g, err := importBinding(path, opts, inputs)
		if err != nil {
			if r := unsupportedReason(t, name, err); r != "" {
				unsupported = append(unsupported, fmt.Sprintf("%s: %s", name, r))
			}
			continue
		}
		if err := ir.Verify(g); err != nil {
			t.Errorf("%s: verify: %v", name, err)
			continue
		}
		ok = append(ok, name)
	}
	t.Logf("%d node tests import, %d unsupported:", len(ok), len(unsupported))
	for _, u := range unsupported {
		if len(u) > 200 {
			u = u[:200] + "..."
		}
		t.Log("  " + u)
	}
}
