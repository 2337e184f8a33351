package onnx

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestDecomposition3Errors: what the decompositions of convert_misc3.go do
// not support, and malformed nodes, are errors naming the model, the node
// and the reason.
func TestDecomposition3Errors(t *testing.T) {
	scatter := func(op string, opset int64, idx *ir.Tensor, upd []int, attrs ...*attrProto) *mb {
		return newModel(opset).input("x", dtFloat, 3, 4).input("xi", dtInt64, 2, 4).init("idx", idx).init("u", f32s(upd)).
			node(op, []string{"x", "idx", "u"}, []string{"y"}, attrs...).output("y")
	}
	window := func(op string, size *ir.Tensor, attrs ...*attrProto) *mb {
		return newModel(17).init("n", size).node(op, []string{"n"}, []string{"y"}, attrs...).output("y")
	}
	dft := func(opset int64, x []int64, attrs ...*attrProto) *mb {
		return newModel(opset).input("x", dtFloat, x...).node("DFT", []string{"x"}, []string{"y"}, attrs...).output("y")
	}
	for _, tc := range []struct {
		name        string
		m           *mb
		node        string
		want        string
		unsupported bool
	}{
		{"hardmax axis", newModel(13).input("x", dtFloat, 2, 3).node("Hardmax", []string{"x"}, []string{"y"}, aInt("axis", 2)).output("y"),
			"Hardmax_0", "axis 2 out of range for rank 2", false},
		{"hardmax int", newModel(13).input("x", dtInt64, 2, 3).node("Hardmax", []string{"x"}, []string{"y"}).output("y"),
			"Hardmax_0", "pare imports Hardmax on FLOAT tensors only", true},
		{"rmsnorm scale", newModel(23).input("x", dtFloat, 2, 3).init("s", f32s([]int{2})).
			node("RMSNormalization", []string{"x", "s"}, []string{"y"}).output("y"), "RMSNormalization_0", "scale [2] does not broadcast to the input [2 3]", false},
		{"rmsnorm stash", newModel(23).input("x", dtFloat, 2, 3).init("s", f32s([]int{3})).
			node("RMSNormalization", []string{"x", "s"}, []string{"y"}, aInt("stash_type", 0)).output("y"), "RMSNormalization_0", "stash_type 0 is not supported", true},
		{"scatter runtime indices", newModel(13).input("x", dtFloat, 3, 4).input("xi", dtInt64, 2, 4).init("u", f32s([]int{2, 4})).
			node("ScatterElements", []string{"x", "xi", "u"}, []string{"y"}).output("y"), "ScatterElements_0", `input "xi" must be a constant; bind it with --bind xi=FILE`, false},
		{"scatterelements range", scatter("ScatterElements", 13, ir.FromI64([]int{1, 2}, []int64{1, 3}), []int{1, 2}),
			"ScatterElements_0", "index 3 at [0 1] is out of range for dim 0 of size 3", false},
		{"scatterelements negative range", scatter("ScatterElements", 13, ir.FromI64([]int{1, 2}, []int64{1, -5}), []int{1, 2}, aInt("axis", 1)),
			"ScatterElements_0", "index -5 at [0 1] is out of range for dim 1 of size 4", false},
		{"scatterelements shapes", scatter("ScatterElements", 13, ir.FromI64([]int{1, 2}, []int64{1, 2}), []int{2, 2}),
			"ScatterElements_0", "indices [1 2] and updates [2 2] must have one shape", false},
		{"scatterelements off axis", scatter("ScatterElements", 13, ir.FromI64([]int{1, 5}, []int64{0, 0, 0, 0, 0}), []int{1, 5}),
			"ScatterElements_0", "indices [1 5] exceed data [3 4] off axis 0", false},
		{"scatter reduction", scatter("ScatterElements", 18, ir.FromI64([]int{1, 1}, []int64{0}), []int{1, 1}, aStr("reduction", "sub")),
			"ScatterElements_0", `unknown reduction "sub"`, false},
		{"scatternd range", scatter("ScatterND", 13, ir.FromI64([]int{1, 2}, []int64{2, 4}), []int{1}),
			"ScatterND_0", "index 4 at [0 1] is out of range for dim 1 of size 4", false},
		{"scatternd updates", scatter("ScatterND", 13, ir.FromI64([]int{2, 1}, []int64{0, 1}), []int{2, 3}),
			"ScatterND_0", "updates [2 3] must be [2 4]", false},
		{"scatternd tuple", scatter("ScatterND", 13, ir.FromI64([]int{1, 3}, []int64{0, 1, 1}), []int{1}),
			"ScatterND_0", "indices [1 3] must end in a dim of 1 to the rank of data [3 4]", false},
		{"scatternd layers", scatter("ScatterND", 16, ir.NewTensor(ir.I64, []int{65, 2}), []int{65}, aStr("reduction", "add")),
			"ScatterND_0", "more than 64 updates reduce into one element", true},
		{"reversesequence lens", newModel(10).input("x", dtFloat, 4, 2).init("l", i64s(4, 5)).node("ReverseSequence", []string{"x", "l"}, []string{"y"}).output("y"),
			"ReverseSequence_0", "sequence_lens[1] = 5 is out of range [0, 4]", false},
		{"reversesequence batch", newModel(10).input("x", dtFloat, 4, 2).init("l", i64s(4, 1, 1)).node("ReverseSequence", []string{"x", "l"}, []string{"y"}).output("y"),
			"ReverseSequence_0", "sequence_lens i64[3] must be integers of shape [2]", false},
		{"reversesequence axes", newModel(10).input("x", dtFloat, 4, 2).init("l", i64s(4, 1)).
			node("ReverseSequence", []string{"x", "l"}, []string{"y"}, aInt("time_axis", 1)).output("y"), "ReverseSequence_0", "time_axis 1 and batch_axis 1 must be 0 and 1", false},
		{"reversesequence runtime", newModel(10).input("x", dtFloat, 4, 2).input("l", dtInt64, 2).node("ReverseSequence", []string{"x", "l"}, []string{"y"}).output("y"),
			"ReverseSequence_0", `input "l" must be a constant`, false},
		{"centercroppad size", newModel(18).input("x", dtFloat, 4, 2).init("s", i64s(0)).node("CenterCropPad", []string{"x", "s"}, []string{"y"}, aInts("axes", 1)).output("y"),
			"CenterCropPad_0", "target size 0 of axis 1 must be positive", false},
		{"centercroppad count", newModel(18).input("x", dtFloat, 4, 2).init("s", i64s(3)).node("CenterCropPad", []string{"x", "s"}, []string{"y"}).output("y"),
			"CenterCropPad_0", "must be integers, one per axis of [0 1]", false},
		{"centercroppad repeat", newModel(18).input("x", dtFloat, 4, 2).init("s", i64s(3, 3)).node("CenterCropPad", []string{"x", "s"}, []string{"y"}, aInts("axes", 1, -1)).output("y"),
			"CenterCropPad_0", "repeat axis 1", false},
		{"window size", window("HannWindow", i64s(0)), "HannWindow_0", "size 0 must be positive", false},
		{"window symmetric 1", window("HammingWindow", i64s(1), aInt("periodic", 0)), "HammingWindow_0", "a symmetric window of size 1 divides by size − 1 = 0", false},
		{"window dtype", window("BlackmanWindow", i64s(4), aInt("output_datatype", 11)), "BlackmanWindow_0", "output_datatype 11", true},
		{"window size shape", window("BlackmanWindow", i64s(4, 4)), "BlackmanWindow_0", "size [2] must be a scalar", false},
		{"window runtime", newModel(17).input("n", dtInt64).node("HannWindow", []string{"n"}, []string{"y"}).output("y"), "HannWindow_0", `input "n" must be a constant`, false},
		{"dft last dim", dft(17, []int64{2, 4, 3}), "DFT_0", "input [2 4 3] must be [batch, ..., signal, 1 or 2]", false},
		{"dft axis", dft(17, []int64{2, 4, 1}, aInt("axis", 2)), "DFT_0", "axis 2 is the real/imaginary dim of [2 4 1]", false},
		{"dft onesided complex", dft(17, []int64{2, 4, 2}, aInt("onesided", 1)), "DFT_0", "onesided with a complex input or inverse", true},
		{"dft length", newModel(17).input("x", dtFloat, 2, 4, 1).init("l", ir.FromI64([]int{}, []int64{0})).
			node("DFT", []string{"x", "l"}, []string{"y"}).output("y"), "DFT_0", "dft_length 0 must be in [1, 65536]", false},
		{"dft runtime axis", newModel(20).input("x", dtFloat, 2, 4, 1).input("a", dtInt64).node("DFT", []string{"x", "", "a"}, []string{"y"}).output("y"),
			"DFT_0", `input "a" must be a constant`, false},
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

// TestDecomposition3Forms pins the IR ops a few of the decompositions of
// convert_misc3.go become.
func TestDecomposition3Forms(t *testing.T) {
	for _, tc := range []struct {
		opset int64
		op    string
		x     []int64
		in    []string
		attrs []*attrProto
		want  []string
	}{
		{13, "Hardmax", []int64{2, 5}, nil, nil, []string{"argmax", "equal", "where"}},
		{11, "Hardmax", []int64{2, 3, 4}, nil, nil, []string{"reshape", "argmax", "equal", "where", "reshape"}},
		{17, "DFT", []int64{2, 8, 1}, nil, nil, []string{"reshape", "matmul", "reshape", "transpose"}},
		{20, "DFT", []int64{2, 3, 8, 2}, nil, nil, []string{"transpose", "reshape", "matmul", "reshape", "transpose"}},
		{17, "DFT", []int64{2, 8, 3, 1}, nil, nil, []string{"transpose", "reshape", "matmul", "reshape", "transpose"}},
		{13, "ScatterElements", []int64{4}, []string{"x", "i4", "u4"}, nil, []string{"concat", "gather"}},
		{13, "ScatterND", []int64{4}, []string{"x", "i41", "u4"}, nil, []string{"concat", "gather"}},
		{16, "ScatterND", []int64{4}, []string{"x", "i41", "u4"}, []*attrProto{aStr("reduction", "mul")}, []string{"mul", "mul"}}, // the layers of constant updates fold,
	} {
		in := tc.in
		if in == nil {
			in = []string{"x"}
		}
		m := newModel(tc.opset).input("x", dtFloat, tc.x...).init("i4", i64s(3, 0, 1, 1)).init("i41", ir.FromI64([]int{4, 1}, []int64{3, 0, 1, 1})).init("u4", f32s([]int{4}))
		g := m.node(tc.op, in, []string{"y"}, tc.attrs...).output("y").mustLoad(t, Options{})
		if got := ops(g); !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: ops %v, want %v", tc.op, tc.attrs, got, tc.want)
		}
	}
}
