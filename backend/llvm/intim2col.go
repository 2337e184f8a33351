package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// The integer im2col of a conv of column stride 1 or 2 (intConvPanel's
// blocked path) from a zero-padded i16 copy of the input: x - zx of every
// channel of the group is copied once into planes of Hp×Wp on the stack,
// zero around, so that every row of the im2col matrix, over an output row,
// is OW elements of a plane row, contiguous or every other one: copied by
// whole <16 x i16> vectors (stride 2: the even lanes of two), with no
// bounds and no padding branches. A row's last vector spills past its OW
// elements into the next row's place (written after it); the buffers have
// slack for the last (padSlack elements after the planes, read only).

// padMaxBytes bounds the padded planes on the stack, where they go when
// Scratch has no room for them past a block's panels (Scratch first: the
// stack a call needs stays small; a 3×3 stride-2 conv of 128 channels of
// 56×56: 861 KB; on the generic im2col, 40% of its time).
const padMaxBytes = 512 << 10

// padSlack: zeroed elements after the planes, for the loads of a last
// row's last vector(s) past the row.
const padSlack = 32

// padGeom returns the padded plane's rows and row length, and whether the
// conv takes the padded path: its planes (stack) fit padMaxBytes, or
// (off ≥ 0) they fit in Scratch from i16 element off, past the panels of
// a block (panels i16 elements).
func padGeom(s *codegen.Step, panels int) (hp, wp, off int, ok bool) {
	c := s.Conv
	if c.SW != 1 && c.SW != 2 {
		return 0, 0, -1, false
	}
	hp = max(c.PT+c.H, (c.OH-1)*c.SH+(c.KH-1)*c.DH+1)
	wp = max(c.PL+c.W, (c.OW-1)*c.SW+(c.KW-1)*c.DW+1)
	n := c.Cg*hp*wp + padSlack
	if s.Scratch != nil && int64((panels+n)*2) <= s.Scratch.Bytes() {
		return hp, wp, panels, true
	}
	if n*2 <= padMaxBytes {
		return hp, wp, -1, true
	}
	return hp, wp, -1, false
}

// padPlanes fills xp (Cg·hp·wp + padSlack i16) with the group's input at
// xb: x - zx inside, zero elsewhere.
func (k *kfn) padPlanes(c *codegen.Conv, xp value.Value, hp, wp int, ld func(i value.Value) value.Value) {
	n := c.Cg*hp*wp + padSlack
	zero := constant.NewZeroInitializer(v16i6)
	k.loop(0, n/16, func(v value.Value) { k.storeV16(zero, k.at(xp, k.mul(v, 16))) })
	k.loop(n/16*16, n, func(j value.Value) { k.store(constant.NewInt(i16, 0), xp, j) })
	k.loop(0, c.Cg, func(chn value.Value) {
		k.loop(0, c.H, func(ih value.Value) {
			src := k.mul(k.madd(chn, c.H, ih), c.W)
			dst := k.add(k.mul(k.madd(chn, hp, k.add(ih, ci(c.PT))), wp), ci(c.PL))
			k.loop(0, c.W, func(w value.Value) { k.store(ld(k.add(src, w)), xp, k.add(dst, w)) })
		})
	})
}

func (k *kfn) storeV16(v, ptr value.Value) {
	st := k.b.NewStore(v, k.b.NewBitCast(ptr, types.NewPointer(v16i6)))
	st.Align = 2
}

func (k *kfn) loadV16(ptr value.Value) value.Value {
	l := k.b.NewLoad(v16i6, k.b.NewBitCast(ptr, types.NewPointer(v16i6)))
	l.Align = 2
	return l
}

// im2colPadded is im2colRows from the padded planes: every row of the
// matrix over output rows [oh0, oh0+rows) into tmp(row) (rows·OW elements
// and a vector of slack), then after(row).
func (k *kfn) im2colPadded(c *codegen.Conv, xp value.Value, hp, wp int, oh0 value.Value, rows int,
	tmp func(row value.Value) value.Value, after func(row value.Value)) {
	k.im2colVecRows(c, xp, hp, wp, oh0, rows, tmp, after, k.loadV16, k.storeV16)
}

// im2colVecRows copies, for every row of the im2col matrix over output
// rows [oh0, oh0+rows), the elements of planes of hp×wp at xp (stride 1
// or 2) into tmp(row) by vectors of 16 elements (ld and st load and store
// one; a row's last vector spills past its OW elements into the next
// row's place, written after it, or the slack of tmp), then after(row).
func (k *kfn) im2colVecRows(c *codegen.Conv, xp value.Value, hp, wp int, oh0 value.Value, rows int,
	tmp func(row value.Value) value.Value, after func(row value.Value),
	ld func(p value.Value) value.Value, st func(v, p value.Value)) {
	nv := (c.OW + 15) / 16
	even := make([]int, 16)
	for j := range even {
		even[j] = 2 * j
	}
	k.loop(0, c.Cg, func(chn value.Value) {
		k.loop(0, c.KH, func(kh value.Value) {
			k.loop(0, c.KW, func(kw value.Value) {
				row := k.madd(k.madd(chn, c.KH, kh), c.KW, kw)
				t := tmp(row)
				src0 := k.add(k.mul(k.madd(chn, hp, k.add(k.mul(oh0, c.SH), k.mul(kh, c.DH))), wp), k.mul(kw, c.DW))
				k.loop(0, rows, func(i value.Value) {
					src := k.at(xp, k.add(src0, k.mul(i, c.SH*wp)))
					dst := k.at(t, k.mul(i, c.OW))
					for v := 0; v < nv; v++ {
						if c.SW == 1 {
							st(ld(k.at(src, ci(16*v))), k.at(dst, ci(16*v)))
							continue
						}
						lo, hi := ld(k.at(src, ci(32*v))), ld(k.at(src, ci(32*v+16)))
						st(k.b.NewShuffleVector(lo, hi, shuffleMask(even...)), k.at(dst, ci(16*v)))
					}
				})
				after(row)
			})
		})
	})
}
