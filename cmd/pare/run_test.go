package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// symbolicModel writes a model whose input x is [N,4] and which reshapes it
// to [3,-1]: it imports only when N is a multiple of 3, so N taken as 1
// fails and N bound from the data works.
func symbolicModel(t *testing.T, dir string) string {
	t.Helper()
	dims := []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
		{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 4}},
	}
	x := &onnxpb.ValueInfoProto{Name: proto.String("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("g"), Input: []*onnxpb.ValueInfoProto{x},
			Output:      []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
			Initializer: []*onnxpb.TensorProto{onnx.EncodeTensor("s", ir.FromI64([]int{2}, []int64{3, -1}))},
			Node: []*onnxpb.NodeProto{
				{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"r"}},
				{OpType: proto.String("Reshape"), Name: proto.String("rs"), Input: []string{"r", "s"}, Output: []string{"y"}},
			}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sym.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunBindsSymbolicDims: `pare run` takes a symbolic input dim from the
// .npy it is fed, named or not; where nothing binds it, the import error
// says the dim was taken as 1 and how to give it.
func TestRunBindsSymbolicDims(t *testing.T) {
	dir := t.TempDir()
	model := symbolicModel(t, dir)
	in := filepath.Join(dir, "x.npy")
	x := ir.FromF32([]int{6, 4}, make([]float32, 24))
	for i := range x.F32 {
		x.F32[i] = float32(i%5) - 2
	}
	if err := tensorfile.Write(in, x); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{in, "x=" + in} {
		out := filepath.Join(dir, "y.npy")
		code, _, errOut := pare("run", model, "--input", arg, "--out", out)
		if code != 0 {
			t.Fatalf("run --input %s: exit %d: %s", arg, code, errOut)
		}
		y, err := tensorfile.Read(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ir.EqualShape(y.Shape, []int{3, 8}) {
			t.Fatalf("output shape %v, want [3 8]", y.Shape)
		}
		for i, v := range y.F32 {
			if want := max(x.F32[i], 0); v != want {
				t.Fatalf("y[%d] = %v, want %v", i, v, want)
			}
		}
	}
	// --shape wins over the data's shape: N=5 is not a multiple of 3.
	if code, _, errOut := pare("run", model, "--input", in, "--shape", "x=5x4"); code == 0 || !strings.Contains(errOut, `"rs"`) {
		t.Errorf("--shape x=5x4: exit %d, %q", code, errOut)
	}
	code, _, errOut := pare("stats", model)
	if code == 0 || !strings.Contains(errOut, "taken as 1 (x [N,4])") || !strings.Contains(errOut, "--shape") {
		t.Errorf("stats with N unbound: exit %d, %q (want the symbolic-dim hint)", code, errOut)
	}
}

// TestShapeFlagsNeedONNX: --shape and --bind on an IR dump (or a TFLite
// model) are an error, not silently ignored.
func TestShapeFlagsNeedONNX(t *testing.T) {
	dir := t.TempDir()
	irPath := filepath.Join(dir, "m.ir")
	if code, _, errOut := pare("import", symbolicModel(t, dir), "--shape", "x=3x4", "-o", irPath); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	xFile := filepath.Join(dir, "x.npy")
	if err := tensorfile.Write(xFile, ir.FromF32([]int{3, 4}, make([]float32, 12))); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--shape=x=3x4", "--bind=x=" + xFile} {
		code, _, errOut := pare("stats", irPath, flag)
		if code == 0 || !strings.Contains(errOut, "apply to ONNX models") {
			t.Errorf("stats m.ir %s: exit %d, %q", flag, code, errOut)
		}
	}
}
