package onnx

import (
	"math"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// Cases of the sequence ops (convert_seq.go): small networks that make
// sequences and read tensors back out of them.

// seqLoopBody appends x·float(i) to the loop-carried sequence (outer x
// named x), the condition passed through: a list built in a for-loop, as
// torch exports it.
func seqLoopBody(x string) *onnxpb.AttributeProto {
	seqType := &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{
		ElemType: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(dtFloat)}}}}}}
	seqInfo := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: seqType}
	}
	g := &onnxpb.GraphProto{Name: proto.String("body"),
		Input: []*onnxpb.ValueInfoProto{vinfo("i", dtInt64), vinfo("c", dtBool), seqInfo("sq")},
		Node: []*onnxpb.NodeProto{
			{OpType: proto.String("Cast"), Input: []string{"i"}, Output: []string{"fi"}, Attribute: []*onnxpb.AttributeProto{aInt("to", int64(dtFloat))}},
			{OpType: proto.String("Mul"), Input: []string{x, "fi"}, Output: []string{"t"}},
			{OpType: proto.String("SequenceInsert"), Input: []string{"sq", "t"}, Output: []string{"sq2"}},
			{OpType: proto.String("Identity"), Input: []string{"c"}, Output: []string{"c2"}},
		},
		Output: []*onnxpb.ValueInfoProto{vinfo("c2", dtBool), seqInfo("sq2")}}
	return &onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

func seqCases() []decompCase {
	at := func(x *ir.Tensor, idx ...int) float64 { return x.At(flat(idx, x.Shape)) }
	scalarI64 := func(v int64) *ir.Tensor { return ir.FromI64([]int{}, []int64{v}) }
	return []decompCase{
		{name: "Sequence/loop_carried_list", opset: 13, x: []int{2, 3},
			body: func(m *mb, p string) {
				m.init(p+"M", scalarI64(3)).init(p+"c", &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{true}}).
					node("SequenceEmpty", nil, []string{p + "s0"}).
					node("Loop", []string{p + "M", p + "c", p + "s0"}, []string{p + "s"}, seqLoopBody(p+"x")).
					node("ConcatFromSequence", []string{p + "s"}, []string{p + "y"}, aInt("axis", 0), aInt("new_axis", 1))
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{3, 2, 3}, func(i []int) float64 { return float64(i[0]) * at(x, i[1], i[2]) })
			}},
		{name: "Sequence/split_lengths_at_last", opset: 11, x: []int{2, 4, 3},
			body: func(m *mb, p string) {
				m.init(p+"split", i64s(1, 2, 1)).init(p+"pos", scalarI64(-2)).
					node("SplitToSequence", []string{p + "x", p + "split"}, []string{p + "seq"}, aInt("axis", 1)).
					node("SequenceAt", []string{p + "seq", p + "pos"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{2, 2, 3}, func(i []int) float64 { return at(x, i[0], i[1]+1, i[2]) })
			}},
		{name: "Sequence/split_ones_stack", opset: 13, x: []int{3, 4},
			body: func(m *mb, p string) {
				m.node("SplitToSequence", []string{p + "x"}, []string{p + "seq"}, aInt("keepdims", 0)).
					node("ConcatFromSequence", []string{p + "seq"}, []string{p + "y"}, aInt("axis", -1), aInt("new_axis", 1))
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{4, 3}, func(i []int) float64 { return at(x, i[1], i[0]) })
			}},
		{name: "Sequence/split_keepdims_concat", opset: 11, x: []int{2, 3},
			body: func(m *mb, p string) {
				m.node("SplitToSequence", []string{p + "x"}, []string{p + "seq"}, aInt("axis", 1)).
					node("ConcatFromSequence", []string{p + "seq"}, []string{p + "y"}, aInt("axis", 0))
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{6, 1}, func(i []int) float64 { return at(x, i[0]%2, i[0]/2) })
			}},
		{name: "Sequence/split_chunks", opset: 11, x: []int{5, 2},
			body: func(m *mb, p string) {
				m.init(p+"split", scalarI64(2)).init(p+"pos", scalarI64(2)).
					node("SplitToSequence", []string{p + "x", p + "split"}, []string{p + "seq"}).
					node("SequenceAt", []string{p + "seq", p + "pos"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{1, 2}, func(i []int) float64 { return at(x, 4, i[1]) })
			}},
		{name: "Sequence/construct_insert_erase_concat", opset: 14, x: []int{2, 3},
			body: func(m *mb, p string) {
				m.init(p+"one", scalarI64(1)).init(p+"zero", scalarI64(0)).
					node("Neg", []string{p + "x"}, []string{p + "neg"}).
					node("Exp", []string{p + "x"}, []string{p + "exp"}).
					node("Abs", []string{p + "x"}, []string{p + "abs"}).
					node("SequenceConstruct", []string{p + "x", p + "neg", p + "exp"}, []string{p + "s1"}).
					node("SequenceInsert", []string{p + "s1", p + "abs", p + "one"}, []string{p + "s2"}).
					node("SequenceErase", []string{p + "s2", p + "zero"}, []string{p + "s3"}).
					node("Identity", []string{p + "s3"}, []string{p + "s4"}).
					node("ConcatFromSequence", []string{p + "s4"}, []string{p + "y"}, aInt("axis", 0))
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{6, 3}, func(i []int) float64 {
					v := at(x, i[0]%2, i[1])
					switch i[0] / 2 {
					case 0:
						return math.Abs(v)
					case 1:
						return -v
					}
					return math.Exp(v)
				})
			}},
		{name: "Sequence/empty_insert_length", opset: 13, x: []int{4},
			body: func(m *mb, p string) {
				m.init(p+"zero", scalarI64(0)).
					node("SequenceEmpty", nil, []string{p + "s0"}).
					node("SequenceInsert", []string{p + "s0", p + "x"}, []string{p + "s1"}).
					node("Relu", []string{p + "x"}, []string{p + "relu"}).
					node("SequenceInsert", []string{p + "s1", p + "relu", p + "zero"}, []string{p + "s2"}).
					node("SequenceErase", []string{p + "s2"}, []string{p + "s3"}).
					node("SequenceInsert", []string{p + "s3", p + "x"}, []string{p + "s4"}).
					node("SequenceLength", []string{p + "s4"}, []string{p + "n"}).
					node("Cast", []string{p + "n"}, []string{p + "nf"}, aInt("to", int64(dtFloat))).
					node("ConcatFromSequence", []string{p + "s4"}, []string{p + "stack"}, aInt("axis", 0), aInt("new_axis", 1)).
					node("Mul", []string{p + "stack", p + "nf"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{2, 4}, func(i []int) float64 {
					v := at(x, i[1])
					if i[0] == 0 {
						v = math.Max(v, 0)
					}
					return 2 * v
				})
			}},
	}
}
