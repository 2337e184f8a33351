package llvm

import (
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Comparisons, logic, selection, remainders and the float functions of
// ir/ops_logic.go. Bool chain values are i8 0 or 1, as stored.

// logicUnary are the unary entries unaryLogic emits (on any operand dtype).
var logicUnary = map[codegen.EpiOp]bool{
	codegen.EpiNot: true, codegen.EpiSign: true, codegen.EpiRound: true, codegen.EpiIsNaN: true, codegen.EpiIsInf: true,
	codegen.EpiSin: true, codegen.EpiCos: true, codegen.EpiTan: true, codegen.EpiAsin: true, codegen.EpiAcos: true, codegen.EpiAtan: true,
	codegen.EpiSinh: true, codegen.EpiCosh: true, codegen.EpiAsinh: true, codegen.EpiAcosh: true, codegen.EpiAtanh: true,
}

// libmUnary are the float functions that call libm (the executables link
// -lm, as for tanh and erf); sin and cos are LLVM intrinsics.
var libmUnary = map[codegen.EpiOp]string{
	codegen.EpiSin: "llvm.sin.f32", codegen.EpiCos: "llvm.cos.f32", codegen.EpiRound: "llvm.roundeven.f32",
	codegen.EpiTan: "tanf", codegen.EpiAsin: "asinf", codegen.EpiAcos: "acosf", codegen.EpiAtan: "atanf",
	codegen.EpiSinh: "sinhf", codegen.EpiCosh: "coshf", codegen.EpiAsinh: "asinhf", codegen.EpiAcosh: "acoshf", codegen.EpiAtanh: "atanhf",
}

func (k *kfn) boolOf(c value.Value) value.Value { return k.b.NewZExt(c, types.I8) }

func unsignedDType(dt pir.DType) bool { return dt == pir.U8 || dt == pir.Bool }

// compare gives x op y as a bool (i8); float comparisons are ordered, so
// NaN compares false.
func (k *kfn) compare(op codegen.EpiOp, x, y value.Value, dt pir.DType) value.Value {
	if dt == pir.F32 {
		p := map[codegen.EpiOp]enum.FPred{codegen.EpiEqual: enum.FPredOEQ, codegen.EpiLess: enum.FPredOLT,
			codegen.EpiLessEqual: enum.FPredOLE, codegen.EpiGreater: enum.FPredOGT, codegen.EpiGreaterEqual: enum.FPredOGE}[op]
		return k.boolOf(k.b.NewFCmp(p, x, y))
	}
	signed := map[codegen.EpiOp]enum.IPred{codegen.EpiEqual: enum.IPredEQ, codegen.EpiLess: enum.IPredSLT,
		codegen.EpiLessEqual: enum.IPredSLE, codegen.EpiGreater: enum.IPredSGT, codegen.EpiGreaterEqual: enum.IPredSGE}
	unsigned := map[codegen.EpiOp]enum.IPred{codegen.EpiEqual: enum.IPredEQ, codegen.EpiLess: enum.IPredULT,
		codegen.EpiLessEqual: enum.IPredULE, codegen.EpiGreater: enum.IPredUGT, codegen.EpiGreaterEqual: enum.IPredUGE}
	p := signed[op]
	if unsignedDType(dt) {
		p = unsigned[op]
	}
	return k.boolOf(k.b.NewICmp(p, x, y))
}

func (k *kfn) logic(op codegen.EpiOp, x, y value.Value) value.Value {
	switch op {
	case codegen.EpiAnd:
		return k.b.NewAnd(x, y)
	case codegen.EpiOr:
		return k.b.NewOr(x, y)
	}
	return k.b.NewXor(x, y)
}

// mod: frem is C's fmod; integer remainders as rt's modInt (by 0 and
// MIN % -1 give 0; EpiMod moves a nonzero remainder to the divisor's sign).
func (k *kfn) mod(op codegen.EpiOp, x, y value.Value, dt pir.DType) value.Value {
	b := k.b
	if dt == pir.F32 {
		return b.NewFRem(x, y)
	}
	t := x.Type().(*types.IntType)
	zero, one := constant.NewInt(t, 0), constant.NewInt(t, 1)
	y0 := b.NewICmp(enum.IPredEQ, y, zero)
	if unsignedDType(dt) {
		return b.NewSelect(y0, zero, b.NewURem(x, b.NewSelect(y0, one, y)))
	}
	m1 := b.NewICmp(enum.IPredEQ, y, constant.NewInt(t, -1))
	bad := b.NewOr(y0, m1)
	var r value.Value = b.NewSRem(x, b.NewSelect(bad, one, y))
	r = b.NewSelect(bad, zero, r)
	if op == codegen.EpiFmod {
		return r
	}
	// r != 0 && (r < 0) != (y < 0): r + y.
	fix := b.NewAnd(b.NewICmp(enum.IPredNE, r, zero), b.NewICmp(enum.IPredNE, b.NewICmp(enum.IPredSLT, r, zero), b.NewICmp(enum.IPredSLT, y, zero)))
	return b.NewSelect(fix, b.NewAdd(r, y), r)
}

// unaryLogic emits not, the integer unary ops (neg, abs, sign) and the new
// float functions.
func (k *kfn) unaryLogic(e codegen.Epi, x value.Value, dt pir.DType) value.Value {
	b := k.b
	if e.Op == codegen.EpiNot {
		return b.NewXor(x, constant.NewInt(types.I8, 1))
	}
	if dt != pir.F32 {
		t := x.Type().(*types.IntType)
		zero, one := constant.NewInt(t, 0), constant.NewInt(t, 1)
		switch e.Op {
		case codegen.EpiNeg:
			return b.NewSub(zero, x)
		case codegen.EpiAbs:
			if unsignedDType(dt) {
				return x
			}
			return b.NewSelect(b.NewICmp(enum.IPredSLT, x, zero), b.NewSub(zero, x), x)
		case codegen.EpiSign:
			if unsignedDType(dt) {
				return b.NewZExt(b.NewICmp(enum.IPredNE, x, zero), t)
			}
			neg := b.NewSelect(b.NewICmp(enum.IPredSLT, x, zero), constant.NewInt(t, -1), zero)
			return b.NewSelect(b.NewICmp(enum.IPredSGT, x, zero), one, neg)
		}
		panic("llvm: integer epilogue op " + string(e.Op))
	}
	switch e.Op {
	case codegen.EpiSign: // NaN: neither comparison holds, x stays
		neg := b.NewSelect(b.NewFCmp(enum.FPredOLT, x, cf(0)), cf(-1), x)
		return b.NewSelect(b.NewFCmp(enum.FPredOGT, x, cf(0)), cf(1), neg)
	case codegen.EpiIsNaN:
		return k.boolOf(b.NewFCmp(enum.FPredUNO, x, x))
	case codegen.EpiIsInf:
		c := value.Value(constant.False)
		if e.A != 0 {
			c = b.NewOr(c, b.NewFCmp(enum.FPredOEQ, x, cfInf(1)))
		}
		if e.B != 0 {
			c = b.NewOr(c, b.NewFCmp(enum.FPredOEQ, x, constant.NewFloat(f32, math.Inf(-1))))
		}
		return k.boolOf(c)
	}
	if fn, ok := libmUnary[e.Op]; ok {
		return k.call1(fn, x)
	}
	panic("llvm: unknown epilogue op " + string(e.Op))
}
