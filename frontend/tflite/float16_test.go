package tflite

import (
	"math"
	"math/rand"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

func TestHalfToFloat(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 1.0 / (1 << 24)}, {0x03ff, 1023.0 / (1 << 24)},
		{0x0400, 1.0 / (1 << 14)}, {0x3555, 0.333251953125}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))}, {0, 0},
	} {
		if got := halfToFloat(c.h); got != c.want {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := halfToFloat(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("halfToFloat(0x8000) = %v, want -0", got)
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat(0x7e00) = %v, want NaN", got)
	}
}

// halfBytes encodes values that float16 represents exactly (normal ones).
func halfBytes(v ...float32) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		f := math.Float32bits(x)
		h := uint16(f>>16)&0x8000 | uint16((f>>23&0xff)-127+15)<<10 | uint16(f>>13)&0x3ff
		if x == 0 {
			h = 0
		}
		b[2*i], b[2*i+1] = byte(h), byte(h>>8)
	}
	return b
}

// A model with float16 weights (DEQUANTIZE of FLOAT16 constants feeding a
// conv and an add) imports as the float model with those weights, and
// folds the DEQUANTIZEs.
func TestFloat16Weights(t *testing.T) {
	const C, O, K = 3, 4, 3
	rng := rand.New(rand.NewSource(10))
	w := make([]float32, O*K*K*C)
	for i := range w {
		w[i] = float32(rng.Intn(33)-16) / 8
	}
	bias, shift := []float32{0.5, -0.25, 1, 2}, []float32{0.125, -4, 3, 0.75}
	build := func(half bool) *tModel {
		m := &tModel{
			tensors: []tTensor{
				{name: "x", shape: []int32{1, 5, 5, C}, typ: fb.TensorTypeFLOAT32},
				{name: "w", shape: []int32{O, K, K, C}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(w...)},
				{name: "b", shape: []int32{O}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(bias...)},
				{name: "y", shape: []int32{1, 5, 5, O}, typ: fb.TensorTypeFLOAT32},
				{name: "s", shape: []int32{O}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(shift...)},
				{name: "z", shape: []int32{1, 5, 5, O}, typ: fb.TensorTypeFLOAT32},
			},
			ops: []tOp{
				{code: fb.BuiltinOperatorCONV_2D, in: []int32{0, 1, 2}, out: []int32{3}, optType: fb.BuiltinOptionsConv2DOptions,
					opt: convOptions(fb.PaddingSAME, 1, 1, fb.ActivationFunctionTypeNONE)},
				{code: fb.BuiltinOperatorADD, in: []int32{3, 4}, out: []int32{5}},
			},
			inputs: []int32{0}, outputs: []int32{5},
		}
		if half {
			var deq []tOp
			for _, k := range []int{1, 2, 4} {
				t := m.tensors[k]
				m.tensors = append(m.tensors, tTensor{name: t.name + ".f16", shape: t.shape, typ: fb.TensorTypeFLOAT16, data: halfBytes(map[int][]float32{1: w, 2: bias, 4: shift}[k]...)})
				m.tensors[k].data = nil
				deq = append(deq, tOp{code: fb.BuiltinOperatorDEQUANTIZE, in: []int32{int32(len(m.tensors) - 1)}, out: []int32{int32(k)}})
			}
			m.ops = append(deq, m.ops...)
		}
		return m
	}
	x, _ := randF32(rng, 1, 5, 5, C)
	var outs [2]*ir.Tensor
	for i, half := range []bool{false, true} {
		g, err := ImportBytes("f16.tflite", build(half).build(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		if n := countOps(g); n["dequantize"] != 0 || n["transpose"] != 2 {
			t.Errorf("half=%v: ops %v, want no dequantize and the 2 boundary transposes", half, n)
		}
		outs[i] = run1(t, interp(t, g), x)
	}
	for i := range outs[0].F32 {
		if outs[0].F32[i] != outs[1].F32[i] {
			t.Fatalf("element %d: float16 model %v, float model %v", i, outs[1].F32[i], outs[0].F32[i])
		}
	}
}
