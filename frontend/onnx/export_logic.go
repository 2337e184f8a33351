package onnx

import "github.com/pare-ml/pare/ir"

// The comparisons, logic, selection and float functions of ir/ops_logic.go
// in the writer (all exist at ExportOpset 14).
func init() {
	for op, onnxOp := range map[string]string{
		"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater", "greater_equal": "GreaterOrEqual",
		"and": "And", "or": "Or", "xor": "Xor", "not": "Not", "where": "Where",
		"sign": "Sign", "round": "Round", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan",
		"sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh", "isnan": "IsNaN",
	} {
		exportOps[op] = simple(onnxOp)
	}
	exportOps["isinf"] = func(e *exporter, v *ir.Value) error {
		return e.emit(v, "IsInf", e.args(v), attrInt("detect_positive", v.Int("detect_positive")), attrInt("detect_negative", v.Int("detect_negative")))
	}
	exportOps["mod"] = func(e *exporter, v *ir.Value) error {
		return e.emit(v, "Mod", e.args(v), attrInt("fmod", v.Int("fmod")))
	}
}
