package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The integer depthwise conv on a padded plane: per output channel, its
// input plane is copied once as x - zx (i32) into a zero-bordered buffer
// on the stack, split by column phase (column SW·j + ph of the padded
// plane at [ph][j]), so that every tap of every stride reads vlen
// consecutive output columns with one unaligned vector load, and no tap
// is tested at run time. Output rows go by vectors of vlen columns from
// column 0 (the lanes past OW are computed from the buffer's slack and
// not stored), blocks of dwBlk vectors with the kernel's weights splatted
// once per channel; requantized in vector. Small planes (8×8, 4×4) and
// stride 2, which the row kernel leaves to scalar columns, run on full
// vectors. Integer sums: the same results as rt's in any order.

// dwPadMaxBytes bounds the stack buffer of the padded plane.
const dwPadMaxBytes = 64 << 10

// dwPad is the geometry of the padded, phase-split plane.
type dwPad struct {
	rows   int // padded rows read: row r is input row r - PT
	phases int // SW
	width  int // elements of a phase row (vectors past OW included)
	nvec   int // vectors of an output row
}

func (p dwPad) elems() int { return p.rows * p.phases * p.width }

// planDWPad is the padded plane of a depthwise conv, and whether the
// kernel takes it (its buffer within dwPadMaxBytes).
func planDWPad(c *codegen.Conv) (dwPad, bool) {
	nvec := (c.OW + vlen - 1) / vlen
	p := dwPad{
		rows:   (c.OH-1)*c.SH + (c.KH-1)*c.DH + 1,
		phases: c.SW,
		width:  nvec*vlen + (c.KW-1)*c.DW/c.SW,
		nvec:   nvec,
	}
	return p, p.elems()*4 <= dwPadMaxBytes
}

// intDWPadStep reports whether s is an integer depthwise conv the
// padded-plane kernel takes: 8-bit input, not in place, buffer in bounds.
func intDWPadStep(s *codegen.Step) bool {
	if s.Kernel != codegen.KConvDepthwise || s.Rq == nil || s.Conv == nil {
		return false
	}
	if dt := s.In[0].DType; (dt != pir.U8 && dt != pir.I8) || overlap(&s.In[0], &s.Out) {
		return false
	}
	_, ok := planDWPad(s.Conv)
	return ok
}

// intDepthwisePad emits the kernel of an intDWPadStep.
func (k *kfn) intDepthwisePad(s *codegen.Step, in []value.Value, y value.Value) {
	c := s.Conv
	x, w := in[0], in[1]
	xdt, wdt := s.In[0].DType, s.In[1].DType
	pd, _ := planDWPad(c)
	osz := c.OH * c.OW
	fin := k.requant(s, in)
	zx := c32(int64(s.Rq.ZX))
	buf := k.entryAlloca(types.NewArray(uint64(pd.elems()), i32), 32)
	buf.(interface{ SetName(string) }).SetName("dwpad")
	buf = k.b.NewBitCast(buf, types.NewPointer(i32))
	// The borders stay zero: every channel writes the same interior.
	k.fill(buf, ci(0), pd.elems(), c32(0))
	at := func(r value.Value, ph int, j value.Value) value.Value {
		return k.add(k.mul(k.add(k.mul(r, pd.phases), ci(ph)), pd.width), j)
	}
	ihLo, ihHi := max(0, -c.PT), min(c.H, pd.rows-c.PT)
	inRange := inRangeRq(s)
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.M, func(m value.Value) {
			xb := k.dwInput(c, n, m)
			k.loop(ihLo, ihHi, func(ih value.Value) {
				xr := k.add(xb, k.mul(ih, c.W))
				r := k.add(ih, ci(c.PT))
				for ph := 0; ph < pd.phases; ph++ {
					// Columns j of phase ph inside the input: 0 <= SW·j + ph - PL < W.
					jlo := max(0, ceilDiv(c.PL-ph, c.SW))
					jhi := min(pd.width, floorDiv(c.W-1+c.PL-ph, c.SW)+1)
					k.loop(jlo, jhi, func(j value.Value) {
						v := k.b.NewSub(k.loadInt(x, k.add(xr, k.add(k.mul(j, c.SW), ci(ph-c.PL))), xdt), zx)
						k.store(v, buf, at(r, ph, j))
					})
				}
			})
			yb := k.mul(k.add(k.mul(n, c.M), m), osz)
			bias := k.splatLike(k.load(in[2], m), constant.NewUndef(v8i32))
			wv := make([]value.Value, c.KH*c.KW)
			for t := range wv {
				wv[t] = k.splatLike(k.loadInt(w, k.madd(m, c.KH*c.KW, ci(t)), wdt), constant.NewUndef(v8i32))
			}
			k.loop(0, c.OH, func(oh value.Value) {
				r0 := k.mul(oh, c.SH)
				yr := k.add(yb, k.mul(oh, c.OW))
				vecs := func(v0 value.Value, nv int) {
					a := make([]value.Value, nv)
					for v := range a {
						a[v] = bias
					}
					for kh := 0; kh < c.KH; kh++ {
						for kw := 0; kw < c.KW; kw++ {
							ph, jo := kw*c.DW%c.SW, kw*c.DW/c.SW
							row := at(k.add(r0, ci(kh*c.DH)), ph, ci(jo))
							for v := range a {
								p := k.b.NewBitCast(k.at(buf, k.add(row, k.mul(k.add(v0, ci(v)), vlen))), types.NewPointer(v8i32))
								l := k.b.NewLoad(v8i32, p)
								l.Align = 4
								a[v] = k.b.NewAdd(a[v], k.b.NewMul(wv[kh*c.KW+kw], l))
							}
						}
					}
					for v := 0; v < nv; v++ {
						ow0 := k.mul(k.add(v0, ci(v)), vlen)
						// Vectors whose columns all lie in the row (known
						// when v0 is constant, or for every block but the
						// last: the caller passes only full blocks as loops).
						full := func(v int) bool {
							if c0, ok := constInt(v0); ok {
								return (int(c0)+v+1)*vlen <= c.OW
							}
							return true
						}
						if v+1 < nv && full(v+1) {
							k.storeInt16(fin(a[v], m), fin(a[v+1], m), y, k.add(yr, ow0), s.Out.DType, inRange)
							v++
							continue
						}
						n := vlen
						if c0, ok := constInt(v0); ok {
							n = min(vlen, c.OW-(int(c0)+v)*vlen)
						}
						k.storeIntN(fin(a[v], m), y, k.add(yr, ow0), s.Out.DType, n)
					}
				}
				// Blocks of dwBlk vectors whose columns all lie in the row,
				// then the rest (the last one partial) unrolled.
				fullVecs := c.OW / vlen
				nb := fullVecs / dwBlk
				k.loop(0, nb, func(b value.Value) { vecs(k.mul(b, dwBlk), dwBlk) })
				if rest := pd.nvec - nb*dwBlk; rest > 0 {
					vecs(ci(nb*dwBlk), rest)
				}
			})
		})
	})
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
