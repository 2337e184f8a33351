package gosrc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/tests/sharedmodels"
)

// TestDumpMnist writes the generated mnist package to $GOSRC_DUMP (for reading).
func TestDumpMnist(t *testing.T) {
	dir := os.Getenv("GOSRC_DUMP")
	if dir == "" {
		t.Skip("set GOSRC_DUMP=DIR to write the generated mnist-7 package")
	}
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Generate(p, Options{Main: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Write(dir); err != nil {
		t.Fatal(err)
	}
}

// TestDumpMnistInt8 writes the generated int8 mnist-7 package to
// $GOSRC_DUMP_INT8 (for reading).
func TestDumpMnistInt8(t *testing.T) {
	dir := os.Getenv("GOSRC_DUMP_INT8")
	if dir == "" {
		t.Skip("set GOSRC_DUMP_INT8=DIR to write the generated int8 mnist-7 package")
	}
	g, in := quantizedMnist(t)
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Generate(p, Options{Main: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Write(dir); err != nil {
		t.Fatal(err)
	}
	// A test digit as raw bytes, for timing on real data.
	if err := os.WriteFile(filepath.Join(dir, "input0.bin"), in[0][0].Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDumpPersonDetect writes the generated person_detect package to
// $GOSRC_DUMP_PD (for reading and timing).
func TestDumpPersonDetect(t *testing.T) {
	dir := os.Getenv("GOSRC_DUMP_PD")
	if dir == "" {
		t.Skip("set GOSRC_DUMP_PD=DIR to write the generated person_detect package")
	}
	g := sharedmodels.TFLite(t, "tflite-micro/person_detect.tflite")
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Generate(p, Options{Main: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Write(dir); err != nil {
		t.Fatal(err)
	}
}
