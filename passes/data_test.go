package passes

import (
	"os"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

// mnistForTest loads mnist-7 and n calibration images (raw pixels).
func mnistForTest(t testing.TB, n int) (*ir.Graph, *Dataset) {
	t.Helper()
	const path = "../../shared/models/onnx/mnist-7/mnist-7.onnx"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found: %v", path, err)
	}
	g, err := onnx.Import(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g, mnistSplitForTest(t, "train", n)
}

// mnistSplitForTest loads n images of an MNIST split (raw pixels).
func mnistSplitForTest(t testing.TB, split string, n int) *Dataset {
	t.Helper()
	s, err := dataset.MNIST(split)
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	in, labels, err := s.Limit(n).Tensors([]int{1, 1, 28, 28}, dataset.Preprocess{Scale: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := &Dataset{Name: "mnist:" + split, Labels: labels}
	for _, x := range in {
		d.Inputs = append(d.Inputs, []*ir.Tensor{x})
	}
	return d
}
