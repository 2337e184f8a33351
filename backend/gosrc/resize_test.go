package gosrc

import (
	"math"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/frontend/onnx"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

// resizeConvTCases are the shared resize and conv_transpose cases and
// geometries they leave out: rt's GEMM in blocks of 256 channels and its
// small path (one row, or fewer than four input positions; it skips zero
// weights, which matters for an infinite input), a 1-D grouped, dilated,
// strided one with output padding, a 2× upsampling without epilogue; a
// nearest 2× upsampling with an add fused (ppocr det's neck), trilinear, a
// blend of the middle dim only, and a linear downscale.
func resizeConvTCases() []codegentest.OpCase {
	var cases []codegentest.OpCase
	for _, c := range codegentest.OpCases {
		// The 3-D conv_transposes run as 2-D ones per depth tap (codegen's
		// legalize), summed in another order than rt's: close, not exact.
		if strings.HasPrefix(c.Name, "resize") || strings.HasPrefix(c.Name, "conv_transpose") && !strings.Contains(c.Name, "_3d") {
			cases = append(cases, c)
		}
	}
	convT := func(name string, x, w []int, attrs pir.Attrs, bias bool) codegentest.OpCase {
		return codegentest.OpCase{Name: name, Inputs: [][]int{x}, Build: func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
			wt := codegentest.RandTensor(r, w...)
			wt.F32[1] = 0 // a zero weight, which rt's small GEMM path skips
			args := []*pir.Value{in[0], g.AddConst("w", wt, nil)}
			if bias {
				args = append(args, g.AddConst("b", codegentest.RandTensor(r, w[1]*max(1, attrs["group"].Int)), nil))
			}
			return g.Add("conv_transpose", args, attrs, pir.Type{}, "ct", name)
		}}
	}
	resize := func(name string, x, y []int, attrs pir.Attrs, add bool) codegentest.OpCase {
		ins := [][]int{x}
		if add {
			ins = append(ins, y)
		}
		return codegentest.OpCase{Name: name, Inputs: ins, Build: func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
			v, err := g.Add("resize", in[:1], attrs, pir.TensorType(pir.F32, y...), "rs", name)
			if err != nil || !add {
				return v, err
			}
			return g.Add("add", []*pir.Value{v, in[1]}, nil, pir.Type{}, "a", name)
		}}
	}
	linear := func(coord string) pir.Attrs {
		return pir.Attrs{"mode": pir.Str("linear"), "coord": pir.Str(coord)}
	}
	return append(cases,
		convT("ct_blocked", []int{1, 300, 3, 3}, []int{300, 2, 2, 2}, pir.Attrs{"strides": pir.Ints(2, 2)}, true),
		convT("ct_one_row", []int{1, 4, 5, 5}, []int{4, 1, 1, 1}, pir.Attrs{"strides": pir.Ints(2, 2)}, true),
		convT("ct_few_cols", []int{1, 3, 1, 3}, []int{3, 2, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}, false),
		convT("ct_1d_grouped", []int{2, 4, 6}, []int{4, 3, 3}, pir.Attrs{"strides": pir.Ints(2), "pads": pir.Ints(2, 0),
			"dilations": pir.Ints(2), "group": pir.Int(2), "output_padding": pir.Ints(1)}, true),
		convT("ct_up2", []int{1, 6, 8, 8}, []int{6, 1, 2, 2}, pir.Attrs{"strides": pir.Ints(2, 2)}, false),
		resize("rs_up2_add", []int{1, 4, 5, 5}, []int{1, 4, 10, 10}, pir.Attrs{"mode": pir.Str("nearest"), "coord": pir.Str("asymmetric"),
			"nearest_mode": pir.Str("floor")}, true),
		resize("rs_trilinear", []int{1, 2, 3, 4, 5}, []int{1, 2, 5, 7, 3}, linear("half_pixel"), false),
		resize("rs_middle", []int{2, 3, 4}, []int{2, 5, 4}, linear("half_pixel"), false),
		resize("rs_down", []int{1, 2, 9, 7}, []int{1, 2, 4, 3}, linear("align_corners"), false),
	)
}

// sameBits fails unless got and want are the same bits (any NaN matches
// any NaN).
func sameBits(t *testing.T) func(what string, got, want *pir.Tensor) {
	return func(what string, got, want *pir.Tensor) {
		t.Helper()
		if !pir.EqualShape(got.Shape, want.Shape) || got.DType != pir.F32 || want.DType != pir.F32 {
			t.Fatalf("%s: got %v%v, want %v%v", what, got.DType, got.Shape, want.DType, want.Shape)
		}
		for i, w := range want.F32 {
			g := got.F32[i]
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("%s: element %d = %v (%#x), want %v (%#x)", what, i, g, math.Float32bits(g), w, math.Float32bits(w))
			}
		}
	}
}

// withSpecials is a copy of the inputs with infinities, a NaN, signed
// zeros and ties planted in each (what zero weights must skip).
func withSpecials(vals []*pir.Tensor) []*pir.Tensor {
	specials := []float32{float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0.5, float32(math.Inf(-1)), float32(math.NaN())}
	var out []*pir.Tensor
	for _, v := range vals {
		c := pir.FromF32(v.Shape, append([]float32(nil), v.F32...))
		for j, s := range specials {
			if i := (j*7 + 3) * 11; i < len(c.F32) {
				c.F32[i] = s
			}
		}
		out = append(out, c)
	}
	return out
}

// TestResizeConvTransposeExact: the resize and conv_transpose kernels
// equal rt bit for bit, on the host and built for arm64 (where products
// and sums could fuse into FMAs) under qemu-aarch64, on random inputs and
// on inputs holding infinities and a NaN.
func TestResizeConvTransposeExact(t *testing.T) {
	needGo(t)
	g, vals, err := codegentest.OpsGraph(resizeConvTCases())
	if err != nil {
		t.Fatal(err)
	}
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("host", func(t *testing.T) {
		checkProgramBy(t, g, p, nil, nil, sameBits(t), vals, withSpecials(vals))
	})
	t.Run("arm64", func(t *testing.T) {
		if _, err := exec.LookPath("qemu-aarch64"); err != nil {
			t.Skip("qemu-aarch64 not found (make toolchain installs qemu-user)")
		}
		checkProgramBy(t, g, p, []string{"GOARCH=arm64", "CGO_ENABLED=0"}, []string{"qemu-aarch64"}, sameBits(t), vals, withSpecials(vals))
	})
}

// ppocrDet imports PP-OCRv4 det at 1×3×h×w and draws an input in [-1, 1).
func ppocrDet(t testing.TB, h, w int) (*pir.Graph, []*pir.Tensor) {
	t.Helper()
	path := sharedmodels.Path("onnx/ppocr/ch_PP-OCRv4_det_infer.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("model %s not found (the shared data is ../shared beside the repository)", path)
	}
	g, err := onnx.Import(path, onnx.Options{Shapes: map[string][]int{"x": {1, 3, h, w}}})
	if err != nil {
		t.Fatal(err)
	}
	return g, []*pir.Tensor{codegentest.RandTensor(rand.New(rand.NewSource(3)), g.Params[0].Type.Shape...)}
}

// TestPPOCRDet compiles PP-OCRv4 det (nearest resizes with fused adds,
// 2× transposed convs with batchnorm, relu and sigmoid epilogues) at
// 1×3×96×96 and compares with rt on a random input.
func TestPPOCRDet(t *testing.T) {
	needGo(t)
	g, in := ppocrDet(t, 96, 96)
	checkAgainstRT(t, g, nil, nil, in)
}

// BenchmarkPPOCRDetGo: PP-OCRv4 det at 1×3×96×96, the generated command
// beside rt (benchGenerated's metrics).
func BenchmarkPPOCRDetGo(b *testing.B) {
	g, in := ppocrDet(b, 96, 96)
	benchGenerated(b, g, in)
}

// BenchmarkUpsampleGo: ppocr det's largest upsamplings at 640×640, the
// generated command beside rt: its largest resize (256 channels 20×20 to
// 80×80) nearest and bilinear, and its first transposed conv (24 to 24
// channels 160×160 to 320×320, 2×2 stride 2).
func BenchmarkUpsampleGo(b *testing.B) {
	resize := func(mode string) codegentest.OpCase {
		return codegentest.OpCase{Name: "rs", Inputs: [][]int{{1, 256, 20, 20}}, Build: func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
			a := pir.Attrs{"mode": pir.Str(mode), "coord": pir.Str("asymmetric"), "nearest_mode": pir.Str("floor")}
			return g.Add("resize", in, a, pir.TensorType(pir.F32, 1, 256, 80, 80), "rs", "rs")
		}}
	}
	convT := codegentest.OpCase{Name: "ct", Inputs: [][]int{{1, 24, 160, 160}}, Build: func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		w := g.AddConst("w", codegentest.RandTensor(r, 24, 24, 2, 2), nil)
		return g.Add("conv_transpose", []*pir.Value{in[0], w}, pir.Attrs{"strides": pir.Ints(2, 2)}, pir.Type{}, "ct", "ct")
	}}
	for _, c := range []struct {
		name string
		op   codegentest.OpCase
	}{{"nearest", resize("nearest")}, {"linear", resize("linear")}, {"conv_transpose", convT}} {
		b.Run(c.name, func(b *testing.B) {
			g, vals, err := codegentest.OpsGraph([]codegentest.OpCase{c.op})
			if err != nil {
				b.Fatal(err)
			}
			benchGenerated(b, g, vals)
		})
	}
}
