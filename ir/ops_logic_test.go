package ir

import (
	"strings"
	"testing"
)

// TestLogicTypeRules checks the type rules of the comparison, logic and
// selection ops: what they infer and what they reject.
func TestLogicTypeRules(t *testing.T) {
	g := NewGraph("logic")
	x := g.AddParam("x", TensorType(F32, 2, 3))
	row := g.AddParam("row", TensorType(F32, 3))
	i := g.AddParam("i", TensorType(I32, 2, 1))
	q1 := g.AddParam("q1", Type{DType: U8, Shape: []int{3}, Quant: PerTensor(0.5, 3)})
	q2 := g.AddParam("q2", Type{DType: U8, Shape: []int{3}, Quant: PerTensor(0.25, 3)})
	c := g.AddParam("c", TensorType(Bool, 2, 1))
	add := func(op string, args []*Value, attrs Attrs) (*Value, error) {
		return g.Add(op, args, attrs, Type{}, op, op)
	}
	lt, err := add("less", []*Value{x, row}, nil)
	if err != nil || lt.Type.String() != "bool[2,3]" {
		t.Fatalf("less: %v %v", lt, err)
	}
	w, err := add("where", []*Value{c, row, x}, nil)
	if err != nil || w.Type.String() != "f32[2,3]" {
		t.Fatalf("where: %v %v", w, err)
	}
	w3, err := add("where", []*Value{c, q1, q1}, nil)
	if err != nil || !w3.Type.Quant.Equal(q1.Type.Quant) || w3.Type.String() != "u8[2,3] q(0.5,3)" {
		t.Fatalf("where of quantized operands: %v %v", w3, err)
	}
	for _, tc := range []struct {
		op    string
		args  []*Value
		attrs Attrs
		want  string
	}{
		{"less", []*Value{x, i}, nil, "argument 1 (%i) is i32, argument 0 is f32"},
		{"less", []*Value{c, c}, nil, "less does not take bool"},
		{"equal", []*Value{q1, q2}, nil, "need one quantization (dequantize first)"},
		{"and", []*Value{c, x}, nil, "argument 1 (%x) is f32; and takes bool"},
		{"not", []*Value{x}, nil, "not takes bool"},
		{"where", []*Value{x, x, x}, nil, "condition %x is f32, want bool"},
		{"where", []*Value{c, x, i}, nil, "where selects between one dtype"},
		{"mod", []*Value{x, x}, nil, "mod on f32 needs fmod=1"},
		{"mod", []*Value{q1, q1}, nil, "mod takes f32 or unquantized integers"},
		{"sign", []*Value{q1}, nil, "sign takes f32 or unquantized integers"},
		{"sin", []*Value{i}, nil, "sin takes f32"},
		{"isnan", []*Value{i}, nil, "isnan takes f32"},
		{"equal", []*Value{x, g.AddParam("y", TensorType(F32, 4))}, nil, "broadcast"},
	} {
		_, err := add(tc.op, tc.args, tc.attrs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.op, err, tc.want)
		}
	}
}
