package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Epilogues: the elementwise chain applied to a value v, as Go statements.

// epiIndex is the index expression of every entry's operand (Arg) and of
// the Arg2 operands (by entry; "" where an entry has none) at loop index idx.
func (k *kfn) epiIndex(idx []string) (argIdx, arg2Idx []string) {
	lp := k.s.Loop
	for j, e := range k.s.Epilogue {
		argIdx = append(argIdx, offsetExpr(idx, lp.Strides[j+1], 0))
		a2 := ""
		if e.Arg2 != nil {
			a2 = offsetExpr(idx, lp.Strides[k.s.Arg2Strides(j)], 0)
		}
		arg2Idx = append(arg2Idx, a2)
	}
	return argIdx, arg2Idx
}

// epi returns the statements applying an f32 (or same-dtype integer)
// epilogue to v in place; argIdx[j] is the index expression of entry j's
// operand.
func (k *kfn) epi(argIdx []string) []jen.Code {
	code, cur, err := k.epiChain(argIdx, nil, k.s.Out.DType)
	if err != nil || cur != "v" {
		return []jen.Code{L("panic(%q)", "epilogue changes the dtype of a producer's output")}
	}
	return code
}

// goMath are the float functions computed as float32(math.F(float64(v))),
// as rt computes them.
var goMath = map[codegen.EpiOp]string{
	codegen.EpiTanh: "Tanh", codegen.EpiExp: "Exp", codegen.EpiLog: "Log", codegen.EpiSqrt: "Sqrt", codegen.EpiErf: "Erf",
	codegen.EpiFloor: "Floor", codegen.EpiCeil: "Ceil", codegen.EpiRound: "RoundToEven",
	codegen.EpiSin: "Sin", codegen.EpiCos: "Cos", codegen.EpiTan: "Tan", codegen.EpiAsin: "Asin", codegen.EpiAcos: "Acos",
	codegen.EpiAtan: "Atan", codegen.EpiSinh: "Sinh", codegen.EpiCosh: "Cosh", codegen.EpiAsinh: "Asinh",
	codegen.EpiAcosh: "Acosh", codegen.EpiAtanh: "Atanh",
}

var goCompare = map[codegen.EpiOp]string{
	codegen.EpiEqual: "==", codegen.EpiLess: "<", codegen.EpiLessEqual: "<=", codegen.EpiGreater: ">", codegen.EpiGreaterEqual: ">=",
}

// epiChain returns the statements applying the epilogue to v, a value of
// dtype dt, and the name of the variable holding the result: an entry that
// changes the dtype declares a new one (v1, v2 ...). arg2Idx may be nil
// when no entry has an Arg2.
func (k *kfn) epiChain(argIdx, arg2Idx []string, dt ir.DType) ([]jen.Code, string, error) {
	var out []jen.Code
	cur, n := "v", 0
	for j, e := range k.s.Epilogue {
		odt := e.Operand(dt)
		rdt := e.Result(dt)
		a, a2 := "", ""
		if e.Arg != nil {
			a = fmt.Sprintf("e%d[%s]", j, argIdx[j])
		}
		if e.Arg2 != nil {
			a2 = fmt.Sprintf("f%d[%s]", j, arg2Idx[j])
		}
		x, y := cur, a
		if e.Swapped {
			x, y = a, cur
		}
		if rdt != dt || e.Op.Compare() {
			n++
			nv := fmt.Sprintf("v%d", n)
			switch {
			case e.Op.Compare():
				out = append(out, L("%s := %s %s %s", nv, x, goCompare[e.Op], y))
			case e.Op == codegen.EpiIsNaN:
				out = append(out, L("%s := %s != %s", nv, cur, cur))
			case e.Op == codegen.EpiIsInf:
				c := "false"
				if e.A != 0 {
					c += fmt.Sprintf(" || %s > math.MaxFloat32", cur)
				}
				if e.B != 0 {
					c += fmt.Sprintf(" || %s < -math.MaxFloat32", cur)
				}
				out = append(out, L("%s := %s", nv, c), L("_ = %s", cur))
			case e.Op == codegen.EpiWhere:
				t, err := goType(rdt)
				if err != nil {
					return nil, "", unsupported(k.s, "where of %v", rdt)
				}
				out = append(out, L("var %s %s", nv, t), jen.If(L("%s", cur)).Block(L("%s = %s", nv, a)).Else().Block(L("%s = %s", nv, a2)))
			default:
				return nil, "", unsupported(k.s, "epilogue %s from %v to %v", e.Op, dt, rdt)
			}
			cur, dt = nv, rdt
			continue
		}
		st, err := k.epiEntry(e, cur, x, y, a, a2, odt)
		if err != nil {
			return nil, "", err
		}
		out = append(out, st...)
	}
	return out, cur, nil
}

// epiEntry is one entry that keeps the chain's dtype: it updates v (the
// chain variable) from x and y (v and the operand, swapped as the entry
// says); dt is the operands' dtype.
func (k *kfn) epiEntry(e codegen.Epi, v, x, y, a, a2 string, dt ir.DType) ([]jen.Code, error) {
	unsigned := dt == ir.U8
	isInt := dt != ir.F32
	switch e.Op {
	case codegen.EpiAdd:
		return []jen.Code{L("%s = %s + %s", v, x, y)}, nil
	case codegen.EpiSub:
		return []jen.Code{L("%s = %s - %s", v, x, y)}, nil
	case codegen.EpiMul:
		return []jen.Code{L("%s = %s * %s", v, x, y)}, nil
	case codegen.EpiDiv:
		if isInt {
			// As rt's: division by zero gives 0; MIN / -1 wraps to MIN in
			// Go as in rt.
			return []jen.Code{jen.If(L("t, u := %s, %s; u != 0", x, y)).Block(L("%s = t / u", v)).Else().Block(L("%s = 0", v))}, nil
		}
		return []jen.Code{L("%s = %s / %s", v, x, y)}, nil
	case codegen.EpiMax:
		return []jen.Code{jen.If(L("t, u := %s, %s; u > t", x, y)).Block(L("%s = u", v)).Else().Block(L("%s = t", v))}, nil
	case codegen.EpiMin:
		return []jen.Code{jen.If(L("t, u := %s, %s; u < t", x, y)).Block(L("%s = u", v)).Else().Block(L("%s = t", v))}, nil
	case codegen.EpiPow:
		return []jen.Code{L("%s = float32(math.Pow(float64(%s), float64(%s)))", v, x, y)}, nil
	case codegen.EpiPrelu:
		return []jen.Code{jen.If(L("%s < 0", v)).Block(L("%s = %s * %s", v, a, v))}, nil
	case codegen.EpiAnd:
		return []jen.Code{L("%s = %s && %s", v, x, y)}, nil
	case codegen.EpiOr:
		return []jen.Code{L("%s = %s || %s", v, x, y)}, nil
	case codegen.EpiXor:
		return []jen.Code{L("%s = %s != %s", v, x, y)}, nil
	case codegen.EpiNot:
		return []jen.Code{L("%s = !%s", v, v)}, nil
	case codegen.EpiWhere: // a where that keeps the dtype: a bool chain
		return []jen.Code{jen.If(L("%s", v)).Block(L("%s = %s", v, a)).Else().Block(L("%s = %s", v, a2))}, nil
	case codegen.EpiMod, codegen.EpiFmod:
		if !isInt {
			return []jen.Code{L("%s = float32(math.Mod(float64(%s), float64(%s)))", v, x, y)}, nil
		}
		// As rt's modInt: by 0 gives 0; Go's MIN % -1 is 0 already.
		fix := []jen.Code{L("%s = t %% u", v)}
		if e.Op == codegen.EpiMod && !unsigned {
			fix = append(fix, jen.If(L("%s != 0 && (%s < 0) != (u < 0)", v, v)).Block(L("%s += u", v)))
		}
		return []jen.Code{jen.If(L("t, u := %s, %s; u == 0", x, y)).Block(L("%s = 0", v)).Else().Block(fix...)}, nil
	case codegen.EpiRelu:
		return []jen.Code{jen.If(L("%s < 0", v)).Block(L("%s = 0", v))}, nil
	case codegen.EpiLeakyRelu:
		return []jen.Code{jen.If(L("%s < 0", v)).Block(L("%s = %s * %s", v, flit(e.A), v))}, nil
	case codegen.EpiClip:
		return []jen.Code{jen.If(L("%s < %s", v, flit(e.A))).Block(L("%s = %s", v, flit(e.A))),
			jen.If(L("%s > %s", v, flit(e.B))).Block(L("%s = %s", v, flit(e.B)))}, nil
	case codegen.EpiSigmoid:
		return []jen.Code{L("%s = float32(1 / (1 + math.Exp(-float64(%s))))", v, v)}, nil
	case codegen.EpiHardSigmoid:
		return []jen.Code{L("%s = max(0, min(1, %s*%s+%s))", v, flit(e.A), v, flit(e.B))}, nil
	case codegen.EpiHardSwish:
		return []jen.Code{L("%s = %s * max(0, min(1, %s/6+0.5))", v, v, v)}, nil
	case codegen.EpiNeg:
		return []jen.Code{L("%s = -%s", v, v)}, nil
	case codegen.EpiAbs:
		if isInt {
			return []jen.Code{jen.If(L("%s < 0", v)).Block(L("%s = -%s", v, v))}, nil
		}
		return []jen.Code{L("%s = float32(math.Abs(float64(%s)))", v, v)}, nil
	case codegen.EpiReciprocal:
		return []jen.Code{L("%s = 1 / %s", v, v)}, nil
	case codegen.EpiSign: // NaN and zeros stay
		if unsigned {
			return []jen.Code{jen.If(L("%s > 0", v)).Block(L("%s = 1", v))}, nil
		}
		return []jen.Code{jen.If(L("%s > 0", v)).Block(L("%s = 1", v)).Else().If(L("%s < 0", v)).Block(L("%s = -1", v))}, nil
	}
	if fn, ok := goMath[e.Op]; ok && !isInt {
		return []jen.Code{L("%s = float32(math.%s(float64(%s)))", v, fn, v)}, nil
	}
	return nil, unsupported(k.s, "epilogue %s on %v", e.Op, dt)
}
