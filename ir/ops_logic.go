package ir

import "fmt"

// Comparisons, logic, selection and the float functions beyond the
// activations: what models use to compare, mask and select runtime tensors.
// Bool tensors hold one byte per element.

// compareInfer types a comparison: two operands of one dtype (f32 or an
// integer; equal also bool) broadcast to a bool result. Quantized integers
// compare as stored integers, so both sides need one quantization.
func compareInfer(allowBool bool) func(v *Value) (Type, error) {
	return func(v *Value) (Type, error) {
		if err := sameDType(v); err != nil {
			return Type{}, err
		}
		a, b := arg(v, 0), arg(v, 1)
		if a.DType == Bool && !allowBool {
			return Type{}, fmt.Errorf("%s does not take bool (equal does)", v.Op.Name)
		}
		if !a.Quant.Equal(b.Quant) {
			return Type{}, fmt.Errorf("%s compares stored integers: %%%s %v and %%%s %v need one quantization (dequantize first)",
				v.Op.Name, v.Args[0].Name, a, v.Args[1].Name, b)
		}
		s, err := Broadcast(a.Shape, b.Shape)
		if err != nil {
			return Type{}, err
		}
		return Type{DType: Bool, Shape: s}, nil
	}
}

// boolInfer types a logical op: bool operands broadcast to a bool result.
func boolInfer(v *Value) (Type, error) {
	var s []int
	for i, a := range v.Args {
		if a.Type.DType != Bool {
			return Type{}, fmt.Errorf("argument %d (%%%s) is %v; %s takes bool", i, a.Name, a.Type.DType, v.Op.Name)
		}
		if i == 0 {
			s = a.Type.Shape
			continue
		}
		var err error
		if s, err = Broadcast(s, a.Type.Shape); err != nil {
			return Type{}, err
		}
	}
	return Type{DType: Bool, Shape: s}, nil
}

// whereInfer: where(cond, a, b) broadcasts all three; a and b share a dtype
// and a quantization, which the result keeps.
func whereInfer(v *Value) (Type, error) {
	c, a, b := arg(v, 0), arg(v, 1), arg(v, 2)
	if c.DType != Bool {
		return Type{}, fmt.Errorf("condition %%%s is %v, want bool", v.Args[0].Name, c.DType)
	}
	if a.DType != b.DType {
		return Type{}, fmt.Errorf("%%%s is %v and %%%s %v; where selects between one dtype", v.Args[1].Name, a.DType, v.Args[2].Name, b.DType)
	}
	if !a.Quant.Equal(b.Quant) {
		return Type{}, fmt.Errorf("%%%s %v and %%%s %v need one quantization (where selects stored integers)", v.Args[1].Name, a, v.Args[2].Name, b)
	}
	if v.Type.Quant != nil && !v.Type.Quant.Equal(a.Quant) {
		return Type{}, fmt.Errorf("declared quantization %v differs from the operands' %v", v.Type, a)
	}
	s, err := Broadcast(c.Shape, a.Shape)
	if err == nil {
		s, err = Broadcast(s, b.Shape)
	}
	if err != nil {
		return Type{}, err
	}
	return Type{DType: a.DType, Shape: s, Quant: a.Quant}, nil
}

// plainNumeric types a unary op on f32 or unquantized integers.
func plainNumeric(v *Value) (Type, error) {
	x := arg(v, 0)
	if x.DType == Bool || x.Quant != nil {
		return Type{}, fmt.Errorf("%s takes f32 or unquantized integers, got %v", v.Op.Name, x)
	}
	return Type{DType: x.DType, Shape: x.Shape}, nil
}

// floatPredicate types isnan and isinf: f32 in, bool out.
func floatPredicate(v *Value) (Type, error) {
	if err := float32Only(v); err != nil {
		return Type{}, err
	}
	return Type{DType: Bool, Shape: arg(v, 0).Shape}, nil
}

func modInfer(v *Value) (Type, error) {
	if err := sameDType(v); err != nil {
		return Type{}, err
	}
	a, b := arg(v, 0), arg(v, 1)
	if a.DType == Bool || a.Quant != nil || b.Quant != nil {
		return Type{}, fmt.Errorf("mod takes f32 or unquantized integers, got %v and %v", a, b)
	}
	if f := v.Int("fmod"); f != 0 && f != 1 {
		return Type{}, fmt.Errorf("fmod %d (want 0 or 1)", f)
	}
	if a.DType == F32 && v.Int("fmod") != 1 {
		return Type{}, fmt.Errorf("mod on f32 needs fmod=1 (as ONNX)")
	}
	s, err := Broadcast(a.Shape, b.Shape)
	if err != nil {
		return Type{}, err
	}
	return Type{DType: a.DType, Shape: s}, nil
}

func compareOp(name, doc string, allowBool bool, flags OpFlags) *OpDef {
	return &OpDef{Name: name, Args: []string{"a", "b"}, Infer: compareInfer(allowBool), Flags: Elementwise | flags,
		Doc: doc + " with broadcasting → bool; NaN compares false; quantized operands compare stored integers (one quantization)"}
}

func logicOp(name, doc string) *OpDef {
	return &OpDef{Name: name, Args: []string{"a", "b"}, Infer: boolInfer, Flags: Elementwise | Commutative, Doc: doc + " of bools with broadcasting"}
}

func init() {
	register(
		compareOp("equal", "a == b", true, Commutative),
		compareOp("less", "a < b", false, 0),
		compareOp("less_equal", "a <= b", false, 0),
		compareOp("greater", "a > b", false, 0),
		compareOp("greater_equal", "a >= b", false, 0),
		logicOp("and", "a and b"),
		logicOp("or", "a or b"),
		logicOp("xor", "a xor b"),
		&OpDef{Name: "not", Args: []string{"x"}, Infer: boolInfer, Flags: Elementwise, Doc: "logical not of a bool tensor"},
		&OpDef{Name: "where", Args: []string{"cond", "a", "b"}, Infer: whereInfer, Flags: Elementwise,
			Doc: "a where cond else b, all three broadcast; a and b share dtype and quantization"},
		&OpDef{Name: "mod", Args: []string{"a", "b"}, Infer: modInfer, Flags: Elementwise,
			Attrs: []AttrDef{{Name: "fmod", Kind: AttrInt, Default: Int(0), Doc: "0: integer remainder with the divisor's sign (Python); 1: C fmod, the dividend's sign (required for f32)"}},
			Doc:   "remainder with broadcasting; an integer remainder by 0 gives 0"},
		&OpDef{Name: "sign", Args: []string{"x"}, Infer: plainNumeric, Flags: Elementwise, Doc: "-1, 0 or 1 (f32: NaN stays NaN); f32 or unquantized integers"},
		unary("round", "round to nearest, ties to even", true, 0),
		unary("sin", "sine", true, 0),
		unary("cos", "cosine", true, 0),
		unary("tan", "tangent", true, 0),
		unary("asin", "arcsine", true, 0),
		unary("acos", "arccosine", true, 0),
		unary("atan", "arctangent", true, 0),
		unary("sinh", "hyperbolic sine", true, 0),
		unary("cosh", "hyperbolic cosine", true, 0),
		unary("asinh", "inverse hyperbolic sine", true, 0),
		unary("acosh", "inverse hyperbolic cosine", true, 0),
		unary("atanh", "inverse hyperbolic tangent", true, 0),
		&OpDef{Name: "isnan", Args: []string{"x"}, Infer: floatPredicate, Flags: Elementwise, Doc: "x is NaN → bool"},
		&OpDef{Name: "isinf", Args: []string{"x"}, Infer: floatPredicate, Flags: Elementwise,
			Attrs: []AttrDef{{Name: "detect_positive", Kind: AttrInt, Default: Int(1)}, {Name: "detect_negative", Kind: AttrInt, Default: Int(1)}},
			Doc:   "x is +inf (detect_positive) or -inf (detect_negative) → bool"},
	)
}
