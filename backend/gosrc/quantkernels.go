package gosrc

import (
	"fmt"
	"math"
	"strconv"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/ir"
)

// qmap: quantize, dequantize, requantize and integer clamps over
// [Outer, Dim, Inner].
func (k *kfn) qmap() error {
	m := k.s.QMap
	xt, yt := k.s.In[0].DType, k.s.Out.DType
	t, err := goType(yt)
	if err != nil {
		return err
	}
	k.g.intHelpers = true
	var e jen.Code
	switch m.Kind {
	case "quantize":
		e = L("y[i] = %s(quantF(float32(x0[i])/x1[c], x2[c], %d, %d))", t, m.Lo, m.Hi)
		if zy, ok := k.g.weightInts(k.s.In[2]); ok && xt == ir.F32 && len(zy) == m.Dim && m.Dim == 1 && max(-int64(m.Lo), int64(m.Hi))+max(zy[0], -zy[0]) < 1<<21 {
			// One zero point: rounded by quantFQ (quantFC with NaN as 0).
			k.g.quantFC = true
			e = L("y[i] = %s(quantFQ(%s, %d, %d, %d))", t, k.divScale("float32(x0[i])"), zy[0], int64(m.Lo)-zy[0], int64(m.Hi)-zy[0])
		}
	case "quantize_away":
		e = L("y[i] = %s(quantFAway(float32(x0[i])/x1[c], x2[c], %d, %d))", t, m.Lo, m.Hi)
	case "dequantize":
		e = L("y[i] = float32(int64(x0[i])-int64(x2[c])) * x1[c]")
		if xt == ir.Bool { // a cast: scale 1, zero point 0
			e = L("if x0[i] { y[i] = 1 } else { y[i] = 0 }")
		}
	case "requantize_float":
		e = L("y[i] = %s(quantF(float32(int64(x0[i])-int64(x2[c]))*x1[c]/x3[c], x4[c], %d, %d))", t, m.Lo, m.Hi)
	case "requantize_tflite":
		e = jen.Block(
			L("q := int64(mbqm(int32(x0[i])-x1[c], x2[c], x3[c])) + int64(x4[c])"),
			L("q = max(%d, min(%d, q))", m.Lo, m.Hi),
			L("y[i] = %s(q)", t))
	case "clamp":
		// int32 of an i64 wraps to its low 32 bits, as the LLVM kernel's
		// truncation; a bool reads as 0 or 1.
		e = L("y[i] = %s(clampI(int32(x0[i]), %d, %d))", t, m.Lo, m.Hi)
		if xt == ir.Bool {
			e = L("if x0[i] { y[i] = %s(clampI(1, %d, %d)) } else { y[i] = %s(clampI(0, %d, %d)) }", t, m.Lo, m.Hi, t, m.Lo, m.Hi)
		}
	case "lut":
		if xt == ir.I8 {
			e = L("y[i] = x1[int(x0[i])+128]")
		} else {
			e = L("y[i] = x1[x0[i]]")
		}
	case "trunc":
		// rt's float32ToInt: toward zero where |x| < 2^63, else (NaN
		// too) MinInt64; then wrapped by the conversion.
		e = jen.Block(
			L("f := math.Trunc(float64(x0[i]))"),
			L("q := int64(math.MinInt64)"),
			L("if f >= -(1<<63) && f < 1<<63 { q = int64(f) }"),
			L("y[i] = %s(q)", t))
	default:
		return unsupported(k.s, "quant map %q", m.Kind)
	}
	if m.Kind != "clamp" && m.Kind != "trunc" && m.Kind != "quantize" && m.Kind != "quantize_away" && xt == ir.F32 {
		return unsupported(k.s, "%s of %v", m.Kind, xt)
	}
	if xt == ir.Bool && m.Kind != "clamp" && m.Kind != "dequantize" {
		return unsupported(k.s, "%s of %v", m.Kind, xt)
	}
	k.add(For("o", 0, m.Outer, For("c", 0, m.Dim, For("j", 0, m.Inner,
		L("i := (o*%d+c)*%d + j", m.Dim, m.Inner), e))))
	return nil
}

// divScale is x/x1[c] for the quantize's scales x1, or, when they are
// one constant power of two whose reciprocal is a normal float32, the
// same value without the division: x itself for a scale of 1, else x
// times the exact reciprocal (both round the same real x·2⁻ᵏ once),
// converted explicitly so that no target fuses it into the rounding's add.
func (k *kfn) divScale(x string) string {
	s, ok := k.g.weightF32(k.s.In[1])
	if !ok || len(s) != 1 {
		return x + "/x1[c]"
	}
	fr, e := math.Frexp(float64(s[0]))
	switch {
	case fr != 0.5 || 1-e < -125 || 1-e > 127:
		return x + "/x1[c]"
	case s[0] == 1:
		return x
	}
	return fmt.Sprintf("float32(%s * %s)", x, strconv.FormatFloat(math.Ldexp(1, 1-e), 'g', -1, 32))
}

// qbinary: a quantized add, sub or mul (codegen.QBinary) over the
// broadcast loop, as rt's viaFloat (rq float) or TFLite's add and sub (rq
// tflite). The float products are converted explicitly so that no target
// fuses them into an FMA.
func (k *kfn) qbinary() error {
	q, lp := k.s.QBin, k.s.Loop
	for _, o := range append(k.s.In[:2:2], k.s.Out) {
		if !isInt8(o.DType) {
			return unsupported(k.s, "quantized %s on %v", q.Op, o.DType)
		}
	}
	t, err := goType(k.s.Out.DType)
	if err != nil {
		return err
	}
	var body []jen.Code
	switch q.Mode {
	case "float":
		op := map[string]string{"add": "+", "sub": "-", "mul": "*"}[q.Op]
		if op == "" {
			return unsupported(k.s, "quantized %s", q.Op)
		}
		body = []jen.Code{
			L("da := float32(float32(a) * %s)", flit(q.SA)),
			L("db := float32(float32(b) * %s)", flit(q.SB)),
			L("y[o] = %s(quantF(float32(da%sdb)/%s, %d, %d, %d))", t, op, flit(q.SY), q.ZY, q.Lo, q.Hi),
		}
	case "tflite":
		op := map[string]string{"add": "+", "sub": "-"}[q.Op]
		if op == "" {
			return unsupported(k.s, "rq=tflite %s", q.Op)
		}
		body = []jen.Code{
			L("u := mbqm(a*(1<<20), %d, %d)", q.M1, q.S1),
			L("w := mbqm(b*(1<<20), %d, %d)", q.M2, q.S2),
			L("y[o] = %s(clampI(mbqm(u%sw, %d, %d)+%d, %d, %d))", t, op, q.MO, q.SO, q.ZY, q.Lo, q.Hi),
		}
	default:
		return unsupported(k.s, "rq=%s", q.Mode)
	}
	k.g.intHelpers = true
	k.add(nest(lp.Shape, func(idx []string) []jen.Code {
		return append([]jen.Code{
			L("o := %s", offsetExpr(idx, lp.Strides[0], 0)),
			L("a := int32(x0[%s]) - %d", offsetExpr(idx, lp.Strides[1], 0), q.ZA),
			L("b := int32(x1[%s]) - %d", offsetExpr(idx, lp.Strides[2], 0), q.ZB),
		}, body...)
	}))
	return nil
}
