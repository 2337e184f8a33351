package tflite

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// Comparisons, logic, selection, FLOOR_MOD and the float functions against
// float64 references.

func typedIn(typ fb.TensorType, shape ...int32) opIn { return opIn{shape: shape, typ: typ} }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// randBool is a random bool input and its 0/1 copy.
func randBool(rng *rand.Rand, shape ...int) (*ir.Tensor, nd) {
	a := newND(shape...)
	x := ir.NewTensor(ir.Bool, shape)
	for i := range x.Bool {
		x.Bool[i] = rng.Intn(2) == 1
		a.v[i] = b2f(x.Bool[i])
	}
	return x, a
}

// wholes is a float input of whole numbers in [-2, 2]: comparisons tie.
func wholes(rng *rand.Rand, shape ...int) (*ir.Tensor, nd) {
	x, a := randF32(rng, shape...)
	for i := range a.v {
		x.F32[i] = float32(math.Max(-2, math.Min(2, math.Round(a.v[i]*1.5))))
		a.v[i] = float64(x.F32[i])
	}
	return x, a
}

func TestCompareOps(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	cmp := map[fb.BuiltinOperator]func(a, b float64) bool{
		fb.BuiltinOperatorEQUAL:         func(a, b float64) bool { return a == b },
		fb.BuiltinOperatorNOT_EQUAL:     func(a, b float64) bool { return a != b },
		fb.BuiltinOperatorLESS:          func(a, b float64) bool { return a < b },
		fb.BuiltinOperatorLESS_EQUAL:    func(a, b float64) bool { return a <= b },
		fb.BuiltinOperatorGREATER:       func(a, b float64) bool { return a > b },
		fb.BuiltinOperatorGREATER_EQUAL: func(a, b float64) bool { return a >= b },
	}
	for code, f := range cmp {
		for _, pool := range []bool{false, true} {
			// f32 [1,3,4,5] against a graph input [5]: broadcasting.
			op := oneOp{code: code, ins: []opIn{f32In(1, 3, 4, 5), f32In(5)}, outs: []opIn{typedIn(fb.TensorTypeBOOL, 1, 3, 4, 5)}, pool: pool}
			x, a := wholes(rng, 1, 3, 4, 5)
			y, b := wholes(rng, 5)
			_, outs := op.run(t, x, y)
			want := newND(1, 3, 4, 5).fill(func(o []int) float64 { return b2f(f(a.at(o...), b.at(o[3]))) })
			near(t, fmt.Sprintf("%v pool=%v", code, pool), outs[0], want, 0)
		}
		// int32 against int32, both graph inputs.
		op := oneOp{code: code, ins: []opIn{typedIn(fb.TensorTypeINT32, 2, 3), typedIn(fb.TensorTypeINT32, 2, 1)}, outs: []opIn{typedIn(fb.TensorTypeBOOL, 2, 3)}}
		x := &ir.Tensor{DType: ir.I32, Shape: []int{2, 3}, I32: []int32{-3, 0, 7, 1 << 30, -1 << 31, 5}}
		y := &ir.Tensor{DType: ir.I32, Shape: []int{2, 1}, I32: []int32{0, 5}}
		_, outs := op.run(t, x, y)
		want := newND(2, 3).fill(func(o []int) float64 { return b2f(f(float64(x.I32[o[0]*3+o[1]]), float64(y.I32[o[0]]))) })
		near(t, fmt.Sprintf("%v int32", code), outs[0], want, 0)
	}
	// Quantized inputs of one quantization compare stored integers; of two
	// quantizations they are unsupported.
	op := oneOp{code: fb.BuiltinOperatorLESS, ins: []opIn{i8In(0.1, 3, 2, 6), i8In(0.1, 3, 2, 6)}, outs: []opIn{typedIn(fb.TensorTypeBOOL, 2, 6)}}
	x, a := randI8(rng, 2, 6)
	y, b := randI8(rng, 2, 6)
	_, outs := op.run(t, x, y)
	want := newND(2, 6)
	for i := range want.v {
		want.v[i] = b2f(a.v[i] < b.v[i])
	}
	near(t, "quantized LESS", outs[0], want, 0)
	op.ins[1] = i8In(0.2, 3, 2, 6)
	op.importErr(t, "must share one quantization")
}

func TestLogicalSelect(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for code, f := range map[fb.BuiltinOperator]func(a, b bool) bool{
		fb.BuiltinOperatorLOGICAL_AND: func(a, b bool) bool { return a && b },
		fb.BuiltinOperatorLOGICAL_OR:  func(a, b bool) bool { return a || b },
	} {
		op := oneOp{code: code, ins: []opIn{typedIn(fb.TensorTypeBOOL, 3, 4), typedIn(fb.TensorTypeBOOL, 4)}, outs: []opIn{typedIn(fb.TensorTypeBOOL, 3, 4)}}
		x, a := randBool(rng, 3, 4)
		y, b := randBool(rng, 4)
		_, outs := op.run(t, x, y)
		want := newND(3, 4).fill(func(o []int) float64 { return b2f(f(a.at(o...) == 1, b.at(o[1]) == 1)) })
		near(t, code.String(), outs[0], want, 0)
	}
	op := oneOp{code: fb.BuiltinOperatorLOGICAL_NOT, ins: []opIn{typedIn(fb.TensorTypeBOOL, 7)}, outs: []opIn{typedIn(fb.TensorTypeBOOL, 7)}}
	x, a := randBool(rng, 7)
	_, outs := op.run(t, x)
	near(t, "LOGICAL_NOT", outs[0], newND(7).fill(func(o []int) float64 { return 1 - a.at(o...) }), 0)

	// SELECT_V2 broadcasts all three: cond [1,5], x [2,1,5], y [3,1].
	op = oneOp{code: fb.BuiltinOperatorSELECT_V2, ins: []opIn{typedIn(fb.TensorTypeBOOL, 1, 5), f32In(2, 1, 5), f32In(3, 1)}, outs: []opIn{f32In(2, 3, 5)}}
	c, ca := randBool(rng, 1, 5)
	xv, xa := randF32(rng, 2, 1, 5)
	yv, ya := randF32(rng, 3, 1)
	_, outs = op.run(t, c, xv, yv)
	want := newND(2, 3, 5).fill(func(o []int) float64 {
		if ca.at(0, o[2]) == 1 {
			return xa.at(o[0], 0, o[2])
		}
		return ya.at(o[1], 0)
	})
	near(t, "SELECT_V2", outs[0], want, 0)

	// SELECT with a vector condition picks rows.
	op = oneOp{code: fb.BuiltinOperatorSELECT, ins: []opIn{typedIn(fb.TensorTypeBOOL, 3), f32In(3, 4), f32In(3, 4)}, outs: []opIn{f32In(3, 4)}}
	c = &ir.Tensor{DType: ir.Bool, Shape: []int{3}, Bool: []bool{true, false, true}}
	xv, xa = randF32(rng, 3, 4)
	yv, ya = randF32(rng, 3, 4)
	_, outs = op.run(t, c, xv, yv)
	want = newND(3, 4).fill(func(o []int) float64 {
		if c.Bool[o[0]] {
			return xa.at(o...)
		}
		return ya.at(o...)
	})
	near(t, "SELECT", outs[0], want, 0)
}

func TestLogicFloatMath(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	halves := func(x float64) float64 { return math.Floor(x*4) / 2 } // every tie
	floorMod := func(a []float64) float64 {
		r := math.Mod(a[0], a[1])
		if r != 0 && (r < 0) != (a[1] < 0) {
			r += a[1]
		}
		return r
	}
	cases := []mathCase{
		{name: "sin", code: fb.BuiltinOperatorSIN, ins: []opIn{f32In(2, 3, 4, 5)}, out: []int{2, 3, 4, 5}, ref: func(a []float64) float64 { return math.Sin(a[0]) }},
		{name: "cos", code: fb.BuiltinOperatorCOS, ins: []opIn{f32In(2, 3, 4, 5)}, out: []int{2, 3, 4, 5}, ref: func(a []float64) float64 { return math.Cos(a[0]) }},
		{name: "round ties", code: fb.BuiltinOperatorROUND, ins: []opIn{f32In(2, 3, 4, 5)}, out: []int{2, 3, 4, 5}, gen: halves,
			ref: func(a []float64) float64 { return math.RoundToEven(a[0]) }},
		{name: "sign", code: fb.BuiltinOperatorSIGN, ins: []opIn{f32In(3, 7)}, out: []int{3, 7}, gen: math.Round,
			ref: func(a []float64) float64 {
				if a[0] == 0 {
					return 0
				}
				return math.Copysign(1, a[0])
			}},
		{name: "floor_mod", code: fb.BuiltinOperatorFLOOR_MOD, ins: []opIn{f32In(1, 3, 4, 5), f32Const([]int32{5}, 0.7, -0.7, 1.5, -1.5, 0.25)}, out: []int{1, 3, 4, 5},
			gen: func(x float64) float64 { return x * 3 }, ref: floorMod},
	}
	for _, c := range cases {
		for _, pool := range []bool{false, true} {
			if pool && len(c.ins[0].shape) != 4 {
				continue
			}
			t.Run(fmt.Sprintf("%s/pool=%v", c.name, pool), func(t *testing.T) { c.run(t, rng, pool) })
		}
	}
	// Integer FLOOR_MOD and SIGN.
	op := oneOp{code: fb.BuiltinOperatorFLOOR_MOD, ins: []opIn{typedIn(fb.TensorTypeINT32, 2, 4), i32Const([]int32{4}, 3, -3, 5, -1)}, outs: []opIn{typedIn(fb.TensorTypeINT32, 2, 4)}}
	x := &ir.Tensor{DType: ir.I32, Shape: []int{2, 4}, I32: []int32{7, 7, -7, -7, 0, 4, 9, -9}}
	_, outs := op.run(t, x)
	near(t, "FLOOR_MOD int32", outs[0], nd{shape: []int{2, 4}, v: []float64{1, -2, 3, 0, 0, -2, 4, 0}}, 0)
	// FLOOR_DIV: integers round down (not toward zero), floats floor.
	op = oneOp{code: fb.BuiltinOperatorFLOOR_DIV, ins: []opIn{typedIn(fb.TensorTypeINT32, 2, 4), i32Const([]int32{4}, 3, -3, 5, -1)}, outs: []opIn{typedIn(fb.TensorTypeINT32, 2, 4)}}
	_, outs = op.run(t, x)
	near(t, "FLOOR_DIV int32", outs[0], nd{shape: []int{2, 4}, v: []float64{2, -3, -2, 7, 0, -2, 1, 9}}, 0)
	op = oneOp{code: fb.BuiltinOperatorFLOOR_DIV, ins: []opIn{f32In(4), f32Const([]int32{4}, 2, -2, 0.5, -3)}, outs: []opIn{f32In(4)}}
	_, outs = op.run(t, ir.FromF32([]int{4}, []float32{7, 7, -1.25, 5}))
	near(t, "FLOOR_DIV f32", outs[0], nd{shape: []int{4}, v: []float64{3, -4, -3, -2}}, 0)
	op = oneOp{code: fb.BuiltinOperatorSIGN, ins: []opIn{typedIn(fb.TensorTypeINT32, 4)}, outs: []opIn{typedIn(fb.TensorTypeINT32, 4)}}
	_, outs = op.run(t, &ir.Tensor{DType: ir.I32, Shape: []int{4}, I32: []int32{-5, 0, 3, -1 << 31}})
	near(t, "SIGN int32", outs[0], nd{shape: []int{4}, v: []float64{-1, 0, 1, -1}}, 0)
}
