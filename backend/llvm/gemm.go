package llvm

import (
	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/metadata"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// The register-blocked GEMM: blocks of mr rows × nv·8 columns of C live in
// <8 x float> accumulators for the whole K loop; every step loads nv
// vectors of a B row, broadcasts mr elements of A and issues mr·nv
// multiply-adds (llvm.fmuladd: fused where the target has FMA). What the
// blocks leave over goes through the axpy loops of gemmCore.
const (
	mr    = 4
	nv    = 2
	vlen  = 8
	nrCol = nv * vlen
)

var v8 = types.NewVector(vlen, f32)

func (k *kfn) splat(x value.Value) value.Value {
	ins := k.b.NewInsertElement(constant.NewUndef(v8), x, constant.NewInt(types.I32, 0))
	return k.b.NewShuffleVector(ins, constant.NewUndef(v8), constant.NewZeroInitializer(types.NewVector(vlen, types.I32)))
}

func (k *kfn) vptr(ptr, idx value.Value) value.Value {
	return k.b.NewBitCast(k.at(ptr, idx), types.NewPointer(v8))
}

func (k *kfn) vload(ptr, idx value.Value) value.Value {
	l := k.b.NewLoad(v8, k.vptr(ptr, idx))
	l.Align = 4
	return l
}

func (k *kfn) vstore(v, ptr, idx value.Value) {
	s := k.b.NewStore(v, k.vptr(ptr, idx))
	s.Align = 4
}

// loopAcc runs body for p in [0, n), threading accumulators through phis;
// it returns their final values (n > 0).
func (k *kfn) loopAcc(n int, inits []value.Value, body func(p value.Value, acc []value.Value) []value.Value) []value.Value {
	return k.loopAccU(n, inits, body, false)
}

// loopAccTile is loopAcc kept from unrolling (noUnrollLoop).
func (k *kfn) loopAccTile(n int, inits []value.Value, body func(p value.Value, acc []value.Value) []value.Value) []value.Value {
	return k.loopAccU(n, inits, body, true)
}

func (k *kfn) loopAccU(n int, inits []value.Value, body func(p value.Value, acc []value.Value) []value.Value, noUnroll bool) []value.Value {
	pre := k.b
	head := k.f.NewBlock("")
	pre.NewBr(head)
	k.b = head
	p := head.NewPhi(ir.NewIncoming(ci(0), pre))
	phis := make([]*ir.InstPhi, len(inits))
	acc := make([]value.Value, len(inits))
	for i, v := range inits {
		phis[i] = head.NewPhi(ir.NewIncoming(v, pre))
		acc[i] = phis[i]
	}
	next := body(p, acc)
	np := k.b.NewAdd(p, ci(1))
	np.OverflowFlags = []enum.OverflowFlag{enum.OverflowFlagNSW}
	p.Incs = append(p.Incs, ir.NewIncoming(np, k.b))
	for i := range phis {
		phis[i].Incs = append(phis[i].Incs, ir.NewIncoming(next[i], k.b))
	}
	exit := k.f.NewBlock("")
	br := k.b.NewCondBr(k.b.NewICmp(enum.IPredSLT, np, ci(n)), head, exit)
	if noUnroll {
		br.Metadata = append(br.Metadata, &metadata.Attachment{Name: "llvm.loop", Node: k.e.noUnrollLoop()})
	}
	k.b = exit
	return next
}

// noUnrollLoop is a new loop ID asking not to unroll its loop: register
// tiles whose accumulators fill the registers, where unrolling lets opt
// reassociate the additions of several iterations into temporaries that
// spill (the integer panel conv of K = 144: ~4 spills per iteration).
func (e *emitter) noUnrollLoop() *metadata.Tuple {
	n := int64(len(e.m.MetadataDefs))
	opt := &metadata.Tuple{MetadataID: metadata.MetadataID(n + 1), Fields: []metadata.Field{&metadata.String{Value: "llvm.loop.unroll.disable"}}}
	loop := &metadata.Tuple{MetadataID: metadata.MetadataID(n), Distinct: true}
	loop.Fields = []metadata.Field{loop, opt}
	e.m.MetadataDefs = append(e.m.MetadataDefs, loop, opt)
	return loop
}

// gemmBlocked computes rows [0, M/mr·mr) × columns [0, N/nrCol·nrCol) of C
// (plain A and B layouts) and returns the row and column counts it covered.
func (k *kfn) gemmBlocked(g gemmArgs) (rows, cols int) {
	rows, cols = g.M/mr*mr, g.N/nrCol*nrCol
	if g.transA || g.transB || rows == 0 || cols == 0 || g.K == 0 {
		return 0, 0
	}
	fma := k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8)
	k.loop(0, rows/mr, func(ib value.Value) {
		i0 := k.mul(ib, mr)
		var inits []value.Value
		for r := 0; r < mr; r++ {
			init := value.Value(constant.NewZeroInitializer(v8))
			if g.rowBias != nil {
				init = k.splat(k.load(g.rowBias, k.add(g.biasOff, k.add(i0, ci(r)))))
			}
			for v := 0; v < nv; v++ {
				inits = append(inits, init)
			}
		}
		k.loop(0, cols/nrCol, func(jb value.Value) {
			j0 := k.mul(jb, nrCol)
			acc := k.loopAcc(g.K, inits, func(p value.Value, acc []value.Value) []value.Value {
				brow := k.add(g.bOff, k.madd(p, g.N, j0))
				bv := make([]value.Value, nv)
				for v := range bv {
					bv[v] = k.vload(g.b, k.add(brow, ci(v*vlen)))
				}
				out := make([]value.Value, len(acc))
				for r := 0; r < mr; r++ {
					a := k.splat(k.load(g.a, k.add(g.aOff, k.madd(k.add(i0, ci(r)), g.K, p))))
					for v := 0; v < nv; v++ {
						out[r*nv+v] = k.b.NewCall(fma, a, bv[v], acc[r*nv+v])
					}
				}
				return out
			})
			for r := 0; r < mr; r++ {
				crow := k.add(g.cOff, k.madd(k.add(i0, ci(r)), g.N, j0))
				for v := 0; v < nv; v++ {
					k.vstore(acc[r*nv+v], g.c, k.add(crow, ci(v*vlen)))
				}
			}
		})
	})
	return rows, cols
}
