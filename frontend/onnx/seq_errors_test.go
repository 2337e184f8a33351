package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestSequenceErrors: sequences pare cannot resolve at import, and
// malformed sequence nodes, are errors naming the model, the node and the
// reason.
func TestSequenceErrors(t *testing.T) {
	split := func() *mb {
		return newModel(13).input("x", dtFloat, 3, 4).node("SplitToSequence", []string{"x"}, []string{"s"})
	}
	pos := func(v int64) *ir.Tensor { return ir.FromI64([]int{}, []int64{v}) }
	for _, tc := range []struct {
		name        string
		m           *mb
		node        string
		want        string
		unsupported bool
	}{
		{"at range", split().init("p", pos(3)).node("SequenceAt", []string{"s", "p"}, []string{"y"}).output("y"),
			"SequenceAt_1", "position 3 is out of range [-3, 2] for a sequence of 3 tensors", false},
		{"at runtime", split().input("p", dtInt64).node("SequenceAt", []string{"s", "p"}, []string{"y"}).output("y"),
			"SequenceAt_1", `input "p" must be a constant; bind it with --bind p=FILE`, false},
		{"at tensor", split().init("p", pos(0)).node("SequenceAt", []string{"x", "p"}, []string{"y"}).output("y"),
			"SequenceAt_1", `input "x" is a tensor, want a sequence`, false},
		{"sequence into relu", split().node("Relu", []string{"s"}, []string{"y"}).output("y"),
			"Relu_1", `input 0, "s", is a sequence`, true},
		{"insert range", split().init("p", pos(-4)).node("SequenceInsert", []string{"s", "x", "p"}, []string{"s2"}).
			node("SequenceAt", []string{"s2", "p"}, []string{"y"}).output("y"), "SequenceInsert_1", "position -4 is out of range [-3, 3]", false},
		{"insert dtype", split().input("i", dtInt64, 1, 4).node("SequenceInsert", []string{"s", "i"}, []string{"s2"}).
			node("ConcatFromSequence", []string{"s2"}, []string{"y"}, aInt("axis", 0)).output("y"), "SequenceInsert_1", "tensor i64[1,4] cannot join a sequence of f32", false},
		{"erase empty", newModel(13).input("x", dtFloat, 2).node("SequenceEmpty", nil, []string{"s"}).node("SequenceErase", []string{"s"}, []string{"s2"}).
			node("SequenceInsert", []string{"s2", "x"}, []string{"s3"}).node("ConcatFromSequence", []string{"s3"}, []string{"y"}, aInt("axis", 0)).output("y"),
			"SequenceErase_1", "the sequence is empty: nothing to erase", false},
		{"concat empty", newModel(13).input("x", dtFloat, 2).node("SequenceEmpty", nil, []string{"s"}).
			node("ConcatFromSequence", []string{"s"}, []string{"y"}, aInt("axis", 0)).output("y"), "ConcatFromSequence_1", "the sequence is empty", false},
		{"concat axis", split().node("ConcatFromSequence", []string{"s"}, []string{"y"}, aInt("axis", 3), aInt("new_axis", 1)).output("y"),
			"ConcatFromSequence_1", "axis 3 out of range for rank 3", false},
		{"concat no axis", split().node("ConcatFromSequence", []string{"s"}, []string{"y"}).output("y"),
			"ConcatFromSequence_1", "the axis attribute is missing", false},
		{"split sum", newModel(13).input("x", dtFloat, 3, 4).init("sp", i64s(1, 1)).node("SplitToSequence", []string{"x", "sp"}, []string{"s"}).
			node("ConcatFromSequence", []string{"s"}, []string{"y"}, aInt("axis", 0)).output("y"), "SplitToSequence_0", "split [1 1] sums to 2, want the dim 3 of axis 0", false},
		{"split runtime", newModel(13).input("x", dtFloat, 3, 4).input("sp", dtInt64).node("SplitToSequence", []string{"x", "sp"}, []string{"s"}).
			node("ConcatFromSequence", []string{"s"}, []string{"y"}, aInt("axis", 0)).output("y"), "SplitToSequence_0", `input "sp" must be a constant; bind it with --bind sp=FILE`, false},
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
	// A sequence as a graph output.
	_, err := split().output("s").load(t, Options{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `graph output "s" is a sequence`) || !strings.Contains(err.Error(), "t.onnx") {
		t.Errorf("sequence output: err = %v", err)
	}
}
