package llvm

import (
	"math/rand"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/frontend/tflite"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

func qt(dt pir.DType, scale float32, zp int64, shape ...int) pir.Type {
	return pir.Type{DType: dt, Shape: shape, Quant: &pir.Quant{Axis: -1, Scale: []float32{scale}, ZeroPoint: []int64{zp}}}
}

func qaxis(axis int, scales []float32, zps []int64) *pir.Quant {
	return &pir.Quant{Axis: axis, Scale: scales, ZeroPoint: zps}
}

// randInt fills a tensor of an integer dtype with values in its range.
func randInt(r *rand.Rand, t pir.Type) *pir.Tensor {
	x := pir.NewTensor(t.DType, t.Shape)
	lo, hi := t.DType.Range()
	if t.DType == pir.I32 {
		lo, hi = -1000, 1000
	}
	for i := 0; i < x.Len(); i++ {
		x.SetInt(i, lo+r.Int63n(hi-lo+1))
	}
	return x
}

// intCase adds one integer case to g; params holds the input values.
type intCase struct {
	name string
	f    func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error)
}

func constQ(g *pir.Graph, r *rand.Rand, t pir.Type) *pir.Value {
	return g.AddConst("w", randInt(r, t), t.Quant)
}

func i32Const(g *pir.Graph, r *rand.Rand, n int) *pir.Value {
	return g.AddConst("b", randInt(r, pir.Type{DType: pir.I32, Shape: []int{n}}), nil)
}

func intConvCase(name string, dt pir.DType, x, w []int, attrs pir.Attrs, perChannel bool) intCase {
	return intCase{name, func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		zx := int64(-3)
		if dt == pir.U8 {
			zx = 120
		}
		xv := add(qt(dt, 0.05, zx, x...))
		wt := qt(dt, 0.02, 0, w...)
		if dt == pir.U8 {
			wt.Quant.ZeroPoint[0] = 131
		}
		if perChannel {
			s, z := make([]float32, w[0]), make([]int64, w[0])
			for i := range s {
				s[i] = 0.01 + 0.003*float32(i)
			}
			wt.Quant = qaxis(0, s, z)
		}
		hint := qt(dt, 0.4, 5, nil...)
		return g.Add("conv", []*pir.Value{xv, constQ(g, r, wt), i32Const(g, r, w[0])}, attrs, hint, name, name)
	}}
}

func qbinCase(name, op string, attrs pir.Attrs, a, b pir.Type, y pir.Type) intCase {
	return intCase{name, func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		return g.Add(op, []*pir.Value{add(a), add(b)}, attrs, y, name, name)
	}}
}

var intCases = []intCase{
	qbinCase("add_float", "add", nil, qt(pir.I8, 0.04, -3, 2, 3, 5), qt(pir.I8, 0.07, 10, 2, 3, 5), qt(pir.I8, 0.09, -5)),
	qbinCase("add_float_relu_bcast", "add", pir.Attrs{"act": pir.Str("relu")}, qt(pir.U8, 0.04, 128, 2, 3, 5), qt(pir.U8, 0.02, 3, 3, 1), qt(pir.U8, 0.05, 100)),
	qbinCase("sub_float", "sub", nil, qt(pir.I8, 0.04, -3, 2, 3, 5), qt(pir.I8, 0.07, 10, 5), qt(pir.I8, 0.1, 1)),
	qbinCase("mul_float", "mul", nil, qt(pir.U8, 0.04, 120, 2, 3, 5), qt(pir.U8, 0.07, 130, 1, 3, 1), qt(pir.U8, 0.2, 128)),
	qbinCase("add_tflite", "add", pir.Attrs{"rq": pir.Str("tflite")}, qt(pir.I8, 0.04, -3, 2, 3, 5), qt(pir.I8, 0.07, 10, 2, 3, 5), qt(pir.I8, 0.09, -5)),
	qbinCase("add_tflite_clip_bcast", "add", pir.Attrs{"rq": pir.Str("tflite"), "act": pir.Str("clip"), "act_min": pir.Float(-20), "act_max": pir.Float(40)}, qt(pir.I8, 0.03, 2, 1, 4, 3), qt(pir.I8, 0.05, -1, 4, 1), qt(pir.I8, 0.06, 0)),
	qbinCase("sub_tflite_u8", "sub", pir.Attrs{"rq": pir.Str("tflite")}, qt(pir.U8, 0.03, 128, 3, 4), qt(pir.U8, 0.01, 120, 3, 4), qt(pir.U8, 0.04, 128)),
	{"quantize", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(pir.TensorType(pir.F32, 2, 3, 5))
		return g.Add("quantize", []*pir.Value{x}, nil, qt(pir.I8, 0.01, 3), "q", "q")
	}},
	{"quantize_tflite", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(pir.TensorType(pir.F32, 2, 3, 5))
		return g.Add("quantize", []*pir.Value{x}, pir.Attrs{"rq": pir.Str("tflite")}, qt(pir.I8, 0.01, 3), "q", "q")
	}},
	{"quantize_axis", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(pir.TensorType(pir.F32, 2, 3, 5))
		return g.Add("quantize", []*pir.Value{x}, nil, pir.Type{DType: pir.U8, Quant: qaxis(1, []float32{0.01, 0.02, 0.005}, []int64{128, 0, 7})}, "q", "q")
	}},
	{"dequantize", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		return g.Add("dequantize", []*pir.Value{add(qt(pir.I8, 0.03, -7, 4, 6))}, nil, pir.Type{}, "d", "d")
	}},
	{"requantize_float", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		return g.Add("requantize", []*pir.Value{add(qt(pir.I8, 0.03, -7, 4, 6))}, nil, qt(pir.U8, 0.05, 100), "r", "r")
	}},
	{"requantize_tflite", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		return g.Add("requantize", []*pir.Value{add(qt(pir.I8, 0.03, -7, 4, 6))}, pir.Attrs{"rq": pir.Str("tflite")}, qt(pir.I8, 0.011, 2), "r", "r")
	}},
	intConvCase("conv_i8_tflite", pir.I8, []int{1, 3, 9, 8}, []int{5, 3, 3, 3}, pir.Attrs{"rq": pir.Str("tflite"), "pads": pir.Ints(1, 1, 1, 1), "strides": pir.Ints(2, 1)}, true),
	intConvCase("conv_u8_tflite", pir.U8, []int{1, 3, 9, 8}, []int{4, 3, 3, 2}, pir.Attrs{"rq": pir.Str("tflite"), "pads": pir.Ints(0, 1, 1, 0)}, false),
	intConvCase("conv_i8_float_relu", pir.I8, []int{2, 4, 6, 6}, []int{6, 2, 3, 3}, pir.Attrs{"group": pir.Int(2), "act": pir.Str("relu")}, true),
	intConvCase("conv_pointwise", pir.U8, []int{1, 8, 5, 5}, []int{6, 8, 1, 1}, nil, false),
	intConvCase("conv_depthwise", pir.I8, []int{1, 4, 7, 7}, []int{8, 1, 3, 3}, pir.Attrs{"rq": pir.Str("tflite"), "group": pir.Int(4), "pads": pir.Ints(1, 1, 1, 1), "strides": pir.Ints(2, 2)}, true),
	{"gemm_tflite", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(qt(pir.I8, 0.05, 4, 3, 20))
		w := constQ(g, r, qt(pir.I8, 0.01, 0, 7, 20))
		return g.Add("gemm", []*pir.Value{x, w, i32Const(g, r, 7)}, pir.Attrs{"trans_b": pir.Int(1), "rq": pir.Str("tflite")}, qt(pir.I8, 0.3, -2), "g", "g")
	}},
	{"matmul_u8", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(qt(pir.U8, 0.05, 130, 2, 3, 9))
		w := constQ(g, r, pir.Type{DType: pir.U8, Shape: []int{9, 5}, Quant: qaxis(1, []float32{0.01, 0.02, 0.03, 0.01, 0.02}, []int64{128, 120, 0, 255, 3})})
		return g.Add("matmul", []*pir.Value{x, w}, nil, qt(pir.U8, 0.2, 128), "m", "m")
	}},
	{"matmul_runtime_i32", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		a := add(qt(pir.U8, 1, 12, 3, 4))
		b := add(qt(pir.I8, 1, -5, 4, 6))
		return g.Add("matmul", []*pir.Value{a, b}, nil, pir.Type{DType: pir.I32}, "m", "m")
	}},
	{"avgpool_tflite", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(qt(pir.I8, 0.1, -1, 1, 3, 7, 6))
		return g.Add("avgpool", []*pir.Value{x}, pir.Attrs{"rq": pir.Str("tflite"), "kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 1)}, x.Type, "a", "a")
	}},
	{"maxpool_u8", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(qt(pir.U8, 0.1, 9, 1, 2, 7, 6))
		return g.Add("maxpool", []*pir.Value{x}, pir.Attrs{"kernel": pir.Ints(2, 3), "strides": pir.Ints(2, 1), "pads": pir.Ints(0, 1, 1, 1)}, x.Type, "a", "a")
	}},
	{"softmax_tflite", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(qt(pir.I8, 0.07, 3, 3, 11))
		return g.Add("softmax", []*pir.Value{x}, pir.Attrs{"axis": pir.Int(1), "rq": pir.Str("tflite")}, qt(pir.I8, 1.0/256, -128), "s", "s")
	}},
	{"softmax_u8_long", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(qt(pir.U8, 0.13, 96, 1, 1001))
		return g.Add("softmax", []*pir.Value{x}, pir.Attrs{"axis": pir.Int(1), "rq": pir.Str("tflite")}, qt(pir.U8, 1.0/256, 0), "s", "s")
	}},
	intBinCase("add", pir.I8, []int{3, 4}, []int{4}), intBinCase("sub", pir.I32, []int{3, 4}, []int{3, 4}),
	intBinCase("mul", pir.I16, []int{2, 5}, []int{2, 1}), intBinCase("div", pir.I8, []int{40}, []int{40}),
	intBinCase("div", pir.U8, []int{40}, []int{1}), intBinCase("max", pir.U8, []int{6}, []int{6}),
	intBinCase("min", pir.I16, []int{6}, []int{6}),
	{"relu_i8", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		return g.Add("relu", []*pir.Value{add(qt(pir.I8, 0.1, -20, 4, 5))}, nil, pir.Type{}, "r", "r")
	}},
	{"clip_u8", func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		return g.Add("clip", []*pir.Value{add(qt(pir.U8, 0.1, 20, 4, 5))}, pir.Attrs{"min": pir.Float(10.5), "max": pir.Float(200)}, pir.Type{}, "c", "c")
	}},
}

func intBinCase(op string, dt pir.DType, a, b []int) intCase {
	return intCase{op + "_" + dt.String(), func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(pir.Type{DType: dt, Shape: a})
		y := add(pir.Type{DType: dt, Shape: b})
		return g.Add(op, []*pir.Value{x, y}, nil, pir.Type{}, op, op)
	}}
}

// intOpsGraph builds every integer case into one graph with its inputs.
func intOpsGraph(t *testing.T) (*pir.Graph, []*pir.Tensor) {
	r := rand.New(rand.NewSource(11))
	g := pir.NewGraph("intops")
	var vals []*pir.Tensor
	for _, c := range intCases {
		add := func(ty pir.Type) *pir.Value {
			if ty.DType == pir.F32 {
				vals = append(vals, randTensor(r, ty.Shape...))
				for i := range vals[len(vals)-1].F32 {
					vals[len(vals)-1].F32[i] *= 2
				}
			} else {
				vals = append(vals, randInt(r, ty))
			}
			return g.AddParam(c.name, ty)
		}
		v, err := c.f(g, r, add)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g.Results = append(g.Results, v)
	}
	return g, vals
}

// TestIntOps compiles every integer case into one executable and checks
// that its results equal rt's exactly.
func TestIntOps(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	g, vals := intOpsGraph(t)
	checkAgainstRT(t, g, host, nil, vals)
}

func needQemu(t *testing.T) {
	t.Helper()
	needTools(t)
	for _, n := range []string{"aarch64-linux-gnu-gcc", "qemu-aarch64"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not found (make toolchain installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user)", n)
		}
	}
}

var aarch64 = Target{Triple: "aarch64-linux-gnu", Features: "+neon"}

func TestIntOpsAArch64(t *testing.T) {
	needQemu(t)
	g, vals := intOpsGraph(t)
	checkAgainstRT(t, g, aarch64, []string{"qemu-aarch64"}, vals)
}

func tfliteModel(t *testing.T, rel string) *pir.Graph { return tfliteModelB(t, rel) }

func tfliteModelB(t testing.TB, rel string) *pir.Graph {
	t.Helper()
	path := filepath.Join(modelsDir, "tflite", rel)
	g, err := tflite.Import(path, tflite.Options{})
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	return g
}

func randInputs(g *pir.Graph, seed int64) []*pir.Tensor {
	r := rand.New(rand.NewSource(seed))
	var in []*pir.Tensor
	for _, p := range g.Params {
		in = append(in, randInt(r, p.Type))
	}
	return in
}

// TestTFLiteModels: person_detect and mobilenet_v1_0.25_128_quant compiled
// for the host equal rt on random inputs, bit for bit.
func TestTFLiteModels(t *testing.T) {
	if testing.Short() {
		t.Skip("compiling both models takes about a minute on a loaded machine")
	}
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g := tfliteModel(t, m)
			checkAgainstRT(t, g, host, nil, randInputs(g, 1), randInputs(g, 2))
		})
	}
}

func TestTFLiteModelsAArch64(t *testing.T) {
	if testing.Short() {
		t.Skip("qemu model runs are slow")
	}
	needQemu(t)
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g := tfliteModel(t, m)
			checkAgainstRT(t, g, aarch64, []string{"qemu-aarch64"}, randInputs(g, 3))
		})
	}
}

// TestMnistQuantized: mnist-7 through canonicalize, quantize (calibrated on
// its three test inputs) and fuse, compiled, equals rt bit for bit.
func TestMnistQuantized(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	g := loadModel(t, "onnx/mnist-7/mnist-7.onnx")
	in := mnistInputs(t)
	ctx := &passes.Context{Data: &passes.Dataset{Name: "mnist-7 test sets", Inputs: in}}
	if _, err := passes.RunSpec(g, "canonicalize,quantize,fuse", ctx); err != nil {
		t.Fatal(err)
	}
	quantized := false
	for _, v := range g.Values {
		if v.Op != nil && v.Op.Name == "conv" && v.Args[0].Type.DType == pir.I8 {
			quantized = true
		}
	}
	if !quantized {
		t.Fatalf("quantize left no int8 conv:\n%s", g)
	}
	checkAgainstRT(t, g, host, nil, in...)
}
