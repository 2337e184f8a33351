package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The f32 gemm of few rows (M ≤ gemvMaxM: dense layers at batch 1) with a
// constant B is a stream over the weights. repackWeights lays B out at
// compile time in column panels of gemvWidth(M) columns, panel after panel
// ([N/w][K][w], the last panel [K][N%w]; transB is undone there too), so
// the kernel reads the whole matrix strictly sequentially: per panel, the
// M·w/8 accumulators stay in registers over K, each step broadcasts M
// elements of A and multiplies one row of the panel, prefetching (nta)
// gemvAhead bytes ahead; alpha, the bias and the epilogue are applied to
// the accumulators before the single store.
const (
	gemvMaxM  = 3
	gemvAhead = 2048
)

// gemvWidth is the panel width for M rows: M·w/8 ≤ 8 accumulators.
func gemvWidth(M int) int {
	switch M {
	case 1:
		return 64
	case 2:
		return 32
	}
	return 16
}

// gemvCand reports whether a gemm step is lowered by gemmPanelB (given
// that its B region is repacked): f32 with a constant B shared by the
// batch entries.
func gemvCand(s *codegen.Step) bool {
	gm := s.Gemm
	if s.Kernel != codegen.KGemm || s.Rq != nil || gm == nil || s.Out.DType != pir.F32 || gm.M > gemvMaxM || gm.M < 1 ||
		len(s.In) < 2 || s.In[1].Space != codegen.Weights || s.In[1].DType != pir.F32 || int64(gm.K*gm.N*4) != s.In[1].Bytes() {
		return false
	}
	for _, bt := range gm.Batch {
		if bt[1] != 0 {
			return false
		}
	}
	return true
}

// gemvIdx is the element index of B[p, j] in the panel layout.
func gemvIdx(p, j, K, N, w int) int {
	j0 := j / w * w
	return j0*K + p*min(w, N-j0) + j - j0
}

// repackGemv rewrites the plain B (src, [K][N] or [N][K] when transB)
// into panels at dst.
func repackGemv(dst, src []byte, K, N, w int, transB bool) {
	for p := 0; p < K; p++ {
		for j := 0; j < N; j++ {
			si := 4 * (p*N + j)
			if transB {
				si = 4 * (j*K + p)
			}
			di := 4 * gemvIdx(p, j, K, N, w)
			copy(dst[di:di+4], src[si:si+4])
		}
	}
}

// gemmPanelB emits the step's gemms over the repacked B.
func (k *kfn) gemmPanelB(s *codegen.Step, in []value.Value, out value.Value, rest []value.Value) {
	gm := s.Gemm
	M, N, K := gm.M, gm.N, gm.K
	w := gemvWidth(M)
	fma := k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8)
	pf := k.e.intrinsic("llvm.prefetch.p0i8", types.Void, i8p, types.I32, types.I32, types.I32)
	var epiArgs []value.Value
	if vecEpi(s) {
		epiArgs = rest
	}
	for _, bt := range gm.Batch {
		aOff, cOff := ci(bt[0]), ci(bt[2])
		aIdx := func(r int, p value.Value) value.Value {
			if gm.TransA {
				return k.add(aOff, k.madd(p, M, ci(r)))
			}
			return k.add(aOff, k.madd(ci(r), K, p))
		}
		panel := func(jp value.Value, width int) {
			j0 := k.mul(jp, w)
			nvec := (width + vlen - 1) / vlen
			lanes := func(v int) int { return min(vlen, width-v*vlen) }
			inits := make([]value.Value, M*nvec, M*nvec+1)
			for i := range inits {
				inits[i] = vconst(0)
			}
			n := len(inits)
			b0 := k.at(in[1], k.mul(j0, K))
			res := k.loopAcc(K, append(inits, b0), func(p value.Value, st []value.Value) []value.Value {
				acc, bp := st[:n], st[n]
				if width == w {
					for l := 0; l < w*4; l += 64 {
						addr := k.b.NewBitCast(k.at(bp, ci((gemvAhead+l)/4)), i8p)
						k.b.NewCall(pf, addr, constant.NewInt(types.I32, 0), constant.NewInt(types.I32, 0), constant.NewInt(types.I32, 1))
					}
				}
				bv := make([]value.Value, nvec)
				for v := range bv {
					bv[v] = k.vloadN(bp, ci(v*vlen), lanes(v))
				}
				out := make([]value.Value, n, n+1)
				for r := 0; r < M; r++ {
					a := k.splat(k.load(in[0], aIdx(r, p)))
					for v := 0; v < nvec; v++ {
						out[r*nvec+v] = k.b.NewCall(fma, a, bv[v], acc[r*nvec+v])
					}
				}
				return append(out, k.at(bp, ci(width)))
			})
			for r := 0; r < M; r++ {
				for v := 0; v < nvec; v++ {
					x := res[r*nvec+v]
					j := k.add(j0, ci(v*vlen))
					if gm.Alpha != 1 {
						x = k.b.NewFMul(x, vconst(gm.Alpha))
					}
					if gm.Bias {
						x = k.b.NewFAdd(x, k.vloadN(in[2], j, lanes(v)))
					}
					idx := k.add(cOff, k.madd(ci(r), N, j))
					if epiArgs != nil {
						x = k.vepi(s, x, epiArgs, idx, lanes(v))
					}
					k.vstoreN(x, out, idx, lanes(v))
				}
			}
		}
		k.loop(0, N/w, func(jp value.Value) { panel(jp, w) })
		if N%w != 0 {
			panel(ci(N/w), N%w)
		}
	}
}
