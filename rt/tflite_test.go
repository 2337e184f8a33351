package rt

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// The fixed-point functions approximate their float counterparts closely.
func TestTFLiteGemmlowpFunctions(t *testing.T) {
	const q31 = 1 << 31
	for _, c := range []struct {
		name string
		f    func(x float64) float64
		fp   func(raw int32) int32
		in   float64 // input range [-in, 0] (or [-in, in] when sym)
		bits int
		sym  bool
		tol  float64
	}{
		{"exp", math.Exp, func(r int32) int32 { return ExpOnNegativeValues(r, 5) }, 31, 5, false, 1e-6},
		{"logistic", func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, func(r int32) int32 { return fpLogistic(r, 4) }, 15, 4, true, 1e-6},
		{"tanh", math.Tanh, func(r int32) int32 { return fpTanh(r, 4) }, 15, 4, true, 2e-6},
	} {
		worst := 0.0
		for i := 0; i <= 4000; i++ {
			x := -c.in * float64(i) / 4000
			if c.sym && i%2 == 1 {
				x = -x
			}
			raw := int32(math.Round(x * float64(int64(1)<<(31-c.bits))))
			got := float64(c.fp(raw)) / q31
			worst = max(worst, math.Abs(got-c.f(float64(raw)/float64(int64(1)<<(31-c.bits)))))
		}
		if worst > c.tol {
			t.Errorf("%s: max error %g, want <= %g", c.name, worst, c.tol)
		}
	}
	for _, x := range []float64{0.001, 0.25, 0.5, 0.75, 0.999} {
		got := float64(oneOverOnePlusX(int32(x*q31))) / q31
		if math.Abs(got-1/(1+x)) > 1e-8 {
			t.Errorf("1/(1+%v) = %v", x, got)
		}
	}
	r, bits := getReciprocal(3<<19, 12) // 3.0 in Q12.19
	if got := float64(r) / q31 * math.Pow(2, -float64(bits)); math.Abs(got-1.0/3) > 1e-8 {
		t.Errorf("1/3 = %v", got)
	}
}

func q8(dt ir.DType, scale float32, zp int64, shape ...int) ir.Type {
	return ir.Type{DType: dt, Shape: shape, Quant: ir.PerTensor(scale, zp)}
}

// evalTFLite evaluates op(args) with rq=tflite into a result of type res.
func evalTFLite(t *testing.T, op string, attrs ir.Attrs, res ir.Type, args ...*ir.Tensor) (*ir.Tensor, *ir.Value) {
	t.Helper()
	g := ir.NewGraph("t")
	var vs []*ir.Value
	for i, a := range args {
		vs = append(vs, g.AddParam("x"+string(rune('0'+i)), argTypes[i]))
		_ = a
	}
	if attrs == nil {
		attrs = ir.Attrs{}
	}
	attrs["rq"] = ir.Str("tflite")
	v, err := g.Add(op, vs, attrs, ir.Type{DType: res.DType, Quant: res.Quant}, "y", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{v}
	out, err := Run(g, args)
	if err != nil {
		t.Fatal(err)
	}
	return out[0], v
}

var argTypes []ir.Type

func deq(t *ir.Tensor, q *ir.Quant, i int) float64 {
	return float64(t.IntAt(i)-q.ZeroPoint[0]) * float64(q.Scale[0])
}

// Each 8-bit TFLite kernel lands within one output step of the real result.
func TestTFLiteKernelsNearFloat(t *testing.T) {
	n := 256
	x := &ir.Tensor{DType: ir.I8, Shape: []int{1, n}, I8: make([]int8, n)}
	y := &ir.Tensor{DType: ir.I8, Shape: []int{1, n}, I8: make([]int8, n)}
	for i := 0; i < n; i++ {
		x.I8[i] = int8(i - 128)
		y.I8[i] = int8((i*37)%256 - 128)
	}
	tx, ty := q8(ir.I8, 0.05, -3, 1, n), q8(ir.I8, 0.02, 10, 1, n)
	for _, c := range []struct {
		op    string
		res   ir.Type
		f     func(a, b float64) float64
		steps float64
	}{
		{"add", q8(ir.I8, 0.06, 5), func(a, b float64) float64 { return a + b }, 1},
		{"sub", q8(ir.I8, 0.06, -5), func(a, b float64) float64 { return a - b }, 1},
		{"mul", q8(ir.I8, 0.04, 0), func(a, b float64) float64 { return a * b }, 1},
		{"sigmoid", q8(ir.I8, 1.0/256, -128), func(a, _ float64) float64 { return 1 / (1 + math.Exp(-a)) }, 1},
		{"tanh", q8(ir.I8, 1.0/128, 0), func(a, _ float64) float64 { return math.Tanh(a) }, 1},
		{"hardswish", q8(ir.I8, 0.03, -100), func(a, _ float64) float64 { return a * max(0, min(1, a/6+0.5)) }, 1},
	} {
		args := []*ir.Tensor{x, y}
		argTypes = []ir.Type{tx, ty}
		if c.op != "add" && c.op != "sub" && c.op != "mul" {
			args, argTypes = args[:1], argTypes[:1]
		}
		out, v := evalTFLite(t, c.op, nil, c.res, args...)
		qo := v.Type.Quant
		lo, hi := v.Type.DType.Range()
		for i := 0; i < n; i++ {
			want := c.f(deq(x, tx.Quant, i), deq(y, ty.Quant, i))
			wq := min(max(want/float64(qo.Scale[0])+float64(qo.ZeroPoint[0]), float64(lo)), float64(hi))
			if d := math.Abs(float64(out.IntAt(i)) - wq); d > c.steps+0.5 {
				t.Errorf("%s(%v): %d, want %.2f", c.op, x.I8[i], out.IntAt(i), wq)
				break
			}
		}
	}
}

func TestTFLiteSoftmaxPoolMean(t *testing.T) {
	x := &ir.Tensor{DType: ir.U8, Shape: []int{1, 2, 3, 3}, U8: make([]uint8, 18)}
	for i := range x.U8 {
		x.U8[i] = uint8(i * 13)
	}
	tx := q8(ir.U8, 0.1, 100, 1, 2, 3, 3)
	argTypes = []ir.Type{tx}

	// softmax over axis 1: rows of two.
	out, _ := evalTFLite(t, "softmax", ir.Attrs{"axis": ir.Int(1)}, q8(ir.U8, 1.0/256, 0), x)
	for i := 0; i < 9; i++ {
		a, b := deq(x, tx.Quant, i), deq(x, tx.Quant, i+9)
		want := 256 / (1 + math.Exp(b-a))
		if math.Abs(float64(out.U8[i])-min(want, 255)) > 1 {
			t.Errorf("softmax[%d] = %d, want %.2f", i, out.U8[i], want)
		}
	}

	// avgpool 2x2 stride 1 pad 1 (end): windows at the edge average fewer elements.
	out, _ = evalTFLite(t, "avgpool", ir.Attrs{"kernel": ir.Ints(2, 2), "pads": ir.Ints(0, 0, 1, 1)}, tx, x)
	if got, want := out.U8[8], x.U8[8]; got != want {
		t.Errorf("corner window of one element: %d, want %d", got, want)
	}
	if got, want := out.U8[0], uint8((0+13+39+52+2)/4); got != want {
		t.Errorf("avgpool[0] = %d, want %d", got, want)
	}

	// spatial mean, keepdims: uint8 legacy kernel, within a step of the real mean.
	res := q8(ir.U8, 0.05, 200)
	out, _ = evalTFLite(t, "reduce_mean", ir.Attrs{"axes": ir.Ints(2, 3)}, res, x)
	for c := 0; c < 2; c++ {
		s := 0.0
		for i := 0; i < 9; i++ {
			s += deq(x, tx.Quant, c*9+i)
		}
		want := min(max(s/9/0.05+200, 0), 255)
		if math.Abs(float64(out.U8[c])-want) > 1 {
			t.Errorf("mean[%d] = %d, want %.2f", c, out.U8[c], want)
		}
	}
}
