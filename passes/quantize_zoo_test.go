package passes_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// The acceptance figures beyond mnist-7: mnist.tflite (float, u8 raw-pixel
// input) and pare's LeNets (tests/zoo, input pixel/255), quantized to int8
// with 1,000 MNIST training images, stay within 0.3 points of float top-1 on
// the 10,000 test images (under -short 100 calibration and 200 test images, without the bound).

const mnistTFLite = "../../shared/models/tflite/mnist-autokeras/mnist.tflite"

// asU8 rounds the (raw-pixel) inputs of d to u8 tensors.
func asU8(d *passes.Dataset) {
	for _, in := range d.Inputs {
		y := ir.NewTensor(ir.U8, in[0].Shape)
		for i, f := range in[0].F32 {
			y.U8[i] = uint8(math.Max(0, math.Min(255, math.RoundToEven(float64(f)))))
		}
		in[0] = y
	}
}

// reshaped gives every input of d the shape s (same elements).
func reshaped(d *passes.Dataset, s []int) {
	for _, in := range d.Inputs {
		in[0] = in[0].Reshaped(s)
	}
}

func checkInt8(t *testing.T, g *ir.Graph, calib, test *passes.Dataset) {
	t.Helper()
	fa, err := passes.Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := passes.RunSpec(g, "canonicalize,quantize,fuse", &passes.Context{Data: calib})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := passes.Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, a := reps[0].Before.Bytes, reps[len(reps)-1].After.Bytes
	t.Logf("%s: f32 %.2f %%, int8 %.2f %% on %d test images (%d calibration); weights %d → %d bytes (%.2f×)",
		g.Name, fa.Top1Pct(), qa.Top1Pct(), test.Len(), calib.Len(), b, a, float64(b)/float64(a))
	if test.Len() == 10000 && qa.Top1Pct() < fa.Top1Pct()-0.3 {
		t.Errorf("int8 top-1 %.2f %% is more than 0.3 points below f32 %.2f %%", qa.Top1Pct(), fa.Top1Pct())
	}
	if float64(b)/float64(a) < 3.9 {
		t.Errorf("weights only %.2f× smaller", float64(b)/float64(a))
	}
}

func testImages() int {
	if testing.Short() {
		return 200
	}
	return 10000
}

func calibImages() int {
	if testing.Short() {
		return 100
	}
	return 1000
}

func TestMNISTTFLiteInt8(t *testing.T) {
	if _, err := os.Stat(mnistTFLite); err != nil {
		t.Skipf("%s not found", mnistTFLite)
	}
	g, err := tflite.Import(mnistTFLite, tflite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	shape := g.Params[0].Type.Shape
	if g.Params[0].Type.DType != ir.U8 {
		t.Fatalf("input %v, want u8 raw pixels", g.Params[0].Type)
	}
	calib, test := mnistData(t, "train", calibImages(), 1), mnistData(t, "test", testImages(), 1)
	for _, d := range []*passes.Dataset{calib, test} {
		reshaped(d, shape)
		asU8(d)
	}
	checkInt8(t, g, calib, test)
}

// zooDir holds the LeNets: $PARE_ZOO_DIR, else tests/zoo.
func zooDir() string {
	if d := os.Getenv("PARE_ZOO_DIR"); d != "" {
		return d
	}
	return "../tests/zoo"
}

func TestLeNetsInt8(t *testing.T) {
	for _, name := range []string{"lenet300", "lenet5"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(zooDir(), name+".onnx")
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s not shipped yet (set PARE_ZOO_DIR to a go run ./tests/zoo output)", path)
			}
			g, err := onnx.Import(path, onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			calib, test := mnistData(t, "train", calibImages(), 1.0/255), mnistData(t, "test", testImages(), 1.0/255)
			reshaped(calib, g.Params[0].Type.Shape)
			reshaped(test, g.Params[0].Type.Shape)
			checkInt8(t, g, calib, test)
		})
	}
}
