package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of the comparisons, logic, selection and float functions
// (convert_logic.go), on runtime tensors so that nothing folds. ONNX
// Runtime is their oracle; the unary float functions also have a
// reference.

func i32s(shape []int, v ...int32) *ir.Tensor { return &ir.Tensor{DType: ir.I32, Shape: shape, I32: v} }

// bodyCase is a case whose nodes body adds (x → y).
func bodyCase(name string, opset int64, x []int, body func(m *mb, p string), params ...*ir.Tensor) decompCase {
	return decompCase{name: name, opset: opset, op: name, x: x, body: func(m *mb, p string) {
		for i, t := range params {
			m.init(fmt.Sprintf("%sp%d", p, i+1), t)
		}
		body(m, p)
	}}
}

// floorVals is a constant of whole numbers in [-3, 3): floor(x) equals
// some of them, so equal and the _equal forms see ties.
func floorVals(seed int64, shape ...int) *ir.Tensor {
	t := randParam(seed, -3, 3, shape...)
	for i, v := range t.F32 {
		t.F32[i] = float32(math.Floor(float64(v)))
	}
	return t
}

func logicCases() []decompCase {
	x4 := []int{2, 3, 4, 5}
	var out []decompCase
	// Comparisons of floor(x) with whole numbers (ties), broadcast [5].
	for _, op := range []string{"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"} {
		out = append(out, bodyCase(op+"/floor", 13, x4, func(m *mb, p string) {
			m.node("Floor", []string{p + "x"}, []string{p + "f"})
			m.node(op, []string{p + "f", p + "p1"}, []string{p + "y"})
		}, floorVals(11, 5)))
	}
	// NaN (sqrt of negatives) compares false, also against itself.
	out = append(out,
		bodyCase("LessOrEqual/nan", 12, []int{6, 7}, func(m *mb, p string) {
			m.node("Sqrt", []string{p + "x"}, []string{p + "s"})
			m.node("LessOrEqual", []string{p + "s", p + "p1"}, []string{p + "y"})
		}, randParam(3, 0, 2, 7)),
		bodyCase("Equal/nan", 11, []int{6, 7}, func(m *mb, p string) {
			m.node("Sqrt", []string{p + "x"}, []string{p + "s"})
			m.node("Equal", []string{p + "s", p + "s"}, []string{p + "y"})
		}),
		// Integer comparisons, both sides broadcast: [3,1,4] against [5,1].
		bodyCase("Greater/int32", 13, []int{3, 1, 4}, func(m *mb, p string) {
			m.node("Cast", []string{p + "x"}, []string{p + "i"}, aInt("to", int64(dtInt32)))
			m.node("Greater", []string{p + "i", p + "p1"}, []string{p + "y"})
		}, i32s([]int{5, 1}, -2, -1, 0, 1, 2)),
		bodyCase("Equal/int32", 11, []int{4, 6}, func(m *mb, p string) {
			m.node("Cast", []string{p + "x"}, []string{p + "i"}, aInt("to", int64(dtInt32)))
			m.node("Equal", []string{p + "i", p + "p1"}, []string{p + "y"})
		}, i32s([]int{6}, 0, 1, -1, 2, -2, 0)),
	)
	// Logic on two masks, then Not.
	for _, op := range []string{"And", "Or", "Xor"} {
		out = append(out, bodyCase(op, 13, x4, func(m *mb, p string) {
			m.node("Greater", []string{p + "x", p + "p1"}, []string{p + "a"})
			m.node("Less", []string{p + "x", p + "p2"}, []string{p + "b"})
			m.node(op, []string{p + "a", p + "b"}, []string{p + "c"})
			m.node("Not", []string{p + "c"}, []string{p + "y"})
		}, randParam(5, -2, 0, 4, 1), randParam(6, 0, 2, 5)))
	}
	out = append(out,
		// Where broadcasting all three: cond [3,1,5], a [4,1], b [3,1,5].
		bodyCase("Where", 9, []int{3, 1, 5}, func(m *mb, p string) {
			m.node("Greater", []string{p + "x", p + "p1"}, []string{p + "c"})
			m.node("Neg", []string{p + "x"}, []string{p + "n"})
			m.node("Where", []string{p + "c", p + "p2", p + "n"}, []string{p + "y"})
		}, f32s([]int{}, 0.5), randParam(8, -1, 1, 4, 1)),
		bodyCase("Where/int32", 16, []int{2, 7}, func(m *mb, p string) {
			m.node("Cast", []string{p + "x"}, []string{p + "i"}, aInt("to", int64(dtInt32)))
			m.node("IsNaN", []string{p + "x"}, []string{p + "c0"})
			m.node("Not", []string{p + "c0"}, []string{p + "c1"})
			m.node("Less", []string{p + "x", p + "p2"}, []string{p + "c2"})
			m.node("And", []string{p + "c1", p + "c2"}, []string{p + "c"})
			m.node("Where", []string{p + "c", p + "p1", p + "i"}, []string{p + "y"})
		}, i32s([]int{}, 7), f32s([]int{7}, -2, -1, 0, 0.5, 1, 2, 3)),
		// Mod: integers, both signs of both sides, fmod 0 and 1; floats.
		bodyCase("Mod/int32", 13, []int{3, 8}, func(m *mb, p string) {
			m.node("Mul", []string{p + "x", p + "p2"}, []string{p + "s"})
			m.node("Cast", []string{p + "s"}, []string{p + "i"}, aInt("to", int64(dtInt32)))
			m.node("Mod", []string{p + "i", p + "p1"}, []string{p + "y"})
		}, i32s([]int{8}, 3, -3, 7, -7, 1, -1, 5, 2), f32s([]int{}, 10)),
		bodyCase("Mod/int32_fmod", 13, []int{3, 8}, func(m *mb, p string) {
			m.node("Mul", []string{p + "x", p + "p2"}, []string{p + "s"})
			m.node("Cast", []string{p + "s"}, []string{p + "i"}, aInt("to", int64(dtInt32)))
			m.node("Mod", []string{p + "i", p + "p1"}, []string{p + "y"}, aInt("fmod", 1))
		}, i32s([]int{8}, 3, -3, 7, -7, 1, -1, 5, 2), f32s([]int{}, 10)),
		bodyCase("Mod/float", 13, []int{4, 6}, func(m *mb, p string) {
			m.node("Mod", []string{p + "x", p + "p1"}, []string{p + "y"}, aInt("fmod", 1))
		}, f32s([]int{6}, 0.7, -0.7, 1.5, -1.5, 2, -0.25)),
		bodyCase("Sign/int32", 13, []int{5, 5}, func(m *mb, p string) {
			m.node("Cast", []string{p + "x"}, []string{p + "i"}, aInt("to", int64(dtInt32)))
			m.node("Sign", []string{p + "i"}, []string{p + "y"})
		}),
		// Round on multiples of 0.5: every tie, rounded to even.
		bodyCase("Round/ties", 11, []int{6, 9}, func(m *mb, p string) {
			m.node("Mul", []string{p + "x", p + "p1"}, []string{p + "s"})
			m.node("Floor", []string{p + "s"}, []string{p + "f"})
			m.node("Mul", []string{p + "f", p + "p2"}, []string{p + "h"})
			m.node("Round", []string{p + "h"}, []string{p + "y"})
		}, f32s([]int{}, 4), f32s([]int{}, 0.5)),
		// IsNaN of sqrt(x); IsInf of 1/floor(x) (inf for x in [0, 1)),
		// signed by a ±1 row, each detect flag.
		bodyCase("IsNaN", 9, []int{5, 6}, func(m *mb, p string) {
			m.node("Sqrt", []string{p + "x"}, []string{p + "s"})
			m.node("IsNaN", []string{p + "s"}, []string{p + "y"})
		}),
	)
	for _, det := range [][2]int64{{1, 1}, {0, 1}, {1, 0}} {
		out = append(out, bodyCase(fmt.Sprintf("IsInf/pos%d_neg%d", det[0], det[1]), 10, []int{5, 6}, func(m *mb, p string) {
			m.node("Floor", []string{p + "x"}, []string{p + "f"})
			m.node("Reciprocal", []string{p + "f"}, []string{p + "r"})
			m.node("Mul", []string{p + "r", p + "p1"}, []string{p + "s"})
			m.node("IsInf", []string{p + "s"}, []string{p + "y"}, aInt("detect_positive", det[0]), aInt("detect_negative", det[1]))
		}, f32s([]int{6}, 1, -1, 1, -1, -1, 1)))
	}
	unary := []struct {
		op     string
		opset  int64
		f      func(float64) float64
		lo, hi float64
	}{
		{"Sign", 9, func(x float64) float64 {
			if x == 0 {
				return 0
			}
			return math.Copysign(1, x)
		}, 0, 0},
		{"Round", 11, math.RoundToEven, 0, 0},
		{"Sin", 7, math.Sin, -7, 7},
		{"Cos", 7, math.Cos, -7, 7},
		{"Tan", 7, math.Tan, -1.5, 1.5},
		{"Asin", 7, math.Asin, -1, 1},
		{"Acos", 7, math.Acos, -1, 1},
		{"Atan", 7, math.Atan, -10, 10},
		{"Sinh", 9, math.Sinh, -5, 5},
		{"Cosh", 9, math.Cosh, -5, 5},
		{"Asinh", 9, math.Asinh, -10, 10},
		{"Acosh", 9, math.Acosh, 1, 10},
		{"Atanh", 9, math.Atanh, -0.99, 0.99},
	}
	for _, u := range unary {
		out = append(out, decompCase{name: u.op, opset: u.opset, op: u.op, x: []int{3, 17}, lo: u.lo, hi: u.hi, ref: mapRef(u.f)})
	}
	return slices.Clip(out)
}
