package passes

import (
	"github.com/pare-ml/pare/ir"
)

// fuse: a relu or clip after conv / gemm / matmul / add becomes the
// producer's act attribute (conv + bias + activation in one op); quantize(
// dequantize(x)) pairs are removed (same parameters) or become one
// requantize; with `requant`, a requantize after an integer conv / gemm /
// matmul is folded into the op's result type. The first two never change
// what rt computes (float or integer); folding a requantize skips one
// rounding step, so it is opt-in.
var fusePass = &Pass{
	Name:    "fuse",
	Summary: "fuse activations into conv/gemm/matmul/add, remove quantize-dequantize pairs, fold requantize",
	Options: []OptionDef{
		{Name: "act", Kind: Bool, Default: "true", Doc: "fuse relu / clip into the producing op"},
		{Name: "qdq", Kind: Bool, Default: "true", Doc: "remove dequantize→quantize pairs (or make them a requantize)"},
		{Name: "requant", Kind: Bool, Default: "false", Doc: "fold a requantize into the integer op before it (changes rounding by at most one step)"},
	},
	After: []string{"canonicalize", "quantize"},
	New: func(o Options) (Func, error) {
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			var n [3]int
			if o.Bool("qdq") {
				n[1] = fuseQDQ(g)
			}
			if o.Bool("requant") {
				n[2] = fuseRequant(g)
			}
			if o.Bool("act") {
				n[0] = fuseAct(g)
			}
			g.RemoveDead()
			topoSort(g)
			rep.Notef("fused activations: %d, quantize-dequantize pairs: %d, requantizes folded: %d", n[0], n[1], n[2])
			return nil
		}, nil
	},
}

var actHosts = map[string]bool{"conv": true, "gemm": true, "matmul": true, "add": true}

// fuseAct folds relu / clip into the single producer that feeds it.
func fuseAct(g *ir.Graph) int {
	n := 0
	u := users(g)
	for _, v := range g.Values {
		if v.Op.Name != "relu" && v.Op.Name != "clip" {
			continue
		}
		p := v.Args[0]
		if !actHosts[p.Op.Name] || p.Str("act") != "none" || soleUser(u, p) != v || !p.Type.Equal(v.Type) {
			continue
		}
		if p.Type.Quant != nil && p.Type.Quant.Axis >= 0 {
			continue
		}
		attrs := p.Attrs.Clone()
		if v.Op.Name == "relu" {
			attrs["act"] = ir.Str("relu")
		} else {
			attrs["act"] = ir.Str("clip")
			attrs["act_min"] = ir.Float(v.Float("min"))
			attrs["act_max"] = ir.Float(v.Float("max"))
		}
		old := p.Attrs
		p.Attrs = attrs
		if err := retype(p); err != nil {
			p.Attrs = old
			continue
		}
		g.ReplaceUses(v, p)
		// The producer keeps its name and now yields what the activation
		// did: a diff names the producer as changed and the activation as removed.
		n++
	}
	return n
}

// fuseQDQ rewrites quantize(dequantize(x)).
func fuseQDQ(g *ir.Graph) int {
	n := 0
	for _, v := range g.Values {
		if v.Op.Name != "quantize" || v.Args[0].Op.Name != "dequantize" {
			continue
		}
		x := v.Args[0].Args[0]
		if x.Type.DType == v.Type.DType && x.Type.Quant.Equal(v.Type.Quant) {
			g.ReplaceUses(v, x)
			n++
			continue
		}
		if x.Type.DType == ir.I32 || v.Type.DType == ir.I32 {
			continue
		}
		// requantize rq=float is dequantize then quantize, exactly.
		v.Op, v.Args = ir.LookupOp("requantize"), []*ir.Value{x}
		v.Attrs = ir.Attrs{}
		if err := retype(v); err != nil {
			continue
		}
		n++
	}
	return n
}

// fuseRequant folds requantize into the integer conv / gemm / matmul that
// is its only input's only use.
func fuseRequant(g *ir.Graph) int {
	n := 0
	u := users(g)
	for _, v := range g.Values {
		if v.Op.Name != "requantize" {
			continue
		}
		p := v.Args[0]
		if !actHosts[p.Op.Name] || p.Op.Name == "add" || !p.Type.DType.IsInt() || p.Type.Quant == nil ||
			soleUser(u, p) != v || p.Str("act") != "none" || v.Type.Quant.Axis >= 0 {
			continue
		}
		if v.Type.DType != ir.I8 && v.Type.DType != ir.U8 {
			continue
		}
		oldT := p.Type
		p.Type = v.Type.WithShape(p.Type.Shape)
		if err := retype(p); err != nil {
			p.Type = oldT
			continue
		}
		g.ReplaceUses(v, p)
		n++
	}
	return n
}
