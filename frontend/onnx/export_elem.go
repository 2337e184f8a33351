package onnx

import "github.com/pare-ml/pare/ir"

// Float elementwise ops of the writer beyond the core table in export.go.
func init() {
	for op, onnxOp := range map[string]string{
		"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "erf": "Erf", "neg": "Neg", "abs": "Abs",
		"reciprocal": "Reciprocal", "floor": "Floor", "ceil": "Ceil",
		"max": "Max", "min": "Min", "pow": "Pow", "prelu": "PRelu",
	} {
		exportOps[op] = simple(onnxOp)
	}
	exportOps["leaky_relu"] = func(e *exporter, v *ir.Value) error {
		return e.emit(v, "LeakyRelu", e.args(v), attrFloat("alpha", v.Float("alpha")))
	}
	exportOps["hardsigmoid"] = func(e *exporter, v *ir.Value) error {
		return e.emit(v, "HardSigmoid", e.args(v), attrFloat("alpha", v.Float("alpha")), attrFloat("beta", v.Float("beta")))
	}
	exportOps["hardswish"] = simple("HardSwish") // opset 14
	// Opset 13's ReduceMean and ReduceMax take the axes as an attribute.
	for op, onnxOp := range map[string]string{"reduce_mean": "ReduceMean", "reduce_max": "ReduceMax"} {
		exportOps[op] = func(e *exporter, v *ir.Value) error {
			return e.emit(v, onnxOp, e.args(v), attrInts("axes", v.IntList("axes")), attrInt("keepdims", int(v.Int("keepdims"))))
		}
	}
}
