package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// Comparisons, logic, selection and the float functions (ir/ops_logic.go).
// Like every IR op they fold when all their inputs are constant, which the
// shape arithmetic of exported models (Shape → Equal → Where) relies on.

// onnxCompare maps the ONNX comparisons to IR ops.
var onnxCompare = map[string]string{
	"Equal": "equal", "Less": "less", "LessOrEqual": "less_equal", "Greater": "greater", "GreaterOrEqual": "greater_equal",
}

// sameStored returns a and b ready for an op on stored elements: ONNX
// compares and selects the stored integers whatever their quantization, so
// operands of different quantizations lose it through a cast (a same-dtype
// cast keeps the integers).
func (c *nodeCtx) sameStored(a, b *ir.Value) (*ir.Value, *ir.Value, error) {
	if a.Type.Quant.Equal(b.Type.Quant) || a.Type.DType != b.Type.DType {
		return a, b, nil
	}
	out := []*ir.Value{a, b}
	for i, v := range out {
		if v.Type.Quant == nil {
			continue
		}
		w, err := c.add("cast", []*ir.Value{v}, nil, ir.Type{DType: v.Type.DType}, c.tmpName(string(rune('a'+i))+"_stored"))
		if err != nil {
			return nil, nil, err
		}
		out[i] = w
	}
	return out[0], out[1], nil
}

// convCompare: Equal, Less, LessOrEqual, Greater, GreaterOrEqual.
func convCompare(c *nodeCtx) error {
	a, b, err := c.binaryArgs()
	if err != nil {
		return err
	}
	if a.Type.DType != b.Type.DType {
		return c.errf("operands are %v and %v", a.Type.DType, b.Type.DType)
	}
	if a, b, err = c.sameStored(a, b); err != nil {
		return err
	}
	return c.out(onnxCompare[c.op], []*ir.Value{a, b}, nil, ir.Type{})
}

// convLogic: And, Or, Xor (BOOL operands, broadcasting).
func convLogic(op string) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		a, b, err := c.binaryArgs()
		if err != nil {
			return err
		}
		return c.out(op, []*ir.Value{a, b}, nil, ir.Type{})
	}
}

func convWhere(c *nodeCtx) error {
	vs, err := c.needN(3)
	if err != nil {
		return err
	}
	x, y, err := c.sameStored(vs[1], vs[2])
	if err != nil {
		return err
	}
	return c.out("where", []*ir.Value{vs[0], x, y}, nil, ir.Type{})
}

func convIsInf(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	attrs := ir.Attrs{"detect_positive": ir.Int(min(max(c.int("detect_positive", 1), 0), 1)),
		"detect_negative": ir.Int(min(max(c.int("detect_negative", 1), 0), 1))}
	return c.out("isinf", []*ir.Value{x}, attrs, ir.Type{})
}

func convMod(c *nodeCtx) error {
	a, b, err := c.binaryArgs()
	if err != nil {
		return err
	}
	fmod := c.int("fmod", 0)
	if fmod != 0 && fmod != 1 {
		return c.errf("fmod %d (want 0 or 1)", fmod)
	}
	if a.Type.DType == ir.F32 && fmod == 0 {
		return c.errf("Mod on FLOAT needs fmod=1 (the ONNX specification)")
	}
	for _, v := range []*ir.Value{a, b} {
		if v.Type.Quant != nil {
			return c.unsupported("Mod of the quantized tensor %s (dequantize first)", v.Name)
		}
	}
	return c.out("mod", []*ir.Value{a, b}, ir.Attrs{"fmod": ir.Int(fmod)}, ir.Type{})
}
