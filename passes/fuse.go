package passes

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// fuse: a relu or clip after conv / gemm / matmul / add becomes the
// producer's act attribute (conv + bias + activation in one op); quantize(
// dequantize(x)) pairs are removed (same parameters) or become one
// requantize; with `requant`, a requantize after an integer conv / gemm /
// matmul is folded into the op's result type. The first two never change
// what rt computes (float or integer); folding a requantize skips one
// rounding step, so it is opt-in. Elementwise chains (fuse_elem.go):
// hard-swish written as x * hardsigmoid(x) or x * clip(x+3, 0, 6) / 6
// becomes hardswish(x); relu / clip of relu / clip becomes one clamp (and a
// clamp after an f32 op that already has an act composes with it); (x + c1)
// + c2 and (x * c1) * c2 fold their constants. Elementwise f32 chains
// between an 8-bit dequantize and a quantize become table lookups
// (fuse_lut.go).
var fusePass = &Pass{
	Name:    "fuse",
	Summary: "fuse activations into conv/gemm/matmul/add, remove quantize-dequantize pairs, fold requantize",
	Options: []OptionDef{
		{Name: "act", Kind: Bool, Default: "true", Doc: "fuse relu / clip into the producing op"},
		{Name: "qdq", Kind: Bool, Default: "true", Doc: "remove dequantize→quantize pairs (or make them a requantize)"},
		{Name: "hardswish", Kind: Bool, Default: "true", Doc: "x * hardsigmoid(x) and x * clip(x+3, 0, 6) / 6 → hardswish(x) (f32)"},
		{Name: "clamps", Kind: Bool, Default: "true", Doc: "relu / clip chains → one relu / clip (f32)"},
		{Name: "consts", Kind: Bool, Default: "true", Doc: "(x + c1) + c2 → x + (c1+c2), (x * c1) * c2 → x * (c1*c2) (f32; reassociation may change the last bit)"},
		{Name: "requant", Kind: Bool, Default: "false", Doc: "fold a requantize into the integer op before it (changes rounding by at most one step)"},
		{Name: "lut", Kind: Bool, Default: "true", Doc: "elementwise f32 ops between the dequantize of an 8-bit tensor and a quantize (or a graph output) → one 256-entry table lookup (fuse_lut.go; rt's results unchanged)"},
	},
	After: []string{"canonicalize", "quantize"},
	New: func(o Options) (Func, error) {
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			var n [7]int
			if o.Bool("qdq") {
				n[1] = fuseQDQ(g)
			}
			if o.Bool("requant") {
				n[2] = fuseRequant(g)
			}
			if o.Bool("hardswish") {
				n[3] = fuseHardSwish(g)
			}
			if o.Bool("consts") {
				n[5] = fuseConstChains(g)
			}
			if o.Bool("clamps") {
				n[4] = fuseClampChains(g)
			}
			g.RemoveDead() // fused chains leave dead values that would count as uses
			if o.Bool("lut") {
				var err error
				if n[6], err = fuseLUT(g); err != nil {
					return err
				}
				g.RemoveDead()
			}
			if o.Bool("act") {
				n[0] = fuseAct(g)
			}
			g.RemoveDead()
			topoSort(g)
			rep.Notef("fused activations: %d, quantize-dequantize pairs: %d, requantizes folded: %d, hard-swish: %d, clamp chains: %d, constant chains: %d, table lookups: %d",
				n[0], n[1], n[2], n[3], n[4], n[5], n[6])
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
		if !actHosts[p.Op.Name] || soleUser(u, p) != v || !p.Type.Equal(v.Type) {
			continue
		}
		if p.Type.Quant != nil && p.Type.Quant.Axis >= 0 {
			continue
		}
		attrs := p.Attrs.Clone()
		if act := p.Str("act"); act != "none" {
			// A clamp after a clamp: compose them (f32 only; on integers
			// relu and clip bounds mean different things).
			l1, h1, ok := actBounds(p)
			if !ok || !isF32(p) {
				continue
			}
			l2, h2, _ := clampBounds(v)
			lo, hi := composeClamps(l1, h1, l2, h2)
			if op, _ := clampOp(lo, hi); op == "relu" {
				attrs["act"] = ir.Str("relu")
				delete(attrs, "act_min")
				delete(attrs, "act_max")
			} else {
				attrs["act"] = ir.Str("clip")
				attrs["act_min"] = ir.Float(lo)
				attrs["act_max"] = ir.Float(hi)
			}
		} else if v.Op.Name == "relu" {
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

// actBounds is the clamp a host's act attribute applies.
func actBounds(p *ir.Value) (lo, hi float32, ok bool) {
	switch p.Str("act") {
	case "relu":
		return 0, float32(math.Inf(1)), true
	case "clip":
		return p.Float("act_min"), p.Float("act_max"), true
	}
	return 0, 0, false
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
