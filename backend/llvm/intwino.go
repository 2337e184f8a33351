package llvm

import (
	"encoding/binary"
	"slices"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Integer Winograd F(2,3) for the 3×3 stride-1 integer convs of constant
// weights on the multiply-add kernel: 2×2 outputs (a tile) from a 4×4
// input window d with 16 multiplies per channel instead of 36.
//
// With G2 = 2G (the integer rows [2,0,0], [1,1,1], [1,-1,1], [0,0,2]),
// U = G2·g·G2ᵀ = 4·(G·g·Gᵀ) is an integer matrix (|U| ≤ 9·max|w|, i16 for
// weights within ±3640), V = Bᵀ·d·B with d = x − zx (padding 0) is one
// (|V| ≤ 4·max|d|, i16), and Aᵀ·[Σ_c U ⊙ V]·A = 4·Y, Y the conv's sum. The
// sums run in i32, which wraps: arithmetic mod 2³² is a ring
// homomorphism, so 4·Y comes out exact wherever |4·Y| < 2³¹ (winoExact
// checks it from the weights), and Y = 4·Y >> 2 exactly; then the bias and
// the panel kernel's requantization and store. The results equal rt's.
//
// Layout. The tiles go by panels of 16 (the micro-kernel's columns): rpp
// rows of gw tiles (gw a power of 2 up to 16, rpp = 16/gw), so that the
// lanes of a panel's tile row are consecutive tiles of one row, read and
// written as whole vectors. The columns of tiles are split into strips of
// one panel width each (winoStrips: 28 tiles across as 16 + 8 + 4), so
// that few lanes idle past a row's last tile; a strip's last panel whose
// tiles fit in 8 lanes runs on those alone (lastHalf). Per
// batch entry, x − zx goes into zero-padded planes of channel pairs
// (Scratch: an i32 a pixel, channels 2q and 2q+1 in its two i16; each row
// its even columns, then its odd ones), so that a window row's column of
// 8 consecutive tiles is one vector load, its pairs already interleaved as
// the micro-kernel's B wants them. Per panel, the input transform writes V as
// 16 B matrices (one per window position, kq pairs × 16 tiles, the panel
// layout of intpanel.go) into Scratch past the planes; then per chunk of
// winoChunk row blocks of mrI output channels, per window position, the
// micro-kernel (pairTile) on each block with U's A matrix of the position
// (appendWino: i16 pairs in the row blocks of appendIntPairs), their
// accumulators to a stack buffer; and per channel of the chunk the output
// transform, requantization and store of its 16 tiles.

// winoGeom is the tiling of a Winograd conv: the padded planes, and one
// strip of tile columns (winoStrips) run in panels of one shape.
type winoGeom struct {
	th, tw   int // tiles down and across
	col0     int // the strip's first tile column
	gw, rpp  int // tiles of a panel across and down (gw·rpp = 16)
	nch, ngr int // the strip's panels across (gw tiles each) and down (rpp tile rows)
	hp, wp   int // the padded planes' rows and row length
	kq       int // channel pairs
}

// winoStrips splits the tile columns of c into strips of panels, each
// gw = 16, 8, 4 or 2 tiles wide (1 for a single column of tiles) and
// narrower than the one before, whole panels across but for the last
// strip's last: the split with the fewest lanes (lanes: the multiplies),
// then the fewest loads of the input transform (a segment of up to 8
// lanes each), then the fewest panels. So 28 tiles across go as
// 16 + 8 + 4 (no lane idle, where 2 panels of 16 leave 4 of 32 idle), 14
// as 8 + 4 + 2, 7 as 8.
func winoStrips(c *codegen.Conv) []winoGeom {
	th, tw, kq := (c.OH+1)/2, (c.OW+1)/2, (c.C+1)/2
	strip := func(col0, gw, nch int) winoGeom {
		return winoGeom{th: th, tw: tw, col0: col0, gw: gw, rpp: nrCol / gw, nch: nch, ngr: (th + nrCol/gw - 1) / (nrCol / gw), kq: kq}
	}
	var best []winoGeom
	var bestCost [3]int
	var try func(col0, maxW int, acc []winoGeom)
	try = func(col0, maxW int, acc []winoGeom) {
		if col0 >= tw {
			var cost [3]int // lanes, segments, panels
			for _, g := range acc {
				cost[0] += g.lanes()
				cost[1] += g.lanes() / min(g.gw, 8)
				cost[2] += g.ngr * g.nch
			}
			if best == nil || slices.Compare(cost[:], bestCost[:]) < 0 {
				best, bestCost = append([]winoGeom(nil), acc...), cost
			}
			return
		}
		rem := tw - col0
		for gw := maxW; gw >= 2 || gw == 1 && tw == 1; gw /= 2 {
			// The rest in this strip, its last panel part empty, or its
			// whole panels and the rest in narrower strips.
			try(tw, 0, append(acc, strip(col0, gw, (rem+gw-1)/gw)))
			if rem > gw && rem%gw != 0 {
				try(col0+rem/gw*gw, gw/2, append(acc, strip(col0, gw, rem/gw)))
			}
		}
	}
	try(0, nrCol, nil)
	hp, wp := 0, 0
	for _, g := range best {
		hp, wp = max(hp, 2*g.ngr*g.rpp+2), max(wp, 2*(g.col0+g.nch*g.gw)+2)
	}
	for i := range best {
		best[i].hp, best[i].wp = hp, wp
	}
	return best
}

// lanes is the number of lanes the strip's panels run on: 16 each, 8 for
// those run on half (lastHalf).
func (g winoGeom) lanes() int {
	n := nrCol * g.ngr * g.nch
	if half, _, along := g.lastHalf(); half {
		n -= nrCol / 2 * g.ngr * g.nch / along
	}
	return n
}

// lastHalf reports whether the tiles of the strip's last panel down
// (gw < 16: rpp/2 or fewer tile rows in it) or across (gw = 16: 8 or
// fewer tiles) fit in the first half of its lanes, and returns the panel
// index of that dimension (of gr, ch) and the number of panels along it.
func (g winoGeom) lastHalf() (bool, func(gr, ch value.Value) value.Value, int) {
	if g.gw < nrCol {
		return (g.th-(g.ngr-1)*g.rpp)*g.gw <= nrCol/2, func(gr, _ value.Value) value.Value { return gr }, g.ngr
	}
	return g.tw-g.col0-(g.nch-1)*g.gw <= nrCol/2, func(_, ch value.Value) value.Value { return ch }, g.nch
}

// planeLen is the number of i32 pairs of the padded planes.
func (g winoGeom) planeLen() int { return g.kq * g.hp * g.wp }

// scratchBytes: the planes, then the V panel (16 positions × kq × 32 i16).
func (g winoGeom) scratchBytes() int64 { return int64(g.planeLen())*4 + 16*int64(g.kq)*64 }

// winoStep reports whether s runs as integer Winograd on t: a panel step
// on the multiply-add kernel, 3×3, stride and dilation 1, one group, whose
// planes and V panel fit its Scratch, where Winograd pays (winoPays). The
// weights' bound is checked by appendWino.
func (t Target) winoStep(s *codegen.Step) bool {
	if t.NoWinograd || !intPanelStep(s) || t.hwDot(s) {
		return false
	}
	c := s.Conv
	if c.KH != 3 || c.KW != 3 || c.SH != 1 || c.SW != 1 || c.DH != 1 || c.DW != 1 || c.Group != 1 || !winoPays(c) {
		return false
	}
	g := winoStrips(c)[0]
	if c.PT+c.H > g.hp || c.PL+c.W > g.wp || c.PT < 0 || c.PL < 0 {
		return false
	}
	return s.Scratch != nil && g.scratchBytes() <= s.Scratch.Bytes()
}

// winoPays reports whether Winograd does at most 0.8 of the im2col
// kernel's multiplies: 16 a lane and channel (lanes: tiles over whole
// panels of 16, or 8), against 9 an output over whole panels of 16
// columns. On znver3 the measured time ratios follow the multiply ratio
// (BenchmarkIntWinograd: 0.37-0.65 where it is 0.44-0.57, the transforms
// included; 0.62-0.65 for the 13×13 outputs, where 7 tiles across idle
// one lane in 8).
func winoPays(c *codegen.Conv) bool {
	if winoForce {
		return true
	}
	wino := 0
	for _, g := range winoStrips(c) {
		wino += 16 * g.lanes()
	}
	im2col := 9 * nrCol * ((c.OH*c.OW + nrCol - 1) / nrCol)
	return 5*wino <= 4*im2col
}

// winoForce, set by tests only, makes Winograd pay everywhere (its edge
// geometries: one row or column of tiles).
var winoForce bool

// appendWino appends the transformed weights U of every winoStep whose
// Winograd is exact (winoExact) to w (64-byte aligned; steps reading the
// same weights share them) and returns w and each step's byte offset: for
// each of the 16 window positions, the M × C matrix U[pos] as i16 pairs
// (channels 2q, 2q+1; a missing last channel 0) in row blocks of mrI, as
// appendIntPairs lays them out.
func appendWino(p *codegen.Program, w []byte, t Target) ([]byte, map[*codegen.Step]int64) {
	offs := map[*codegen.Step]int64{}
	done := map[int64]int64{}
	copied := false
	for _, s := range p.Steps {
		if !t.winoStep(s) {
			continue
		}
		o := s.In[1].Offset
		if off, ok := done[o]; ok {
			offs[s] = off
			continue
		}
		u, ok := winoWeights(s, p.Weights)
		if !ok {
			continue
		}
		if !copied {
			w = append([]byte(nil), w...) // w may be p.Weights
			copied = true
		}
		for len(w)%codegen.Align != 0 {
			w = append(w, 0)
		}
		off := int64(len(w))
		w = append(w, u...)
		offs[s], done[o] = off, off
	}
	return w, offs
}

// WinogradWeights reports how many integer convs of p run as Winograd on t
// and the bytes their transformed weights add to the weights blob.
func WinogradWeights(p *codegen.Program, t Target) (convs int, bytes int64) {
	t = resolveCPU(t).withScan()
	done := map[int64]bool{}
	for _, s := range p.Steps {
		if !t.winoStep(s) || !winoExact(s, t.winoMaxW(p, s)) {
			continue
		}
		convs++
		if o := s.In[1].Offset; !done[o] {
			done[o] = true
			bytes += 16 * int64(s.Conv.M) * int64((s.Conv.C+1)/2) * 4
		}
	}
	return convs, bytes
}

// winoW returns the weight at index i of s's weights (i8 or i16) in w.
func winoW(s *codegen.Step, w []byte) func(i int) int64 {
	src := w[s.In[1].Offset : s.In[1].Offset+s.In[1].Bytes()]
	if s.In[1].DType.Size() == 1 {
		return func(i int) int64 { return int64(int8(src[i])) }
	}
	return func(i int) int64 { return int64(int16(binary.LittleEndian.Uint16(src[2*i:]))) }
}

// winoMaxW is the largest |weight| of s.
func winoMaxW(s *codegen.Step, w []byte) int64 {
	at, maxW := winoW(s, w), int64(0)
	for i := 0; i < s.Conv.M*s.Conv.C*9; i++ {
		maxW = max(maxW, at(i), -at(i))
	}
	return maxW
}

// winoG2 is 2·G of F(2,3).
var winoG2 = [4][3]int64{{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}}

// winoWeights returns the U pairs of s (its weights in w, i8 or i16), or
// false when Winograd would not be exact (winoExact).
func winoWeights(s *codegen.Step, w []byte) ([]byte, bool) {
	c := s.Conv
	if !winoExact(s, winoMaxW(s, w)) {
		return nil, false
	}
	wAt := winoW(s, w)
	kq := (c.C + 1) / 2
	buf := make([]byte, 16*c.M*kq*4)
	for m := 0; m < c.M; m++ {
		i0 := m / mrI * mrI
		rows, r := min(mrI, c.M-i0), m-i0
		for ch := 0; ch < c.C; ch++ {
			// t = G2·g, then U = t·G2ᵀ.
			var t [4][3]int64
			for a := 0; a < 4; a++ {
				for j := 0; j < 3; j++ {
					for i := 0; i < 3; i++ {
						t[a][j] += winoG2[a][i] * wAt((m*c.C+ch)*9+i*3+j)
					}
				}
			}
			q, par := ch/2, ch%2
			for pos := 0; pos < 16; pos++ {
				a, b := pos/4, pos%4
				u := t[a][0]*winoG2[b][0] + t[a][1]*winoG2[b][1] + t[a][2]*winoG2[b][2]
				e := ((pos*c.M+i0)*kq+q*rows+r)*2 + par
				binary.LittleEndian.PutUint16(buf[2*e:], uint16(int16(u)))
			}
		}
	}
	return buf, true
}

// winoExact reports whether Winograd is exact for s with weights within
// ±maxW: U fits i16 (9·maxW), V does (4·max|x − zx|), and the sum of the
// conv, 4·Y, fits i32.
func winoExact(s *codegen.Step, maxW int64) bool {
	lo, hi := s.In[0].DType.Range()
	zx := int64(s.Rq.ZX)
	maxD := max(hi-zx, zx-lo)
	return 9*maxW <= 32767 && 4*maxD <= 32767 && 4*int64(s.Conv.C*9)*maxD*maxW < 1<<31
}

// winoBT is the input transform of one dimension (Bᵀ·d), and winoAT the
// output one (Aᵀ·m), of F(2,3).
func (k *kfn) winoBT(d [4]value.Value) [4]value.Value {
	return [4]value.Value{k.b.NewSub(d[0], d[2]), k.b.NewAdd(d[1], d[2]), k.b.NewSub(d[2], d[1]), k.b.NewSub(d[1], d[3])}
}

func (k *kfn) winoAT(m [4]value.Value) [2]value.Value {
	return [2]value.Value{k.b.NewAdd(k.b.NewAdd(m[0], m[1]), m[2]), k.b.NewSub(k.b.NewSub(m[1], m[2]), m[3])}
}

// intConvWino emits the Winograd conv of a winoStep whose U pairs are at
// byte uOff of the weights.
func (k *kfn) intConvWino(s *codegen.Step, in []value.Value, y, scratch value.Value, uOff int64) {
	c := s.Conv
	strips := winoStrips(c)
	g := strips[0]
	fin := k.requant(s, in)
	ug := k.b.NewGetElementPtr(k.e.weights.ContentType, k.e.weights, ci(0), ci(int(uOff)))
	ug.InBounds = true
	u := k.b.NewBitCast(ug, types.NewPointer(types.I32))
	xp := k.b.NewBitCast(scratch, types.NewPointer(types.I32))
	vp := k.b.NewBitCast(k.at(xp, ci(g.planeLen())), types.NewPointer(i16))
	// Per chunk of output channels: per window position, every row
	// block's tile (B of the position stays in L1 across the blocks), the
	// accumulators to mb; then each channel's output transform and stores.
	mb := k.entryAlloca(types.NewArray(16*winoChunk*mrI*2, v8i32), 32)
	mb.(*ir.InstAlloca).SetName("wino.m")
	mbuf := k.b.NewBitCast(mb, types.NewPointer(v8i32))
	mAt := func(pos, r value.Value, h int) value.Value {
		return k.at(mbuf, k.add(k.mul(k.madd(pos, winoChunk*mrI, r), 2), ci(h)))
	}
	k.loop(0, c.N, func(n value.Value) {
		k.winoPlanes(s, g, in[0], k.mul(n, c.C*c.H*c.W), xp)
		for _, g := range strips {
			k.winoStrip(s, g, in, fin, u, xp, vp, mAt, y, n)
		}
	})
}

// winoStrip runs the panels of strip g of batch entry n (its planes at
// xp), V at vp, the accumulators at mAt.
func (k *kfn) winoStrip(s *codegen.Step, g winoGeom, in []value.Value, fin func(acc, c value.Value) value.Value,
	u, xp, vp value.Value, mAt func(pos, r value.Value, h int) value.Value, y, n value.Value) {
	c := s.Conv
	P := c.OH * c.OW
	k.loop(0, g.ngr, func(gr value.Value) {
		k.loop(0, g.nch, func(ch value.Value) {
			th0, tw0 := k.mul(gr, g.rpp), k.madd(ch, g.gw, ci(g.col0))
			// panel runs the panel on the first halves of its 16
			// lanes (tiles).
			panel := func(halves int) {
				k.winoInput(g, xp, vp, th0, tw0, halves)
				// Chunks of winoChunk row blocks of mrI channels, the
				// last with the blocks left and the rem channels past
				// them: one copy of the code for all (compile time).
				rc := winoChunk * mrI
				nChunks, blocks, rem := (c.M+rc-1)/rc, c.M/mrI, c.M%mrI
				k.loop(0, nChunks, func(ic value.Value) {
					i0 := k.mul(ic, rc)
					nb := k.smin64(ci(winoChunk), k.b.NewSub(ci(blocks), k.mul(ic, winoChunk)))
					last := k.b.NewICmp(enum.IPredEQ, ic, ci(nChunks-1))
					loadB := k.loadV16Pair
					if halves == 1 {
						loadB = func(bp value.Value) []value.Value { return []value.Value{k.loadV16(bp)} }
					}
					k.loop(0, 16, func(pos value.Value) {
						b0 := k.at(vp, k.mul(pos, g.kq*32))
						tile := func(r0 value.Value, rows int) {
							a0 := k.at(u, k.add(k.mul(pos, c.M*g.kq), k.mul(k.add(i0, r0), g.kq)))
							res := k.pairTile(g.kq, rows, halves*rows, nil, a0, b0, 32, k.bcastPair32, loadB)
							for i := 0; i < halves*rows; i++ {
								st := k.b.NewStore(res[i], mAt(pos, k.add(r0, ci(i/halves)), i%halves))
								st.Align = 32
							}
						}
						k.loopV(ci(0), nb, func(ib value.Value) { tile(k.mul(ib, mrI), mrI) })
						if rem > 0 {
							k.if_(last, func() { tile(k.mul(nb, mrI), rem) })
						}
					})
					nr := k.mul(nb, mrI)
					if rem > 0 {
						nr = k.add(nr, k.b.NewSelect(last, ci(rem), ci(0)))
					}
					k.loopV(ci(0), nr, func(r value.Value) {
						m := k.add(i0, r)
						yb := k.add(k.mul(k.madd(n, c.M, m), P), k.add(k.mul(th0, 2*c.OW), k.mul(tw0, 2)))
						k.winoOutput(s, g, fin, in[2], m, func(pos, h int) value.Value {
							if h >= halves {
								return constant.NewZeroInitializer(v8i32)
							}
							l := k.b.NewLoad(v8i32, mAt(ci(pos), r, h))
							l.Align = 32
							return l
						}, y, yb, gr, ch)
					})
				})
			}
			// The last panel down (gw < 16: its tile rows) or across
			// (gw = 16: its tiles), if its tiles fit in the first half
			// of the lanes, runs on that half alone: the lanes of the
			// other are past the output (winoOutput stores none of
			// them).
			switch half, idx, along := g.lastHalf(); {
			case !half:
				panel(2)
			case along == 1:
				panel(1)
			default:
				k.ifElse(k.b.NewICmp(enum.IPredEQ, idx(gr, ch), ci(along-1)), func() { panel(1) }, func() { panel(2) })
			}
		})
	})
}

// smin64 is the smaller of two i64.
func (k *kfn) smin64(a, b value.Value) value.Value {
	return k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, a, b), a, b)
}

// winoChunk is the number of row blocks of mrI output channels run per
// window position before the next: their accumulators (16 positions ×
// winoChunk·mrI channels × 16 tiles, i32) stay in L1 with the position's B.
const winoChunk = 4

// winoPlanes fills the padded planes xp (i32 pairs) with the batch entry
// at xb: (x − zx of channel 2q, of channel 2q+1) at (q, PT+ih, PL+iw),
// zero elsewhere (and for the missing channel of an odd C); each row holds
// its even columns, then its odd ones (wp/2 each).
func (k *kfn) winoPlanes(s *codegen.Step, g winoGeom, x, xb, xp value.Value) {
	c := s.Conv
	n := g.planeLen()
	zero := constant.NewZeroInitializer(v8i32)
	k.loop(0, n/8, func(v value.Value) {
		st := k.b.NewStore(zero, k.b.NewBitCast(k.at(xp, k.mul(v, 8)), types.NewPointer(v8i32)))
		st.Align = 4
	})
	k.loop(n/8*8, n, func(j value.Value) { k.store(c32(0), xp, j) })
	xdt := s.In[0].DType
	zx := int64(s.Rq.ZX)
	x16 := k.b.NewBitCast(xp, types.NewPointer(i16))
	v16i8 := types.NewVector(16, types.I8)
	zx16 := k.splatLike(constant.NewInt(i16, zx), constant.NewZeroInitializer(v16i6))
	ext := func(v value.Value, t types.Type) value.Value {
		if xdt == pir.U8 {
			return k.b.NewZExt(v, t)
		}
		return k.b.NewSExt(v, t)
	}
	// pair fills the planes of pair q from channel 2q and (two) 2q+1.
	pair := func(q value.Value, two bool) {
		k.loop(0, c.H, func(ih value.Value) {
			src := k.add(xb, k.mul(k.madd(q, 2*c.H, ih), c.W))
			rowAt := k.mul(k.madd(q, g.hp, k.add(ih, ci(c.PT))), g.wp)
			// The plane element of column PL + iw: its parity's half of
			// the row, then column / 2.
			at := func(iw value.Value) value.Value {
				pc := k.add(iw, ci(c.PL))
				return k.add(rowAt, k.add(k.mul(k.b.NewAnd(pc, ci(1)), g.wp/2), k.b.NewLShr(pc, ci(1))))
			}
			row := func(off value.Value) value.Value {
				l := k.b.NewLoad(v16i8, k.b.NewBitCast(k.at(x, off), types.NewPointer(v16i8)))
				l.Align = 1
				return k.b.NewSub(ext(l, v16i6), zx16)
			}
			// 16 columns from iw = 16v: the even ones' 8 pairs to one half
			// of the row, the odd ones' to the other, contiguous.
			k.loop(0, c.W/16, func(v value.Value) {
				iw := k.mul(v, 16)
				r0 := row(k.add(src, iw))
				var r1 value.Value = constant.NewZeroInitializer(v16i6)
				if two {
					r1 = row(k.add(k.add(src, ci(c.H*c.W)), iw))
				}
				k.storeV16(k.b.NewShuffleVector(r0, r1, shuffleMask(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30)), k.at(x16, k.mul(at(iw), 2)))
				k.storeV16(k.b.NewShuffleVector(r0, r1, shuffleMask(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31)), k.at(x16, k.mul(at(k.add(iw, ci(1))), 2)))
			})
			k.loop(c.W/16*16, c.W, func(w value.Value) {
				d := k.mul(at(w), 2)
				ld := func(i value.Value) value.Value {
					return k.b.NewTrunc(k.b.NewSub(k.loadInt(x, i, xdt), c32(zx)), i16)
				}
				k.store(ld(k.add(src, w)), x16, d)
				if two {
					k.store(ld(k.add(k.add(src, ci(c.H*c.W)), w)), x16, k.add(d, ci(1)))
				}
			})
		})
	}
	k.loop(0, c.C/2, func(q value.Value) { pair(q, true) })
	if c.C%2 == 1 {
		pair(ci(c.C/2), false)
	}
}

// winoInput writes the V panel at vp of the panel of tiles from tile row
// th0, column tw0: for each channel pair q and half h < halves of the 16
// tiles, the 4×4 windows of its 8 tiles (a window column of consecutive
// tiles is contiguous in its parity's half of a plane row) transformed,
// position pos at vp[(pos·kq + q)·32 + 16h].
func (k *kfn) winoInput(g winoGeom, xp, vp, th0, tw0 value.Value, halves int) {
	sl := min(g.gw, 8) // lanes of a segment: tiles of one row
	vt := types.NewVector(uint64(sl), types.I32)
	k.loop(0, g.kq, func(q value.Value) {
		for h := 0; h < halves; h++ {
			var w [4][4]value.Value // rows of d transformed
			for i := 0; i < 4; i++ {
				var seg [4][]value.Value // window column jj: segments of sl lanes
				for l0 := 8 * h; l0 < 8*h+8; l0 += sl {
					row := k.add(k.mul(th0, 2), ci(2*(l0/g.gw)+i))
					base := k.add(k.mul(k.madd(q, g.hp, row), g.wp), k.add(tw0, ci(l0%g.gw)))
					// Window column jj of tile tw: plane column 2·tw + jj,
					// in the row's half of parity jj%2 at tw + jj/2.
					for jj := 0; jj < 4; jj++ {
						ld := k.b.NewLoad(vt, k.b.NewBitCast(k.at(xp, k.add(base, ci(jj%2*(g.wp/2)+jj/2))), types.NewPointer(vt)))
						ld.Align = 4
						seg[jj] = append(seg[jj], ld)
					}
				}
				var d [4]value.Value
				for jj := range d {
					d[jj] = k.b.NewBitCast(k.concat(seg[jj]), v16i6)
				}
				w[i] = k.winoBT(d)
			}
			for j := 0; j < 4; j++ {
				v := k.winoBT([4]value.Value{w[0][j], w[1][j], w[2][j], w[3][j]})
				for i := 0; i < 4; i++ {
					k.storeV16(v[i], k.at(vp, k.add(k.mul(k.madd(ci(4*i+j), g.kq, q), 32), ci(16*h))))
				}
			}
		}
	})
}

// concat joins vectors of equal length into one.
func (k *kfn) concat(vs []value.Value) value.Value {
	for len(vs) > 1 {
		n := int(vs[0].Type().(*types.VectorType).Len)
		idx := make([]int, 2*n)
		for i := range idx {
			idx[i] = i
		}
		var next []value.Value
		for i := 0; i < len(vs); i += 2 {
			next = append(next, k.b.NewShuffleVector(vs[i], vs[i+1], shuffleMask(idx...)))
		}
		vs = next
	}
	return vs[0]
}
