package main

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// gatherModel writes a model whose Gather indices are graph inputs: an
// embedding lookup (a [50,16] f32 table at ids i64[2,7]) and a gather of x
// f32[2,5,3] along axis -2 at j i32[4].
func gatherModel(t *testing.T, dir string) (string, []float32) {
	t.Helper()
	input := func(name string, et int32, dims ...int64) *onnxpb.ValueInfoProto {
		var ds []*onnxpb.TensorShapeProto_Dimension
		for _, d := range dims {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(et), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
	}
	axis := func(a int64) []*onnxpb.AttributeProto {
		return []*onnxpb.AttributeProto{{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(a)}}
	}
	r := rand.New(rand.NewSource(3))
	table := make([]float32, 50*16)
	for i := range table {
		table[i] = r.Float32()*2 - 1
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("lookup"),
			Input:       []*onnxpb.ValueInfoProto{input("ids", 7, 2, 7), input("x", 1, 2, 5, 3), input("j", 6, 4)},
			Output:      []*onnxpb.ValueInfoProto{{Name: proto.String("emb")}, {Name: proto.String("y")}},
			Initializer: []*onnxpb.TensorProto{onnx.EncodeTensor("table", ir.FromF32([]int{50, 16}, table))},
			Node: []*onnxpb.NodeProto{
				{OpType: proto.String("Gather"), Name: proto.String("embed"), Input: []string{"table", "ids"}, Output: []string{"emb"}, Attribute: axis(0)},
				{OpType: proto.String("Gather"), Name: proto.String("pick"), Input: []string{"x", "j"}, Output: []string{"y"}, Attribute: axis(-2)},
			}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "lookup.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, table
}

// TestRunGatherRuntimeIndices: `pare run --backend llvm` and `--backend go`
// compile a Gather whose indices are model inputs and give rt's outputs
// bit for bit; an id out of range is an error naming the node.
func TestRunGatherRuntimeIndices(t *testing.T) {
	dir := t.TempDir()
	model, table := gatherModel(t, dir)
	write := func(name string, x *ir.Tensor) string {
		p := filepath.Join(dir, name+".npy")
		if err := tensorfile.Write(p, x); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x := ir.NewTensor(ir.F32, []int{2, 5, 3})
	for i := range x.F32 {
		x.F32[i] = float32(i) / 4
	}
	ids := ir.FromI64([]int{2, 7}, []int64{0, 49, -1, -50, 7, 3, 3, 12, -13, 40, 0, 1, 2, -2})
	j := ir.NewTensor(ir.I32, []int{4})
	copy(j.I32, []int32{4, -5, 2, -1})
	in := []string{"--input", "ids=" + write("ids", ids), "--input", "x=" + write("x", x), "--input", "j=" + write("j", j)}
	badIDs := ir.FromI64([]int{2, 7}, append([]int64{50}, ids.I64[1:]...))
	bad := []string{"--input", "ids=" + write("bad", badIDs), "--input", "x=" + write("x", x), "--input", "j=" + write("j", j)}

	backends := []string{"rt"}
	if _, err := llvm.Tool("opt-14", "opt"); err == nil {
		backends = append(backends, "llvm")
	} else {
		t.Logf("llvm backend skipped: %v", err)
	}
	if _, err := exec.LookPath("go"); err == nil {
		backends = append(backends, "go")
	}
	var want [2][]byte
	for _, b := range backends {
		out := filepath.Join(dir, b+".npy")
		code, _, errOut := pare(append([]string{"run", model, "--backend", b, "--out", out}, in...)...)
		if code != 0 {
			t.Fatalf("run --backend %s: exit %d: %s", b, code, errOut)
		}
		for i, name := range []string{"emb", "y"} {
			got, err := os.ReadFile(filepath.Join(dir, b+"."+name+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			if b == "rt" {
				want[i] = got
			} else if !bytes.Equal(got, want[i]) {
				t.Errorf("--backend %s: output %s differs from rt's", b, name)
			}
		}
		code, _, errOut = pare(append([]string{"run", model, "--backend", b}, bad...)...)
		if code == 0 || !strings.Contains(errOut, "embed") || !strings.Contains(errOut, "out of range") {
			t.Errorf("run --backend %s with id 50: exit %d, %q (want the node named, out of range)", b, code, errOut)
		}
		t.Logf("--backend %s, id 50: %s", b, strings.TrimSpace(errOut))
	}
	// rt's outputs are the gathers themselves.
	e, err := tensorfile.Read(filepath.Join(dir, "rt.emb.npy"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, id := range ids.I64 {
		if id < 0 {
			id += 50
		}
		if !slices.Equal(e.F32[k*16:(k+1)*16], table[id*16:(id+1)*16]) {
			t.Fatalf("emb row %d is not table row %d", k, id)
		}
	}
}
