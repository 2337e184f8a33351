package onnx

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestLegacyOpsets: the forms ops took before opset 6 (models of the older
// ONNX zoo: opsets 1 to 5) import with their own semantics, and rt gives
// the outputs worked out here by hand.
func TestLegacyOpsets(t *testing.T) {
	floats := func(name string, v ...float32) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
	}
	iota := func(n int) []float32 { return f32s([]int{n}).F32 }
	for _, tc := range []struct {
		name  string
		m     *mb
		in    []*ir.Tensor
		shape []int
		want  []float32
	}{
		{"Reshape-1 shape attribute", newModel(1).input("x", dtFloat, 2, 3).
			node("Reshape", []string{"x"}, []string{"y"}, aInts("shape", 3, -1), aInts("consumed_inputs", 0)).output("y"),
			[]*ir.Tensor{f32s([]int{2, 3})}, []int{3, 2}, iota(6)},
		{"Concat-1 default axis 1", newModel(3).input("a", dtFloat, 1, 1, 2).input("b", dtFloat, 1, 2, 2).
			node("Concat", []string{"a", "b"}, []string{"y"}).output("y"),
			[]*ir.Tensor{f32s([]int{1, 1, 2}, 10, 11), f32s([]int{1, 2, 2})}, []int{1, 3, 2}, []float32{10, 11, 0, 1, 2, 3}},
		{"Pad-1 paddings", newModel(1).input("x", dtFloat, 1, 2).
			node("Pad", []string{"x"}, []string{"y"}, aInts("paddings", 0, 1, 0, 2), aFloat("value", 7)).output("y"),
			[]*ir.Tensor{f32s([]int{1, 2}, 1, 2)}, []int{1, 5}, []float32{7, 1, 2, 7, 7}},
		{"Split-1 split input", newModel(1).input("x", dtFloat, 5).init("s", i64s(2, 3)).
			node("Split", []string{"x", "s"}, []string{"y", "z"}, aInt("axis", 0)).output("z"),
			[]*ir.Tensor{f32s([]int{5})}, []int{3}, []float32{2, 3, 4}},
		{"Split-2 split attribute", newModel(2).input("x", dtFloat, 5).
			node("Split", []string{"x"}, []string{"y", "z"}, aInts("split", 4, 1)).output("z"),
			[]*ir.Tensor{f32s([]int{5})}, []int{1}, []float32{4}},
		{"Tile-1 tiles and axis", newModel(5).input("x", dtFloat, 2, 2).init("n", i64s(3)).init("ax", i64s(1)).
			node("Tile", []string{"x", "n", "ax"}, []string{"y"}).output("y"),
			[]*ir.Tensor{f32s([]int{2, 2})}, []int{2, 6}, []float32{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3}},
		{"Cast-1 type name", newModel(1).input("x", dtFloat, 3).
			node("Cast", []string{"x"}, []string{"i"}, aStr("to", "INT32")).
			node("Cast", []string{"i"}, []string{"y"}, aStr("to", "FLOAT")).output("y"),
			[]*ir.Tensor{f32s([]int{3}, 1.7, -2.2, 3)}, []int{3}, []float32{1, -2, 3}},
		{"Upsample-1 height and width scales", newModel(1).input("x", dtFloat, 1, 1, 1, 2).
			node("Upsample", []string{"x"}, []string{"y"}, aFloat("height_scale", 2), aFloat("width_scale", 2)).output("y"),
			[]*ir.Tensor{f32s([]int{1, 1, 1, 2}, 5, 6)}, []int{1, 1, 2, 4}, []float32{5, 5, 6, 6, 5, 5, 6, 6}},
		{"ImageScaler", newModel(1).input("x", dtFloat, 1, 2, 1, 2).
			node("ImageScaler", []string{"x"}, []string{"y"}, aFloat("scale", 2), floats("bias", 1, -1)).output("y"),
			[]*ir.Tensor{f32s([]int{1, 2, 1, 2})}, []int{1, 2, 1, 2}, []float32{1, 3, 3, 5}},
		{"BatchNormalization-1 consumed_inputs, is_test", newModel(1).input("x", dtFloat, 1, 2, 1, 1).
			init("s", f32s([]int{2}, 2, 3)).init("b", f32s([]int{2}, 1, 1)).init("m", f32s([]int{2}, 0, 1)).init("v", f32s([]int{2}, 1, 4)).
			node("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"}, aInts("consumed_inputs", 0, 0, 0, 1, 1), aInt("is_test", 1), aFloat("epsilon", 0)).output("y"),
			[]*ir.Tensor{f32s([]int{1, 2, 1, 1}, 4, 5)}, []int{1, 2, 1, 1}, []float32{9, 7}},
		{"Add-1 legacy broadcast", newModel(1).input("x", dtFloat, 2, 3).init("b", f32s([]int{2}, 10, 20)).
			node("Add", []string{"x", "b"}, []string{"y"}, aInt("broadcast", 1), aInt("axis", 0)).output("y"),
			[]*ir.Tensor{f32s([]int{2, 3})}, []int{2, 3}, []float32{10, 11, 12, 23, 24, 25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.m.mustLoad(t, Options{})
			out, err := rt.Run(g, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			y := out[0]
			if fmt.Sprint(y.Shape) != fmt.Sprint(tc.shape) || fmt.Sprint(y.F32) != fmt.Sprint(tc.want) {
				t.Errorf("got %v %v, want %v %v", y.Shape, y.F32, tc.shape, tc.want)
			}
		})
	}
}

// TestLegacyOpsetErrors: what the old forms cannot be is said.
func TestLegacyOpsetErrors(t *testing.T) {
	for _, tc := range []struct {
		m    *mb
		want string
	}{
		{newModel(1).input("x", dtFloat, 2, 3).node("Reshape", []string{"x"}, []string{"y"}).output("y"), "shape attribute is missing"},
		{newModel(1).input("x", dtFloat, 3).node("Cast", []string{"x"}, []string{"y"}, aStr("to", "REAL")).output("y"), `to "REAL"`},
		{newModel(5).input("x", dtFloat, 2, 2).init("n", i64s(3, 1)).init("ax", i64s(1)).
			node("Tile", []string{"x", "n", "ax"}, []string{"y"}).output("y"), "tiles must be one integer"},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}
