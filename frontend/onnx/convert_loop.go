package onnx

import (
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// maxLoopUnroll bounds the iterations convLoop unrolls.
const maxLoopUnroll = 4096

// convLoop unrolls a Loop whose trip count M and initial condition fold to
// constants at import (exported for-loops over a static range): the body
// is imported once per iteration, with iteration_num and cond as
// constants and the loop-carried values threaded through; a body
// condition that folds to false ends the loop early, one that does not
// fold is unsupported. The outputs are the final loop-carried values, then
// each scan output's per-iteration values stacked along a new axis 0.
func convLoop(c *nodeCtx) error {
	im := c.im
	mT, err := c.constIn(0)
	if err != nil {
		return c.unsupported("the trip count M must fold to a constant (pare compiles static graphs): %v", err)
	}
	if mT == nil || mT.Len() != 1 {
		return c.unsupported("a Loop without a constant trip count M is not supported (pare compiles static graphs)")
	}
	m := mT.IntAt(0)
	if m < 1 || m > maxLoopUnroll {
		return c.unsupported("trip count %d: pare unrolls 1 to %d iterations", m, maxLoopUnroll)
	}
	if c.in(1) != nil {
		t, err := c.constIn(1)
		if err != nil {
			return c.unsupported("the initial condition must fold to a constant: %v", err)
		}
		if t == nil || t.Len() != 1 || t.At(0) == 0 {
			return c.unsupported("a Loop whose initial condition is false runs no iteration: not supported")
		}
	}
	body, err := c.bodyAttr()
	if err != nil {
		return err
	}
	leave, err := c.enterSubgraph()
	if err != nil {
		return err
	}
	defer leave()
	// A loop-carried value is a tensor, or a sequence (a list the body
	// appends to, as torch exports list building).
	carried := []*ir.Value{}
	carriedSeq := []*seqVal{}
	for j := 2; j < len(c.n.GetInput()); j++ {
		if sq := im.seqs[c.inName(j)]; sq != nil {
			carried, carriedSeq = append(carried, nil), append(carriedSeq, sq)
			continue
		}
		v, err := c.need(j)
		if err != nil {
			return err
		}
		carried, carriedSeq = append(carried, v), append(carriedSeq, nil)
	}
	nIn, nOut := len(body.GetInput()), len(body.GetOutput())
	if nIn != 2+len(carried) || nOut < 1+len(carried) {
		return c.errf("the body takes %d inputs and gives %d outputs for %d loop-carried values", nIn, nOut, len(carried))
	}
	nScan := nOut - 1 - len(carried)
	if len(c.n.GetOutput()) > len(carried)+nScan {
		return c.errf("%d outputs for %d loop-carried values and %d scan outputs", len(c.n.GetOutput()), len(carried), nScan)
	}
	in, restore, err := c.inlineBody(body)
	if err != nil {
		return err
	}
	defer restore()
	if err := c.unrollBudget(int(m), body); err != nil {
		return err
	}
	scans := make([][]*ir.Value, nScan)
	for it := int64(0); it < m; it++ {
		im.vals[body.GetInput()[0].GetName()] = c.scalar(c.tmpName("iter"), ir.I64, float64(it))
		cond := ir.NewTensor(ir.Bool, []int{})
		cond.SetInt(0, 1)
		im.vals[body.GetInput()[1].GetName()] = c.constant(c.tmpName("cond"), cond, nil)
		for j, v := range carried {
			if carriedSeq[j] != nil {
				im.seqs[body.GetInput()[2+j].GetName()] = carriedSeq[j]
				continue
			}
			im.vals[body.GetInput()[2+j].GetName()] = v
		}
		if err := in.run(); err != nil {
			return err
		}
		outs := make([]*ir.Value, nOut)
		for i, o := range body.GetOutput() {
			if sq := im.seqs[o.GetName()]; sq != nil && i >= 1 && i < 1+len(carried) && carriedSeq[i-1] != nil {
				carriedSeq[i-1] = sq
				continue
			}
			if outs[i] = im.vals[o.GetName()]; outs[i] == nil {
				if im.seqs[o.GetName()] != nil {
					return c.unsupported("body output %q is a sequence where the loop carries a tensor or scans: pare carries sequences only as loop-carried values that start as sequences", o.GetName())
				}
				return c.errf("body output %q is not computed", o.GetName())
			}
			if i >= 1 && i < 1+len(carried) && carriedSeq[i-1] != nil {
				return c.errf("body output %q is a tensor, but the loop carries a sequence there", o.GetName())
			}
		}
		for j := range carried {
			if carriedSeq[j] == nil {
				carried[j] = outs[1+j]
			}
		}
		for s := range scans {
			scans[s] = append(scans[s], outs[1+len(carried)+s])
		}
		in.clear()
		if !outs[0].IsConst() || outs[0].Const.Len() != 1 {
			return c.unsupported("the body's condition must fold to a constant (pare unrolls loops at import)")
		}
		if outs[0].Const.At(0) == 0 {
			break
		}
	}
	for j, v := range carried {
		if carriedSeq[j] != nil {
			c.setSeq(j, carriedSeq[j])
			continue
		}
		c.set(j, v)
	}
	for s, vs := range scans {
		if c.outName(len(carried)+s) == "" {
			continue
		}
		b := c.build()
		y := b.stack("scan", vs, 0)
		if b.err != nil {
			return b.err
		}
		c.set(len(carried)+s, y)
	}
	return nil
}

// bodyAttr is the node's body graph attribute.
func (c *nodeCtx) bodyAttr() (*onnxpb.GraphProto, error) {
	a := c.attr("body")
	if a == nil || !c.kindOK(a, onnxpb.AttributeProto_GRAPH) || a.GetG() == nil {
		return nil, c.errf("the body attribute is missing")
	}
	return a.GetG(), nil
}

// unrollBudget checks that n copies of body keep the import within
// maxImportedNodes.
func (c *nodeCtx) unrollBudget(n int, body *onnxpb.GraphProto) error {
	if c.im.converted+n*len(body.GetNode()) > maxImportedNodes {
		return c.unsupported("unrolling %d iterations of %d nodes takes the model past %d nodes at import", n, len(body.GetNode()), maxImportedNodes)
	}
	return nil
}

// inlined is a subgraph body (a Loop's or a Scan's) imported into the
// enclosing graph once per iteration: the caller binds the body's inputs
// in im.vals (or im.seqs), calls run, reads the body's outputs, then
// clear.
type inlined struct {
	c     *nodeCtx
	body  *onnxpb.GraphProto
	local []string // the names the body defines, cleared between iterations
	inits map[string]*ir.Value
}

// inlineBody prepares body for inlining: its initializers become
// constants and the outer names it shadows are hidden; restore puts them
// back once the unrolling is done.
func (c *nodeCtx) inlineBody(body *onnxpb.GraphProto) (*inlined, func(), error) {
	im := c.im
	in := &inlined{c: c, body: body, inits: map[string]*ir.Value{}}
	for _, v := range body.GetInput() {
		in.local = append(in.local, v.GetName())
	}
	for _, n := range body.GetNode() {
		in.local = append(in.local, n.GetOutput()...)
	}
	for _, tp := range body.GetInitializer() {
		tp, err := loadExternal(im.dir, tp)
		if err != nil {
			return nil, nil, c.errf("body: %v", err)
		}
		t, err := DecodeTensor(tp)
		if err != nil {
			return nil, nil, c.errf("body: %v", err)
		}
		in.inits[tp.GetName()] = im.g.AddConst(tp.GetName(), t, nil)
		in.local = append(in.local, tp.GetName())
	}
	shadowed := map[string]*ir.Value{}
	shadowedSeq := map[string]*seqVal{}
	for _, name := range in.local {
		if v := im.vals[name]; name != "" && v != nil {
			shadowed[name] = v
			delete(im.vals, name)
		}
		if sq := im.seqs[name]; name != "" && sq != nil {
			shadowedSeq[name] = sq
			delete(im.seqs, name)
		}
	}
	restore := func() {
		for name, v := range shadowed {
			im.vals[name] = v
		}
		for name, sq := range shadowedSeq {
			im.seqs[name] = sq
		}
	}
	return in, restore, nil
}

// run imports one copy of the body's nodes.
func (in *inlined) run() error {
	im, c := in.c.im, in.c
	for name, v := range in.inits {
		im.vals[name] = v
	}
	for i, n := range in.body.GetNode() {
		if _, reason := lookupConverter(n, im.opset); reason != "" {
			return &UnsupportedError{Node: c.name + "/body/" + nodeName(n, i), Op: n.GetOpType(), Reason: reason}
		}
		if err := im.convert(i, n); err != nil {
			return err
		}
	}
	return nil
}

// clear forgets the names one iteration defined.
func (in *inlined) clear() {
	for _, name := range in.local {
		delete(in.c.im.vals, name)
		delete(in.c.im.seqs, name)
	}
}

// stack stacks vs (of one shape) along a new axis.
func (b *builder) stack(name string, vs []*ir.Value, axis int) *ir.Value {
	if b.err != nil {
		return nil
	}
	parts := make([]*ir.Value, len(vs))
	for i, v := range vs {
		sh := append(append(append([]int{}, v.Type.Shape[:axis]...), 1), v.Type.Shape[axis:]...)
		parts[i] = b.reshape("step", v, sh)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return b.op("concat", name, ir.Attrs{"axis": ir.Int(axis)}, parts...)
}
