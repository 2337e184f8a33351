package onnx

import (
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
)

// convIf imports an If whose condition folds to a constant at import (as
// in models exported with shape checks, whose shapes pare knows): the
// branch it selects is inlined — its initializers become constants, its
// nodes are imported in place (reading the outer scope's values), and its
// outputs become the If's. A condition known only at run time is
// unsupported: pare compiles static graphs.
func convIf(c *nodeCtx) error {
	cond, err := c.constIn(0)
	if err != nil {
		return c.unsupported("the condition must fold to a constant at import (pare compiles static graphs; bind the inputs it depends on with --bind): %v", err)
	}
	if cond == nil || cond.Len() != 1 {
		return c.errf("the condition must be one boolean")
	}
	branch := "else_branch"
	if cond.At(0) != 0 {
		branch = "then_branch"
	}
	a := c.attr(branch)
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_GRAPH) || a.GetG() == nil {
		return c.errf("the %s attribute is missing", branch)
	}
	sub := a.GetG()
	if n, m := len(sub.GetOutput()), len(c.n.GetOutput()); n != m {
		return c.errf("%s has %d outputs, the If %d", branch, n, m)
	}
	im := c.im
	leave, err := c.enterSubgraph()
	if err != nil {
		return err
	}
	defer leave()
	for _, tp := range sub.GetInitializer() {
		if im.vals[tp.GetName()] != nil {
			return c.errf("%s: initializer %q shadows a value of the outer graph", branch, tp.GetName())
		}
		tp, err := loadExternal(im.dir, tp)
		if err != nil {
			return c.errf("%s: %v", branch, err)
		}
		t, err := DecodeTensor(tp)
		if err != nil {
			return c.errf("%s: %v", branch, err)
		}
		im.vals[tp.GetName()] = im.g.AddConst(tp.GetName(), t, nil)
	}
	for i, n := range sub.GetNode() {
		if _, reason := lookupConverter(n, im.opset); reason != "" {
			return &UnsupportedError{Node: c.name + "/" + branch + "/" + nodeName(n, i), Op: n.GetOpType(), Reason: reason}
		}
		if err := im.convert(i, n); err != nil {
			return err
		}
	}
	for i, o := range sub.GetOutput() {
		v := im.vals[o.GetName()]
		if v == nil {
			return c.errf("%s output %q is not computed", branch, o.GetName())
		}
		c.set(i, v)
	}
	return nil
}
