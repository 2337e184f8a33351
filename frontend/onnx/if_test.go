package onnx

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestIf: an If whose condition folds at import (here from the input's
// shape, as exported shape checks do) inlines the branch it selects, with
// the branch's own initializers and the outer scope's values; a runtime
// condition is an unsupported error that says why.
func TestIf(t *testing.T) {
	branch := func(name, op string, k float32) *onnxpb.AttributeProto {
		g := &onnxpb.GraphProto{Name: proto.String(name),
			Initializer: []*onnxpb.TensorProto{EncodeTensor(name+"_k", ir.FromF32([]int{1}, []float32{k}))},
			Node:        []*onnxpb.NodeProto{{OpType: proto.String(op), Input: []string{"x", name + "_k"}, Output: []string{name + "_y"}}},
			Output:      []*onnxpb.ValueInfoProto{{Name: proto.String(name + "_y")}}}
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
	}
	for _, tc := range []struct {
		dim  int64
		want []float32
	}{{4, []float32{11, 12, 13, 14}}, {3, []float32{3, 6, 9}}} {
		m := newModel(13).input("x", dtFloat, tc.dim).init("idx", i64s(0)).init("four", i64s(4)).
			node("Shape", []string{"x"}, []string{"s"}).
			node("Gather", []string{"s", "idx"}, []string{"n"}).
			node("Equal", []string{"n", "four"}, []string{"c"}).
			node("If", []string{"c"}, []string{"y"}, branch("then_branch", "Add", 10), branch("else_branch", "Mul", 3)).output("y")
		g := m.mustLoad(t, Options{})
		x := ir.NewTensor(ir.F32, []int{int(tc.dim)})
		for i := range x.F32 {
			x.F32[i] = float32(i + 1)
		}
		out, err := rt.Run(g, []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out[0].F32 {
			if v != tc.want[i] {
				t.Fatalf("dim %d: y = %v, want %v", tc.dim, out[0].F32, tc.want)
			}
		}
	}
	rtCond := newModel(13).input("x", dtFloat, 4).input("c", dtBool, 1).
		node("If", []string{"c"}, []string{"y"}, branch("then_branch", "Add", 10), branch("else_branch", "Mul", 3)).output("y")
	if _, err := rtCond.load(t, Options{}); err == nil || !strings.Contains(err.Error(), "must be a constant") {
		t.Errorf("runtime condition: %v", err)
	}
}
