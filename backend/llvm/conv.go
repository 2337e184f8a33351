package llvm

import (
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// validRange is the range [lo, hi) of output positions o in [0, n) for
// which o*stride + off lies in [0, size).
func validRange(off, stride, size, n int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = n
	if last := size - 1 - off; last < 0 {
		hi = 0
	} else if h := last/stride + 1; h < hi {
		hi = h
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

func (k *kfn) fadd(a, b value.Value) value.Value {
	i := k.b.NewFAdd(a, b)
	i.FastMathFlags = []enum.FastMathFlag{enum.FastMathFlagContract}
	return i
}

func (k *kfn) fmul(a, b value.Value) value.Value {
	i := k.b.NewFMul(a, b)
	i.FastMathFlags = []enum.FastMathFlag{enum.FastMathFlagContract}
	return i
}

// fill stores v into ptr[off : off+n].
func (k *kfn) fill(ptr, off value.Value, n int, v value.Value) {
	k.loop(0, n, func(j value.Value) { k.store(v, ptr, k.add(off, j)) })
}

// im2col writes the column matrix of one group's input (Cg × H×W at xb)
// into col (Cg*KH*KW × OH*OW); padding reads as zero.
func (k *kfn) im2col(c *codegen.Conv, x, xb, col value.Value) {
	k.im2colG(c, xb, col, cf(0), 0, func(i value.Value) value.Value { return k.load(x, i) })
}

// colDst is where im2col writes: element idx(row, pos) of ptr, then
// after(row) once a row is complete (nil: nothing).
type colDst struct {
	ptr   value.Value
	idx   func(row, pos value.Value) value.Value
	after func(row value.Value)
}

// im2colG is im2col with the element load ld(index of x) and padding zero,
// into col in the plain layout (pk == 0) or the column panels of a pk-row
// matrix.
func (k *kfn) im2colG(c *codegen.Conv, xb, col, zero value.Value, pk int, ld func(i value.Value) value.Value) {
	osz := c.OH * c.OW
	k.im2colD(c, xb, zero, ld, colDst{ptr: col, idx: func(row, pos value.Value) value.Value { return k.panelIdx(row, pos, osz, pk) }})
}

// im2colPanels is im2colG into the column panels of col (pk = Cg*KH*KW
// rows) through tmp, room for one plain row of OH*OW elements: each row is
// written there contiguously (loops opt vectorizes), then copied into the
// panels 16 elements at a time (the panel layout's element-wise stores do
// not vectorize).
func (k *kfn) im2colPanels(c *codegen.Conv, xb, col, tmp value.Value, ld func(i value.Value) value.Value) {
	osz := c.OH * c.OW
	pk := c.Cg * c.KH * c.KW
	full, rem := osz/nrCol, osz%nrCol
	k.im2colD(c, xb, cf(0), ld, colDst{ptr: tmp,
		idx: func(row, pos value.Value) value.Value { return pos },
		after: func(row value.Value) {
			k.loop(0, full, func(jp value.Value) {
				s := k.mul(jp, nrCol)
				d := k.mul(k.madd(jp, pk, row), nrCol)
				for v := 0; v < nv; v++ {
					k.vstore(k.vload(tmp, k.add(s, ci(v*vlen))), col, k.add(d, ci(v*vlen)))
				}
			})
			if rem > 0 {
				d := k.mul(k.madd(ci(full), pk, row), nrCol)
				k.loop(0, rem, func(j value.Value) { k.store(k.load(tmp, k.add(ci(full*nrCol), j)), col, k.add(d, j)) })
			}
		}})
}

// im2colD is im2col into dst. The kernel offsets are a loop, not unrolled,
// in compact programs: a 7×7 kernel would otherwise emit 49 copies of the
// row loops for opt and llc to compile.
func (k *kfn) im2colD(c *codegen.Conv, xb, zero value.Value, ld func(i value.Value) value.Value, dst colDst) {
	if !k.e.compact {
		k.im2colUnrolled(c, xb, zero, ld, dst)
		return
	}
	col := dst.ptr
	k.loop(0, c.Cg, func(chn value.Value) {
		xc := k.add(xb, k.mul(chn, c.H*c.W))
		k.loop(0, c.KH, func(kh value.Value) {
			offH := k.add(k.mul(kh, c.DH), ci(-c.PT))
			ohLo, ohHi := k.validRangeV(offH, c.SH, c.H, c.OH)
			k.loop(0, c.KW, func(kw value.Value) {
				row := k.madd(k.madd(chn, c.KH, kh), c.KW, kw)
				fill := func(pos, n value.Value) {
					k.fillV2(n, func(j value.Value) { k.store(zero, col, dst.idx(row, k.add(pos, j))) })
				}
				off := k.add(k.mul(kw, c.DW), ci(-c.PL))
				lo, hi := k.validRangeV(off, c.SW, c.W, c.OW)
				fill(ci(0), k.mulV(ohLo, c.OW))
				k.loopV(ohLo, ohHi, func(oh value.Value) {
					ih := k.add(k.mul(oh, c.SH), offH)
					xr := k.add(k.add(xc, k.mul(ih, c.W)), off)
					dr := k.mul(oh, c.OW)
					fill(dr, lo)
					k.loopV(lo, hi, func(ow value.Value) {
						k.store(ld(k.add(xr, k.mul(ow, c.SW))), col, dst.idx(row, k.add(dr, ow)))
					})
					fill(k.add(dr, hi), k.subV(ci(c.OW), hi))
				})
				fill(k.mulV(ohHi, c.OW), k.mulV(k.subV(ci(c.OH), ohHi), c.OW))
				if dst.after != nil {
					dst.after(row)
				}
			})
		})
	})
}

// fillV2 runs body(j) for j in [0, n), n computed at run time.
func (k *kfn) fillV2(n value.Value, body func(j value.Value)) {
	if c, ok := constInt(n); ok {
		k.loop(0, int(c), body)
		return
	}
	k.loopV(ci(0), n, body)
}

// im2colUnrolled is im2colD with the kernel offsets unrolled (small programs:
// constant bounds let opt vectorize and unroll every row copy).
func (k *kfn) im2colUnrolled(c *codegen.Conv, xb, zero value.Value, ld func(i value.Value) value.Value, dst colDst) {
	osz := c.OH * c.OW
	col := dst.ptr
	k.loop(0, c.Cg, func(chn value.Value) {
		xc := k.add(xb, k.mul(chn, c.H*c.W))
		for kh := 0; kh < c.KH; kh++ {
			ohLo, ohHi := validRange(kh*c.DH-c.PT, c.SH, c.H, c.OH)
			for kw := 0; kw < c.KW; kw++ {
				row := k.madd(chn, c.KH*c.KW, ci(kh*c.KW+kw))
				fill := func(pos value.Value, n int) {
					k.loop(0, n, func(j value.Value) { k.store(zero, col, dst.idx(row, k.add(pos, j))) })
				}
				off := kw*c.DW - c.PL
				lo, hi := validRange(off, c.SW, c.W, c.OW)
				if hi <= lo || ohHi <= ohLo {
					fill(ci(0), osz)
				} else {
					fill(ci(0), ohLo*c.OW)
					k.loop(ohLo, ohHi, func(oh value.Value) {
						ih := k.add(k.mul(oh, c.SH), ci(kh*c.DH-c.PT))
						xr := k.add(xc, k.mul(ih, c.W))
						dr := k.mul(oh, c.OW)
						fill(dr, lo)
						k.loop(lo, hi, func(ow value.Value) {
							k.store(ld(k.add(xr, k.add(k.mul(ow, c.SW), ci(off)))), col, dst.idx(row, k.add(dr, ow)))
						})
						fill(k.add(dr, ci(hi)), c.OW-hi)
					})
					fill(ci(ohHi*c.OW), (c.OH-ohHi)*c.OW)
				}
				if dst.after != nil {
					dst.after(row)
				}
			}
		}
	})
}

// validRangeV is validRange with off computed at run time (constants fold).
func (k *kfn) validRangeV(off value.Value, stride, size, n int) (lo, hi value.Value) {
	if c, ok := constInt(off); ok {
		l, h := validRange(int(c), stride, size, n)
		return ci(l), ci(h)
	}
	// lo = off < 0 ? (-off + stride-1) / stride : 0
	neg := k.b.NewSub(ci(stride-1), off)
	lo = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, off, ci(0)), k.b.NewSDiv(neg, ci(stride)), ci(0))
	// hi = last < 0 ? 0 : min(n, last/stride + 1), last = size-1-off
	last := k.b.NewSub(ci(size-1), off)
	h := k.b.NewAdd(k.b.NewSDiv(last, ci(stride)), ci(1))
	h2 := k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, h, ci(n)), h, ci(n))
	hi = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, last, ci(0)), ci(0), h2)
	lo = k.b.NewSelect(k.b.NewICmp(enum.IPredSGT, lo, hi), hi, lo)
	return lo, hi
}

// fillV stores v into ptr[off : off+n], n computed at run time.
func (k *kfn) fillV(ptr, off, n, v value.Value) {
	if c, ok := constInt(n); ok {
		k.fill(ptr, off, int(c), v)
		return
	}
	k.loopV(ci(0), n, func(j value.Value) { k.store(v, ptr, k.add(off, j)) })
}

func (k *kfn) mulV(a value.Value, n int) value.Value { return k.mul(a, n) }

// subV is a - b (constants fold).
func (k *kfn) subV(a, b value.Value) value.Value {
	x, xa := constInt(a)
	y, yb := constInt(b)
	switch {
	case xa && yb:
		return ci(int(x - y))
	case yb && y == 0:
		return a
	}
	i := k.b.NewSub(a, b)
	i.OverflowFlags = []enum.OverflowFlag{enum.OverflowFlagNSW}
	return i
}

// colBlockBytes bounds the column panels of one block of output rows
// (convBlocks): they stay in L2 from their im2col to their GEMM.
const colBlockBytes = 192 << 10

// rowUnit is the fewest output rows that make whole panels of columns.
func rowUnit(c *codegen.Conv) int {
	g := 1
	for g < nrCol && c.OW%(2*g) == 0 {
		g *= 2
	}
	return nrCol / g
}

// blockRows is the number of output rows of a column block: whole rows, a
// multiple of the rows that make whole panels, within colBlockBytes when
// it can; OH when one block covers them all.
func blockRows(c *codegen.Conv, K int) int {
	unit := rowUnit(c)
	rows := unit
	for rows+unit <= c.OH && K*(rows+unit)*c.OW*4 <= colBlockBytes {
		rows += unit
	}
	if rows >= c.OH {
		return c.OH
	}
	return rows
}

// ifElse emits if cond { then() } else { els() }.
func (k *kfn) ifElse(cond value.Value, then, els func()) {
	tb, eb, done := k.f.NewBlock(""), k.f.NewBlock(""), k.f.NewBlock("")
	k.b.NewCondBr(cond, tb, eb)
	k.b = tb
	then()
	k.b.NewBr(done)
	k.b = eb
	els()
	k.b.NewBr(done)
	k.b = done
}

// im2colBlock writes the column panels (pk = K rows) of output rows
// [oh0, oh0+rows) into col, each row of the matrix first as a plain row in
// tmp (rows*OW elements), then copied into the panels.
func (k *kfn) im2colBlock(c *codegen.Conv, x, xb, oh0 value.Value, rows int, col, tmp value.Value) {
	L := rows * c.OW
	pk := c.Cg * c.KH * c.KW
	full, rem := L/nrCol, L%nrCol
	k.im2colRows(c, xb, oh0, rows, cf(0), func(i value.Value) value.Value { return k.load(x, i) },
		func(row value.Value) value.Value { return tmp },
		func(row value.Value) {
			k.loop(0, full, func(jp value.Value) {
				s := k.mul(jp, nrCol)
				d := k.mul(k.madd(jp, pk, row), nrCol)
				for v := 0; v < nv; v++ {
					k.vstore(k.vload(tmp, k.add(s, ci(v*vlen))), col, k.add(d, ci(v*vlen)))
				}
			})
			if rem > 0 {
				d := k.mul(k.madd(ci(full), pk, row), nrCol)
				k.loop(0, rem, func(j value.Value) { k.store(k.load(tmp, k.add(ci(full*nrCol), j)), col, k.add(d, j)) })
			}
		})
}

// im2colRows writes every row of the im2col matrix over output rows
// [oh0, oh0+rows) as a plain row (rows·OW elements, ld(index of x), zero
// for padding) at tmp(row), then calls after(row).
func (k *kfn) im2colRows(c *codegen.Conv, xb, oh0 value.Value, rows int, zero value.Value, ld func(i value.Value) value.Value,
	tmp func(row value.Value) value.Value, after func(row value.Value)) {
	k.loop(0, c.Cg, func(chn value.Value) {
		xc := k.add(xb, k.mul(chn, c.H*c.W))
		k.loop(0, c.KH, func(kh value.Value) {
			offH := k.add(k.mul(kh, c.DH), ci(-c.PT))
			k.loop(0, c.KW, func(kw value.Value) {
				row := k.madd(k.madd(chn, c.KH, kh), c.KW, kw)
				t := tmp(row)
				fill := func(pos value.Value, n value.Value) {
					k.fillV2(n, func(j value.Value) { k.store(zero, t, k.add(pos, j)) })
				}
				off := k.add(k.mul(kw, c.DW), ci(-c.PL))
				lo, hi := k.validRangeV(off, c.SW, c.W, c.OW)
				k.loop(0, rows, func(i value.Value) {
					ih := k.add(k.mul(k.add(oh0, i), c.SH), offH)
					dr := k.mul(i, c.OW)
					valid := k.b.NewICmp(enum.IPredULT, ih, ci(c.H))
					k.ifElse(valid, func() {
						xr := k.add(k.add(xc, k.mul(ih, c.W)), off)
						fill(dr, lo)
						k.loopV(lo, hi, func(ow value.Value) {
							k.store(ld(k.add(xr, k.mul(ow, c.SW))), t, k.add(dr, ow))
						})
						fill(k.add(dr, hi), k.subV(ci(c.OW), hi))
					}, func() { fill(dr, ci(c.OW)) })
				})
				after(row)
			})
		})
	})
}

// convGemm: per batch entry and group, and per block of output rows
// (blockRows: the block's column panels stay in cache), im2col into the
// column panels of scratch (pointwise convs: a packing pass of the input),
// then the blocked GEMM of the weights [Mg × Cg*KH*KW] with the panels
// (gemmPanels).
func (k *kfn) convGemm(s *codegen.Step, in []value.Value, y, scratch value.Value, epiArgs []value.Value) error {
	c := s.Conv
	x, w := in[0], in[1]
	K := c.Cg * c.KH * c.KW
	P := c.OH * c.OW
	if !fusedEpi(s) {
		epiArgs = nil
	} else if epiArgs == nil {
		epiArgs = []value.Value{}
	}
	if pl := k.e.winoF32[s]; pl != nil {
		k.convWinograd(s, pl, in, y, scratch, epiArgs)
		return nil
	}
	// im2col through a temporary row in the output when the output
	// overlaps no input (it is written only by the GEMM that follows).
	tmpOK := c.Mg >= 1
	for i := range s.In {
		if overlap(&s.In[i], &s.Out) {
			tmpOK = false
		}
	}
	if k.e.directConv(s) {
		k.convDirect(s, in, y, scratch, epiArgs)
		return nil
	}
	if !tmpOK && !c.Pointwise {
		return k.convGemmWhole(s, in, y, scratch, epiArgs)
	}
	rows := blockRows(c, K)
	nblk := (c.OH + rows - 1) / rows
	L := rows * c.OW
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), c.H*c.W)
			cOff := k.mul(k.madd(n, c.M, k.mul(g, c.Mg)), P)
			// The last block ends at OH (it may recompute rows of the one
			// before: the same values).
			k.loop(0, nblk, func(b value.Value) {
				oh0 := k.mul(b, rows)
				if nblk*rows > c.OH {
					lastStart := ci(c.OH - rows)
					oh0 = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, oh0, lastStart), oh0, lastStart)
				}
				p0 := k.mul(oh0, c.OW)
				if c.Pointwise {
					k.packPanelsS(x, k.add(xb, p0), scratch, K, L, P)
				} else {
					k.im2colBlock(c, x, xb, oh0, rows, scratch, k.at(y, k.add(cOff, p0)))
				}
				gm := panelGemm{M: c.Mg, N: L, K: K, a: w, aOff: k.mul(g, c.Mg*K), bp: scratch,
					c: y, cOff: k.add(cOff, p0), ldc: P, s: s, epiArgs: epiArgs, aPacked: k.e.packedA[s]}
				if c.Bias {
					gm.bias, gm.bOff = in[2], k.mul(g, c.Mg)
				}
				k.gemmPanels(gm)
			})
		})
	})
	return nil
}

// convGemmWhole is convGemm in one block, im2col element by element into
// the panels (the output overlaps an input: no temporary row there).
func (k *kfn) convGemmWhole(s *codegen.Step, in []value.Value, y, scratch value.Value, epiArgs []value.Value) error {
	c := s.Conv
	x, w := in[0], in[1]
	K := c.Cg * c.KH * c.KW
	P := c.OH * c.OW
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), c.H*c.W)
			cOff := k.mul(k.madd(n, c.M, k.mul(g, c.Mg)), P)
			k.im2colG(c, xb, scratch, cf(0), K, func(i value.Value) value.Value { return k.load(x, i) })
			gm := panelGemm{M: c.Mg, N: P, K: K, a: w, aOff: k.mul(g, c.Mg*K), bp: scratch,
				c: y, cOff: cOff, s: s, epiArgs: epiArgs, aPacked: k.e.packedA[s]}
			if c.Bias {
				gm.bias, gm.bOff = in[2], k.mul(g, c.Mg)
			}
			k.gemmPanels(gm)
		})
	})
	return nil
}

// gemmArgs is one C = alpha·A·B (+ bias) with element offsets into each operand.
type gemmArgs struct {
	M, N, K          int
	transA, transB   bool
	a, b, c          value.Value
	aOff, bOff, cOff value.Value
	rowBias, colBias value.Value // per output row (conv) or column (dense)
	biasOff          value.Value
	alpha            float32
}

// gemmCore emits the GEMM: register blocks (gemmBlocked) where the shapes
// allow, and rows of axpy updates C[i,:] += A[i,p]·B[p,:] elsewhere, which
// vectorize along the row; then alpha and a column bias.
func (k *kfn) gemmCore(g gemmArgs) {
	aIdx := func(i, p value.Value) value.Value {
		if g.transA {
			return k.add(g.aOff, k.madd(p, g.M, i))
		}
		return k.add(g.aOff, k.madd(i, g.K, p))
	}
	bIdx := func(p, j value.Value) value.Value {
		if g.transB {
			return k.add(g.bOff, k.madd(j, g.K, p))
		}
		return k.add(g.bOff, k.madd(p, g.N, j))
	}
	rows, cols := k.gemmBlocked(g)
	// axpy over the columns the blocks left (rows they covered), then over
	// whole rows they left.
	axpy := func(i value.Value, j0 int) {
		crow := k.add(g.cOff, k.mul(i, g.N))
		init := value.Value(cf(0))
		if g.rowBias != nil {
			init = k.load(g.rowBias, k.add(g.biasOff, i))
		}
		k.fill(g.c, k.add(crow, ci(j0)), g.N-j0, init)
		k.loop(0, g.K, func(p value.Value) {
			av := k.load(g.a, aIdx(i, p))
			k.loop(j0, g.N, func(j value.Value) {
				cj := k.add(crow, j)
				k.store(k.fadd(k.load(g.c, cj), k.fmul(av, k.load(g.b, bIdx(p, j)))), g.c, cj)
			})
		})
	}
	if cols < g.N {
		k.loop(0, rows, func(i value.Value) { axpy(i, cols) })
	}
	k.loop(rows, g.M, func(i value.Value) { axpy(i, 0) })
	if g.alpha != 1 || g.colBias != nil {
		k.loop(0, g.M, func(i value.Value) {
			crow := k.add(g.cOff, k.mul(i, g.N))
			k.loop(0, g.N, func(j value.Value) {
				cj := k.add(crow, j)
				v := k.load(g.c, cj)
				if g.alpha != 1 {
					v = k.b.NewFMul(v, cf(g.alpha))
				}
				if g.colBias != nil {
					v = k.b.NewFAdd(v, k.load(g.colBias, j))
				}
				k.store(v, g.c, cj)
			})
		})
	}
}

// gemm: the dense layer and matmul, one GEMM per batch entry.
func (k *kfn) gemm(s *codegen.Step, in []value.Value, out value.Value, rest []value.Value) error {
	if s.Kernel == codegen.KGemm && k.e.packedA[s] {
		k.gemmPanelB(s, in, out, rest)
		return nil
	}
	gm := s.Gemm
	for _, bt := range gm.Batch {
		g := gemmArgs{M: gm.M, N: gm.N, K: gm.K, transA: gm.TransA, transB: gm.TransB, a: in[0], b: in[1], c: out,
			aOff: ci(bt[0]), bOff: ci(bt[1]), cOff: ci(bt[2]), alpha: gm.Alpha}
		if gm.Bias {
			g.colBias = in[2]
		}
		k.gemmCore(g)
	}
	return nil
}
