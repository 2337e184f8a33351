package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// ONNX Runtime's dynamic quantization (quantize_dynamic): a
// DynamicQuantizeLinear computes an activation's uint8 scale and zero point
// at run time, and MatMulInteger / ConvInteger read that zero point, an IR
// value rather than a constant.

// unitQuant is the quantization of raw 8-bit integers: scale 1, zero
// point 0 (the values are read as they are).
func unitQuant() *ir.Quant { return ir.PerTensor(1, 0) }

// convDynQuantize: DynamicQuantizeLinear (opset 11) as f32 ops, the way
// ONNX Runtime computes it:
//
//	lo = min(0, −max(−x)), the IR having no reduce_min, hi = max(0, max(x))
//	y_scale = (hi − lo) / 255, or 1 when hi = lo (x all zeros)
//	zp = round_half_even(clip(−lo / y_scale, 0, 255))
//	y = clip(round_half_even(x / y_scale) + zp, 0, 255)
//
// y and y_zero_point become u8 by a quantize with scale 1 (exact: the
// values are already integers in [0, 255]).
func convDynQuantize(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if x.Type.DType != ir.F32 || x.Type.Quant != nil {
		return c.unsupported("input is %v; DynamicQuantizeLinear takes FLOAT", x.Type)
	}
	if x.Type.NumElements() == 0 {
		return c.errf("input %v is empty: its minimum and maximum are undefined", x.Type.Shape)
	}
	b := c.build()
	mn, mx := x, x
	if r := x.Type.Rank(); r > 0 {
		axes := make([]int, r)
		for i := range axes {
			axes[i] = i
		}
		// min(x) = −max(−x): the IR has no reduce_min (negation is exact).
		mn = b.op("neg", "min", nil, b.reduce("reduce_max", "neg_max", b.op("neg", "neg", nil, x), axes, false))
		mx = b.reduce("reduce_max", "max", x, axes, false)
	}
	zero := b.k("zero", 0)
	lo := b.op("min", "lo", nil, mn, zero)
	hi := b.op("max", "hi", nil, mx, zero)
	s := b.op("div", "scale_raw", nil, b.op("sub", "range", nil, hi, lo), b.k("qrange", 255))
	// ONNX Runtime (dynamicquantizelinear.cc) takes scale 1 for an all-zero
	// input, where the spec's formula divides 0 by 0.
	s = b.op("where", "scale", nil, b.op("equal", "flat", nil, hi, lo), b.k("one", 1), s)
	byteRange := ir.Attrs{"min": ir.Float(0), "max": ir.Float(255)}
	zpf := b.op("round", "zp_f", nil, b.op("clip", "zp_clip", byteRange, b.op("div", "zp_div", nil, b.op("sub", "neg_lo", nil, zero, lo), s)))
	yf := b.op("clip", "y_clip", byteRange, b.op("add", "y_add", nil, b.op("round", "y_round", nil, b.op("div", "y_div", nil, x, s)), zpf))
	u8 := ir.Type{DType: ir.U8, Quant: unitQuant()}
	y := b.typed("quantize", "", nil, u8, yf)
	zp := b.typed("quantize", "zero_point", nil, u8, zpf)
	if b.err == nil {
		c.set(1, s)
		c.set(2, zp)
	}
	return b.finish(y)
}

// runtimeZP is the node's zero point input zi when it is computed at run
// time (nil when it is absent or a constant).
func (c *nodeCtx) runtimeZP(zi int) *ir.Value {
	if z := c.in(zi); z != nil && !z.IsConst() {
		return z
	}
	return nil
}

// checkRuntimeZP checks a runtime zero point z of the 8-bit operand x and
// returns it cast to i32 and shaped to broadcast against the i32 result:
// a scalar (one element) or, for MatMulInteger, one per row of x's last
// two dims ([M] → [M, 1]).
func (c *nodeCtx) checkRuntimeZP(b *builder, z, x *ir.Value, perRow bool, what string) *ir.Value {
	if b.err != nil {
		return nil
	}
	if z.Type.DType != x.Type.DType {
		b.err = c.errf("%s is %v, the operand is %v", what, z.Type.DType, x.Type.DType)
		return nil
	}
	var shape []int
	switch n := z.Type.NumElements(); {
	case n == 1:
		shape = []int{}
	case perRow && z.Type.Rank() == 1 && x.Type.Rank() >= 2 && n == x.Type.Shape[x.Type.Rank()-2]:
		shape = []int{n, 1}
	default:
		b.err = c.unsupported("%s %v computed at run time must be a scalar%s", what, z.Type.Shape, map[bool]string{true: " or one per row of A", false: ""}[perRow])
		return nil
	}
	zi := b.typed("cast", "zp_i32", nil, ir.Type{DType: ir.I32}, z)
	return b.reshape("zp_i32_shaped", zi, shape)
}

// matMulIntegerRuntimeZP: MatMulInteger whose a_zero_point za is known at
// run time only. With a read as raw integers (zero point 0),
//
//	Σ_k (a[m,k] − za)(b[k,n] − zb[n]) = matmul(a, b − zb)[m,n] − za·Σ_k (b[k,n] − zb[n])
//
// exactly in i32 (both sides wrap the same way). The column sums are
// matmul(ones [1, K], b − zb), folded at import when b is a constant.
func (c *nodeCtx) matMulIntegerRuntimeZP(za *ir.Value) error {
	a, err := c.need(0)
	if err != nil {
		return err
	}
	bv, err := c.need(1)
	if err != nil {
		return err
	}
	if dt := a.Type.DType; dt != ir.U8 && dt != ir.I8 {
		return c.errf("A is %v; MatMulInteger takes INT8 or UINT8", a.Type)
	}
	if a, err = c.withQuant(a, unitQuant(), "input "+c.inName(0)); err != nil {
		return err
	}
	if bv, err = c.quantOperand(1, -1, 3, bv.Type.Rank()-1); err != nil {
		return err
	}
	bs := bv.Type.Shape
	if len(bs) == 0 {
		return c.errf("B is a scalar; MatMulInteger takes operands of rank >= 1")
	}
	k := bs[max(len(bs)-2, 0)]
	onesShape := []int{1, k}
	if len(bs) == 1 {
		onesShape = []int{k}
	}
	ones := ir.NewTensor(ir.U8, onesShape)
	for i := range ones.U8 {
		ones.U8[i] = 1
	}
	onesV := c.constant(c.tmpName("ones"), ones, unitQuant())
	b := c.build()
	zai := c.checkRuntimeZP(b, za, a, true, "a_zero_point")
	i32 := ir.Type{DType: ir.I32}
	acc := b.typed("matmul", "acc", nil, i32, a, bv)
	cs := b.typed("matmul", "colsum", nil, i32, onesV, bv)
	if len(bs) == 1 && b.err == nil && zai.Type.Rank() == 2 {
		// A 1-D B drops the column dim: one zero point per row of a [M] result.
		zai = b.reshape("zp_row", zai, []int{zai.Type.Shape[0]})
	}
	corr := b.op("mul", "zp_corr", nil, zai, cs)
	return b.finish(b.op("sub", "", nil, acc, corr))
}

// convIntegerRuntimeZP: ConvInteger whose x_zero_point zx is known at run
// time only. ONNX Runtime pads x with its zero point, so a pad contributes
// 0 to Σ (x − zx)(w − zw); with x read as raw integers,
//
//	conv(x − zx, w − zw) = conv(x, w − zw) − zx·conv(1, w − zw)
//
// where conv(1, w − zw) over an all-ones x with the node's pads (the sum of
// the taps that land inside x) is folded at import when w is a constant.
func (c *nodeCtx) convIntegerRuntimeZP(zx *ir.Value) error {
	x, w, _, err := c.convArgs(0, 1, 4)
	if err != nil {
		return err
	}
	if dt := x.Type.DType; dt != ir.U8 && dt != ir.I8 {
		return c.errf("x is %v; ConvInteger takes INT8 or UINT8", x.Type)
	}
	if x, err = c.withQuant(x, unitQuant(), "input "+c.inName(0)); err != nil {
		return err
	}
	if w, err = c.quantOperand(1, -1, 3, 0); err != nil {
		return err
	}
	attrs, err := c.windowAttrs(x.Type.Shape[2:], w.Type.Shape[2:])
	if err != nil {
		return err
	}
	attrs["group"] = ir.Int(c.int("group", 1))
	oneShape := append([]int{1}, x.Type.Shape[1:]...)
	ones := ir.NewTensor(x.Type.DType, oneShape)
	for i := range ones.Len() {
		ones.Set(i, 1)
	}
	onesV := c.constant(c.tmpName("ones"), ones, unitQuant())
	b := c.build()
	zxi := c.checkRuntimeZP(b, zx, x, false, "x_zero_point")
	i32 := ir.Type{DType: ir.I32}
	acc := b.typed("conv", "acc", attrs, i32, x, w)
	taps := b.typed("conv", "tap_sums", attrs, i32, onesV, w)
	corr := b.op("mul", "zp_corr", nil, zxi, taps)
	return b.finish(b.op("sub", "", nil, acc, corr))
}
