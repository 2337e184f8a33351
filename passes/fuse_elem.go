package passes

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Elementwise chains in the fuse pass: hard-swish written out in pieces
// becomes one hardswish, chains of relu / clip become one clamp, and chains
// of additions or multiplications by constants fold their constants. Each
// rewrite turns the last value of the chain into the fused op in place (it
// keeps its name); the rest of the chain becomes dead. All of them are f32
// only.

// isF32 reports whether v is an unquantized f32 value.
func isF32(v *ir.Value) bool { return v.Type.DType == ir.F32 && v.Type.Quant == nil }

// constAll reports whether v is an f32 constant whose elements are all
// within tol of want.
func constAll(v *ir.Value, want, tol float64) bool {
	t := constF32(v)
	if t == nil || t.Len() == 0 {
		return false
	}
	for i := 0; i < t.Len(); i++ {
		if math.Abs(t.At(i)-want) > tol {
			return false
		}
	}
	return true
}

// only reports whether v has exactly one use (and is not a result).
func only(u map[*ir.Value][]*ir.Value, v *ir.Value) bool { return soleUser(u, v) != nil }

// binConst splits a binary op into (non-constant operand, constant operand)
// when exactly one operand is an f32 constant matching want.
func binConst(v *ir.Value, want, tol float64) (*ir.Value, bool) {
	if len(v.Args) != 2 {
		return nil, false
	}
	a, b := v.Args[0], v.Args[1]
	if constAll(b, want, tol) && !a.IsConst() {
		return a, true
	}
	if v.Op.Flags&ir.Commutative != 0 && constAll(a, want, tol) && !b.IsConst() {
		return b, true
	}
	return nil, false
}

// relu6Plus3 matches clip(x + 3, 0, 6) (or add(x, 3){act=clip 0..6}) and
// returns x.
func relu6Plus3(u map[*ir.Value][]*ir.Value, c *ir.Value) *ir.Value {
	isBox := func(lo, hi float32) bool { return lo == 0 && hi == 6 }
	switch {
	case c.Op.Name == "clip" && isBox(c.Float("min"), c.Float("max")):
		a := c.Args[0]
		if a.Op.Name != "add" || a.Str("act") != "none" || !only(u, a) || !isF32(a) {
			return nil
		}
		x, ok := binConst(a, 3, 0)
		if !ok || !x.Type.Equal(c.Type) {
			return nil
		}
		return x
	case c.Op.Name == "add" && c.Str("act") == "clip" && isBox(c.Float("act_min"), c.Float("act_max")):
		x, ok := binConst(c, 3, 0)
		if !ok || !x.Type.Equal(c.Type) {
			return nil
		}
		return x
	}
	return nil
}

const sixth = 1.0 / 6

// hardSigmoidOf matches the hard sigmoid max(0, min(1, x/6 + 1/2)) in its
// written forms — hardsigmoid{alpha=1/6 beta=0.5}(x), clip(x+3, 0, 6) / 6,
// clip(x+3, 0, 6) * (1/6) — and returns x. Its intermediates must have one use.
func hardSigmoidOf(u map[*ir.Value][]*ir.Value, h *ir.Value) *ir.Value {
	if !isF32(h) {
		return nil
	}
	switch h.Op.Name {
	case "hardsigmoid":
		if math.Abs(float64(h.Float("alpha"))-sixth) <= 1e-7 && h.Float("beta") == 0.5 {
			return h.Args[0]
		}
	case "div", "mul":
		want := 6.0
		if h.Op.Name == "mul" {
			want = sixth
		}
		r, ok := binConst(h, want, 1e-7)
		if !ok || !only(u, r) || !r.Type.Equal(h.Type) {
			return nil
		}
		return relu6Plus3(u, r)
	}
	return nil
}

// hardSwishOf matches x * hardsigmoid(x) (either order, any written form of
// the hard sigmoid) and (x * clip(x+3, 0, 6)) / 6 or * (1/6); it returns x.
func hardSwishOf(u map[*ir.Value][]*ir.Value, v *ir.Value) *ir.Value {
	if !isF32(v) {
		return nil
	}
	if v.Op.Name == "mul" {
		a, b := v.Args[0], v.Args[1]
		for _, p := range [][2]*ir.Value{{a, b}, {b, a}} {
			if only(u, p[1]) && hardSigmoidOf(u, p[1]) == p[0] && p[0].Type.Equal(v.Type) {
				return p[0]
			}
		}
	}
	want := 6.0
	switch v.Op.Name {
	case "div":
	case "mul":
		want = sixth
	default:
		return nil
	}
	m, ok := binConst(v, want, 1e-7)
	if !ok || m.Op.Name != "mul" || !only(u, m) || !isF32(m) {
		return nil
	}
	a, b := m.Args[0], m.Args[1]
	for _, p := range [][2]*ir.Value{{a, b}, {b, a}} {
		if only(u, p[1]) && relu6Plus3(u, p[1]) == p[0] && p[0].Type.Equal(v.Type) {
			return p[0]
		}
	}
	return nil
}

// liveUsers is users over the values the results depend on, so that the
// dead rest of an already fused chain does not count as a use.
func liveUsers(g *ir.Graph) map[*ir.Value][]*ir.Value {
	live := map[*ir.Value]bool{}
	var mark func(v *ir.Value)
	mark = func(v *ir.Value) {
		if live[v] {
			return
		}
		live[v] = true
		for _, a := range v.Args {
			mark(a)
		}
	}
	for _, r := range g.Results {
		mark(r)
	}
	u := map[*ir.Value][]*ir.Value{}
	for _, v := range g.Values {
		if live[v] {
			for _, a := range v.Args {
				u[a] = append(u[a], v)
			}
		}
	}
	for _, r := range g.Results {
		u[r] = append(u[r], nil)
	}
	return u
}

// rewrite turns v into op(args){attrs} in place, keeping its type; it
// restores v and reports false when the new op does not give v's type.
func rewrite(v *ir.Value, op string, args []*ir.Value, attrs ir.Attrs) bool {
	oldOp, oldArgs, oldAttrs, oldT := v.Op, v.Args, v.Attrs, v.Type
	v.Op, v.Args, v.Attrs = ir.LookupOp(op), args, attrs
	if err := retype(v); err != nil || !v.Type.Equal(oldT) {
		v.Op, v.Args, v.Attrs, v.Type = oldOp, oldArgs, oldAttrs, oldT
		return false
	}
	return true
}

// fuseHardSwish rewrites written-out hard-swish into hardswish(x).
func fuseHardSwish(g *ir.Graph) int {
	n := 0
	u := liveUsers(g)
	for _, v := range g.Values {
		x := hardSwishOf(u, v)
		if x == nil {
			continue
		}
		if rewrite(v, "hardswish", []*ir.Value{x}, ir.Attrs{}) {
			n++
			u = liveUsers(g)
		}
	}
	return n
}

// clampBounds returns the [lo, hi] that relu / clip (or a host's act)
// clamps to.
func clampBounds(v *ir.Value) (lo, hi float32, ok bool) {
	inf := float32(math.Inf(1))
	switch v.Op.Name {
	case "relu":
		return 0, inf, true
	case "clip":
		return v.Float("min"), v.Float("max"), true
	}
	return 0, 0, false
}

// clampF is clip's kernel on one value: max first, then min (so lo > hi
// gives hi).
func clampF(x, lo, hi float32) float32 {
	if x < lo {
		x = lo
	}
	if x > hi {
		x = hi
	}
	return x
}

// composeClamps returns the one clamp equal to clamp[l2,h2](clamp[l1,h1](x)):
// the inner range's ends clamped by the outer.
func composeClamps(l1, h1, l2, h2 float32) (lo, hi float32) {
	return clampF(l1, l2, h2), clampF(h1, l2, h2)
}

// clampAttrs is the relu / clip op and attributes for the clamp [lo, hi].
func clampOp(lo, hi float32) (string, ir.Attrs) {
	if lo == 0 && math.IsInf(float64(hi), 1) {
		return "relu", ir.Attrs{}
	}
	return "clip", ir.Attrs{"min": ir.Float(lo), "max": ir.Float(hi)}
}

// fuseClampChains turns relu / clip of a single-use relu / clip into one clamp.
func fuseClampChains(g *ir.Graph) int {
	n := 0
	u := liveUsers(g)
	for _, v := range g.Values {
		l2, h2, ok := clampBounds(v)
		if !ok || !isF32(v) {
			continue
		}
		p := v.Args[0]
		l1, h1, ok := clampBounds(p)
		if !ok || !only(u, p) || !p.Type.Equal(v.Type) || !p.Args[0].Type.Equal(v.Type) {
			continue
		}
		op, attrs := clampOp(composeClamps(l1, h1, l2, h2))
		if rewrite(v, op, []*ir.Value{p.Args[0]}, attrs) {
			n++
			u = liveUsers(g)
		}
	}
	return n
}

// fuseConstChains folds (x + c1) + c2 into x + (c1+c2) and (x * c1) * c2
// into x * (c1*c2) when the inner value has one use. Reassociating f32
// changes the last bit or so of the result.
func fuseConstChains(g *ir.Graph) int {
	n := 0
	u := liveUsers(g)
	for i := 0; i < len(g.Values); i++ {
		v := g.Values[i]
		if (v.Op.Name != "add" && v.Op.Name != "mul") || !isF32(v) {
			continue
		}
		a, c2 := constOperand(v)
		if a == nil || a.Op != v.Op || !isF32(a) || !only(u, a) || (a.Op.Name == "add" && a.Str("act") != "none") {
			continue
		}
		x, c1 := constOperand(a)
		if x == nil {
			continue
		}
		c, err := evalBinary(v.Op.Name, c1.Const, c2.Const)
		if err != nil {
			continue
		}
		cv := g.AddConst(v.Name+".c", c, nil)
		if rewrite(v, v.Op.Name, []*ir.Value{x, cv}, v.Attrs) {
			n++
			u = liveUsers(g)
		}
	}
	return n
}

// constOperand splits a commutative binary op into its non-constant operand
// and its f32 constant operand (nil, nil when it is not of that form).
func constOperand(v *ir.Value) (x, c *ir.Value) {
	if len(v.Args) != 2 {
		return nil, nil
	}
	a, b := v.Args[0], v.Args[1]
	switch {
	case constF32(b) != nil && !a.IsConst():
		return a, b
	case constF32(a) != nil && !b.IsConst():
		return b, a
	}
	return nil, nil
}
