package llvm

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Integer kernels (codegen.Requant, codegen.QMap): int32 accumulators in
// an arena row, accumulated as axpy updates acc[j] += a·b[j] (which opt
// vectorizes along the row), then requantized into the 8-bit result.

// requant returns the function that turns an accumulator of channel c
// into the stored result value (i32); acc may be a vector of accumulators
// of channel c (the result is then a vector, lane by lane the same).
func (k *kfn) requant(s *codegen.Step, in []value.Value) func(acc, c value.Value) value.Value {
	r := s.Rq
	switch r.Mode {
	case "float":
		small := func(v int32) bool { return v >= -1<<16 && v <= 1<<16 }
		short := small(r.ZY) && small(r.Lo) && small(r.Hi) && r.Lo <= r.Hi
		mayNaN := !k.constF32Finite(&s.In[3])
		return func(acc, c value.Value) value.Value {
			f := k.b.NewFMul(k.b.NewSIToFP(acc, tyLike(f32, acc)), k.splatLike(k.load(in[3], c), acc))
			if short {
				return k.quantFShort(f, r.ZY, r.Lo, r.Hi, mayNaN)
			}
			return k.quantF(f, cLike(c32(int64(r.ZY)), acc), r.Lo, r.Hi)
		}
	case "tflite":
		noSat := k.constI32Within(&s.In[3], math.MaxInt32)
		_, hi, ok := k.constI32Range(&s.In[4])
		noLeft := ok && hi <= 0
		return func(acc, c value.Value) value.Value {
			y := k.b.NewAdd(k.mbqm(acc, k.splatLike(k.load(in[3], c), acc), k.splatLike(k.load(in[4], c), acc), noSat, noLeft), cLike(c32(int64(r.ZY)), acc))
			return k.clampI(y, r.Lo, r.Hi)
		}
	}
	return func(acc, c value.Value) value.Value { return acc }
}

// axpyRows accumulates rows: acc[0:n] = init(j); for p < K: acc += a(p)·b(p, j).
func (k *kfn) axpyRow(acc value.Value, n, K int, init func(j value.Value) value.Value,
	a func(p value.Value) value.Value, b func(p, j value.Value) value.Value) {
	k.loop(0, n, func(j value.Value) { k.store(init(j), acc, j) })
	k.loop(0, K, func(p value.Value) {
		av := a(p)
		k.loop(0, n, func(j value.Value) {
			k.store(k.b.NewAdd(k.load(acc, j), k.b.NewMul(av, b(p, j))), acc, j)
		})
	})
}

// intConv: per batch entry and group, the integer im2col (x - zx, padding
// 0) and one accumulator row per output channel. Runtime weights
// (KIntConvRuntime) have their zero point subtracted as they are read.
func (k *kfn) intConv(s *codegen.Step, in []value.Value, y, scratch value.Value) error {
	c := s.Conv
	x, w, bias := in[0], in[1], in[2]
	xdt := s.In[0].DType
	K, P := c.Cg*c.KH*c.KW, c.OH*c.OW
	zx := c32(int64(s.Rq.ZX))
	fin := k.requant(s, in)
	acc := scratch
	col := k.at(scratch, ci(P))
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.Group, func(g value.Value) {
			xb := k.mul(k.madd(n, c.C, k.mul(g, c.Cg)), c.H*c.W)
			var bv func(p, j value.Value) value.Value
			if c.Pointwise {
				bv = func(p, j value.Value) value.Value {
					return k.b.NewSub(k.loadInt(x, k.add(xb, k.madd(p, P, j)), xdt), zx)
				}
			} else {
				k.im2colG(c, xb, col, c32(0), 0, func(i value.Value) value.Value {
					return k.b.NewSub(k.loadInt(x, i, xdt), zx)
				})
				bv = func(p, j value.Value) value.Value { return k.load(col, k.madd(p, P, j)) }
			}
			k.loop(0, c.Mg, func(i value.Value) {
				m := k.madd(g, c.Mg, i)
				b0 := k.load(bias, m)
				k.axpyRow(acc, P, K, func(value.Value) value.Value { return b0 },
					func(p value.Value) value.Value {
						wv := k.loadInt(w, k.madd(m, K, p), s.In[1].DType)
						if s.Rq.BRuntime { // stored, not zero-centred
							wv = k.b.NewSub(wv, k.load(in[len(in)-1], m))
						}
						return wv
					}, bv)
				yb := k.mul(k.madd(n, c.M, m), P)
				k.loop(0, P, func(j value.Value) {
					k.storeInt(fin(k.load(acc, j), m), y, k.add(yb, j), s.Out.DType)
				})
			})
		})
	})
	return nil
}

// intDepthwise: one accumulator row per output channel, the kernel
// offsets unrolled with their valid output ranges.
func (k *kfn) intDepthwise(s *codegen.Step, in []value.Value, y, acc value.Value) error {
	c := s.Conv
	x, w, bias := in[0], in[1], in[2]
	xdt := s.In[0].DType
	P := c.OH * c.OW
	zx := c32(int64(s.Rq.ZX))
	fin := k.requant(s, in)
	k.loop(0, c.N, func(n value.Value) {
		k.loop(0, c.M, func(m value.Value) {
			xb := k.dwInput(c, n, m)
			k.fill(acc, ci(0), P, k.load(bias, m))
			for kh := 0; kh < c.KH; kh++ {
				ohLo, ohHi := validRange(kh*c.DH-c.PT, c.SH, c.H, c.OH)
				for kw := 0; kw < c.KW; kw++ {
					off := kw*c.DW - c.PL
					lo, hi := validRange(off, c.SW, c.W, c.OW)
					if lo >= hi || ohLo >= ohHi {
						continue
					}
					wv := k.loadInt(w, k.madd(m, c.KH*c.KW, ci(kh*c.KW+kw)), s.In[1].DType)
					k.loop(ohLo, ohHi, func(oh value.Value) {
						xr := k.add(xb, k.mul(k.add(k.mul(oh, c.SH), ci(kh*c.DH-c.PT)), c.W))
						ar := k.mul(oh, c.OW)
						k.loop(lo, hi, func(ow value.Value) {
							xv := k.b.NewSub(k.loadInt(x, k.add(xr, k.add(k.mul(ow, c.SW), ci(off))), xdt), zx)
							ai := k.add(ar, ow)
							k.store(k.b.NewAdd(k.load(acc, ai), k.b.NewMul(wv, xv)), acc, ai)
						})
					})
				}
			}
			yb := k.mul(k.madd(n, c.M, m), P)
			k.loop(0, P, func(j value.Value) {
				k.storeInt(fin(k.load(acc, j), m), y, k.add(yb, j), s.Out.DType)
			})
		})
	})
	return nil
}

// intGemm: one accumulator row per output row; the channel is the column.
func (k *kfn) intGemm(s *codegen.Step, in []value.Value, y, acc value.Value) error {
	gm := s.Gemm
	a, b, bias := in[0], in[1], in[2]
	adt, bdt := s.In[0].DType, s.In[1].DType
	zx, zb := c32(int64(s.Rq.ZX)), c32(int64(s.Rq.ZB))
	fin := k.requant(s, in)
	for _, bt := range gm.Batch {
		aOff, bOff, cOff := ci(bt[0]), ci(bt[1]), ci(bt[2])
		k.loop(0, gm.M, func(i value.Value) {
			av := func(p value.Value) value.Value {
				idx := k.add(aOff, k.madd(i, gm.K, p))
				if gm.TransA {
					idx = k.add(aOff, k.madd(p, gm.M, i))
				}
				return k.b.NewSub(k.loadInt(a, idx, adt), zx)
			}
			bv := func(p, j value.Value) value.Value {
				idx := k.add(bOff, k.madd(p, gm.N, j))
				if !s.Rq.BRuntime { // packed, zero-centred
					return k.loadInt(b, idx, bdt)
				}
				return k.b.NewSub(k.loadInt(b, idx, bdt), zb)
			}
			k.axpyRow(acc, gm.N, gm.K, func(j value.Value) value.Value { return k.load(bias, j) }, av, bv)
			yb := k.add(cOff, k.mul(i, gm.N))
			k.loop(0, gm.N, func(j value.Value) {
				k.storeInt(fin(k.load(acc, j), j), y, k.add(yb, j), s.Out.DType)
			})
		})
	}
	return nil
}

// qmap: quantize, dequantize, requantize and integer clamps over
// [Outer, Dim, Inner].
func (k *kfn) qmap(s *codegen.Step, in []value.Value, y value.Value) error {
	m := s.QMap
	x := in[0]
	xdt, ydt := s.In[0].DType, s.Out.DType
	// narrow: x − zx of an 8- or 16-bit x and constant zero points within
	// ±(2^31 − 2^16) cannot leave int32, and int32 → f32 rounds the same
	// integer as int64 → f32 does: computed in i32, the loop vectorizes
	// (x86 before AVX512DQ has no vector int64 → f32 conversion).
	narrow := false
	switch m.Kind {
	case "dequantize", "requantize_float":
		narrow = (xdt == pir.I8 || xdt == pir.U8 || xdt == pir.I16) && k.constI32Within(&s.In[2], 1<<31-1<<16)
	}
	// shiftNoLeft: requantize_tflite's shifts known never positive.
	shiftNoLeft := false
	if m.Kind == "requantize_tflite" && len(s.In) > 3 {
		_, hi, ok := k.constI32Range(&s.In[3])
		shiftNoLeft = ok && hi <= 0
	}
	k.nest([]int{m.Outer, m.Dim, m.Inner}, [][]int{{m.Dim * m.Inner, m.Inner, 1}, {0, 1, 0}}, func(offs []value.Value) {
		i, c := offs[0], offs[1]
		var r value.Value
		deq := func(sx, zx value.Value) value.Value {
			if narrow {
				return k.b.NewFMul(k.b.NewSIToFP(k.b.NewSub(k.loadInt(x, i, xdt), zx), f32), sx)
			}
			var xw value.Value
			if xdt == pir.I64 { // all 64 bits: loadInt truncates to i32
				xw = k.load(x, i)
			} else {
				xw = k.b.NewSExt(k.loadInt(x, i, xdt), i64)
			}
			xi := k.b.NewSub(xw, k.b.NewSExt(zx, i64))
			return k.b.NewFMul(k.b.NewSIToFP(xi, f32), sx)
		}
		switch m.Kind {
		case "quantize", "quantize_away":
			f := k.load(x, i)
			if xdt != pir.F32 {
				f = k.b.NewSIToFP(f, f32)
			}
			f = k.b.NewFDiv(f, k.load(in[1], c))
			if m.Kind == "quantize_away" {
				r = k.quantFAway(f, k.load(in[2], c), m.Lo, m.Hi)
			} else if zy, ok := k.constI32Uniform(&s.In[2]); ok && zy >= -1<<16 && zy <= 1<<16 && m.Lo <= m.Hi && m.Lo >= -1<<16 && m.Hi <= 1<<16 {
				r = k.quantFShort(f, zy, m.Lo, m.Hi, true)
			} else {
				r = k.quantF(f, k.load(in[2], c), m.Lo, m.Hi)
			}
		case "dequantize":
			k.store(deq(k.load(in[1], c), k.load(in[2], c)), y, i)
			return
		case "requantize_float":
			f := deq(k.load(in[1], c), k.load(in[2], c))
			r = k.quantF(k.b.NewFDiv(f, k.load(in[3], c)), k.load(in[4], c), m.Lo, m.Hi)
		case "requantize_tflite":
			d := k.b.NewSub(k.loadInt(x, i, xdt), k.load(in[1], c))
			q := k.b.NewAdd(k.b.NewSExt(k.mbqm(d, k.load(in[2], c), k.load(in[3], c), k.constI32Within(&s.In[2], math.MaxInt32), shiftNoLeft), i64), k.b.NewSExt(k.load(in[4], c), i64))
			q2 := k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, q, c64(int64(m.Lo))), c64(int64(m.Lo)), q)
			q2 = k.b.NewSelect(k.b.NewICmp(enum.IPredSGT, q2, c64(int64(m.Hi))), c64(int64(m.Hi)), q2)
			r = k.b.NewTrunc(q2, i32)
		case "clamp":
			r = k.clampI(k.loadInt(x, i, xdt), m.Lo, m.Hi)
		case "lut":
			var j value.Value = k.b.NewSExt(k.loadInt(x, i, xdt), i64)
			if xdt == pir.I8 {
				j = k.b.NewAdd(j, ci(128))
			}
			if ydt == pir.F32 {
				k.store(k.load(in[1], j), y, i)
				return
			}
			r = k.loadInt(in[1], j, ydt)
		case "trunc":
			// rt's float32ToInt: toward zero where |f| < 2^63, else
			// (NaN too) MinInt64; fptosi's poison beyond stays unselected.
			f := k.load(x, i)
			abs := k.b.NewCall(k.e.intrinsic("llvm.fabs.f32", f32, f32), f)
			in := k.b.NewFCmp(enum.FPredOLT, abs, constant.NewFloat(f32, 0x1p63))
			r = k.b.NewTrunc(k.b.NewSelect(in, k.b.NewFPToSI(f, i64), c64(math.MinInt64)), i32)
		}
		k.storeInt(r, y, i, ydt)
	})
	if m.Kind == "" {
		return fmt.Errorf("%s: empty quant map", s.Where)
	}
	return nil
}

// constF32Finite reports whether o is a constant f32 operand of finite
// values (a product of one and a converted i32 is never NaN).
func (k *kfn) constF32Finite(o *codegen.Operand) bool {
	if o.Space != codegen.Weights || o.DType != pir.F32 {
		return false
	}
	b := k.e.p.Weights[o.Offset : o.Offset+o.Bytes()]
	for j := 0; j+4 <= len(b); j += 4 {
		if f := math.Float32frombits(binary.LittleEndian.Uint32(b[j:])); math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return false
		}
	}
	return true
}

// constI32Uniform is the value of a constant i32 operand whose elements
// are all equal (a per-tensor zero point).
func (k *kfn) constI32Uniform(o *codegen.Operand) (int32, bool) {
	if o.Space != codegen.Weights || o.DType != pir.I32 || o.Bytes() < 4 {
		return 0, false
	}
	b := k.e.p.Weights[o.Offset : o.Offset+o.Bytes()]
	v := int32(binary.LittleEndian.Uint32(b))
	for j := 4; j+4 <= len(b); j += 4 {
		if int32(binary.LittleEndian.Uint32(b[j:])) != v {
			return 0, false
		}
	}
	return v, true
}

// constI32Range is the least and greatest value of a constant i32 operand
// (false when o is not one).
func (k *kfn) constI32Range(o *codegen.Operand) (lo, hi int32, ok bool) {
	if o.Space != codegen.Weights || o.DType != pir.I32 || o.Bytes() < 4 {
		return 0, 0, false
	}
	b := k.e.p.Weights[o.Offset : o.Offset+o.Bytes()]
	lo, hi = math.MaxInt32, math.MinInt32
	for j := 0; j+4 <= len(b); j += 4 {
		v := int32(binary.LittleEndian.Uint32(b[j:]))
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi, true
}

// constI32Within reports whether o is a constant i32 operand whose values
// all lie within ±lim.
func (k *kfn) constI32Within(o *codegen.Operand, lim int64) bool {
	if o.Space != codegen.Weights || o.DType != pir.I32 {
		return false
	}
	b := k.e.p.Weights[o.Offset : o.Offset+o.Bytes()]
	for j := 0; j+4 <= len(b); j += 4 {
		if v := int64(int32(binary.LittleEndian.Uint32(b[j:]))); v > lim || v < -lim {
			return false
		}
	}
	return true
}

// intPool: integer max pooling and TFLite's average (the sum of the valid
// window elements divided by their count, halves away from zero). The
// window loops clamp their indices and select, without branches.
func (k *kfn) intPool(s *codegen.Step, x, y value.Value) error {
	p := s.Pool
	dt := s.In[0].DType
	avg := s.Rq.Mode == "tflite"
	if !avg && (dt == pir.I8 || dt == pir.U8) && s.Out.DType == dt && !overlap(&s.In[0], &s.Out) {
		k.intMaxPool(s, x, y)
		return nil
	}
	k.loop(0, p.Planes, func(pl value.Value) {
		xb := k.mul(pl, p.H*p.W)
		k.loop(0, p.OH, func(oh value.Value) {
			k.loop(0, p.OW, func(ow value.Value) {
				lowest, _ := dt.Range() // rt's max starts there (a window without a valid tap keeps it)
				init := []value.Value{c32(lowest), c32(0)}
				if avg {
					init[0] = c32(0)
				}
				res := k.loopAcc(p.KH*p.KW, init, func(t value.Value, a []value.Value) []value.Value {
					kh, kw := k.b.NewSDiv(t, ci(p.KW)), k.b.NewSRem(t, ci(p.KW))
					ih := k.add(k.mul(oh, p.SH), k.add(k.b.NewMul(kh, ci(p.DH)), ci(-p.PT)))
					iw := k.add(k.mul(ow, p.SW), k.add(k.b.NewMul(kw, ci(p.DW)), ci(-p.PL)))
					ok := k.b.NewAnd(k.b.NewAnd(k.b.NewICmp(enum.IPredSGE, ih, ci(0)), k.b.NewICmp(enum.IPredSLT, ih, ci(p.H))),
						k.b.NewAnd(k.b.NewICmp(enum.IPredSGE, iw, ci(0)), k.b.NewICmp(enum.IPredSLT, iw, ci(p.W))))
					idx := k.b.NewSelect(ok, k.add(xb, k.madd(ih, p.W, iw)), xb)
					v := k.loadInt(x, idx, dt)
					var nv value.Value
					if avg {
						nv = k.b.NewAdd(a[0], v)
					} else {
						nv = k.smax(a[0], v)
					}
					return []value.Value{k.b.NewSelect(ok, nv, a[0]), k.b.NewAdd(a[1], k.b.NewZExt(ok, i32))}
				})
				r := res[0]
				if avg {
					n := k.b.NewSelect(k.b.NewICmp(enum.IPredEQ, res[1], c32(0)), c32(1), res[1])
					half := k.b.NewSDiv(n, c32(2))
					num := k.b.NewSelect(k.b.NewICmp(enum.IPredSGT, r, c32(0)), k.b.NewAdd(r, half), k.b.NewSub(r, half))
					r = k.clampI(k.b.NewSDiv(num, n), s.Rq.Lo, s.Rq.Hi)
				}
				k.storeInt(r, y, k.add(k.mul(pl, p.OH*p.OW), k.madd(oh, p.OW, ow)), s.Out.DType)
			})
		})
	})
	return nil
}

// intMaxPool is the 8-bit max pooling of intPool on poolRows (rows, their
// inner columns one vectorizable loop), in the elements' own type from its
// lowest value, as rt (which a window without a valid tap keeps).
func (k *kfn) intMaxPool(s *codegen.Step, x, y value.Value) {
	p := s.Pool
	lt, init := enum.IPredSLT, constant.NewInt(types.I8, -128)
	if s.In[0].DType == pir.U8 {
		lt, init = enum.IPredULT, constant.NewInt(types.I8, 0)
	}
	if maxPoolS2(p, &s.In[0]) {
		k.maxPoolS2(p, x, y, init, lt)
		return
	}
	comb := func(acc, xv value.Value) value.Value { return k.b.NewSelect(k.b.NewICmp(lt, acc, xv), xv, acc) }
	k.loop(0, p.Planes, func(pl value.Value) {
		k.poolRows(p, x, y, k.mul(pl, p.H*p.W), k.mul(pl, p.OH*p.OW), init, comb)
	})
}

// intSoftmax: TFLite's integer softmax with the exponentials from the
// step's tables (indexed by max - x).
func (k *kfn) intSoftmax(s *codegen.Step, in []value.Value, y value.Value) error {
	outer, depth, inner := s.Softmax[0], s.Softmax[1], s.Softmax[2]
	x, expT, sumT := in[0], in[1], in[2]
	dt := s.In[0].DType
	lo, hi := s.Rq.Lo, s.Rq.Hi
	ctlz := k.e.intrinsic("llvm.ctlz.i32", i32, i32, i1)
	k.loop(0, outer, func(o value.Value) {
		k.loop(0, inner, func(j value.Value) {
			base := k.add(k.mul(o, depth*inner), j)
			xi := func(c value.Value) value.Value { return k.loadInt(x, k.madd(c, inner, base), dt) }
			mx := k.loopAcc(depth, []value.Value{c32(math.MinInt32)}, func(c value.Value, a []value.Value) []value.Value {
				return []value.Value{k.smax(a[0], xi(c))}
			})[0]
			diff := func(c value.Value) value.Value { return k.b.NewSExt(k.b.NewSub(mx, xi(c)), i64) }
			sum := k.loopAcc(depth, []value.Value{c32(0)}, func(c value.Value, a []value.Value) []value.Value {
				return []value.Value{k.b.NewAdd(a[0], k.load(sumT, diff(c)))}
			})[0]
			head := k.b.NewCall(ctlz, sum, falseI1)
			recip := k.oneOverOnePlusX(k.b.NewSub(k.b.NewShl(sum, head), c32(math.MinInt32)))
			shift := k.b.NewAdd(k.b.NewSub(c32(12), head), c32(31-8))
			k.loop(0, depth, func(c value.Value) {
				e := k.load(expT, diff(c))
				r := k.clampI(k.b.NewAdd(k.rdbpot(k.srdhm(recip, e), shift), c32(int64(lo))), lo, hi)
				r = k.b.NewSelect(k.b.NewICmp(enum.IPredSGE, e, c32(0)), r, c32(int64(lo)))
				k.storeInt(r, y, k.madd(c, inner, base), s.Out.DType)
			})
		})
	})
	return nil
}

// qbinary: quantized add, sub or mul (codegen.QBinary) over the broadcast
// loop.
func (k *kfn) qbinary(s *codegen.Step, in []value.Value, y value.Value) error {
	q := s.QBin
	adt, bdt, ydt := s.In[0].DType, s.In[1].DType, s.Out.DType
	lp := s.Loop
	k.nest(lp.Shape, lp.Strides, func(offs []value.Value) {
		a := k.b.NewSub(k.loadInt(in[0], offs[1], adt), c32(int64(q.ZA)))
		b := k.b.NewSub(k.loadInt(in[1], offs[2], bdt), c32(int64(q.ZB)))
		var r value.Value
		switch q.Mode {
		case "float":
			da := k.b.NewFMul(k.b.NewSIToFP(a, f32), cf(q.SA))
			db := k.b.NewFMul(k.b.NewSIToFP(b, f32), cf(q.SB))
			var f value.Value
			switch q.Op {
			case "add":
				f = k.b.NewFAdd(da, db)
			case "sub":
				f = k.b.NewFSub(da, db)
			default:
				f = k.b.NewFMul(da, db)
			}
			var g value.Value
			if q.RecipY != 0 { // exact: codegen checked every operand pair
				g = k.b.NewFMul(f, cf(q.RecipY))
			} else {
				g = k.b.NewFDiv(f, cf(q.SY))
			}
			r = k.quantFShort(g, q.ZY, q.Lo, q.Hi, qbinMayNaN(q))
		default:
			x := k.mbqm(k.b.NewShl(a, c32(20)), c32(int64(q.M1)), c32(int64(q.S1)), q.M1 != math.MinInt32, q.S1 <= 0)
			z := k.mbqm(k.b.NewShl(b, c32(20)), c32(int64(q.M2)), c32(int64(q.S2)), q.M2 != math.MinInt32, q.S2 <= 0)
			var raw value.Value
			if q.Op == "sub" {
				raw = k.b.NewSub(x, z)
			} else {
				raw = k.b.NewAdd(x, z)
			}
			r = k.clampI(k.b.NewAdd(k.mbqm(raw, c32(int64(q.MO)), c32(int64(q.SO)), q.MO != math.MinInt32, q.SO <= 0), c32(int64(q.ZY))), q.Lo, q.Hi)
		}
		k.storeInt(r, y, offs[0], ydt)
	})
	return nil
}

// qbinMayNaN reports whether a "float" qbinary's f / SY can be NaN: when
// an operand's products can overflow f32 (inf − inf, 0 · inf), or SY is 0
// or not finite (0 / 0, inf / inf). 8-bit operands are within 255 of their
// zero point.
func qbinMayNaN(q *codegen.QBinary) bool {
	if sy := float64(q.SY); sy == 0 || math.IsInf(sy, 0) || math.IsNaN(sy) {
		return true
	}
	a, b := 255*math.Abs(float64(q.SA)), 255*math.Abs(float64(q.SB))
	bound := a + b
	if q.Op == "mul" {
		bound = a * b
	}
	return !(bound < math.MaxFloat32/2)
}
