package onnx

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// fuzzSeeds are small models that reach most converters.
func fuzzSeeds(t testing.TB) [][]byte {
	q := &ir.Tensor{DType: ir.U8, Shape: []int{}, U8: []uint8{128}}
	return [][]byte{
		newModel(13).input("x", dtFloat, -1, 3, 8, 8).init("w", f32s([]int{4, 3, 3, 3})).
			node("Conv", []string{"x", "w"}, []string{"c"}, aStr("auto_pad", "SAME_UPPER"), aInts("strides", 2, 2)).
			node("MaxPool", []string{"c"}, []string{"p", "i"}, aInts("kernel_shape", 2, 2), aInt("ceil_mode", 1)).
			node("Shape", []string{"p"}, []string{"s"}).init("k", i64s(0)).node("Gather", []string{"s", "k"}, []string{"n"}).
			init("m", i64s(-1)).node("Concat", []string{"n", "m"}, []string{"shape"}, aInt("axis", 0)).
			node("Reshape", []string{"p", "shape"}, []string{"r"}).node("Softmax", []string{"r"}, []string{"y"}).output("y", "i").bytes(t),
		newModel(11).input("x", dtFloat, 2, 3, 4).init("st", i64s(1, -1)).init("en", i64s(1<<40, -5)).init("ax", i64s(2, 1)).init("sp", i64s(1, -1)).
			node("Slice", []string{"x", "st", "en", "ax", "sp"}, []string{"s"}).init("pads", i64s(0, 1, 0, 0, 2, 0)).
			node("Pad", []string{"s", "pads"}, []string{"p"}, aStr("mode", "reflect")).
			node("Split", []string{"p"}, []string{"a", "b"}, aInt("axis", 1)).node("Sum", []string{"a", "b", "a"}, []string{"y"}).output("y").bytes(t),
		newModel(13).input("x", dtFloat, 1, 2, 4).init("s", ir.ScalarF32(0.1)).init("z", q).
			node("QuantizeLinear", []string{"x", "s", "z"}, []string{"q"}).node("DequantizeLinear", []string{"q", "s", "z"}, []string{"d"}).
			init("sc", f32s([]int{3}, 1, 1, 2)).node("Resize", []string{"d", "", "sc"}, []string{"y"}, aStr("mode", "linear")).output("y").bytes(t),
		newModel(9).init("shape", i64s(2, 3)).node("ConstantOfShape", []string{"shape"}, []string{"w"}).
			input("x", dtFloat, 3, 2).node("MatMul", []string{"x", "w"}, []string{"m"}).node("Unsqueeze", []string{"m"}, []string{"y"}, aInts("axes", 0)).output("y").bytes(t),
	}
}

// FuzzImport checks that no model, however malformed, makes the importer
// panic. Run with: go test -fuzz FuzzImport ./frontend/onnx
func FuzzImport(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	paths, _ := filepath.Glob(filepath.Join(shared, "models/onnx/*/*.onnx"))
	nodes, _ := filepath.Glob(filepath.Join(shared, "onnx-node*/*/model.onnx"))
	for _, p := range append(paths, nodes...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	saved := MaxFoldBytes
	MaxFoldBytes = 16 << 20
	defer func() { MaxFoldBytes = saved }()
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ImportBytes("fuzz.onnx", data, Options{Dims: map[string]int{"N": 2}})
		if err == nil && len(g.Results) == 0 {
			t.Fatal("a graph without results and no error")
		}
	})
}

// TestMalformed imports truncated and corrupted copies of real and seed
// models: each must give an error or a graph, never a panic.
func TestMalformed(t *testing.T) {
	models := fuzzSeeds(t)
	if b, err := os.ReadFile(filepath.Join(shared, "models/onnx/mnist-7/mnist-7.onnx")); err == nil {
		models = append(models, b)
	}
	saved := MaxFoldBytes
	MaxFoldBytes = 16 << 20
	defer func() { MaxFoldBytes = saved }()
	rng := rand.New(rand.NewSource(1))
	for mi, m := range models {
		for _, n := range []int{0, 1, 2, 7, len(m) / 3, len(m) / 2, len(m) - 1} {
			_, err := ImportBytes("trunc.onnx", m[:n], Options{})
			if err == nil && n < len(m)/2 {
				t.Errorf("model %d truncated to %d of %d bytes imported without error", mi, n, len(m))
			}
		}
		for i := 0; i < 300; i++ {
			b := append([]byte{}, m...)
			for k := 0; k < 1+rng.Intn(4); k++ {
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			}
			ImportBytes("flip.onnx", b, Options{})
		}
	}
	if _, err := ImportBytes("junk.onnx", []byte("this is not a model"), Options{}); err == nil {
		t.Error("junk imported without error")
	}
}

// TestFuzzSeeds checks that the seed models themselves import and run.
func TestFuzzSeeds(t *testing.T) {
	for i, s := range fuzzSeeds(t) {
		g, err := ImportBytes("seed.onnx", s, Options{})
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
			continue
		}
		if err := ir.Verify(g); err != nil {
			t.Errorf("seed %d: verify: %v", i, err)
		}
		var in []*ir.Tensor
		for _, p := range g.Params {
			in = append(in, f32s(p.Type.Shape))
		}
		if _, err := rt.Run(g, in); err != nil {
			t.Errorf("seed %d: run: %v", i, err)
		}
	}
}
