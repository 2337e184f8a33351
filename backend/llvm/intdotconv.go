package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// intConvDot emits an intPanelStep with i8 weights on the target's dot
// product (intdot.go): B packed in quad panels, into Scratch by im2col
// per band of output rows (intdotim2col.go; a band's quad panels take at
// most the bytes of the whole plane's i16 pair panels Scratch was sized
// for) or, for pointwise convs, from the input onto the stack in groups
// of panels; then tiles of mrD rows × 16 columns over every panel.
func (k *kfn) intConvDot(s *codegen.Step, in []value.Value, y, scratch value.Value) {
	c := s.Conv
	x := in[0]
	isa := k.e.t.dotFor(k.e.p, s)
	nl := isa.lanes()
	nacc := nrCol / nl
	K, P := c.Cg*c.KH*c.KW, c.OH*c.OW
	kq := (K + 3) / 4
	panelB := kq * 64 // bytes of one panel of B
	flip, _ := k.e.t.dotFlip(s.In[0].DType)
	fin := k.requant(s, in)
	corr := k.dotCorr(s)
	corrT := corr.Type().(*types.PointerType).ElemType
	wg := k.b.NewGetElementPtr(k.e.weights.ContentType, k.e.weights, ci(0), ci(int(k.e.intPairs[s])))
	wg.InBounds = true
	quads := k.b.NewBitCast(wg, types.NewPointer(i32))
	i8t := types.I8
	vi := types.NewVector(uint64(nl), i32)
	vb := types.NewVector(uint64(4*nl), i8t)
	v16i8 := types.NewVector(16, i8t)
	// xb8: the byte x' the instruction reads for a stored byte.
	xb8 := func(v value.Value) value.Value {
		if flip {
			return k.b.NewXor(v, constant.NewInt(i8t, -128))
		}
		return v
	}
	pad := constant.NewInt(i8t, int64(int8(s.Rq.ZX)))
	if flip {
		pad = constant.NewInt(i8t, int64(int8(s.Rq.ZX)^-128))
	}
	// tile: rows × cols outputs of row block i0 from the panel at bp0
	// (i8*) whose first column is output position pc0.
	tile := func(n, g, pc0, i0, bp0 value.Value, rows, cols int) {
		inits := make([]value.Value, 0, rows*nacc+2)
		for r := 0; r < rows; r++ {
			m := k.add(k.mul(g, c.Mg), k.add(i0, ci(r)))
			cm := k.b.NewGetElementPtr(corrT, corr, ci(0), m)
			cm.InBounds = true
			b0 := k.b.NewAdd(k.load(in[2], m), k.b.NewLoad(i32, cm))
			bs := k.b.NewShuffleVector(k.b.NewInsertElement(constant.NewUndef(vi), b0, constant.NewInt(i32, 0)),
				constant.NewUndef(vi), constant.NewZeroInitializer(vi))
			for h := 0; h < nacc; h++ {
				inits = append(inits, bs)
			}
		}
		na := len(inits)
		a0 := k.at(quads, k.mul(k.add(k.mul(g, c.Mg), i0), kq))
		res := k.loopAcc(kq, append(inits, a0, bp0), func(_ value.Value, st []value.Value) []value.Value {
			acc := append([]value.Value(nil), st[:na]...)
			ap, bp := st[na], st[na+1]
			bv := make([]value.Value, nacc)
			for h := range bv {
				l := k.b.NewLoad(vb, k.b.NewBitCast(k.at(bp, ci(4*nl*h)), types.NewPointer(vb)))
				l.Align = 1
				bv[h] = l
			}
			for r := 0; r < rows; r++ {
				w := k.bcastQuad(isa, k.load(ap, ci(r)))
				for h := range bv {
					acc[r*nacc+h] = k.dot4(isa, acc[r*nacc+h], bv[h], w)
				}
			}
			return append(acc, k.at(ap, ci(rows)), k.at(bp, ci(64)))
		})
		for r := 0; r < rows; r++ {
			m := k.add(k.mul(g, c.Mg), k.add(i0, ci(r)))
			yr := k.add(k.mul(k.madd(n, c.M, m), P), pc0)
			for h := 0; h*nl < cols; h++ {
				k.storeIntN(fin(res[r*nacc+h], m), y, k.add(yr, ci(h*nl)), s.Out.DType, min(nl, cols-h*nl))
			}
		}
	}
	mr := mrFor(isa)
	full, rem := c.Mg/mr, c.Mg%mr
	rowBlocks := func(body func(i0 value.Value, rows int)) {
		k.loop(0, full, func(ib value.Value) { body(k.mul(ib, mr), mr) })
		if rem > 0 {
			body(ci(full*mr), rem)
		}
	}
	top := make([]constant.Constant, 16)
	for i := range top {
		top[i] = constant.NewInt(i8t, -128)
	}
	var flipV value.Value // xor'ed into vectors of stored bytes for x'
	if flip {
		flipV = constant.NewVector(v16i8, top...)
	}
	if !c.Pointwise {
		col := k.b.NewBitCast(scratch, types.NewPointer(i8t))
		band := k.dotIm2col(s, x, col, kq, panelB, pad, func(i value.Value) value.Value { return xb8(k.load(x, i)) }, flipV)
		k.loop(0, c.N, func(n value.Value) {
			k.loop(0, c.Group, func(g value.Value) {
				band(n, g, func(p0 value.Value, L int) {
					panel := func(jp value.Value, cols int) {
						rowBlocks(func(i0 value.Value, rows int) {
							tile(n, g, k.add(p0, k.mul(jp, nrCol)), i0, k.at(col, k.mul(jp, panelB)), rows, cols)
						})
					}
					k.loop(0, L/nrCol, func(jp value.Value) { panel(jp, nrCol) })
					if L%nrCol != 0 {
						panel(ci(L/nrCol), L%nrCol)
					}
				})
			})
		})
		return
	}
	// Pointwise: B is the input's [Cg, P] matrix. Groups of npG panels
	// (and the partial one) are packed onto the stack, then every row
	// block runs over them.
	npan := (P + nrCol - 1) / nrCol
	npG := max(1, min(npan, (128<<10)/panelB))
	bbuf := k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64((npG+1)*panelB), i8t), 64), types.NewPointer(i8t))
	slot := func(t value.Value) value.Value { return k.at(bbuf, k.mul(t, panelB)) }
	// row16 loads 16 (cols, masked) bytes of row kk of B from bp as x'.
	row16 := func(bp, kk value.Value, cols int) value.Value {
		vp := k.b.NewBitCast(k.at(bp, k.mul(kk, P)), types.NewPointer(v16i8))
		var v value.Value
		if cols >= nrCol {
			l := k.b.NewLoad(v16i8, vp)
			l.Align = 1
			v = l
		} else {
			mask := make([]constant.Constant, 16)
			for i := range mask {
				mask[i] = constant.NewBool(i < cols)
			}
			f := k.e.intrinsic("llvm.masked.load.v16i8.p0v16i8", v16i8, types.NewPointer(v16i8), i32, types.NewVector(16, types.I1), v16i8)
			v = k.b.NewCall(f, vp, constant.NewInt(i32, 1), constant.NewVector(types.NewVector(16, types.I1), mask...), constant.NewZeroInitializer(v16i8))
		}
		if flipV != nil {
			v = k.b.NewXor(v, flipV)
		}
		return v
	}
	v64 := types.NewVector(64, i8t)
	pack := func(bp0, dst value.Value, cols int) {
		k.loop(0, K/4, func(q value.Value) {
			var r [4]value.Value
			for j := range r {
				r[j] = row16(bp0, k.add(k.mul(q, 4), ci(j)), cols)
			}
			st := k.b.NewStore(k.quad(r), k.b.NewBitCast(k.at(dst, k.mul(q, 64)), types.NewPointer(v64)))
			st.Align = 1
		})
		if K%4 != 0 {
			var r [4]value.Value
			for j := range r {
				if kk := K/4*4 + j; kk < K {
					r[j] = row16(bp0, ci(kk), cols)
				} else {
					r[j] = constant.NewZeroInitializer(v16i8)
				}
			}
			st := k.b.NewStore(k.quad(r), k.b.NewBitCast(k.at(dst, ci(K/4*64)), types.NewPointer(v64)))
			st.Align = 1
		}
	}
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), P)
			// group: np panels of 16 columns from panel jp0, then (cols >
			// 0) one of cols columns.
			group := func(jp0 value.Value, np, cols int) {
				at := func(t value.Value) value.Value { return k.at(x, k.add(xb, k.mul(k.add(jp0, t), nrCol))) }
				k.loop(0, np, func(t value.Value) { pack(at(t), slot(t), nrCol) })
				if cols > 0 {
					pack(at(ci(np)), slot(ci(np)), cols)
				}
				rowBlocks(func(i0 value.Value, rows int) {
					k.loop(0, np, func(t value.Value) {
						tile(n, g, k.mul(k.add(jp0, t), nrCol), i0, slot(t), rows, nrCol)
					})
					if cols > 0 {
						tile(n, g, k.mul(k.add(jp0, ci(np)), nrCol), i0, slot(ci(np)), rows, cols)
					}
				})
			}
			fullP, last := P/nrCol, P%nrCol
			ng := fullP / npG
			k.loop(0, ng, func(gi value.Value) { group(k.mul(gi, npG), npG, 0) })
			if lp := fullP - ng*npG; lp > 0 || last > 0 {
				group(ci(ng*npG), lp, last)
			}
		})
	})
}
