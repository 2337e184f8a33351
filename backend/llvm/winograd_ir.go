package llvm

import (
	"fmt"
	"strings"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// convWinograd emits the Winograd conv of step s (winograd.go): a call of
// the conv's body (winoBody) with the address of its transformed weights.
// Convs of the same geometry and epilogue share one body (resnet's repeated
// blocks), as kernels of the same text do (Emit).
func (k *kfn) convWinograd(s *codegen.Step, pl *winoPlan, in []value.Value, y, scratch value.Value, epiArgs []value.Value) {
	wg := k.b.NewGetElementPtr(k.e.weights.ContentType, k.e.weights, ci(0), ci(int(pl.uOff)))
	wg.InBounds = true
	u := k.b.NewBitCast(wg, f32p)
	args := []value.Value{in[0], y, scratch}
	if s.Conv.Bias {
		args = append(args, in[2])
	}
	args = append(args, epiArgs...)
	var params []*ir.Param
	for i, a := range args {
		p := ir.NewParam(fmt.Sprintf("p%d", i), a.Type())
		if q, ok := a.(*ir.Param); ok {
			p.Attrs = append(p.Attrs, q.Attrs...)
		}
		params = append(params, p)
	}
	up := ir.NewParam("u", f32p)
	up.Attrs = append(up.Attrs, enum.ParamAttrNoAlias)
	params = append(params, up)
	b := k.e.newFunc(k.f.Name()+"_wino", types.Void, params...)
	b.f.Linkage = enum.LinkageInternal
	b.f.FuncAttrs = append(b.f.FuncAttrs, enum.FuncAttrNoInline)
	bargs := make([]value.Value, len(params))
	for i, p := range params {
		bargs[i] = p
	}
	var bias value.Value
	rest := bargs[3 : len(bargs)-1]
	if s.Conv.Bias {
		bias, rest = rest[0], rest[1:]
	}
	if epiArgs == nil {
		rest = nil
	}
	b.winoBody(s, pl, bargs[0], bargs[1], bargs[2], bias, rest, up)
	b.b.NewRet(nil)
	// The body goes before this kernel, which Emit expects after it
	// (a body like an earlier one is dropped).
	key := strings.Replace(b.f.LLString(), "@"+b.f.Name()+"(", "@(", 1)
	f := k.e.winoBodies[key]
	if f == nil {
		if k.e.winoBodies == nil {
			k.e.winoBodies = map[string]*ir.Func{}
		}
		k.e.winoBodies[key] = b.f
	}
	var fs []*ir.Func
	for _, g := range k.e.m.Funcs {
		if g == b.f {
			continue
		}
		if g == k.f && f == nil {
			fs = append(fs, b.f)
		}
		fs = append(fs, g)
	}
	k.e.m.Funcs = fs
	if f == nil {
		f = b.f
	}
	k.b.NewCall(f, append(args, u)...)
}

// winoBody emits the conv: per batch entry the padded copy of the input,
// then per block of tile rows the input transform into V, the α² GEMMs
// into M, and the output transform with the bias and the fused epilogue
// (epiArgs non-nil) into y.
func (k *kfn) winoBody(s *codegen.Step, pl *winoPlan, x, y, scratch, bias value.Value, epiArgs []value.Value, u value.Value) {
	c := s.Conv
	a2 := pl.a * pl.a
	nblk := (pl.th + pl.rows - 1) / pl.rows
	k.loop(0, c.N, func(n value.Value) {
		xb := k.mul(n, c.C*c.H*c.W)
		yb := k.mul(n, c.M*c.OH*c.OW)
		k.winoPad(c, pl, x, xb, scratch)
		k.loop(0, nblk, func(b value.Value) {
			// The last block ends at the last tile row (it may redo rows
			// of the one before: the same values).
			ty0 := k.mul(b, pl.rows)
			if nblk*pl.rows > pl.th {
				last := ci(pl.th - pl.rows)
				ty0 = k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, ty0, last), ty0, last)
			}
			k.f32WinoInput(c, pl, ty0, scratch)
			k.loop(0, a2, func(xi value.Value) {
				k.gemmPanels(panelGemm{M: c.M, N: pl.nb, K: c.C, a: u, aOff: k.mul(xi, c.M*c.C),
					bp: k.at(scratch, k.add(ci(pl.vOff), k.mul(xi, c.C*pl.nbP))),
					c:  scratch, cOff: k.add(ci(pl.mOff), k.mul(xi, c.M*pl.nb)), s: s, aPacked: true})
			})
			k.f32WinoOutput(s, pl, ty0, scratch, y, yb, bias, epiArgs)
		})
	})
}

// winoPad copies the C planes of the input at xb, zero-padded, into the
// hp×wp planes at the start of Scratch.
func (k *kfn) winoPad(c *codegen.Conv, pl *winoPlan, x, xb, scratch value.Value) {
	lo, hi := validRange(-c.PL, 1, c.W, pl.wp)
	k.loop(0, c.C, func(ch value.Value) {
		xc := k.add(xb, k.mul(ch, c.H*c.W))
		pc := k.mul(ch, pl.hp*pl.wp)
		k.loop(0, pl.hp, func(r value.Value) {
			ih := k.add(r, ci(-c.PT))
			dr := k.add(pc, k.mul(r, pl.wp))
			valid := k.b.NewICmp(enum.IPredULT, ih, ci(c.H))
			k.ifElse(valid, func() {
				xr := k.add(k.add(xc, k.mul(ih, c.W)), ci(-c.PL))
				k.fill(scratch, dr, lo, cf(0))
				k.loop(lo, hi, func(q value.Value) { k.store(k.load(x, k.add(xr, q)), scratch, k.add(dr, q)) })
				k.fill(scratch, k.add(dr, ci(hi)), pl.wp-hi, cf(0))
			}, func() { k.fill(scratch, dr, pl.wp, cf(0)) })
		})
	})
}

// lin is Σ coef[i]·v[i] over vectors (coefficients 0 skipped, ±1 as adds).
func (k *kfn) lin(coef []float64, v []value.Value) value.Value {
	var acc value.Value
	for i, cf := range coef {
		if cf == 0 {
			continue
		}
		switch {
		case acc == nil && cf == 1:
			acc = v[i]
		case acc == nil && cf == -1:
			acc = k.b.NewFNeg(v[i])
		case acc == nil:
			acc = k.fmul(vconst(float32(cf)), v[i])
		case cf == 1:
			acc = k.fadd(acc, v[i])
		case cf == -1:
			i := k.b.NewFSub(acc, v[i])
			i.FastMathFlags = []enum.FastMathFlag{enum.FastMathFlagContract}
			acc = i
		default:
			acc = k.fadd(acc, k.fmul(vconst(float32(cf)), v[i]))
		}
	}
	if acc == nil {
		return vconst(0)
	}
	return acc
}

// transform2 is L·X·Rᵀ over α×α (or fewer) vectors: rows of X combined by
// L, then columns by R.
func (k *kfn) transform2(l, r [][]float64, x [][]value.Value) [][]value.Value {
	t := make([][]value.Value, len(l))
	for i := range l {
		t[i] = make([]value.Value, len(x[0]))
		for j := range x[0] {
			col := make([]value.Value, len(x))
			for q := range x {
				col[q] = x[q][j]
			}
			t[i][j] = k.lin(l[i], col)
		}
	}
	out := make([][]value.Value, len(l))
	for i := range l {
		out[i] = make([]value.Value, len(r))
		for j := range r {
			out[i][j] = k.lin(r[j], t[i])
		}
	}
	return out
}

// f32WinoInput writes V for the tile rows [ty0, ty0+rows): per channel, tile
// row and vector of 8 tiles, the α rows of the α×α input tiles are loaded
// as one wide row each and split into α vectors (column j of tile l is
// element m·l + j), transformed, and stored into the α² panels matrices
// (tile tb of the block is column tb: panel tb/16, lane tb%16).
func (k *kfn) f32WinoInput(c *codegen.Conv, pl *winoPlan, ty0, scratch value.Value) {
	bt, _, _ := winoMats(pl.m)
	wideT := types.NewVector(uint64(pl.wide), f32)
	masks := make([]value.Value, pl.a)
	for j := range masks {
		idx := make([]int, vlen)
		for l := range idx {
			idx[l] = j + pl.m*l
		}
		masks[j] = shuffleMask(idx...)
	}
	ng := pl.twp / vlen
	k.loop(0, c.C, func(ch value.Value) {
		pc := k.add(ci(pl.padOff), k.mul(ch, pl.hp*pl.wp))
		k.loop(0, pl.rows, func(ty value.Value) {
			row0 := k.add(pc, k.mul(k.add(ty0, ty), pl.m*pl.wp))
			k.loop(0, ng, func(gi value.Value) {
				base := k.add(row0, k.mul(gi, vlen*pl.m))
				d := make([][]value.Value, pl.a)
				for i := range d {
					p := k.b.NewBitCast(k.at(scratch, k.add(base, ci(i*pl.wp))), types.NewPointer(wideT))
					ld := k.b.NewLoad(wideT, p)
					ld.Align = 4
					d[i] = make([]value.Value, pl.a)
					for j := range d[i] {
						d[i][j] = k.b.NewShuffleVector(ld, constant.NewUndef(wideT), masks[j])
					}
				}
				v := k.transform2(bt, bt, d)
				tb := k.add(k.mul(ty, pl.twp), k.mul(gi, vlen))
				var jp, lane value.Value
				if cv, ok := constInt(tb); ok {
					jp, lane = ci(int(cv)/nrCol), ci(int(cv)%nrCol)
				} else {
					jp, lane = k.b.NewLShr(tb, ci(4)), k.b.NewAnd(tb, ci(nrCol-1))
				}
				dst := k.add(k.mul(k.madd(jp, c.C, ch), nrCol), lane)
				for i := 0; i < pl.a; i++ {
					for j := 0; j < pl.a; j++ {
						xi := i*pl.a + j
						k.vstore(v[i][j], scratch, k.add(ci(pl.vOff+xi*c.C*pl.nbP), dst))
					}
				}
			})
		})
	})
}

// f32WinoOutput transforms M of the block's tiles into the output tiles,
// adds the bias, applies the epilogue and stores the rows inside OH×OW:
// the m vectors of one output row of 8 tiles are interleaved into m
// vectors of consecutive outputs.
func (k *kfn) f32WinoOutput(s *codegen.Step, pl *winoPlan, ty0, scratch, y, yb, bias value.Value, epiArgs []value.Value) {
	c := s.Conv
	_, _, at := winoMats(pl.m)
	m := pl.m
	// concat joins the m vectors of one output row (vector q at q·8).
	concat := func(v []value.Value) value.Value {
		cur := v
		for len(cur) > 1 {
			var next []value.Value
			for i := 0; i < len(cur); i += 2 {
				n := int(cur[i].Type().(*types.VectorType).Len)
				idx := make([]int, 2*n)
				for q := range idx {
					idx[q] = q
				}
				next = append(next, k.b.NewShuffleVector(cur[i], cur[i+1], shuffleMask(idx...)))
			}
			cur = next
		}
		return cur[0]
	}
	// chunk q of the interleaved row: output element 8q+e is tile
	// (8q+e)/m's column (8q+e)%m, i.e. vector (8q+e)%m lane (8q+e)/m.
	chunkMask := make([]value.Value, m)
	for q := range chunkMask {
		idx := make([]int, vlen)
		for e := range idx {
			p := q*vlen + e
			idx[e] = (p%m)*vlen + p/m
		}
		chunkMask[q] = shuffleMask(idx...)
	}
	ng := pl.twp / vlen
	fullG := c.OW / (vlen * m)
	lastCols := c.OW - fullG*vlen*m // outputs of the last, partial group
	k.loop(0, c.M, func(o value.Value) {
		var bv value.Value
		if bias != nil {
			bv = k.splat(k.load(bias, o))
		}
		yo := k.add(yb, k.mul(o, c.OH*c.OW))
		k.loop(0, pl.rows, func(ty value.Value) {
			group := func(gi value.Value, cols int) {
				tb := k.add(k.mul(ty, pl.twp), k.mul(gi, vlen))
				src := k.add(k.add(ci(pl.mOff), k.mul(o, pl.nb)), tb)
				mv := make([][]value.Value, pl.a)
				for i := range mv {
					mv[i] = make([]value.Value, pl.a)
					for j := range mv[i] {
						mv[i][j] = k.vload(scratch, k.add(src, ci((i*pl.a+j)*c.M*pl.nb)))
					}
				}
				yv := k.transform2(at, at, mv)
				for r := 0; r < m; r++ {
					oh := k.add(k.mul(k.add(ty0, ty), m), ci(r))
					store := func() {
						row := concat(yv[r])
						for q := 0; q < m; q++ {
							nl := cols - q*vlen
							if nl <= 0 {
								break
							}
							var v value.Value = k.b.NewShuffleVector(row, constant.NewUndef(row.Type()), chunkMask[q])
							if bv != nil {
								v = k.b.NewFAdd(v, bv)
							}
							idx := k.add(k.add(yo, k.mul(oh, c.OW)), k.add(k.mul(gi, vlen*m), ci(q*vlen)))
							out := v
							if epiArgs != nil {
								out = k.vepi(s, v, epiArgs, idx, min(nl, vlen))
							}
							k.vstoreN(out, y, idx, min(nl, vlen))
						}
					}
					if pl.th*m > c.OH && r >= c.OH%m {
						k.if_(k.b.NewICmp(enum.IPredSLT, oh, ci(c.OH)), store)
					} else {
						store()
					}
				}
			}
			k.loop(0, fullG, func(gi value.Value) { group(gi, vlen*m) })
			if lastCols > 0 && fullG < ng {
				group(ci(fullG), lastCols)
			}
		})
	})
}

// calledElsewhere returns the declarations (from decls, the main module's
// kernel declarations) of the kernels that the functions fs call but do not
// define: a kernel calls its Winograd body, which splitModule may place in
// another part.
func calledElsewhere(fs []*ir.Func, decls []*ir.Func) []*ir.Func {
	defined := map[string]bool{}
	for _, f := range fs {
		defined[f.Name()] = true
	}
	called := map[string]bool{}
	for _, f := range fs {
		for _, b := range f.Blocks {
			for _, in := range b.Insts {
				if c, ok := in.(*ir.InstCall); ok {
					if g, ok := c.Callee.(*ir.Func); ok && len(g.Blocks) > 0 && !defined[g.Name()] {
						called[g.Name()] = true
					}
				}
			}
		}
	}
	var out []*ir.Func
	for _, d := range decls {
		if called[d.Name()] {
			out = append(out, d)
		}
	}
	return out
}
