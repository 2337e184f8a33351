package onnx

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// ONNX Runtime's contrib domain (com.microsoft): the quantized operators
// its quantizer writes in QOperator form besides QLinearConv and
// QLinearMatMul, and the fused float operators of models it saved after
// optimizing them. Each maps onto the IR ops of the default-domain
// converters.

// msConverters is the com.microsoft import table (version 1 of the domain).
var msConverters = map[string]converter{
	"QLinearAdd":               {fn: convQLinearBinary("add"), consts: []int{1, 2, 4, 5, 6, 7}, notes: "→ add on quantized operands with a quantized result"},
	"QLinearMul":               {fn: convQLinearBinary("mul"), consts: []int{1, 2, 4, 5, 6, 7}, notes: "→ mul on quantized operands with a quantized result"},
	"QLinearSigmoid":           {fn: convQLinearUnary("sigmoid"), consts: []int{1, 2, 3, 4}, notes: "→ sigmoid with a quantized result"},
	"QLinearSoftmax":           {fn: convQLinearUnary("softmax"), consts: []int{1, 2, 3, 4}, notes: "→ softmax with a quantized result (axis as Softmax-13)"},
	"QLinearLeakyRelu":         {fn: convQLinearUnary("leaky_relu"), consts: []int{1, 2, 3, 4}, notes: "→ dequantize, leaky_relu, quantize"},
	"QLinearGlobalAveragePool": {fn: convQLinearUnary("global_avgpool"), consts: []int{1, 2, 3, 4}, notes: "→ dequantize, global_avgpool, quantize (NCHW)"},
	"QLinearAveragePool":       {fn: convQLinearUnary("avgpool"), consts: []int{1, 2, 3, 4}, notes: "→ avgpool with a quantized result (NCHW)"},
	"QLinearConcat":            {fn: convQLinearConcat, notes: "→ requantize of the inputs whose parameters differ from the result's, concat"},
	"Gelu":                     {fn: convMSGelu, notes: "→ as ONNX Gelu (erf)"},
	"BiasGelu":                 {fn: convMSGelu, notes: "→ add, then as ONNX Gelu (erf)"},
	"FastGelu":                 {fn: convFastGelu, notes: "→ optional bias add, then the tanh form of Gelu"},
	"QuickGelu":                {fn: convQuickGelu, notes: "→ x · sigmoid(alpha · x)"},
	"FusedConv":                {fn: convFusedConv, notes: "→ conv (+ Z) then its activation: Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid"},
	"FusedMatMul":              {fn: convFusedMatMul, notes: "→ transposes of the last two dims (transA, transB), matmul, · alpha"},
}

// convQLinearBinary: (A, A_scale, A_zero_point, B, B_scale, B_zero_point,
// C_scale, C_zero_point) → op with broadcasting.
func convQLinearBinary(op string) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		a, err := c.quantOperand(0, 1, 2, -1)
		if err != nil {
			return err
		}
		b, err := c.quantOperand(3, 4, 5, -1)
		if err != nil {
			return err
		}
		t, err := c.quantResult(6, 7)
		if err != nil {
			return err
		}
		return c.out(op, []*ir.Value{a, b}, nil, t)
	}
}

// convQLinearUnary: (X, X_scale, X_zero_point, Y_scale, Y_zero_point) →
// op, on the integers where the IR op has a quantized form, else between a
// dequantize and a quantize (the float op as the quantized one is defined).
func convQLinearUnary(op string) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		x, err := c.quantOperand(0, 1, 2, -1)
		if err != nil {
			return err
		}
		t, err := c.quantResult(3, 4)
		if err != nil {
			return err
		}
		if c.int("channels_last", 0) != 0 {
			return c.unsupported("channels_last=1 (NHWC) is not supported")
		}
		attrs := ir.Attrs{}
		switch op {
		case "leaky_relu":
			attrs["alpha"] = ir.Float(c.float("alpha", 0.01))
		case "softmax":
			axis, err := c.normAxis(c.int("axis", -1), x.Type.Rank())
			if err != nil {
				return err
			}
			if c.int("opset", 13) < 13 && axis != x.Type.Rank()-1 {
				return c.unsupported("opset %d (Softmax before 13: the 2-D coercion) with axis %d of rank %d is not supported", c.int("opset", 13), axis, x.Type.Rank())
			}
			attrs["axis"] = ir.Int(axis)
		case "avgpool":
			if attrs, err = c.poolAttrs(x); err != nil {
				return err
			}
			attrs["count_include_pad"] = ir.Int(c.int("count_include_pad", 0))
		}
		if op == "leaky_relu" || op == "global_avgpool" { // f32 only in the IR
			b := c.build()
			f := b.op("dequantize", "f", nil, x)
			y := b.op(op, "y", attrs, f)
			return b.finish(b.typed("quantize", "", nil, t, y))
		}
		return c.out(op, []*ir.Value{x}, attrs, t)
	}
}

// convQLinearConcat: (Y_scale, Y_zero_point, then X, X_scale, X_zero_point
// per input), axis.
func convQLinearConcat(c *nodeCtx) error {
	n := len(c.n.GetInput())
	if n < 5 || (n-2)%3 != 0 {
		return c.errf("needs Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples, has %d inputs", n)
	}
	t, err := c.quantResult(0, 1)
	if err != nil {
		return err
	}
	var xs []*ir.Value
	b := c.build()
	for i := 2; i < n; i += 3 {
		x, err := c.quantOperand(i, i+1, i+2, -1)
		if err != nil {
			return err
		}
		if x.Type.DType != t.DType || !x.Type.Quant.Equal(t.Quant) {
			x = b.typed("requantize", "in", nil, ir.Type{DType: t.DType, Quant: t.Quant}, x)
		}
		xs = append(xs, x)
	}
	if len(xs) == 0 {
		return c.errf("no inputs")
	}
	axis, err := c.normAxis(c.int("axis", 0), xs[0].Type.Rank())
	if err != nil {
		return err
	}
	return b.finish(b.typed("concat", "", ir.Attrs{"axis": ir.Int(axis)}, t, xs...))
}

// biased returns input 0, plus input 1 when present (BiasGelu, FastGelu).
func (c *nodeCtx) biased(b *builder) (*ir.Value, error) {
	x, err := c.floatIn(0)
	if err != nil {
		return nil, err
	}
	if bias := c.in(1); bias != nil {
		x = b.op("add", "biased", nil, x, bias)
	}
	return x, nil
}

// convMSGelu: 0.5 · x · (1 + erf(x / √2)), x the input (plus B for
// BiasGelu).
func convMSGelu(c *nodeCtx) error {
	b := c.build()
	x, err := c.biased(b)
	if err != nil {
		return err
	}
	e := b.op("erf", "erf", nil, b.op("mul", "scaled", nil, x, b.k("inv_sqrt2", 1/math.Sqrt2)))
	h := b.op("mul", "half", nil, x, b.k("half", 0.5))
	return b.finish(b.op("mul", "", nil, h, b.op("add", "one_plus", nil, e, b.k("one", 1))))
}

// convFastGelu: 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), x the
// input plus the optional bias.
func convFastGelu(c *nodeCtx) error {
	b := c.build()
	x, err := c.biased(b)
	if err != nil {
		return err
	}
	x3 := b.op("mul", "cube", nil, b.op("mul", "square", nil, x, x), x)
	inner := b.op("add", "inner", nil, x, b.op("mul", "cubic", nil, x3, b.k("c", 0.044715)))
	th := b.op("tanh", "tanh", nil, b.op("mul", "arg", nil, inner, b.k("s", math.Sqrt(2/math.Pi))))
	h := b.op("mul", "half", nil, x, b.k("half", 0.5))
	return b.finish(b.op("mul", "", nil, h, b.op("add", "one_plus", nil, th, b.k("one", 1))))
}

// convQuickGelu: x · sigmoid(alpha · x), alpha 1.702 by default.
func convQuickGelu(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	b := c.build()
	s := b.op("sigmoid", "gate", nil, b.op("mul", "ax", nil, x, b.k("alpha", float64(c.float("alpha", 1.702)))))
	return b.finish(b.op("mul", "", nil, x, s))
}

// convFusedConv: Conv (inputs X, W, B), plus the optional Z, then the
// activation attribute with activation_params.
func convFusedConv(c *nodeCtx) error {
	act := c.str("activation", "")
	params := c.floats("activation_params")
	param := func(i int, def float32) float32 {
		if i < len(params) {
			return params[i]
		}
		return def
	}
	x, w, bias, err := c.convArgs(0, 1, 2)
	if err != nil {
		return err
	}
	args := []*ir.Value{x, w}
	if bias != nil {
		args = append(args, bias)
	}
	attrs, err := c.windowAttrs(x.Type.Shape[2:], w.Type.Shape[2:])
	if err != nil {
		return err
	}
	attrs["group"] = ir.Int(c.int("group", 1))
	b := c.build()
	y := b.op("conv", "conv", attrs, args...)
	if z := c.in(3); z != nil {
		y = b.op("add", "sum", nil, y, z)
	}
	switch act {
	case "":
	case "Relu":
		y = b.op("relu", "", nil, y)
	case "Tanh":
		y = b.op("tanh", "", nil, y)
	case "Sigmoid":
		y = b.op("sigmoid", "", nil, y)
	case "LeakyRelu":
		y = b.op("leaky_relu", "", ir.Attrs{"alpha": ir.Float(param(0, 0.01))}, y)
	case "Clip":
		y = b.op("clip", "", ir.Attrs{"min": ir.Float(param(0, float32(math.Inf(-1)))), "max": ir.Float(param(1, float32(math.Inf(1))))}, y)
	case "HardSigmoid":
		y = b.op("hardsigmoid", "", ir.Attrs{"alpha": ir.Float(param(0, 0.2)), "beta": ir.Float(param(1, 0.5))}, y)
	default:
		return c.unsupported("activation %q is not supported (Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid are)", act)
	}
	return b.finish(y)
}

// convFusedMatMul: alpha · op(A) · op(B), op a transpose of the last two
// dims where transA / transB ask.
func convFusedMatMul(c *nodeCtx) error {
	if c.int("transBatchA", 0) != 0 || c.int("transBatchB", 0) != 0 {
		return c.unsupported("transBatchA / transBatchB are not supported")
	}
	vs, err := c.needN(2)
	if err != nil {
		return err
	}
	b := c.build()
	for i, name := range []string{"transA", "transB"} {
		if c.int(name, 0) == 0 {
			continue
		}
		r := vs[i].Type.Rank()
		if r < 2 {
			return c.errf("%s of a rank-%d input", name, r)
		}
		perm := make([]int, r)
		for j := range perm {
			perm[j] = j
		}
		perm[r-2], perm[r-1] = r-1, r-2
		vs[i] = b.op("transpose", name, ir.Attrs{"perm": ir.Ints(perm...)}, vs[i])
	}
	y := b.op("matmul", "mm", nil, vs[0], vs[1])
	if a := c.float("alpha", 1); a != 1 {
		y = b.op("mul", "", nil, y, b.k("alpha", float64(a)))
	}
	return b.finish(y)
}
