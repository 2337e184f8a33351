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
