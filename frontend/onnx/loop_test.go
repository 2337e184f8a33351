package onnx

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// loopBody is v' = v·2 + float(i), the condition passed through, and v' as
// a scan output as well; stop, when set, makes the body's condition i < 1
// (a Less of constants once unrolled: the loop ends after 2 iterations).
func loopBody(stop bool) *onnxpb.AttributeProto {
	vi := func(name string, dt int32, dims ...int64) *onnxpb.ValueInfoProto { return vinfo(name, dt, dims...) }
	nodes := []*onnxpb.NodeProto{
		{OpType: proto.String("Mul"), Input: []string{"v", "two"}, Output: []string{"m"}},
		{OpType: proto.String("Cast"), Input: []string{"i"}, Output: []string{"fi"}, Attribute: []*onnxpb.AttributeProto{aInt("to", int64(dtFloat))}},
		{OpType: proto.String("Add"), Input: []string{"m", "fi"}, Output: []string{"v2"}},
		{OpType: proto.String("Identity"), Input: []string{"v2"}, Output: []string{"s"}},
	}
	if stop {
		nodes = append(nodes, &onnxpb.NodeProto{OpType: proto.String("Less"), Input: []string{"i", "one"}, Output: []string{"c2"}})
	} else {
		nodes = append(nodes, &onnxpb.NodeProto{OpType: proto.String("Identity"), Input: []string{"c"}, Output: []string{"c2"}})
	}
	g := &onnxpb.GraphProto{Name: proto.String("body"),
		Initializer: []*onnxpb.TensorProto{EncodeTensor("two", ir.FromF32([]int{1}, []float32{2})), EncodeTensor("one", ir.FromI64([]int{}, []int64{1}))},
		Input:       []*onnxpb.ValueInfoProto{vi("i", dtInt64), vi("c", dtBool), vi("v", dtFloat, 2)},
		Node:        nodes,
		Output:      []*onnxpb.ValueInfoProto{vi("c2", dtBool), vi("v2", dtFloat, 2), vi("s", dtFloat, 2)}}
	return &onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// TestLoop: a Loop with a constant trip count unrolls into its iterations
// (final loop-carried value, stacked scan output), a body condition that
// folds to false ends it early, and a runtime trip count is unsupported;
// ONNX Runtime agrees outside -short.
func TestLoop(t *testing.T) {
	x := ir.FromF32([]int{2}, []float32{1, 2})
	for _, tc := range []struct {
		stop        bool
		final, scan []float32
	}{
		{false, []float32{12, 20}, []float32{2, 4, 5, 9, 12, 20}},
		{true, []float32{5, 9}, []float32{2, 4, 5, 9}},
	} {
		for k, want := range [][]float32{tc.final, tc.scan} {
			t.Run(fmt.Sprintf("stop%v/out%d", tc.stop, k), func(t *testing.T) {
				m := newModel(13).input("x0", dtFloat, 2).init("M", ir.FromI64([]int{}, []int64{3})).
					init("c", &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{true}}).
					node("Loop", []string{"M", "c", "x0"}, []string{"vf", "scan"}, loopBody(tc.stop)).
					output([]string{"vf", "scan"}[k])
				g := m.mustLoad(t, Options{})
				out, err := rt.Run(g, []*ir.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(out[0].F32) != fmt.Sprint(want) {
					t.Errorf("got %v %v, want %v", out[0].Shape, out[0].F32, want)
				}
				if testing.Short() {
					return
				}
				if o := runContribORT(t, m.bytes(t), []*ir.Tensor{x}); o != nil && fmt.Sprint(o) != fmt.Sprint(want) {
					t.Errorf("ONNX Runtime gives %v, want %v", o, want)
				}
			})
		}
	}
	rtM := newModel(13).input("x0", dtFloat, 2).input("M", dtInt64).
		init("c", &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{true}}).
		node("Loop", []string{"M", "c", "x0"}, []string{"vf"}, loopBody(false)).output("vf")
	if _, err := rtM.load(t, Options{}); err == nil || !strings.Contains(err.Error(), "must be a constant") {
		t.Errorf("runtime trip count: %v", err)
	}
}

// TestLoopBounds: nested loops that would unroll past the import's node
// budget, and bodies nested too deep, are unsupported errors, quickly.
func TestLoopBounds(t *testing.T) {
	// A Loop of 4096 iterations whose body is a Loop of 4096 iterations.
	inner := &onnxpb.GraphProto{Name: proto.String("inner"),
		Input:  []*onnxpb.ValueInfoProto{vinfo("j", dtInt64), vinfo("d", dtBool), vinfo("w", dtFloat, 2)},
		Node:   []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Input: []string{"d"}, Output: []string{"d2"}}, {OpType: proto.String("Neg"), Input: []string{"w"}, Output: []string{"w2"}}},
		Output: []*onnxpb.ValueInfoProto{vinfo("d2", dtBool), vinfo("w2", dtFloat, 2)}}
	outer := &onnxpb.GraphProto{Name: proto.String("outer"),
		Initializer: []*onnxpb.TensorProto{EncodeTensor("N", ir.FromI64([]int{}, []int64{4096}))},
		Input:       []*onnxpb.ValueInfoProto{vinfo("i", dtInt64), vinfo("c", dtBool), vinfo("v", dtFloat, 2)},
		Node: []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Input: []string{"c"}, Output: []string{"c2"}},
			{OpType: proto.String("Loop"), Input: []string{"N", "c", "v"}, Output: []string{"v2"},
				Attribute: []*onnxpb.AttributeProto{{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: inner}}}},
		Output: []*onnxpb.ValueInfoProto{vinfo("c2", dtBool), vinfo("v2", dtFloat, 2)}}
	m := newModel(13).input("x0", dtFloat, 2).init("M", ir.FromI64([]int{}, []int64{4096})).
		init("c", &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{true}}).
		node("Loop", []string{"M", "c", "x0"}, []string{"vf"}, &onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: outer}).
		output("vf")
	if _, err := m.load(t, Options{}); err == nil || !strings.Contains(err.Error(), "nodes at import") {
		t.Errorf("nested 4096 × 4096 loop: %v", err)
	}
}
