package onnx

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Activations that pare's IR has no op for, decomposed into the elementwise
// ops every backend compiles (no comparisons or selects: those are not
// compiled).

// actIn returns the f32 input of an activation and a builder.
func (c *nodeCtx) actIn() (*ir.Value, *builder, error) {
	x, err := c.floatIn(0)
	if err != nil {
		return nil, nil, err
	}
	return x, c.build(), nil
}

// negPart is min(x, 0).
func (b *builder) negPart(x *ir.Value) *ir.Value {
	return b.op("clip", "neg_part", ir.Attrs{"max": ir.Float(0)}, x)
}

// elu is relu(x) + alpha·(exp(min(x, 0)·inv) − 1), named name ("" for
// output 0): Elu (inv 1), Selu's inner term and Celu (inv 1/alpha).
func (b *builder) elu(name string, x *ir.Value, alpha, inv float64) *ir.Value {
	m := b.negPart(x)
	if inv != 1 {
		m = b.op("mul", "neg_part_scaled", nil, m, b.k("inv_alpha", inv))
	}
	e := b.op("sub", "expm1", nil, b.op("exp", "exp", nil, m), b.k("one", 1))
	return b.op("add", name, nil, b.op("relu", "pos_part", nil, x), b.op("mul", "neg_branch", nil, e, b.k("alpha", alpha)))
}

// softplus is log(1 + exp(x)) in the form that does not overflow:
// relu(x) + log(1 + exp(−|x|)).
func (b *builder) softplus(name string, x *ir.Value) *ir.Value {
	t := b.op("exp", "exp", nil, b.op("neg", "neg_abs", nil, b.op("abs", "abs", nil, x)))
	l := b.op("log", "log1p", nil, b.op("add", "one_plus", nil, t, b.k("one", 1)))
	return b.op("add", name, nil, b.op("relu", "pos_part", nil, x), l)
}

func convElu(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	return b.finish(b.elu("", x, float64(c.float("alpha", 1)), 1))
}

// The Selu defaults, as the ONNX spec writes them.
const (
	seluAlpha = 1.67326319217681884765625
	seluGamma = 1.05070102214813232421875
)

func convSelu(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	alpha, gamma := c.float("alpha", seluAlpha), c.float("gamma", seluGamma)
	e := b.elu("elu", x, float64(alpha), 1)
	return b.finish(b.op("mul", "", nil, e, b.k("gamma", float64(gamma))))
}

func convCelu(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	alpha := c.float("alpha", 1)
	if alpha == 0 || math.IsInf(float64(alpha), 0) || math.IsNaN(float64(alpha)) {
		return c.errf("alpha %v: Celu divides by alpha, which must be finite and nonzero", alpha)
	}
	return b.finish(b.elu("", x, float64(alpha), 1/float64(alpha)))
}

func convSoftplus(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	return b.finish(b.softplus("", x))
}

// convSoftsign: x / (1 + |x|).
func convSoftsign(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	d := b.op("add", "one_plus_abs", nil, b.op("abs", "abs", nil, x), b.k("one", 1))
	return b.finish(b.op("div", "", nil, x, d))
}

// convMish: x · tanh(softplus(x)).
func convMish(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	t := b.op("tanh", "tanh", nil, b.softplus("softplus", x))
	return b.finish(b.op("mul", "", nil, x, t))
}

// convSwish: x · sigmoid(alpha·x) (opset 24; alpha defaults to 1, which
// needs no mul).
func convSwish(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	s := x
	if alpha := c.float("alpha", 1); alpha != 1 {
		s = b.op("mul", "scaled", nil, x, b.k("alpha", float64(alpha)))
	}
	return b.finish(b.op("mul", "", nil, x, b.op("sigmoid", "sigmoid", nil, s)))
}

// convGelu: x/2 · (1 + erf(x/√2)), or with approximate="tanh"
// x/2 · (1 + tanh(√(2/π) · (x + 0.044715·x³))).
func convGelu(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	var t *ir.Value
	switch a := c.str("approximate", "none"); a {
	case "none":
		t = b.op("erf", "erf", nil, b.op("mul", "scaled", nil, x, b.k("rsqrt2", 1/math.Sqrt2)))
	case "tanh":
		x3 := b.op("mul", "cube", nil, b.op("mul", "square", nil, x, x), x)
		in := b.op("add", "inner", nil, x, b.op("mul", "cube_scaled", nil, x3, b.k("coef", 0.044715)))
		t = b.op("tanh", "tanh", nil, b.op("mul", "scaled", nil, in, b.k("sqrt_2_over_pi", math.Sqrt(2/math.Pi))))
	default:
		return c.unsupported("approximate %q is not supported (none and tanh are)", a)
	}
	h := b.op("mul", "half_x", nil, x, b.k("half", 0.5))
	return b.finish(b.op("mul", "", nil, h, b.op("add", "one_plus", nil, t, b.k("one", 1))))
}

// convThresholdedRelu: x where x > alpha, else 0, without a comparison:
// the indicator of x > alpha is min(ceil(relu(x − alpha)), 1) (x − alpha is
// positive exactly when x > alpha, and the ceiling of a positive float is at
// least 1), and max(x, alpha) keeps −∞ from making 0·∞.
func convThresholdedRelu(c *nodeCtx) error {
	x, b, err := c.actIn()
	if err != nil {
		return err
	}
	alpha := c.float("alpha", 1)
	if math.IsInf(float64(alpha), 0) || math.IsNaN(float64(alpha)) {
		return c.errf("alpha %v must be finite", alpha)
	}
	a := b.k("alpha", float64(alpha))
	over := b.op("relu", "excess", nil, b.op("sub", "minus_alpha", nil, x, a))
	ind := b.op("clip", "indicator", ir.Attrs{"max": ir.Float(1)}, b.op("ceil", "ceil", nil, over))
	return b.finish(b.op("mul", "", nil, b.op("max", "at_least_alpha", nil, x, a), ind))
}
