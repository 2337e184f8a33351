package rt

import (
	"fmt"
	"runtime/debug"

	"github.com/pare-ml/pare/ir"
)

// Reverse-mode gradients over IR graphs.
//
// A Grad prepares a graph for differentiation with respect to chosen values
// (constants such as weights, or graph parameters such as inputs). Forward
// runs the graph and keeps every intermediate tensor on a Tape; Backward
// takes the gradients of the loss with respect to the graph's results and
// returns the gradients of the chosen values.
//
// Each op's gradient is a VJP (vector-Jacobian product) built once per value
// by a GradBuilder from a table, as kernels are: adding an op's gradient
// means registering one builder (RegisterGrad), for instance a fake-quant
// straight-through estimator. Gradients are f32 tensors with the shape of
// the value they belong to, whatever that value's dtype.
//
// Batching: graphs are built with their batch dim N; losses reduce over it.
// A Grad may be used from several goroutines at once (one Tape each).

// VJP computes the gradients of a value's arguments from the gradient dy of
// its result. args and out are the forward tensors; need[i] says whether
// argument i wants a gradient. It returns one tensor per argument (nil where
// not needed). A returned tensor may alias dy or a forward tensor: the
// engine copies before accumulating into it.
type VJP func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error)

// GradBuilder validates a value and prepares its VJP.
type GradBuilder func(v *ir.Value) (VJP, error)

var gradBuilders = map[string]GradBuilder{}

// RegisterGrad adds the gradient of an op. It panics when the op already has one.
func RegisterGrad(op string, b GradBuilder) {
	if _, dup := gradBuilders[op]; dup {
		panic("rt: gradient registered twice: " + op)
	}
	gradBuilders[op] = b
}

// Differentiable reports whether rt has the gradient of an op.
func Differentiable(op string) bool { return gradBuilders[op] != nil }

// Grad is a graph prepared for gradient computation.
type Grad struct {
	g       *ir.Graph
	ip      *Interp
	wrt     []*ir.Value
	slot    map[*ir.Value]int // params 0..P-1, body values P+i
	nparams int
	needs   []bool // per slot: a wrt value depends on nothing, but this one leads to one
	vjps    []VJP  // per body value; nil where no gradient flows through it
	wrtSlot []int
}

// NewGrad prepares g for gradients with respect to wrt: constants or
// parameters of g of dtype f32.
func NewGrad(g *ir.Graph, wrt []*ir.Value) (*Grad, error) {
	ip, err := New(g)
	if err != nil {
		return nil, err
	}
	d := &Grad{g: g, ip: ip, wrt: wrt, slot: map[*ir.Value]int{}, nparams: len(g.Params)}
	for i, p := range g.Params {
		d.slot[p] = i
	}
	for i, v := range g.Values {
		d.slot[v] = len(g.Params) + i
	}
	n := len(g.Params) + len(g.Values)
	d.needs = make([]bool, n)
	for _, w := range wrt {
		s, ok := d.slot[w]
		if !ok || w == nil {
			return nil, fmt.Errorf("rt: grad: a value to differentiate by is not in graph %s", g.Name)
		}
		if !w.IsParam() && !w.IsConst() {
			return nil, fmt.Errorf("rt: grad: %s is neither a constant nor a parameter", w.Where())
		}
		if w.Type.DType != ir.F32 {
			return nil, fmt.Errorf("rt: grad: %s is %v; gradients are taken by f32 values", w.Where(), w.Type.DType)
		}
		d.needs[s] = true
		d.wrtSlot = append(d.wrtSlot, s)
	}
	// A value needs a gradient when it depends on a wrt value; the results
	// must reach it too, which Backward finds out (dy stays nil otherwise).
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
	d.vjps = make([]VJP, len(g.Values))
	for i, v := range g.Values {
		s := len(g.Params) + i
		if v.IsConst() {
			continue
		}
		any := false
		for _, a := range v.Args {
			if d.needs[d.slot[a]] {
				any = true
			}
		}
		if !any {
			continue
		}
		d.needs[s] = true
		if !live[v] {
			continue
		}
		b := gradBuilders[v.Op.Name]
		if b == nil {
			return nil, fmt.Errorf("rt: grad: %s: op %s has no gradient", v.Where(), v.Op.Name)
		}
		vjp, err := b(v)
		if err != nil {
			return nil, fmt.Errorf("rt: grad: %s: %v", v.Where(), err)
		}
		d.vjps[i] = vjp
	}
	return d, nil
}

// Graph returns the graph being differentiated.
func (d *Grad) Graph() *ir.Graph { return d.g }

// Wrt returns the values gradients are taken by, in Backward's order.
func (d *Grad) Wrt() []*ir.Value { return d.wrt }

// Tape holds the tensors of one forward pass.
type Tape struct {
	d   *Grad
	env []*ir.Tensor
}

// Forward evaluates the graph on inputs, keeping what Backward needs.
func (d *Grad) Forward(inputs []*ir.Tensor) (*Tape, error) {
	t := &Tape{d: d, env: make([]*ir.Tensor, len(d.needs))}
	err := d.ip.Trace(inputs, func(v *ir.Value, x *ir.Tensor) { t.env[d.slot[v]] = x })
	if err != nil {
		return nil, err
	}
	copy(t.env, inputs)
	return t, nil
}

// Results returns the graph's results (shared with the tape: do not modify).
func (t *Tape) Results() []*ir.Tensor {
	out := make([]*ir.Tensor, len(t.d.g.Results))
	for i, r := range t.d.g.Results {
		out[i] = t.env[t.d.slot[r]]
	}
	return out
}

// Value returns the forward tensor of a value of the graph (nil if unknown).
func (t *Tape) Value(v *ir.Value) *ir.Tensor {
	s, ok := t.d.slot[v]
	if !ok {
		return nil
	}
	return t.env[s]
}

// Backward takes dL/dresult for each result of the graph (nil for results
// the loss does not use) and returns dL/dw for each wrt value, in order.
// A wrt value the loss does not depend on gets a zero gradient. The
// returned tensors are the caller's.
func (t *Tape) Backward(dResults []*ir.Tensor) (grads []*ir.Tensor, err error) {
	d := t.d
	if len(dResults) != len(d.g.Results) {
		return nil, fmt.Errorf("rt: grad: %d result gradients for %d results", len(dResults), len(d.g.Results))
	}
	n := len(d.needs)
	acc := make([]*ir.Tensor, n)
	owned := make([]bool, n)
	add := func(s int, x *ir.Tensor) {
		if acc[s] == nil {
			acc[s], owned[s] = x, false
			return
		}
		if !owned[s] {
			acc[s], owned[s] = acc[s].Clone(), true
		}
		dst := acc[s].F32
		for i, v := range x.F32 {
			dst[i] += v
		}
	}
	for i, r := range d.g.Results {
		dr := dResults[i]
		if dr == nil {
			continue
		}
		if dr.DType != ir.F32 || !ir.EqualShape(dr.Shape, r.Type.Shape) {
			return nil, fmt.Errorf("rt: grad: gradient of result %d is %v%s, want f32%s", i, dr.DType, ir.FormatShape(dr.Shape), ir.FormatShape(r.Type.Shape))
		}
		if d.needs[d.slot[r]] {
			add(d.slot[r], dr)
		}
	}
	cur := -1
	defer func() {
		if r := recover(); r != nil {
			where := "graph " + d.g.Name
			if cur >= 0 {
				where = d.g.Values[cur].Where()
			}
			grads = nil
			err = fmt.Errorf("rt: grad: %s: internal error: %v\n%s", where, r, debug.Stack())
		}
	}()
	wrt := make([]bool, n)
	for _, s := range d.wrtSlot {
		wrt[s] = true
	}
	for i := len(d.g.Values) - 1; i >= 0; i-- {
		s := d.nparams + i
		dy, vjp := acc[s], d.vjps[i]
		if dy == nil || vjp == nil {
			continue
		}
		cur = i
		v := d.g.Values[i]
		args := make([]*ir.Tensor, len(v.Args))
		need := make([]bool, len(v.Args))
		for j, a := range v.Args {
			as := d.slot[a]
			args[j] = t.env[as]
			need[j] = d.needs[as]
		}
		gs, err := vjp(args, t.env[s], dy, need)
		if err != nil {
			return nil, fmt.Errorf("rt: grad: %s: %v", v.Where(), err)
		}
		for j, gj := range gs {
			if gj == nil || !need[j] {
				continue
			}
			if gj.DType != ir.F32 || gj.Len() != args[j].Len() {
				return nil, fmt.Errorf("rt: grad: %s: gradient of argument %d is %v%s for %v", v.Where(), j, gj.DType, ir.FormatShape(gj.Shape), v.Args[j].Type)
			}
			add(d.slot[v.Args[j]], gj)
		}
		if !wrt[s] {
			acc[s] = nil
		}
	}
	grads = make([]*ir.Tensor, len(d.wrt))
	for i, s := range d.wrtSlot {
		if acc[s] == nil {
			grads[i] = ir.NewTensor(ir.F32, d.wrt[i].Type.Shape)
			continue
		}
		g := acc[s]
		if !owned[s] {
			g = g.Clone()
		}
		if !ir.EqualShape(g.Shape, d.wrt[i].Type.Shape) {
			g = ir.FromF32(d.wrt[i].Type.Shape, g.F32)
		}
		grads[i] = g
	}
	return grads, nil
}
