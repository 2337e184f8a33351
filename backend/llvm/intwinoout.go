package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The output side of the integer Winograd conv (intwino.go): per output
// channel of a panel, the output transform of its 16 positions'
// accumulators, the requantization, and the stores of each tile row's two
// output rows.

// winoOutput stores output channel m of the panel's tiles (at y[yb:],
// the panel's first output) from the accumulators of position pos, half h
// (mv): the output transform, >> 2, the bias and the requantization, then
// each tile row's two output rows, as far as they are inside the output.
func (k *kfn) winoOutput(s *codegen.Step, g winoGeom, fin func(acc, c value.Value) value.Value, bias, m value.Value,
	mv func(pos, h int) value.Value, y, yb, gr, ch value.Value) {
	c := s.Conv
	bv := k.splatLike(k.load(bias, m), constant.NewZeroInitializer(v8i32))
	two := k.splatLike(c32(2), constant.NewZeroInitializer(v8i32))
	var yq [2][2][2]value.Value // [dy][dx][h]
	for h := 0; h < 2; h++ {
		var t [2][4]value.Value
		for j := 0; j < 4; j++ {
			a := k.winoAT([4]value.Value{mv(j, h), mv(4+j, h), mv(8+j, h), mv(12+j, h)})
			t[0][j], t[1][j] = a[0], a[1]
		}
		for dy := 0; dy < 2; dy++ {
			a := k.winoAT(t[dy])
			for dx := 0; dx < 2; dx++ {
				yq[dy][dx][h] = fin(k.b.NewAdd(k.b.NewAShr(a[dx], two), bv), m)
			}
		}
	}
	lastCols := min(2*g.gw, c.OW-2*(g.col0+(g.nch-1)*g.gw)) // of the strip's last panel
	for dy := 0; dy < 2; dy++ {
		// row(j, at, n) stores the first n outputs of output row dy of
		// tile row j at y[at:].
		row := k.winoRows(s, g, yq[dy])
		for j := 0; j < g.rpp; j++ {
			at := k.add(yb, ci((2*j+dy)*c.OW))
			store := func() {
				switch {
				case g.nch == 1:
					row(j, y, at, lastCols)
				case lastCols < 2*g.gw:
					k.ifElse(k.b.NewICmp(enum.IPredEQ, ch, ci(g.nch-1)),
						func() { row(j, y, at, lastCols) },
						func() { row(j, y, at, 2*g.gw) })
				default:
					row(j, y, at, 2*g.gw)
				}
			}
			// Rows past OH: in the last group of tile rows only.
			if oh := 2*(g.ngr-1)*g.rpp + 2*j + dy; oh >= c.OH {
				k.if_(k.b.NewICmp(enum.IPredSLT, gr, ci(g.ngr-1)), store)
			} else {
				store()
			}
		}
	}
}

// winoRows returns the store of tile row j's outputs (2·gw: columns dx
// of its tiles interleaved) from one output row's requantized values
// yq[dx][h] (lanes: the half's 8 tiles), the first n at y[at:]. On AVX2,
// for 8-bit outputs in range, the 16 tiles' 32 outputs are narrowed at
// once by saturating packs and put in order by one byte shuffle
// (winoPackRow); else each tile row's i32 lanes are interleaved and
// stored by winoStoreRow.
func (k *kfn) winoRows(s *codegen.Step, g winoGeom, yq [2][2]value.Value) func(j int, y, at value.Value, n int) {
	dt := s.Out.DType
	if k.e.t.hasAVX2() && inRangeRq(s) && (dt == pir.I8 || dt == pir.U8) {
		v := k.winoPackRow(yq, dt)
		return func(j int, y, at value.Value, n int) { k.storeBytes(v, 2*g.gw*j, n, y, at) }
	}
	all := make([]int, 16)
	for i := range all {
		all[i] = i
	}
	y0 := k.b.NewShuffleVector(yq[0][0], yq[0][1], shuffleMask(all...))
	y1 := k.b.NewShuffleVector(yq[1][0], yq[1][1], shuffleMask(all...))
	return func(j int, y, at value.Value, n int) {
		idx := make([]int, 0, 2*g.gw)
		for l := j * g.gw; l < (j+1)*g.gw; l++ {
			idx = append(idx, l, 16+l)
		}
		k.winoStoreRow(s, k.b.NewShuffleVector(y0, y1, shuffleMask(idx...)), y, at, n)
	}
}

// winoPackRow narrows yq[dx][h] (i32 in the range of dt, 8-bit) to the 32
// bytes of one output row of the 16 tiles, tile t's two columns at 2t and
// 2t+1: vpackssdw of (dx 0, dx 1) per half, vpacksswb or vpackuswb of the
// two (per 128-bit lane l: dx 0 then dx 1 of tiles 4l..4l+3 of half 0,
// then of half 1), then the byte shuffle into tile order.
func (k *kfn) winoPackRow(yq [2][2]value.Value, dt pir.DType) value.Value {
	v16i16, v32i8 := types.NewVector(16, types.I16), types.NewVector(32, types.I8)
	var w [2]value.Value
	for h := range w {
		w[h] = k.b.NewCall(k.e.intrinsic("llvm.x86.avx2.packssdw", v16i16, v8i32, v8i32), yq[0][h], yq[1][h])
	}
	pack := "llvm.x86.avx2.packsswb"
	if dt == pir.U8 {
		pack = "llvm.x86.avx2.packuswb"
	}
	p := k.b.NewCall(k.e.intrinsic(pack, v32i8, v16i16, v16i16), w[0], w[1])
	idx := make([]int, 32)
	for t := 0; t < 16; t++ {
		h, l, e := t/8, t%8/4, t%4
		idx[2*t], idx[2*t+1] = 16*l+8*h+e, 16*l+8*h+4+e
	}
	return k.b.NewShuffleVector(p, p, shuffleMask(idx...))
}

// storeBytes stores bytes [lo, lo+n) of the <N x i8> v into y[at:]: by
// vectors of 32, 16, 8, 4 and 2 bytes, then one.
func (k *kfn) storeBytes(v value.Value, lo, n int, y, at value.Value) {
	for off := 0; off < n; {
		size := 32
		for size > n-off {
			size /= 2
		}
		p := k.at(y, k.add(at, ci(off)))
		if size == 1 {
			k.b.NewStore(k.b.NewExtractElement(v, ci(lo+off)), p)
		} else {
			idx := make([]int, size)
			for i := range idx {
				idx[i] = lo + off + i
			}
			st := k.b.NewStore(k.b.NewShuffleVector(v, v, shuffleMask(idx...)), k.b.NewBitCast(p, types.NewPointer(types.NewVector(uint64(size), types.I8))))
			st.Align = 1
		}
		off += size
	}
}

// winoStoreRow stores the first n lanes of vals (i32, requantized) into
// y[at:] of the step's output dtype: 16 lanes at a time by storeInt16.
func (k *kfn) winoStoreRow(s *codegen.Step, vals, y, at value.Value, n int) {
	sub := func(lo, cnt int) value.Value {
		idx := make([]int, cnt)
		for i := range idx {
			idx[i] = lo + i
		}
		return k.b.NewShuffleVector(vals, vals, shuffleMask(idx...))
	}
	total := int(vals.Type().(*types.VectorType).Len)
	for off := 0; off < n; {
		switch {
		case n-off >= 16:
			k.storeInt16(sub(off, 8), sub(off+8, 8), y, k.add(at, ci(off)), s.Out.DType, inRangeRq(s))
			off += 16
		default:
			cnt := min(8, total-off)
			k.storeIntN(sub(off, cnt), y, k.add(at, ci(off)), s.Out.DType, min(cnt, n-off))
			off += cnt
		}
	}
}
