// Package sharedmodels loads the models of ../shared/models (beside the
// repository) for tests; a test whose model is absent skips and says
// which path it looked for.
package sharedmodels

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
)

// Path is rel under ../shared/models, found from the repository root (the
// directory above the working directory that holds go.mod).
func Path(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("../shared/models", rel)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "..", "shared", "models", rel)
		}
		if filepath.Dir(d) == d {
			return filepath.Join("../shared/models", rel)
		}
	}
}

// need skips t when the model file is absent and returns its path.
func need(t testing.TB, rel string) string {
	t.Helper()
	p := Path(rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("model %s not found (../shared beside the checkout)", p)
	}
	return p
}

// ONNX imports an ONNX model of ../shared/models.
func ONNX(t testing.TB, rel string) *ir.Graph {
	t.Helper()
	g, err := onnx.Import(need(t, rel), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TFLite imports a TFLite model of ../shared/models/tflite.
func TFLite(t testing.TB, rel string) *ir.Graph {
	t.Helper()
	g, err := tflite.Import(need(t, filepath.Join("tflite", rel)), tflite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// MnistInputs are mnist-7's three shipped test inputs, one set each.
func MnistInputs(t testing.TB) [][]*ir.Tensor {
	t.Helper()
	var sets [][]*ir.Tensor
	for i := 0; i < 3; i++ {
		_, in, err := onnx.ReadTensorFile(need(t, fmt.Sprintf("onnx/mnist-7/test_data_set_%d/input_0.pb", i)))
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, []*ir.Tensor{in})
	}
	return sets
}
