package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Max pooling fused into the conv before it.
//
// When a conv's output is read by the max pool right after it and by
// nothing else, the conv writes its pre-activation results (f32 sums
// before the epilogue, or int32 accumulators before the requantization)
// into a plane of its own, and a sweep pools the plane and only then
// applies the epilogue or the requantization to each window's maximum into
// the pool's output: the pool step and its pass over memory go, and the
// requantization (or epilogue) runs once per pool output instead of once
// per conv output. This is exact because every such finish is monotone
// non-decreasing: ReLU and clip; a float requantization by positive
// scales (rounding and saturation preserve order) or a TFLite one by
// positive multipliers.

// poolFusions maps the index of each conv step that absorbs the max pool
// after it to the pool's index.
func poolFusions(g *gen) map[int]int {
	out := map[int]int{}
	steps := g.p.Steps
	for i := 0; i+1 < len(steps); i++ {
		if fusablePool(g, steps[i], steps[i+1]) && deadAfter(steps, i+1, steps[i].Out) {
			out[i] = i + 1
		}
	}
	return out
}

// fusablePool reports whether pool step p can be fused into conv step s.
func fusablePool(g *gen, s, p *codegen.Step) bool {
	c, pl := s.Conv, p.Pool
	if c == nil || pl == nil || p.Kernel != codegen.KPool || !pl.Max || s.Out.Space != codegen.Arena || len(p.In) != 1 {
		return false
	}
	in := p.In[0]
	if in.Ref != s.Out.Ref || in.DType != s.Out.DType || p.Out.DType != s.Out.DType ||
		ir.NumElements(in.Shape) != ir.NumElements(s.Out.Shape) || pl.Planes != c.N*c.M || pl.H != c.OH || pl.W != c.OW {
		return false
	}
	// Every window inside the plane (the sweep's shape).
	if pl.PT != 0 || pl.PL != 0 || (pl.OH-1)*pl.SH+(pl.KH-1)*pl.DH >= pl.H || (pl.OW-1)*pl.SW+(pl.KW-1)*pl.DW >= pl.W || pl.KH*pl.KW > 16 {
		return false
	}
	if c.N*c.M*c.OH*c.OW > 1<<22 {
		return false
	}
	if s.Rq == nil {
		if s.Kernel != codegen.KConvGemm && s.Kernel != codegen.KConvDepthwise && s.Kernel != codegen.KSparseConv || p.Rq != nil {
			return false
		}
		for _, e := range s.Epilogue {
			if e.Op != codegen.EpiRelu && !(e.Op == codegen.EpiClip && e.A <= e.B) {
				return false
			}
		}
		return true
	}
	if p.Rq == nil || p.Rq.Mode != "max" || s.Rq.BRuntime || len(s.Epilogue) > 0 {
		return false
	}
	switch s.Kernel {
	case codegen.KConvGemm, codegen.KConvDepthwise, codegen.KSparseConv:
	default:
		return false
	}
	k := &kfn{g: g, s: s}
	switch s.Rq.Mode {
	case "float":
		sc, ok := k.floatScales()
		for _, v := range sc {
			ok = ok && v > 0
		}
		return ok
	case "tflite":
		m, ok := g.weightInts(s.In[3])
		for _, v := range m {
			ok = ok && v > 0
		}
		return ok
	}
	return false
}

// deadAfter reports whether no step after step j reads the arena bytes of
// o before every one of them is written again.
func deadAfter(steps []*codegen.Step, j int, o codegen.Operand) bool {
	lo, n := o.Offset, o.Bytes()
	live := make([]bool, n)
	for i := range live {
		live[i] = true
	}
	overlap := func(x codegen.Operand, write bool) bool {
		if x.Space != codegen.Arena {
			return false
		}
		a, b := max(x.Offset, lo), min(x.Offset+x.Bytes(), lo+n)
		hit := false
		for t := a; t < b; t++ {
			if write {
				live[t-lo] = false
			} else if live[t-lo] {
				hit = true
			}
		}
		return hit
	}
	for _, s := range steps[j+1:] {
		for _, x := range s.In {
			if overlap(x, false) {
				return false
			}
		}
		for _, e := range s.Epilogue {
			if e.Arg != nil && overlap(*e.Arg, false) {
				return false
			}
		}
		if s.InPlace && overlap(s.Out, false) {
			return false
		}
		overlap(s.Out, true)
		if s.Scratch != nil {
			overlap(*s.Scratch, true)
		}
	}
	return true
}

// fusedConvStep is the conv step s as its kernel runs when it absorbs
// pool p: no epilogue, integer accumulators stored as they are, and only
// the output rows and columns some window reads (a 14×14 conv under a 3×3
// pool of stride 3 computes 12×12).
func fusedConvStep(s, p *codegen.Step) *codegen.Step {
	cs := *s
	cs.Epilogue = nil
	if c, pl := s.Conv, p.Pool; !c.Pointwise {
		cc := *c
		cc.OH = min(c.OH, (pl.OH-1)*pl.SH+(pl.KH-1)*pl.DH+1)
		cc.OW = min(c.OW, (pl.OW-1)*pl.SW+(pl.KW-1)*pl.DW+1)
		cs.Conv = &cc
		cs.Out.Shape = append(append([]int{}, s.Out.Shape[:len(s.Out.Shape)-2]...), cc.OH, cc.OW)
		if len(s.Out.Shape) == 3 { // 1-D
			cs.Out.Shape = []int{s.Out.Shape[0], s.Out.Shape[1], cc.OW}
		}
	}
	if s.Rq != nil {
		rq := *s.Rq
		rq.Mode = "i32"
		cs.Rq = &rq
		cs.Out.DType = ir.I32
	}
	return &cs
}

// poolSweep emits the pooling of the plane y (the conv's results before
// their finish, k.s.Conv's rows and columns) into yo by pool step p, each
// window's maximum finished as the conv step (orig) finishes its outputs.
func (k *kfn) poolSweep(orig, p *codegen.Step) error {
	c, pl := orig.Conv, p.Pool
	ko := &kfn{g: k.g, s: orig, name: k.name}
	ph, pw := k.s.Conv.OH, k.s.Conv.OW // the plane's rows and columns
	hw, P := ph*pw, pl.OH*pl.OW
	span := (pl.OW-1)*pl.SW + (pl.KW-1)*pl.DW + 1
	rows := []jen.Code{L("yr := op[oh*%d:][:%d]", pl.OW, pl.OW)}
	taps := []jen.Code{L("i := ow * %d", pl.SW)}
	for kh := 0; kh < pl.KH; kh++ {
		rows = append(rows, L("r%d := ap[(oh*%d+%d)*%d:][:%d]", kh, pl.SH, kh*pl.DH, pw, span))
		for kw := 0; kw < pl.KW; kw++ {
			v := fmt.Sprintf("r%d[i+%d]", kh, kw*pl.DW)
			switch {
			case kh == 0 && kw == 0:
				taps = append(taps, L("s := %s", v))
			case orig.Rq == nil:
				// As the f32 pool compares.
				taps = append(taps, jen.If(L("v := %s; v > s", v)).Block(L("s = v")))
			default:
				taps = append(taps, L("s = max(s, %s)", v))
			}
		}
	}
	var fin []jen.Code
	head := []jen.Code{L("ap := y[pl*%d:][:%d]", hw, hw), L("op := yo[pl*%d:][:%d]", P, P)}
	if orig.Rq != nil {
		f, err := ko.finishPrep("yr[ow]", "s", "q")
		if err != nil {
			return err
		}
		fin = []jen.Code{f}
		head = append(head, ko.rqPrep("q", fmt.Sprintf("pl%%%d", c.M)))
	} else {
		fin = append(append([]jen.Code{L("v := s")}, ko.epi(nil)...), L("yr[ow] = v"))
	}
	k.add(For("pl", 0, pl.Planes, append(head,
		For("oh", 0, pl.OH, append(rows, jen.For(L("ow := range yr")).Block(append(taps, fin...)...))...))...))
	return nil
}

// finishName names what the conv does to its results after the sums (for
// comments).
func finishName(s *codegen.Step) string {
	if s.Rq != nil {
		return "the requantization"
	}
	return "the epilogue"
}
