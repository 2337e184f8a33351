package llvm

import (
	"sort"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Integer convs on padded planes: the depthwise convs, and the convs of
// few input and output channels per group (a first layer: 3 → 8 channels,
// where the panel kernel's im2col is repacked for two row blocks only).
// Per group, its Cg input planes are copied once as x - zx into
// zero-bordered buffers, each split by column phase (column SW·j + ph of
// the padded plane at [ph][j]) and holding vertical pairs (row r and row
// r + DH, as two i16 in an i32), so that two kernel rows of a kernel
// column are one multiply-add of i16 pairs (pmaddwd: the weight pair
// broadcast) over vlen consecutive output columns, one unaligned vector
// load, for every stride, and no tap is tested at run time (an odd last
// kernel row pairs with a zero weight). Output rows go by vectors of vlen
// columns from column 0 (the lanes past OW are computed from the buffer's
// slack and not stored), blocks of dwBlk vectors; requantized in vector.
// i16 products of |x - zx| <= 255 and i8 or zero-centred u8 weights,
// summed in i32, are exact. Small
// planes (8×8, 4×4) and stride 2, which the depthwise row kernel leaves
// to scalar columns, run on full vectors. Integer sums: the same results
// as rt's in any order.

// dwPadMaxBytes bounds the stack buffer of the padded planes (larger ones
// go in the step's Scratch, when it has room).
const dwPadMaxBytes = 64 << 10

// Bounds of the convs (not depthwise) on padded planes: few output
// channels per group (the panel kernel reuses its packed im2col for
// Mg/mrI row blocks) and short kernels (its register blocks).
const (
	padConvMaxMg = 8
	padConvMaxK  = 32
)

// dwPad is the geometry of the padded, phase-split planes.
type dwPad struct {
	rows   int // padded rows read: row r is input row r - PT
	phases int // SW
	width  int // elements of a phase row (vectors past OW included)
	nvec   int // vectors of an output row
	planes int // input channels of a group (1 for depthwise)
	dh     int // DH: pair row r holds rows r and r + dh
}

func (p dwPad) plane() int { return p.rows * p.phases * p.width }
func (p dwPad) elems() int { return p.planes * p.plane() }

// planDWPad is the padded planes of a conv (one for depthwise, Cg else).
func planDWPad(c *codegen.Conv, planes int) dwPad {
	nvec := (c.OW + vlen - 1) / vlen
	return dwPad{
		rows:   (c.OH-1)*c.SH + (c.KH-1)*c.DH + 1,
		phases: c.SW,
		width:  nvec*vlen + (c.KW-1)*c.DW/c.SW,
		nvec:   nvec,
		planes: planes,
		dh:     c.DH,
	}
}

// padGroups is how an intPadStep's channels group: groups of cg input
// channels and mg output channels (depthwise: output channel m reads input
// channel m / Mg).
func padGroups(s *codegen.Step) (groups, cg, mg int) {
	c := s.Conv
	if s.Kernel == codegen.KConvDepthwise {
		return c.M / c.Mg, 1, c.Mg
	}
	return c.Group, c.Cg, c.Mg
}

// intPadStep reports whether s is an integer conv the padded-plane
// kernel takes: 8-bit input, not in place, its buffer on the stack or in
// Scratch; depthwise, or constant i16 weights (zero-centred u8: no dot
// product kernel takes them) within padConvMaxMg and padConvMaxK, not
// pointwise.
func intPadStep(s *codegen.Step) bool {
	c := s.Conv
	if s.Rq == nil || c == nil || len(s.In) < 3 || (s.Rq.Mode != "float" && s.Rq.Mode != "tflite") {
		return false
	}
	if dt := s.In[0].DType; (dt != pir.U8 && dt != pir.I8) || overlap(&s.In[0], &s.Out) {
		return false
	}
	switch s.Kernel {
	case codegen.KConvDepthwise:
	case codegen.KConvGemm:
		if s.Rq.BRuntime || s.In[1].Space != codegen.Weights || s.In[1].DType != pir.I16 || c.Pointwise || c.Mg > padConvMaxMg || c.Cg*c.KH*c.KW > padConvMaxK {
			return false
		}
	default:
		return false
	}
	_, _, ok := dwPadBuffer(s)
	return ok
}

// dwPadBuffer is the plan of s's padded planes and whether they go in
// Scratch (else on the stack), false when neither has room.
func dwPadBuffer(s *codegen.Step) (dwPad, bool, bool) {
	_, cg, _ := padGroups(s)
	p := planDWPad(s.Conv, cg)
	b := int64(p.elems() * 4)
	if b <= dwPadMaxBytes {
		return p, false, true
	}
	return p, true, s.Scratch != nil && b <= s.Scratch.Bytes()
}

// intConvPad emits the kernel of an intPadStep.
func (k *kfn) intConvPad(s *codegen.Step, in []value.Value, y, scratch value.Value) {
	c := s.Conv
	x, w := in[0], in[1]
	xdt, wdt := s.In[0].DType, s.In[1].DType
	pd, inScratch, _ := dwPadBuffer(s)
	groups, cg, mg := padGroups(s)
	osz := c.OH * c.OW
	taps := c.KH * c.KW
	fin := k.requant(s, in)
	zx := c32(int64(s.Rq.ZX))
	// nbuf: two sets of planes on the stack where they fit, group t+1's
	// written while group t's are read (loads right after the stores of
	// overlapping vectors wait for them: store forwarding fails).
	nbuf := 1
	if !inScratch && 2*pd.elems()*4 <= dwPadMaxBytes {
		nbuf = 2
	}
	var buf value.Value
	if inScratch {
		buf = k.b.NewBitCast(scratch, types.NewPointer(i32))
	} else {
		a := k.entryAlloca(types.NewArray(uint64(nbuf*pd.elems()), i32), 32)
		a.(interface{ SetName(string) }).SetName("dwpad")
		buf = k.b.NewBitCast(a, types.NewPointer(i32))
	}
	wp := k.b.NewBitCast(k.entryAlloca(types.NewArray(uint64(cg*(c.KH+1)/2*c.KW), i32), 32), types.NewPointer(i32))
	// at: the pair of row r, phase ph, element j of plane pl (of both
	// sets: set h's plane p is h·cg + p).
	at := func(pl, r value.Value, ph int, j value.Value) value.Value {
		return k.add(k.mul(pl, pd.plane()), k.add(k.mul(k.add(k.mul(r, pd.phases), ci(ph)), pd.width), j))
	}
	// Segments of pair rows whose two rows are each inside the input or
	// not throughout (rows outside stay zero).
	inside := func(r int) bool { return r-c.PT >= 0 && r-c.PT < c.H }
	cuts := []int{0, pd.rows}
	for _, r := range []int{c.PT, c.PT + c.H, c.PT - pd.dh, c.PT + c.H - pd.dh} {
		if r > 0 && r < pd.rows {
			cuts = append(cuts, r)
		}
	}
	sort.Ints(cuts)
	// Columns j of phase ph inside the input: 0 <= SW·j + ph - PL < W.
	cols := func(ph int) (int, int) {
		return max(0, ceilDiv(c.PL-ph, c.SW)), min(pd.width, floorDiv(c.W-1+c.PL-ph, c.SW)+1)
	}
	// The borders, zero once: every group writes the same interior (the
	// pairs of the rows and columns inside the input, whole).
	k.loop(0, nbuf*cg, func(pl value.Value) {
		for i := 0; i+1 < len(cuts); i++ {
			r0, r1 := cuts[i], cuts[i+1]
			if r0 >= r1 {
				continue
			}
			if !inside(r0) && !inside(r0+pd.dh) {
				k.fill(buf, at(pl, ci(r0), 0, ci(0)), (r1-r0)*pd.phases*pd.width, c32(0))
				continue
			}
			k.loop(r0, r1, func(r value.Value) {
				for ph := 0; ph < pd.phases; ph++ {
					jlo, jhi := cols(ph)
					jhi = max(jhi, jlo)
					k.fill(buf, at(pl, r, ph, ci(0)), jlo, c32(0))
					k.fill(buf, at(pl, r, ph, ci(jhi)), pd.width-jhi, c32(0))
				}
			})
		}
	})
	inRange := inRangeRq(s)
	// Groups t of all images: image t / groups, group t % groups, planes
	// of set t % nbuf.
	T := c.N * groups
	split := func(t value.Value) (n, g, set value.Value) {
		n, g, set = k.b.NewUDiv(t, ci(groups)), k.b.NewURem(t, ci(groups)), ci(0)
		if nbuf > 1 {
			set = k.b.NewURem(t, ci(nbuf))
		}
		return n, g, set
	}
	fill := func(t value.Value) {
		n, g, set := split(t)
		k.loop(0, cg, func(p value.Value) {
			pl := k.madd(set, cg, p)
			xb := k.mul(k.add(k.mul(n, c.C), k.madd(g, cg, p)), c.H*c.W)
			for i := 0; i+1 < len(cuts); i++ {
				r0, r1 := cuts[i], cuts[i+1]
				lo, hi := inside(r0), inside(r0+pd.dh)
				if r0 >= r1 || (!lo && !hi) {
					continue
				}
				k.loop(r0, r1, func(r value.Value) {
					for ph := 0; ph < pd.phases; ph++ {
						jlo, jhi := cols(ph)
						k.padPairs(c, x, xdt, zx, buf, at(pl, r, ph, ci(0)), xb, r, ph, jlo, jhi, lo, hi, pd.dh)
					}
				})
			}
		})
	}
	compute := func(t value.Value) {
		n, g, set := split(t)
		k.loop(0, mg, func(i value.Value) {
			m := k.madd(g, mg, i)
			yb := k.mul(k.add(k.mul(n, c.M), m), osz)
			bias := k.splatLike(k.load(in[2], m), constant.NewUndef(v8i32))
			// wv: the weights of kernel rows kh and kh+1 (zero past
			// KH) at column kw, an i16 pair in every lane.
			// (packed once per channel into wp, broadcast from there).
			khp := (c.KH + 1) / 2
			for pl := 0; pl < cg; pl++ {
				for kh := 0; kh < c.KH; kh += 2 {
					for kw := 0; kw < c.KW; kw++ {
						wt := func(kh int) value.Value {
							if kh >= c.KH {
								return c32(0)
							}
							return k.b.NewAnd(k.loadInt(w, k.madd(m, cg*taps, ci(pl*taps+kh*c.KW+kw)), wdt), c32(0xffff))
						}
						k.store(k.b.NewOr(wt(kh), k.b.NewShl(wt(kh+1), c32(16))), wp, ci((pl*khp+kh/2)*c.KW+kw))
					}
				}
			}
			wv := func(pl, kh, kw int) value.Value {
				pair := k.load(wp, ci((pl*khp+kh/2)*c.KW+kw))
				return k.b.NewBitCast(k.splatLike(pair, constant.NewUndef(v8i32)), v16i6)
			}
			atSet := func(pl, r value.Value, ph int, j value.Value) value.Value {
				return at(k.madd(set, cg, pl), r, ph, j)
			}
			k.loop(0, c.OH, func(oh value.Value) {
				k.dwPadRow(s, pd, buf, atSet, wv, bias, k.mul(oh, c.SH), k.add(yb, k.mul(oh, c.OW)), func(a value.Value) value.Value { return fin(a, m) }, y, inRange)
			})
		})
	}
	if nbuf == 1 {
		k.loop(0, T, func(t value.Value) { fill(t); compute(t) })
		return
	}
	fill(ci(0))
	k.loop(0, T, func(t value.Value) {
		next := k.add(t, ci(1))
		k.if_(k.b.NewICmp(enum.IPredSLT, next, ci(T)), func() { fill(next) })
		compute(t)
	})
}

// padPairs writes elements [jlo, jhi) of a phase row of pair row r
// (from base in buf): rows r and r + dh of input plane xb (lo, hi: each
// inside the input, else zero), columns SW·j + ph - PL, as x - zx in i16
// pairs; vlen elements at a time by vector loads (strided columns
// gathered by a shuffle) where they lie inside the input row, else one at
// a time.
func (k *kfn) padPairs(c *codegen.Conv, x value.Value, xdt pir.DType, zx, buf, base, xb, r value.Value, ph, jlo, jhi int, lo, hi bool, dh int) {
	ext := func(v value.Value, t types.Type) value.Value {
		if xdt == pir.U8 {
			return k.b.NewZExt(v, t)
		}
		return k.b.NewSExt(v, t)
	}
	// half: row r + dr from column col (n elements), as i32 lanes of x - zx
	// in the low 16 bits (zero where the row is outside the input).
	half := func(ok bool, dr int, col value.Value, n int) value.Value {
		if !ok {
			if n == 1 {
				return c32(0)
			}
			return constant.NewZeroInitializer(v8i32)
		}
		at := k.add(xb, k.add(k.mul(k.add(r, ci(dr-c.PT)), c.W), col))
		if n == 1 {
			return k.b.NewAnd(k.b.NewSub(k.loadInt(x, at, xdt), zx), c32(0xffff))
		}
		vt := types.NewVector(uint64(vlen*c.SW), types.I8)
		l := k.b.NewLoad(vt, k.b.NewBitCast(k.at(x, at), types.NewPointer(vt)))
		l.Align = 1
		var v value.Value = l
		if c.SW > 1 {
			idx := make([]int, vlen)
			for i := range idx {
				idx[i] = i * c.SW
			}
			v = k.b.NewShuffleVector(v, constant.NewUndef(vt), shuffleMask(idx...))
		}
		v = k.b.NewSub(ext(v, v8i32), k.splatLike(zx, constant.NewUndef(v8i32)))
		return k.b.NewAnd(v, k.splatLike(c32(0xffff), constant.NewUndef(v8i32)))
	}
	pair := func(col value.Value, n int) value.Value {
		var sh value.Value = c32(16)
		if n > 1 {
			sh = cLike(c32(16), constant.NewUndef(v8i32))
		}
		return k.b.NewOr(half(lo, 0, col, n), k.b.NewShl(half(hi, dh, col, n), sh))
	}
	for j0 := jlo; j0 < jhi; j0 += vlen {
		col := c.SW*j0 + ph - c.PL
		if j0+vlen <= jhi && col+vlen*c.SW <= c.W {
			st := k.b.NewStore(pair(ci(col), vlen), k.b.NewBitCast(k.at(buf, k.add(base, ci(j0))), types.NewPointer(v8i32)))
			st.Align = 4
			continue
		}
		k.loop(j0, min(jhi, j0+vlen), func(j value.Value) {
			k.store(pair(k.add(k.mul(j, c.SW), ci(ph-c.PL)), 1), buf, k.add(base, j))
		})
	}
}

// dwPadRow computes one output row (its first input row r0, its output
// offset yr) from the padded planes: blocks of dwBlk vectors whose columns
// all lie in the row, then the rest (the last one partial) unrolled.
func (k *kfn) dwPadRow(s *codegen.Step, pd dwPad, buf value.Value, at func(pl, r value.Value, ph int, j value.Value) value.Value,
	wv func(pl, kh, kw int) value.Value, bias, r0, yr value.Value, fin func(value.Value) value.Value, y value.Value, inRange bool) {
	c := s.Conv
	vecs := func(v0 value.Value, nv int) {
		a := make([]value.Value, nv)
		for v := range a {
			a[v] = bias
		}
		for pl := 0; pl < pd.planes; pl++ {
			for kh := 0; kh < c.KH; kh += 2 {
				for kw := 0; kw < c.KW; kw++ {
					ph, jo := kw*c.DW%c.SW, kw*c.DW/c.SW
					row := at(ci(pl), k.add(r0, ci(kh*c.DH)), ph, ci(jo))
					wt := wv(pl, kh, kw)
					for v := range a {
						p := k.b.NewBitCast(k.at(buf, k.add(row, k.mul(k.add(v0, ci(v)), vlen))), types.NewPointer(v16i6))
						l := k.b.NewLoad(v16i6, p)
						l.Align = 4
						a[v] = k.b.NewAdd(a[v], k.pmaddwd(wt, l))
					}
				}
			}
		}
		// Columns of vector v in the row: all of them unless v0 is
		// constant (the loop's blocks are full).
		cols := func(v int) int {
			if c0, ok := constInt(v0); ok {
				return min(vlen, c.OW-(int(c0)+v)*vlen)
			}
			return vlen
		}
		for v := 0; v < nv; v++ {
			ow0 := k.mul(k.add(v0, ci(v)), vlen)
			if v+1 < nv && cols(v+1) == vlen {
				k.storeInt16(fin(a[v]), fin(a[v+1]), y, k.add(yr, ow0), s.Out.DType, inRange)
				v++
				continue
			}
			k.storeIntN(fin(a[v]), y, k.add(yr, ow0), s.Out.DType, cols(v))
		}
	}
	nb := c.OW / vlen / dwBlk
	k.loop(0, nb, func(b value.Value) { vecs(k.mul(b, dwBlk), dwBlk) })
	if rest := pd.nvec - nb*dwBlk; rest > 0 {
		vecs(ci(nb*dwBlk), rest)
	}
}

// ceilDiv and floorDiv are integer divisions rounding up and down (b > 0).
func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
