package passes_test

import (
	"os"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

const mnist7 = "../../shared/models/onnx/mnist-7/mnist-7.onnx"

// mnistData loads n images of an MNIST split as a pass dataset (raw 0..255 pixels).
func mnistData(t testing.TB, split string, n int, scale float32) *passes.Dataset {
	t.Helper()
	s, err := dataset.MNIST(split)
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	s = s.Limit(n)
	in, labels, err := s.Tensors([]int{1, 1, 28, 28}, dataset.Preprocess{Scale: scale, Std: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := &passes.Dataset{Name: s.Name, Labels: labels}
	for _, x := range in {
		d.Inputs = append(d.Inputs, []*ir.Tensor{x})
	}
	return d
}

func loadMNIST7(t testing.TB) *ir.Graph {
	t.Helper()
	if _, err := os.Stat(mnist7); err != nil {
		t.Skipf("%s not found: %v", mnist7, err)
	}
	g, err := onnx.Import(mnist7, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMNIST7Int8 is the acceptance test: int8 weights and activations,
// 1,000 calibration images from MNIST train, within 0.3 points of 98.91 %
// on the 10,000 test images, with 4× smaller weights.
func TestMNIST7Int8(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 300
	}
	g := loadMNIST7(t)
	calib := mnistData(t, "train", 1000, 1)
	test := mnistData(t, "test", n, 1)
	fa, err := passes.Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := passes.RunSpec(g, "canonicalize,quantize{w=int8,a=int8},fuse", &passes.Context{Data: calib})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := passes.Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, a := reps[0].Before.Bytes, reps[len(reps)-1].After.Bytes
	t.Logf("f32 %.2f %%, int8 %.2f %% on %d test images; weights %d → %d bytes (%.2f×)", fa.Top1Pct(), qa.Top1Pct(), n, b, a, float64(b)/float64(a))
	if n == 10000 && (qa.Top1Pct() < 98.91-0.3) {
		t.Errorf("int8 top-1 %.2f %% is more than 0.3 points below 98.91 %%", qa.Top1Pct())
	}
	if float64(b)/float64(a) < 3.9 {
		t.Errorf("weights only %.2f× smaller", float64(b)/float64(a))
	}
}
