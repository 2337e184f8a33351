package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// Softmax, reductions and copies (f32 and layout).

func (k *kfn) softmax() error {
	outer, n, inner := k.s.Softmax[0], k.s.Softmax[1], k.s.Softmax[2]
	if k.s.In[0].DType != ir.F32 {
		return unsupported(k.s, "softmax on %v", k.s.In[0].DType)
	}
	if n == 0 {
		return nil
	}
	k.add(For("o", 0, outer, For("in", 0, inner,
		L("base := o*%d + in", n*inner),
		L("m := float32(math.Inf(-1))"),
		For("j", 0, n, jen.If(L("v := x0[base+j*%d]; v > m", inner)).Block(L("m = v"))),
		L("var s float32"),
		For("j", 0, n, L("e := float32(math.Exp(float64(x0[base+j*%d] - m)))", inner), L("y[base+j*%d] = e", inner), L("s += e")),
		For("j", 0, n, L("y[base+j*%d] /= s", inner)),
	)))
	return nil
}

func (k *kfn) reduce() error {
	r := k.s.Reduce
	if r.Mean != nil {
		return k.intMean()
	}
	if r.Op == "argmax" {
		return k.argmax()
	}
	if r.Op == "topk" || r.Op == "topk_index" {
		return k.topk()
	}
	if k.s.In[0].DType != ir.F32 {
		return unsupported(k.s, "reduce on %v", k.s.In[0].DType)
	}
	n := ir.NumElements(r.Inner)
	ostr := ir.Strides(r.Outer)
	init := "0"
	if r.Op == "max" {
		init = "float32(math.Inf(-1))"
	}
	k.add(nest(r.Outer, func(oidx []string) []jen.Code {
		base := offsetExpr(oidx, r.OStride, 0)
		iidx := make([]string, len(r.Inner))
		for d := range iidx {
			iidx[d] = fmt.Sprintf("j%d", d)
		}
		var upd jen.Code
		if r.Op == "max" {
			upd = jen.If(L("v := x0[base+%s]; v > acc", offsetExpr(iidx, r.IStride, 0))).Block(L("acc = v"))
		} else {
			upd = L("acc += x0[base+%s]", offsetExpr(iidx, r.IStride, 0))
		}
		inner := []jen.Code{upd}
		for d := len(r.Inner) - 1; d >= 0; d-- {
			inner = []jen.Code{For(iidx[d], 0, r.Inner[d], inner...)}
		}
		body := []jen.Code{L("base := %s", base), L("_ = base"), L("acc := float32(%s)", init)}
		body = append(body, inner...)
		if r.Op == "mean" {
			body = append(body, L("acc /= %d", n))
		}
		return append(body, L("y[%s] = acc", offsetExpr(oidx, ostr, 0)))
	}))
	return nil
}

// argmax: per output, the index along Inner's one axis of the first (Last:
// the last) maximum, as rt's: the best starts at the first element and is
// replaced by a greater one (Last: greater or equal; a NaN never replaces
// it). Integers compare as stored.
func (k *kfn) argmax() error {
	r := k.s.Reduce
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return err
	}
	n, str := r.Inner[0], r.IStride[0]
	if n == 0 {
		return nil
	}
	cmp := ">"
	if r.Last {
		cmp = ">="
	}
	ostr := ir.Strides(r.Outer)
	k.add(nest(r.Outer, func(oidx []string) []jen.Code {
		return []jen.Code{
			L("base := %s", offsetExpr(oidx, r.OStride, 0)),
			L("best, at := x0[base], 0"),
			For("i", 1, n, jen.If(L("e := x0[base+i*%d]; e %s best", str, cmp)).Block(L("best, at = e, i"))),
			L("_ = best"),
			L("y[%s] = %s(at)", offsetExpr(oidx, ostr, 0), t),
		}
	}))
	return nil
}

// topk: rt's passes (rt/topk.go): every element, in index order, carried
// through the K slots of its outer position; a slot takes it when not
// filled yet or beaten (greater; Largest false: less; NaN beats nothing).
// topk keeps values, topk_index indices whose values it reads from x.
func (k *kfn) topk() error {
	r := k.s.Reduce
	n, str := r.Inner[0], r.IStride[0]
	cmp := ">"
	if !r.Largest {
		cmp = "<"
	}
	var slot []jen.Code
	if r.Op == "topk_index" {
		t, err := goType(k.s.Out.DType)
		if err != nil {
			return err
		}
		slot = []jen.Code{
			L("at := ybase + s*%d", r.KStride),
			L("si := int(y[at])"),
			L("var sv = x0[base]"),
			jen.If(L("s < i")).Block(L("sv = x0[base+si*%d]", str)),
			jen.If(L("s >= i || cv %s sv || cv == sv && ci < si", cmp)).Block(L("y[at] = %s(ci)", t), L("cv, ci = sv, si")),
		}
	} else {
		slot = []jen.Code{
			L("at := ybase + s*%d", r.KStride),
			L("sv := y[at]"),
			jen.If(L("s >= i || cv %s sv", cmp)).Block(L("y[at] = cv"), L("cv = sv")),
		}
	}
	k.add(nest(r.Outer, func(oidx []string) []jen.Code {
		return []jen.Code{
			L("base := %s", offsetExpr(oidx, r.OStride, 0)),
			L("ybase := %s", offsetExpr(oidx, r.OutStride, 0)),
			For("i", 0, n,
				L("cv, ci := x0[base+i*%d], i", str),
				L("_ = ci"),
				For("s", 0, r.K, slot...)),
		}
	}))
	return nil
}

// intMean: an 8-bit reduce_mean (Reduce.Mean): the int32 sum of the
// stored integers of each output's reduced elements, finished as rt's
// TFLiteMean.Finish (products rounded explicitly: no FMA fusion).
func (k *kfn) intMean() error {
	r, f := k.s.Reduce, k.s.Reduce.Mean
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return err
	}
	k.g.intHelpers = true
	var fin []jen.Code
	switch f.Mode {
	case "i8":
		fin = []jen.Code{
			L("m := mbqm(acc-(%d), %d, %d)", int64(f.N)*int64(f.ZX), f.Mult, f.Shift),
			L("h := int32(%d)", f.N/2),
			jen.If(L("m <= 0")).Block(L("h = -h")),
			L("q := clampI((m+h)/%d+%d, %d, %d)", f.N, f.ZY, f.Lo, f.Hi)}
	case "u8":
		fin = []jen.Code{L("q := clampI(mbqm(acc, %d, %d)+%d, %d, %d)", f.Mult, f.Shift, f.ZY, f.Lo, f.Hi)}
	case "trunc":
		fin = []jen.Code{L("q := acc / %d", f.N)}
	default:
		fin = []jen.Code{
			L("mean := float32(acc) / %d", f.N),
			L("rf := float32(math.Round(float64(float32(mean*%s)+%s))) + %d", flit(f.Scale), flit(f.Bias), f.ZY),
			L("q := int32(max(min(rf, %d), %d))", f.Hi, f.Lo)}
	}
	ostr := ir.Strides(r.Outer)
	k.add(nest(r.Outer, func(oidx []string) []jen.Code {
		iidx := make([]string, len(r.Inner))
		for d := range iidx {
			iidx[d] = fmt.Sprintf("j%d", d)
		}
		inner := []jen.Code{L("acc += int32(x0[base+%s])", offsetExpr(iidx, r.IStride, 0))}
		for d := len(r.Inner) - 1; d >= 0; d-- {
			inner = []jen.Code{For(iidx[d], 0, r.Inner[d], inner...)}
		}
		body := append([]jen.Code{L("base := %s", offsetExpr(oidx, r.OStride, 0)), L("_ = base"), L("acc := int32(0)")}, inner...)
		body = append(body, fin...)
		return append(body, L("y[%s] = %s(q)", offsetExpr(oidx, ostr, 0), t))
	}))
	return nil
}

func (k *kfn) copyStep() error {
	s := k.s
	if s.HasFill {
		switch s.Out.DType {
		case ir.F32:
			k.add(jen.For(L("i := range y")).Block(L("y[i] = %s", flit(s.Fill))))
		case ir.Bool:
			k.add(jen.For(L("i := range y")).Block(L("y[i] = %v", s.Fill != 0)))
		default:
			if s.Fill != float32(int64(s.Fill)) {
				return unsupported(s, "fill %v of an integer tensor", s.Fill)
			}
			t, _ := goType(s.Out.DType)
			k.add(jen.For(L("i := range y")).Block(L("y[i] = %s(%d)", t, int64(s.Fill))))
		}
	}
	for _, c := range s.Copies {
		if s.In[c.Src].DType != s.Out.DType {
			return unsupported(s, "copy from %v to %v", s.In[c.Src].DType, s.Out.DType)
		}
		src := fmt.Sprintf("x%d", c.Src)
		r := len(c.Shape)
		if r > 0 && c.SrcStrides[r-1] == 1 && c.DstStrides[r-1] == 1 {
			n := c.Shape[r-1]
			k.add(nest(c.Shape[:r-1], func(idx []string) []jen.Code {
				so := offsetExpr(idx, c.SrcStrides[:r-1], c.SrcOff)
				do := offsetExpr(idx, c.DstStrides[:r-1], c.DstOff)
				return []jen.Code{L("copy(y[%s:][:%d], %s[%s:][:%d])", do, n, src, so, n)}
			}))
			continue
		}
		k.add(nest(c.Shape, func(idx []string) []jen.Code {
			return []jen.Code{L("y[%s] = %s[%s]", offsetExpr(idx, c.DstStrides, c.DstOff), src, offsetExpr(idx, c.SrcStrides, c.SrcOff))}
		}))
	}
	return nil
}
