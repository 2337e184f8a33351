// Command mkmlp writes the benchmark MLP (784-512-256-10, Gemm+Relu, f32,
// seeded random weights) as an ONNX model, for `make bench-llvm`.
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
	out := flag.String("o", "mlp.onnx", "output file")
	flag.Parse()
	r := rand.New(rand.NewSource(1))
	sizes := []int64{784, 512, 256, 10}
	g := &onnxpb.GraphProto{Name: proto.String("mlp"), Input: []*onnxpb.ValueInfoProto{valueInfo("x", 1, 784)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("y", 1, 10)}}
	prev := "x"
	for l := 0; l < 3; l++ {
		in, o := sizes[l], sizes[l+1]
		w := make([]float32, in*o)
		for i := range w {
			w[i] = (r.Float32()*2 - 1) / 16
		}
		b := make([]float32, o)
		for i := range b {
			b[i] = r.Float32() / 10
		}
		wn, bn := fmt.Sprintf("w%d", l), fmt.Sprintf("b%d", l)
		g.Initializer = append(g.Initializer,
			&onnxpb.TensorProto{Name: proto.String(wn), Dims: []int64{in, o}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: w},
			&onnxpb.TensorProto{Name: proto.String(bn), Dims: []int64{o}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: b})
		y := fmt.Sprintf("g%d", l)
		if l == 2 {
			y = "y"
		}
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Gemm"), Input: []string{prev, wn, bn}, Output: []string{y}})
		if l < 2 {
			g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Relu"), Input: []string{y}, Output: []string{y + "r"}})
			prev = y + "r"
		}
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}}, Graph: g}
	b, err := proto.Marshal(m)
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkmlp:", err)
		os.Exit(1)
	}
}
