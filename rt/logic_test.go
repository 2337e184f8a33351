package rt

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
)

func boolt(shape []int, vals ...bool) *ir.Tensor {
	return &ir.Tensor{DType: ir.Bool, Shape: shape, Bool: vals}
}

func sameBools(t *testing.T, what string, got *ir.Tensor, want []bool) {
	t.Helper()
	if got.DType != ir.Bool || len(got.Bool) != len(want) {
		t.Fatalf("%s: got %v%v, want %d bools", what, got.DType, got.Shape, len(want))
	}
	for i := range want {
		if got.Bool[i] != want[i] {
			t.Errorf("%s: element %d is %v, want %v (got %v)", what, i, got.Bool[i], want[i], got.Bool)
			return
		}
	}
}

func TestCompare(t *testing.T) {
	nan := float32(math.NaN())
	a := f32t(shp(2, 3), 1, 2, 3, nan, 5, 6)
	row := f32t(shp(3), 2, 2, nan)
	const T, F = true, false
	for _, c := range []struct {
		op   string
		x, y *ir.Tensor
		want []bool
	}{
		{"equal", a, row, []bool{F, T, F, F, F, F}},
		{"less", a, row, []bool{T, F, F, F, F, F}},
		{"less_equal", a, row, []bool{T, T, F, F, F, F}},
		{"greater", a, row, []bool{F, F, F, F, T, F}},
		{"greater_equal", a, row, []bool{F, T, F, F, T, F}},
		// Broadcast on both sides: [2,1] against [3].
		{"less", f32t(shp(2, 1), 1, 3), f32t(shp(3), 0, 2, 4), []bool{F, T, T, F, F, T}},
		{"greater", f32t(shp(), 2), row, []bool{F, F, F}},
		{"equal", intTensor(ir.I64, shp(3), -1, 7, 1<<40), intTensor(ir.I64, shp(1), 7), []bool{F, T, F}},
		{"less", intTensor(ir.U8, shp(3), 0, 200, 255), intTensor(ir.U8, shp(3), 1, 100, 255), []bool{T, F, F}},
		{"greater_equal", intTensor(ir.I8, shp(3), -128, 0, 127), intTensor(ir.I8, shp(), -1), []bool{F, T, T}},
		{"equal", boolt(shp(2, 1), T, F), boolt(shp(2), T, F), []bool{T, F, F, T}},
	} {
		got := eval1(t, c.op, []*ir.Tensor{c.x, c.y}, nil, nil, ir.Type{})
		sameBools(t, c.op, got, c.want)
	}
	// Quantized operands of one quantization compare stored integers.
	q := ir.PerTensor(0.5, 10)
	got := eval1(t, "less", []*ir.Tensor{intTensor(ir.U8, shp(2), 9, 11), intTensor(ir.U8, shp(1), 10)}, []*ir.Quant{q, q}, nil, ir.Type{})
	sameBools(t, "quantized less", got, []bool{T, F})
}

func TestLogicWhere(t *testing.T) {
	const T, F = true, false
	p, q := boolt(shp(2, 2), T, T, F, F), boolt(shp(2), T, F)
	sameBools(t, "and", eval1(t, "and", []*ir.Tensor{p, q}, nil, nil, ir.Type{}), []bool{T, F, F, F})
	sameBools(t, "or", eval1(t, "or", []*ir.Tensor{p, q}, nil, nil, ir.Type{}), []bool{T, T, T, F})
	sameBools(t, "xor", eval1(t, "xor", []*ir.Tensor{p, q}, nil, nil, ir.Type{}), []bool{F, T, T, F})
	sameBools(t, "not", eval1(t, "not", []*ir.Tensor{p}, nil, nil, ir.Type{}), []bool{F, F, T, T})

	// where over three broadcast shapes: cond [2,1], a [3], b [].
	got := eval1(t, "where", []*ir.Tensor{boolt(shp(2, 1), T, F), f32t(shp(3), 1, 2, 3), f32t(shp(), -1)}, nil, nil, ir.Type{})
	closeF32(t, "where", got.F32, []float32{1, 2, 3, -1, -1, -1}, 0, 0)
	got = eval1(t, "where", []*ir.Tensor{boolt(shp(3), F, T, F), intTensor(ir.I16, shp(2, 1), 5, 6), intTensor(ir.I16, shp(3), 7, 8, 9)}, nil, nil, ir.Type{})
	equalInts(t, "where i16", got, []int64{7, 5, 9, 7, 6, 9})
}

func TestSignRoundMod(t *testing.T) {
	nan := float32(math.NaN())
	got := eval1(t, "sign", []*ir.Tensor{f32t(shp(5), -2.5, 0, 3, float32(math.Inf(-1)), nan)}, nil, nil, ir.Type{})
	if g := got.F32; g[0] != -1 || g[1] != 0 || g[2] != 1 || g[3] != -1 || !math.IsNaN(float64(g[4])) {
		t.Errorf("sign f32: %v", g)
	}
	equalInts(t, "sign i8", eval1(t, "sign", []*ir.Tensor{intTensor(ir.I8, shp(3), -128, 0, 5)}, nil, nil, ir.Type{}), []int64{-1, 0, 1})
	equalInts(t, "sign u8", eval1(t, "sign", []*ir.Tensor{intTensor(ir.U8, shp(2), 0, 255)}, nil, nil, ir.Type{}), []int64{0, 1})

	// Ties to even, as ONNX Round.
	got = eval1(t, "round", []*ir.Tensor{f32t(shp(8), 0.5, 1.5, 2.5, -2.5, -0.5, 0.49, -1.7, 2.51)}, nil, nil, ir.Type{})
	closeF32(t, "round", got.F32, []float32{0, 2, 2, -2, 0, 0, -2, 3}, 0, 0)

	// fmod=0: the divisor's sign; fmod=1: the dividend's.
	a := intTensor(ir.I32, shp(4), 7, -7, 7, -7)
	b := intTensor(ir.I32, shp(4), 3, 3, -3, -3)
	equalInts(t, "mod", eval1(t, "mod", []*ir.Tensor{a, b}, nil, nil, ir.Type{}), []int64{1, 2, -2, -1})
	equalInts(t, "fmod", eval1(t, "mod", []*ir.Tensor{a, b}, nil, ir.Attrs{"fmod": ir.Int(1)}, ir.Type{}), []int64{1, -1, 1, -1})
	equalInts(t, "mod by 0 and -1", eval1(t, "mod", []*ir.Tensor{intTensor(ir.I8, shp(3), 5, -128, 6), intTensor(ir.I8, shp(3), 0, -1, 4)}, nil, nil, ir.Type{}), []int64{0, 0, 2})
	equalInts(t, "mod u8", eval1(t, "mod", []*ir.Tensor{intTensor(ir.U8, shp(2), 250, 7), intTensor(ir.U8, shp(1), 255)}, nil, nil, ir.Type{}), []int64{250, 7})
	got = eval1(t, "mod", []*ir.Tensor{f32t(shp(3), 5.5, -5.5, 5.5), f32t(shp(3), 2, 2, -2)}, nil, ir.Attrs{"fmod": ir.Int(1)}, ir.Type{})
	closeF32(t, "fmod f32", got.F32, []float32{1.5, -1.5, 1.5}, 0, 0)
}

func TestTrigAndPredicates(t *testing.T) {
	x := f32t(shp(3), 0, 0.5, -0.25)
	for _, c := range []struct {
		op   string
		want []float32
	}{
		{"sin", []float32{0, 0.47942554, -0.24740396}},
		{"cos", []float32{1, 0.87758256, 0.96891242}},
		{"tan", []float32{0, 0.54630249, -0.25534192}},
		{"asin", []float32{0, 0.52359878, -0.25268026}},
		{"acos", []float32{1.57079633, 1.04719755, 1.82347658}},
		{"atan", []float32{0, 0.46364761, -0.24497866}},
		{"sinh", []float32{0, 0.52109531, -0.25261232}},
		{"cosh", []float32{1, 1.12762597, 1.03141310}},
		{"asinh", []float32{0, 0.48121183, -0.24746646}},
		{"atanh", []float32{0, 0.54930614, -0.25541281}},
	} {
		got := eval1(t, c.op, []*ir.Tensor{x}, nil, nil, ir.Type{})
		closeF32(t, c.op, got.F32, c.want, 1e-6, 1e-7)
	}
	got := eval1(t, "acosh", []*ir.Tensor{f32t(shp(2), 1, 2)}, nil, nil, ir.Type{})
	closeF32(t, "acosh", got.F32, []float32{0, 1.31695790}, 1e-6, 1e-7)

	inf := float32(math.Inf(1))
	y := f32t(shp(4), inf, -inf, float32(math.NaN()), 1)
	sameBools(t, "isnan", eval1(t, "isnan", []*ir.Tensor{y}, nil, nil, ir.Type{}), []bool{false, false, true, false})
	sameBools(t, "isinf", eval1(t, "isinf", []*ir.Tensor{y}, nil, nil, ir.Type{}), []bool{true, true, false, false})
	sameBools(t, "isinf negative", eval1(t, "isinf", []*ir.Tensor{y}, nil, ir.Attrs{"detect_positive": ir.Int(0)}, ir.Type{}), []bool{false, true, false, false})
}
