package gosrc

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/frontend/tflite"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// goUnsupported lists the shared integer cases the Go backend does not
// compile yet; every other case must compile and match rt.
var goUnsupported = map[string]bool{}

// intOpsGraph builds the shared integer cases the Go backend compiles into
// one graph with its inputs.
func intOpsGraph(t *testing.T) (*pir.Graph, []*pir.Tensor) {
	var cases []codegentest.IntCase
	all := append(append([]codegentest.IntCase{}, codegentest.IntCases...), codegentest.RuntimeWeightCases...)
	for _, c := range append(all, codegentest.GatherCases...) {
		if !goUnsupported[c.Name] {
			cases = append(cases, c)
		}
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	return g, vals
}

// TestIntOps compiles every integer case into one package and checks that
// its results equal rt's exactly.
func TestIntOps(t *testing.T) {
	needGo(t)
	g, vals := intOpsGraph(t)
	checkAgainstRT(t, g, nil, nil, vals)
}

// TestTFLiteModels: person_detect and mobilenet_v1_0.25_128_quant equal rt
// on random inputs, bit for bit.
func TestTFLiteModels(t *testing.T) {
	needGo(t)
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g := sharedmodels.TFLite(t, m)
			checkAgainstRT(t, g, nil, nil, codegentest.RandInputs(g, 1), codegentest.RandInputs(g, 2))
		})
	}
}

// quantizedMnist is mnist-7 through canonicalize, quantize (calibrated on
// its three test inputs) and fuse.
func quantizedMnist(t testing.TB) (*pir.Graph, [][]*pir.Tensor) {
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	in := sharedmodels.MnistInputs(t)
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
	return g, in
}

// TestMnistQuantized: the int8 mnist-7 equals rt bit for bit.
func TestMnistQuantized(t *testing.T) {
	needGo(t)
	g, in := quantizedMnist(t)
	checkAgainstRT(t, g, nil, nil, in...)
}

// TestIntArm64: the integer cases and person_detect built with GOARCH=arm64
// and run under qemu-aarch64 equal rt.
func TestIntArm64(t *testing.T) {
	needGo(t)
	if _, err := exec.LookPath("qemu-aarch64"); err != nil {
		t.Skip("qemu-aarch64 not found (make toolchain installs qemu-user)")
	}
	arm := []string{"GOARCH=arm64", "CGO_ENABLED=0"}
	g, vals := intOpsGraph(t)
	checkAgainstRT(t, g, arm, []string{"qemu-aarch64"}, vals)
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g := sharedmodels.TFLite(t, m)
			checkAgainstRT(t, g, arm, []string{"qemu-aarch64"}, codegentest.RandInputs(g, 3))
		})
	}
}

// BenchmarkMnistInt8Go is BenchmarkMnistGo on the int8 mnist-7.
func BenchmarkMnistInt8Go(b *testing.B) {
	g, in := quantizedMnist(b)
	benchGenerated(b, g, in[0])
}

// BenchmarkPersonDetectGo: person_detect's generated command (latency,
// build time, binary size).
func BenchmarkPersonDetectGo(b *testing.B) {
	path := sharedmodels.Path("tflite/tflite-micro/person_detect.tflite")
	g, err := tflite.Import(path, tflite.Options{})
	if err != nil {
		b.Skipf("%s: %v", path, err)
	}
	benchGenerated(b, g, codegentest.RandInputs(g, 1))
}

// TestQuantizeSpecialValues: quantize (quantFQ) on NaN, infinities, ties,
// subnormals and values far out of range equals rt, with a scale divided
// at run time and with powers of two (1: no operation; others multiplied
// by the reciprocal).
func TestQuantizeSpecialValues(t *testing.T) {
	needGo(t)
	for _, s := range []float32{0.01, 1, 0.25, 0x1p-20, 8} {
		g := pir.NewGraph("qspecial")
		x := g.AddParam("x", pir.TensorType(pir.F32, 16))
		q, err := g.Add("quantize", []*pir.Value{x}, nil, codegentest.QT(pir.I8, s, 3), "q", "q")
		if err != nil {
			t.Fatal(err)
		}
		g.Results = []*pir.Value{q}
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		in := pir.FromF32([]int{16}, []float32{nan, inf, -inf, 0.5 * s, 1.5 * s, -0.5 * s, -2.5 * s, 1e30, -1e30, 124.5 * s, -130.5 * s, 0,
			math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1)), 123.5 * s, -131.5 * s})
		checkAgainstRT(t, g, nil, nil, []*pir.Tensor{in})
	}
}

// TestQuantFINearTies: a float requantization (quantFI) of accumulators
// whose product with the scale lies just beyond a half-integer, where
// float32 rounds it to the half-integer and the tie goes to even: equal
// to rt on the host and, built for arm64 (where the product and the
// rounding's add could fuse into one FMADDS), under qemu-aarch64.
func TestQuantFINearTies(t *testing.T) {
	needGo(t)
	const s = float32(0.0023754346) // a weight scale of mnist-7's first conv
	var accs []int64
	for acc := int64(0); acc < 107000 && len(accs) < 24; acc++ {
		f := float32(float32(acc) * s)
		if math.RoundToEven(float64(f)) != math.RoundToEven(float64(acc)*float64(s)) {
			accs = append(accs, acc)
		}
	}
	if len(accs) == 0 {
		t.Fatal("no near ties")
	}
	// gemm of x = zx (a - zx = 0) by B = 1 per column: each column's
	// accumulator is its bias.
	g := pir.NewGraph("neartie")
	x := g.AddParam("x", codegentest.QT(pir.I8, 1, -128, 1, 1))
	n := len(accs)
	sw, zw := make([]float32, n), make([]int64, n)
	for i := range sw {
		sw[i] = s
	}
	wt := pir.Type{DType: pir.I8, Shape: []int{n, 1}, Quant: codegentest.QAxis(0, sw, zw)}
	w := pir.NewTensor(pir.I8, []int{n, 1})
	bias := pir.NewTensor(pir.I32, []int{n})
	for i, a := range accs {
		w.SetInt(i, 1)
		bias.SetInt(i, a)
	}
	y, err := g.Add("gemm", []*pir.Value{x, g.AddConst("w", w, wt.Quant), g.AddConst("b", bias, nil)},
		pir.Attrs{"trans_b": pir.Int(1), "rq": pir.Str("float")}, codegentest.QT(pir.I8, 1, -128), "y", "y")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*pir.Value{y}
	in := pir.NewTensor(pir.I8, []int{1, 1})
	in.SetInt(0, -128)
	checkAgainstRT(t, g, nil, nil, []*pir.Tensor{in})
	if _, err := exec.LookPath("qemu-aarch64"); err != nil {
		t.Skip("qemu-aarch64 not found (make toolchain installs qemu-user)")
	}
	checkAgainstRT(t, g, []string{"GOARCH=arm64", "CGO_ENABLED=0"}, []string{"qemu-aarch64"}, []*pir.Tensor{in})
}
