package onnx

import (
	"slices"

	"github.com/pare-ml/pare/ir"
)

// scanSpec is how a Scan (opset 9 form) iterates: the scan inputs' axes
// and directions, the scan outputs' axes and directions.
type scanSpec struct {
	inAxes, inDirs, outAxes, outDirs []int
}

// convScan unrolls a Scan: the iteration count is the scan inputs' length
// along their scan axis, static in pare. Each iteration slices every scan
// input at its position (counted from the end for direction 1), imports
// the body with the state variables, and keeps the scan output elements;
// the outputs are the final states, then each scan output's elements
// stacked along its axis (in reverse iteration order for direction 1).
// Opset 8's form has a batch axis 0 on every input and output and the
// scan axis 1: the body is unrolled per batch element as well.
func convScan(c *nodeCtx) error {
	body, err := c.bodyAttr()
	if err != nil {
		return err
	}
	m := c.int("num_scan_inputs", -1)
	first := 0 // the first state variable's input
	if c.opset < 9 {
		first = 1
	}
	ins := c.n.GetInput()[min(first, len(c.n.GetInput())):]
	if m < 1 || m > len(ins) {
		return c.errf("num_scan_inputs %d: the node has %d state and scan inputs", m, len(ins))
	}
	nState := len(ins) - m
	nIn, nOut := len(body.GetInput()), len(body.GetOutput())
	if nIn != len(ins) || nOut < nState {
		return c.errf("the body takes %d inputs and gives %d outputs for %d state variables and %d scan inputs", nIn, nOut, nState, m)
	}
	nScanOut := nOut - nState
	if len(c.n.GetOutput()) > nOut {
		return c.errf("%d outputs for %d state variables and %d scan outputs", len(c.n.GetOutput()), nState, nScanOut)
	}
	vals := make([]*ir.Value, len(ins))
	for j := range ins {
		if c.im.seqs[ins[j]] != nil {
			return c.unsupported("input %q is a sequence: Scan's state variables and scan inputs must be tensors", ins[j])
		}
		if vals[j], err = c.need(first + j); err != nil {
			return err
		}
	}
	states, xs := vals[:nState], vals[nState:]
	leave, err := c.enterSubgraph()
	if err != nil {
		return err
	}
	defer leave()
	in, restore, err := c.inlineBody(body)
	if err != nil {
		return err
	}
	defer restore()
	b := c.build()
	if c.opset < 9 {
		return c.scan8(b, in, states, xs, nScanOut)
	}
	sp := scanSpec{}
	if sp.inAxes, err = c.scanAttr("scan_input_axes", m, false); err != nil {
		return err
	}
	if sp.inDirs, err = c.scanAttr("scan_input_directions", m, true); err != nil {
		return err
	}
	if sp.outAxes, err = c.scanAttr("scan_output_axes", nScanOut, false); err != nil {
		return err
	}
	if sp.outDirs, err = c.scanAttr("scan_output_directions", nScanOut, true); err != nil {
		return err
	}
	t := -1
	for i, x := range xs {
		ax, err := c.normAxis(sp.inAxes[i], x.Type.Rank())
		if err != nil {
			return c.errf("scan_input_axes[%d]: %v", i, err)
		}
		sp.inAxes[i] = ax
		if n := x.Type.Shape[ax]; t < 0 {
			t = n
		} else if n != t {
			return c.errf("scan input %d has %d elements along its scan axis %d, scan input 0 has %d", i, n, ax, t)
		}
	}
	if t < 1 || t > maxLoopUnroll {
		return c.unsupported("%d iterations (the scan inputs' length along their scan axes): pare unrolls 1 to %d", t, maxLoopUnroll)
	}
	if err := c.unrollBudget(t, body); err != nil {
		return err
	}
	final, scans, err := c.scanUnroll(b, in, sp, t, states, xs)
	if err != nil {
		return err
	}
	for j, v := range final {
		c.set(j, v)
	}
	for k, v := range scans {
		c.set(nState+k, v)
	}
	return nil
}

// scanConsts: opset 8's sequence_lens (input 0) must be known at import.
func scanConsts(opset int) []int {
	if opset < 9 {
		return []int{0}
	}
	return nil
}

// scanAttr reads a per-input or per-output list attribute of n entries
// (all 0 when absent); dirs are 0 or 1.
func (c *nodeCtx) scanAttr(name string, n int, dirs bool) ([]int, error) {
	v := c.ints(name)
	if !c.has(name) {
		return make([]int, n), nil
	}
	if len(v) != n {
		return nil, c.errf("%s has %d entries for %d values", name, len(v), n)
	}
	for i, d := range v {
		if dirs && d != 0 && d != 1 {
			return nil, c.errf("%s[%d] is %d: a direction is 0 (forward) or 1 (reverse)", name, i, d)
		}
	}
	return v, nil
}

// scanUnroll unrolls t iterations of the body over scan inputs xs whose
// scan axes sp.inAxes are normalized; the scan outputs' axes are
// normalized here, against the stacked rank.
func (c *nodeCtx) scanUnroll(b *builder, in *inlined, sp scanSpec, t int, states, xs []*ir.Value) (final, scans []*ir.Value, err error) {
	im, body := c.im, in.body
	nState := len(states)
	states = slices.Clone(states)
	elems := make([][]*ir.Value, len(body.GetOutput())-nState)
	for it := 0; it < t; it++ {
		for j, v := range states {
			im.vals[body.GetInput()[j].GetName()] = v
		}
		for i, x := range xs {
			ax, at := sp.inAxes[i], it
			if sp.inDirs[i] == 1 {
				at = t - 1 - it
			}
			e := b.sliceAxis("elem", x, ax, at, at+1)
			sh := slices.Delete(slices.Clone(x.Type.Shape), ax, ax+1)
			im.vals[body.GetInput()[nState+i].GetName()] = b.reshape("elem", e, sh)
		}
		if b.err != nil {
			return nil, nil, b.err
		}
		if err := in.run(); err != nil {
			return nil, nil, err
		}
		for i, o := range body.GetOutput() {
			v := im.vals[o.GetName()]
			if v == nil {
				if im.seqs[o.GetName()] != nil {
					return nil, nil, c.unsupported("body output %q is a sequence: Scan's outputs must be tensors", o.GetName())
				}
				return nil, nil, c.errf("body output %q is not computed", o.GetName())
			}
			if i < nState {
				if !slices.Equal(v.Type.Shape, states[i].Type.Shape) {
					return nil, nil, c.errf("body output %q (state variable %d) has shape %v, the state %v", o.GetName(), i, v.Type.Shape, states[i].Type.Shape)
				}
				states[i] = v
				continue
			}
			elems[i-nState] = append(elems[i-nState], v)
		}
		in.clear()
	}
	for k, vs := range elems {
		ax, err := c.normAxis(sp.outAxes[k], vs[0].Type.Rank()+1)
		if err != nil {
			return nil, nil, c.errf("scan_output_axes[%d]: %v", k, err)
		}
		if sp.outDirs[k] == 1 {
			vs = slices.Clone(vs)
			slices.Reverse(vs)
		}
		scans = append(scans, b.stack("scan", vs, ax))
	}
	return states, scans, b.err
}

// scan8 is opset 8's Scan: every input and output has a batch axis 0, the
// scan inputs' scan axis is 1 and the scan outputs are stacked along axis
// 1. The body is unrolled per batch element. sequence_lens must be absent
// or a constant equal to the full length for every batch element.
func (c *nodeCtx) scan8(b *builder, in *inlined, states, xs []*ir.Value, nScanOut int) error {
	m := len(xs)
	dirs, err := c.scanAttr("directions", m, true)
	if err != nil {
		return err
	}
	batch, t := -1, -1
	for i, x := range append(slices.Clone(states), xs...) {
		isScan := i >= len(states)
		if r := x.Type.Rank(); r < 1 || isScan && r < 2 {
			return c.errf("input %q has rank %d: opset 8's Scan takes a batch axis on every input and a scan axis 1 on the scan inputs", x.Name, r)
		}
		if batch < 0 {
			batch = x.Type.Shape[0]
		} else if x.Type.Shape[0] != batch {
			return c.errf("input %q has batch size %d, not %d", x.Name, x.Type.Shape[0], batch)
		}
		if !isScan {
			continue
		}
		if t < 0 {
			t = x.Type.Shape[1]
		} else if x.Type.Shape[1] != t {
			return c.errf("scan input %q has %d elements along axis 1, not %d", x.Name, x.Type.Shape[1], t)
		}
	}
	if c.in(0) != nil {
		lens, err := c.constIn(0)
		if err != nil {
			return c.unsupported("sequence_lens must be a constant equal to the scan length %d for every batch element: %v", t, err)
		}
		for i := 0; i < lens.Len(); i++ {
			if lens.IntAt(i) != int64(t) {
				return c.unsupported("sequence_lens[%d] is %d, shorter than the scan length %d: pare scans whole sequences only", i, lens.IntAt(i), t)
			}
		}
	}
	if t < 1 || batch < 1 || batch*t > maxLoopUnroll {
		return c.unsupported("%d batch elements × %d iterations: pare unrolls 1 to %d", batch, t, maxLoopUnroll)
	}
	if err := c.unrollBudget(batch*t, in.body); err != nil {
		return err
	}
	sp := scanSpec{inAxes: make([]int, m), inDirs: dirs, outAxes: make([]int, nScanOut), outDirs: make([]int, nScanOut)}
	finals := make([][]*ir.Value, len(states))
	scans := make([][]*ir.Value, nScanOut)
	row := func(x *ir.Value, i int) *ir.Value {
		return b.reshape("batch", b.sliceAxis("batch", x, 0, i, i+1), x.Type.Shape[1:])
	}
	for i := 0; i < batch; i++ {
		st, xi := make([]*ir.Value, len(states)), make([]*ir.Value, m)
		for j, v := range states {
			st[j] = row(v, i)
		}
		for j, x := range xs {
			xi[j] = row(x, i)
		}
		if b.err != nil {
			return b.err
		}
		f, s, err := c.scanUnroll(b, in, sp, t, st, xi)
		if err != nil {
			return err
		}
		for j := range f {
			finals[j] = append(finals[j], f[j])
		}
		for k := range s {
			scans[k] = append(scans[k], s[k])
		}
	}
	for j, vs := range finals {
		c.set(j, b.stack("state", vs, 0))
	}
	for k, vs := range scans {
		c.set(len(states)+k, b.stack("scan", vs, 0))
	}
	return b.err
}
