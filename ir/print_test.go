package ir

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// builder wraps a graph under construction for tests.
type builder struct {
	t testing.TB
	g *Graph
}

func newBuilder(t testing.TB, name string) *builder { return &builder{t: t, g: NewGraph(name)} }

func (b *builder) add(op string, args []*Value, attrs Attrs, hint Type) *Value {
	b.t.Helper()
	v, err := b.g.Add(op, args, attrs, hint, op, "node_"+op)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// ramp is a deterministic f32 tensor.
func ramp(shape ...int) *Tensor {
	t := NewTensor(F32, shape)
	for i := range t.F32 {
		t.F32[i] = float32(i%7)*0.25 - 0.5
	}
	return t
}

func (b *builder) cf(name string, shape ...int) *Value {
	return b.g.AddConst(name, ramp(shape...), nil)
}

func (b *builder) ci(name string, dt DType, q *Quant, shape ...int) *Value {
	t := NewTensor(dt, shape)
	lo, hi := dt.Range()
	for i := 0; i < t.Len(); i++ {
		t.SetInt(i, max(lo, min(hi, int64(i%11-5))))
	}
	return b.g.AddConst(name, t, q)
}

// everyOpGraph builds a valid graph with at least one instance of every op
// in Ops(), float and integer (quantized) forms, and every dtype.
func everyOpGraph(t testing.TB) *Graph {
	b := newBuilder(t, "every_op")
	g := b.g
	x := g.AddParam("x", TensorType(F32, 1, 2, 6, 6))
	none := Type{}
	r := b.add("relu", []*Value{x}, nil, none)
	b.add("conv", []*Value{x, b.cf("w", 3, 2, 3, 3), b.cf("b", 3)}, Attrs{"pads": Ints(1, 1, 1, 1), "strides": Ints(2, 2)}, none)
	b.add("conv_transpose", []*Value{x, b.cf("wt", 2, 3, 2, 2)}, Attrs{"strides": Ints(2, 2)}, none)
	b.add("matmul", []*Value{x, b.cf("m", 6, 4)}, nil, none)
	x2 := b.add("reshape", []*Value{x}, nil, TensorType(F32, 12, 6))
	b.add("gemm", []*Value{x2, b.cf("gw", 4, 6), b.cf("gc", 4)}, Attrs{"trans_b": Int(1), "alpha": Float(0.5)}, none)
	half := g.AddConst("half", ScalarF32(0.5), nil)
	row := b.cf("row", 6)
	for _, op := range []string{"add", "sub", "mul", "div", "max", "min"} {
		b.add(op, []*Value{x, row}, nil, none)
	}
	b.add("pow", []*Value{x, half}, nil, none)
	b.add("prelu", []*Value{x, b.cf("slope", 2, 1, 1)}, nil, none)
	for _, op := range []string{"sigmoid", "tanh", "hardswish", "exp", "log", "sqrt", "erf", "neg", "abs", "reciprocal", "floor", "ceil"} {
		b.add(op, []*Value{x}, nil, none)
	}
	b.add("leaky_relu", []*Value{x}, Attrs{"alpha": Float(0.1)}, none)
	b.add("clip", []*Value{x}, Attrs{"min": Float(0), "max": Float(6)}, none)
	b.add("hardsigmoid", []*Value{x}, Attrs{"alpha": Float(0.25)}, none)
	b.add("softmax", []*Value{x}, Attrs{"axis": Int(1)}, none)
	b.add("maxpool", []*Value{x}, Attrs{"kernel": Ints(2, 2), "strides": Ints(2, 2)}, none)
	b.add("maxpool_index", []*Value{x}, Attrs{"kernel": Ints(3, 3), "strides": Ints(2, 2), "ceil_mode": Int(1)}, none)
	b.add("avgpool", []*Value{x}, Attrs{"kernel": Ints(3, 3), "pads": Ints(1, 1, 1, 1), "count_include_pad": Int(1)}, none)
	b.add("global_avgpool", []*Value{x}, nil, none)
	b.add("reduce_mean", []*Value{x}, Attrs{"axes": Ints(2, 3)}, none)
	b.add("reduce_sum", []*Value{x}, Attrs{"axes": Ints(1), "keepdims": Int(0)}, none)
	b.add("reduce_max", []*Value{x}, Attrs{"axes": Ints(3)}, none)
	b.add("argmax", []*Value{x}, Attrs{"axis": Int(1), "select_last_index": Int(1)}, Type{DType: I32})
	b.add("topk", []*Value{x}, Attrs{"axis": Int(1), "k": Int(2), "largest": Int(0)}, Type{})
	b.add("topk_index", []*Value{x}, Attrs{"axis": Int(1), "k": Int(1)}, Type{DType: I32})
	b.add("nms_index", []*Value{b.cf("nmsb", 6, 4), b.cf("nmss", 6)}, Attrs{"max_output": Int(3), "iou_threshold": Float(0.5), "score_threshold": Float(0.25)}, none)
	b.add("nms_index", []*Value{b.cf("nmsb2", 6, 4), b.cf("nmss2", 6)}, Attrs{"max_output": Int(8), "iou_threshold": Float(0.6)}, none)
	b.add("batchnorm", []*Value{x, b.cf("bn_s", 2), b.cf("bn_b", 2), b.cf("bn_m", 2), b.cf("bn_v", 2)}, Attrs{"epsilon": Float(1e-3)}, none)
	b.add("transpose", []*Value{x}, Attrs{"perm": Ints(0, 2, 3, 1)}, none)
	cat := b.add("concat", []*Value{x, r, x}, Attrs{"axis": Int(1)}, none)
	b.add("pad", []*Value{x}, Attrs{"pads": Ints(0, 0, 1, 1, 0, 0, 1, 1), "mode": Str("reflect")}, none)
	b.add("slice", []*Value{x}, Attrs{"starts": Ints(0, 0, 5, 0), "ends": Ints(1, 2, -1, 6), "steps": Ints(1, 1, -2, 2)}, none)
	idx := g.AddConst("idx", FromI64([]int{2}, []int64{1, 0}), nil)
	b.add("gather", []*Value{x, idx}, Attrs{"axis": Int(1)}, none)
	b.add("expand", []*Value{b.cf("e", 2, 1, 1)}, nil, TensorType(F32, 1, 2, 6, 6))
	b.add("resize", []*Value{x}, Attrs{"mode": Str("linear"), "coord": Str("align_corners"), "scales": Floats(1, 1, 2, 2)}, TensorType(F32, 1, 2, 12, 12))
	b.add("cast", []*Value{x}, nil, Type{DType: I16})
	flags := g.AddConst("flags", &Tensor{DType: Bool, Shape: []int{2}, Bool: []bool{true, false}}, nil)
	b.add("cast", []*Value{flags}, nil, Type{DType: F32})
	i32 := &Tensor{DType: I32, Shape: []int{}, I32: []int32{-7}}
	b.add("cast", []*Value{g.AddConst("i32", i32, nil)}, nil, Type{DType: F32})

	// Quantized forms.
	xq := b.add("quantize", []*Value{x}, nil, Type{DType: U8, Quant: PerTensor(0.05, 128)})
	b.add("dequantize", []*Value{xq}, nil, none)
	b.add("requantize", []*Value{xq}, Attrs{"rq": Str("tflite")}, Type{DType: I8, Quant: PerTensor(0.1, -3)})
	b.add("lut", []*Value{xq, b.ci("table", I8, PerTensor(0.02, 4), 256)}, nil, none)
	b.add("relu", []*Value{xq}, nil, none)
	b.add("maxpool", []*Value{xq}, Attrs{"kernel": Ints(2, 2)}, none)
	b.add("add", []*Value{xq, xq}, nil, Type{Quant: PerTensor(0.1, 100)})
	perAxis := &Quant{Axis: 0, Scale: []float32{0.01, 0.02, 0.03}, ZeroPoint: []int64{0, 1, -1}}
	wq := b.ci("wq", I8, perAxis, 3, 2, 3, 3)
	bq := b.ci("bq", I32, nil, 3)
	b.add("conv", []*Value{xq, wq, bq}, nil, Type{DType: U8, Quant: PerTensor(0.2, 10)})
	b.add("conv", []*Value{xq, wq}, Attrs{"group": Int(1), "dilations": Ints(2, 2)}, Type{DType: I32})
	b.add("transpose", []*Value{wq}, Attrs{"perm": Ints(1, 0, 2, 3)}, none)
	mq := b.ci("mq", I8, PerTensor(0.02, 0), 6, 4)
	b.add("matmul", []*Value{xq, mq}, nil, Type{DType: I32})
	b.add("matmul", []*Value{xq, mq}, Attrs{"rq": Str("tflite")}, Type{DType: U8, Quant: PerTensor(0.3, 7)})
	x2q := b.add("reshape", []*Value{xq}, nil, TensorType(U8, 12, 6))
	gq := b.ci("gq", U8, &Quant{Axis: 1, Scale: []float32{1, 2, 3, 4}, ZeroPoint: []int64{0, 255, 128, 3}}, 6, 4)
	gemmq := b.add("gemm", []*Value{x2q, gq, b.ci("gb", I32, nil, 4)}, nil, Type{DType: I32})
	b.add("cast", []*Value{gemmq}, nil, Type{DType: I64})
	// Compressed weights (prune / share passes).
	spc := g.AddConst("spc", &Tensor{DType: U8, Shape: []int{3}, U8: []uint8{0, 5, 2}}, nil)
	spr := g.AddConst("spr", &Tensor{DType: I32, Shape: []int{3}, I32: []int32{0, 2, 3}}, nil)
	b.add("sparse_decode", []*Value{b.cf("spv", 3), spc, spr}, nil, TensorType(F32, 2, 6))
	cbi := g.AddConst("cbi", &Tensor{DType: U8, Shape: []int{3}, U8: []uint8{0x1b, 0xe4, 0x39}}, nil)
	b.add("codebook_decode", []*Value{b.cf("cb", 4), cbi}, Attrs{"bits": Int(2)}, TensorType(F32, 2, 6))
	rg := g.AddConst("rg", &Tensor{DType: U8, Shape: []int{2}, U8: []uint8{0x21, 0x03}}, nil)
	b.add("sparse_rel_decode", []*Value{b.cf("rv", 4), rg}, Attrs{"bits": Int(4)}, TensorType(F32, 2, 6))
	// Comparisons, logic, selection and float functions (ops_logic.go).
	lt := b.add("less", []*Value{x, row}, nil, none)
	ge := b.add("greater_equal", []*Value{row, x}, nil, none)
	for _, op := range []string{"equal", "less_equal", "greater"} {
		b.add(op, []*Value{x, half}, nil, none)
	}
	b.add("equal", []*Value{flags, flags}, nil, none)
	eq := b.add("equal", []*Value{xq, xq}, nil, none)
	for _, op := range []string{"and", "or", "xor"} {
		b.add(op, []*Value{lt, ge}, nil, none)
	}
	b.add("not", []*Value{lt}, nil, none)
	b.add("where", []*Value{lt, x, half}, nil, none)
	b.add("where", []*Value{eq, xq, xq}, nil, none)
	for _, op := range []string{"sign", "round", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "isnan"} {
		b.add(op, []*Value{x}, nil, none)
	}
	b.add("sign", []*Value{gemmq}, nil, none)
	b.add("isinf", []*Value{x}, Attrs{"detect_negative": Int(0)}, none)
	b.add("mod", []*Value{x, row}, Attrs{"fmod": Int(1)}, none)
	b.add("mod", []*Value{gemmq, b.ci("md", I32, nil, 4)}, nil, none)
	nan := ramp(6, 6)
	nan.F32[4] = float32(math.NaN())
	nan.F32[5] = float32(math.Inf(-1))
	big := b.add("add", []*Value{x, g.AddConst("odd", nan, nil)}, nil, none)
	g.Results = []*Value{cat, big}
	if err := Verify(g); err != nil {
		t.Fatalf("every-op graph does not verify: %v", err)
	}
	return g
}

func parseText(t testing.TB, g *Graph, text string) *Graph {
	t.Helper()
	g2, err := Parse("test.ir", []byte(text), WeightsOf(g))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return g2
}

// sameGraph checks that two graphs are equivalent: names, ops, argument
// names, effective attributes, types, sources and bit-identical constants.
func sameGraph(t testing.TB, a, b *Graph) {
	t.Helper()
	if a.Name != b.Name || len(a.Params) != len(b.Params) || len(a.Values) != len(b.Values) || len(a.Results) != len(b.Results) {
		t.Fatalf("graphs differ in shape: @%s %d/%d/%d vs @%s %d/%d/%d", a.Name, len(a.Params), len(a.Values), len(a.Results),
			b.Name, len(b.Params), len(b.Values), len(b.Results))
	}
	cmp := func(v, w *Value) {
		if v.Name != w.Name || v.Op != w.Op || !v.Type.Equal(w.Type) || len(v.Args) != len(w.Args) {
			t.Fatalf("%s: %s %v vs %s %s %v", v.Name, opName(v.Op), v.Type, w.Name, opName(w.Op), w.Type)
		}
		if sv, sw := v.Source, w.Source; sv != sw && !(sv == "" && sw == w.Name) {
			t.Errorf("%s: source %q vs %q", v.Name, sv, sw)
		}
		for i := range v.Args {
			if v.Args[i].Name != w.Args[i].Name {
				t.Errorf("%s: arg %d %s vs %s", v.Name, i, v.Args[i].Name, w.Args[i].Name)
			}
		}
		if v.Op != OpParam {
			for _, k := range attrNames(v, w) {
				x, _ := effectiveAttr(v, k)
				y, _ := effectiveAttr(w, k)
				if !attrIdentical(x, y) {
					t.Errorf("%s: attr %s %v vs %v", v.Name, k, x, y)
				}
			}
		}
		if v.Op == OpConst && !v.Const.Equal(w.Const) {
			t.Errorf("%s: constants differ", v.Name)
		}
	}
	for i := range a.Params {
		cmp(a.Params[i], b.Params[i])
	}
	for i := range a.Values {
		cmp(a.Values[i], b.Values[i])
	}
	for i := range a.Results {
		if a.Results[i].Name != b.Results[i].Name {
			t.Errorf("result %d: %s vs %s", i, a.Results[i].Name, b.Results[i].Name)
		}
	}
}

func TestRoundTripEveryOp(t *testing.T) {
	g := everyOpGraph(t)
	seen := map[string]bool{}
	for _, v := range g.Values {
		seen[v.Op.Name] = true
	}
	for _, op := range Ops() {
		if !seen[op.Name] {
			t.Errorf("op %s has no instance in everyOpGraph: add one", op.Name)
		}
	}
	text := g.String()
	g2 := parseText(t, g, text)
	if text2 := g2.String(); text2 != text {
		t.Fatalf("print → parse → print differs:\n%s\n---\n%s", text, text2)
	}
	sameGraph(t, g, g2)
	if err := Verify(g2); err != nil {
		t.Fatal(err)
	}
	if d := Diff(g, g2); !d.Empty() {
		var b bytes.Buffer
		d.Format(&b)
		t.Fatalf("diff of a graph and its parse:\n%s", b.String())
	}
	for _, want := range []string{"q(axis=0 [0.01,0.02,0.03] [0,1,-1])", "{rq=tflite}", "%flags = const bool[2] [true,false]",
		"%half = const f32[] 0.5", "%i32 = const i32[] -7", "%idx = const i64[2] [1,0]", "{min=0.0 max=6.0}", "{sha="} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if strings.Contains(text, "group=1") {
		t.Errorf("default attribute printed:\n%s", text)
	}
}

func TestPrintGolden(t *testing.T) {
	b := newBuilder(t, "mnist_7")
	g := b.g
	x := g.AddParam("Input3", TensorType(F32, 1, 1, 28, 28))
	w := g.AddConst("Parameter5", ramp(8, 1, 5, 5), nil)
	c, err := g.Add("conv", []*Value{x, w}, Attrs{"pads": Ints(2, 2, 2, 2), "group": Int(1)}, Type{}, "Convolution28_Output_0", "Convolution28")
	if err != nil {
		t.Fatal(err)
	}
	s := g.AddConst("s", ScalarF32(0.5), nil)
	m, _ := g.Add("mul", []*Value{c, s}, nil, Type{}, "m", "")
	shape := g.AddConst("shape", FromI64([]int{2}, []int64{1, 6272}), nil)
	r, _ := g.Add("reshape", []*Value{m}, nil, TensorType(F32, 1, 6272), "r", "Times212_reshape0")
	q, _ := g.Add("quantize", []*Value{r}, nil, Type{DType: U8, Quant: PerTensor(0.003921569, 0)}, "r_q", "r_q")
	_ = shape
	g.Results = []*Value{q, r}
	want := `graph @mnist_7(%Input3: f32[1,1,28,28]) -> (u8[1,6272] q(0.003921569,0), f32[1,6272]) {
  %Parameter5 = const f32[8,1,5,5] {sha=` + w.Const.Hash() + ` min=-0.5 max=1 sparsity=0.14}
  %Convolution28_Output_0 = conv %Input3, %Parameter5 {pads=[2,2,2,2]} : f32[1,8,28,28] loc("Convolution28")
  %s = const f32[] 0.5
  %m = mul %Convolution28_Output_0, %s : f32[1,8,28,28]
  %shape = const i64[2] [1,6272]
  %r = reshape %m : f32[1,6272] loc("Times212_reshape0")
  %r_q = quantize %r : u8[1,6272] q(0.003921569,0)
  return %r_q, %r
}
`
	if got := g.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	g2 := parseText(t, g, want)
	sameGraph(t, g, g2)
	if g2.Values[1].Source != "Convolution28" {
		t.Errorf("loc not parsed: %q", g2.Values[1].Source)
	}
}

func TestPrintConstForms(t *testing.T) {
	for _, tc := range []struct {
		t    *Tensor
		q    *Quant
		want string
	}{
		{ScalarF32(float32(math.Copysign(0, -1))), nil, "const f32[] -0.0"},
		{ScalarF32(float32(math.Inf(1))), nil, "const f32[] +Inf"},
		{FromF32([]int{2, 2}, []float32{1, 1e-7, 3.25, -2}), nil, "const f32[2,2] [1.0,1e-07,3.25,-2.0]"},
		{FromF32([]int{0, 3}, []float32{}), nil, "const f32[0,3] []"},
		{&Tensor{DType: U8, Shape: []int{3}, U8: []uint8{0, 128, 255}}, PerTensor(0.5, 128), "const u8[3] q(0.5,128) [0,128,255]"},
		{&Tensor{DType: I16, Shape: []int{2}, I16: []int16{-32768, 32767}}, nil, "const i16[2] [-32768,32767]"},
		{&Tensor{DType: Bool, Shape: []int{}, Bool: []bool{true}}, nil, "const bool[] true"},
		{ScalarF32(float32(math.NaN())), nil, "const f32[] {sha="},
		{FromI64([]int{9}, make([]int64, 9)), nil, "const i64[9] {sha="},
	} {
		g := NewGraph("c")
		v := g.AddConst("k", tc.t, tc.q)
		g.Results = []*Value{v}
		text := g.String()
		if !strings.Contains(text, "%k = "+tc.want) {
			t.Errorf("want %q in\n%s", tc.want, text)
			continue
		}
		g2 := parseText(t, g, text)
		sameGraph(t, g, g2)
		if text2 := g2.String(); text2 != text {
			t.Errorf("round trip differs:\n%s\n%s", text, text2)
		}
	}
}

func TestPrintUnprintable(t *testing.T) {
	if err := Print(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil graph printed")
	}
	g := NewGraph("g")
	v := g.AddConst("k", ScalarF32(1), nil)
	v.Const = nil
	g.Results = []*Value{v}
	if err := Print(&bytes.Buffer{}, g); err == nil || !strings.Contains(err.Error(), "%k") {
		t.Errorf("const without data: %v", err)
	}
	if s := g.String(); !strings.HasPrefix(s, "<unprintable graph") {
		t.Errorf("String of an unprintable graph: %q", s)
	}
}

func TestSummaryMatchesStats(t *testing.T) {
	nan := FromF32([]int{4}, []float32{float32(math.NaN()), 0, -3, 2})
	for _, x := range []*Tensor{ramp(5, 5), nan, FromF32([]int{1}, []float32{float32(math.NaN())}),
		FromI64([]int{3}, []int64{-9, 0, 4}), {DType: Bool, Shape: []int{2}, Bool: []bool{false, true}}, FromF32([]int{0}, nil)} {
		lo, hi, sp := summary(x)
		s := x.Stats()
		if lo != s.Min || hi != s.Max || sp != s.Sparsity {
			t.Errorf("%v: summary %v %v %v, stats %+v", x, lo, hi, sp, s)
		}
	}
}
