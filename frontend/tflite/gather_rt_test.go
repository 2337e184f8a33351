package tflite

import (
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestGatherRuntimeIndices: a GATHER whose indices are a model input (an
// embedding lookup of token ids, and a gather along the channels of an
// NHWC activation by 2-D ids) imports and runs in rt; a negative or too
// large id is an error, as TFLite rejects it, not an element counted from
// the end.
func TestGatherRuntimeIndices(t *testing.T) {
	gatherOpt := func(axis int32) func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			fb.GatherOptionsStart(b)
			fb.GatherOptionsAddAxis(b, axis)
			return fb.GatherOptionsEnd(b)
		}
	}
	table := make([]float32, 10*4)
	for i := range table {
		table[i] = float32(i)
	}
	m := tModel{
		tensors: []tTensor{
			{name: "table", shape: []int32{10, 4}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(table...)},
			{name: "ids", shape: []int32{2, 3}, typ: fb.TensorTypeINT32},
			{name: "emb", shape: []int32{2, 3, 4}, typ: fb.TensorTypeFLOAT32},
			{name: "act", shape: []int32{1, 2, 2, 5}, typ: fb.TensorTypeFLOAT32},
			{name: "ch", shape: []int32{1, 2}, typ: fb.TensorTypeINT32},
			{name: "picked", shape: []int32{1, 2, 2, 1, 2}, typ: fb.TensorTypeFLOAT32},
		},
		ops: []tOp{
			{code: fb.BuiltinOperatorGATHER, in: []int32{0, 1}, out: []int32{2}, optType: fb.BuiltinOptionsGatherOptions, opt: gatherOpt(0)},
			{code: fb.BuiltinOperatorGATHER, in: []int32{3, 4}, out: []int32{5}, optType: fb.BuiltinOptionsGatherOptions, opt: gatherOpt(3)},
		},
		inputs: []int32{1, 3, 4}, outputs: []int32{2, 5},
	}
	g, err := ImportBytes("lookup.tflite", m.build(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	act := ir.NewTensor(ir.F32, []int{1, 2, 2, 5})
	for i := range act.F32 {
		act.F32[i] = float32(100 + i)
	}
	i32 := func(shape []int, v ...int32) *ir.Tensor {
		x := ir.NewTensor(ir.I32, shape)
		copy(x.I32, v)
		return x
	}
	// Inputs in the model's order: ids, act (NHWC, as fed), ch.
	out, err := rt.Run(g, []*ir.Tensor{i32([]int{2, 3}, 9, 0, 3, 3, 5, 1), act, i32([]int{1, 2}, 4, 1)})
	if err != nil {
		t.Fatal(err)
	}
	emb := out[0]
	for j, id := range []int{9, 0, 3, 3, 5, 1} {
		for k := 0; k < 4; k++ {
			if got := emb.F32[j*4+k]; got != float32(id*4+k) {
				t.Fatalf("emb[%d][%d] = %v, want %v", j, k, got, id*4+k)
			}
		}
	}
	picked := out[1]
	if !ir.EqualShape(picked.Shape, []int{1, 2, 2, 1, 2}) {
		t.Fatalf("picked shape %v", picked.Shape)
	}
	for p := 0; p < 4; p++ {
		for j, c := range []int{4, 1} {
			if got, want := picked.F32[p*2+j], act.F32[p*5+c]; got != want {
				t.Errorf("picked[%d][%d] = %v, want %v", p, j, got, want)
			}
		}
	}
	for _, bad := range []int32{-1, 10} {
		_, err := rt.Run(g, []*ir.Tensor{i32([]int{2, 3}, 9, 0, bad, 3, 5, 1), act, i32([]int{1, 2}, 4, 1)})
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("id %d: err = %v, want out of range", bad, err)
		}
	}
}

// TestGatherNDEmbeddingRuntime: GATHER_ND and EMBEDDING_LOOKUP at indices
// fed as inputs; an index outside its dim (also in a later column, where
// it could land in another row) is an error.
func TestGatherNDEmbeddingRuntime(t *testing.T) {
	params := make([]float32, 4*3*2)
	for i := range params {
		params[i] = float32(i)
	}
	vals := make([]float32, 5*2)
	for i := range vals {
		vals[i] = float32(10 * i)
	}
	m := tModel{
		tensors: []tTensor{
			{name: "params", shape: []int32{4, 3, 2}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(params...)},
			{name: "nd", shape: []int32{3, 2}, typ: fb.TensorTypeINT32},
			{name: "picked", shape: []int32{3, 2}, typ: fb.TensorTypeFLOAT32},
			{name: "values", shape: []int32{5, 2}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(vals...)},
			{name: "ids", shape: []int32{3}, typ: fb.TensorTypeINT32},
			{name: "emb", shape: []int32{3, 2}, typ: fb.TensorTypeFLOAT32},
		},
		ops: []tOp{
			{code: fb.BuiltinOperatorGATHER_ND, in: []int32{0, 1}, out: []int32{2}},
			{code: fb.BuiltinOperatorEMBEDDING_LOOKUP, in: []int32{4, 3}, out: []int32{5}},
		},
		inputs: []int32{1, 4}, outputs: []int32{2, 5},
	}
	g, err := ImportBytes("nd.tflite", m.build(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	i32 := func(shape []int, v ...int32) *ir.Tensor {
		x := ir.NewTensor(ir.I32, shape)
		copy(x.I32, v)
		return x
	}
	out, err := rt.Run(g, []*ir.Tensor{i32([]int{3, 2}, 3, 2, 0, 0, 1, 1), i32([]int{3}, 4, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	for j, rc := range [][2]int{{3, 2}, {0, 0}, {1, 1}} {
		for k := 0; k < 2; k++ {
			if got, want := out[0].F32[j*2+k], params[(rc[0]*3+rc[1])*2+k]; got != want {
				t.Errorf("picked[%d][%d] = %v, want %v", j, k, got, want)
			}
		}
	}
	for j, id := range []int{4, 0, 2} {
		for k := 0; k < 2; k++ {
			if got, want := out[1].F32[j*2+k], vals[id*2+k]; got != want {
				t.Errorf("emb[%d][%d] = %v, want %v", j, k, got, want)
			}
		}
	}
	for _, tc := range []struct{ nd, ids []int32 }{
		{[]int32{0, 3, 0, 0, 1, 1}, []int32{4, 0, 2}}, // column 1 past its dim: row 1 element 0 otherwise
		{[]int32{-1, 0, 0, 0, 1, 1}, []int32{4, 0, 2}},
		{[]int32{0, 0, 0, 0, 1, 1}, []int32{5, 0, 2}},
		{[]int32{0, 0, 0, 0, 1, 1}, []int32{-1, 0, 2}},
	} {
		if _, err := rt.Run(g, []*ir.Tensor{i32([]int{3, 2}, tc.nd...), i32([]int{3}, tc.ids...)}); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("nd %v ids %v: err = %v, want out of range", tc.nd, tc.ids, err)
		}
	}
}
