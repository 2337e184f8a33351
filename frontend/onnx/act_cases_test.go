package onnx

import (
	"fmt"
	"math"
	"slices"
)

// Cases of the decomposed activations (convert_act.go).

// actShapes are the input shapes every activation runs on.
var actShapes = [][]int{{2, 3, 4, 5}, {7}, {1, 16, 9, 9}}

// actCase is one case per shape of an activation with attributes.
func actCase(name string, opset int64, op string, f func(float64) float64, lo, hi float64, attrs ...*attrProto) []decompCase {
	var out []decompCase
	for _, s := range actShapes {
		out = append(out, decompCase{name: fmt.Sprintf("%s/%v", name, s), opset: opset, op: op, x: s, attrs: attrs, lo: lo, hi: hi, ref: mapRef(f)})
	}
	return out
}

func eluRef(alpha float64) func(float64) float64 {
	return func(x float64) float64 {
		if x < 0 {
			return alpha * (math.Exp(x) - 1)
		}
		return x
	}
}

func softplusRef(x float64) float64 { return math.Log1p(math.Exp(-math.Abs(x))) + math.Max(x, 0) }

func actCases() []decompCase {
	ga, gg := float64(float32(seluAlpha)), float64(float32(seluGamma))
	selu := func(a, g float64) func(float64) float64 {
		return func(x float64) float64 { return g * eluRef(a)(x) }
	}
	celu := func(a float64) func(float64) float64 {
		return func(x float64) float64 { return math.Max(0, x) + math.Min(0, a*(math.Exp(x/a)-1)) }
	}
	thr := func(a float64) func(float64) float64 {
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}
	}
	gelu := func(x float64) float64 { return x / 2 * (1 + math.Erf(x/math.Sqrt2)) }
	geluTanh := func(x float64) float64 {
		return x / 2 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	return slices.Concat(
		actCase("Elu", 6, "Elu", eluRef(1), 0, 0),
		actCase("Elu/alpha0.3", 13, "Elu", eluRef(0.3), 0, 0, aFloat("alpha", 0.3)),
		actCase("Selu", 6, "Selu", selu(ga, gg), 0, 0),
		actCase("Selu/alpha2_gamma0.5", 13, "Selu", selu(2, 0.5), 0, 0, aFloat("alpha", 2), aFloat("gamma", 0.5)),
		actCase("Celu", 12, "Celu", celu(1), 0, 0),
		actCase("Celu/alpha2.5", 13, "Celu", celu(2.5), 0, 0, aFloat("alpha", 2.5)),
		actCase("Celu/alpha-0.7", 13, "Celu", celu(float64(float32(-0.7))), -2, 2, aFloat("alpha", -0.7)),
		actCase("Softplus", 6, "Softplus", softplusRef, 0, 0),
		actCase("Softplus/wide", 13, "Softplus", softplusRef, -120, 120),
		actCase("Softsign", 6, "Softsign", func(x float64) float64 { return x / (1 + math.Abs(x)) }, -50, 50),
		actCase("Mish", 18, "Mish", func(x float64) float64 { return x * math.Tanh(softplusRef(x)) }, -20, 20),
		actCase("Gelu", 20, "Gelu", gelu, 0, 0),
		actCase("Gelu/none", 20, "Gelu", gelu, -8, 8, aStr("approximate", "none")),
		actCase("Gelu/tanh", 20, "Gelu", geluTanh, -8, 8, aStr("approximate", "tanh")),
		actCase("Swish", 24, "Swish", func(x float64) float64 { return x / (1 + math.Exp(-x)) }, -20, 20),
		actCase("Swish/alpha1.702", 24, "Swish", func(x float64) float64 { return x / (1 + math.Exp(-float64(float32(1.702))*x)) }, -20, 20, aFloat("alpha", 1.702)),
		actCase("Swish/alpha-0.5", 24, "Swish", func(x float64) float64 { return x / (1 + math.Exp(0.5*x)) }, -20, 20, aFloat("alpha", -0.5)),
		actCase("ThresholdedRelu", 10, "ThresholdedRelu", thr(1), 0, 0),
		actCase("ThresholdedRelu/alpha-0.5", 13, "ThresholdedRelu", thr(-0.5), 0, 0, aFloat("alpha", -0.5)),
		actCase("ThresholdedRelu/alpha0", 22, "ThresholdedRelu", thr(0), 0, 0, aFloat("alpha", 0)),
	)
}
