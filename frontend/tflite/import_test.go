package tflite

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// sharedDir holds the shared models (CI has shared/ beside the checkout).
const sharedDir = "../../../shared/models/tflite"

// sharedModel returns the path of a shared model, skipping the test when absent.
func sharedModel(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared model %s not found (%v)", p, err)
	}
	return p
}

func importShared(t testing.TB, rel string) *ir.Graph {
	t.Helper()
	g, err := Import(sharedModel(t, rel), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return g
}

func countOps(g *ir.Graph) map[string]int {
	n := map[string]int{}
	for _, v := range g.Values {
		n[v.Op.Name]++
	}
	return n
}

var sharedModels = []struct {
	path       string
	in, out    string // parameter and result types
	transposes int    // transpose ops in the imported graph
	ops        map[string]int
}{
	{"tflite-micro/hello_world_float.tflite", "f32[1,1]", "f32[1,1]", 0, map[string]int{"gemm": 3, "relu": 2}},
	{"tflite-micro/hello_world_int8.tflite", "i8[1,1] q(0.024480116,-128)", "i8[1,1] q(0.008290957,5)", 0, map[string]int{"gemm": 3}},
	{"tflite-micro/person_detect.tflite", "i8[1,96,96,1] q(0.007843138,-1)", "i8[1,2] q(0.00390625,-128)", 0,
		map[string]int{"conv": 28, "avgpool": 1, "softmax": 1}},
	{"mnist-autokeras/mnist.tflite", "u8[1,28,28]", "f32[1,10]", 1,
		map[string]int{"cast": 1, "conv": 2, "maxpool": 1, "gemm": 1, "softmax": 1}},
	{"coral/mobilenet_v1_0.25_128_quant.tflite", "u8[1,128,128,3] q(0.0078125,128)", "u8[1,1001] q(0.00390625,0)", 1,
		map[string]int{"conv": 28, "avgpool": 1, "softmax": 1}},
	{"coral/tf2_mobilenet_v2_1.0_224_ptq.tflite", "u8[1,224,224,3] q(0.007843138,127)", "u8[1,1001] q(0.00390625,0)", 1,
		map[string]int{"conv": 53, "add": 10, "reduce_mean": 1, "softmax": 1, "requantize": 2}},
}

// Every shared model imports, verifies, keeps its NHWC interface, and has
// no transposes inside its conv chains.
func TestSharedModels(t *testing.T) {
	for _, m := range sharedModels {
		t.Run(filepath.Base(m.path), func(t *testing.T) {
			g := importShared(t, m.path)
			if len(g.Params) != 1 || len(g.Results) != 1 {
				t.Fatalf("%d params, %d results", len(g.Params), len(g.Results))
			}
			if s := g.Params[0].Type.String(); s != m.in {
				t.Errorf("input %s, want %s", s, m.in)
			}
			if s := g.Results[0].Type.String(); s != m.out {
				t.Errorf("output %s, want %s", s, m.out)
			}
			n := countOps(g)
			if n["transpose"] != m.transposes {
				t.Errorf("%d transposes, want %d", n["transpose"], m.transposes)
			}
			for op, want := range m.ops {
				if n[op] != want {
					t.Errorf("%d %s ops, want %d (all: %v)", n[op], op, want, n)
				}
			}
			for _, v := range g.Values {
				if v.Type.Quant != nil && v.Op.AttrDef("rq") != nil && v.Str("rq") != "tflite" {
					t.Errorf("%s: integer op without rq=tflite", v.Where())
				}
			}
		})
	}
}

// person_detect's depthwise weights are quantized along dimension 3 of
// [1,H,W,C]: after the transpose to [C,1,H,W] the axis is 0.
func TestDepthwisePerChannel(t *testing.T) {
	g := importShared(t, "tflite-micro/person_detect.tflite")
	n := 0
	for _, v := range g.Values {
		if v.Op.Name != "conv" || v.Int("group") == 1 {
			continue
		}
		n++
		w := v.Args[1].Type
		if w.Shape[1] != 1 || w.Shape[0] != v.Args[0].Type.Shape[1] {
			t.Errorf("%s: depthwise weights %v for input %v", v.Where(), w.Shape, v.Args[0].Type.Shape)
		}
		if q := w.Quant; q == nil || q.Axis != 0 || len(q.Scale) != w.Shape[0] {
			t.Errorf("%s: weight quantization %v, want per-channel on axis 0", v.Where(), q)
		}
		if b := v.Args[2].Type; b.DType != ir.I32 || b.Quant == nil || b.Quant.Axis != 0 {
			t.Errorf("%s: bias %v", v.Where(), b)
		}
	}
	if n != 13 { // the 14th, on the 1-channel input, is an ordinary conv (group 1)
		t.Errorf("%d depthwise convs, want 13", n)
	}
}

const convO, convH, convW, convI = 3, 2, 2, 4

// convModel is a float CONV_2D with weights 0, 1, 2, ... in OHWI order.
func convModel(external bool) *tModel {
	w := make([]float32, convO*convH*convW*convI)
	for i := range w {
		w[i] = float32(i)
	}
	return &tModel{
		tensors: []tTensor{
			{name: "x", shape: []int32{1, 5, 5, convI}, typ: fb.TensorTypeFLOAT32},
			{name: "w", shape: []int32{convO, convH, convW, convI}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(w...)},
			{name: "y", shape: []int32{1, 4, 4, convO}, typ: fb.TensorTypeFLOAT32},
		},
		ops:    []tOp{{code: fb.BuiltinOperatorCONV_2D, in: []int32{0, 1, -1}, out: []int32{2}, optType: fb.BuiltinOptionsConv2DOptions, opt: convOptions(fb.PaddingVALID, 1, 1, fb.ActivationFunctionTypeNONE)}},
		inputs: []int32{0}, outputs: []int32{2},
		external: external,
	}
}

// A conv's OHWI weights become OIHW: element [o,h,w,i] lands at [o,i,h,w].
func TestConvWeightsTransposed(t *testing.T) {
	const O, H, W, I = convO, convH, convW, convI
	for _, external := range []bool{false, true} {
		g, err := ImportBytes("conv.tflite", convModel(external).build(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		var conv *ir.Value
		for _, v := range g.Values {
			if v.Op.Name == "conv" {
				conv = v
			}
		}
		wt := conv.Args[1].Const
		if !ir.EqualShape(wt.Shape, []int{O, I, H, W}) {
			t.Fatalf("weights %v", wt.Shape)
		}
		for o := 0; o < O; o++ {
			for i := 0; i < I; i++ {
				for h := 0; h < H; h++ {
					for x := 0; x < W; x++ {
						if got, want := wt.F32[((o*I+i)*H+h)*W+x], float32(((o*H+h)*W+x)*I+i); got != want {
							t.Fatalf("external=%v: w[%d,%d,%d,%d] = %v, want %v", external, o, i, h, x, got, want)
						}
					}
				}
			}
		}
		if n := countOps(g)["transpose"]; n != 2 {
			t.Errorf("%d transposes, want 2 (in and out)", n)
		}
	}
}

func TestUnsupportedOp(t *testing.T) {
	for _, c := range []struct {
		code   fb.BuiltinOperator
		custom string
		want   string
	}{
		{fb.BuiltinOperatorLSTM, "", "unsupported op LSTM"},
		{fb.BuiltinOperatorCUSTOM, "TFLite_PostProcess_Unknown", `unsupported op CUSTOM (custom code "TFLite_PostProcess_Unknown")`},
		{fb.BuiltinOperatorSTABLEHLO_ADD, "", "unsupported op STABLEHLO_ADD"},
	} {
		m := &tModel{
			tensors: []tTensor{
				{name: "x", shape: []int32{1, 4}, typ: fb.TensorTypeFLOAT32},
				{name: "y", shape: []int32{1, 4}, typ: fb.TensorTypeFLOAT32},
				{name: "z", shape: []int32{1, 4}, typ: fb.TensorTypeFLOAT32},
			},
			ops: []tOp{
				{code: fb.BuiltinOperatorRELU, in: []int32{0}, out: []int32{1}},
				{code: c.code, custom: c.custom, in: []int32{1}, out: []int32{2}},
			},
			inputs: []int32{0}, outputs: []int32{2},
		}
		_, err := ImportBytes("bad.tflite", m.build(), Options{})
		if err == nil {
			t.Fatalf("%v imported", c.code)
		}
		for _, want := range []string{"bad.tflite", "subgraph 0 operator 1", c.want, "supported: ", "CONV_2D", "DEPTHWISE_CONV_2D"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
}

func TestSupportedOps(t *testing.T) {
	want := "ABS ADD ADD_N ARG_MAX ARG_MIN AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND BROADCAST_TO CAST CEIL CONCATENATION " +
		"CONV_2D COS CUMSUM CUSTOM Convolution2DTransposeBias CUSTOM MaxPoolingWithArgmax2D CUSTOM MaxUnpooling2D CUSTOM TFLite_Detection_PostProcess CUSTOM TransformLandmarks DENSIFY DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FAKE_QUANT " +
		"FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GELU GREATER GREATER_EQUAL HARD_SWISH L2_NORMALIZATION " +
		"LEAKY_RELU LESS LESS_EQUAL LOCAL_RESPONSE_NORMALIZATION LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC " +
		"LOG_SOFTMAX MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU " +
		"QUANTIZE RANGE REDUCE_MAX REDUCE_MIN REDUCE_PROD RELU RELU6 RELU_0_TO_1 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR " +
		"RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT SELECT_V2 SHAPE SIGN SIN SLICE SOFTMAX SPACE_TO_BATCH_ND " +
		"SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM TANH TILE TOPK_V2 TRANSPOSE " +
		"TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNIDIRECTIONAL_SEQUENCE_RNN UNPACK ZEROS_LIKE"
	var got []string
	for _, s := range SupportedOps() {
		got = append(got, s.Op)
		if s.Notes == "" {
			t.Errorf("%s has no notes", s.Op)
		}
	}
	if strings.Join(got, " ") != want {
		t.Errorf("SupportedOps:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
}

// Truncated and corrupted models are errors, never panics.
func TestMalformed(t *testing.T) {
	data, err := os.ReadFile(sharedModel(t, "tflite-micro/hello_world_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]byte{nil, []byte("TFL3"), []byte("\x00\x00\x00\x00TFL3"), []byte("\xff\xff\xff\x7fTFL3....")} {
		if _, err := ImportBytes("m.tflite", c, Options{}); err == nil {
			t.Errorf("%q imported", c)
		}
	}
	if _, err := ImportBytes("m.tflite", append([]byte{1, 2, 3, 4, 'X', 'Y', 'Z', 'W'}, data[8:]...), Options{}); err == nil || !strings.Contains(err.Error(), "not a TFLite model") {
		t.Errorf("wrong identifier: %v", err)
	}
	for n := 0; n < len(data); n += 7 {
		ImportBytes("m.tflite", data[:n], Options{}) // must not panic
	}
	mut := make([]byte, len(data))
	for i := 0; i < len(data); i++ {
		for _, x := range []byte{0xff, 0x80, 0x01} {
			copy(mut, data)
			mut[i] ^= x
			if g, err := ImportBytes("m.tflite", mut, Options{}); err == nil {
				if err := ir.Verify(g); err != nil {
					t.Errorf("byte %d ^ %#x: imported graph does not verify: %v", i, x, err)
				}
			}
		}
	}
}

// FuzzImport seeds with the small shared models (the larger ones make the
// fuzzer crawl; TestSharedModels covers them) and synthetic ones, one with
// its buffers after the flatbuffer, MediaPipe's custom ops and
// TFLite_Detection_PostProcess (FlexBuffers options).
func FuzzImport(f *testing.F) {
	f.Add(convModel(false).build())
	f.Add(convModel(true).build())
	f.Add(sparseSeed())
	f.Add(customFamily(rand.New(rand.NewSource(1))).build())
	if op, _, _ := detCases[0].model(rand.New(rand.NewSource(1))); true {
		f.Add(op.model().build())
	}
	for _, c := range moveCases {
		ins := []opIn{f32In(ints32(c.in)...)}
		if c.consts != nil {
			ins = append(ins, c.consts(fb.TensorTypeFLOAT32)...)
		}
		op := oneOp{code: c.code, ins: ins, optType: c.optType, opt: c.opt}
		for _, s := range c.outs {
			op.outs = append(op.outs, f32In(ints32(s)...))
		}
		f.Add(op.model().build())
	}
	for _, m := range sharedModels {
		p := filepath.Join(sharedDir, m.path)
		if st, err := os.Stat(p); err == nil && st.Size() < 1<<14 {
			data, err := os.ReadFile(p)
			if err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ImportBytes("fuzz.tflite", data, Options{})
		if err != nil {
			return
		}
		if err := ir.Verify(g); err != nil {
			t.Fatalf("imported graph does not verify: %v", err)
		}
	})
}
