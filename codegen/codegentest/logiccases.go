package codegentest

import (
	"fmt"
	"math/rand"

	"github.com/pare-ml/pare/ir"
)

// Cases of the comparisons, logic, selection, remainders and float
// functions (ir/ops_logic.go). Inputs are f32 in [-1, 1); integer and bool
// operands are made from them in the graph (cast, comparisons).

// lb builds a case's graph, keeping the first error.
type lb struct {
	g    *ir.Graph
	name string
	err  error
}

func (b *lb) op(name string, attrs ir.Attrs, hint ir.Type, args ...*ir.Value) *ir.Value {
	if b.err != nil {
		return nil
	}
	v, err := b.g.Add(name, args, attrs, hint, "", b.name)
	b.err = err
	return v
}

func (b *lb) k(x float32) *ir.Value { return b.g.AddConst("k", ir.ScalarF32(x), nil) }

// scaled is x·s (+ off).
func (b *lb) scaled(x *ir.Value, s, off float32) *ir.Value {
	v := b.op("mul", nil, ir.Type{}, x, b.k(s))
	if off != 0 {
		v = b.op("add", nil, ir.Type{}, v, b.k(off))
	}
	return v
}

// ints is trunc(x·s) as dt (wrapping, as cast does).
func (b *lb) ints(x *ir.Value, s float32, dt ir.DType) *ir.Value {
	return b.op("cast", nil, ir.Type{DType: dt}, b.scaled(x, s, 0))
}

// whole is floor(x·s): ties for the comparisons.
func (b *lb) whole(x *ir.Value, s float32) *ir.Value {
	return b.op("floor", nil, ir.Type{}, b.scaled(x, s, 0))
}

func logicCase(name string, inputs [][]int, f func(b *lb, in []*ir.Value) *ir.Value) OpCase {
	return OpCase{name, inputs, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		b := &lb{g: g, name: name}
		v := f(b, in)
		return v, b.err
	}}
}

var (
	s235, s31, s5, s215 = []int{2, 3, 5}, []int{3, 1}, []int{5}, []int{2, 1, 5}
)

func logicCases() []OpCase {
	var cs []OpCase
	for _, op := range []string{"equal", "less", "less_equal", "greater", "greater_equal"} {
		cs = append(cs, logicCase(op+"_f32", [][]int{s235, s31}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op(op, nil, ir.Type{}, b.whole(in[0], 3), b.whole(in[1], 3))
		}))
		for _, dt := range []ir.DType{ir.I8, ir.U8, ir.I16, ir.I32} {
			cs = append(cs, logicCase(fmt.Sprintf("%s_%v", op, dt), [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
				return b.op(op, nil, ir.Type{}, b.ints(in[0], 200, dt), b.ints(in[1], 200, dt))
			}))
		}
	}
	mask := func(b *lb, x *ir.Value, t float32) *ir.Value { return b.op("less", nil, ir.Type{}, x, b.k(t)) }
	cs = append(cs,
		// NaN (sqrt of negatives) compares false, also with itself.
		logicCase("less_nan", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("less", nil, ir.Type{}, b.op("sqrt", nil, ir.Type{}, in[0]), in[1])
		}),
		logicCase("equal_nan", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			s := b.op("sqrt", nil, ir.Type{}, in[0])
			return b.op("equal", nil, ir.Type{}, s, s)
		}),
		logicCase("equal_bool", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("equal", nil, ir.Type{}, mask(b, in[0], 0), mask(b, in[1], 0.2))
		}),
		logicCase("not", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("not", nil, ir.Type{}, mask(b, in[0], 0.3))
		}),
	)
	for _, op := range []string{"and", "or", "xor"} {
		cs = append(cs, logicCase(op, [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op(op, nil, ir.Type{}, mask(b, in[0], 0), mask(b, in[1], 0.2))
		}))
	}
	cs = append(cs,
		// where broadcasting all three, then a fused relu after it.
		logicCase("where_f32_relu", [][]int{s215, s31, s235}, func(b *lb, in []*ir.Value) *ir.Value {
			w := b.op("where", nil, ir.Type{}, mask(b, in[0], 0), in[1], in[2])
			return b.op("relu", nil, ir.Type{}, w)
		}),
		logicCase("where_i32", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("where", nil, ir.Type{}, mask(b, in[1], 0), b.ints(in[0], 1000, ir.I32), b.ints(in[1], 1000, ir.I32))
		}),
		logicCase("where_u8", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("where", nil, ir.Type{}, mask(b, in[0], 0), b.ints(in[0], 300, ir.U8), b.ints(in[1], 300, ir.U8))
		}),
		logicCase("where_bool", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("where", nil, ir.Type{}, mask(b, in[0], 0), mask(b, in[1], 0), mask(b, in[0], 0.5))
		}),
		// Quantized operands of one quantization: stored integers.
		logicCase("less_quant", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			q := ir.Type{DType: ir.U8, Quant: ir.PerTensor(0.01, 100)}
			return b.op("less", nil, ir.Type{}, b.op("quantize", nil, q, in[0]), b.op("quantize", nil, q, in[1]))
		}),
		logicCase("where_quant", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			q := ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.02, -3)}
			w := b.op("where", nil, ir.Type{}, mask(b, in[0], 0), b.op("quantize", nil, q, in[0]), b.op("quantize", nil, q, in[1]))
			return b.op("dequantize", nil, ir.Type{}, w)
		}),
		// Remainders: divisors of both signs and 0.
		logicCase("mod_i32", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("mod", nil, ir.Type{}, b.ints(in[0], 100, ir.I32), b.ints(in[1], 8, ir.I32))
		}),
		logicCase("fmod_i32", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("mod", ir.Attrs{"fmod": ir.Int(1)}, ir.Type{}, b.ints(in[0], 100, ir.I32), b.ints(in[1], 8, ir.I32))
		}),
		logicCase("mod_i8", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("mod", nil, ir.Type{}, b.ints(in[0], 128, ir.I8), b.ints(in[1], 4, ir.I8))
		}),
		logicCase("mod_u8", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("mod", nil, ir.Type{}, b.ints(in[0], 300, ir.U8), b.ints(in[1], 20, ir.U8))
		}),
		logicCase("fmod_f32", [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("mod", ir.Attrs{"fmod": ir.Int(1)}, ir.Type{}, b.scaled(in[0], 5, 0), in[1])
		}),
		logicCase("sign_f32", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("sign", nil, ir.Type{}, b.whole(in[0], 2))
		}),
		logicCase("sign_i16", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("sign", nil, ir.Type{}, b.ints(in[0], 3, ir.I16))
		}),
		logicCase("neg_abs_i32", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("abs", nil, ir.Type{}, b.op("neg", nil, ir.Type{}, b.ints(in[0], 50, ir.I32)))
		}),
		// Multiples of 0.5: every tie rounds to even.
		logicCase("round_ties", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("round", nil, ir.Type{}, b.scaled(b.whole(in[0], 8), 0.5, 0))
		}),
		logicCase("isnan", [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op("isnan", nil, ir.Type{}, b.op("log", nil, ir.Type{}, in[0]))
		}),
	)
	for i, det := range [][2]int{{1, 1}, {1, 0}, {0, 1}} {
		cs = append(cs, logicCase(fmt.Sprintf("isinf_%d", i), [][]int{s235, s5}, func(b *lb, in []*ir.Value) *ir.Value {
			inf := b.op("mul", nil, ir.Type{}, b.op("reciprocal", nil, ir.Type{}, b.whole(in[0], 1)), b.op("sign", nil, ir.Type{}, in[1]))
			return b.op("isinf", ir.Attrs{"detect_positive": ir.Int(det[0]), "detect_negative": ir.Int(det[1])}, ir.Type{}, inf)
		}))
	}
	// The float functions, fused after a scaling (mul, add) of x.
	for _, f := range []struct {
		op     string
		s, off float32
	}{
		{"sin", 4, 0}, {"cos", 4, 0}, {"tan", 1.4, 0}, {"asin", 0.999, 0}, {"acos", 0.999, 0}, {"atan", 5, 0},
		{"sinh", 3, 0}, {"cosh", 3, 0}, {"asinh", 5, 0}, {"acosh", 2, 3.01}, {"atanh", 0.99, 0}, {"round", 3, 0}, {"sign", 2, 0.5},
	} {
		cs = append(cs, logicCase(f.op, [][]int{s235}, func(b *lb, in []*ir.Value) *ir.Value {
			return b.op(f.op, nil, ir.Type{}, b.scaled(in[0], f.s, f.off))
		}))
	}
	return cs
}

// LogicCases are the cases of comparisons, logic, where, mod, sign, round,
// the trigonometric functions and isnan / isinf every backend compiles
// and compares with rt.
var LogicCases = logicCases()
