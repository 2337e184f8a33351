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
		if got := ir.HalfToFloat(c.h); got != c.want {
			t.Errorf("ir.HalfToFloat(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := ir.HalfToFloat(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("ir.HalfToFloat(0x8000) = %v, want -0", got)
	}
	if got := ir.HalfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("ir.HalfToFloat(0x7e00) = %v, want NaN", got)
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

// Models whose weights come through DEQUANTIZE (of FLOAT16 constants, or
// of int8 ones quantized per channel) import as the float model with those
// weights: the DEQUANTIZEs fold into constants that the conv and the add
// read as weights.
func TestDequantizedWeights(t *testing.T) {
	const C, O, K = 3, 4, 3
	rng := rand.New(rand.NewSource(10))
	scales := []float32{0.125, 0.25, 0.125, 0.5}
	q := make([]int8, O*K*K*C)
	w := make([]float32, len(q))
	for i := range w {
		q[i] = int8(rng.Intn(33) - 16)
		w[i] = scales[i/(K*K*C)] * float32(q[i])
	}
	bias, shift := []float32{0.5, -0.25, 1, 2}, []float32{0.125, -4, 3, 0.75}
	build := func(kind string) *tModel {
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
		// src replaces constant k by DEQUANTIZE of t.
		src := func(k int, t tTensor) {
			m.tensors[k].data = nil
			m.tensors = append(m.tensors, t)
			m.ops = append([]tOp{{code: fb.BuiltinOperatorDEQUANTIZE, in: []int32{int32(len(m.tensors) - 1)}, out: []int32{int32(k)}}}, m.ops...)
		}
		switch kind {
		case "float16":
			for k, v := range map[int][]float32{1: w, 2: bias, 4: shift} {
				src(k, tTensor{name: m.tensors[k].name + ".f16", shape: m.tensors[k].shape, typ: fb.TensorTypeFLOAT16, data: halfBytes(v...)})
			}
		case "int8":
			data := make([]byte, len(q))
			for i, v := range q {
				data[i] = byte(v)
			}
			src(1, tTensor{name: "w.i8", shape: m.tensors[1].shape, typ: fb.TensorTypeINT8, data: data, scale: scales, zp: make([]int64, O), qdim: 0})
			src(4, tTensor{name: "s.i8", shape: []int32{O}, typ: fb.TensorTypeINT8, data: []byte{1, 256 - 32, 24, 6}, scale: []float32{0.125}, zp: []int64{0}})
		}
		return m
	}
	x, _ := randF32(rng, 1, 5, 5, C)
	var want *ir.Tensor
	for _, kind := range []string{"float", "float16", "int8"} {
		g, err := ImportBytes("w.tflite", build(kind).build(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		if n := countOps(g); n["dequantize"] != 0 || n["transpose"] != 2 {
			t.Errorf("%s: ops %v, want no dequantize and the 2 boundary transposes", kind, n)
		}
		got := run1(t, interp(t, g), x)
		if want == nil {
			want = got
			continue
		}
		for i := range want.F32 {
			if got.F32[i] != want.F32[i] {
				t.Fatalf("%s: element %d = %v, the float model's %v", kind, i, got.F32[i], want.F32[i])
			}
		}
	}
}
