package gosrc

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// The gather at indices read at run time (codegen.KGather) is the one
// kernel that can fail (codegen.Step.Fails): its function returns an
// error, which RunInto returns at once (gen.step).

func init() {
	extraKernels[codegen.KGather] = (*kfn).gather
}

// gather: x0 as [Outer, N, Inner], indices x1 (int32 or int64). Every
// index is checked first, as rt's: one outside [-N, N) returns an error
// naming the step's node before anything is copied; then for each outer
// row and each index (N added to a negative one) Inner elements are
// copied.
func (k *kfn) gather() error {
	s, g := k.s, k.s.Gather
	if dt := s.In[1].DType; dt != ir.I32 && dt != ir.I64 {
		return unsupported(s, "gather indices of %v", dt)
	}
	if s.In[0].DType != s.Out.DType || len(s.Epilogue) > 0 {
		return unsupported(s, "gather from %v to %v with %d epilogue entries", s.In[0].DType, s.Out.DType, len(s.Epilogue))
	}
	msg := jen.Qual("errors", "New").Call(jen.Lit(k.g.pkg+": "+s.Where+": gather index ").
		Op("+").Qual("strconv", "FormatInt").Call(L("int64(v)"), jen.Lit(10)).
		Op("+").Lit(fmt.Sprintf(" out of range for an axis of size %d", g.N)))
	k.add(jen.For(L("_, v := range x1")).Block(
		jen.If(L("int64(v) < %d || int64(v) >= %d", -g.N, g.N)).Block(jen.Return(msg))))
	if g.Inner == 0 || g.Outer == 0 {
		return nil
	}
	cp := L("copy(y[(o*%d+j)*%d:][:%d], x0[(o*%d+r)*%d:][:%d])", g.K, g.Inner, g.Inner, g.N, g.Inner, g.Inner)
	if g.Inner == 1 {
		cp = L("y[o*%d+j] = x0[o*%d+r]", g.K, g.N)
	}
	k.add(For("o", 0, g.Outer, jen.For(L("j, v := range x1")).Block(
		L("r := int(v)"),
		jen.If(L("r < 0")).Block(L("r += %d", g.N)),
		cp)))
	return nil
}
