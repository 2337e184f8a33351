package onnx

import (
	"testing"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// A tiny builder of ONNX models for table tests.

type mb struct {
	opset   int64
	inputs  []*onnxpb.ValueInfoProto
	outputs []*onnxpb.ValueInfoProto
	inits   []*onnxpb.TensorProto
	nodes   []*onnxpb.NodeProto
}

func newModel(opset int64) *mb { return &mb{opset: opset} }

// input declares a graph input; a dim < 0 is symbolic (named "N" for -1,
// "D2" for -2 ...), a dim of -100 has neither value nor name.
func (m *mb) input(name string, dt int32, dims ...int64) *mb {
	m.inputs = append(m.inputs, vinfo(name, dt, dims...))
	return m
}

func vinfo(name string, dt int32, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case d == -100:
		case d == -1:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		case d < 0:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "D" + string(rune('0'-d))}
		default:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(dt), Shape: shape}}}}
}

// output declares a graph output with no type information.
func (m *mb) output(names ...string) *mb {
	for _, n := range names {
		m.outputs = append(m.outputs, &onnxpb.ValueInfoProto{Name: proto.String(n)})
	}
	return m
}

func (m *mb) init(name string, t *ir.Tensor) *mb {
	m.inits = append(m.inits, EncodeTensor(name, t))
	return m
}

func (m *mb) node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *mb {
	m.nodes = append(m.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs})
	return m
}

func (m *mb) bytes(t testing.TB) []byte {
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(m.opset)}},
		Graph:       &onnxpb.GraphProto{Name: proto.String("g"), Input: m.inputs, Output: m.outputs, Initializer: m.inits, Node: m.nodes}}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (m *mb) load(t testing.TB, opts Options) (*ir.Graph, error) {
	return ImportBytes("t.onnx", m.bytes(t), opts)
}

func (m *mb) mustLoad(t testing.TB, opts Options) *ir.Graph {
	t.Helper()
	g, err := m.load(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return g
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func i64s(v ...int64) *ir.Tensor { return ir.FromI64([]int{len(v)}, v) }

func f32s(shape []int, v ...float32) *ir.Tensor {
	if v == nil {
		v = make([]float32, ir.NumElements(shape))
		for i := range v {
			v[i] = float32(i)
		}
	}
	return ir.FromF32(shape, v)
}

// ops lists the ops of the body values that are not consts.
func ops(g *ir.Graph) []string {
	var out []string
	for _, v := range g.Values {
		if !v.IsConst() {
			out = append(out, v.Op.Name)
		}
	}
	return out
}

type attrProto = onnxpb.AttributeProto
