package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// The dot kernel's im2col (intConvDot, convs that are not pointwise), per
// band of output rows (dotBandRows: a band's panels stay in L2 from their
// im2col to the tiles that read them). Each row of the matrix over the
// band is written as a plain row of L bytes (x', the bytes the instruction
// reads) into one of 4 rows on the stack; once a quad of rows is there, it
// is interleaved into the band's panels 16 columns at a time (quad). The
// plain rows come, by whole <16 x i8> vectors with no bounds (stride 2:
// the even bytes of two), from planes where every position a conv reads
// lies within the plane or the slack after it: the group's input itself
// when the conv reads no padding and no byte past the tensor (dotDirect),
// else a copy of the group's planes padded with the byte zx + d on the
// stack (dotPadded); else the rows are gathered a byte at a time with
// bounds (im2colRows). light_resnet50 int8 (pair-bound) on vpmaddubsw,
// perf share × median: 7×7 of 64 rows 6.2 → 1.8 ms, 3×3 stride 2 of 128
// rows 4.6 → 1.6.

// dotPlanesMaxBytes bounds the padded planes on the stack (a variable for
// tests, which take convs to im2colRows).
var dotPlanesMaxBytes = padMaxBytes

// dotBandBytes bounds the quad panels of a band.
const dotBandBytes = 192 << 10

// dotBandRows is the number of output rows of a band of a conv of kq
// quads of k: whole panels (a multiple of rowUnit) within dotBandBytes
// when it can, OH when one band covers them all; else, of the bands of
// that many rows or fewer, those that recompute the fewest rows (the last
// band ends at OH and overlaps the one before), the largest of them.
func dotBandRows(c *codegen.Conv, kq int) int {
	unit := rowUnit(c)
	most := max(unit, dotBandBytes/(kq*4*c.OW)/unit*unit)
	if most >= c.OH {
		return c.OH
	}
	best, bestRows := 0, 0
	for nb := (c.OH + most - 1) / most; nb <= (c.OH+unit-1)/unit; nb++ {
		rows := ((c.OH+nb-1)/nb + unit - 1) / unit * unit
		if best == 0 || nb*rows < best {
			best, bestRows = nb*rows, rows
		}
	}
	return bestRows
}

// dotSrc is where the dot im2col reads its rows.
type dotSrc int

const (
	dotRows   dotSrc = iota // im2colRows: bytes of the input, bounds checked
	dotDirect               // the input, by vectors
	dotPadded               // padded planes on the stack, by vectors
)

// dotPlanes returns where the im2col of s reads, the planes' rows and row
// length, and the bytes the vector copies read from a group's first
// plane (the padded planes' size).
func dotPlanes(s *codegen.Step) (src dotSrc, hp, wp, n int) {
	c := s.Conv
	if c.SW != 1 && c.SW != 2 {
		return dotRows, 0, 0, 0
	}
	needH, needW := (c.OH-1)*c.SH+(c.KH-1)*c.DH+1, (c.OW-1)*c.SW+(c.KW-1)*c.DW+1
	// read: one past the last byte read from planes of hp×wp.
	read := func(hp, wp int) int {
		return ((c.Cg-1)*hp+needH-1)*wp + (c.KW-1)*c.DW + 16*c.SW*((c.OW+15)/16)
	}
	if c.PT == 0 && c.PL == 0 && needH <= c.H && needW <= c.W && read(c.H, c.W) <= c.Cg*c.H*c.W {
		return dotDirect, c.H, c.W, read(c.H, c.W)
	}
	hp, wp = max(c.PT+c.H, needH), max(c.PL+c.W, needW)
	n = max(c.Cg*hp*wp, read(hp, wp))
	if n <= dotPlanesMaxBytes {
		return dotPadded, hp, wp, n
	}
	return dotRows, 0, 0, 0
}

// quad interleaves 4 rows of 16 columns (<16 x i8>) into the 64 bytes of
// a panel's quad: column c's 4 k at 4c..4c+3.
func (k *kfn) quad(r [4]value.Value) value.Value {
	var qmask, cat []int
	for col := 0; col < 16; col++ {
		for j := 0; j < 4; j++ {
			qmask = append(qmask, (j/2)*32+(j%2)*16+col)
		}
	}
	for i := 0; i < 32; i++ {
		cat = append(cat, i)
	}
	r01 := k.b.NewShuffleVector(r[0], r[1], shuffleMask(cat...))
	r23 := k.b.NewShuffleVector(r[2], r[3], shuffleMask(cat...))
	return k.b.NewShuffleVector(r01, r23, shuffleMask(qmask...))
}

// loadV16i8 loads 16 bytes at ptr (i8*).
func (k *kfn) loadV16i8(ptr value.Value) value.Value {
	v16 := types.NewVector(16, types.I8)
	l := k.b.NewLoad(v16, k.b.NewBitCast(ptr, types.NewPointer(v16)))
	l.Align = 1
	return l
}

// dotIm2col returns the im2col of a dot step s: band(n, g, body) builds,
// for batch entry n and group g, the quad panels of each band of output
// rows at col (i8*; kq quads of k, panelB bytes a panel), then calls
// body(p0, L): the band's first output position and its columns. pad is
// the padding byte, ld(i) the byte x' of input element i, flipV what a
// vector of input bytes is xor'ed with for x' (nil: nothing).
func (k *kfn) dotIm2col(s *codegen.Step, x, col value.Value, kq, panelB int, pad value.Value, ld func(i value.Value) value.Value,
	flipV value.Value) func(n, g value.Value, body func(p0 value.Value, L int)) {
	c := s.Conv
	K := c.Cg * c.KH * c.KW
	i8t := types.I8
	v16 := types.NewVector(16, i8t)
	rowsB := dotBandRows(c, kq)
	L := rowsB * c.OW
	np := (L + nrCol - 1) / nrCol
	// tmp: 4 plain rows of ls bytes (a vector of slack: the copies and the
	// last panel's loads run past L), zeroed once: with K < 4 the last
	// quad's rows past K are never written.
	ls := (L + 2*nrCol - 1) / nrCol * nrCol
	tmp := k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64(4*ls), i8t), 16), types.NewPointer(i8t))
	k.loop(0, 4*ls/16, func(v value.Value) {
		k.b.NewStore(constant.NewZeroInitializer(v16), k.b.NewBitCast(k.at(tmp, k.mul(v, 16)), types.NewPointer(v16)))
	})
	tmpRow := func(row value.Value) value.Value { return k.at(tmp, k.mul(k.b.NewAnd(row, ci(3)), ls)) }
	v64 := types.NewVector(64, i8t)
	// after: once row completes a quad (or is K's last), the quad into
	// the panels.
	after := func(row value.Value) {
		full := k.b.NewICmp(enum.IPredEQ, k.b.NewAnd(row, ci(3)), ci(3))
		k.if_(k.b.NewOr(full, k.b.NewICmp(enum.IPredEQ, row, ci(K-1))), func() {
			qo := k.mul(k.b.NewLShr(row, ci(2)), 64)
			k.loop(0, np, func(jp value.Value) {
				var r [4]value.Value
				for j := range r {
					r[j] = k.loadV16i8(k.at(tmp, k.add(ci(j*ls), k.mul(jp, nrCol))))
				}
				st := k.b.NewStore(k.quad(r), k.b.NewBitCast(k.at(col, k.add(k.mul(jp, panelB), qo)), types.NewPointer(v64)))
				st.Align = 1
			})
		})
	}
	src, hp, wp, nPl := dotPlanes(s)
	var planes value.Value
	if src == dotPadded {
		planes = k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64(nPl), i8t), 16), types.NewPointer(i8t))
	}
	nblk := (c.OH + rowsB - 1) / rowsB
	return func(n, g value.Value, body func(p0 value.Value, L int)) {
		xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), c.H*c.W)
		xp, fl := planes, value.Value(nil)
		switch src {
		case dotDirect:
			xp, fl = k.at(x, xb), flipV
		case dotPadded:
			k.padPlanes8(c, planes, hp, wp, nPl, pad, k.at(x, xb), flipV)
		}
		k.loop(0, nblk, func(blk value.Value) {
			oh0 := k.mul(blk, rowsB)
			if nblk*rowsB > c.OH { // the last band ends at OH (it recomputes rows: the same values)
				lastStart := ci(c.OH - rowsB)
				oh0 = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, oh0, lastStart), oh0, lastStart)
			}
			if src == dotRows {
				k.im2colRows(c, xb, oh0, rowsB, pad, ld, tmpRow, after)
			} else {
				k.im2colPlanes8(c, xp, hp, wp, oh0, rowsB, fl, tmpRow, after)
			}
			body(k.mul(oh0, c.OW), L)
		})
	}
}

// padPlanes8 fills planes (n bytes) with the group's input at xg (i8*),
// each byte xor flip (nil: none), at (PT, PL) of planes of hp×wp, pad
// elsewhere: whole vectors of 16 bytes, then the bytes of a row past them.
func (k *kfn) padPlanes8(c *codegen.Conv, planes value.Value, hp, wp, n int, pad, xg, flip value.Value) {
	v16 := types.NewVector(16, types.I8)
	splat := make([]constant.Constant, 16)
	for i := range splat {
		splat[i] = pad.(constant.Constant)
	}
	store16 := func(v, ptr value.Value) {
		st := k.b.NewStore(v, k.b.NewBitCast(ptr, types.NewPointer(v16)))
		st.Align = 1
	}
	k.loop(0, n/16, func(v value.Value) { store16(constant.NewVector(v16, splat...), k.at(planes, k.mul(v, 16))) })
	k.loop(n/16*16, n, func(j value.Value) { k.store(pad, planes, j) })
	k.loop(0, c.Cg, func(chn value.Value) {
		k.loop(0, c.H, func(ih value.Value) {
			src := k.at(xg, k.mul(k.madd(chn, c.H, ih), c.W))
			dst := k.at(planes, k.add(k.mul(k.madd(chn, hp, k.add(ih, ci(c.PT))), wp), ci(c.PL)))
			k.loop(0, c.W/16, func(v value.Value) {
				b := k.loadV16i8(k.at(src, k.mul(v, 16)))
				if flip != nil {
					b = k.b.NewXor(b, flip)
				}
				store16(b, k.at(dst, k.mul(v, 16)))
			})
			k.loop(c.W/16*16, c.W, func(w value.Value) {
				b := k.load(src, w)
				if flip != nil {
					b = k.b.NewXor(b, constant.NewInt(types.I8, -128))
				}
				k.store(b, dst, w)
			})
		})
	})
}

// im2colPlanes8 is im2colRows from planes of hp×wp at xp (i8*, stride 1
// or 2), by vectors of 16 bytes, each xor flip (nil: none): every row of
// the matrix over output rows [oh0, oh0+rows) into tmp(row), then
// after(row) (im2colVecRows).
func (k *kfn) im2colPlanes8(c *codegen.Conv, xp value.Value, hp, wp int, oh0 value.Value, rows int, flip value.Value,
	tmp func(row value.Value) value.Value, after func(row value.Value)) {
	v16 := types.NewVector(16, types.I8)
	k.im2colVecRows(c, xp, hp, wp, oh0, rows, tmp, after, k.loadV16i8, func(b, p value.Value) {
		if flip != nil {
			b = k.b.NewXor(b, flip)
		}
		st := k.b.NewStore(b, k.b.NewBitCast(p, types.NewPointer(v16)))
		st.Align = 1
	})
}
