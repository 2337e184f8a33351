// Package rt is pare's reference interpreter: it evaluates an ir.Graph on
// concrete tensors. It is the oracle every backend is checked against and
// the engine for calibration, evaluation and training.
//
// Float ops compute in float32 (transcendental functions through float64,
// rounded back), so results match ONNX Runtime within the conformance
// tolerance. Integer and quantized ops are exact: they follow the ONNX
// definitions (QuantizeLinear, QLinearConv, ...) or, with rq="tflite", the
// TFLite reference fixed-point arithmetic.
//
// rt imports only ir and the standard library.
package rt

import (
	"fmt"
	"runtime/debug"

	"github.com/pare-ml/pare/ir"
)

// kernel evaluates one value on its argument tensors. Kernels are built once
// per value and must not keep state between calls: one Interp runs on
// several goroutines at once.
type kernel func(args []*ir.Tensor) (*ir.Tensor, error)

// builder validates a value's attributes and types and returns its kernel.
type builder func(v *ir.Value) (kernel, error)

var builders = map[string]builder{}

func register(name string, b builder) {
	if _, dup := builders[name]; dup {
		panic("rt: kernel registered twice: " + name)
	}
	builders[name] = b
}

func init() {
	register("const", func(v *ir.Value) (kernel, error) {
		if v.Const == nil {
			return nil, fmt.Errorf("const without data")
		}
		t := v.Const
		return func([]*ir.Tensor) (*ir.Tensor, error) { return t, nil }, nil
	})
}

// Supported reports whether rt has a kernel for the op.
func Supported(op string) bool { return builders[op] != nil }

// build returns the kernel of v, with errors naming v.
func build(v *ir.Value) (kernel, error) {
	if v.Op == nil {
		return nil, fmt.Errorf("rt: %%%s has no op", v.Name)
	}
	b := builders[v.Op.Name]
	if tb := tfliteBuilder(v); tb != nil { // TFLite integer kernels (tflite.go)
		b = tb
	}
	if cb := compressedBuilder(v); cb != nil { // sparse weights (compressed.go)
		b = cb
	}
	if b == nil {
		return nil, fmt.Errorf("rt: %s: op %s is not supported by the interpreter", v.Where(), v.Op.Name)
	}
	if len(v.Type.Shape) > 0 {
		if err := ir.CheckShape(v.Type.Shape); err != nil {
			return nil, fmt.Errorf("rt: %s: %v", v.Where(), err)
		}
	}
	k, err := b(v)
	if err != nil {
		return nil, fmt.Errorf("rt: %s: %v", v.Where(), err)
	}
	return k, nil
}

// step is one body value of an Interp: its kernel, where its arguments
// live, and which slots die after it.
type step struct {
	v    *ir.Value
	k    kernel
	args []int
	slot int
	free []int
}

// Interp is a graph prepared for repeated evaluation: kernels are built and
// validated once, and intermediate tensors are dropped after their last use.
// Run and Trace may be called from several goroutines at once.
type Interp struct {
	g       *ir.Graph
	steps   []step
	nslots  int
	results []int
	// aliased marks result slots that hold a constant or an input tensor;
	// Run hands out copies of those so callers may modify what they get.
	aliased []bool
}

// New prepares g for evaluation.
func New(g *ir.Graph) (*Interp, error) {
	p := &Interp{g: g}
	slot := map[*ir.Value]int{}
	for i, v := range g.Params {
		slot[v] = i
	}
	n := len(g.Params)
	lastUse := make([]int, len(g.Params)+len(g.Values))
	for i := range lastUse {
		lastUse[i] = -1
	}
	for i, v := range g.Values {
		if _, dup := slot[v]; dup {
			return nil, fmt.Errorf("rt: %s appears twice in graph %s", v.Where(), g.Name)
		}
		st := step{v: v, slot: n + i}
		for _, a := range v.Args {
			s, ok := slot[a]
			if !ok {
				name := "<nil>"
				if a != nil {
					name = "%" + a.Name
				}
				return nil, fmt.Errorf("rt: %s: argument %s is not defined before it", v.Where(), name)
			}
			st.args = append(st.args, s)
			lastUse[s] = i
		}
		k, err := build(v)
		if err != nil {
			return nil, err
		}
		st.k = k
		slot[v] = n + i
		p.steps = append(p.steps, st)
	}
	p.nslots = n + len(g.Values)
	keep := make([]bool, p.nslots)
	for _, r := range g.Results {
		s, ok := slot[r]
		if !ok {
			return nil, fmt.Errorf("rt: graph %s: result is not a value of the graph", g.Name)
		}
		keep[s] = true
		p.results = append(p.results, s)
		p.aliased = append(p.aliased, r.IsParam() || r.IsConst())
	}
	for s, i := range lastUse {
		if i >= 0 && !keep[s] {
			p.steps[i].free = append(p.steps[i].free, s)
		}
	}
	return p, nil
}

// Run evaluates g on inputs and returns its results.
func Run(g *ir.Graph, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	p, err := New(g)
	if err != nil {
		return nil, err
	}
	return p.Run(inputs)
}

// Run evaluates the graph on inputs and returns its results.
func (p *Interp) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	env, err := p.exec(inputs, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*ir.Tensor, len(p.results))
	for i, s := range p.results {
		out[i] = env[s]
		if p.aliased[i] {
			out[i] = out[i].Clone()
		}
	}
	return out, nil
}

// Trace evaluates the graph on inputs and calls visit with every body value
// (constants included) and its tensor, in graph order. visit must not modify
// the tensor.
func (p *Interp) Trace(inputs []*ir.Tensor, visit func(v *ir.Value, t *ir.Tensor)) error {
	_, err := p.exec(inputs, visit)
	return err
}

func (p *Interp) checkInputs(inputs []*ir.Tensor) error {
	g := p.g
	if len(inputs) != len(g.Params) {
		return fmt.Errorf("rt: graph %s takes %d inputs, got %d", g.Name, len(g.Params), len(inputs))
	}
	for i, prm := range g.Params {
		t := inputs[i]
		if t == nil {
			return fmt.Errorf("rt: input %d (%%%s) is nil", i, prm.Name)
		}
		if t.DType != prm.Type.DType || !ir.EqualShape(t.Shape, prm.Type.Shape) {
			return fmt.Errorf("rt: input %d (%%%s) is %v%s, want %v%s", i, prm.Name,
				t.DType, ir.FormatShape(t.Shape), prm.Type.DType, ir.FormatShape(prm.Type.Shape))
		}
		if err := checkStorage(t); err != nil {
			return fmt.Errorf("rt: input %d (%%%s): %v", i, prm.Name, err)
		}
	}
	return nil
}

// checkStorage reports a tensor whose storage does not match its shape.
func checkStorage(t *ir.Tensor) error {
	n := -1
	switch t.DType {
	case ir.F32:
		n = len(t.F32)
	case ir.I8:
		n = len(t.I8)
	case ir.U8:
		n = len(t.U8)
	case ir.I16:
		n = len(t.I16)
	case ir.I32:
		n = len(t.I32)
	case ir.I64:
		n = len(t.I64)
	case ir.Bool:
		n = len(t.Bool)
	default:
		return fmt.Errorf("invalid dtype %v", t.DType)
	}
	if n != t.Len() {
		return fmt.Errorf("%v%s tensor holds %d elements", t.DType, ir.FormatShape(t.Shape), n)
	}
	return nil
}

func (p *Interp) exec(inputs []*ir.Tensor, visit func(*ir.Value, *ir.Tensor)) (env []*ir.Tensor, err error) {
	if err := p.checkInputs(inputs); err != nil {
		return nil, err
	}
	env = make([]*ir.Tensor, p.nslots)
	copy(env, inputs)
	cur := -1
	defer func() {
		if r := recover(); r != nil {
			where := "graph " + p.g.Name
			if cur >= 0 {
				where = p.steps[cur].v.Where()
			}
			env = nil
			err = fmt.Errorf("rt: %s: internal error: %v\n%s", where, r, debug.Stack())
		}
	}()
	args := make([]*ir.Tensor, 0, 8)
	for i := range p.steps {
		cur = i
		st := &p.steps[i]
		args = args[:0]
		for _, s := range st.args {
			args = append(args, env[s])
		}
		t, err := st.k(args)
		if err != nil {
			return nil, fmt.Errorf("rt: %s: %v", st.v.Where(), err)
		}
		if err := checkResult(st.v, t); err != nil {
			return nil, err
		}
		env[st.slot] = t
		if visit != nil {
			visit(st.v, t)
		}
		for _, s := range st.free {
			env[s] = nil
		}
	}
	return env, nil
}

func checkResult(v *ir.Value, t *ir.Tensor) error {
	if t == nil || t.DType != v.Type.DType || !ir.EqualShape(t.Shape, v.Type.Shape) {
		got := "nil"
		if t != nil {
			got = t.DType.String() + ir.FormatShape(t.Shape)
		}
		return fmt.Errorf("rt: %s: kernel produced %s, type says %v", v.Where(), got, v.Type)
	}
	return nil
}

// EvalOp evaluates one value on the given argument tensors (a const returns
// v.Const). The importer folds constants with it.
func EvalOp(v *ir.Value, args []*ir.Tensor) (t *ir.Tensor, err error) {
	if v == nil || v.Op == nil {
		return nil, fmt.Errorf("rt: EvalOp of a value without an op")
	}
	if v.IsConst() {
		if v.Const == nil {
			return nil, fmt.Errorf("rt: %s: const without data", v.Where())
		}
		return v.Const, nil
	}
	if len(args) != len(v.Args) {
		return nil, fmt.Errorf("rt: %s: %d arguments given, value has %d", v.Where(), len(args), len(v.Args))
	}
	for i, a := range args {
		want := v.Args[i].Type
		if a == nil || a.DType != want.DType || !ir.EqualShape(a.Shape, want.Shape) {
			got := "nil"
			if a != nil {
				got = a.DType.String() + ir.FormatShape(a.Shape)
			}
			return nil, fmt.Errorf("rt: %s: argument %d is %s, want %v", v.Where(), i, got, want)
		}
		if err := checkStorage(a); err != nil {
			return nil, fmt.Errorf("rt: %s: argument %d: %v", v.Where(), i, err)
		}
	}
	k, err := build(v)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			t = nil
			err = fmt.Errorf("rt: %s: internal error: %v\n%s", v.Where(), r, debug.Stack())
		}
	}()
	t, err = k(args)
	if err != nil {
		return nil, fmt.Errorf("rt: %s: %v", v.Where(), err)
	}
	if err := checkResult(v, t); err != nil {
		return nil, err
	}
	return t, nil
}

// newResult allocates the result tensor of v.
func newResult(v *ir.Value) *ir.Tensor { return ir.NewTensor(v.Type.DType, v.Type.Shape) }
