package codegen

import (
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// lowerValue builds the step of v and fuses the elementwise chain that
// follows it; last is the chain's final value (the step's output).
func (l *lowerer) lowerValue(v *ir.Value) (st *Step, last *ir.Value, err error) {
	if isIntStep(v) {
		st, err = l.lowerIntOp(v)
		if err != nil {
			return nil, nil, err
		}
		return st, v, nil
	}
	switch v.Op.Name {
	case "conv":
		st, last, err = l.lowerConv(v)
	case "gemm", "matmul":
		st, last, err = l.lowerGemm(v)
	case "maxpool", "avgpool":
		st, err = l.lowerPool(v)
	case "maxpool_index":
		st, err = l.lowerPoolTable(v, true)
	case "global_avgpool", "softmax", "reduce_mean", "reduce_sum", "reduce_max", "argmax":
		st, err = l.lowerReduce(v)
	case "topk", "topk_index":
		st, err = l.lowerTopK(v)
	case "nms_index":
		st, err = l.lowerNMS(v)
	case "transpose", "slice", "concat", "expand", "pad", "gather":
		st, err = l.lowerLayout(v)
	case "resize":
		st, err = l.lowerResize(v)
	case "conv_transpose":
		st, err = l.lowerConvTranspose(v)
	default:
		st, err = l.lowerMap(v)
	}
	if err != nil {
		return nil, nil, err
	}
	if last == nil {
		last = v
	}
	if st.Kernel != KCopy && st.Kernel != KGather {
		last = l.fuse(st, last)
	}
	if st.Loop != nil {
		st.Loop.simplify()
	}
	return st, last, nil
}

// isF32 reports whether v and its arguments are plain f32 tensors.
func isF32(v *ir.Value) bool {
	if v.Type.DType != ir.F32 || v.Type.Quant != nil {
		return false
	}
	for _, a := range v.Args {
		if a.Type.DType != ir.F32 || a.Type.Quant != nil {
			return false
		}
	}
	return true
}

// plainInt reports whether v and its arguments are integers of one dtype
// without quantization (the arithmetic wraps in the type, as rt's).
func plainInt(v *ir.Value) bool {
	dt := v.Type.DType
	if !dt.IsInt() || dt == ir.Bool || v.Type.Quant != nil {
		return false
	}
	for _, a := range v.Args {
		if a.Type.DType != dt || a.Type.Quant != nil {
			return false
		}
	}
	return true
}

var unaryEpi = map[string]EpiOp{
	"relu": EpiRelu, "leaky_relu": EpiLeakyRelu, "clip": EpiClip, "sigmoid": EpiSigmoid, "tanh": EpiTanh,
	"hardsigmoid": EpiHardSigmoid, "hardswish": EpiHardSwish, "exp": EpiExp, "log": EpiLog, "sqrt": EpiSqrt,
	"erf": EpiErf, "neg": EpiNeg, "abs": EpiAbs, "reciprocal": EpiReciprocal, "floor": EpiFloor, "ceil": EpiCeil,
	"not": EpiNot, "sign": EpiSign, "round": EpiRound, "sin": EpiSin, "cos": EpiCos, "tan": EpiTan, "asin": EpiAsin,
	"acos": EpiAcos, "atan": EpiAtan, "sinh": EpiSinh, "cosh": EpiCosh, "asinh": EpiAsinh, "acosh": EpiAcosh, "atanh": EpiAtanh,
	"isnan": EpiIsNaN, "isinf": EpiIsInf,
}

var binaryEpi = map[string]EpiOp{
	"add": EpiAdd, "sub": EpiSub, "mul": EpiMul, "div": EpiDiv, "max": EpiMax, "min": EpiMin, "pow": EpiPow, "prelu": EpiPrelu,
	"equal": EpiEqual, "less": EpiLess, "less_equal": EpiLessEqual, "greater": EpiGreater, "greater_equal": EpiGreaterEqual,
	"and": EpiAnd, "or": EpiOr, "xor": EpiXor, "mod": EpiMod,
}

// binaryOp is the epilogue op of the binary op u (mod's fmod picks EpiFmod).
func binaryOp(u *ir.Value) EpiOp {
	if u.Op.Name == "mod" && u.Int("fmod") == 1 {
		return EpiFmod
	}
	return binaryEpi[u.Op.Name]
}

// next returns the single user of cur when it can join cur's chain.
func (l *lowerer) next(cur *ir.Value) *ir.Value {
	if l.results[cur] {
		return nil
	}
	us := l.uses[cur]
	if len(us) != 1 {
		return nil
	}
	u := us[0]
	if !isF32(u) || !ir.EqualShape(u.Type.Shape, cur.Type.Shape) {
		return nil
	}
	return u
}

// available reports whether o can be read by a step emitted now.
func (l *lowerer) available(o *ir.Value) bool {
	if constOf(o) != nil {
		return true
	}
	lc, ok := l.locs[o]
	return ok && lc.buf != nil
}

// epiOf returns the epilogue entries that apply u to the chain value cur.
func (l *lowerer) epiOf(u, cur *ir.Value) []epiArg {
	if op, ok := unaryEpi[u.Op.Name]; ok {
		e := Epi{Op: op}
		switch op {
		case EpiLeakyRelu:
			e.A = u.Float("alpha")
		case EpiClip:
			e.A, e.B = u.Float("min"), u.Float("max")
		case EpiHardSigmoid:
			e.A, e.B = u.Float("alpha"), u.Float("beta")
		case EpiIsInf:
			e.A, e.B = float32(u.Int("detect_positive")), float32(u.Int("detect_negative"))
		}
		return []epiArg{{e: e}}
	}
	if _, ok := binaryEpi[u.Op.Name]; ok {
		op := binaryOp(u)
		other, swapped := u.Args[1], false
		if u.Args[0] != cur {
			other, swapped = u.Args[0], true
		}
		if other == cur || !l.available(other) || (op == EpiPrelu && swapped) {
			return nil
		}
		return []epiArg{{e: Epi{Op: op, Swapped: swapped}, v: other}}
	}
	if u.Op.Name == "batchnorm" && u.Args[0] == cur {
		a, b := batchnormAB(u)
		if a == nil {
			return nil
		}
		c := len(a)
		shape := []int{c}
		for range cur.Type.Shape[2:] {
			shape = append(shape, 1)
		}
		return []epiArg{
			{e: Epi{Op: EpiMul}, t: ir.FromF32(shape, a)},
			{e: Epi{Op: EpiAdd}, t: ir.FromF32(shape, b)},
		}
	}
	return nil
}

// epiArg is an epilogue entry with its operand: an ir value, or a tensor
// codegen made; v2 is the third operand of a ternary entry.
type epiArg struct {
	e     Epi
	v, v2 *ir.Value
	t     *ir.Tensor
}

// batchnormAB folds a batchnorm with constant parameters into y = a*x + b
// per channel, as rt does; nil when a parameter is not constant.
func batchnormAB(u *ir.Value) (a, b []float32) {
	var p [4]*ir.Tensor
	for i := range p {
		if p[i] = constOf(u.Args[i+1]); p[i] == nil {
			return nil, nil
		}
	}
	eps := u.Float("epsilon")
	scale, bias, mean, vr := p[0].F32, p[1].F32, p[2].F32, p[3].F32
	a = make([]float32, len(scale))
	b = make([]float32, len(scale))
	for i := range a {
		a[i] = scale[i] / float32(math.Sqrt(float64(vr[i]+eps)))
		b[i] = bias[i] - mean[i]*a[i]
	}
	return a, b
}

// fuse appends to st the elementwise ops that follow cur while they can join
// the chain; it returns the chain's last value.
func (l *lowerer) fuse(st *Step, cur *ir.Value) *ir.Value {
	out := cur.Type.Shape
	if st.Loop == nil {
		if cur.Type.DType != ir.F32 || cur.Type.Quant != nil {
			return cur
		}
		st.Loop = &Loop{Shape: out, Strides: [][]int{ir.Strides(out)}}
	}
	for {
		u := l.next(cur)
		if u == nil {
			return cur
		}
		eps := l.epiOf(u, cur)
		if eps == nil {
			return cur
		}
		for _, ea := range eps {
			l.appendEpi(st, ea)
		}
		l.fused[u] = true
		cur = u
	}
}

func (l *lowerer) appendEpi(st *Step, ea epiArg) {
	e := ea.e
	out := st.Loop.Shape
	var str []int
	switch {
	case ea.v != nil:
		o := l.operand(ea.v)
		e.Arg = &o
		str = bcastStrides(o.Shape, out)
	case ea.t != nil:
		o := l.packed(ea.t)
		e.Arg = &o
		str = bcastStrides(o.Shape, out)
	default:
		str = make([]int, len(out))
	}
	// Entry strides precede the Arg2 ones (Step.Arg2Strides).
	st.Loop.Strides = slices.Insert(st.Loop.Strides, 1+len(st.Epilogue), str)
	if ea.v2 != nil {
		o := l.operand(ea.v2)
		e.Arg2 = &o
		st.Loop.Strides = append(st.Loop.Strides, bcastStrides(o.Shape, out))
	}
	st.Epilogue = append(st.Epilogue, e)
}

// bcastStrides is the element stride of each dim of out in a tensor of
// shape in that broadcasts to out (0 where it broadcasts).
func bcastStrides(in, out []int) []int {
	s := make([]int, len(out))
	full := ir.Strides(in)
	for d := range out {
		j := d - (len(out) - len(in))
		if j >= 0 && in[j] != 1 {
			s[d] = full[j]
		}
	}
	return s
}

// lowerMap lowers a standalone elementwise op.
func (l *lowerer) lowerMap(v *ir.Value) (*Step, error) {
	name := v.Op.Name
	_, un := unaryEpi[name]
	_, bin := binaryEpi[name]
	if !un && !bin && name != "batchnorm" && name != "where" {
		return nil, Unsupported(v, "op %s is not compiled yet", name)
	}
	if !mapTypesOK(v) {
		return nil, Unsupported(v, "%s on %v (the compiled elementwise kernels take f32 and plain integers)", name, v.Type)
	}
	x := v.Args[0]
	out := v.Type.Shape
	st := &Step{Kernel: KMap, Op: name, Where: v.Where()}
	st.In = []Operand{l.operand(x)}
	st.Loop = &Loop{Shape: out, Strides: [][]int{bcastStrides(x.Type.Shape, out)}}
	var eps []epiArg
	switch {
	case name == "where":
		eps = []epiArg{{e: Epi{Op: EpiWhere}, v: v.Args[1], v2: v.Args[2]}}
	case bin:
		eps = []epiArg{{e: Epi{Op: binaryOp(v)}, v: v.Args[1]}}
	default:
		eps = l.epiOf(v, x)
		if eps == nil {
			return l.lowerBatchNorm(v)
		}
	}
	for _, ea := range eps {
		l.appendEpi(st, ea)
	}
	return st, nil
}

// simplify drops unit dims and merges dims every operand walks contiguously.
func (lp *Loop) simplify() {
	var shape []int
	strides := make([][]int, len(lp.Strides))
	for d, n := range lp.Shape {
		if n == 1 {
			continue
		}
		if k := len(shape) - 1; k >= 0 {
			merge := true
			for i := range lp.Strides {
				if strides[i][k] != lp.Strides[i][d]*n {
					merge = false
				}
			}
			if merge {
				shape[k] *= n
				for i := range lp.Strides {
					strides[i][k] = lp.Strides[i][d]
				}
				continue
			}
		}
		shape = append(shape, n)
		for i := range lp.Strides {
			strides[i] = append(strides[i], lp.Strides[i][d])
		}
	}
	if len(shape) == 0 && ir.NumElements(lp.Shape) == 1 {
		shape = []int{1}
		for i := range strides {
			strides[i] = []int{0}
		}
	}
	if ir.NumElements(lp.Shape) == 0 {
		shape = []int{0}
		for i := range strides {
			strides[i] = []int{0}
		}
	}
	lp.Shape, lp.Strides = shape, strides
}
