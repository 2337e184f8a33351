package llvm

import (
	"math/rand"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// intOpsGraph builds every shared integer case (and the runtime-weight
// convs and the gathers at runtime indices) into one graph with its inputs.
func intOpsGraph(t *testing.T) (*pir.Graph, []*pir.Tensor) {
	cases := append(append([]codegentest.IntCase{}, codegentest.IntCases...), codegentest.RuntimeWeightCases...)
	cases = append(cases, codegentest.GatherCases...)
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
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

// TestTFLiteModels: person_detect and mobilenet_v1_0.25_128_quant compiled
// for the host equal rt on random inputs, bit for bit.
func TestTFLiteModels(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g := sharedmodels.TFLite(t, m)
			checkAgainstRT(t, g, host, nil, codegentest.RandInputs(g, 1), codegentest.RandInputs(g, 2))
		})
	}
}

func TestTFLiteModelsAArch64(t *testing.T) {
	needQemu(t)
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g := sharedmodels.TFLite(t, m)
			checkAgainstRT(t, g, aarch64, []string{"qemu-aarch64"}, codegentest.RandInputs(g, 3))
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
	checkAgainstRT(t, g, host, nil, in...)
}

// localIntConv is an integer conv case over the shapes the panel and row
// kernels block unevenly (as codegentest's integer conv cases).
func localIntConv(name string, dt pir.DType, x, w []int, attrs pir.Attrs) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		zx := int64(-3)
		if dt == pir.U8 {
			zx = 120
		}
		xv := add(codegentest.QT(dt, 0.05, zx, x...))
		wt := codegentest.QT(dt, 0.02, 0, w...)
		if dt == pir.U8 {
			wt.Quant.ZeroPoint[0] = 131
		}
		return g.Add("conv", []*pir.Value{xv, codegentest.ConstQ(g, r, wt), codegentest.I32Const(g, r, w[0])}, attrs, codegentest.QT(dt, 0.4, 5), name, name)
	}}
}

// TestIntConvShapes: integer convs on the panel kernel (im2col rows, odd
// K, pointwise from the input) and depthwise rows, equal to rt's.
func TestIntConvShapes(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	cases := []codegentest.IntCase{
		localIntConv("dw_rows_u8", pir.U8, []int{1, 1, 28, 28}, []int{8, 1, 5, 5}, pir.Attrs{"pads": pir.Ints(2, 2, 2, 2)}),
		localIntConv("dw_rows_i8_tflite", pir.I8, []int{1, 3, 10, 45}, []int{6, 1, 3, 3}, pir.Attrs{"rq": pir.Str("tflite"), "group": pir.Int(3), "pads": pir.Ints(1, 1, 1, 1), "strides": pir.Ints(2, 1)}),
		localIntConv("panel_odd_k", pir.I8, []int{1, 3, 20, 21}, []int{9, 3, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}),
		localIntConv("panel_pointwise", pir.U8, []int{1, 16, 7, 9}, []int{13, 16, 1, 1}, nil),
		// Several row blocks, the last overlapping; odd K.
		localIntConv("panel_blocks", pir.I8, []int{1, 63, 30, 8}, []int{5, 63, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}),
		// Column stride 2 (padded planes, even lanes): odd widths, a
		// last vector past the row, uneven pads, dilation.
		localIntConv("panel_stride2", pir.U8, []int{1, 3, 23, 37}, []int{7, 3, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1), "strides": pir.Ints(2, 2)}),
		localIntConv("panel_stride2_7x7", pir.I8, []int{1, 3, 40, 66}, []int{6, 3, 7, 7}, pir.Attrs{"pads": pir.Ints(3, 2, 3, 3), "strides": pir.Ints(2, 2)}),
		localIntConv("panel_stride2_dil", pir.I8, []int{1, 4, 19, 35}, []int{5, 4, 3, 3}, pir.Attrs{"pads": pir.Ints(0, 1, 2, 0), "strides": pir.Ints(1, 2), "dilations": pir.Ints(2, 2)}),
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, host, nil, vals)
}

// extremeIntConv is an i8 conv whose weights are all -128 or 127 and
// whose input zero point is -128 (x - zx up to 255): the largest i16 pair
// products the panel kernel's widened weight pairs meet.
func extremeIntConv(name string, x, w []int, attrs pir.Attrs) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		xv := add(codegentest.QT(pir.I8, 0.05, -128, x...))
		wt := codegentest.QT(pir.I8, 0.02, 0, w...)
		wv := pir.NewTensor(pir.I8, w)
		for i := 0; i < wv.Len(); i++ {
			v := int64(-128)
			if r.Intn(2) == 0 {
				v = 127
			}
			wv.SetInt(i, v)
		}
		return g.Add("conv", []*pir.Value{xv, g.AddConst("w", wv, wt.Quant), codegentest.I32Const(g, r, w[0])}, attrs, codegentest.QT(pir.I8, 4, 5), name, name)
	}}
}

// TestIntConvExtremes: the panel kernel (im2col and pointwise from the
// input or packed in groups of panels, float and TFLite requantization, row blocks of fewer than mrI rows
// and panels of fewer than 16 columns) at the int8 extremes, equal to rt's.
func TestIntConvExtremes(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	cases := []codegentest.IntCase{
		extremeIntConv("ext_panel", []int{1, 5, 9, 11}, []int{7, 5, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}),
		extremeIntConv("ext_panel_tflite", []int{1, 5, 9, 11}, []int{6, 5, 3, 3}, pir.Attrs{"rq": pir.Str("tflite"), "pads": pir.Ints(1, 1, 1, 1)}),
		extremeIntConv("ext_pointwise", []int{1, 64, 5, 7}, []int{11, 64, 1, 1}, nil),
		extremeIntConv("ext_pointwise_tflite", []int{1, 32, 6, 6}, []int{9, 32, 1, 1}, pir.Attrs{"rq": pir.Str("tflite")}),
		// K = 2048: B packed in groups of two panels (the last group
		// one panel and the partial one).
		extremeIntConv("ext_pointwise_groups", []int{1, 2048, 5, 10}, []int{6, 2048, 1, 1}, nil),
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, host, nil, vals)
}
