package onnx

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestHalfPrecision: a float16 model with float32 inputs and outputs (as
// keep_io_types writes it: Cast to FLOAT16, half weights, Cast back)
// computes in f32 on the exact values of its half weights, raw_data and
// int32_data alike, bfloat16 too; half graph inputs are a clear error.
func TestHalfPrecision(t *testing.T) {
	// 1.5, -2.25, 65504 (the largest half), 2^-24 (the smallest subnormal).
	halves := []uint16{0x3e00, 0xc080, 0x7bff, 0x0001}
	want := []float32{1.5, -2.25, 65504, float32(math.Ldexp(1, -24))}
	raw := make([]byte, 8)
	for i, h := range halves {
		binary.LittleEndian.PutUint16(raw[2*i:], h)
	}
	ints := []int32{}
	for _, h := range halves {
		ints = append(ints, int32(h))
	}
	fp16 := int32(onnxpb.TensorProto_FLOAT16)
	bf16 := int32(onnxpb.TensorProto_BFLOAT16)
	for _, tc := range []struct {
		name string
		tp   *onnxpb.TensorProto
		want []float32
	}{
		{"float16 raw_data", &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{4}, DataType: &fp16, RawData: raw}, want},
		{"float16 int32_data", &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{4}, DataType: &fp16, Int32Data: ints}, want},
		{"bfloat16", &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{4}, DataType: &bf16, Int32Data: []int32{0x3fc0, 0xc010, 0x4780, 0x0000}},
			[]float32{1.5, -2.25, 65536, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(13).input("x", dtFloat, 4).
				node("Cast", []string{"x"}, []string{"h"}, aInt("to", int64(tc.tp.GetDataType()))).
				node("Mul", []string{"h", "w"}, []string{"p"}).
				node("Cast", []string{"p"}, []string{"y"}, aInt("to", int64(dtFloat))).output("y")
			m.inits = append(m.inits, tc.tp)
			g := m.mustLoad(t, Options{})
			out, err := rt.Run(g, []*ir.Tensor{ir.FromF32([]int{4}, []float32{1, 1, 1, 1})})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range out[0].F32 {
				if v != tc.want[i] {
					t.Fatalf("y = %v, want %v", out[0].F32, tc.want)
				}
			}
		})
	}
	_, err := newModel(13).input("x", fp16, 4).node("Relu", []string{"x"}, []string{"y"}).output("y").load(t, Options{})
	if err == nil || !strings.Contains(err.Error(), "keep_io_types") {
		t.Errorf("float16 input: %v", err)
	}
	bad := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{4}, DataType: &fp16, RawData: raw[:6]}
	m := newModel(13).input("x", dtFloat, 4).node("Mul", []string{"x", "w"}, []string{"y"}).output("y")
	m.inits = append(m.inits, bad)
	if _, err := m.load(t, Options{}); err == nil || !strings.Contains(err.Error(), "needs 8 bytes") {
		t.Errorf("short raw_data: %v", err)
	}
}
