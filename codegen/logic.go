package codegen

import "github.com/pare-ml/pare/ir"

// Epilogue operations of comparisons, logic, selection and the float
// functions of ir/ops_logic.go. Bool chain values are 0 or 1 in one byte.
const (
	// Comparisons: cur and Arg of one dtype (f32 or an integer, stored
	// integers when quantized; EpiEqual also bool) → bool. NaN compares false.
	EpiEqual, EpiLess, EpiLessEqual, EpiGreater, EpiGreaterEqual EpiOp = "equal", "less", "less_equal", "greater", "greater_equal"
	// Logic on bools.
	EpiAnd, EpiOr, EpiXor, EpiNot EpiOp = "and", "or", "xor", "not"
	// EpiWhere: cur (bool) ? Arg : Arg2, the result of Arg's dtype.
	EpiWhere EpiOp = "where"
	// EpiMod is the integer remainder with the divisor's sign (Python's),
	// EpiFmod C's fmod / %, the dividend's sign (f32 or integers); an
	// integer remainder by 0 is 0, MIN % -1 is 0.
	EpiMod, EpiFmod EpiOp = "mod", "fmod"
	// EpiSign is -1, 0 or 1 (f32: NaN stays NaN; also plain integers);
	// EpiRound rounds half to even.
	EpiSign, EpiRound                                 EpiOp = "sign", "round"
	EpiSin, EpiCos, EpiTan, EpiAsin, EpiAcos, EpiAtan EpiOp = "sin", "cos", "tan", "asin", "acos", "atan"
	EpiSinh, EpiCosh, EpiAsinh, EpiAcosh, EpiAtanh    EpiOp = "sinh", "cosh", "asinh", "acosh", "atanh"
	// EpiIsNaN and EpiIsInf map f32 to bool; EpiIsInf detects +inf when
	// A != 0 and -inf when B != 0.
	EpiIsNaN, EpiIsInf EpiOp = "isnan", "isinf"
)

// Compare reports whether the op is a comparison (bool result).
func (op EpiOp) Compare() bool {
	switch op {
	case EpiEqual, EpiLess, EpiLessEqual, EpiGreater, EpiGreaterEqual:
		return true
	}
	return false
}

// Logic reports whether the op is a binary logic op on bools.
func (op EpiOp) Logic() bool { return op == EpiAnd || op == EpiOr || op == EpiXor }

// Result is the dtype of the chain value after the entry, given the one
// before it.
func (e Epi) Result(in ir.DType) ir.DType {
	switch {
	case e.Op.Compare(), e.Op == EpiIsNaN, e.Op == EpiIsInf:
		return ir.Bool
	case e.Op == EpiWhere:
		return e.Arg.DType
	}
	return in
}

// Operand reports the dtype the entry's operands have (Arg's for binary
// entries, the chain value's for unary ones): what a backend dispatches on.
func (e Epi) Operand(cur ir.DType) ir.DType {
	if e.Arg != nil && e.Op != EpiWhere {
		return e.Arg.DType
	}
	return cur
}

// Arg2Strides is the index in Loop.Strides of entry j's Arg2.
func (s *Step) Arg2Strides(j int) int {
	k := 1 + len(s.Epilogue)
	for i := 0; i < j; i++ {
		if s.Epilogue[i].Arg2 != nil {
			k++
		}
	}
	return k
}

// mapTypesOK reports whether the compiled elementwise kernels take v's
// types: f32 throughout, plain integers for the arithmetic, any operands
// the verifier accepts for comparisons, logic, where and the predicates.
func mapTypesOK(v *ir.Value) bool {
	switch v.Op.Name {
	case "equal", "less", "less_equal", "greater", "greater_equal", "and", "or", "xor", "not", "where", "isnan", "isinf":
		return true
	case "pow", "prelu":
		return isF32(v)
	}
	if isF32(v) {
		return true
	}
	if _, bin := binaryEpi[v.Op.Name]; bin {
		return plainInt(v)
	}
	switch v.Op.Name {
	case "sign", "neg", "abs":
		return plainInt(v)
	}
	return false
}
