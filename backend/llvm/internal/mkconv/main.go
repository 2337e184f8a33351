// Command mkconv writes one f32 Conv (+ Relu) as an ONNX model, seeded random
// weights: a kernel benchmark of the LLVM backend against ONNX Runtime.
//
//	go run ./backend/llvm/internal/mkconv -c 64 -m 64 -hw 56 -k 3 -pad 1 -o conv.onnx
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
)

func valueInfo(name string, dims ...int64) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
}

func main() {
	out := flag.String("o", "conv.onnx", "output file")
	c := flag.Int64("c", 64, "input channels")
	m := flag.Int64("m", 64, "output channels")
	hw := flag.Int64("hw", 56, "input height and width")
	k := flag.Int64("k", 3, "kernel size")
	s := flag.Int64("s", 1, "stride")
	pad := flag.Int64("pad", 1, "padding (all sides)")
	group := flag.Int64("g", 1, "groups")
	flag.Parse()
	r := rand.New(rand.NewSource(1))
	oh := (*hw+2**pad-*k) / *s + 1
	w := make([]float32, *m**c / *group * *k * *k)
	for i := range w {
		w[i] = (r.Float32()*2 - 1) / 16
	}
	b := make([]float32, *m)
	for i := range b {
		b[i] = r.Float32() / 10
	}
	g := &onnxpb.GraphProto{Name: proto.String("conv"), Input: []*onnxpb.ValueInfoProto{valueInfo("x", 1, *c, *hw, *hw)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("y", 1, *m, oh, oh)}}
	g.Initializer = append(g.Initializer,
		&onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{*m, *c / *group, *k, *k}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: w},
		&onnxpb.TensorProto{Name: proto.String("b"), Dims: []int64{*m}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: b})
	ints := func(n string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	g.Node = append(g.Node,
		&onnxpb.NodeProto{OpType: proto.String("Conv"), Input: []string{"x", "w", "b"}, Output: []string{"c"},
			Attribute: []*onnxpb.AttributeProto{ints("strides", *s, *s), ints("pads", *pad, *pad, *pad, *pad),
				{Name: proto.String("group"), Type: onnxpb.AttributeProto_INT.Enum(), I: group}}},
		&onnxpb.NodeProto{OpType: proto.String("Relu"), Input: []string{"c"}, Output: []string{"y"}})
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}}, Graph: g}
	bs, err := proto.Marshal(mp)
	if err == nil {
		err = os.WriteFile(*out, bs, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkconv:", err)
		os.Exit(1)
	}
}
