package gosrc

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// kfn collects one kernel function: its parameters (slices with their
// exact lengths) and body.
type kfn struct {
	g      *gen
	s      *codegen.Step
	name   string
	params []jen.Code
	args   []string
	body   []jen.Code
	fused  bool // the kernel applied the epilogue itself

	rqf     *rqFix // the prepared TFLite requantization (rqFixPlan)
	rqfDone bool
}

func (k *kfn) param(name string, o codegen.Operand) error {
	t, err := goType(o.DType)
	if err != nil {
		return unsupported(k.s, "%v operand", o.DType)
	}
	e, err := k.g.operand(o)
	if err != nil {
		return err
	}
	k.params = append(k.params, L("%s []%s", name, t))
	k.args = append(k.args, e)
	// Reslicing to the constant length lets the compiler drop bounds checks.
	k.add(L("%s = %s[:%d:%d]", name, name, ir.NumElements(o.Shape), ir.NumElements(o.Shape)))
	return nil
}

func (k *kfn) add(c ...jen.Code) { k.body = append(k.body, c...) }

// step emits the kernel of step s and the statement that calls it; pool,
// when not nil, is the max pool step after it that the kernel absorbs
// (poolfuse.go).
func (g *gen) step(i int, s *codegen.Step, pool *codegen.Step) ([]jen.Code, jen.Code, error) {
	// Step names are C identifiers, unique in the program and prefixed
	// k_ (codegen/lower.go); CName again would cut a long one to 64
	// bytes, where it may meet another.
	name := s.Name
	orig := s
	if pool != nil {
		s = fusedConvStep(s, pool)
	}
	k := &kfn{g: g, s: s, name: name}
	for j, in := range s.In {
		if err := k.param(fmt.Sprintf("x%d", j), in); err != nil {
			return nil, nil, err
		}
	}
	if pool != nil {
		t, err := goType(s.Out.DType)
		if err != nil {
			return nil, nil, err
		}
		plane := name + "_acc"
		g.tables = append(g.tables, jen.Commentf("%s holds %s's results before %s.", plane, name, finishName(orig)).Line().
			Var().Id(plane).Index(jen.Lit(ir.NumElements(s.Out.Shape))).Id(t))
		if err := k.param("yo", pool.Out); err != nil {
			return nil, nil, err
		}
		k.add(L("y := %s[:]", plane))
	} else if err := k.param("y", s.Out); err != nil {
		return nil, nil, err
	}
	if s.Scratch != nil {
		if err := k.param("scratch", *s.Scratch); err != nil {
			return nil, nil, err
		}
	}
	// Map steps take operands of any dtype (the chain's); producers' epilogues f32.
	intMap := s.Kernel == codegen.KMap
	for j, e := range s.Epilogue {
		for i, a := range []*codegen.Operand{e.Arg, e.Arg2} {
			if a == nil {
				continue
			}
			if a.DType != ir.F32 && !intMap {
				return nil, nil, unsupported(s, "epilogue operand of %v", a.DType)
			}
			if err := k.param(fmt.Sprintf("%s%d", []string{"e", "f"}[i], j), *a); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(s.Epilogue) > 0 && s.Out.DType != ir.F32 && !intMap {
		return nil, nil, unsupported(s, "epilogue on a %v result", s.Out.DType)
	}
	var err error
	switch {
	case s.Kernel == codegen.KSparseConv:
		err = k.sparseConv()
	case s.Kernel == codegen.KSparseGemm:
		err = k.sparseGemm()
	case s.Rq != nil && (s.Kernel == codegen.KConvGemm || s.Kernel == codegen.KIntConvRuntime):
		err = k.intConv()
	case s.Rq != nil && s.Kernel == codegen.KConvDepthwise:
		err = k.intDepthwise()
	case s.Rq != nil && s.Kernel == codegen.KGemm:
		err = k.intGemm()
	case s.Rq != nil && s.Kernel == codegen.KPool:
		err = k.intPool()
	case s.Rq != nil && s.Kernel == codegen.KSoftmax:
		err = k.intSoftmax()
	case s.Rq != nil:
		err = unsupported(s, "integer kernel %s", s.Kernel)
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case s.Rq != nil, s.Sparse != nil:
	case s.Kernel == codegen.KConvGemm:
		err = k.convGemm()
	case s.Kernel == codegen.KConvDepthwise:
		err = k.convDepthwise()
	case s.Kernel == codegen.KGemm:
		err = k.gemm()
	case s.Kernel == codegen.KMap:
		err = k.mapStep()
	case s.Kernel == codegen.KPool:
		err = k.pool()
	case s.Kernel == codegen.KGlobalAvgPool:
		err = k.globalAvgPool()
	case s.Kernel == codegen.KSoftmax:
		err = k.softmax()
	case s.Kernel == codegen.KReduce:
		err = k.reduce()
	case s.Kernel == codegen.KCopy:
		err = k.copyStep()
	default:
		if h, ok := extraKernels[s.Kernel]; ok {
			err = h(k)
		} else {
			err = unsupported(s, "kernel %s", s.Kernel)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if s.Kernel != codegen.KMap && len(s.Epilogue) > 0 && !k.fused {
		k.epilogueSweep()
	}
	if pool != nil {
		if err := k.poolSweep(orig, pool); err != nil {
			return nil, nil, err
		}
		s = orig
	}
	var ins []string
	for _, o := range s.In {
		ins = append(ins, fmt.Sprintf("%v%v", o.DType, ir.FormatShape(o.Shape)))
	}
	doc := fmt.Sprintf("%s: %s(%s) -> %v%v", name, s.Kernel, strings.Join(ins, ", "), s.Out.DType, ir.FormatShape(s.Out.Shape))
	var eps []string
	for _, e := range s.Epilogue {
		eps = append(eps, string(e.Op))
	}
	if len(eps) > 0 {
		doc += " then " + strings.Join(eps, ", ")
	}
	if pool != nil {
		doc += fmt.Sprintf(", %s -> %v%v (fused)", pool.Op, pool.Out.DType, ir.FormatShape(pool.Out.Shape))
	}
	call := L("%s(%s)", name, strings.Join(k.args, ", "))
	if s.Fails() { // an error: RunInto returns it at once
		fn := []jen.Code{jen.Comment(doc).Line().Comment("Source: " + comment(s.Where)).Line().
			Func().Id(name).Params(k.params...).Error().Block(append(k.body, jen.Return(jen.Nil()))...)}
		return fn, jen.If(jen.Err().Op(":=").Add(call), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())), nil
	}
	fn := []jen.Code{jen.Comment(doc).Line().Comment("Source: " + comment(s.Where)).Line().
		Func().Id(name).Params(k.params...).Block(k.body...)}
	return fn, call, nil
}

// extraKernels holds kernels added beside codegen's own (integer ones).
var extraKernels = map[codegen.Kernel]func(*kfn) error{}

// offsetExpr is sum_d idx[d]*strides[d] as code ("0" when empty).
func offsetExpr(idx []string, strides []int, base int) string {
	var terms []string
	if base != 0 {
		terms = append(terms, fmt.Sprint(base))
	}
	for d, s := range strides {
		switch s {
		case 0:
		case 1:
			terms = append(terms, idx[d])
		default:
			terms = append(terms, fmt.Sprintf("%s*%d", idx[d], s))
		}
	}
	if len(terms) == 0 {
		return "0"
	}
	return strings.Join(terms, "+")
}

// nest wraps inner in loops over shape with index variables i0, i1, ...
func nest(shape []int, inner func(idx []string) []jen.Code) jen.Code {
	idx := make([]string, len(shape))
	for d := range shape {
		idx[d] = fmt.Sprintf("i%d", d)
	}
	body := inner(idx)
	for d := len(shape) - 1; d >= 0; d-- {
		body = []jen.Code{For(idx[d], 0, shape[d], body...)}
	}
	return jen.Block(body...)
}

// epilogueSweep applies the step's epilogue to its output in place.
func (k *kfn) epilogueSweep() {
	lp := k.s.Loop
	k.add(nest(lp.Shape, func(idx []string) []jen.Code {
		o := offsetExpr(idx, lp.Strides[0], 0)
		argIdx, _ := k.epiIndex(idx)
		body := []jen.Code{L("v := y[%s]", o)}
		body = append(body, k.epi(argIdx)...)
		return append(body, L("y[%s] = v", o))
	}))
}

// mapStep: y = epilogue(x0) elementwise over the loop; y is contiguous.
// The chain value changes dtype where an entry says (comparisons, where).
func (k *kfn) mapStep() error {
	lp := k.s.Loop
	for _, e := range k.s.Epilogue {
		if (e.Op == codegen.EpiPow || e.Op == codegen.EpiPrelu) && e.Arg.DType != ir.F32 {
			return unsupported(k.s, "integer %s", e.Op)
		}
	}
	var err error
	k.add(L("o := 0"))
	k.add(nest(lp.Shape, func(idx []string) []jen.Code {
		argIdx, arg2Idx := k.epiIndex(idx)
		body := []jen.Code{L("v := x0[%s]", offsetExpr(idx, lp.Strides[0], 0))}
		code, cur, e := k.epiChain(argIdx, arg2Idx, k.s.In[0].DType)
		if e != nil {
			err = e
		}
		body = append(body, code...)
		return append(body, L("y[o] = %s", cur), L("o++"))
	}))
	return err
}
