package onnx

import (
	"slices"
	"strconv"

	"github.com/pare-ml/pare/ir"
)

// The sequence ops, resolved at import: a sequence is a list of IR values
// the importer keeps beside the tensors (it never reaches the IR), as
// torch exports lists whose structure is known when the model is traced.
// Positions and split sizes must be constants; a sequence cannot be a
// graph input or output.

// seqVal is a sequence: its elements in order and their dtype (known even
// when the sequence is empty).
type seqVal struct {
	elems []*ir.Value
	dtype ir.DType
}

// seqOps are the ops that take or make sequences (Loop as loop-carried
// values); any other op given a sequence is an error.
var seqOps = map[string]bool{"SequenceEmpty": true, "SequenceConstruct": true, "SequenceAt": true, "SequenceLength": true,
	"SequenceInsert": true, "SequenceErase": true, "SplitToSequence": true, "ConcatFromSequence": true, "Identity": true, "Loop": true}

// seqIn returns input i, which must be a sequence.
func (c *nodeCtx) seqIn(i int) (*seqVal, error) {
	name := c.inName(i)
	if s := c.im.seqs[name]; s != nil {
		return s, nil
	}
	if name == "" {
		return nil, c.errf("input %d (a sequence) is missing", i)
	}
	return nil, c.errf("input %q is a tensor, want a sequence", name)
}

// setSeq defines output i as a sequence.
func (c *nodeCtx) setSeq(i int, s *seqVal) {
	if name := c.outName(i); name != "" {
		c.im.seqs[name] = s
	}
}

// tensorIn returns input i, which must be a tensor (not a sequence).
func (c *nodeCtx) tensorIn(i int) (*ir.Value, error) {
	if c.im.seqs[c.inName(i)] != nil {
		return nil, c.errf("input %q is a sequence, want a tensor", c.inName(i))
	}
	return c.need(i)
}

// seqPos reads the constant position input i for a sequence of n
// elements, accepting [−n, hi) (hi is n, or n+1 for an insertion) and
// returning it normalized.
func (c *nodeCtx) seqPos(i, n, hi int, def int) (int, error) {
	p := def
	if c.in(i) != nil {
		var err error
		if p, err = c.scalarInt(i, "position"); err != nil {
			return 0, err
		}
	}
	if p < -n || p >= hi {
		return 0, c.errf("position %d is out of range [%d, %d] for a sequence of %d tensors", p, -n, hi-1, n)
	}
	if p < 0 {
		p += n
	}
	return p, nil
}

// elemType checks that x can join s.
func (c *nodeCtx) elemType(s *seqVal, x *ir.Value) error {
	if x.Type.DType != s.dtype {
		return c.errf("tensor %v cannot join a sequence of %v", x.Type, s.dtype)
	}
	return nil
}

func convSequenceEmpty(c *nodeCtx) error {
	dt := ir.F32
	if c.has("dtype") {
		var err error
		if dt, err = irDType(int32(c.int("dtype", 1))); err != nil {
			return c.unsupported("dtype %d: %v", c.int("dtype", 1), err)
		}
	}
	c.setSeq(0, &seqVal{dtype: dt})
	return nil
}

func convSequenceConstruct(c *nodeCtx) error {
	n := len(c.n.GetInput())
	if n == 0 {
		return c.errf("SequenceConstruct needs at least one input")
	}
	s := &seqVal{}
	for i := range n {
		x, err := c.tensorIn(i)
		if err != nil {
			return err
		}
		if i == 0 {
			s.dtype = x.Type.DType
		} else if err := c.elemType(s, x); err != nil {
			return err
		}
		s.elems = append(s.elems, x)
	}
	c.setSeq(0, s)
	return nil
}

func convSequenceAt(c *nodeCtx) error {
	s, err := c.seqIn(0)
	if err != nil {
		return err
	}
	n := len(s.elems)
	if c.in(1) == nil {
		return c.errf("input 1 (position) is missing")
	}
	p, err := c.seqPos(1, n, n, 0)
	if err != nil {
		return err
	}
	c.set(0, s.elems[p])
	return nil
}

func convSequenceLength(c *nodeCtx) error {
	s, err := c.seqIn(0)
	if err != nil {
		return err
	}
	c.set(0, c.constant(c.outName(0), ir.FromI64([]int{}, []int64{int64(len(s.elems))}), nil))
	return nil
}

// convSequenceInsert inserts the tensor at position (default: the end).
func convSequenceInsert(c *nodeCtx) error {
	s, err := c.seqIn(0)
	if err != nil {
		return err
	}
	x, err := c.tensorIn(1)
	if err != nil {
		return err
	}
	if err := c.elemType(s, x); err != nil {
		return err
	}
	n := len(s.elems)
	p, err := c.seqPos(2, n, n+1, n)
	if err != nil {
		return err
	}
	c.setSeq(0, &seqVal{elems: slices.Insert(slices.Clone(s.elems), p, x), dtype: s.dtype})
	return nil
}

// convSequenceErase removes the tensor at position (default: the last).
func convSequenceErase(c *nodeCtx) error {
	s, err := c.seqIn(0)
	if err != nil {
		return err
	}
	n := len(s.elems)
	if n == 0 {
		return c.errf("the sequence is empty: nothing to erase")
	}
	p, err := c.seqPos(1, n, n, -1)
	if err != nil {
		return err
	}
	c.setSeq(0, &seqVal{elems: slices.Delete(slices.Clone(s.elems), p, p+1), dtype: s.dtype})
	return nil
}

// convSplitToSequence: slices along axis, of the constant split lengths
// (a scalar: chunks of that size, the last possibly shorter; absent: size
// 1, the axis dropped when keepdims is 0).
func convSplitToSequence(c *nodeCtx) error {
	x, err := c.tensorIn(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	if r == 0 {
		return c.errf("input is a scalar; SplitToSequence needs rank >= 1")
	}
	axis, err := c.normAxis(c.int("axis", 0), r)
	if err != nil {
		return err
	}
	dim := x.Type.Shape[axis]
	var lens []int
	keep := true
	if c.in(1) == nil {
		lens = slices.Repeat([]int{1}, dim)
		keep = c.int("keepdims", 1) != 0
	} else {
		t, err := c.constArg(1, "split")
		if err != nil {
			return err
		}
		if !t.DType.IsInt() || len(t.Shape) > 1 {
			return c.errf("split %v must be an integer scalar or 1-D", t.Shape)
		}
		if len(t.Shape) == 0 {
			k := int(t.IntAt(0))
			if k <= 0 {
				return c.errf("split %d must be positive", k)
			}
			for at := 0; at < dim; at += k {
				lens = append(lens, min(k, dim-at))
			}
		} else {
			sum := 0
			for i := range t.Len() {
				v := t.IntAt(i)
				if v < 0 || v > int64(dim) {
					return c.errf("split[%d] = %d is out of range [0, %d]", i, v, dim)
				}
				lens, sum = append(lens, int(v)), sum+int(v)
			}
			if sum != dim {
				return c.errf("split %v sums to %d, want the dim %d of axis %d", lens, sum, dim, axis)
			}
		}
	}
	b := c.build()
	s := &seqVal{dtype: x.Type.DType}
	at := 0
	for i, l := range lens {
		y := x
		if l != dim {
			y = b.sliceAxis("part"+strconv.Itoa(i), x, axis, at, at+l)
		}
		if !keep {
			y = b.reshape("part"+strconv.Itoa(i)+"_squeezed", y, slices.Delete(slices.Clone(x.Type.Shape), axis, axis+1))
		}
		if b.err != nil {
			return b.err
		}
		s.elems, at = append(s.elems, y), at+l
	}
	c.setSeq(0, s)
	return nil
}

// convConcatFromSequence: concat along axis, or with new_axis a stack
// (each tensor reshaped with a 1 at axis first).
func convConcatFromSequence(c *nodeCtx) error {
	s, err := c.seqIn(0)
	if err != nil {
		return err
	}
	if len(s.elems) == 0 {
		return c.errf("the sequence is empty: nothing to concatenate")
	}
	if !c.has("axis") {
		return c.errf("the axis attribute is missing")
	}
	r := s.elems[0].Type.Rank()
	stack := c.int("new_axis", 0) != 0
	rr := r
	if stack {
		rr++
	}
	axis, err := c.normAxis(c.int("axis", 0), rr)
	if err != nil {
		return err
	}
	if !stack && r == 0 {
		return c.errf("the tensors are scalars: concatenating needs new_axis=1")
	}
	b := c.build()
	xs := slices.Clone(s.elems)
	if stack {
		for i, x := range xs {
			if x.Type.Rank() != r {
				return c.errf("tensor %d is %v, tensor 0 %v: stacking needs one shape", i, x.Type, s.elems[0].Type)
			}
			xs[i] = b.reshape("stacked"+strconv.Itoa(i), x, slices.Insert(slices.Clone(x.Type.Shape), axis, 1))
		}
	}
	if len(xs) == 1 {
		return b.finish(xs[0])
	}
	return b.finish(b.op("concat", "", ir.Attrs{"axis": ir.Int(axis)}, xs...))
}
