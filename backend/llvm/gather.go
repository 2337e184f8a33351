package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Kernels that can fail (codegen.Step.Fails) return i32: 0, or nonzero
// when the step failed; NAME_run then returns 1 + the step's number at
// once (run), and the executable's main names the step (MainC).

// kernelRet is the return type of a step's kernel function.
func kernelRet(s *codegen.Step) types.Type {
	if s.Fails() {
		return types.I32
	}
	return types.Void
}

func ci32(n int) *constant.Int { return constant.NewInt(types.I32, int64(n)) }

// gather emits a KGather step (codegen.Gather): x as [Outer, N, Inner], K
// indices (i32 or i64) read at run time. It checks every index first and
// returns 1 if one is outside [-N, N), before it reads anything of x or
// writes anything of the output; then it copies, for each outer row and
// each index (N added to a negative one), Inner contiguous elements, in a
// loop opt vectorizes (kernels are no-builtins: no memcpy call).
func (k *kfn) gather(s *codegen.Step, in []value.Value, out value.Value) {
	g := s.Gather
	x, ix := in[0], in[1]
	index := func(j value.Value) value.Value {
		v := k.load(ix, j)
		if s.In[1].DType != pir.I64 {
			v = k.b.NewSExt(v, i64)
		}
		return v
	}
	if g.K > 0 {
		fail := k.f.NewBlock("")
		fail.NewRet(ci32(1))
		k.loop(0, g.K, func(j value.Value) {
			// -N <= v < N exactly when v + N, wrapping, is below 2N
			// unsigned (a plain add: nsw would make an overflow poison).
			t := k.b.NewAdd(index(j), ci(g.N))
			bad := k.b.NewICmp(enum.IPredUGE, t, ci(2*g.N))
			ok := k.f.NewBlock("")
			k.b.NewCondBr(bad, fail, ok)
			k.b = ok
		})
	}
	if g.Inner == 0 {
		return
	}
	k.loop(0, g.Outer, func(o value.Value) {
		k.loop(0, g.K, func(j value.Value) {
			v := index(j)
			r := k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, v, ci(0)), k.b.NewAdd(v, ci(g.N)), v)
			src := k.mul(k.add(k.mul(o, g.N), r), g.Inner)
			dst := k.mul(k.add(k.mul(o, g.K), j), g.Inner)
			k.loop(0, g.Inner, func(i value.Value) {
				k.store(k.load(x, k.add(src, i)), out, k.add(dst, i))
			})
		})
	})
}
