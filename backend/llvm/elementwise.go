package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// mapStep: out = epilogue(in0) over the step's loop nest.
func (k *kfn) mapStep(s *codegen.Step, in, out value.Value, args []value.Value) error {
	lp := s.Loop
	strides := append([][]int{lp.Strides[0]}, lp.Strides[1:]...)
	strides = append(strides, contiguousStrides(lp.Shape))
	k.nest(lp.Shape, strides, func(offs []value.Value) {
		v := k.load(in, offs[0])
		v = k.applyEpi(s, v, s.In[0].DType, args, offs[1:len(offs)-1])
		k.store(v, out, offs[len(offs)-1])
	})
	return nil
}

// epilogueSweep applies a producer step's epilogue to its output in place.
func (k *kfn) epilogueSweep(s *codegen.Step, out value.Value, args []value.Value) {
	lp := s.Loop
	k.nest(lp.Shape, lp.Strides, func(offs []value.Value) {
		v := k.load(out, offs[0])
		v = k.applyEpi(s, v, s.Out.DType, args, offs[1:])
		k.store(v, out, offs[0])
	})
}

func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for d := len(shape) - 1; d >= 0; d-- {
		s[d] = n
		n *= shape[d]
	}
	return s
}

// applyEpi applies the epilogue entries to v, a chain value of dtype dt;
// offs[j] is entry j's operand offset (then the Arg2 offsets, as
// Loop.Strides orders them), args the Arg operands of the entries in
// order, then their Arg2 operands.
func (k *kfn) applyEpi(s *codegen.Step, v value.Value, dt pir.DType, args []value.Value, offs []value.Value) value.Value {
	a, a2 := 0, 0
	for _, e := range s.Epilogue {
		if e.Arg != nil {
			a2++
		}
	}
	for j, e := range s.Epilogue {
		odt := e.Operand(dt)
		switch {
		case e.Op == codegen.EpiWhere:
			x, y := k.load(args[a], offs[j]), k.load(args[a2], offs[s.Arg2Strides(j)-1])
			a++
			a2++
			v = k.b.NewSelect(k.b.NewICmp(enum.IPredNE, v, constant.NewInt(types.I8, 0)), x, y)
		case e.Op.Binary():
			o := k.load(args[a], offs[j])
			a++
			x, y := v, o
			if e.Swapped {
				x, y = o, v
			}
			switch {
			case e.Op.Compare():
				v = k.compare(e.Op, x, y, odt)
			case e.Op.Logic():
				v = k.logic(e.Op, x, y)
			case e.Op == codegen.EpiMod || e.Op == codegen.EpiFmod:
				v = k.mod(e.Op, x, y, odt)
			case odt != pir.F32:
				v = k.intBinary(e.Op, x, y, odt == pir.U8)
			default:
				v = k.binary(e.Op, x, y)
			}
		case odt != pir.F32 || logicUnary[e.Op]:
			v = k.unaryLogic(e, v, odt)
		default:
			v = k.unary(e, v)
		}
		dt = e.Result(dt)
	}
	return v
}

func (k *kfn) binary(op codegen.EpiOp, x, y value.Value) value.Value {
	b := k.b
	switch op {
	case codegen.EpiAdd:
		return b.NewFAdd(x, y)
	case codegen.EpiSub:
		return b.NewFSub(x, y)
	case codegen.EpiMul:
		return b.NewFMul(x, y)
	case codegen.EpiDiv:
		return b.NewFDiv(x, y)
	case codegen.EpiMax:
		return k.fmax(x, y)
	case codegen.EpiMin:
		return k.fmin(x, y)
	case codegen.EpiPow:
		return b.NewCall(k.e.intrinsic("llvm.pow.f32", f32, f32, f32), x, y)
	case codegen.EpiPrelu:
		return b.NewSelect(b.NewFCmp(enum.FPredOLT, x, cf(0)), b.NewFMul(y, x), x)
	}
	panic("llvm: unknown binary epilogue op " + string(op))
}

func (k *kfn) unary(e codegen.Epi, x value.Value) value.Value {
	b := k.b
	switch e.Op {
	case codegen.EpiRelu:
		return b.NewSelect(b.NewFCmp(enum.FPredOGT, x, cf(0)), x, cf(0))
	case codegen.EpiLeakyRelu:
		return b.NewSelect(b.NewFCmp(enum.FPredOLT, x, cf(0)), b.NewFMul(cf(e.A), x), x)
	case codegen.EpiClip:
		v := x
		if !isInf(e.A) {
			v = b.NewSelect(b.NewFCmp(enum.FPredOLT, v, cf(e.A)), cf(e.A), v)
		}
		if !isInf(e.B) {
			v = b.NewSelect(b.NewFCmp(enum.FPredOGT, v, cf(e.B)), cf(e.B), v)
		}
		return v
	case codegen.EpiSigmoid:
		ex := k.call1("llvm.exp.f32", b.NewFNeg(x))
		return b.NewFDiv(cf(1), b.NewFAdd(cf(1), ex))
	case codegen.EpiTanh:
		return k.call1("tanhf", x)
	case codegen.EpiHardSigmoid:
		v := b.NewFAdd(b.NewFMul(cf(e.A), x), cf(e.B))
		return k.fmax(cf(0), k.fmin(cf(1), v))
	case codegen.EpiHardSwish:
		v := b.NewFAdd(b.NewFDiv(x, cf(6)), cf(0.5))
		return b.NewFMul(x, k.fmax(cf(0), k.fmin(cf(1), v)))
	case codegen.EpiExp:
		return k.call1("llvm.exp.f32", x)
	case codegen.EpiLog:
		return k.call1("llvm.log.f32", x)
	case codegen.EpiSqrt:
		return k.call1("llvm.sqrt.f32", x)
	case codegen.EpiErf:
		return k.call1("erff", x)
	case codegen.EpiNeg:
		return b.NewFNeg(x)
	case codegen.EpiAbs:
		return k.call1("llvm.fabs.f32", x)
	case codegen.EpiReciprocal:
		return b.NewFDiv(cf(1), x)
	case codegen.EpiFloor:
		return k.call1("llvm.floor.f32", x)
	case codegen.EpiCeil:
		return k.call1("llvm.ceil.f32", x)
	}
	panic("llvm: unknown unary epilogue op " + string(e.Op))
}

func isInf(f float32) bool { return f > 3.4e38 || f < -3.4e38 }
