package rt

import (
	"math"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

func TestBinaryFloat(t *testing.T) {
	a := f32t(shp(2, 3), 1, 2, 3, 4, 5, 6)
	row := f32t(shp(3), 10, 20, 30)
	col := f32t(shp(2, 1), -1, 2)
	cases := []struct {
		op   string
		a, b *ir.Tensor
		want []float32
	}{
		{"add", a, row, []float32{11, 22, 33, 14, 25, 36}},
		{"add", row, a, []float32{11, 22, 33, 14, 25, 36}},
		{"sub", a, col, []float32{2, 3, 4, 2, 3, 4}},
		{"mul", col, a, []float32{-1, -2, -3, 8, 10, 12}},
		{"div", a, col, []float32{-1, -2, -3, 2, 2.5, 3}},
		{"max", a, f32t(shp(), 3.5), []float32{3.5, 3.5, 3.5, 4, 5, 6}},
		{"min", a, f32t(shp(1, 1), 3.5), []float32{1, 2, 3, 3.5, 3.5, 3.5}},
		{"pow", a, f32t(shp(), 2), []float32{1, 4, 9, 16, 25, 36}},
		{"prelu", f32t(shp(2, 3), -1, 2, -3, 4, -5, 6), f32t(shp(3), 0.1, 0.2, 0.3), []float32{-0.1, 2, -0.9, 4, -1, 6}},
		// Outer broadcast on both sides: [2,1] x [1,3].
		{"add", col, f32t(shp(1, 3), 1, 2, 3), []float32{0, 1, 2, 3, 4, 5}},
	}
	for _, c := range cases {
		got := eval1(t, c.op, []*ir.Tensor{c.a, c.b}, nil, nil, ir.Type{})
		closeF32(t, c.op, got.F32, c.want, 1e-6, 1e-6)
	}
}

func TestBinaryInteger(t *testing.T) {
	cases := []struct {
		op   string
		dt   ir.DType
		a, b []int64
		want []int64
	}{
		{"add", ir.I8, []int64{100, -100, 5}, []int64{100, -100, 7}, []int64{-56, 56, 12}},
		{"add", ir.U8, []int64{200, 1, 0}, []int64{100, 2, 0}, []int64{44, 3, 0}},
		{"sub", ir.U8, []int64{1, 5, 0}, []int64{2, 3, 0}, []int64{255, 2, 0}},
		{"mul", ir.I16, []int64{300, -300, 7}, []int64{300, 2, -3}, []int64{90000 - 65536, -600, -21}},
		{"div", ir.I32, []int64{-7, 7, 7, -7, 5}, []int64{2, 2, -2, -2, 0}, []int64{-3, 3, -3, 3, 0}},
		{"div", ir.I8, []int64{-128, 9}, []int64{-1, 4}, []int64{-128, 2}},
		{"max", ir.I64, []int64{-5, 3}, []int64{2, 1}, []int64{2, 3}},
		{"min", ir.I32, []int64{-5, 3}, []int64{2, 1}, []int64{-5, 1}},
	}
	for _, c := range cases {
		n := len(c.a)
		got := eval1(t, c.op, []*ir.Tensor{intTensor(c.dt, shp(n), c.a...), intTensor(c.dt, shp(n), c.b...)}, nil, nil, ir.Type{})
		equalInts(t, c.op+" "+c.dt.String(), got, c.want)
	}
}

func TestUnaryFloat(t *testing.T) {
	x := f32t(shp(5), -2, -0.5, 0, 0.5, 3)
	ref := func(f func(float64) float64) []float32 {
		r := make([]float32, 5)
		for i, v := range x.F32 {
			r[i] = float32(f(float64(v)))
		}
		return r
	}
	cases := []struct {
		op    string
		attrs ir.Attrs
		want  []float32
	}{
		{"relu", nil, []float32{0, 0, 0, 0.5, 3}},
		{"leaky_relu", ir.Attrs{"alpha": ir.Float(0.1)}, []float32{-0.2, -0.05, 0, 0.5, 3}},
		{"clip", ir.Attrs{"min": ir.Float(-1), "max": ir.Float(1)}, []float32{-1, -0.5, 0, 0.5, 1}},
		{"clip", ir.Attrs{"min": ir.Float(0)}, []float32{0, 0, 0, 0.5, 3}},
		{"clip", ir.Attrs{"min": ir.Float(2), "max": ir.Float(1)}, []float32{1, 1, 1, 1, 1}},
		{"sigmoid", nil, ref(func(v float64) float64 { return 1 / (1 + math.Exp(-v)) })},
		{"tanh", nil, ref(math.Tanh)},
		{"exp", nil, ref(math.Exp)},
		{"erf", nil, ref(math.Erf)},
		{"hardsigmoid", nil, []float32{0.1, 0.4, 0.5, 0.6, 1}},
		{"hardswish", nil, ref(func(v float64) float64 { return v * math.Max(0, math.Min(1, v/6+0.5)) })},
		{"neg", nil, []float32{2, 0.5, 0, -0.5, -3}},
		{"abs", nil, []float32{2, 0.5, 0, 0.5, 3}},
		{"floor", nil, []float32{-2, -1, 0, 0, 3}},
		{"ceil", nil, []float32{-2, 0, 0, 1, 3}},
		{"reciprocal", nil, []float32{-0.5, -2, float32(math.Inf(1)), 2, 1.0 / 3}},
	}
	for _, c := range cases {
		got := eval1(t, c.op, []*ir.Tensor{x}, nil, c.attrs, ir.Type{})
		closeF32(t, c.op, got.F32, c.want, 1e-6, 1e-7)
	}
	pos := f32t(shp(3), 0.25, 1, 4)
	closeF32(t, "sqrt", eval1(t, "sqrt", []*ir.Tensor{pos}, nil, nil, ir.Type{}).F32, []float32{0.5, 1, 2}, 1e-6, 0)
	closeF32(t, "log", eval1(t, "log", []*ir.Tensor{pos}, nil, nil, ir.Type{}).F32,
		[]float32{float32(math.Log(0.25)), 0, float32(math.Log(4))}, 1e-6, 1e-7)
}

func TestUnaryInteger(t *testing.T) {
	x := intTensor(ir.I8, shp(5), -128, -3, 0, 5, 127)
	equalInts(t, "relu", eval1(t, "relu", []*ir.Tensor{x}, nil, nil, ir.Type{}), []int64{0, 0, 0, 5, 127})
	equalInts(t, "neg", eval1(t, "neg", []*ir.Tensor{x}, nil, nil, ir.Type{}), []int64{-128, 3, 0, -5, -127})
	equalInts(t, "abs", eval1(t, "abs", []*ir.Tensor{x}, nil, nil, ir.Type{}), []int64{-128, 3, 0, 5, 127})
	// Clip on integers compares stored values; bounds round inward,
	// infinities are unbounded.
	equalInts(t, "clip", eval1(t, "clip", []*ir.Tensor{x}, nil, ir.Attrs{"min": ir.Float(-2.5), "max": ir.Float(5.5)}, ir.Type{}), []int64{-2, -2, 0, 5, 5})
	equalInts(t, "clip max only", eval1(t, "clip", []*ir.Tensor{x}, nil, ir.Attrs{"max": ir.Float(0)}, ir.Type{}), []int64{-128, -3, 0, 0, 0})
	equalInts(t, "clip min>max", eval1(t, "clip", []*ir.Tensor{x}, nil, ir.Attrs{"min": ir.Float(3), "max": ir.Float(1)}, ir.Type{}), []int64{1, 1, 1, 1, 1})
	u := intTensor(ir.U8, shp(3), 0, 7, 255)
	equalInts(t, "clip u8 min -inf", eval1(t, "clip", []*ir.Tensor{u}, nil, ir.Attrs{"min": ir.Float(-1000), "max": ir.Float(300)}, ir.Type{}), []int64{0, 7, 255})
	// Quantized relu: max(q, zero point), same quantization.
	q := ir.PerTensor(0.5, 10)
	equalInts(t, "quantized relu", eval1(t, "relu", []*ir.Tensor{intTensor(ir.U8, shp(4), 0, 9, 10, 200)}, []*ir.Quant{q}, nil, ir.Type{}), []int64{10, 10, 10, 200})
	// Into another quantization: dequantize, relu, quantize.
	equalInts(t, "requantized relu", eval1(t, "relu", []*ir.Tensor{intTensor(ir.U8, shp(4), 0, 9, 12, 200)}, []*ir.Quant{q},
		nil, ir.Type{Quant: ir.PerTensor(1, 0)}), []int64{0, 0, 1, 95})
}

func TestCast(t *testing.T) {
	x := f32t(shp(6), 300.7, -1.9, 2.5, -129, float32(math.NaN()), 1e20)
	equalInts(t, "f32→i8", eval1(t, "cast", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.I8}), []int64{44, -1, 2, 127, 0, 0})
	equalInts(t, "f32→u8", eval1(t, "cast", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.U8}), []int64{44, 255, 2, 127, 0, 0})
	equalInts(t, "f32→i32", eval1(t, "cast", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.I32}), []int64{300, -1, 2, -129, 0, 0})
	equalInts(t, "f32→i64", eval1(t, "cast", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.I64}), []int64{300, -1, 2, -129, math.MinInt64, math.MinInt64})
	i := intTensor(ir.I32, shp(4), -1, 0, 256, 70000)
	equalInts(t, "i32→u8", eval1(t, "cast", []*ir.Tensor{i}, nil, nil, ir.Type{DType: ir.U8}), []int64{255, 0, 0, 112})
	b := eval1(t, "cast", []*ir.Tensor{i}, nil, nil, ir.Type{DType: ir.Bool})
	if want := []bool{true, false, true, true}; b.Bool[0] != want[0] || b.Bool[1] != want[1] || b.Bool[3] != want[3] {
		t.Errorf("i32→bool = %v, want %v", b.Bool, want)
	}
	closeF32(t, "bool→f32", eval1(t, "cast", []*ir.Tensor{b}, nil, nil, ir.Type{DType: ir.F32}).F32, []float32{1, 0, 1, 1}, 0, 0)
	closeF32(t, "i32→f32", eval1(t, "cast", []*ir.Tensor{i}, nil, nil, ir.Type{DType: ir.F32}).F32, []float32{-1, 0, 256, 70000}, 0, 0)
}

// Quantized add/sub/mul: dequantize, compute in f32, quantize (round half
// to even, saturate); max/min with one quantization compare stored values.
func TestQuantizedElementwise(t *testing.T) {
	qa, qb, qy := ir.PerTensor(0.5, 0), ir.PerTensor(0.25, 4), ir.PerTensor(1, -3)
	a := intTensor(ir.I8, shp(4), 2, 3, 100, -128)
	b := intTensor(ir.I8, shp(4), 4, 6, 127, 127)
	// real a = 1, 1.5, 50, -64; real b = 0, 0.5, 30.75, 30.75
	add := eval1(t, "add", []*ir.Tensor{a, b}, []*ir.Quant{qa, qb}, nil, ir.Type{Quant: qy})
	equalInts(t, "add", add, []int64{-2, -1, 78, -36}) // 1-3, round(2)-3, round(80.75)-3, round(-33.25)-3
	mul := eval1(t, "mul", []*ir.Tensor{a, b}, []*ir.Quant{qa, qb}, nil, ir.Type{Quant: qy})
	equalInts(t, "mul", mul, []int64{-3, -2, 127, -128}) // 0, round(0.75), saturated 1537.5 and -1968
	mx := eval1(t, "max", []*ir.Tensor{a, intTensor(ir.I8, shp(4), 0, 5, 0, 0)}, []*ir.Quant{qa, qa}, nil, ir.Type{})
	equalInts(t, "max", mx, []int64{2, 5, 100, 0})
	b2 := newGB(t)
	x := b2.param("x", ir.Type{DType: ir.I8, Shape: shp(4), Quant: qa})
	y := b2.param("y", ir.Type{DType: ir.I8, Shape: shp(4), Quant: qb})
	v, err := b2.g.Add("add", []*ir.Value{x, y}, ir.Attrs{"rq": ir.Str("tflite")}, ir.Type{Quant: qy}, "add", "")
	if err != nil {
		t.Fatal(err)
	}
	// The f32 route refuses rq=tflite (the TFLite integer kernels are
	// separate).
	if _, err := viaFloat(v, builders["add"]); err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("rq=tflite add through f32: error %v, want a 'not supported yet' error", err)
	}
}
