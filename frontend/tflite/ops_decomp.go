package tflite

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Float ops TFLite has and the IR builds from its elementwise ops and
// reductions (all compiled): SQUARE, SQUARED_DIFFERENCE, L2_NORMALIZATION,
// LOG_SOFTMAX, GELU, ELU, RELU_0_TO_1, ADD_N.

// steps chains the ops of a decomposition, each named after output 0; the
// first error sticks.
type steps struct {
	o   *opctx
	err error
}

func (s *steps) add(op string, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	if s.err != nil {
		return nil
	}
	v, err := s.o.add(op, args, attrs, ir.Type{})
	s.err = err
	return v
}

// scalar is an f32 constant that broadcasts to anything.
func (s *steps) scalar(v float32) *ir.Value {
	return s.o.im.addConst(s.o.out.name, ".c", ir.ScalarF32(v), nil)
}

// reduce is op over axis, kept as size 1.
func (s *steps) reduce(op string, x *ir.Value, axis int) *ir.Value {
	return s.add(op, ir.Attrs{"axes": ir.Ints(axis), "keepdims": ir.Int(1)}, x)
}

// decomposed imports a unary op built by f from input 0 (in its layout)
// and the axis of TFLite's last dim in that layout.
func decomposed(f func(s *steps, x *ir.Value, last int) *ir.Value) func(o *opctx) error {
	return func(o *opctx) error {
		x, nchw, err := o.elementwiseIn(0)
		if err != nil {
			return err
		}
		last := x.Type.Rank() - 1
		if nchw {
			last = 1
		}
		s := &steps{o: o}
		v := f(s, x, last)
		if s.err != nil {
			return s.err
		}
		return o.set(v, nchw)
	}
}

var convSquare = decomposed(func(s *steps, x *ir.Value, _ int) *ir.Value { return s.add("mul", nil, x, x) })

// convSquaredDifference is (a - b)·(a - b).
func convSquaredDifference(o *opctx) error {
	a, b, nchw, err := o.binaryArgs()
	if err != nil {
		return err
	}
	s := &steps{o: o}
	d := s.add("sub", nil, a, b)
	v := s.add("mul", nil, d, d)
	if s.err != nil {
		return s.err
	}
	return o.set(v, nchw)
}

// convL2Norm is x / max(sqrt(sum(x²)), 1e-6) over the last dim, as
// TFLite's float kernel computes it.
var convL2Norm = decomposed(func(s *steps, x *ir.Value, last int) *ir.Value {
	n := s.add("sqrt", nil, s.reduce("reduce_sum", s.add("mul", nil, x, x), last))
	return s.add("div", nil, x, s.add("clip", ir.Attrs{"min": ir.Float(1e-6)}, n))
})

// convLogSoftmax is x - max - log(sum(exp(x - max))) over the last dim.
var convLogSoftmax = decomposed(func(s *steps, x *ir.Value, last int) *ir.Value {
	d := s.add("sub", nil, x, s.reduce("reduce_max", x, last))
	return s.add("sub", nil, d, s.add("log", nil, s.reduce("reduce_sum", s.add("exp", nil, d), last)))
})

// convGelu is x/2·(1 + erf(x/√2)), or with approximate
// x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func convGelu(o *opctx) error {
	approx := o.op.opt.approximate
	return decomposed(func(s *steps, x *ir.Value, _ int) *ir.Value {
		var t *ir.Value
		if approx {
			x3 := s.add("mul", nil, s.add("mul", nil, x, x), x)
			inner := s.add("add", nil, x, s.add("mul", nil, x3, s.scalar(0.044715)))
			t = s.add("tanh", nil, s.add("mul", nil, inner, s.scalar(float32(math.Sqrt(2/math.Pi)))))
		} else {
			t = s.add("erf", nil, s.add("mul", nil, x, s.scalar(float32(1/math.Sqrt2))))
		}
		return s.add("mul", nil, s.add("mul", nil, x, s.scalar(0.5)), s.add("add", nil, t, s.scalar(1)))
	})(o)
}

// convElu is x for x > 0, else exp(x) - 1: relu(x) + exp(min(x, 0)) - 1.
var convElu = decomposed(func(s *steps, x *ir.Value, _ int) *ir.Value {
	neg := s.add("sub", nil, s.add("exp", nil, s.add("min", nil, x, s.scalar(0))), s.scalar(1))
	return s.add("add", nil, s.add("relu", nil, x), neg)
})

var convRelu0To1 = decomposed(func(s *steps, x *ir.Value, _ int) *ir.Value {
	return s.add("clip", ir.Attrs{"min": ir.Float(0), "max": ir.Float(1)}, x)
})

// convAddN sums its inputs, in one layout (NCHW when they all are).
func convAddN(o *opctx) error {
	nchw := o.layoutOf(o.op.inputs)
	xs, err := o.inputs(o.op.inputs, nchw)
	if err != nil {
		return err
	}
	s := &steps{o: o}
	v := xs[0]
	for _, x := range xs[1:] {
		v = s.add("add", nil, v, x)
	}
	if s.err != nil {
		return s.err
	}
	return o.set(v, nchw)
}
