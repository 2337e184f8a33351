package onnx

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// TestDecomposition2Errors: what the decompositions of convert_norm2.go,
// convert_rnn.go, convert_einsum.go and convert_misc2.go do not support
// is an error naming the model, the node and the reason.
func TestDecomposition2Errors(t *testing.T) {
	rnn := func(op string, g int, attrs ...*attrProto) *mb {
		return newModel(14).input("x", dtFloat, 3, 2, 4).init("w", f32s([]int{1, g * 5, 4})).init("r", f32s([]int{1, g * 5, 5})).
			init("lens", ir.FromI64([]int{2}, []int64{3, 2})).
			node(op, []string{"x", "w", "r"}, []string{"y"}, append([]*attrProto{aInt("hidden_size", 5)}, attrs...)...).output("y")
	}
	lens := func(op string, g int, lensIn string) *mb {
		m := newModel(14).input("x", dtFloat, 3, 2, 4).input("l", dtInt32, 2).init("w", f32s([]int{1, g * 5, 4})).init("r", f32s([]int{1, g * 5, 5})).
			init("lens", ir.FromI64([]int{2}, []int64{3, 2}))
		return m.node(op, []string{"x", "w", "r", "", lensIn}, []string{"y"}, aInt("hidden_size", 5)).output("y")
	}
	einsum := func(eq string, in ...string) *mb {
		var attrs []*attrProto
		if eq != "" {
			attrs = append(attrs, aStr("equation", eq))
		}
		return newModel(13).input("x", dtFloat, 3, 3).init("w", f32s([]int{4, 3})).node("Einsum", in, []string{"y"}, attrs...).output("y")
	}
	two := func(op, a, b string) *mb {
		return newModel(13).input("x", dtFloat, 3, 3).input("xi", dtInt64, 3, 3).init("big", ir.FromI64([]int{1, 1}, []int64{5})).
			node(op, []string{a, b}, []string{"y"}).output("y")
	}
	for _, tc := range []struct {
		name        string
		m           *mb
		node        string
		want        string
		unsupported bool
	}{
		{"rnn activation", rnn("RNN", 1, aStrs("activations", "ThresholdedRelu")), "RNN_0", `activation "thresholdedrelu" is not supported`, true},
		{"gru activations count", rnn("GRU", 3, aStrs("activations", "Sigmoid")), "GRU_0", "want 2 (2 per direction)", false},
		{"lstm direction", rnn("LSTM", 4, aStr("direction", "sideways")), "LSTM_0", `direction "sideways"`, false},
		{"lstm hidden", rnn("LSTM", 3), "LSTM_0", "W is f32[1,15,4], want f32[1,20,4]", false},
		{"rnn clip", rnn("RNN", 1, aFloat("clip", -1)), "RNN_0", "clip -1 must be positive", false},
		{"rnn lens short", lens("RNN", 1, "lens"), "RNN_0", "only every sequence at the full length 3", true},
		{"gru lens runtime", lens("GRU", 3, "l"), "GRU_0", "sequence_lens must be absent or constant", true},
		{"groupnorm groups", newModel(21).input("x", dtFloat, 1, 6, 2).init("s", f32s([]int{6})).
			node("GroupNormalization", []string{"x", "s", "s"}, []string{"y"}, aInt("num_groups", 4)).output("y"), "GroupNormalization_0", "num_groups 4 must be positive and divide the 6 channels", false},
		{"groupnorm scale", newModel(18).input("x", dtFloat, 1, 6, 2).init("s", f32s([]int{6})).
			node("GroupNormalization", []string{"x", "s", "s"}, []string{"y"}, aInt("num_groups", 3)).output("y"), "GroupNormalization_0", "scale [6] must be [3]", false},
		{"lpnorm p", newModel(13).input("x", dtFloat, 2, 3).node("LpNormalization", []string{"x"}, []string{"y"}, aInt("p", 3)).output("y"),
			"LpNormalization_0", "p 3 must be 1 or 2", false},
		{"einsum diagonal", einsum("ii->i", "x"), "Einsum_0", "repeats label i in operand 0 (a diagonal)", true},
		{"einsum operands", einsum("ij,jk->ik", "x"), "Einsum_0", `equation "ij,jk->ik" has 2 operands, the node 1 inputs`, false},
		{"einsum rank", einsum("ijk->i", "x"), "Einsum_0", "labels do not match the rank", false},
		{"einsum output", einsum("ij->iz", "x"), "Einsum_0", "output label z is in no operand", false},
		{"einsum sizes", einsum("ij,ij->i", "x", "w"), "Einsum_0", "label i is 3 in one operand and 4 in another", false},
		{"einsum missing", einsum("", "x"), "Einsum_0", "the equation attribute is missing", false},
		{"gathernd shape", two("GatherND", "x", "xi"), "GatherND_0", "indices [3 3], batch_dims 0 do not fit data [3 3]", false},
		{"onehot runtime depth", newModel(13).input("x", dtInt64, 3).input("d", dtInt64).init("v", f32s([]int{2})).
			node("OneHot", []string{"x", "d", "v"}, []string{"y"}).output("y"), "OneHot_0", `input "d" must be a constant`, false},
		{"cumsum axis", two("CumSum", "x", "xi"), "CumSum_0", `input "xi" must be a constant`, false},
		{"gatherelements range", two("GatherElements", "x", "big"), "GatherElements_0", "index 5 at [0 0] is out of range", false},
		{"compress nothing", newModel(13).input("x", dtFloat, 3, 3).init("c", ir.NewTensor(ir.Bool, []int{2})).
			node("Compress", []string{"x", "c"}, []string{"y"}, aInt("axis", 0)).output("y"), "Compress_0", "the condition selects nothing", true},
		{"reduceprod extent", newModel(13).input("x", dtFloat, 5, 65).node("ReduceProd", []string{"x"}, []string{"y"}, aInts("axes", 1)).output("y"),
			"ReduceProd_0", "ReduceProd over 65 elements per output: pare decomposes at most 64", true},
		{"shrink bias", newModel(13).input("x", dtFloat, 4).node("Shrink", []string{"x"}, []string{"y"}, aFloat("bias", 1)).output("y"),
			"Shrink_0", "bias 1 with lambd 0.5", true},
	} {
		_, err := tc.m.load(t, Options{})
		prefix := `node "` + tc.node + `"`
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), "t.onnx") {
			t.Errorf("%s: err = %v\nwant it to name t.onnx, %s and say %q", tc.name, err, prefix, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.name, err, !tc.unsupported, tc.unsupported)
		}
	}
}

func aStrs(name string, v ...string) *attrProto {
	a := &attrProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// TestDecomposition2Forms pins the IR ops a few of the new decompositions
// become.
func TestDecomposition2Forms(t *testing.T) {
	for _, tc := range []struct {
		opset int64
		op    string
		x     []int64
		in    []string
		attrs []*attrProto
		want  []string
	}{
		{13, "LogSoftmax", []int64{2, 5}, nil, nil, []string{"reduce_max", "sub", "exp", "reduce_sum", "log", "sub"}},
		{14, "CumSum", []int64{8}, []string{"x", "zero"}, nil, []string{"pad", "add", "pad", "add", "pad", "add"}},
		{14, "CumSum", []int64{5}, []string{"x", "zero"}, []*attrProto{aInt("exclusive", 1)}, []string{"pad", "pad", "add", "pad", "add", "pad", "add"}},
		{14, "Trilu", []int64{3, 3}, nil, nil, []string{"mul"}},
		{13, "Shrink", []int64{4}, nil, []*attrProto{aFloat("bias", 0.5)}, []string{"clip", "sub"}},
		{13, "Einsum", []int64{3, 4}, nil, []*attrProto{aStr("equation", "ij->ji")}, []string{"transpose"}},
		{13, "Einsum", []int64{4, 4}, []string{"x", "w"}, []*attrProto{aStr("equation", "ij,jk->ik")}, []string{"matmul"}},
		{13, "Einsum", []int64{4, 4}, []string{"x", "w"}, []*attrProto{aStr("equation", "ij,ij->ij")}, []string{"mul"}},
		{13, "ReduceProd", []int64{2, 4}, nil, []*attrProto{aInts("axes", 1), aInt("keepdims", 0)}, []string{"slice", "slice", "mul", "slice", "slice", "mul", "reshape"}},
		{13, "LpNormalization", []int64{2, 4}, nil, nil, []string{"mul", "reduce_sum", "sqrt", "div"}},
	} {
		in := tc.in
		if in == nil {
			in = []string{"x"}
		}
		m := newModel(tc.opset).input("x", dtFloat, tc.x...).init("zero", i64s(0)).init("w", f32s([]int{4, 4}))
		g := m.node(tc.op, in, []string{"y"}, tc.attrs...).output("y").mustLoad(t, Options{})
		if got := ops(g); !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: ops %v, want %v", tc.op, tc.attrs, got, tc.want)
		}
	}
}
