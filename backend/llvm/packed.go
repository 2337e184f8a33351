package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The f32 convolution GEMM on packed B: the column matrix lives in Scratch
// as column panels of nrCol (= codegen.PanelCols) columns, panel j holding
// B[0:K, 16j:16j+16] row after row, so the 4×16 micro-kernel reads B
// contiguously. K is blocked by kcBlk (a 16 KB B micro-panel stays in L1
// across the row blocks) and M by mcBlk rows (the A block stays in L2). C
// accumulates across K blocks; the first block starts from the bias, the
// last applies the step's epilogue when it is vectorizable (fusedEpi).
const (
	kcBlk = 256
	mcBlk = 128
)

func init() {
	if nrCol != codegen.PanelCols {
		panic("llvm: micro-kernel width differs from codegen.PanelCols")
	}
}

// panelIdx is the element index of B[row, pos] in the panel layout of a
// K-row matrix (pk = K), or in the plain [K][osz] layout when pk == 0.
func (k *kfn) panelIdx(row, pos value.Value, osz, pk int) value.Value {
	if pk == 0 {
		return k.madd(row, osz, pos)
	}
	if c, ok := constInt(pos); ok {
		return k.madd(k.madd(ci(int(c)/nrCol), pk, row), nrCol, ci(int(c)%nrCol))
	}
	jp := k.b.NewLShr(pos, ci(4))
	lane := k.b.NewAnd(pos, ci(nrCol-1))
	return k.add(k.mul(k.madd(jp, pk, row), nrCol), lane)
}

// vconst is a <8 x float> of x.
func vconst(x float32) value.Value {
	e := make([]constant.Constant, vlen)
	for i := range e {
		e[i] = cf(x)
	}
	return constant.NewVector(v8, e...)
}

var v8i1 = types.NewVector(vlen, types.I1)

// laneMask is the mask of the first n lanes.
func laneMask(n int) value.Value {
	e := make([]constant.Constant, vlen)
	for i := range e {
		e[i] = constant.NewBool(i < n)
	}
	return constant.NewVector(v8i1, e...)
}

// vloadN loads the first n lanes (the others are zero).
func (k *kfn) vloadN(ptr, idx value.Value, n int) value.Value {
	if n >= vlen {
		return k.vload(ptr, idx)
	}
	f := k.e.intrinsic("llvm.masked.load.v8f32.p0v8f32", v8, types.NewPointer(v8), types.I32, v8i1, v8)
	return k.b.NewCall(f, k.vptr(ptr, idx), constant.NewInt(types.I32, 4), laneMask(n), vconst(0))
}

// vstoreN stores the first n lanes.
func (k *kfn) vstoreN(v, ptr, idx value.Value, n int) {
	if n >= vlen {
		k.vstore(v, ptr, idx)
		return
	}
	f := k.e.intrinsic("llvm.masked.store.v8f32.p0v8f32", types.Void, v8, types.NewPointer(v8), types.I32, v8i1)
	k.b.NewCall(f, v, k.vptr(ptr, idx), constant.NewInt(types.I32, 4), laneMask(n))
}

// fusedEpi reports whether the step's epilogue is applied inside the packed
// conv GEMM or the sparse conv (vector unary ops, and add/sub/mul of an
// operand laid out like the output and not overlapping it) rather than by a
// sweep afterwards.
func fusedEpi(s *codegen.Step) bool {
	return (s.Kernel == codegen.KConvGemm || s.Kernel == codegen.KSparseConv) && vecEpi(s)
}

// vecEpi reports whether the step's epilogue can be applied to vectors of
// the f32 output by vepi, at the output's element indices.
func vecEpi(s *codegen.Step) bool {
	if s.Rq != nil || s.Out.DType != pir.F32 || len(s.Epilogue) == 0 || s.Loop == nil {
		return false
	}
	for j, e := range s.Epilogue {
		switch e.Op {
		case codegen.EpiRelu, codegen.EpiClip, codegen.EpiLeakyRelu:
		case codegen.EpiAdd, codegen.EpiSub, codegen.EpiMul:
			if e.Arg == nil || e.Arg.DType != pir.F32 || overlap(e.Arg, &s.Out) || len(s.Loop.Strides) <= j+1 {
				return false
			}
			if !sameInts(s.Loop.Strides[j+1], s.Loop.Strides[0]) || !sameInts(s.Loop.Strides[0], contiguousStrides(s.Loop.Shape)) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// vepi applies the fused epilogue to v, the vector at output element index
// idx (n valid lanes); args are the binary entries' operands in order.
func (k *kfn) vepi(s *codegen.Step, v value.Value, args []value.Value, idx value.Value, n int) value.Value {
	b := k.b
	a := 0
	for _, e := range s.Epilogue {
		switch e.Op {
		case codegen.EpiRelu:
			z := vconst(0)
			v = b.NewSelect(b.NewFCmp(enum.FPredOGT, v, z), v, z)
		case codegen.EpiLeakyRelu:
			v = b.NewSelect(b.NewFCmp(enum.FPredOLT, v, vconst(0)), b.NewFMul(vconst(e.A), v), v)
		case codegen.EpiClip:
			if !isInf(e.A) {
				v = b.NewSelect(b.NewFCmp(enum.FPredOLT, v, vconst(e.A)), vconst(e.A), v)
			}
			if !isInf(e.B) {
				v = b.NewSelect(b.NewFCmp(enum.FPredOGT, v, vconst(e.B)), vconst(e.B), v)
			}
		default:
			o := k.vloadN(args[a], idx, n)
			a++
			x, y := v, o
			if e.Swapped {
				x, y = o, v
			}
			v = k.binary(e.Op, x, y)
		}
	}
	return v
}

// panelGemm is C[M×N] = A[M×K]·B (+ bias per row, then the fused
// epilogue), B packed in panels at bp (element 0).
type panelGemm struct {
	M, N, K    int
	a, aOff    value.Value // row-major [M][K]
	bp         value.Value
	c, cOff    value.Value
	bias, bOff value.Value // nil: no bias
	s          *codegen.Step
	epiArgs    []value.Value // non-nil: apply s.Epilogue (fusedEpi)
	// ldc is C's row stride (0: N).
	ldc int
	// aPacked: A is in row blocks of mrP rows (repackWeights), block
	// starting at row i0 at aOff + i0*K, element (p, r) at + p*rows + r.
	aPacked bool
}

// aIdx is the element index of A[i0+r, p] in a tile of rows rows.
func (k *kfn) aIdx(g panelGemm, i0 value.Value, r, rows int, p value.Value) value.Value {
	if g.aPacked {
		return k.add(g.aOff, k.add(k.mul(i0, g.K), k.madd(p, rows, ci(r))))
	}
	return k.add(g.aOff, k.madd(k.add(i0, ci(r)), g.K, p))
}

// gemmPanels emits the blocked GEMM over packed B.
func (k *kfn) gemmPanels(g panelGemm) {
	nkb, kc := kBlocks(g.K)
	last := nkb - 1
	ldc := g.ldc
	if ldc == 0 {
		ldc = g.N
	}
	fullRB := g.M / mrP
	rowRem := g.M % mrP
	fullP := g.N / nrCol
	colRem := g.N % nrCol
	rbPerChunk := mcBlk / mrP
	fma := k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8)
	{
		body := func(kb value.Value, pc value.Value, klen int) {
			first, isLast := k.b.NewICmp(enum.IPredEQ, kb, ci(0)), k.b.NewICmp(enum.IPredEQ, kb, ci(last))
			tile := func(ib, jp value.Value, rows, cols int) {
				i0 := k.mul(ib, mrP)
				bBase := k.add(k.mul(jp, g.K*nrCol), k.mul(pc, nrCol))
				inits := make([]value.Value, 0, rows*nv)
				cidx := make([]value.Value, rows*nv)
				for r := 0; r < rows; r++ {
					var binit value.Value = vconst(0)
					if g.bias != nil {
						binit = k.splat(k.load(g.bias, k.add(g.bOff, k.add(i0, ci(r)))))
					}
					crow := k.add(g.cOff, k.madd(k.add(i0, ci(r)), ldc, k.mul(jp, nrCol)))
					for v := 0; v < nv; v++ {
						cidx[r*nv+v] = k.add(crow, ci(v*vlen))
						n := cols - v*vlen
						init := binit
						if c, ok := constInt(kb); !ok || c != 0 {
							prev := value.Value(vconst(0))
							if n > 0 {
								prev = k.vloadN(g.c, cidx[r*nv+v], n)
							}
							init = k.b.NewSelect(first, binit, prev)
						}
						inits = append(inits, init)
					}
				}
				// The A and B element pointers advance with the loop (phis
				// beside the accumulators): the loads' addresses are
				// base + constant, with or without llc's loop strength
				// reduction.
				aStep := rows
				rowOff := func(r int) int { return r }
				if !g.aPacked {
					aStep = 1
					rowOff = func(r int) int { return r * g.K }
				}
				a0 := k.at(g.a, k.aIdx(g, i0, 0, rows, pc))
				b0 := k.at(g.bp, bBase)
				n := len(inits)
				res := k.loopAcc(klen, append(inits, a0, b0), func(p value.Value, st []value.Value) []value.Value {
					acc, ap, bp := st[:n], st[n], st[n+1]
					bv := make([]value.Value, nv)
					for v := range bv {
						bv[v] = k.vload(bp, ci(v*vlen))
					}
					out := make([]value.Value, 0, n+2)
					out = out[:n]
					for r := 0; r < rows; r++ {
						a := k.splat(k.load(ap, ci(rowOff(r))))
						for v := 0; v < nv; v++ {
							out[r*nv+v] = k.b.NewCall(fma, a, bv[v], acc[r*nv+v])
						}
					}
					return append(out, k.at(ap, ci(aStep)), k.at(bp, ci(nrCol)))
				})
				acc := res[:n]
				for r := 0; r < rows; r++ {
					for v := 0; v < nv; v++ {
						n := cols - v*vlen
						if n <= 0 {
							continue
						}
						x := acc[r*nv+v]
						if g.epiArgs != nil {
							y := k.vepi(g.s, x, g.epiArgs, cidx[r*nv+v], n)
							if c, ok := constInt(kb); !ok || int(c) != last {
								y = k.b.NewSelect(isLast, y, x)
							}
							x = y
						}
						k.vstoreN(x, g.c, cidx[r*nv+v], n)
					}
				}
			}
			nChunks := (fullRB + rbPerChunk - 1) / rbPerChunk
			k.loop(0, nChunks, func(ic value.Value) {
				lo := k.mul(ic, rbPerChunk)
				hi := k.add(lo, ci(rbPerChunk))
				if fullRB%rbPerChunk != 0 {
					h := k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, hi, ci(fullRB)), hi, ci(fullRB))
					hi = h
				}
				if c, ok := constInt(hi); ok && c > int64(fullRB) {
					hi = ci(fullRB)
				}
				k.loop(0, fullP, func(jp value.Value) {
					k.loopV(lo, hi, func(ib value.Value) { tile(ib, jp, mrP, nrCol) })
				})
				if colRem > 0 {
					k.loopV(lo, hi, func(ib value.Value) { tile(ib, ci(fullP), mrP, colRem) })
				}
			})
			if rowRem > 0 {
				k.loop(0, fullP, func(jp value.Value) { tile(ci(fullRB), jp, rowRem, nrCol) })
				if colRem > 0 {
					tile(ci(fullRB), ci(fullP), rowRem, colRem)
				}
			}
		}
		full := g.K / kc
		if full*kc == g.K {
			k.loop(0, full, func(kb value.Value) { body(kb, k.mul(kb, kc), kc) })
		} else {
			k.loop(0, full, func(kb value.Value) { body(kb, k.mul(kb, kc), kc) })
			body(ci(full), ci(full*kc), g.K-full*kc)
		}
	}
}

// kBlocks splits K into nkb blocks of kc (the last one possibly shorter):
// blocks of at most kcBlk, of equal length when a divisor of K allows.
func kBlocks(K int) (nkb, kc int) {
	nkb = (K + kcBlk - 1) / kcBlk
	for n := nkb; n <= 2*nkb && K/n >= kcBlk/2; n++ {
		if K%n == 0 {
			return n, K / n
		}
	}
	kc = (K + nkb - 1) / nkb
	return (K + kc - 1) / kc, kc
}

// packPanels copies the plain matrix B[K][N] at src+off into column panels
// at dst (the last panel's extra columns are left as they are: the
// micro-kernel's lanes are independent and those are never stored).
func (k *kfn) packPanels(src, off, dst value.Value, K, N int) { k.packPanelsS(src, off, dst, K, N, N) }

// packPanelsS is packPanels of a matrix whose rows are ld elements apart.
func (k *kfn) packPanelsS(src, off, dst value.Value, K, N, ld int) {
	fullP := N / nrCol
	k.loop(0, fullP, func(jp value.Value) {
		k.loop(0, K, func(p value.Value) {
			s := k.add(off, k.madd(p, ld, k.mul(jp, nrCol)))
			d := k.mul(k.madd(jp, K, p), nrCol)
			for v := 0; v < nv; v++ {
				k.vstore(k.vload(src, k.add(s, ci(v*vlen))), dst, k.add(d, ci(v*vlen)))
			}
		})
	})
	if rem := N % nrCol; rem > 0 {
		k.loop(0, K, func(p value.Value) {
			s := k.add(off, k.madd(p, ld, ci(fullP*nrCol)))
			d := k.mul(k.madd(ci(fullP), K, p), nrCol)
			k.loop(0, rem, func(j value.Value) { k.store(k.load(src, k.add(s, j)), dst, k.add(d, j)) })
		})
	}
}
