package llvm

import (
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Integer arithmetic as rt computes it: gemmlowp's rounding doubling high
// multiply and rounding shift (TFLite's MultiplyByQuantizedMultiplier),
// round-half-even requantization through float32, and clamps. Shift
// amounts are run-time values (per-channel parameters) with Go's semantics
// for shifts of 32 bits or more.

var (
	i32     = types.I32
	i1      = types.I1
	falseI1 = constant.NewInt(types.I1, 0)
)

func c32(n int64) *constant.Int { return constant.NewInt(i32, n) }
func c64(n int64) *constant.Int { return constant.NewInt(i64, n) }

// The requantization helpers below take scalars or vectors (every lane
// computed as the scalar form): tyLike and cLike give a type and a
// constant the shape of their operand.

// tyLike is t, or a vector of t as long as v when v is a vector.
func tyLike(t types.Type, v value.Value) types.Type {
	if vt, ok := v.Type().(*types.VectorType); ok {
		return types.NewVector(vt.Len, t)
	}
	return t
}

// cLike is c, or c in every lane of a vector as long as v.
func cLike(c constant.Constant, v value.Value) constant.Constant {
	vt, ok := v.Type().(*types.VectorType)
	if !ok {
		return c
	}
	e := make([]constant.Constant, vt.Len)
	for i := range e {
		e[i] = c
	}
	return constant.NewVector(types.NewVector(vt.Len, c.Type()), e...)
}

// splatLike is the scalar x in every lane of a vector as long as v (x
// itself when v is a scalar).
func (k *kfn) splatLike(x, v value.Value) value.Value {
	vt, ok := v.Type().(*types.VectorType)
	if !ok {
		return x
	}
	t := types.NewVector(vt.Len, x.Type())
	a := k.b.NewInsertElement(constant.NewUndef(t), x, constant.NewInt(i32, 0))
	return k.b.NewShuffleVector(a, constant.NewUndef(t), constant.NewZeroInitializer(types.NewVector(vt.Len, i32)))
}

// storeIntN stores the first n lanes of the i32 vector v into ptr[idx:] of
// dtype dt: one vector store when n is every lane, else (8-bit dtypes) by
// four bytes and then lane by lane.
func (k *kfn) storeIntN(v, ptr, idx value.Value, dt pir.DType, n int) {
	vt := v.Type().(*types.VectorType)
	if uint64(n) < vt.Len && n >= 4 && vt.Len%4 == 0 && (dt == pir.I8 || dt == pir.U8) {
		// Bytes by four (one i32 store each), then one at a time.
		w := k.b.NewBitCast(k.b.NewTrunc(v, types.NewVector(vt.Len, types.I8)), types.NewVector(vt.Len/4, i32))
		q := n / 4 * 4
		for j := 0; j < q; j += 4 {
			st := k.b.NewStore(k.b.NewExtractElement(w, constant.NewInt(i32, int64(j/4))), k.b.NewBitCast(k.at(ptr, k.add(idx, ci(j))), types.NewPointer(i32)))
			st.Align = 1
		}
		for j := q; j < n; j++ {
			k.storeInt(k.b.NewExtractElement(v, constant.NewInt(i32, int64(j))), ptr, k.add(idx, ci(j)), dt)
		}
		return
	}
	if uint64(n) < vt.Len {
		for j := 0; j < n; j++ {
			k.storeInt(k.b.NewExtractElement(v, constant.NewInt(i32, int64(j))), ptr, k.add(idx, ci(j)), dt)
		}
		return
	}
	et := elemType(dt)
	switch dt {
	case pir.I8, pir.U8, pir.I16, pir.Bool:
		v = k.b.NewTrunc(v, types.NewVector(vt.Len, et))
	case pir.I64:
		v = k.b.NewSExt(v, types.NewVector(vt.Len, et))
	}
	st := k.b.NewStore(v, k.b.NewBitCast(k.at(ptr, idx), types.NewPointer(v.Type())))
	st.Align = 1
}

// storeInt16 stores the 16 lanes of the i32 vectors a, b (<8 x i32>
// each) into ptr[idx:] of dtype dt. inRange: every lane is known to fit
// dt, so that on AVX2 targets 8-bit stores narrow by saturating packs
// (vpackssdw, vpermq, vpacksswb or vpackuswb: one 16-byte store) rather
// than by byte shuffles per 8 lanes.
func (k *kfn) storeInt16(a, b, ptr, idx value.Value, dt pir.DType, inRange bool) {
	if !inRange || (dt != pir.I8 && dt != pir.U8) || !k.e.t.hasAVX2() {
		k.storeIntN(a, ptr, idx, dt, 8)
		k.storeIntN(b, ptr, k.add(idx, ci(8)), dt, 8)
		return
	}
	v16i8 := types.NewVector(16, types.I8)
	w := k.b.NewCall(k.e.intrinsic("llvm.x86.avx2.packssdw", v16i6, v8i32, v8i32), a, b)
	// w: a0-3 b0-3 a4-7 b4-7; lo and hi halves as a0-7 and b0-7.
	lo := k.b.NewShuffleVector(w, w, shuffleMask(0, 1, 2, 3, 8, 9, 10, 11))
	hi := k.b.NewShuffleVector(w, w, shuffleMask(4, 5, 6, 7, 12, 13, 14, 15))
	pack := "llvm.x86.sse2.packsswb.128"
	if dt == pir.U8 {
		pack = "llvm.x86.sse2.packuswb.128"
	}
	v := k.b.NewCall(k.e.intrinsic(pack, v16i8, v8i16, v8i16), lo, hi)
	st := k.b.NewStore(v, k.b.NewBitCast(k.at(ptr, idx), types.NewPointer(v16i8)))
	st.Align = 1
}

// inRangeRq reports whether s's requantized outputs fit its output dtype
// (clamped to [Lo, Hi] inside it; 0 for NaN).
func inRangeRq(s *codegen.Step) bool {
	r := s.Rq
	if r == nil || (r.Mode != "float" && r.Mode != "tflite") {
		return false
	}
	switch s.Out.DType {
	case pir.I8:
		return r.Lo >= -128 && r.Hi <= 127
	case pir.U8:
		return r.Lo >= 0 && r.Hi <= 255
	}
	return false
}

// loadInt loads element idx of an integer operand of dtype dt as i32
// (sign- or zero-extended).
func (k *kfn) loadInt(ptr, idx value.Value, dt pir.DType) value.Value {
	v := k.load(ptr, idx)
	switch dt {
	case pir.U8, pir.Bool:
		return k.b.NewZExt(v, i32)
	case pir.I8, pir.I16:
		return k.b.NewSExt(v, i32)
	case pir.I64:
		return k.b.NewTrunc(v, i32)
	}
	return v
}

// storeInt stores an i32 value into an integer operand of dtype dt.
func (k *kfn) storeInt(v, ptr, idx value.Value, dt pir.DType) {
	switch dt {
	case pir.I8, pir.U8, pir.I16, pir.Bool:
		v = k.b.NewTrunc(v, elemType(dt))
	case pir.I64:
		v = k.b.NewSExt(v, i64)
	}
	k.store(v, ptr, idx)
}

func (k *kfn) smax(a, b value.Value) value.Value {
	return k.b.NewSelect(k.b.NewICmp(enum.IPredSGT, a, b), a, b)
}

func (k *kfn) smin(a, b value.Value) value.Value {
	return k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, a, b), a, b)
}

// clampI is min(max(x, lo), hi), as rt's clamps.
func (k *kfn) clampI(x value.Value, lo, hi int32) value.Value {
	return k.smin(k.smax(x, cLike(c32(int64(lo)), x)), cLike(c32(int64(hi)), x))
}

// srdhm is SaturatingRoundingDoublingHighMul.
func (k *kfn) srdhm(a, b value.Value) value.Value {
	minI := cLike(c32(math.MinInt32), a)
	ovf := k.b.NewAnd(k.b.NewICmp(enum.IPredEQ, a, minI), k.b.NewICmp(enum.IPredEQ, b, minI))
	return k.b.NewSelect(ovf, cLike(c32(math.MaxInt32), a), k.srdhmNoSat(a, b))
}

// srdhmNoSat is srdhm where a and b are not both MinInt32: its nudge and
// division by 2³¹ truncating toward zero are one floor shift, (a·b + 2³⁰)
// >> 31 for either sign of a·b (for a·b < 0, trunc((a·b + 1 - 2³⁰)/2³¹)
// is the ceiling, floor((a·b + 1 - 2³⁰ + 2³¹ - 1)/2³¹)). The low 32 bits
// of the shift are the same logical or arithmetic (x86 has no vector
// 64-bit arithmetic shift).
func (k *kfn) srdhmNoSat(a, b value.Value) value.Value {
	if vt, ok := a.Type().(*types.VectorType); ok && vt.Len == 8 && k.e.t.hasAVX2() {
		return k.srdhmNoSatAVX2(a, b)
	}
	w := tyLike(i64, a)
	ab := k.b.NewMul(k.b.NewSExt(a, w), k.b.NewSExt(b, w))
	return k.b.NewTrunc(k.b.NewLShr(k.b.NewAdd(ab, cLike(c64(1<<30), a)), cLike(c64(31), a)), tyLike(i32, a))
}

// srdhmNoSatAVX2 is srdhmNoSat of <8 x i32> vectors on AVX2, without
// widening the lanes to i64 and narrowing them back (shuffles across
// 128-bit halves): vpmuldq multiplies the even lanes and, of a and b
// shifted down one lane, the odd ones; the even products' results are the
// low halves of (p + 2³⁰) >> 31, the odd ones' the high halves of
// (p + 2³⁰) << 1, blended.
func (k *kfn) srdhmNoSatAVX2(a, b value.Value) value.Value {
	v4i64 := types.NewVector(4, i64)
	mul := k.e.intrinsic("llvm.x86.avx2.pmul.dq", v4i64, v8i32, v8i32)
	odd := func(x value.Value) value.Value {
		return k.b.NewShuffleVector(x, constant.NewUndef(v8i32), shuffleMask(1, 1, 3, 3, 5, 5, 7, 7))
	}
	half := cLike(c64(1<<30), constant.NewUndef(v4i64))
	even := k.b.NewLShr(k.b.NewAdd(k.b.NewCall(mul, a, b), half), cLike(c64(31), constant.NewUndef(v4i64)))
	oddP := k.b.NewShl(k.b.NewAdd(k.b.NewCall(mul, odd(a), odd(b)), half), cLike(c64(1), constant.NewUndef(v4i64)))
	return k.b.NewShuffleVector(k.b.NewBitCast(even, v8i32), k.b.NewBitCast(oddP, v8i32), shuffleMask(0, 9, 2, 11, 4, 13, 6, 15))
}

// rdbpot is RoundingDivideByPOT(x, e) for a run-time e >= 0.
func (k *kfn) rdbpot(x, e value.Value) value.Value {
	c := func(n int64) constant.Constant { return cLike(c32(n), x) }
	big := k.b.NewICmp(enum.IPredSGT, e, c(31))
	es := k.b.NewSelect(big, c(31), e)
	mask := k.b.NewSelect(big, c(-1), k.b.NewSub(k.b.NewShl(c(1), es), c(1)))
	rem := k.b.NewAnd(x, mask)
	thr := k.b.NewAdd(k.b.NewAShr(mask, c(1)), k.b.NewZExt(k.b.NewICmp(enum.IPredSLT, x, c(0)), tyLike(i32, x)))
	r := k.b.NewAShr(x, es)
	return k.b.NewAdd(r, k.b.NewZExt(k.b.NewICmp(enum.IPredSGT, rem, thr), tyLike(i32, x)))
}

// mbqm is MultiplyByQuantizedMultiplier(x, mult, shift); noSat: mult is
// known never to be MinInt32 (srdhm cannot saturate); noLeft: shift is
// known never to be positive (no left shift).
func (k *kfn) mbqm(x, mult, shift value.Value, noSat, noLeft bool) value.Value {
	zero := cLike(c32(0), x)
	mul := k.srdhm
	if noSat {
		mul = k.srdhmNoSat
	}
	if noLeft {
		return k.rdbpot(mul(x, mult), k.b.NewSub(zero, shift))
	}
	pos := k.b.NewICmp(enum.IPredSGT, shift, zero)
	left := k.b.NewSelect(pos, shift, zero)
	right := k.b.NewSelect(pos, zero, k.b.NewSub(zero, shift))
	return k.rdbpot(mul(k.b.NewShl(x, left), mult), right)
}

// satShl is gemmlowp's saturating left shift by a constant.
func (k *kfn) satShl(x value.Value, e int) value.Value {
	thr := int64(1)<<(31-e) - 1
	v := value.Value(k.b.NewShl(x, c32(int64(e))))
	v = k.b.NewSelect(k.b.NewICmp(enum.IPredSGT, x, c32(thr)), c32(math.MaxInt32), v)
	return k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, x, c32(-thr)), c32(math.MinInt32), v)
}

// oneOverOnePlusX is gemmlowp's 1/(1+x), Q0.31 in and out.
func (k *kfn) oneOverOnePlusX(a value.Value) value.Value {
	s := k.b.NewAdd(k.b.NewSExt(a, i64), c64(math.MaxInt32))
	sign := k.b.NewSelect(k.b.NewICmp(enum.IPredSLT, s, c64(0)), c64(-1), c64(1))
	half := k.b.NewTrunc(k.b.NewSDiv(k.b.NewAdd(s, sign), c64(2)), i32)
	x := value.Value(k.b.NewAdd(c32(1515870810), k.srdhm(half, c32(-1010580540))))
	for i := 0; i < 3; i++ {
		oneMinus := k.b.NewSub(c32(1<<29), k.srdhm(half, x))
		x = k.b.NewAdd(x, k.satShl(k.srdhm(x, oneMinus), 2))
	}
	return k.satShl(x, 1)
}

// roundF32 rounds a float to the nearest integer, ties to even, for
// |f| <= 4e6 (the caller clamps): adding and removing 1.5·2^23 in float32.
func (k *kfn) roundF32(f value.Value) value.Value {
	magic := cLike(cf(12582912), f)
	return k.b.NewFSub(k.b.NewFAdd(f, magic), magic)
}

// quantF is sat(round_half_even(f) + zy) clamped to [lo, hi] (NaN gives 0).
func (k *kfn) quantF(f, zy value.Value, lo, hi int32) value.Value {
	c := func(x float32) constant.Constant { return cLike(cf(x), f) }
	nan := k.b.NewFCmp(enum.FPredUNO, f, f)
	cl := k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, f, c(-4e6)), c(-4e6), f)
	cl = k.b.NewSelect(k.b.NewFCmp(enum.FPredOGT, cl, c(4e6)), c(4e6), cl)
	r := k.b.NewFAdd(k.roundF32(cl), k.b.NewSIToFP(zy, tyLike(f32, f)))
	y := k.clampI(k.b.NewFPToSI(k.b.NewSelect(nan, c(0), r), tyLike(i32, f)), lo, hi)
	return k.b.NewSelect(nan, cLike(c32(0), f), y)
}

// quantFShort is quantF for constant zy, lo ≤ hi within ±2^16, in fewer
// operations: with A = lo − zy and B = hi − zy (integers inside ±4e6),
//
//	clamp(rne(clamp(f, ±4e6)) + zy, lo, hi) = rne(clamp(f, A, B)) + zy
//
// since rne is monotone and fixes integers (rne(clamp(c, A, B)) =
// clamp(rne(c), A, B)); and rne(d) + zy is (d + 1.5·2^23) − (1.5·2^23 − zy)
// in float32, both steps exact for |d| ≤ 2^17 (integers below 2^24). NaN
// gives 0 as quantF (mayNaN false: f is known not to be NaN).
func (k *kfn) quantFShort(f value.Value, zy, lo, hi int32, mayNaN bool) value.Value {
	const magic = 12582912
	c := func(x float32) constant.Constant { return cLike(cf(x), f) }
	a, b := c(float32(lo-zy)), c(float32(hi-zy))
	d := k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, f, a), a, f)
	d = k.b.NewSelect(k.b.NewFCmp(enum.FPredOGT, d, b), b, d)
	var y value.Value
	if vt, ok := f.Type().(*types.VectorType); ok && vt.Len == 8 && k.e.t.hasAVX2() {
		// vcvtps2dq rounds to nearest even (MXCSR's default) as the
		// magic constant does, then zy in i32: one operation fewer.
		cvt := k.e.intrinsic("llvm.x86.avx.cvt.ps2dq.256", v8i32, f.Type())
		y = k.b.NewAdd(k.b.NewCall(cvt, d), cLike(c32(int64(zy)), f))
	} else {
		r := k.b.NewFSub(k.b.NewFAdd(d, c(magic)), c(magic-float32(zy)))
		y = k.b.NewFPToSI(r, tyLike(i32, f))
	}
	if mayNaN {
		y = k.b.NewSelect(k.b.NewFCmp(enum.FPredUNO, f, f), cLike(c32(0), f), y)
	}
	return y
}

// quantFAway is quantF with ties rounded away from zero (TFLite's
// QUANTIZE): in double, trunc(f ± 0.5) is exact for |f| < 4e6.
func (k *kfn) quantFAway(f, zy value.Value, lo, hi int32) value.Value {
	nan := k.b.NewFCmp(enum.FPredUNO, f, f)
	c := k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, f, cf(-4e6)), cf(-4e6), f)
	c = k.b.NewSelect(k.b.NewFCmp(enum.FPredOGT, c, cf(4e6)), cf(4e6), c)
	d := k.b.NewFPExt(c, types.Double)
	half := k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, d, constant.NewFloat(types.Double, 0)),
		constant.NewFloat(types.Double, -0.5), constant.NewFloat(types.Double, 0.5))
	r := k.b.NewAdd(k.b.NewFPToSI(k.b.NewFAdd(d, half), i32), zy)
	y := k.clampI(r, lo, hi)
	return k.b.NewSelect(nan, c32(0), y)
}

// intBinary is a plain integer binary op wrapping in the element type, as
// rt's: division by zero gives 0 and MIN / -1 gives MIN.
func (k *kfn) intBinary(op codegen.EpiOp, x, y value.Value, unsigned bool) value.Value {
	b := k.b
	t := x.Type().(*types.IntType)
	zero := constant.NewInt(t, 0)
	lt := enum.IPredSLT
	if unsigned {
		lt = enum.IPredULT
	}
	switch op {
	case codegen.EpiAdd:
		return b.NewAdd(x, y)
	case codegen.EpiSub:
		return b.NewSub(x, y)
	case codegen.EpiMul:
		return b.NewMul(x, y)
	case codegen.EpiMax:
		return b.NewSelect(b.NewICmp(lt, x, y), y, x)
	case codegen.EpiMin:
		return b.NewSelect(b.NewICmp(lt, y, x), y, x)
	case codegen.EpiDiv:
		one := constant.NewInt(t, 1)
		y0 := b.NewICmp(enum.IPredEQ, y, zero)
		if unsigned {
			return b.NewSelect(y0, zero, b.NewUDiv(x, b.NewSelect(y0, one, y)))
		}
		minV := constant.NewInt(t, -(int64(1) << (t.BitSize - 1)))
		ovf := b.NewAnd(b.NewICmp(enum.IPredEQ, x, minV), b.NewICmp(enum.IPredEQ, y, constant.NewInt(t, -1)))
		safe := b.NewSelect(b.NewOr(y0, ovf), one, y)
		return b.NewSelect(y0, zero, b.NewSDiv(x, safe))
	}
	panic("llvm: unknown integer binary op " + string(op))
}
