package onnx

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestDecompositionErrors: attributes, inputs and outputs the decomposed
// ops do not support are errors naming the node and the reason; the
// unsupported ones are *UnsupportedError.
func TestDecompositionErrors(t *testing.T) {
	for _, tc := range []struct {
		opset       int64
		op          string
		x           []int64
		dt          int32
		in          []string
		out         []string
		attrs       []*attrProto
		want        string
		unsupported bool
	}{
		{opset: 20, op: "Gelu", x: []int64{4}, attrs: []*attrProto{aStr("approximate", "erf")}, want: `approximate "erf" is not supported`, unsupported: true},
		{opset: 17, op: "LayerNormalization", x: []int64{2, 4}, in: []string{"x", "s"}, out: []string{"y", "mean"}, want: "output 1 (Mean or InvStdDev) is not supported", unsupported: true},
		{opset: 17, op: "LayerNormalization", x: []int64{2, 4}, in: []string{"x", "s"}, out: []string{"y", "", "inv"}, want: "output 2 (Mean or InvStdDev)", unsupported: true},
		{opset: 17, op: "LayerNormalization", x: []int64{2, 4}, in: []string{"x", "s"}, attrs: []*attrProto{aInt("stash_type", 11)}, want: "stash_type 11 is not supported", unsupported: true},
		{opset: 17, op: "LayerNormalization", x: []int64{2, 5}, in: []string{"x", "s"}, want: "Scale [4] does not broadcast to the input [2 5]"},
		{opset: 17, op: "LayerNormalization", x: []int64{2, 4}, in: []string{"x", "s"}, attrs: []*attrProto{aInt("axis", 2)}, want: "axis 2 out of range"},
		{opset: 13, op: "DepthToSpace", x: []int64{1, 8, 2, 2}, attrs: []*attrProto{aInt("blocksize", 2), aStr("mode", "RDC")}, want: `mode "RDC" is not supported`, unsupported: true},
		{opset: 13, op: "DepthToSpace", x: []int64{1, 6, 2, 2}, attrs: []*attrProto{aInt("blocksize", 2)}, want: "channels 6 are not a multiple of blocksize² 4"},
		{opset: 13, op: "DepthToSpace", x: []int64{1, 8, 2}, attrs: []*attrProto{aInt("blocksize", 2)}, want: "must have rank 4"},
		{opset: 13, op: "SpaceToDepth", x: []int64{1, 2, 4, 5}, attrs: []*attrProto{aInt("blocksize", 2)}, want: "spatial dims 4x5 are not multiples of blocksize 2"},
		{opset: 13, op: "SpaceToDepth", x: []int64{1, 2, 4, 4}, want: "the blocksize attribute is missing"},
		{opset: 13, op: "SpaceToDepth", x: []int64{1, 2, 4, 4}, attrs: []*attrProto{aInt("blocksize", 0)}, want: "blocksize 0 must be positive"},
		{opset: 13, op: "LRN", x: []int64{1, 4, 3, 3}, want: "the size attribute is missing"},
		{opset: 13, op: "LRN", x: []int64{1, 4, 3, 3}, attrs: []*attrProto{aInt("size", -1)}, want: "size -1 must be positive"},
		{opset: 13, op: "Celu", x: []int64{4}, attrs: []*attrProto{aFloat("alpha", 0)}, want: "alpha 0: Celu divides by alpha"},
		{opset: 13, op: "Elu", x: []int64{4}, dt: dtInt32, want: "pare imports Elu on FLOAT tensors only", unsupported: true},
		{opset: 18, op: "ReduceL2", x: []int64{4}, dt: dtInt32, want: "pare imports ReduceL2 on FLOAT tensors only", unsupported: true},
		{opset: 18, op: "ReduceLogSumExp", x: []int64{2, 4}, in: []string{"x", "ax"}, want: "axes [1 -1] repeat an axis"},
		{opset: 13, op: "InstanceNormalization", x: []int64{2, 4}, in: []string{"x", "s", "s"}, want: "needs rank >= 3"},
		{opset: 13, op: "Tile", x: []int64{2, 4}, in: []string{"x", "ax"}, want: "need 2 entries"},
		{opset: 13, op: "Tile", x: []int64{2, 4}, in: []string{"x", "neg"}, want: "repeats [2 -1] must be >= 0"},
		{opset: 13, op: "Mod", x: []int64{4}, in: []string{"x", "s"}, want: "Mod on FLOAT needs fmod=1"},
		{opset: 13, op: "Mod", x: []int64{4}, in: []string{"x", "s"}, attrs: []*attrProto{aInt("fmod", 2)}, want: "fmod 2 (want 0 or 1)"},
		{opset: 13, op: "Sin", x: []int64{4}, dt: dtInt32, want: "sin takes f32"},
		{opset: 16, op: "Where", x: []int64{4}, in: []string{"x", "x", "s"}, want: "condition %x is f32, want bool"},
		{opset: 13, op: "And", x: []int64{4}, in: []string{"x", "x"}, want: "and takes bool"},
		{opset: 13, op: "Less", x: []int64{4}, dt: dtInt32, in: []string{"x", "s"}, want: "operands are i32 and f32"},
	} {
		dt := tc.dt
		if dt == 0 {
			dt = dtFloat
		}
		in, out := tc.in, tc.out
		if in == nil {
			in = []string{"x"}
		}
		if out == nil {
			out = []string{"y"}
		}
		m := newModel(tc.opset).input("x", dt, tc.x...).init("s", f32s([]int{4})).init("ax", i64s(1, 1, 1)).init("neg", i64s(2, -1))
		if tc.op == "ReduceLogSumExp" {
			m.inits[1] = EncodeTensor("ax", i64s(1, -1))
		}
		m.node(tc.op, in, out, tc.attrs...).output(slices.DeleteFunc(slices.Clone(out), func(s string) bool { return s == "" })...)
		_, err := m.load(t, Options{})
		prefix := `node "` + tc.op + `_0" (` + tc.op + `)`
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), prefix) {
			t.Errorf("%s %v: err = %v\nwant it to name %s and say %q", tc.op, tc.attrs, err, prefix, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.op, err, !tc.unsupported, tc.unsupported)
		}
	}
}

// TestDecompositionForms pins the IR ops a few decompositions become.
func TestDecompositionForms(t *testing.T) {
	for _, tc := range []struct {
		opset int64
		op    string
		x     []int64
		in    []string
		attrs []*attrProto
		want  []string
	}{
		{13, "LRN", []int64{1, 8, 3, 3}, nil, []*attrProto{aInt("size", 5)}, []string{"mul", "reshape", "avgpool", "reshape", "mul", "add", "pow", "div"}},
		{13, "DepthToSpace", []int64{1, 8, 3, 3}, nil, []*attrProto{aInt("blocksize", 2)}, []string{"reshape", "transpose", "reshape"}},
		{13, "Tile", []int64{2, 3}, []string{"x", "r"}, nil, []string{"reshape", "expand", "reshape"}},
		{13, "Tile", []int64{2, 3}, []string{"x", "one"}, nil, nil},
		{18, "ReduceMin", []int64{2, 3}, nil, []*attrProto{aInt("keepdims", 0)}, []string{"neg", "reduce_max", "neg"}},
		{18, "ReduceL2", []int64{2, 3}, nil, []*attrProto{aInt("noop_with_empty_axes", 1)}, []string{"mul", "sqrt"}},
		{18, "ReduceLogSumExp", []int64{2, 3}, []string{"x", "ax"}, []*attrProto{aInt("keepdims", 0)}, []string{"reduce_max", "sub", "exp", "reduce_sum", "log", "add", "reshape"}},
		{13, "ReduceMean", []int64{2, 3}, nil, []*attrProto{aInts("axes", 1)}, []string{"reduce_mean"}},
		{13, "ThresholdedRelu", []int64{4}, nil, nil, []string{"sub", "relu", "ceil", "clip", "max", "mul"}},
	} {
		in := tc.in
		if in == nil {
			in = []string{"x"}
		}
		m := newModel(tc.opset).input("x", dtFloat, tc.x...).init("r", i64s(2, 1)).init("one", i64s(1, 1)).init("ax", i64s(-1))
		g := m.node(tc.op, in, []string{"y"}, tc.attrs...).output("y").mustLoad(t, Options{})
		if got := ops(g); !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: ops %v, want %v", tc.op, tc.attrs, got, tc.want)
		}
	}
	// Constant inputs fold: a Tile of a constant is a constant.
	g := newModel(13).input("x", dtFloat, 6).init("c", f32s([]int{2})).init("r", i64s(3)).
		node("Tile", []string{"c", "r"}, []string{"t"}).node("Add", []string{"x", "t"}, []string{"y"}).output("y").mustLoad(t, Options{})
	if got := ops(g); !slices.Equal(got, []string{"add"}) || !slices.Equal(g.Results[0].Args[1].Const.F32, []float32{0, 1, 0, 1, 0, 1}) {
		t.Errorf("folded Tile: ops %v", got)
	}
}
