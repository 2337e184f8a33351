package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The register-blocked integer conv (constant weights): the im2col matrix,
// x - zx as i16, is packed into Scratch in panels of 16 columns whose rows
// go by pairs (k, k+1) interleaved per column, and the weights are laid
// out as (A[m,k], A[m,k+1]) pairs in row blocks of mrI rows
// (appendIntPairs), sign-extended to i16 lanes as they are broadcast (on AVX2
// targets, once per row block into a stack buffer). The micro-kernel multiplies a
// broadcast weight pair with 8 columns' pairs and adds the two products of
// each column into an i32 lane: the pattern x86 selects as vpmaddwd (the
// form the llvm.x86.avx2.pmadd.wd intrinsic has; plain IR here, so other
// targets compile it too). i16 × i16 products of |x - zx| ≤ 255 and int8
// or zero-centred weights, summed in i32, are exact: the results equal rt's.

// mrI is the number of rows of the integer multiply-add tile (mrI × 16
// columns: 2·mrI <8 x i32> accumulators, 12 of AVX2's 16 registers with
// the two B vectors and a broadcast pair: 4 rows took ~6-9% longer on
// light_resnet50_int8, side by side), mrD the dot-product tile's
// (intdot.go), mrM the vpmaddubsw one's (dotMaddubs: 2·mrM accumulators,
// the two B vectors, the broadcast quad, the ones of vpmaddwd and the
// products).
const (
	mrI = 6
	mrD = 4
	mrM = 5
)

// mrFor is the number of rows of a tile on dot product d (dotNone: the
// i16 pair kernel).
func mrFor(d dotISA) int {
	switch d {
	case dotNone:
		return mrI
	case dotMaddubs:
		return mrM
	}
	return mrD
}

// rowBlock is the number of rows of the blocks appendIntPairs lays s's
// weights out in: mrG for the matrix-vector kernel (intgemv.go), else
// its tile's.
func (t Target) rowBlock(p *codegen.Program, s *codegen.Step) int {
	if intGemvStep(s, t) {
		return mrG
	}
	return mrFor(t.dotFor(p, s))
}

var (
	i16   = types.I16
	v16i6 = types.NewVector(16, types.I16)
	v8i16 = types.NewVector(8, types.I16)
	v8i32 = types.NewVector(8, types.I32)
)

// intPanelStep reports whether s is an integer conv the panel kernel takes:
// constant weights, and either room in Scratch for the i16 panels or a
// pointwise conv with an even K (its B is read from the input in place).
func intPanelStep(s *codegen.Step) bool {
	if s.Kernel != codegen.KConvGemm || s.Rq == nil || s.Rq.BRuntime || s.Conv == nil || len(s.In) < 3 {
		return false
	}
	if s.In[1].Space != codegen.Weights || (s.In[1].DType != pir.I8 && s.In[1].DType != pir.I16) {
		return false
	}
	if intPadStep(s) { // intconvpad.go: the conv on padded planes, weights as they are
		return false
	}
	if dt := s.In[0].DType; dt != pir.U8 && dt != pir.I8 {
		return false
	}
	return intPanelPacked(s) || intPanelDirect(s)
}

// intPanelPacked: the im2col panels fit in Scratch.
func intPanelPacked(s *codegen.Step) bool {
	c := s.Conv
	K, P := c.Cg*c.KH*c.KW, c.OH*c.OW
	kq, pc := (K+1)/2, (P+nrCol-1)/nrCol*nrCol
	return s.Scratch != nil && int64(kq*2*pc*2) <= s.Scratch.Bytes()
}

// intPanelDirect: a pointwise conv of even K, B read from the input.
func intPanelDirect(s *codegen.Step) bool {
	c := s.Conv
	return c.Pointwise && (c.Cg*c.KH*c.KW)%2 == 0
}

// appendIntPairs lays out the weights of every intPanelStep in groups of
// kg = t.kGroup(p, s) consecutive k (pairs for the multiply-add kernel, quads
// for the dot-product one: intdot.go), in the weights' own element type
// (i8 or i16), rows of a block group by group: in place when kg divides K
// and no other step reads the weights (the layout fills the same bytes),
// else appended to w (64-byte aligned; the last group of a row padded with
// zero weights). It returns w and each step's byte offset of its groups.
// The steps of skip (Winograd's) get none.
func appendIntPairs(p *codegen.Program, w []byte, t Target, skip map[*codegen.Step]int64) ([]byte, map[*codegen.Step]int64) {
	offs := map[*codegen.Step]int64{}
	// Weight regions read by anything but a panel step of one geometry
	// stay as they are.
	type geo struct{ G, Mg, K, mr int }
	geos := map[int64]geo{}
	shared := map[int64]bool{}
	var others [][2]int64
	for _, s := range p.Steps {
		panel := intPanelStep(s)
		for i, o := range operands(s) {
			if o.Space != codegen.Weights {
				continue
			}
			if panel && i == 1 {
				c := s.Conv
				g := geo{c.Group, c.Mg, c.Cg * c.KH * c.KW, t.rowBlock(p, s)}
				if old, ok := geos[o.Offset]; ok && old != g {
					shared[o.Offset] = true
				}
				geos[o.Offset] = g
				continue
			}
			others = append(others, [2]int64{o.Offset, o.Offset + o.Bytes()})
		}
	}
	type laid struct {
		off int64
		mr  int
	}
	done := map[laid]int64{}
	copied := false
	for _, s := range p.Steps {
		if _, ok := skip[s]; ok || !intPanelStep(s) {
			continue
		}
		o := s.In[1].Offset
		if off, ok := done[laid{o, t.rowBlock(p, s)}]; ok {
			offs[s] = off
			continue
		}
		c := s.Conv
		K := c.Cg * c.KH * c.KW
		kg := t.kGroup(p, s)
		kq := (K + kg - 1) / kg
		es := s.In[1].DType.Size()
		inPlace := K%kg == 0 && !shared[o]
		for _, r := range others {
			if r[0] < o+s.In[1].Bytes() && o < r[1] {
				inPlace = false
			}
		}
		src := p.Weights[o : o+s.In[1].Bytes()]
		buf := make([]byte, es*c.M*kq*kg)
		mr := t.rowBlock(p, s)
		for g := 0; g < c.Group; g++ {
			for i0 := 0; i0 < c.Mg; i0 += mr {
				rows := min(mr, c.Mg-i0)
				for q := 0; q < kq; q++ {
					for r := 0; r < rows; r++ {
						m := g*c.Mg + i0 + r
						for par := 0; par < kg; par++ {
							if k := kg*q + par; k < K {
								e := ((g*c.Mg+i0)*kq+q*rows+r)*kg + par
								copy(buf[es*e:es*e+es], src[es*(m*K+k):])
							}
						}
					}
				}
			}
		}
		if !copied {
			w = append([]byte(nil), w...) // w may be p.Weights
			copied = true
		}
		off := o
		if inPlace {
			copy(w[o:], buf)
		} else {
			for len(w)%codegen.Align != 0 {
				w = append(w, 0)
			}
			off = int64(len(w))
			w = append(w, buf...)
		}
		offs[s], done[laid{o, t.rowBlock(p, s)}] = off, off
	}
	return w, offs
}

// intConvPanel emits the integer conv of an intPanelStep: on the
// dot-product kernel (intdot.go) where the target has one and the weights
// are i8, else on multiply-adds of i16 pairs.
func (k *kfn) intConvPanel(s *codegen.Step, in []value.Value, y, scratch value.Value) {
	if k.e.t.kGroup(k.e.p, s) == 4 {
		k.intConvDot(s, in, y, scratch)
		return
	}
	c := s.Conv
	x := in[0]
	xdt := s.In[0].DType
	K, P := c.Cg*c.KH*c.KW, c.OH*c.OW
	kq := (K + 1) / 2
	direct := !intPanelPacked(s)
	// tmpOff: where the two plain rows go (i16 elements past the panels),
	// or -1 when Scratch has no room for them.
	tmpOff := -1
	if pc := (P + nrCol - 1) / nrCol * nrCol; !direct && int64(kq*2*pc*2+4*P) <= s.Scratch.Bytes() {
		tmpOff = kq * 2 * pc
	}
	zx := c32(int64(s.Rq.ZX))
	fin := k.requant(s, in)
	col := k.b.NewBitCast(scratch, types.NewPointer(i16))
	wg := k.b.NewGetElementPtr(k.e.weights.ContentType, k.e.weights, ci(0), ci(int(k.e.intPairs[s])))
	wg.InBounds = true
	// A pair is an i32 (i16 weights) or an i16 (i8 weights, widened to
	// i16 lanes as it is broadcast).
	w8 := s.In[1].DType == pir.I8
	pairT := types.Type(types.I32)
	if w8 {
		pairT = i16
	}
	pairs := k.b.NewBitCast(wg, types.NewPointer(pairT))
	// wbuf: on AVX2 targets, i8 pairs are widened to i16 pairs once per
	// block of mrI rows into a stack buffer (mrI·kq i32 pairs), so that the
	// kernel broadcasts a pair straight from memory (vpbroadcastd, a load)
	// instead of broadcasting and sign-extending it per tile (two more
	// shuffle-unit instructions a row per pair: a quarter of the kernel's
	// time). Other targets (the embedded ones) keep their stack small.
	var wbuf value.Value
	if w8 && k.e.t.hasAVX2() {
		w8, pairT = false, types.I32
		wbuf = k.entryAlloca(types.NewArray(uint64(mrI*kq), types.I32), 32)
		wbuf = k.b.NewBitCast(wbuf, types.NewPointer(types.I32))
	}
	v8i16t := types.NewVector(8, i16)
	bcastPair := func(v value.Value) value.Value {
		if !w8 {
			return k.bcastPair32(v)
		}
		a := k.b.NewInsertElement(constant.NewUndef(v8i16t), v, constant.NewInt(types.I32, 0))
		sp := k.b.NewShuffleVector(a, constant.NewUndef(v8i16t), constant.NewZeroInitializer(types.NewVector(8, types.I32)))
		return k.b.NewSExt(k.b.NewBitCast(sp, types.NewVector(16, types.I8)), v16i6)
	}
	bIdx := func(row, pos value.Value) value.Value {
		jp := k.b.NewLShr(pos, ci(4))
		c16 := k.b.NewAnd(pos, ci(15))
		half := k.b.NewLShr(c16, ci(3))
		lane := k.b.NewAnd(c16, ci(7))
		q := k.b.NewLShr(row, ci(1))
		par := k.b.NewAnd(row, ci(1))
		return k.add(k.mul(k.add(k.mul(k.madd(jp, kq, q), 2), half), 16), k.add(k.mul(lane, 2), par))
	}
	v16i8 := types.NewVector(16, types.I8)
	// xbytes loads 16 (cols) bytes of an input row, the rest 0.
	xbytes := func(ptr value.Value, cols int) value.Value {
		vp := k.b.NewBitCast(ptr, types.NewPointer(v16i8))
		if cols >= 16 {
			l := k.b.NewLoad(v16i8, vp)
			l.Align = 1
			return l
		}
		mask := make([]constant.Constant, 16)
		for i := range mask {
			mask[i] = constant.NewBool(i < cols)
		}
		f := k.e.intrinsic("llvm.masked.load.v16i8.p0v16i8", v16i8, types.NewPointer(v16i8), types.I32, types.NewVector(16, types.I1), v16i8)
		return k.b.NewCall(f, vp, constant.NewInt(types.I32, 1), constant.NewVector(types.NewVector(16, types.I1), mask...), constant.NewZeroInitializer(v16i8))
	}
	// pairRows: B's pairs of rows (k, k+1) from the input at bp (16, or
	// cols masked, columns), interleaved per column: two <16 x i16> of
	// x - zx. The bytes interleave first (punpcklbw / punpckhbw) and widen
	// with a zero extension (vpmovzxbw); i8 bytes are flipped to x + 128
	// (xor 0x80) on the way, so that zx + 128 is what is subtracted: nothing
	// for the usual zx of -128 (i8) or 0 (u8).
	zoff := int64(s.Rq.ZX)
	if xdt == pir.I8 {
		zoff += 128
	}
	pairRows := func(bp value.Value, cols int) [2]value.Value {
		r0, r1 := xbytes(bp, cols), xbytes(k.at(bp, ci(P)), cols)
		if xdt == pir.I8 {
			flip := make([]constant.Constant, 16)
			for i := range flip {
				flip[i] = constant.NewInt(types.I8, -128)
			}
			fv := constant.NewVector(v16i8, flip...)
			r0, r1 = k.b.NewXor(r0, fv), k.b.NewXor(r1, fv)
		}
		var out [2]value.Value
		for h, m := range [2]value.Value{
			shuffleMask(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
			shuffleMask(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)} {
			v := value.Value(k.b.NewZExt(k.b.NewShuffleVector(r0, r1, m), v16i6))
			if zoff != 0 {
				e := make([]constant.Constant, 16)
				for i := range e {
					e[i] = constant.NewInt(i16, zoff)
				}
				v = k.b.NewSub(v, constant.NewVector(v16i6, e...))
			}
			out[h] = v
		}
		return out
	}
	// bbuf: for pointwise convs on AVX2 (widened or i16 weights), up to npG panels of
	// B (and a partial one) packed on the stack once (kq·32 i16 each, as the im2col panels),
	// then every row block over them: B built once, not once a row block.
	var bbuf value.Value
	npG := 0
	if direct && k.e.t.hasAVX2() { // i8 pairs widened into wbuf, or i16 pairs read in place
		npG = max(1, min((P+nrCol-1)/nrCol, (128<<10)/(kq*64)))
		bbuf = k.entryAlloca(types.NewArray(uint64((npG+1)*kq*32), i16), 32)
		bbuf = k.b.NewBitCast(bbuf, types.NewPointer(i16))
	}
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), c.H*c.W)
			ld := func(i value.Value) value.Value {
				return k.b.NewTrunc(k.b.NewSub(k.loadInt(x, i, xdt), zx), i16)
			}
			// Blocks of output rows (blockRows on the i16 panels' bytes):
			// each block's panels stay in L2 from their im2col to the GEMM;
			// the last block ends at OH (it may recompute rows: the same
			// values).
			blocked := !direct && tmpOff >= 0
			rowsB := c.OH
			if blocked {
				rowsB = blockRows(c, kq)
			}
			L := rowsB * c.OW
			panelsB := kq * 2 * ((L + nrCol - 1) / nrCol * nrCol)
			tmpB := k.at(col, ci(panelsB))
			// padded: the rows come from padded planes (intim2col.go;
			// on the stack, or in Scratch past the panels), into two
			// plain rows on the stack.
			hp, wp, xpOff, padded := padGeom(s, panelsB)
			padded = padded && blocked
			var xp value.Value
			if padded {
				if xpOff >= 0 {
					xp = k.at(col, ci(xpOff))
				} else {
					xp = k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64(c.Cg*hp*wp+padSlack), i16), 32), types.NewPointer(i16))
				}
				tmpB = k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64(2*L+16), i16), 32), types.NewPointer(i16))
				k.padPlanes(c, xp, hp, wp, func(i value.Value) value.Value { return ld(k.add(xb, i)) })
			}
			nblk := (c.OH + rowsB - 1) / rowsB
			k.loop(0, nblk, func(blk value.Value) {
				oh0 := k.mul(blk, rowsB)
				if nblk*rowsB > c.OH {
					lastStart := ci(c.OH - rowsB)
					oh0 = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, oh0, lastStart), oh0, lastStart)
				}
				p0 := k.mul(oh0, c.OW)
				switch {
				case direct:
				case blocked:
					// Rows into two plain rows past the panels, then each
					// pair interleaved into the panels 16 columns at a time.
					tmpRow := func(row value.Value) value.Value { return k.at(tmpB, k.mul(k.b.NewAnd(row, ci(1)), L)) }
					im2col := func(after func(row value.Value)) {
						if padded {
							k.im2colPadded(c, xp, hp, wp, oh0, rowsB, tmpRow, after)
							return
						}
						k.im2colRows(c, xb, oh0, rowsB, constant.NewInt(i16, 0), ld, tmpRow, after)
					}
					im2col(
						func(row value.Value) {
							odd := k.b.NewICmp(enum.IPredEQ, k.b.NewAnd(row, ci(1)), ci(1))
							last := k.b.NewICmp(enum.IPredEQ, row, ci(K-1))
							k.if_(k.b.NewOr(odd, last), func() {
								q := k.b.NewLShr(row, ci(1))
								k.loop(0, L/nrCol, func(jp value.Value) {
									ld16 := func(off value.Value) value.Value {
										l := k.b.NewLoad(v16i6, k.b.NewBitCast(k.at(tmpB, off), types.NewPointer(v16i6)))
										l.Align = 2
										return l
									}
									t0, t1 := ld16(k.mul(jp, nrCol)), ld16(k.add(ci(L), k.mul(jp, nrCol)))
									for h, m := range [2]value.Value{
										shuffleMask(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
										shuffleMask(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)} {
										d := k.mul(k.add(k.mul(k.madd(jp, kq, q), 2), ci(h)), 16)
										st := k.b.NewStore(k.b.NewShuffleVector(t0, t1, m), k.b.NewBitCast(k.at(col, d), types.NewPointer(v16i6)))
										st.Align = 2
									}
								})
								k.loop(L/nrCol*nrCol, L, func(j value.Value) {
									r0 := k.b.NewShl(q, ci(1))
									k.store(k.load(tmpB, j), col, bIdx(r0, j))
									k.store(k.load(tmpB, k.add(ci(L), j)), col, bIdx(k.b.NewOr(r0, ci(1)), j))
								})
							})
						})
				default:
					k.im2colD(c, xb, constant.NewInt(i16, 0), ld, colDst{ptr: col, idx: bIdx})
				}
				// tile: rows × cols outputs from the pairs at a0 (row block
				// i0's pairs, or their i16 copy in wbuf).
				tile := func(jp, i0 value.Value, rows int, cols int, a0, bsrc value.Value) {
					// bsrc: the panel of B packed on the stack (pointwise
					// convs on AVX2), else B from the input or Scratch.
					direct := direct && bsrc == nil
					// halves: B vectors of 8 columns a pair (a last panel of
					// at most 8 columns takes one: half the multiplies).
					halves := 2
					if cols <= vlen {
						halves = 1
					}
					inits := make([]value.Value, 0, rows*2+2)
					for r := 0; r < rows; r++ {
						m := k.add(k.mul(g, c.Mg), k.add(i0, ci(r)))
						b := k.b.NewInsertElement(constant.NewUndef(v8i32), k.load(in[2], m), constant.NewInt(types.I32, 0))
						bs := k.b.NewShuffleVector(b, constant.NewUndef(v8i32), constant.NewZeroInitializer(v8i32))
						for range halves {
							inits = append(inits, bs)
						}
					}
					var b0 value.Value
					bStep := 32
					if direct {
						b0 = k.at(x, k.add(xb, k.add(p0, k.mul(jp, nrCol))))
						bStep = 2 * P
					} else if bsrc != nil {
						b0 = bsrc
					} else {
						b0 = k.at(col, k.mul(jp, kq*32))
					}
					loadB := func(bp value.Value) []value.Value { return k.loadV16Pair(bp)[:halves] }
					if direct {
						loadB = func(bp value.Value) []value.Value { b := pairRows(bp, cols); return b[:halves] }
					}
					res := k.pairTile(kq, rows, len(inits), inits, a0, b0, bStep, bcastPair, loadB)
					for r := 0; r < rows; r++ {
						m := k.add(k.mul(g, c.Mg), k.add(i0, ci(r)))
						yr := k.add(k.add(k.mul(k.madd(n, c.M, m), P), p0), k.mul(jp, nrCol))
						if cols == 2*vlen {
							k.storeInt16(fin(res[2*r], m), fin(res[2*r+1], m), y, yr, s.Out.DType, inRangeRq(s))
							continue
						}
						for h := 0; h*vlen < cols; h++ {
							k.storeIntN(fin(res[halves*r+h], m), y, k.add(yr, ci(h*vlen)), s.Out.DType, min(vlen, cols-h*vlen))
						}
					}
				}
				full, rem := c.Mg/mrI, c.Mg%mrI
				blockA := func(i0 value.Value) value.Value {
					return k.at(pairs, k.add(k.mul(g, c.Mg*kq), k.mul(i0, kq)))
				}
				widen := func(i0 value.Value, rows int) {
					src := k.b.NewBitCast(blockA(i0), types.NewPointer(types.I8))
					dst := k.b.NewBitCast(wbuf, types.NewPointer(i16))
					k.loop(0, rows*kq*2, func(e value.Value) {
						k.store(k.b.NewSExt(k.load(src, e), i16), dst, e)
					})
				}
				if bbuf != nil {
					// Groups of npG panels: B packed into bbuf, then each
					// row block's pairs widened into wbuf and run over
					// the group's panels.
					slot := func(t value.Value) value.Value { return k.at(bbuf, k.mul(t, kq*32)) }
					group := func(jp0 value.Value, np, cols int) {
						// np panels of 16 columns from jp0, then (cols > 0)
						// one of cols columns.
						pack := func(jp, t value.Value, cols int) {
							bp0 := k.at(x, k.add(xb, k.add(p0, k.mul(jp, nrCol))))
							k.loop(0, kq, func(q value.Value) {
								bv := pairRows(k.at(bp0, k.mul(q, 2*P)), cols)
								for h := range bv {
									st := k.b.NewStore(bv[h], k.b.NewBitCast(k.at(slot(t), k.madd(q, 32, ci(16*h))), types.NewPointer(v16i6)))
									st.Align = 2
								}
							})
						}
						k.loop(0, np, func(t value.Value) { pack(k.add(jp0, t), t, nrCol) })
						if cols > 0 {
							pack(k.add(jp0, ci(np)), ci(np), cols)
						}
						rowBlock := func(i0 value.Value, rows int) {
							a0 := blockA(i0) // i16 pairs in place
							if wbuf != nil {
								widen(i0, rows)
								a0 = wbuf
							}
							k.loop(0, np, func(t value.Value) { tile(k.add(jp0, t), i0, rows, nrCol, a0, slot(t)) })
							if cols > 0 {
								tile(k.add(jp0, ci(np)), i0, rows, cols, a0, slot(ci(np)))
							}
						}
						k.loop(0, full, func(ib value.Value) { rowBlock(k.mul(ib, mrI), mrI) })
						if rem > 0 {
							rowBlock(ci(full*mrI), rem)
						}
					}
					fullP, last := L/nrCol, L%nrCol
					ng := fullP / npG // the last group: fewer panels, and the partial one
					k.loop(0, ng, func(gi value.Value) { group(k.mul(gi, npG), npG, 0) })
					if lp := fullP - ng*npG; lp > 0 || last > 0 {
						group(ci(ng*npG), lp, last)
					}
					return
				}
				if wbuf != nil {
					// Row blocks outer: each block's i8 pairs widened
					// once into wbuf, then every panel of columns.
					rowBlock := func(i0 value.Value, rows int) {
						widen(i0, rows)
						k.loop(0, L/nrCol, func(jp value.Value) { tile(jp, i0, rows, nrCol, wbuf, nil) })
						if L%nrCol != 0 {
							tile(ci(L/nrCol), i0, rows, L%nrCol, wbuf, nil)
						}
					}
					k.loop(0, full, func(ib value.Value) { rowBlock(k.mul(ib, mrI), mrI) })
					if rem > 0 {
						rowBlock(ci(full*mrI), rem)
					}
					return
				}
				panels := func(jp value.Value, cols int) {
					k.loop(0, full, func(ib value.Value) { i0 := k.mul(ib, mrI); tile(jp, i0, mrI, cols, blockA(i0), nil) })
					if rem > 0 {
						tile(jp, ci(full*mrI), rem, cols, blockA(ci(full*mrI)), nil)
					}
				}
				k.loop(0, L/nrCol, func(jp value.Value) { panels(jp, nrCol) })
				if L%nrCol != 0 {
					panels(ci(L/nrCol), L%nrCol)
				}
			})
		})
	})
}
