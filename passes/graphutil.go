package passes

import (
	"fmt"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// Graph helpers shared by the passes.

// topoSort restores SSA order after a pass appended values (new constants,
// new ops) at the end: a stable depth-first order that keeps the existing
// order wherever it is already valid.
func topoSort(g *ir.Graph) {
	done := map[*ir.Value]bool{}
	for _, p := range g.Params {
		done[p] = true
	}
	out := make([]*ir.Value, 0, len(g.Values))
	var visit func(v *ir.Value)
	visit = func(v *ir.Value) {
		if done[v] {
			return
		}
		done[v] = true
		for _, a := range v.Args {
			visit(a)
		}
		out = append(out, v)
	}
	for _, v := range g.Values {
		visit(v)
	}
	g.Values = out
}

// users maps each value to its users, counting graph results as a use by nil.
func users(g *ir.Graph) map[*ir.Value][]*ir.Value {
	u := g.Uses()
	for _, r := range g.Results {
		u[r] = append(u[r], nil)
	}
	return u
}

// soleUser returns the only user of v (nil when v has several, none, or is a result).
func soleUser(u map[*ir.Value][]*ir.Value, v *ir.Value) *ir.Value {
	if len(u[v]) != 1 {
		return nil
	}
	return u[v][0]
}

// constF32 returns the f32 data of a constant value, or nil.
func constF32(v *ir.Value) *ir.Tensor {
	if v == nil || !v.IsConst() || v.Const == nil || v.Const.DType != ir.F32 {
		return nil
	}
	return v.Const
}

// retype re-infers v's type after its arguments or attributes changed.
func retype(v *ir.Value) error {
	hint := v.Type
	nv, err := ir.NewValue(v.Op.Name, v.Args, v.Attrs, hint)
	if err != nil {
		return fmt.Errorf("%s: %v", v.Where(), err)
	}
	v.Attrs, v.Type = nv.Attrs, nv.Type
	return nil
}

// valueKey is v's identity for CSE: op, attributes, type and arguments.
func valueKey(v *ir.Value, id map[*ir.Value]int) string {
	var b strings.Builder
	b.WriteString(v.Op.Name)
	b.WriteString(" ")
	b.WriteString(v.Type.String())
	for _, k := range sortedAttrKeys(v.Attrs) {
		fmt.Fprintf(&b, " %s=%v", k, v.Attrs[k])
	}
	for _, a := range v.Args {
		fmt.Fprintf(&b, " %d", id[a])
	}
	if v.IsConst() {
		b.WriteString(" ")
		b.WriteString(v.Const.Hash())
	}
	return b.String()
}

func sortedAttrKeys(a ir.Attrs) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// matchName reports whether v is named by one of names (its SSA name or
// its source node name).
func matchName(v *ir.Value, names []string) bool {
	for _, n := range names {
		if n == v.Name || n == v.Source || "%"+v.Name == n {
			return true
		}
	}
	return false
}

// shortType is t without its quantization parameters (a per-channel
// scale list makes a report line thousands of characters long).
func shortType(t ir.Type) string {
	return ir.Type{DType: t.DType, Shape: t.Shape}.String()
}
