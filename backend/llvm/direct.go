package llvm

import (
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// The direct f32 conv (stride 1): the input, zero-padded, is copied into
// Scratch once per group, row-interleaved ([Hp][Cg][Wp]: the rows one
// output row reads are one contiguous block), and the GEMM's B rows are
// read from it in place: row (c, kh, kw) of the im2col matrix, over the 16
// output columns ow0.. of output row oh, is xpad[oh+kh·DH, c, ow0+kw·DW ..],
// 16 contiguous elements. The micro-kernel is the packed GEMM's (mrP × 16,
// weights in row blocks), its K loop one iteration per input channel with
// the KH·KW taps unrolled at constant offsets. No im2col: the matrix it
// would write is KH·KW times the input.

// directWindowBytes bounds the padded input rows of one output row.
const directWindowBytes = 64 << 10

// directGeom is the padded plane of a direct conv.
func directGeom(c *codegen.Conv) (hp, wp int) {
	return c.OH + (c.KH-1)*c.DH, c.OW + (c.KW-1)*c.DW
}

// directConv reports whether step s runs as a direct conv: f32, stride 1,
// weights repacked, and room in Scratch for the padded input (plus the
// over-read of the last row's last columns).
func (e *emitter) directConv(s *codegen.Step) bool {
	c := s.Conv
	if s.Kernel != codegen.KConvGemm || c == nil || c.Pointwise || c.SH != 1 || c.SW != 1 || !e.packedA[s] || s.Scratch == nil {
		return false
	}
	if c.KH*c.KW < 2 {
		return false
	}
	// Later groups and batch entries read the input after earlier ones
	// wrote the output.
	for i := range s.In {
		if overlap(&s.In[i], &s.Out) && c.N*c.Group > 1 {
			return false
		}
	}
	hp, wp := directGeom(c)
	if hp < c.PT || wp < c.PL {
		return false
	}
	// The input rows one output row reads must stay in L1/L2 across the
	// row's tiles (ppocr's 96-channel 160-wide rows do better through
	// im2col blocks).
	if c.Cg*c.KH*wp*4 > directWindowBytes {
		return false
	}
	// Tiles run along output rows: narrow rows leave lanes idle that the
	// panels, which run across rows, fill (resnet's 7×7 maps: 7 of 16).
	if ch := (c.OW + nrCol - 1) / nrCol; c.OW*100 < 83*ch*nrCol {
		return false
	}
	need := int64(c.Cg*hp*wp+2*nrCol) * 4
	return need <= s.Scratch.Bytes()
}

// convDirect emits the direct conv of step s (directConv).
func (k *kfn) convDirect(s *codegen.Step, in []value.Value, y, scratch value.Value, epiArgs []value.Value) {
	c := s.Conv
	x, w := in[0], in[1]
	K := c.Cg * c.KH * c.KW
	P := c.OH * c.OW
	hp, wp := directGeom(c)
	plane := hp * wp
	taps := c.KH * c.KW
	fma := k.e.intrinsic("llvm.fmuladd.v8f32", v8, v8, v8, v8)
	fullRB, rowRem := c.Mg/mrP, c.Mg%mrP
	fullC, colRem := c.OW/nrCol, c.OW%nrCol
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), c.H*c.W)
			cOff := k.mul(k.madd(n, c.M, k.mul(g, c.Mg)), P)
			// The padded input.
			k.loop(0, c.Cg, func(ch value.Value) {
				xc := k.add(xb, k.mul(ch, c.H*c.W))
				pc := k.mul(ch, wp)
				lo, hi := validRange(-c.PL, 1, c.W, wp)
				k.loop(0, hp, func(r value.Value) {
					ih := k.add(r, ci(-c.PT))
					dr := k.add(pc, k.mul(r, c.Cg*wp))
					valid := k.b.NewICmp(enum.IPredULT, ih, ci(c.H))
					k.ifElse(valid, func() {
						xr := k.add(k.add(xc, k.mul(ih, c.W)), ci(-c.PL))
						k.fill(scratch, dr, lo, cf(0))
						k.loop(lo, hi, func(q value.Value) { k.store(k.load(x, k.add(xr, q)), scratch, k.add(dr, q)) })
						k.fill(scratch, k.add(dr, ci(hi)), wp-hi, cf(0))
					}, func() { k.fill(scratch, dr, wp, cf(0)) })
				})
			})
			k.fill(scratch, ci(c.Cg*plane), 2*nrCol, cf(0))
			aBase := k.mul(g, c.Mg*K)
			tile := func(oh, i0, ow0 value.Value, rows, cols int) {
				inits := make([]value.Value, 0, rows*nv+2)
				cidx := make([]value.Value, rows*nv)
				for r := 0; r < rows; r++ {
					var binit value.Value = vconst(0)
					if c.Bias {
						binit = k.splat(k.load(in[2], k.add(k.mul(g, c.Mg), k.add(i0, ci(r)))))
					}
					crow := k.add(cOff, k.add(k.madd(k.add(i0, ci(r)), P, k.mul(oh, c.OW)), ow0))
					for v := 0; v < nv; v++ {
						cidx[r*nv+v] = k.add(crow, ci(v*vlen))
						inits = append(inits, binit)
					}
				}
				nacc := len(inits)
				a0 := k.at(w, k.add(aBase, k.mul(i0, K)))
				b0 := k.at(scratch, k.add(k.mul(oh, c.Cg*wp), ow0))
				res := k.loopAcc(c.Cg, append(inits, a0, b0), func(_ value.Value, st []value.Value) []value.Value {
					acc := append([]value.Value(nil), st[:nacc]...)
					ap, bp := st[nacc], st[nacc+1]
					for kh := 0; kh < c.KH; kh++ {
						for kw := 0; kw < c.KW; kw++ {
							t := kh*c.KW + kw
							off := kh*c.DH*c.Cg*wp + kw*c.DW
							bv := make([]value.Value, nv)
							for v := range bv {
								bv[v] = k.vload(bp, ci(off+v*vlen))
							}
							for r := 0; r < rows; r++ {
								a := k.splat(k.load(ap, ci(t*rows+r)))
								for v := 0; v < nv; v++ {
									acc[r*nv+v] = k.b.NewCall(fma, a, bv[v], acc[r*nv+v])
								}
							}
						}
					}
					return append(acc, k.at(ap, ci(taps*rows)), k.at(bp, ci(wp)))
				})
				for r := 0; r < rows; r++ {
					for v := 0; v < nv; v++ {
						nl := cols - v*vlen
						if nl <= 0 {
							continue
						}
						xv := res[r*nv+v]
						if epiArgs != nil {
							xv = k.vepi(s, xv, epiArgs, cidx[r*nv+v], nl)
						}
						k.vstoreN(xv, y, cidx[r*nv+v], nl)
					}
				}
			}
			k.loop(0, c.OH, func(oh value.Value) {
				colBlock := func(ow0 value.Value, cols int) {
					k.loop(0, fullRB, func(ib value.Value) { tile(oh, k.mul(ib, mrP), ow0, mrP, cols) })
					if rowRem > 0 {
						tile(oh, ci(fullRB*mrP), ow0, rowRem, cols)
					}
				}
				k.loop(0, fullC, func(jc value.Value) { colBlock(k.mul(jc, nrCol), nrCol) })
				if colRem > 0 {
					colBlock(ci(fullC*nrCol), colRem)
				}
			})
		})
	})
}
