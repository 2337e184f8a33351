package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// allClose reports the first element where |got - want| > atol + rtol·|want|.
func allClose(got, want *ir.Tensor, rtol, atol float64) error {
	if got.DType != want.DType || !ir.EqualShape(got.Shape, want.Shape) {
		return fmt.Errorf("got %v%v, want %v%v", got.DType, got.Shape, want.DType, want.Shape)
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.At(i), want.At(i)
		if math.Abs(g-w) > atol+rtol*math.Abs(w) || math.IsNaN(g) != math.IsNaN(w) {
			return fmt.Errorf("element %d: got %v, want %v", i, g, w)
		}
	}
	return nil
}

func readPB(t *testing.T, path string) *ir.Tensor {
	t.Helper()
	_, x, err := ReadTensorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestMNISTRun runs mnist-7 on its three test data sets with rt.
func TestMNISTRun(t *testing.T) {
	dir := filepath.Join(shared, "models/onnx/mnist-7")
	path := filepath.Join(dir, "mnist-7.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found; skipping", path)
	}
	g, err := Import(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		set := filepath.Join(dir, fmt.Sprintf("test_data_set_%d", i))
		out, err := rt.Run(g, []*ir.Tensor{readPB(t, filepath.Join(set, "input_0.pb"))})
		if err != nil {
			t.Fatal(err)
		}
		if err := allClose(out[0], readPB(t, filepath.Join(set, "output_0.pb")), 1e-3, 1e-5); err != nil {
			t.Errorf("test_data_set_%d: %v", i, err)
		}
	}
}

// TestLightModelsRun runs the light_* zoo models on the ONNX runner's
// deterministic input (element i is i/n) against the reference outputs.
func TestLightModelsRun(t *testing.T) {
	for _, name := range []string{"squeezenet", "shufflenet", "resnet50", "vgg19"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && (name == "resnet50" || name == "vgg19") {
				t.Skip("large model; skipped in -short")
			}
			path := filepath.Join(shared, "models/onnx/light", "light_"+name+".onnx")
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s not found; skipping", path)
			}
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			x := ir.NewTensor(ir.F32, g.Params[0].Type.Shape)
			for i := range x.F32 {
				x.F32[i] = float32(i) / float32(len(x.F32))
			}
			out, err := rt.Run(g, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			want := readPB(t, filepath.Join(shared, "models/onnx/light", "light_"+name+"_output_0.pb"))
			if err := allClose(out[0], want, 1e-3, 1e-7); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestPPOCRClsRun checks that the text-orientation classifier gives a
// probability distribution (no reference output ships with it).
func TestPPOCRClsRun(t *testing.T) {
	path := filepath.Join(shared, "models/onnx/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found; skipping", path)
	}
	g, err := Import(path, Options{Shapes: map[string][]int{"x": {1, 3, 48, 192}}})
	if err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(ir.F32, []int{1, 3, 48, 192})
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i) / 50))
	}
	out, err := rt.Run(g, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	p := out[0].F32
	if len(p) != 2 || math.Abs(float64(p[0]+p[1])-1) > 1e-5 || p[0] < 0 || p[1] < 0 {
		t.Errorf("output %v is not a distribution over 2 classes", p)
	}
}
