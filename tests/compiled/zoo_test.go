package compiled

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/backend/gosrc"
	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

// zooModel is one model of ../shared/models for TestZooCompiled.
type zooModel struct {
	rel    string
	shapes map[string][]int // ONNX input shapes (dynamic dimensions)
	long   bool             // only without -short (rt is slow on it)
}

// zooModels is every model that ships in ../shared/models: real
// architectures nobody here wrote the tests for.
var zooModels = []zooModel{
	{rel: "onnx/mnist-7/mnist-7.onnx"},
	{rel: "onnx/light/light_squeezenet.onnx"},
	{rel: "onnx/light/light_shufflenet.onnx"},
	{rel: "onnx/light/light_resnet50.onnx", long: true},
	{rel: "onnx/light/light_vgg19.onnx", long: true},
	{rel: "onnx/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", shapes: map[string][]int{"x": {1, 3, 48, 192}}},
	{rel: "onnx/ppocr/ch_PP-OCRv4_det_infer.onnx", shapes: map[string][]int{"x": {1, 3, 96, 96}}},
	{rel: "tflite/tflite-micro/hello_world_float.tflite"},
	{rel: "tflite/tflite-micro/hello_world_int8.tflite"},
	{rel: "tflite/tflite-micro/person_detect.tflite"},
	{rel: "tflite/mnist-autokeras/mnist.tflite"},
	{rel: "tflite/coral/mobilenet_v1_0.25_128_quant.tflite"},
	{rel: "tflite/coral/tf2_mobilenet_v2_1.0_224_ptq.tflite", long: true},
}

// zooInputs draws one input set for g: floats uniform in [0, 1), integers
// over their dtype's range.
func zooInputs(g *ir.Graph, seed int64) []*ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	var in []*ir.Tensor
	for _, p := range g.Params {
		if p.Type.DType != ir.F32 {
			in = append(in, codegentest.RandInt(r, p.Type))
			continue
		}
		x := ir.NewTensor(ir.F32, p.Type.Shape)
		for i := range x.F32 {
			x.F32[i] = r.Float32()
		}
		in = append(in, x)
	}
	return in
}

func loadZoo(t *testing.T, m zooModel) *ir.Graph {
	path := filepath.Join(shared, m.rel)
	if _, err := os.Stat(path); err != nil {
		t.Skip("../shared not found: ", err)
	}
	var g *ir.Graph
	var err error
	if strings.HasSuffix(m.rel, ".tflite") {
		g, err = tflite.Import(path, tflite.Options{})
	} else {
		g, err = onnx.Import(path, onnx.Options{Shapes: m.shapes})
	}
	if err != nil {
		t.Fatalf("%s: %v", m.rel, err)
	}
	return g
}

// TestZooCompiled compiles every shipped model with both backends (the
// float ones also after pare's int8 quantization, calibrated on two
// random inputs) and checks the executables against rt on a random input:
// integer outputs identical, float ones within 1e-4 relative. The large
// models (resnet50, vgg19, mobilenet v2) run without -short only.
func TestZooCompiled(t *testing.T) {
	tg := needLLVM(t)
	_, goErr := exec.LookPath("go")
	for _, m := range zooModels {
		name := strings.TrimSuffix(filepath.Base(m.rel), filepath.Ext(m.rel))
		t.Run(name, func(t *testing.T) {
			if m.long && testing.Short() {
				t.Skip("-short: rt is slow on this model (make test-long runs it)")
			}
			g := loadZoo(t, m)
			float := false
			for _, p := range g.Params {
				float = float || p.Type.DType == ir.F32
			}
			// check runs g in rt and compiled (LLVM, and with goToo the Go
			// backend) and compares.
			check := func(t *testing.T, g *ir.Graph, goToo bool) {
				in := zooInputs(g, 7)
				want, err := rt.Run(g, in)
				if err != nil {
					t.Fatalf("rt: %v", err)
				}
				compare := func(backend string, got []*ir.Tensor) {
					for i := range want {
						codegentest.CloseEnough(t, fmt.Sprintf("%s %s output %d", g.Name, backend, i), got[i], want[i], 1e-4)
					}
				}
				pl, err := codegen.LowerWith(g, codegen.Options{Backend: "llvm"})
				if err != nil {
					t.Fatalf("lower for llvm: %v", err)
				}
				x, err := llvm.BuildProgram(pl, tg)
				if err != nil {
					t.Fatalf("llvm: %v", err)
				}
				defer x.Close()
				got, err := x.Run(in)
				if err != nil {
					t.Fatalf("llvm run: %v", err)
				}
				compare("llvm", got)
				if on, _, _, _ := llvm.MaddubsConvs(pl, tg); on > 0 {
					t.Logf("%d convs on vpmaddubsw", on)
				}
				if goErr != nil || !goToo {
					return
				}
				pg, err := codegen.LowerWith(g, codegen.Options{Backend: "go"})
				if err != nil {
					t.Fatalf("lower for go: %v", err)
				}
				gx, err := gosrc.BuildProgram(pg)
				if err != nil {
					t.Fatalf("go: %v", err)
				}
				defer gx.Close()
				if got, err = gx.Run(in); err != nil {
					t.Fatalf("go run: %v", err)
				}
				compare("go", got)
			}
			t.Run("as-shipped", func(t *testing.T) { check(t, g, true) })
			if !float {
				return
			}
			// quantized checks the model quantized by quantizer (calibrated
			// on two random input sets).
			quantized := func(t *testing.T, quantizer string, goToo bool) {
				q := loadZoo(t, m)
				d := &passes.Dataset{Name: "random", Inputs: [][]*ir.Tensor{zooInputs(q, 1), zooInputs(q, 2)}}
				if _, err := passes.RunSpec(q, "canonicalize,"+quantizer+",fuse", &passes.Context{Data: d}); err != nil {
					t.Fatalf("quantize: %v", err)
				}
				check(t, q, goToo)
			}
			t.Run("int8", func(t *testing.T) { quantized(t, "quantize", true) })
			// Pair-bound weights take the LLVM backend's vpmaddubsw
			// kernel on AVX2 hosts without VNNI (the Go backend has no
			// such kernel: its int8 run above covers it).
			t.Run("int8-pair-bound", func(t *testing.T) { quantized(t, "quantize{pair-bound=true}", false) })
		})
	}
}
