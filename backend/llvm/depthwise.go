package llvm

import (
	"sort"

	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// Depthwise f32 convolution kernels.

// convDepthwise: every output channel m reads input channel m / Mg; the
// kernel offsets are unrolled with their valid output ranges computed here,
// so the inner loop has no bounds checks.
func (k *kfn) convDepthwise(s *codegen.Step, in []value.Value, y value.Value) error {
	c := s.Conv
	x, w := in[0], in[1]
	osz := c.OH * c.OW
	if c.SW == 1 && !overlap(&s.In[0], &s.Out) {
		k.convDepthwiseRows(s, in, y)
		return nil
	}
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.M, func(m value.Value) {
			xb := k.dwInput(c, n, m)
			yb := k.mul(k.add(k.mul(n, c.M), m), osz)
			init := value.Value(cf(0))
			if c.Bias {
				init = k.load(in[2], m)
			}
			k.fill(y, yb, osz, init)
			for kh := 0; kh < c.KH; kh++ {
				ohLo, ohHi := validRange(kh*c.DH-c.PT, c.SH, c.H, c.OH)
				for kw := 0; kw < c.KW; kw++ {
					off := kw*c.DW - c.PL
					lo, hi := validRange(off, c.SW, c.W, c.OW)
					if lo >= hi || ohLo >= ohHi {
						continue
					}
					wv := k.load(w, k.madd(m, c.KH*c.KW, ci(kh*c.KW+kw)))
					k.loop(ohLo, ohHi, func(oh value.Value) {
						ih := k.add(k.mul(oh, c.SH), ci(kh*c.DH-c.PT))
						xr := k.add(xb, k.mul(ih, c.W))
						yr := k.add(yb, k.mul(oh, c.OW))
						k.loop(lo, hi, func(ow value.Value) {
							xi := k.add(xr, k.add(k.mul(ow, c.SW), ci(off)))
							yi := k.add(yr, ow)
							k.store(k.fadd(k.load(y, yi), k.fmul(wv, k.load(x, xi))), y, yi)
						})
					})
				}
			}
		})
	})
	return nil
}

// convDepthwiseRows is convDepthwise for stride 1 along rows: each output
// row is computed once, in registers. The rows are split into segments
// with the same kernel rows inside the input (top edge, interior, bottom
// edge), so that no tap is tested at run time; over the columns every
// kernel column reads inside the input, blocks of 4 vectors (4 independent
// accumulators) with unaligned loads of the input rows; the other columns
// one at a time with their valid taps known here.
func (k *kfn) convDepthwiseRows(s *codegen.Step, in []value.Value, y value.Value) {
	c := s.Conv
	x, w := in[0], in[1]
	osz := c.OH * c.OW
	fma := k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8)
	const blk = dwBlk
	lo, nblk, nvec, vEnd, cuts := planDWRows(c)
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.M, func(m value.Value) {
			xb := k.dwInput(c, n, m)
			yb := k.mul(k.add(k.mul(n, c.M), m), osz)
			bias := value.Value(cf(0))
			if c.Bias {
				bias = k.load(in[2], m)
			}
			wt := make([]value.Value, c.KH*c.KW)
			for t := range wt {
				wt[t] = k.load(w, k.madd(m, c.KH*c.KW, ci(t)))
			}
			k.dwRowSegments(c, cuts, xb, yb, func(khs []int, yr value.Value, xr []value.Value) {
				vecs := func(ow0 value.Value, nv int) {
					a := make([]value.Value, nv)
					for v := range a {
						a[v] = k.splat(bias)
					}
					for _, kh := range khs {
						for kw := 0; kw < c.KW; kw++ {
							wv := k.splat(wt[kh*c.KW+kw])
							for v := range a {
								xv := k.vload(x, k.add(xr[kh], k.add(ow0, ci(v*vlen+kw*c.DW-c.PL))))
								a[v] = k.b.NewCall(fma, wv, xv, a[v])
							}
						}
					}
					for v := range a {
						k.vstore(a[v], y, k.add(yr, k.add(ow0, ci(v*vlen))))
					}
				}
				k.dwColumns(c, lo, nblk, nvec, vEnd, khs, xr, vecs, bias,
					func(acc value.Value, t int, at value.Value) value.Value {
						return k.fadd(acc, k.fmul(wt[t], k.load(x, at)))
					},
					func(ow int, acc value.Value) { k.store(acc, y, k.add(yr, ci(ow))) })
			})
		})
	})
}

// dwColumns sweeps one output row of a row-by-row depthwise kernel (f32
// or integer): vecs(ow0, n) computes n vectors from column ow0, in nblk
// blocks of dwBlk vectors from lo and then nvec more; the columns outside
// [lo, vEnd) go one at a time, from acc0, adding tap(acc, t, at) for every
// tap t inside the input (at: its input offset), then store(ow, acc).
func (k *kfn) dwColumns(c *codegen.Conv, lo, nblk, nvec, vEnd int, khs []int, xr []value.Value, vecs func(ow0 value.Value, n int),
	acc0 value.Value, tap func(acc value.Value, t int, at value.Value) value.Value, store func(ow int, acc value.Value)) {
	k.loop(0, nblk, func(b value.Value) { vecs(k.add(ci(lo), k.mul(b, dwBlk*vlen)), dwBlk) })
	if nvec > 0 {
		vecs(ci(lo+nblk*dwBlk*vlen), nvec)
	}
	for ow := 0; ow < c.OW; ow++ {
		if ow >= lo && ow < vEnd {
			continue
		}
		acc := acc0
		for _, kh := range khs {
			for kw := 0; kw < c.KW; kw++ {
				iw := ow + kw*c.DW - c.PL
				if iw < 0 || iw >= c.W {
					continue
				}
				acc = tap(acc, kh*c.KW+kw, k.add(xr[kh], ci(iw)))
			}
		}
		store(ow, acc)
	}
}

// dwBlk is the vectors a block of the row-by-row depthwise kernels.
const dwBlk = 4

// planDWRows is the static plan of a depthwise conv computed row by row
// (stride 1 across), f32 or integer: from lo, the first column whose taps
// all lie inside the input, nblk blocks of dwBlk vectors then nvec vectors
// cover those columns up to vEnd (the rest go one at a time); cuts are the
// row segment boundaries (sorted) where a kernel row enters or leaves the
// input.
func planDWRows(c *codegen.Conv) (lo, nblk, nvec, vEnd int, cuts []int) {
	lo, hi := 0, c.OW
	for kw := 0; kw < c.KW; kw++ {
		l, h := validRange(kw*c.DW-c.PL, 1, c.W, c.OW)
		lo, hi = max(lo, l), min(hi, h)
	}
	if hi < lo {
		lo, hi = 0, 0
	}
	nblk = (hi - lo) / (dwBlk * vlen)
	nvec = (hi - lo - nblk*dwBlk*vlen) / vlen
	vEnd = lo + (nblk*dwBlk+nvec)*vlen
	cuts = []int{0, c.OH}
	for kh := 0; kh < c.KH; kh++ {
		l, h := validRange(kh*c.DH-c.PT, c.SH, c.H, c.OH)
		cuts = append(cuts, l, h)
	}
	sort.Ints(cuts)
	return lo, nblk, nvec, vEnd, cuts
}

// dwRowSegments emits, for each row segment of cuts, a loop over its output
// rows that calls row with the kernel rows inside the input there (khs),
// the output row's offset yr (from yb) and, per kernel row in khs, the
// offset of the input row it reads (xr, from xb).
func (k *kfn) dwRowSegments(c *codegen.Conv, cuts []int, xb, yb value.Value, row func(khs []int, yr value.Value, xr []value.Value)) {
	for i := 0; i+1 < len(cuts); i++ {
		r0, r1 := cuts[i], cuts[i+1]
		if r0 >= r1 {
			continue
		}
		var khs []int
		for kh := 0; kh < c.KH; kh++ {
			if l, h := validRange(kh*c.DH-c.PT, c.SH, c.H, c.OH); l <= r0 && r1 <= h {
				khs = append(khs, kh)
			}
		}
		k.loop(r0, r1, func(oh value.Value) {
			yr := k.add(yb, k.mul(oh, c.OW))
			xr := make([]value.Value, c.KH)
			for _, kh := range khs {
				xr[kh] = k.add(xb, k.mul(k.add(k.mul(oh, c.SH), ci(kh*c.DH-c.PT)), c.W))
			}
			row(khs, yr, xr)
		})
	}
}

// dwInput is the element offset of the input plane that output channel m of
// image n of a depthwise conv reads: channel m / Mg.
func (k *kfn) dwInput(c *codegen.Conv, n, m value.Value) value.Value {
	ic := m
	if c.Mg != 1 {
		ic = k.b.NewSDiv(m, ci(c.Mg))
	}
	return k.mul(k.add(k.mul(n, c.C), ic), c.H*c.W)
}
