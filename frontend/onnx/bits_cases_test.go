package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Cases of BitShift and the Bitwise ops (convert_bits.go), folded at
// import: y = x + cast(op(constants)) checks the folded values.

func intTensor(dt ir.DType, shape []int, v ...int64) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	for i, x := range v {
		t.SetInt(i, x)
	}
	return t
}

func bitsCases() []decompCase {
	var out []decompCase
	for _, tc := range []struct {
		name  string
		opset int64
		op    string
		attrs []*attrProto
		in    []*ir.Tensor
		want  []float64 // the result, as [len] or broadcast to x
		x     []int
	}{
		{"BitwiseAnd/i32_broadcast", 18, "BitwiseAnd", nil,
			[]*ir.Tensor{intTensor(ir.I32, []int{2, 3}, 12, -1, 7, 0, -8, 1023), intTensor(ir.I32, []int{3}, 10, 6, -3)},
			[]float64{8, 6, 5, 0, 0, 1021}, []int{2, 3}},
		{"BitwiseOr/i64", 18, "BitwiseOr", nil,
			[]*ir.Tensor{intTensor(ir.I64, []int{4}, 12, -16, 1<<40, 0), intTensor(ir.I64, []int{4}, 3, 5, 1, 0)},
			[]float64{15, -11, 1<<40 + 1, 0}, []int{4}},
		{"BitwiseXor/i8", 18, "BitwiseXor", nil,
			[]*ir.Tensor{intTensor(ir.I8, []int{4}, 127, -128, -1, 5), intTensor(ir.I8, []int{1}, -1)},
			[]float64{-128, 127, 0, -6}, []int{4}},
		{"BitwiseNot/u8", 18, "BitwiseNot", nil,
			[]*ir.Tensor{intTensor(ir.U8, []int{4}, 0, 255, 15, 128)},
			[]float64{255, 0, 240, 127}, []int{4}},
		{"BitwiseNot/i16", 18, "BitwiseNot", nil,
			[]*ir.Tensor{intTensor(ir.I16, []int{3}, 0, -1, 32767)},
			[]float64{-1, 0, -32768}, []int{3}},
		{"BitShift/left_u8", 11, "BitShift", []*attrProto{aStr("direction", "LEFT")},
			[]*ir.Tensor{intTensor(ir.U8, []int{5}, 1, 3, 255, 16, 1), intTensor(ir.U8, []int{5}, 1, 2, 1, 4, 9)},
			[]float64{2, 12, 254, 0, 0}, []int{5}},
		{"BitShift/right_u8_broadcast", 13, "BitShift", []*attrProto{aStr("direction", "RIGHT")},
			[]*ir.Tensor{intTensor(ir.U8, []int{2, 2}, 255, 16, 7, 128), intTensor(ir.U8, []int{2, 1}, 1, 7)},
			[]float64{127, 8, 0, 1}, []int{2, 2}},
	} {
		want := ir.NewTensor(ir.F32, tc.x)
		for i, v := range tc.want {
			want.F32[i] = float32(v)
		}
		out = append(out, decompCase{name: tc.name, opset: tc.opset, op: tc.op, x: tc.x, tol: 1e-6,
			body: func(m *mb, p string) {
				var names []string
				for i, t := range tc.in {
					name := p + "c" + string(rune('0'+i))
					m.init(name, t)
					names = append(names, name)
				}
				m.node(tc.op, names, []string{p + "r"}, tc.attrs...).
					node("Cast", []string{p + "r"}, []string{p + "rf"}, aInt("to", int64(dtFloat))).
					node("Add", []string{p + "x", p + "rf"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				y := x.Clone()
				for i := range y.F32 {
					y.F32[i] += want.F32[i]
				}
				return y
			}})
	}
	return out
}

// TestBitsErrors: bit operations on values pare cannot fold, and malformed
// nodes, are errors naming the model, the node and the reason.
func TestBitsErrors(t *testing.T) {
	u8 := intTensor(ir.U8, []int{2}, 1, 2)
	for _, tc := range []struct {
		name        string
		m           *mb
		node        string
		want        string
		unsupported bool
	}{
		{"runtime", newModel(18).input("a", dtInt32, 2).init("b", intTensor(ir.I32, []int{2}, 1, 2)).
			node("BitwiseAnd", []string{"a", "b"}, []string{"y"}).output("y"), "BitwiseAnd_0", `input "a" must be a constant; bind it with --bind a=FILE`, false},
		{"direction", newModel(11).init("a", u8).init("b", u8).node("BitShift", []string{"a", "b"}, []string{"y"}).output("y"),
			"BitShift_0", `direction "" must be LEFT or RIGHT`, false},
		{"signed shift", newModel(11).init("a", intTensor(ir.I8, []int{2}, 1, 2)).init("b", u8).
			node("BitShift", []string{"a", "b"}, []string{"y"}, aStr("direction", "LEFT")).output("y"), "BitShift_0", "BitShift takes unsigned integers", true},
		{"dtypes", newModel(18).init("a", intTensor(ir.I32, []int{2}, 1, 2)).init("b", u8).
			node("BitwiseOr", []string{"a", "b"}, []string{"y"}).output("y"), "BitwiseOr_0", "inputs are i32 and u8, want one integer type", false},
		{"float", newModel(18).init("a", f32s([]int{2})).node("BitwiseNot", []string{"a"}, []string{"y"}).output("y"),
			"BitwiseNot_0", "input 0 is f32, want an integer type", false},
		{"broadcast", newModel(18).init("a", intTensor(ir.I32, []int{2}, 1, 2)).init("b", intTensor(ir.I32, []int{3}, 1, 2, 3)).
			node("BitwiseXor", []string{"a", "b"}, []string{"y"}).output("y"), "BitwiseXor_0", "inputs [2] and [3] do not broadcast", false},
	} {
		_, err := tc.m.load(t, Options{})
		prefix := `node "` + tc.node + `"`
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), "t.onnx") {
			t.Errorf("%s: err = %v\nwant it to name t.onnx, %s and say %q", tc.name, err, prefix, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.name, err, !tc.unsupported, tc.unsupported)
		}
	}
}
