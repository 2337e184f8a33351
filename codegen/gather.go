package codegen

import (
	"github.com/pare-ml/pare/ir"
)

// Gather is the geometry of a KGather step: x (In[0], any dtype) seen as
// [Outer, N, Inner] and K indices (In[1], i32 or i64, read at run time) give
// the output [Outer, K, Inner]: out[o][j][i] = x[o][ix[j]][i], ix[j] + N
// where ix[j] is negative, as rt's gather. The step checks every index
// before it copies anything: one outside [-N, N) makes the step fail (see
// Fails) and the kernel reads and writes nothing out of its operands.
type Gather struct {
	Outer, N, Inner, K int
}

// Fails reports whether the step can fail at run time (a gather with
// indices read at run time): a backend's kernel for it returns a status
// that the program's run function passes on, naming the step.
func (s *Step) Fails() bool { return s.Kernel == KGather }

// FailReason is what makes a step fail (Fails), for messages: "" for steps
// that cannot.
func (s *Step) FailReason() string {
	if s.Kernel == KGather {
		return "gather index out of range"
	}
	return ""
}

// lowerGatherRuntime lowers a gather whose indices are computed at run time
// (a graph input, an index arithmetic) to a KGather step. Constant indices
// take lowerLayout's strided copies instead.
func (l *lowerer) lowerGatherRuntime(v *ir.Value) (*Step, error) {
	x, ix := v.Args[0].Type, v.Args[1].Type
	if ix.DType != ir.I32 && ix.DType != ir.I64 {
		return nil, Unsupported(v, "gather indices of %v (i32 and i64 are compiled)", ix.DType)
	}
	if x.DType.Size() == 0 {
		return nil, Unsupported(v, "gather of %v", x.DType)
	}
	ax := v.Int("axis") // rt's: not normalized (canonicalize does that)
	if ax < 0 || ax >= x.Rank() {
		return nil, Unsupported(v, "gather axis %d of a rank %d tensor", ax, x.Rank())
	}
	gt := &Gather{
		Outer: ir.NumElements(x.Shape[:ax]),
		N:     x.Shape[ax],
		Inner: ir.NumElements(x.Shape[ax+1:]),
		K:     ix.NumElements(),
	}
	st := &Step{Kernel: KGather, Op: v.Op.Name, Where: v.Where(), Gather: gt}
	st.In = []Operand{l.operand(v.Args[0]), l.operand(v.Args[1])}
	return st, nil
}
