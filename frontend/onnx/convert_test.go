package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

func TestReshapeShape(t *testing.T) {
	for _, tc := range []struct {
		in, spec  []int
		allowzero bool
		want      []int // nil: error
	}{
		{[]int{2, 3, 4}, []int{4, 2, 3}, false, []int{4, 2, 3}},
		{[]int{2, 3, 4}, []int{-1}, false, []int{24}},
		{[]int{2, 3, 4}, []int{2, -1, 2}, false, []int{2, 6, 2}},
		{[]int{2, 3, 4}, []int{0, 0, -1}, false, []int{2, 3, 4}},
		{[]int{2, 3, 4}, []int{2, 0, 1, -1}, false, []int{2, 3, 1, 4}},
		{[]int{0, 3, 4}, []int{3, 4, 0}, true, []int{3, 4, 0}},
		{[]int{2, 3, 4}, []int{0, 12}, true, nil},   // 0 is literal with allowzero
		{[]int{2, 3, 4}, []int{0, -1}, true, nil},   // 0 and -1 with allowzero
		{[]int{2, 3, 4}, []int{-1, -1}, false, nil}, // two -1
		{[]int{2, 3, 4}, []int{5, -1}, false, nil},  // 24 not divisible by 5
		{[]int{2, 3, 4}, []int{-2, 12}, false, nil}, // negative dim
		{[]int{2, 3}, []int{0, 0, 0}, false, nil},   // copies a dim the input lacks
		{[]int{2, 3, 4}, []int{1 << 40, 1 << 40}, false, nil},
	} {
		got, err := reshapeShape(tc.in, tc.spec, tc.allowzero)
		if tc.want == nil {
			if err == nil {
				t.Errorf("reshape %v to %v (allowzero %v) = %v, want an error", tc.in, tc.spec, tc.allowzero, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("reshape %v to %v (allowzero %v) = %v, %v; want %v", tc.in, tc.spec, tc.allowzero, got, err, tc.want)
		}
	}
}

func TestSliceParams(t *testing.T) {
	const big = 1 << 62
	for _, tc := range []struct {
		shape, starts, ends, axes, steps []int
		want                             []int // output shape; nil: error
		st, en, sp                       []int // normalized (checked when set)
	}{
		{shape: []int{10}, starts: []int{2}, ends: []int{5}, want: []int{3}},
		{shape: []int{10}, starts: []int{-3}, ends: []int{big}, want: []int{3}, st: []int{7}, en: []int{10}, sp: []int{1}},
		{shape: []int{10}, starts: []int{-100}, ends: []int{100}, want: []int{10}, st: []int{0}, en: []int{10}},
		{shape: []int{10}, starts: []int{-1}, ends: []int{-big}, steps: []int{-1}, want: []int{10}, st: []int{9}, en: []int{-1}, sp: []int{-1}},
		{shape: []int{10}, starts: []int{100}, ends: []int{0}, steps: []int{-3}, want: []int{3}, st: []int{9}, en: []int{0}},
		{shape: []int{10}, starts: []int{5}, ends: []int{2}, want: []int{0}},
		{shape: []int{4, 6}, starts: []int{1}, ends: []int{-1}, axes: []int{-1}, steps: []int{2}, want: []int{4, 2}},
		{shape: []int{4, 6}, starts: []int{0, 0}, ends: []int{2, 2}, axes: []int{1, 1}, want: nil},
		{shape: []int{4, 6}, starts: []int{0}, ends: []int{2}, axes: []int{2}, want: nil},
		{shape: []int{4}, starts: []int{0}, ends: []int{2}, steps: []int{0}, want: nil},
		{shape: []int{0}, starts: []int{-1}, ends: []int{-big}, steps: []int{-1}, want: []int{0}},
	} {
		st, en, sp, err := sliceParams(tc.shape, tc.starts, tc.ends, tc.axes, tc.steps)
		if tc.want == nil {
			if err == nil {
				t.Errorf("slice %+v: want an error", tc)
			}
			continue
		}
		if err != nil {
			t.Errorf("slice %+v: %v", tc, err)
			continue
		}
		var got []int
		for i := range st {
			n, err := ir.SliceLen(tc.shape[i], st[i], en[i], sp[i])
			if err != nil {
				t.Errorf("slice %+v: normalized %v %v %v rejected: %v", tc, st, en, sp, err)
			}
			got = append(got, n)
		}
		if !slices.Equal(got, tc.want) || tc.st != nil && !slices.Equal(st, tc.st) || tc.en != nil && !slices.Equal(en, tc.en) || tc.sp != nil && !slices.Equal(sp, tc.sp) {
			t.Errorf("slice %v %v %v %v %v: got shape %v (%v %v %v), want %v (%v %v %v)", tc.shape, tc.starts, tc.ends, tc.axes, tc.steps, got, st, en, sp, tc.want, tc.st, tc.en, tc.sp)
		}
	}
}

// TestSliceNegativeStep runs a reversing Slice (opset 10 inputs) through rt.
func TestSliceNegativeStep(t *testing.T) {
	g := newModel(13).input("x", dtFloat, 2, 5).
		init("starts", i64s(-1)).init("ends", i64s(math.MinInt64)).init("axes", i64s(-1)).init("steps", i64s(-2)).
		node("Slice", []string{"x", "starts", "ends", "axes", "steps"}, []string{"y"}).output("y").mustLoad(t, Options{})
	out, err := rt.Run(g, []*ir.Tensor{f32s([]int{2, 5})})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{4, 2, 0, 9, 7, 5}; !slices.Equal(out[0].F32, want) || !slices.Equal(out[0].Shape, []int{2, 3}) {
		t.Errorf("got %v %v, want [2 3] %v", out[0].Shape, out[0].F32, want)
	}
}

func TestAutoPad(t *testing.T) {
	for _, tc := range []struct {
		autoPad       string
		in, k, stride int
		wantPads      []int
		wantOut       int
	}{
		{"SAME_UPPER", 5, 2, 1, []int{0, 0, 1, 1}, 5},
		{"SAME_LOWER", 5, 2, 1, []int{1, 1, 0, 0}, 5},
		{"SAME_UPPER", 5, 3, 2, []int{1, 1, 1, 1}, 3},
		{"SAME_UPPER", 6, 3, 2, []int{0, 0, 1, 1}, 3},
		{"SAME_LOWER", 6, 3, 2, []int{1, 1, 0, 0}, 3},
		{"VALID", 5, 3, 2, nil, 2},
	} {
		for _, op := range []string{"Conv", "MaxPool"} {
			m := newModel(13).input("x", dtFloat, 1, 1, int64(tc.in), int64(tc.in))
			attrs := []*attrProto{aStr("auto_pad", tc.autoPad), aInts("strides", int64(tc.stride), int64(tc.stride)), aInts("kernel_shape", int64(tc.k), int64(tc.k))}
			in := []string{"x"}
			if op == "Conv" {
				m.init("w", f32s([]int{1, 1, tc.k, tc.k}))
				in = append(in, "w")
			}
			g := m.node(op, in, []string{"y"}, attrs...).output("y").mustLoad(t, Options{})
			y := g.Results[0]
			if got := y.IntList("pads"); !slices.Equal(got, tc.wantPads) {
				t.Errorf("%s %s in %d k %d stride %d: pads %v, want %v", op, tc.autoPad, tc.in, tc.k, tc.stride, got, tc.wantPads)
			}
			if got := y.Type.Shape[2]; got != tc.wantOut {
				t.Errorf("%s %s in %d k %d stride %d: out %d, want %d", op, tc.autoPad, tc.in, tc.k, tc.stride, got, tc.wantOut)
			}
		}
	}
}

// TestSoftmaxOpsets checks the opset-dependent axis semantics: before 13,
// softmax coerces its input to 2-D at axis.
func TestSoftmaxOpsets(t *testing.T) {
	x := f32s([]int{2, 3, 4})
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i)))
	}
	// ref computes softmax over blocks of n consecutive elements, every stride.
	ref := func(groups [][]int) []float32 {
		out := make([]float32, x.Len())
		for _, idx := range groups {
			m := math.Inf(-1)
			for _, i := range idx {
				m = math.Max(m, float64(x.F32[i]))
			}
			s := 0.0
			for _, i := range idx {
				s += math.Exp(float64(x.F32[i]) - m)
			}
			for _, i := range idx {
				out[i] = float32(math.Exp(float64(x.F32[i])-m) / s)
			}
		}
		return out
	}
	axis1 := [][]int{} // softmax along dim 1 of [2,3,4]
	for a := 0; a < 2; a++ {
		for c := 0; c < 4; c++ {
			axis1 = append(axis1, []int{a*12 + c, a*12 + 4 + c, a*12 + 8 + c})
		}
	}
	flat1 := [][]int{} // softmax over the trailing 12 elements
	for a := 0; a < 2; a++ {
		var g []int
		for i := 0; i < 12; i++ {
			g = append(g, a*12+i)
		}
		flat1 = append(flat1, g)
	}
	last := [][]int{}
	for r := 0; r < 6; r++ {
		last = append(last, []int{r * 4, r*4 + 1, r*4 + 2, r*4 + 3})
	}
	for _, tc := range []struct {
		opset  int64
		axis   *int64
		wantOp []string
		want   [][]int
	}{
		{11, nil, []string{"reshape", "softmax", "reshape"}, flat1},
		{11, ptr(int64(1)), []string{"reshape", "softmax", "reshape"}, flat1},
		{11, ptr(int64(-1)), []string{"softmax"}, last},
		{13, nil, []string{"softmax"}, last},
		{13, ptr(int64(1)), []string{"softmax"}, axis1},
	} {
		m := newModel(tc.opset).input("x", dtFloat, 2, 3, 4)
		var attrs []*attrProto
		if tc.axis != nil {
			attrs = append(attrs, aInt("axis", *tc.axis))
		}
		g := m.node("Softmax", []string{"x"}, []string{"y"}, attrs...).output("y").mustLoad(t, Options{})
		if got := ops(g); !slices.Equal(got, tc.wantOp) {
			t.Errorf("opset %d axis %v: ops %v, want %v", tc.opset, tc.axis, got, tc.wantOp)
		}
		out, err := rt.Run(g, []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		want := ref(tc.want)
		for i := range want {
			if math.Abs(float64(out[0].F32[i]-want[i])) > 1e-6 {
				t.Errorf("opset %d axis %v: y[%d] = %v, want %v", tc.opset, tc.axis, i, out[0].F32[i], want[i])
				break
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestNeedConstAndBind(t *testing.T) {
	m := newModel(13).input("x", dtFloat, 2, 6).input("shape", dtInt64, 2).input("lo", dtFloat).
		node("Reshape", []string{"x", "shape"}, []string{"r"}).
		node("Clip", []string{"r", "lo"}, []string{"y"}).output("y")
	_, err := m.load(t, Options{})
	var need *NeedConstError
	if !errors.As(err, &need) {
		t.Fatalf("err = %v, want a NeedConstError", err)
	}
	// Clip takes a bound computed at run time (max, min); a Reshape's
	// shape must be known.
	if !slices.Equal(need.Inputs, []string{"shape"}) {
		t.Errorf("Inputs = %v, want [shape]", need.Inputs)
	}
	wantMsg := `t.onnx: node "Reshape_0" (Reshape): input "shape" must be a constant; bind it with --bind shape=FILE`
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error:\n%v\nwant it to contain\n%s", err, wantMsg)
	}
	g := m.mustLoad(t, Options{Bind: map[string]*ir.Tensor{"shape": i64s(3, -1), "lo": ir.ScalarF32(0.5)}})
	if len(g.Params) != 1 || g.Params[0].Name != "x" {
		t.Errorf("params %v, want only x", g.Params)
	}
	if r := g.Results[0]; !slices.Equal(r.Type.Shape, []int{3, 4}) || r.Float("min") != 0.5 {
		t.Errorf("result %v min %v", r.Type, r.Float("min"))
	}
	// A shape computed from an input through other nodes names the input.
	m = newModel(13).input("x", dtFloat, 2, 6).input("s", dtInt64, 2).
		node("Neg", []string{"s"}, []string{"ns"}).node("Neg", []string{"ns"}, []string{"shape"}).
		node("Reshape", []string{"x", "shape"}, []string{"y"}).output("y")
	if _, err = m.load(t, Options{}); !errors.As(err, &need) || !slices.Equal(need.Inputs, []string{"s"}) {
		t.Errorf("err = %v, want a NeedConstError for s", err)
	}
	g = m.mustLoad(t, Options{Bind: map[string]*ir.Tensor{"s": i64s(3, -1)}})
	if !slices.Equal(g.Results[0].Type.Shape, []int{3, 4}) || !slices.Equal(ops(g), []string{"reshape"}) {
		t.Errorf("got %v with ops %v", g.Results[0].Type, ops(g))
	}
	// Which inputs must be constant can depend on the opset: Resize-10's
	// scales is input 1, Resize-11's input 2 (input 1, roi, may vary).
	for _, tc := range []struct {
		opset int64
		in    []string
		want  []string
	}{{10, []string{"x", "sc"}, []string{"sc"}}, {11, []string{"x", "sc", "sc"}, []string{"sc"}}, {11, []string{"x", "sc", "s2"}, []string{"s2"}}} {
		m = newModel(tc.opset).input("x", dtFloat, 1, 1, 2, 2).input("sc", dtFloat, 4).input("s2", dtFloat, 4).
			node("Resize", tc.in, []string{"y"}).output("y")
		if _, err = m.load(t, Options{}); !errors.As(err, &need) || !slices.Equal(need.Inputs, tc.want) {
			t.Errorf("Resize-%d%v: err = %v, want a NeedConstError for %v", tc.opset, tc.in, err, tc.want)
		}
	}
	// Bad bindings are errors.
	if _, err := m.load(t, Options{Bind: map[string]*ir.Tensor{"nope": i64s(1)}}); err == nil || !strings.Contains(err.Error(), `no graph input "nope"`) {
		t.Errorf("binding an unknown input: %v", err)
	}
	if _, err := m.load(t, Options{Bind: map[string]*ir.Tensor{"s": ir.ScalarF32(1)}}); err == nil {
		t.Errorf("binding a tensor of the wrong type: no error")
	}
}

func TestSymbolicDims(t *testing.T) {
	m := newModel(13).input("x", dtFloat, -1, 3, -2, -100).node("Relu", []string{"x"}, []string{"y"}).output("y")
	for _, tc := range []struct {
		opts Options
		want []int
		err  string
	}{
		{Options{}, []int{1, 3, 1, 1}, ""},
		{Options{Dims: map[string]int{"N": 4, "D2": 7}}, []int{4, 3, 7, 1}, ""},
		{Options{Shapes: map[string][]int{"x": {2, 3, 5, 6}}, Dims: map[string]int{"N": 4}}, []int{2, 3, 5, 6}, ""},
		{Options{Shapes: map[string][]int{"x": {2, 4, 5, 6}}}, nil, "fixed dimension 1"},
		{Options{Shapes: map[string][]int{"x": {2, 3, 5}}}, nil, "has rank 3"},
		{Options{Shapes: map[string][]int{"y": {2, 3, 5}}}, nil, `no graph input "y"`},
		{Options{Shapes: map[string][]int{"x": {1 << 20, 3, 1 << 20, 1 << 20}}}, nil, "more than"},
	} {
		g, err := m.load(t, tc.opts)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err %v, want %q", tc.opts, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.opts, err)
			continue
		}
		if got := g.Params[0].Type.Shape; !slices.Equal(got, tc.want) {
			t.Errorf("%+v: shape %v, want %v", tc.opts, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	conv := newModel(7).input("x", dtFloat, 1, 1, 28, 28).init("w", f32s([]int{8, 1, 5, 5})).
		node("Relu", []string{"x"}, []string{"r"}).node("Relu", []string{"r"}, []string{"r2"}).node("Relu", []string{"r2"}, []string{"r3"}).
		node("Conv", []string{"r3", "w"}, []string{"y"}, aInts("kernel_shape", 3, 3)).output("y")
	_, err := conv.load(t, Options{})
	if want := `t.onnx: node "Conv_3" (Conv): kernel_shape [3 3] does not match weight [8 1 5 5]`; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	nms := newModel(11).input("x", dtFloat, 1, 2).node("Relu", []string{"x"}, []string{"r"}).node("NonMaxSuppression", []string{"r"}, []string{"y"}).output("y")
	_, err = nms.load(t, Options{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Node != "NonMaxSuppression_1" || ue.Op != "NonMaxSuppression" || !strings.Contains(ue.Reason, "opset 11") || !strings.Contains(ue.Reason, "Conv, ConvInteger") {
		t.Errorf("err = %v, want an UnsupportedError naming NonMaxSuppression_1, opset 11 and the supported ops", err)
	}

	f16 := newModel(13).input("x", 10, 2).node("Relu", []string{"x"}, []string{"y"}).output("y")
	if _, err = f16.load(t, Options{}); !errors.As(err, &ue) || !strings.Contains(ue.Reason, "FLOAT16") || !strings.Contains(ue.Reason, "keep_io_types") {
		t.Errorf("float16 input: %v", err)
	}

	future := newModel(maxOpset+1).input("x", dtFloat, 2).node("Relu", []string{"x"}, []string{"y"}).output("y")
	if _, err = future.load(t, Options{}); !errors.As(err, &ue) || !strings.Contains(ue.Reason, fmt.Sprintf("opset %d", maxOpset+1)) {
		t.Errorf("opset %d: %v", maxOpset+1, err)
	}

	undef := newModel(13).input("x", dtFloat, 2).node("Relu", []string{"z"}, []string{"y"}).output("y")
	if _, err = undef.load(t, Options{}); err == nil || !strings.Contains(err.Error(), `node "Relu_0" (Relu): input 0, "z", is not defined`) {
		t.Errorf("undefined input: %v", err)
	}
}

func TestQuantizedTypes(t *testing.T) {
	// A DequantizeLinear on an integer input gives the param its quantization.
	m := newModel(13).input("x", dtInt8, 4).init("s", ir.ScalarF32(0.5)).init("z", &ir.Tensor{DType: ir.I8, Shape: []int{}, I8: []int8{3}}).
		node("DequantizeLinear", []string{"x", "s", "z"}, []string{"y"}).output("y")
	g := m.mustLoad(t, Options{})
	if q := g.Params[0].Type.Quant; !q.Equal(ir.PerTensor(0.5, 3)) {
		t.Errorf("param quant %v, want q(0.5,3)", q)
	}
	out, err := rt.Run(g, []*ir.Tensor{{DType: ir.I8, Shape: []int{4}, I8: []int8{3, 5, -1, 127}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, -2, 62}; !slices.Equal(out[0].F32, want) {
		t.Errorf("dequantized %v, want %v", out[0].F32, want)
	}
	// The same input read with two quantizations is an error; a constant
	// read with two gets two typed copies.
	m.init("s2", ir.ScalarF32(0.25)).node("DequantizeLinear", []string{"x", "s2", "z"}, []string{"y2"}).output("y2")
	if _, err := m.load(t, Options{}); err == nil || !strings.Contains(err.Error(), "one quantization") {
		t.Errorf("two quantizations of a param: %v", err)
	}
	c := newModel(13).input("x", dtFloat, 4).init("w", &ir.Tensor{DType: ir.U8, Shape: []int{4}, U8: []uint8{1, 2, 3, 4}}).
		init("s", ir.ScalarF32(0.5)).init("s2", ir.ScalarF32(0.25)).
		node("DequantizeLinear", []string{"w", "s"}, []string{"a"}).node("DequantizeLinear", []string{"w", "s2"}, []string{"b"}).
		node("Add", []string{"a", "b"}, []string{"y"}).output("y")
	g = c.mustLoad(t, Options{})
	if got := ops(g); !slices.Equal(got, []string{"dequantize", "dequantize", "add"}) {
		t.Errorf("ops %v", got)
	}
	// QuantizeLinear → DequantizeLinear with the same parameters round-trips.
	qd := newModel(13).input("x", dtFloat, 3).init("s", ir.ScalarF32(0.1)).init("z", &ir.Tensor{DType: ir.U8, Shape: []int{}, U8: []uint8{128}}).
		node("QuantizeLinear", []string{"x", "s", "z"}, []string{"q"}).node("DequantizeLinear", []string{"q", "s", "z"}, []string{"y"}).output("y")
	g = qd.mustLoad(t, Options{})
	if q := g.Values[len(g.Values)-2]; q.Op.Name != "quantize" || !q.Type.Quant.Equal(ir.PerTensor(0.1, 128)) {
		t.Errorf("quantize value %v %v", q.Op.Name, q.Type)
	}
}

func TestResultNames(t *testing.T) {
	g := newModel(13).input("in/put", dtFloat, 2).node("Relu", []string{"in/put"}, []string{"r"}).
		node("Identity", []string{"r"}, []string{"out:0"}).node("Identity", []string{"in/put"}, []string{"same"}).output("out:0", "same").mustLoad(t, Options{})
	if g.Results[0].Name != "out_0" || g.Results[0].Op.Name != "relu" {
		t.Errorf("result 0 is %s %s, want relu %%out_0", g.Results[0].Op.Name, g.Results[0].Name)
	}
	if g.Results[1] != g.Params[0] || g.Params[0].Name != "in_put" || g.Params[0].Source != "in/put" {
		t.Errorf("result 1 %v, param %s (source %s)", g.Results[1].Name, g.Params[0].Name, g.Params[0].Source)
	}
	if g.Name != "t" {
		t.Errorf("graph name %q, want t", g.Name)
	}
}
