package llvm

import (
	"sort"

	"fmt"
	"math"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// pool: like the depthwise conv, the window offsets are unrolled with their
// valid output ranges, so the inner loops run without bounds checks; an
// average divides by per-row and per-column counts computed here.
func (k *kfn) pool(s *codegen.Step, x, y value.Value) error {
	p := s.Pool
	osz := p.OH * p.OW
	init := cf(0)
	if p.Max {
		init = cfInf(-1)
	}
	k.loop(0, p.Planes, func(pl value.Value) {
		xb := k.mul(pl, p.H*p.W)
		yb := k.mul(pl, osz)
		if overlap(&s.In[0], &s.Out) {
			k.poolTaps(p, x, y, xb, yb, init)
		} else {
			k.poolRows(p, x, y, xb, yb, init, func(acc, xv value.Value) value.Value {
				if p.Max {
					return k.fmax(xv, acc)
				}
				return k.b.NewFAdd(acc, xv)
			})
		}
		if !p.Max {
			rows := k.e.floatTable(s.Name+"_rows", poolCounts(p.OH, p.KH, p.SH, p.DH, p.PT, p.PB, p.H, p.IncludePad))
			cols := k.e.floatTable(s.Name+"_cols", poolCounts(p.OW, p.KW, p.SW, p.DW, p.PL, p.PR, p.W, p.IncludePad))
			k.loop(0, p.OH, func(oh value.Value) {
				rv := k.load(rows, oh)
				k.loop(0, p.OW, func(ow value.Value) {
					d := k.b.NewFMul(rv, k.load(cols, ow))
					yi := k.add(yb, k.madd(oh, p.OW, ow))
					q := k.b.NewFDiv(k.load(y, yi), d)
					k.store(k.b.NewSelect(k.b.NewFCmp(enum.FPredOGT, d, cf(0)), q, cf(0)), y, yi)
				})
			})
		}
	})
	return nil
}

// poolCounts is, per output position of one axis, how many window
// positions fall inside the input (or inside input plus pads).
func poolCounts(out, kern, stride, dil, pb, pe, in int, includePad bool) []float32 {
	c := make([]float32, out)
	for o := range c {
		for kk := 0; kk < kern; kk++ {
			pos := o*stride - pb + kk*dil
			if (pos >= 0 && pos < in) || (includePad && pos >= -pb && pos < in+pe) {
				c[o]++
			}
		}
	}
	return c
}

// floatTable is an internal constant array, returned as a float pointer.
func (e *emitter) floatTable(name string, v []float32) value.Value {
	var elems []constant.Constant
	for _, f := range v {
		elems = append(elems, cf(f))
	}
	t := types.NewArray(uint64(len(v)), f32)
	g := e.m.NewGlobalDef(name, constant.NewArray(t, elems...))
	g.Linkage = enum.LinkageInternal
	g.Immutable = true
	return constant.NewGetElementPtr(t, g, ci(0), ci(0))
}

func (k *kfn) globalAvgPool(s *codegen.Step, x, y value.Value) error {
	in := s.In[0].Shape
	planes := in[0] * in[1]
	sz := 1
	for _, d := range in[2:] {
		sz *= d
	}
	// Planes by groups of gapGroup: as many independent sums (each in
	// order, as rt's) run side by side instead of one chain of additions.
	if sz > 0 {
		inits := make([]value.Value, gapGroup)
		for j := range inits {
			inits[j] = cf(0)
		}
		k.loop(0, planes/gapGroup, func(gi value.Value) {
			pl0 := k.mul(gi, gapGroup)
			base := k.at(x, k.mul(pl0, sz))
			sums := k.loopAcc(sz, inits, func(i value.Value, acc []value.Value) []value.Value {
				out := make([]value.Value, gapGroup)
				for j := range out {
					out[j] = k.b.NewFAdd(acc[j], k.load(base, k.add(i, ci(j*sz))))
				}
				return out
			})
			for j, sum := range sums {
				k.store(k.b.NewFDiv(sum, cf(float32(sz))), y, k.add(pl0, ci(j)))
			}
		})
	}
	k.loop(planes/gapGroup*gapGroup, planes, func(pl value.Value) {
		sum := k.sum(x, k.mul(pl, sz), sz, 1)
		k.store(k.b.NewFDiv(sum, cf(float32(sz))), y, pl)
	})
	return nil
}

// gapGroup is the number of planes globalAvgPool sums side by side.
const gapGroup = 8

// sum adds n elements of x from off with stride, in order.
func (k *kfn) sum(x, off value.Value, n, stride int) value.Value {
	return k.fold(x, off, n, stride, cf(0), func(acc, v value.Value) value.Value { return k.b.NewFAdd(acc, v) })
}

// fold reduces n elements with f, carrying the accumulator in a phi.
func (k *kfn) fold(x, off value.Value, n, stride int, init value.Value, f func(acc, v value.Value) value.Value) value.Value {
	if n == 0 {
		return init
	}
	pre := k.b
	head := k.f.NewBlock("")
	pre.NewBr(head)
	k.b = head
	i := head.NewPhi(ir.NewIncoming(ci(0), pre))
	acc := head.NewPhi(ir.NewIncoming(init, pre))
	nacc := f(acc, k.load(x, k.add(off, k.mul(i, stride))))
	ni := k.b.NewAdd(i, ci(1))
	i.Incs = append(i.Incs, ir.NewIncoming(ni, k.b))
	acc.Incs = append(acc.Incs, ir.NewIncoming(nacc, k.b))
	exit := k.f.NewBlock("")
	k.b.NewCondBr(k.b.NewICmp(enum.IPredSLT, ni, ci(n)), head, exit)
	k.b = exit
	return nacc
}

func (k *kfn) softmax(s *codegen.Step, x, y value.Value) error {
	outer, n, inner := s.Softmax[0], s.Softmax[1], s.Softmax[2]
	k.loop(0, outer, func(o value.Value) {
		k.loop(0, inner, func(in value.Value) {
			base := k.add(k.mul(o, n*inner), in)
			m := k.fold(x, base, n, inner, cfInf(-1), func(acc, v value.Value) value.Value { return k.fmax(v, acc) })
			k.loop(0, n, func(j value.Value) {
				i := k.add(base, k.mul(j, inner))
				k.store(k.call1("llvm.exp.f32", k.b.NewFSub(k.load(x, i), m)), y, i)
			})
			sum := k.sum(y, base, n, inner)
			k.loop(0, n, func(j value.Value) {
				i := k.add(base, k.mul(j, inner))
				k.store(k.b.NewFDiv(k.load(y, i), sum), y, i)
			})
		})
	})
	return nil
}

func (k *kfn) reduce(s *codegen.Step, x, y value.Value) error {
	r := s.Reduce
	n := 1
	for _, d := range r.Inner {
		n *= d
	}
	ostr := contiguousStrides(r.Outer)
	if r.Mean != nil {
		k.intMean(s, x, y)
		return nil
	}
	if r.Op == "argmax" {
		k.argmax(s, x, y)
		return nil
	}
	if r.Op == "topk" || r.Op == "topk_index" {
		k.topk(s, x, y)
		return nil
	}
	k.nest(r.Outer, [][]int{r.OStride, ostr}, func(offs []value.Value) {
		init := cf(0)
		if r.Op == "max" {
			init = cfInf(-1)
		}
		acc := value.Value(init)
		// The reduced dims as one nest whose accumulator lives in memory (y).
		k.store(acc, y, offs[1])
		k.nest(r.Inner, [][]int{r.IStride}, func(io []value.Value) {
			v := k.load(x, k.add(offs[0], io[0]))
			cur := k.load(y, offs[1])
			if r.Op == "max" {
				k.store(k.fmax(v, cur), y, offs[1])
			} else {
				k.store(k.b.NewFAdd(cur, v), y, offs[1])
			}
		})
		if r.Op == "mean" {
			k.store(k.b.NewFDiv(k.load(y, offs[1]), cf(float32(n))), y, offs[1])
		}
	})
	return nil
}

// intMean: an 8-bit reduce_mean (Reduce.Mean): the int32 sum of the
// stored integers of each output's reduced elements, finished as rt's
// TFLiteMean.Finish.
func (k *kfn) intMean(s *codegen.Step, x, y value.Value) {
	r, f := s.Reduce, s.Reduce.Mean
	xdt, ydt := s.In[0].DType, s.Out.DType
	acc := k.entryAlloca(i32, 4)
	k.nest(r.Outer, [][]int{r.OStride, contiguousStrides(r.Outer)}, func(offs []value.Value) {
		k.b.NewStore(c32(0), acc)
		k.nest(r.Inner, [][]int{r.IStride}, func(io []value.Value) {
			k.b.NewStore(k.b.NewAdd(k.b.NewLoad(i32, acc), k.loadInt(x, k.add(offs[0], io[0]), xdt)), acc)
		})
		sum := k.b.NewLoad(i32, acc)
		var q value.Value
		switch f.Mode {
		case "i8":
			m := k.mbqm(k.b.NewSub(sum, c32(int64(f.N)*int64(f.ZX))), c32(int64(f.Mult)), c32(int64(f.Shift)), f.Mult != math.MinInt32, f.Shift <= 0)
			// rt's roundedDiv: (m ± N/2) / N, truncating, by m's sign.
			half := k.b.NewSelect(k.b.NewICmp(enum.IPredSGT, m, c32(0)), c32(int64(f.N/2)), c32(-int64(f.N/2)))
			q = k.clampI(k.b.NewAdd(k.b.NewSDiv(k.b.NewAdd(m, half), c32(int64(f.N))), c32(int64(f.ZY))), f.Lo, f.Hi)
		case "u8":
			q = k.clampI(k.b.NewAdd(k.mbqm(sum, c32(int64(f.Mult)), c32(int64(f.Shift)), f.Mult != math.MinInt32, f.Shift <= 0), c32(int64(f.ZY))), f.Lo, f.Hi)
		case "trunc":
			q = k.b.NewSDiv(sum, c32(int64(f.N)))
		default:
			mean := k.b.NewFDiv(k.b.NewSIToFP(sum, f32), cf(float32(f.N)))
			v := k.b.NewFAdd(k.b.NewFMul(mean, cf(f.Scale)), cf(f.Bias))
			var rf value.Value = k.b.NewFAdd(k.b.NewCall(k.e.intrinsic("llvm.round.f32", f32, f32), v), cf(float32(f.ZY)))
			rf = k.b.NewCall(k.e.intrinsic("llvm.maxnum.f32", f32, f32, f32), k.b.NewCall(k.e.intrinsic("llvm.minnum.f32", f32, f32, f32), rf, cf(float32(f.Hi))), cf(float32(f.Lo)))
			q = k.b.NewFPToSI(rf, i32)
		}
		k.storeInt(q, y, offs[1], ydt)
	})
}

// loadElem loads element i of x, f32 as it is and integers of dtype dt as
// i32 (loadInt).
func (k *kfn) loadElem(x, i value.Value, dt pir.DType) value.Value {
	if dt == pir.F32 {
		return k.load(x, i)
	}
	return k.loadInt(x, i, dt)
}

// cmpElem compares two values loadElem gave: f as an f32 predicate (an
// ordered one: NaN compares false), else ip on the i32s.
func (k *kfn) cmpElem(dt pir.DType, f enum.FPred, ip enum.IPred, a, b value.Value) value.Value {
	if dt == pir.F32 {
		return k.b.NewFCmp(f, a, b)
	}
	return k.b.NewICmp(ip, a, b)
}

// argmax: per output, the index along Inner's one axis of the first (Last:
// the last) maximum, as rt's: the best starts at the first element and is
// replaced by a greater one (Last: greater or equal; an ordered compare, so
// a NaN never replaces it).
func (k *kfn) argmax(s *codegen.Step, x, y value.Value) {
	r := s.Reduce
	n, str := r.Inner[0], r.IStride[0]
	xdt := s.In[0].DType
	ld := func(i value.Value) value.Value { return k.loadElem(x, i, xdt) }
	better := func(e, best value.Value) value.Value {
		if r.Last {
			return k.cmpElem(xdt, enum.FPredOGE, enum.IPredSGE, e, best)
		}
		return k.cmpElem(xdt, enum.FPredOGT, enum.IPredSGT, e, best)
	}
	if n == 0 {
		return
	}
	k.nest(r.Outer, [][]int{r.OStride, contiguousStrides(r.Outer)}, func(offs []value.Value) {
		var at value.Value = c32(0)
		if n > 1 {
			res := k.loopAcc(n-1, []value.Value{ld(offs[0]), c32(0)}, func(p value.Value, acc []value.Value) []value.Value {
				i := k.add(p, ci(1))
				e := ld(k.add(offs[0], k.mul(i, str)))
				b := better(e, acc[0])
				return []value.Value{k.b.NewSelect(b, e, acc[0]), k.b.NewSelect(b, k.b.NewTrunc(i, i32), acc[1])}
			})
			at = res[1]
		}
		if s.Out.DType == pir.I64 {
			at = k.b.NewSExt(at, i64)
		}
		k.store(at, y, offs[1])
	})
}

// copy: an optional fill, then strided element copies.
func (k *kfn) copy(s *codegen.Step, in []value.Value, out value.Value) error {
	n := 1
	for _, d := range s.Out.Shape {
		n *= d
	}
	if s.HasFill {
		var fv value.Value
		switch et := elemType(s.Out.DType).(type) {
		case *types.FloatType:
			fv = cf(s.Fill)
		case *types.IntType:
			if s.Fill != float32(math.Trunc(float64(s.Fill))) {
				return &codegen.UnsupportedError{Where: s.Where, Op: s.Op, Reason: fmt.Sprintf("fill %v of an integer tensor", s.Fill)}
			}
			fv = constant.NewInt(et, int64(s.Fill))
		}
		k.fill(out, ci(0), n, fv)
	}
	for _, c := range s.Copies {
		src := in[c.Src]
		k.nest(c.Shape, [][]int{c.SrcStrides, c.DstStrides}, func(offs []value.Value) {
			k.store(k.load(src, k.add(ci(c.SrcOff), offs[0])), out, k.add(ci(c.DstOff), offs[1]))
		})
	}
	return nil
}

// poolTaps accumulates one plane tap by tap over the whole output plane
// (the output may overlap the input: no reordering).
func (k *kfn) poolTaps(p *codegen.Pool, x, y, xb, yb, init value.Value) {
	osz := p.OH * p.OW
	k.fill(y, yb, osz, init)
	for kh := 0; kh < p.KH; kh++ {
		ohLo, ohHi := validRange(kh*p.DH-p.PT, p.SH, p.H, p.OH)
		for kw := 0; kw < p.KW; kw++ {
			off := kw*p.DW - p.PL
			lo, hi := validRange(off, p.SW, p.W, p.OW)
			if lo >= hi || ohLo >= ohHi {
				continue
			}
			k.loop(ohLo, ohHi, func(oh value.Value) {
				ih := k.add(k.mul(oh, p.SH), ci(kh*p.DH-p.PT))
				xr := k.add(xb, k.mul(ih, p.W))
				yr := k.add(yb, k.mul(oh, p.OW))
				k.loop(lo, hi, func(ow value.Value) {
					xv := k.load(x, k.add(xr, k.add(k.mul(ow, p.SW), ci(off))))
					yi := k.add(yr, ow)
					yv := k.load(y, yi)
					if p.Max {
						k.store(k.fmax(xv, yv), y, yi)
					} else {
						k.store(k.b.NewFAdd(yv, xv), y, yi)
					}
				})
			})
		}
	}
}

// poolRows computes one plane row by row, each output once: rows split
// into segments with the same kernel rows inside the input, so the taps
// are known here; over the columns every kernel column reads inside, one
// loop with every tap in its body (opt vectorizes it, strided loads as
// interleaved groups); the edge columns unrolled with their valid taps.
// The taps combine in the order poolTaps uses (kh, then kw), so results
// are the same bit for bit. comb(acc, x) combines a tap into acc (from
// init), in the elements' own type (f32 here, i8 for intMaxPool).
func (k *kfn) poolRows(p *codegen.Pool, x, y, xb, yb, init value.Value, comb func(acc, xv value.Value) value.Value) {
	lo, hi := 0, p.OW
	for kw := 0; kw < p.KW; kw++ {
		l, h := validRange(kw*p.DW-p.PL, p.SW, p.W, p.OW)
		lo, hi = max(lo, l), min(hi, h)
	}
	if hi < lo {
		lo, hi = 0, 0
	}
	cuts := []int{0, p.OH}
	for kh := 0; kh < p.KH; kh++ {
		l, h := validRange(kh*p.DH-p.PT, p.SH, p.H, p.OH)
		cuts = append(cuts, l, h)
	}
	sort.Ints(cuts)
	for i := 0; i+1 < len(cuts); i++ {
		r0, r1 := cuts[i], cuts[i+1]
		if r0 >= r1 {
			continue
		}
		var khs []int
		for kh := 0; kh < p.KH; kh++ {
			if l, h := validRange(kh*p.DH-p.PT, p.SH, p.H, p.OH); l <= r0 && r1 <= h {
				khs = append(khs, kh)
			}
		}
		k.loop(r0, r1, func(oh value.Value) {
			yr := k.add(yb, k.mul(oh, p.OW))
			xr := make([]value.Value, p.KH)
			for _, kh := range khs {
				xr[kh] = k.add(xb, k.mul(k.add(k.mul(oh, p.SH), ci(kh*p.DH-p.PT)), p.W))
			}
			k.loop(lo, hi, func(ow value.Value) {
				acc := init
				for _, kh := range khs {
					for kw := 0; kw < p.KW; kw++ {
						acc = comb(acc, k.load(x, k.add(xr[kh], k.add(k.mul(ow, p.SW), ci(kw*p.DW-p.PL)))))
					}
				}
				k.store(acc, y, k.add(yr, ow))
			})
			for ow := 0; ow < p.OW; ow++ {
				if ow >= lo && ow < hi {
					continue
				}
				acc := value.Value(init)
				for _, kh := range khs {
					for kw := 0; kw < p.KW; kw++ {
						iw := ow*p.SW + kw*p.DW - p.PL
						if iw < 0 || iw >= p.W {
							continue
						}
						acc = comb(acc, k.load(x, k.add(xr[kh], ci(iw))))
					}
				}
				k.store(acc, y, k.add(yr, ci(ow)))
			}
		})
	}
}
