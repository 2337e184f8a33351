package onnxpb

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
)

// shared is the shared models folder, relative to this package.
const shared = "../../../../shared"

func readOrSkip(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("test model %s not found; skipping", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMNIST(t *testing.T) {
	dir := filepath.Join(shared, "models/onnx/mnist-7")
	data := readOrSkip(t, filepath.Join(dir, "mnist-7.onnx"))

	var m ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode mnist-7.onnx: %v", err)
	}
	var opset int64 = -1
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset != 7 {
		t.Errorf("default opset = %d, want 7", opset)
	}

	var ops []string
	for _, n := range m.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType())
	}
	want := []string{"Reshape", "Conv", "Add", "Relu", "MaxPool", "Conv", "Add", "Relu", "MaxPool", "Reshape", "MatMul", "Add"}
	if !slices.Equal(ops, want) {
		t.Errorf("op types = %v\nwant %v", ops, want)
	}

	in := m.GetGraph().GetInput()
	if len(in) == 0 {
		t.Fatal("graph has no inputs")
	}
	tt := in[0].GetType().GetTensorType()
	if tt == nil || DataTypeName(tt.GetElemType()) != "FLOAT" {
		t.Errorf("input 0 type = %v, want a FLOAT tensor", in[0].GetType())
	}

	tdata := readOrSkip(t, filepath.Join(dir, "test_data_set_0/input_0.pb"))
	var tp TensorProto
	if err := proto.Unmarshal(tdata, &tp); err != nil {
		t.Fatalf("decode input_0.pb: %v", err)
	}
	if got := tp.GetDims(); !slices.Equal(got, []int64{1, 1, 28, 28}) {
		t.Errorf("input_0.pb dims = %v, want [1 1 28 28]", got)
	}
	if DataTypeName(tp.GetDataType()) != "FLOAT" {
		t.Errorf("input_0.pb data type = %s, want FLOAT", DataTypeName(tp.GetDataType()))
	}
}

func TestDecodeNodeTests(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(shared, "onnx-node*/*/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Skipf("no models match %s; skipping", filepath.Join(shared, "onnx-node*/*/model.onnx"))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m ModelProto
		if err := proto.Unmarshal(data, &m); err != nil {
			t.Errorf("decode %s: %v", p, err)
			continue
		}
		if m.GetGraph() == nil {
			t.Errorf("%s: no graph", p)
		}
	}
	t.Logf("decoded %d node-test models", len(paths))
}

func TestDataTypeName(t *testing.T) {
	for _, tc := range []struct {
		dt   int32
		want string
	}{
		{0, "UNDEFINED"},
		{1, "FLOAT"},
		{10, "FLOAT16"},
		{16, "BFLOAT16"},
		{17, "FLOAT8E4M3FN"},
		{22, "INT4"},
		{23, "FLOAT4E2M1"},
		{26, "INT2"},
		{99, "DataType(99)"},
		{-1, "DataType(-1)"},
	} {
		if got := DataTypeName(tc.dt); got != tc.want {
			t.Errorf("DataTypeName(%d) = %q, want %q", tc.dt, got, tc.want)
		}
	}
}
