package onnx

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// exportGraph builds a float graph using every op the writer maps.
func exportGraph(t *testing.T) (*ir.Graph, []*ir.Tensor) {
	t.Helper()
	rng := rand.New(rand.NewSource(3))
	g := ir.NewGraph("export")
	rnd := func(shape ...int) *ir.Tensor {
		x := ir.NewTensor(ir.F32, shape)
		for i := range x.F32 {
			x.F32[i] = float32(rng.NormFloat64())
		}
		return x
	}
	pos := func(shape ...int) *ir.Tensor {
		x := rnd(shape...)
		for i := range x.F32 {
			x.F32[i] = 0.5 + float32(math.Abs(float64(x.F32[i])))
		}
		return x
	}
	c := func(name string, x *ir.Tensor) *ir.Value { return g.AddConst(name, x, nil) }
	add := func(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) *ir.Value {
		t.Helper()
		v, err := g.Add(op, args, attrs, hint, op, op)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return v
	}
	x := g.AddParam("input", ir.Type{DType: ir.F32, Shape: []int{2, 3, 8, 8}})
	h := add("conv", []*ir.Value{x, c("w1", rnd(4, 3, 3, 3)), c("b1", rnd(4))}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{})
	h = add("batchnorm", []*ir.Value{h, c("s", pos(4)), c("b", rnd(4)), c("m", rnd(4)), c("v", pos(4))}, nil, ir.Type{})
	h = add("clip", []*ir.Value{h}, ir.Attrs{"min": ir.Float(0), "max": ir.Float(6)}, ir.Type{})
	h = add("conv", []*ir.Value{h, c("dw", rnd(4, 1, 3, 3))}, ir.Attrs{"group": ir.Int(4), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "dilations": ir.Ints(1, 1)}, ir.Type{})
	a := add("maxpool", []*ir.Value{h}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{})
	b := add("avgpool", []*ir.Value{h}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "count_include_pad": ir.Int(1)}, ir.Type{})
	h = add("concat", []*ir.Value{a, b}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
	h = add("sigmoid", []*ir.Value{h}, nil, ir.Type{})
	gp := add("global_avgpool", []*ir.Value{h}, nil, ir.Type{})
	h = add("mul", []*ir.Value{h, gp}, nil, ir.Type{})
	sp := ir.Attrs{"axes": ir.Ints(2, 3), "keepdims": ir.Int(1)}
	h = add("sub", []*ir.Value{add("add", []*ir.Value{h, add("reduce_mean", []*ir.Value{h}, sp, ir.Type{})}, nil, ir.Type{}),
		add("reduce_max", []*ir.Value{h}, sp, ir.Type{})}, nil, ir.Type{})
	h = add("sub", []*ir.Value{h, c("k", rnd(8, 1, 1))}, nil, ir.Type{})
	h = add("div", []*ir.Value{h, c("d", pos(1))}, nil, ir.Type{})
	h = add("tanh", []*ir.Value{h}, nil, ir.Type{})
	// The elementwise ops of export_elem.go (positive operands where the op needs them).
	e := add("hardswish", []*ir.Value{h}, nil, ir.Type{})
	e = add("hardsigmoid", []*ir.Value{e}, ir.Attrs{"alpha": ir.Float(0.3), "beta": ir.Float(0.4)}, ir.Type{})
	e = add("leaky_relu", []*ir.Value{e}, ir.Attrs{"alpha": ir.Float(0.1)}, ir.Type{})
	e = add("prelu", []*ir.Value{e, c("slope", rnd(8, 1, 1))}, nil, ir.Type{})
	e = add("neg", []*ir.Value{e}, nil, ir.Type{})
	e = add("abs", []*ir.Value{e}, nil, ir.Type{})
	e = add("max", []*ir.Value{e, c("mx", pos(1))}, nil, ir.Type{})
	e = add("min", []*ir.Value{e, c("mn", pos(1))}, nil, ir.Type{})
	e = add("exp", []*ir.Value{e}, nil, ir.Type{})
	e = add("log", []*ir.Value{e}, nil, ir.Type{})
	e = add("sqrt", []*ir.Value{add("abs", []*ir.Value{e}, nil, ir.Type{})}, nil, ir.Type{})
	e = add("pow", []*ir.Value{e, c("p", pos(1))}, nil, ir.Type{})
	e = add("erf", []*ir.Value{e}, nil, ir.Type{})
	e = add("reciprocal", []*ir.Value{add("add", []*ir.Value{e, c("two", pos(1))}, nil, ir.Type{})}, nil, ir.Type{})
	e = add("floor", []*ir.Value{e}, nil, ir.Type{})
	e = add("ceil", []*ir.Value{add("mul", []*ir.Value{e, c("k2", pos(1))}, nil, ir.Type{})}, nil, ir.Type{})
	// The comparisons, logic and float functions of export_logic.go (in
	// their domains: no NaN, which would not compare equal).
	un := func(op string, x *ir.Value) *ir.Value { return add(op, []*ir.Value{x}, nil, ir.Type{}) }
	bin := func(op string, x, y *ir.Value) *ir.Value { return add(op, []*ir.Value{x, y}, nil, ir.Type{}) }
	l := un("sign", un("round", un("asinh", un("cosh", un("sinh", un("atan", un("tan", un("cos", e))))))))
	s := un("sin", e)
	l = bin("add", l, bin("add", un("asin", s), un("acos", s)))
	l = bin("add", l, bin("add", un("atanh", bin("mul", s, c("half", pos(1)))), un("acosh", un("cosh", e))))
	k := c("thr", rnd(8, 1, 1))
	m := bin("or", bin("and", bin("less", e, k), bin("greater_equal", l, k)), bin("xor", bin("equal", e, l), bin("less_equal", s, k)))
	m = bin("and", m, un("not", bin("or", un("isnan", e), add("isinf", []*ir.Value{e}, ir.Attrs{"detect_negative": ir.Int(0)}, ir.Type{}))))
	m = bin("or", m, bin("greater", s, k))
	e = add("mod", []*ir.Value{add("where", []*ir.Value{m, l, e}, nil, ir.Type{}), c("md", pos(1))}, ir.Attrs{"fmod": ir.Int(1)}, ir.Type{})
	h = add("add", []*ir.Value{h, e}, nil, ir.Type{})
	// export_layout.go: resizes (scales given, or sizes), a transposed conv,
	// a slice with a negative step to the first element, pads, a gather, an
	// expand and casts, as a third result.
	r := add("resize", []*ir.Value{h}, ir.Attrs{"coord": ir.Str("asymmetric"), "nearest_mode": ir.Str("floor"), "scales": ir.Floats(1, 1, 2, 2)}, ir.Type{Shape: []int{2, 8, 4, 4}})
	r2 := add("resize", []*ir.Value{h}, ir.Attrs{"mode": ir.Str("linear")}, ir.Type{Shape: []int{2, 8, 4, 4}})
	r = add("conv_transpose", []*ir.Value{add("add", []*ir.Value{r, r2}, nil, ir.Type{}), c("ctw", rnd(8, 4, 2, 2)), c("ctb", rnd(4))},
		ir.Attrs{"strides": ir.Ints(2, 2), "output_padding": ir.Ints(1, 0), "pads": ir.Ints(0, 1, 0, 0)}, ir.Type{})
	r = add("slice", []*ir.Value{r}, ir.Attrs{"starts": ir.Ints(0, 0, 1, 6), "ends": ir.Ints(2, 4, 7, -1), "steps": ir.Ints(1, 2, 2, -3)}, ir.Type{})
	r = add("pad", []*ir.Value{r}, ir.Attrs{"pads": ir.Ints(0, 0, 1, 0, 0, 0, 0, 2), "mode": ir.Str("reflect")}, ir.Type{})
	r = add("pad", []*ir.Value{r}, ir.Attrs{"pads": ir.Ints(0, 0, 0, 1, 0, 0, -1, 0), "value": ir.Float(0.5)}, ir.Type{})
	r = add("gather", []*ir.Value{r, g.AddConst("gi", ir.FromI64([]int{2}, []int64{1, -1}), nil)}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
	r = add("expand", []*ir.Value{add("global_avgpool", []*ir.Value{r}, nil, ir.Type{})}, nil, ir.Type{Shape: []int{2, 2, 3, 3}})
	r = add("cast", []*ir.Value{add("mul", []*ir.Value{r, c("k3", pos(1))}, nil, ir.Type{})}, nil, ir.Type{DType: ir.I32})
	r3 := add("cast", []*ir.Value{r}, nil, ir.Type{DType: ir.F32})
	h = add("transpose", []*ir.Value{h}, ir.Attrs{"perm": ir.Ints(0, 2, 3, 1)}, ir.Type{})
	h = add("reshape", []*ir.Value{h}, nil, ir.Type{DType: ir.F32, Shape: []int{2, 32}})
	h = add("gemm", []*ir.Value{h, c("fw", rnd(10, 32)), c("fb", rnd(10))}, ir.Attrs{"trans_b": ir.Int(1), "alpha": ir.Float(0.5)}, ir.Type{})
	h = add("relu", []*ir.Value{h}, nil, ir.Type{})
	h = add("matmul", []*ir.Value{h, c("mw", rnd(10, 6))}, nil, ir.Type{})
	h = add("add", []*ir.Value{h, c("mb", rnd(6))}, nil, ir.Type{})
	y := add("softmax", []*ir.Value{h}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
	g.Results = []*ir.Value{y, gp, r3}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g, []*ir.Tensor{rnd(2, 3, 8, 8)}
}

func TestExportRoundTrip(t *testing.T) {
	g, in := exportGraph(t)
	var buf bytes.Buffer
	if err := ExportWith(g, &buf, ExportOptions{DocString: "round trip", Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	// Every op the writer maps is in the graph.
	used := map[string]bool{}
	for _, v := range g.Values {
		used[v.Op.Name] = true
	}
	for _, op := range ExportableOps() {
		if !used[op] {
			t.Errorf("op %s is exportable but not in the round-trip graph", op)
		}
	}
	g2, err := ImportBytes("export.onnx", buf.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(g2); err != nil {
		t.Fatal(err)
	}
	if g2.Params[0].Name != "input" || len(g2.Results) != 3 {
		t.Fatalf("imported %s with inputs %v, %d results", g2.Name, g2.Params[0].Name, len(g2.Results))
	}
	want, err := rt.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rt.Run(g2, in)
	if err != nil {
		t.Fatal(err)
	}
	for r := range want {
		if !ir.EqualShape(got[r].Shape, want[r].Shape) {
			t.Fatalf("result %d: shape %v, want %v", r, got[r].Shape, want[r].Shape)
		}
		for i := range want[r].F32 {
			if got[r].F32[i] != want[r].F32[i] {
				t.Fatalf("result %d [%d] = %v, want %v (not identical)", r, i, got[r].F32[i], want[r].F32[i])
			}
		}
	}
	// Deterministic bytes.
	var again bytes.Buffer
	if err := ExportWith(g, &again, ExportOptions{DocString: "round trip", Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two exports of the same graph differ")
	}
}

func TestExportUnsupported(t *testing.T) {
	g := ir.NewGraph("bad")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 1, 4, 4}})
	y, err := g.Add("maxpool_index", []*ir.Value{x}, ir.Attrs{"kernel": ir.Ints(2, 2)}, ir.Type{}, "y", "my_argmax")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{y}
	err = Export(g, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "maxpool_index") || !strings.Contains(err.Error(), "my_argmax") {
		t.Errorf("export of maxpool_index: %v, want an error naming the op and node", err)
	}
	// A graph whose result is its input exports through Identity.
	g = ir.NewGraph("id")
	x = g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{2}})
	g.Results = []*ir.Value{x}
	var buf bytes.Buffer
	if err := Export(g, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ImportBytes("id.onnx", buf.Bytes(), Options{}); err != nil {
		t.Errorf("import of an identity graph: %v", err)
	}
}
