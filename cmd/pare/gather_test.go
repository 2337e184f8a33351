package main

import (
	"bytes"
	"fmt"
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

// writeGatherTest writes an ONNX backend-test folder DIR/NAME: a Gather of
// data (f32) at indices (i64), both inputs, along axis, and its expected
// output computed here.
func writeGatherTest(t *testing.T, dir, name string, data *ir.Tensor, ix *ir.Tensor, axis int) {
	t.Helper()
	outer := ir.NumElements(data.Shape[:axis])
	n, inner := data.Shape[axis], ir.NumElements(data.Shape[axis+1:])
	shape := append(append(append([]int{}, data.Shape[:axis]...), ix.Shape...), data.Shape[axis+1:]...)
	y := ir.NewTensor(ir.F32, shape)
	o := 0
	for i := 0; i < outer; i++ {
		for _, k := range ix.I64 {
			if k < 0 {
				k += int64(n)
			}
			o += copy(y.F32[o:], data.F32[(i*n+int(k))*inner:(i*n+int(k)+1)*inner])
		}
	}
	axisAttr := &onnxpb.AttributeProto{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(axis))}
	writeOpTest(t, dir, name, "Gather", []*onnxpb.AttributeProto{axisAttr}, data, ix, y)
}

// writeOpTest writes an ONNX backend-test folder: one node op(data,
// indices) → y at opset 13, the inputs fed as test data.
func writeOpTest(t *testing.T, dir, name, op string, attrs []*onnxpb.AttributeProto, data, ix, y *ir.Tensor) {
	t.Helper()
	writeOpTestN(t, dir, name, op, attrs, []string{"data", "indices"}, []*ir.Tensor{data, ix}, y)
}

// writeOpTestN is writeOpTest with any named inputs.
func writeOpTestN(t *testing.T, dir, name, op string, attrs []*onnxpb.AttributeProto, names []string, ins []*ir.Tensor, y *ir.Tensor) {
	t.Helper()
	d := filepath.Join(dir, name)
	set := filepath.Join(d, "test_data_set_0")
	if err := os.MkdirAll(set, 0o755); err != nil {
		t.Fatal(err)
	}
	et := map[ir.DType]int32{ir.F32: 1, ir.I32: 6, ir.I64: 7}
	vi := func(name string, t *ir.Tensor) *onnxpb.ValueInfoProto {
		var ds []*onnxpb.TensorShapeProto_Dimension
		for _, s := range t.Shape {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(s)}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(et[t.DType]), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{Name: proto.String(name),
			Output: []*onnxpb.ValueInfoProto{vi("y", y)},
			Node:   []*onnxpb.NodeProto{{OpType: proto.String(op), Input: names, Output: []string{"y"}, Attribute: attrs}}}}
	files := map[string]proto.Message{
		filepath.Join(d, "model.onnx"):    m,
		filepath.Join(set, "output_0.pb"): onnx.EncodeTensor("y", y),
	}
	for i, x := range ins {
		m.Graph.Input = append(m.Graph.Input, vi(names[i], x))
		files[filepath.Join(set, fmt.Sprintf("input_%d.pb", i))] = onnx.EncodeTensor(names[i], x)
	}
	for path, msg := range files {
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckGatherRuntimeIndices: the ONNX conformance tests of Gather
// (test_gather_0, _1, _2d_indices, _negative_indices: the indices are a
// graph input), rebuilt here, pass with every backend.
func TestCheckGatherRuntimeIndices(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewSource(5))
	randF32 := func(shape ...int) *ir.Tensor {
		x := ir.NewTensor(ir.F32, shape)
		for i := range x.F32 {
			x.F32[i] = float32(r.NormFloat64())
		}
		return x
	}
	writeGatherTest(t, dir, "test_gather_0", randF32(5, 4, 3, 2), ir.FromI64([]int{3}, []int64{0, 1, 3}), 0)
	writeGatherTest(t, dir, "test_gather_1", randF32(5, 4, 3, 2), ir.FromI64([]int{3}, []int64{0, 1, 3}), 1)
	writeGatherTest(t, dir, "test_gather_2d_indices", randF32(3, 3), ir.FromI64([]int{1, 2}, []int64{0, 2}), 1)
	ten := ir.NewTensor(ir.F32, []int{10})
	for i := range ten.F32 {
		ten.F32[i] = float32(i)
	}
	writeGatherTest(t, dir, "test_gather_negative_indices", ten, ir.FromI64([]int{3}, []int64{0, -9, -10}), 0)
	checkEveryBackend(t, dir, "4 passed, 0 failed, 0 unsupported")
}

// TestCheckGatherElementsNDRuntimeIndices: ONNX's GatherElements,
// GatherND and OneHot examples (test_gatherelements_0, _1,
// _negative_indices; test_gathernd_example_float32, _int32,
// _int32_batch_dim1; test_onehot_*), rebuilt with the indices fed as
// inputs, pass pare check in rt and both backends without binding the
// indices (depth is bound: it sets the shape).
func TestCheckGatherElementsNDRuntimeIndices(t *testing.T) {
	dir := t.TempDir()
	f := func(shape []int, v ...float32) *ir.Tensor { return ir.FromF32(shape, v) }
	i64 := func(shape []int, v ...int64) *ir.Tensor { return ir.FromI64(shape, v) }
	i32 := func(shape []int, v ...int32) *ir.Tensor {
		x := ir.NewTensor(ir.I32, shape)
		copy(x.I32, v)
		return x
	}
	attr := func(name string, v int64) []*onnxpb.AttributeProto {
		return []*onnxpb.AttributeProto{{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}}
	}
	writeOpTest(t, dir, "test_gatherelements_0", "GatherElements", attr("axis", 1),
		f([]int{2, 2}, 1, 2, 3, 4), i64([]int{2, 2}, 0, 0, 1, 0), f([]int{2, 2}, 1, 1, 4, 3))
	writeOpTest(t, dir, "test_gatherelements_1", "GatherElements", attr("axis", 0),
		f([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9), i32([]int{2, 3}, 1, 2, 0, 2, 0, 0), f([]int{2, 3}, 4, 8, 3, 7, 2, 3))
	writeOpTest(t, dir, "test_gatherelements_negative_indices", "GatherElements", attr("axis", 0),
		f([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9), i64([]int{2, 3}, -1, -2, 0, -2, 0, 0), f([]int{2, 3}, 7, 5, 3, 4, 2, 3))
	writeOpTest(t, dir, "test_gathernd_example_float32", "GatherND", nil,
		f([]int{2, 2, 2}, 0, 1, 2, 3, 4, 5, 6, 7), i64([]int{2, 1, 2}, 0, 1, 1, 0), f([]int{2, 1, 2}, 2, 3, 4, 5))
	writeOpTest(t, dir, "test_gathernd_example_int32", "GatherND", nil,
		i32([]int{2, 2}, 0, 1, 2, 3), i64([]int{2, 2}, 0, 0, 1, 1), i32([]int{2}, 0, 3))
	writeOpTest(t, dir, "test_gathernd_example_int32_batch_dim1", "GatherND", attr("batch_dims", 1),
		i32([]int{2, 2, 2}, 0, 1, 2, 3, 4, 5, 6, 7), i64([]int{2, 1}, 1, 0), i32([]int{2, 2}, 2, 3, 4, 5))
	// ONNX's OneHot examples: test_onehot_without_axis, test_onehot_with_axis
	// (float indices), test_onehot_negative_indices.
	oneHot := func(name string, axis int64, idx, depth, vals, y *ir.Tensor) {
		writeOpTestN(t, dir, name, "OneHot", attr("axis", axis), []string{"indices", "depth", "values"}, []*ir.Tensor{idx, depth, vals}, y)
	}
	hot := func(shape []int, off, on float32, at ...int) *ir.Tensor {
		y := ir.NewTensor(ir.F32, shape)
		for i := range y.F32 {
			y.F32[i] = off
		}
		for _, i := range at {
			y.F32[i] = on
		}
		return y
	}
	oneHot("test_onehot_without_axis", -1, i64([]int{3}, 0, 7, 8), i64([]int{}, 12), f([]int{2}, 2, 5), hot([]int{3, 12}, 2, 5, 0, 12+7, 24+8))
	// indices [[1, 9], [2, 4]] along axis 1 of [2, 10, 2]: y[i][idx[i][j]][j].
	oneHot("test_onehot_with_axis", 1, f([]int{2, 2}, 1, 9, 2, 4), f([]int{1}, 10), f([]int{2}, 1, 3),
		hot([]int{2, 10, 2}, 1, 3, 1*2+0, 9*2+1, 20+2*2+0, 20+4*2+1))
	oneHot("test_onehot_negative_indices", -1, i64([]int{3}, 0, -7, -8), f([]int{1}, 10), f([]int{2}, 1, 3), hot([]int{3, 10}, 1, 3, 0, 10+3, 20+2))
	checkEveryBackend(t, dir, "9 passed, 0 failed, 0 unsupported")
}

// checkEveryBackend runs pare check on dir with rt and each compiled
// backend whose tools are here, and wants summary in every output.
func checkEveryBackend(t *testing.T, dir, summary string) {
	t.Helper()
	backends := []string{"rt"}
	if _, err := llvm.Tool("opt-14", "opt"); err == nil {
		backends = append(backends, "llvm")
	}
	if _, err := exec.LookPath("go"); err == nil {
		backends = append(backends, "go")
	}
	for _, b := range backends {
		code, out, errOut := pare("check", "--backend", b, dir)
		if code != 0 || !strings.Contains(out, summary) {
			t.Errorf("check --backend %s: exit %d\n%s%s", b, code, out, errOut)
		}
	}
}
