package codegen

import (
	"fmt"
	"strconv"

	"github.com/pare-ml/pare/ir"
)

// buffer is one tensor storage the memory plan places: an arena range, or a
// caller's input or output.
type buffer struct {
	size        int64
	space       Space
	index       int
	offset      int64
	first, last int     // steps that define and last read it
	merged      *buffer // set when an in-place step folded this buffer into another
}

func (b *buffer) root() *buffer {
	for b.merged != nil {
		b = b.merged
	}
	return b
}

// loc is where a value's data lives: a buffer and a byte offset into it, or
// (buf nil) a constant not placed yet.
type loc struct {
	buf *buffer
	off int64
}

type lowerer struct {
	g       *ir.Graph
	p       *Program
	index   map[*ir.Value]int // position of body values in g.Values
	uses    map[*ir.Value][]*ir.Value
	results map[*ir.Value]bool
	locs    map[*ir.Value]loc
	fused   map[*ir.Value]bool
	bufs    []*buffer
	blob    *blob
	names   map[string]bool
	opts    Options
	enc     map[*ir.Value]bool // constants decoded from compressed encodings
}

// Lower turns a verified graph into a Program. Ops, dtypes or geometries
// the kernels do not cover give an *UnsupportedError.
func Lower(g *ir.Graph) (*Program, error) { return LowerWith(g, Options{}) }

// LowerWith is Lower with options.
func LowerWith(g *ir.Graph, opts Options) (*Program, error) {
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	switch opts.Weights {
	case "", WeightsAuto, WeightsDense, WeightsCompressed:
	default:
		return nil, fmt.Errorf("weights mode %q: want auto, dense or compressed", opts.Weights)
	}
	if opts.Backend == "" {
		opts.Backend = "llvm"
	}
	if _, ok := sparseLimitsOf[opts.Backend]; !ok {
		return nil, fmt.Errorf("backend %q: want llvm or go", opts.Backend)
	}
	g, err := legalize(g)
	if err != nil {
		return nil, err
	}
	g, enc, err := decodeConstants(g)
	if err != nil {
		return nil, err
	}
	l := &lowerer{g: g, p: &Program{Name: CName(g.Name)}, index: map[*ir.Value]int{}, uses: g.Uses(),
		results: map[*ir.Value]bool{}, locs: map[*ir.Value]loc{}, fused: map[*ir.Value]bool{},
		blob: newBlob(), names: map[string]bool{}, opts: opts, enc: enc}
	for i, v := range g.Values {
		l.index[v] = i
	}
	for _, r := range g.Results {
		l.results[r] = true
	}
	for i, p := range g.Params {
		if err := checkIO(p); err != nil {
			return nil, err
		}
		b := &buffer{size: int64(p.Type.Bytes()), space: Input, index: i, first: -1, last: -1}
		l.locs[p] = loc{buf: b}
		op := Operand{DType: p.Type.DType, Shape: p.Type.Shape, Quant: p.Type.Quant, Value: p.Name, Ref: Ref{Space: Input, Index: i}}
		l.p.Inputs = append(l.p.Inputs, op)
	}
	// Results produced by a step write straight into the caller's buffer.
	outBuf := map[*ir.Value]*buffer{}
	for i, r := range g.Results {
		if err := checkIO(r); err != nil {
			return nil, err
		}
		l.p.Outputs = append(l.p.Outputs, Operand{DType: r.Type.DType, Shape: r.Type.Shape, Quant: r.Type.Quant,
			Value: r.Name, Ref: Ref{Space: Output, Index: i}})
		if r.IsConst() || r.IsParam() || r.Op.Name == "reshape" || outBuf[r] != nil {
			continue
		}
		outBuf[r] = &buffer{size: int64(r.Type.Bytes()), space: Output, index: i, first: -1, last: -1}
	}
	for _, v := range g.Values {
		if v.IsConst() || l.fused[v] {
			continue
		}
		if v.Op.Name == "reshape" {
			a := v.Args[0]
			if a.IsConst() {
				l.locs[v] = loc{} // placed where used, like any constant
				continue
			}
			l.locs[v] = l.locs[a]
			continue
		}
		st, last, err := l.lowerValue(v)
		if err != nil {
			return nil, err
		}
		out := outBuf[last]
		if out == nil {
			out = l.newBuffer(int64(last.Type.Bytes()))
		}
		l.locs[last] = loc{buf: out}
		st.Out = Operand{DType: last.Type.DType, Shape: last.Type.Shape, Quant: last.Type.Quant, Value: last.Name}
		l.addStep(st, v)
		l.write(&st.Out, out, 0)
	}
	// Results that are constants, inputs, aliases or repeated: copy them out.
	for i, r := range g.Results {
		if ob := outBuf[r]; ob != nil && ob.index == i {
			continue
		}
		st := &Step{Kernel: KCopy, Op: "copy", Where: r.Where()}
		in := l.operand(r)
		st.In = []Operand{in}
		n := r.Type.NumElements()
		st.Copies = []Copy{{Shape: []int{n}, SrcStrides: []int{1}, DstStrides: []int{1}}}
		st.Out = l.p.Outputs[i]
		l.addStep(st, r)
		ob := &buffer{size: int64(r.Type.Bytes()), space: Output, index: i, first: -1, last: -1}
		l.write(&st.Out, ob, 0)
	}
	l.planInPlace()
	l.placeArena()
	for _, st := range l.p.Steps {
		st.eachOperand(func(o *Operand) {
			if o.buf == nil {
				return
			}
			b := o.buf.root()
			o.Space, o.Index, o.Offset = b.space, b.index, b.offset+o.boff
			o.buf = nil
		})
	}
	l.p.Weights = l.blob.bytes()
	return l.p, nil
}

func checkIO(v *ir.Value) error {
	if v.Type.DType.Size() == 0 {
		return Unsupported(v, "dtype %v", v.Type.DType)
	}
	return nil
}

func (l *lowerer) newBuffer(size int64) *buffer {
	b := &buffer{size: size, space: Arena, first: -1, last: -1}
	l.bufs = append(l.bufs, b)
	return b
}

// addStep appends st, naming it after v.
func (l *lowerer) addStep(st *Step, v *ir.Value) {
	base := "k_" + CName(v.Name)
	name := base
	for i := 1; l.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	l.names[name] = true
	st.Name = name
	if st.Where == "" {
		st.Where = v.Where()
	}
	l.p.Steps = append(l.p.Steps, st)
}

// step index the next addStep gets.
func (l *lowerer) cur() int { return len(l.p.Steps) }

// write records that the step being built defines operand op in buffer b.
func (l *lowerer) write(op *Operand, b *buffer, off int64) {
	if b.first < 0 {
		b.first = l.cur() - 1
	}
	if b.last < l.cur()-1 {
		b.last = l.cur() - 1
	}
	op.buf, op.boff = b, off
}

// operand returns the operand for value v read by the step being built (it
// becomes step number l.cur()). Constants are packed as they are.
func (l *lowerer) operand(v *ir.Value) Operand {
	op := Operand{DType: v.Type.DType, Shape: v.Type.Shape, Quant: v.Type.Quant, Value: v.Name}
	c := constOf(v)
	if c != nil {
		op.Ref = Ref{Space: Weights, Offset: l.blob.add(c)}
		return op
	}
	lc, ok := l.locs[v]
	if !ok || lc.buf == nil {
		panic(fmt.Sprintf("codegen: %s read before it is defined", v.Where()))
	}
	if lc.buf.last < l.cur() {
		lc.buf.last = l.cur()
	}
	op.buf, op.boff = lc.buf, lc.off
	return op
}

// constOf returns the data of a constant or of a reshape of one.
func constOf(v *ir.Value) *ir.Tensor {
	for v.Op.Name == "reshape" {
		v = v.Args[0]
	}
	if v.IsConst() {
		return v.Const
	}
	return nil
}

// packed returns an operand for a constant made by codegen (folded or
// re-laid-out weights).
func (l *lowerer) packed(t *ir.Tensor) Operand {
	return Operand{DType: t.DType, Shape: t.Shape, Ref: Ref{Space: Weights, Offset: l.blob.add(t)}}
}
