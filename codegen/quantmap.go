package codegen

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// lowerIntOp lowers the integer ops isIntStep selects.
func (l *lowerer) lowerIntOp(v *ir.Value) (*Step, error) {
	switch v.Op.Name {
	case "maxpool", "avgpool":
		return l.lowerIntPool(v)
	case "softmax":
		return l.lowerIntSoftmax(v)
	case "add", "sub", "mul":
		return l.lowerQBinary(v)
	case "cast":
		return l.lowerCast(v)
	case "lut":
		return l.lowerLut(v)
	}
	return l.lowerQMap(v)
}

// lowerLut lowers a table lookup (QMap kind lut: In x, the table).
func (l *lowerer) lowerLut(v *ir.Value) (*Step, error) {
	if constOf(v.Args[1]) == nil {
		return nil, Unsupported(v, "lut with a table computed at run time")
	}
	m := &QMap{Kind: "lut", Outer: 1, Dim: 1, Inner: v.Type.NumElements()}
	st := &Step{Kernel: KQuant, Op: v.Op.Name, Where: v.Where(), QMap: m}
	st.In = []Operand{l.operand(v.Args[0]), l.operand(v.Args[1])}
	return st, nil
}

// qchannels is the [Outer, Dim, Inner] view of a tensor of shape along the
// channel axis of qs (the first per-axis one; Dim 1 when all are per tensor).
func qchannels(shape []int, qs ...*ir.Quant) (outer, dim, inner int) {
	n := ir.NumElements(shape)
	for _, q := range qs {
		if q != nil && q.Axis >= 0 {
			inner = ir.NumElements(shape[q.Axis+1:])
			return n / max(1, shape[q.Axis]*inner), shape[q.Axis], inner
		}
	}
	return 1, 1, n
}

func qparams(q *ir.Quant, dim int) (s []float32, z []int32) {
	s, z = make([]float32, dim), make([]int32, dim)
	for c := 0; c < dim; c++ {
		s[c], z[c] = q.ScaleAt(c), int32(q.ZeroAt(c))
	}
	return s, z
}

func (l *lowerer) lowerQMap(v *ir.Value) (*Step, error) {
	x := v.Args[0]
	xt, yt := x.Type, v.Type
	qx, qy := xt.Quant, yt.Quant
	outer, dim, inner := qchannels(yt.Shape, qx, qy)
	m := &QMap{Outer: outer, Dim: dim, Inner: inner}
	if yt.DType.IsInt() {
		lo, hi := yt.DType.Range()
		m.Lo, m.Hi = int32(max(lo, math.MinInt32)), int32(min(hi, math.MaxInt32))
	}
	st := &Step{Kernel: KQuant, Op: v.Op.Name, Where: v.Where(), QMap: m}
	st.In = []Operand{l.operand(x)}
	f32 := func(s []float32) Operand { return l.packed(ir.FromF32([]int{len(s)}, s)) }
	i32 := func(z []int32) Operand { return l.packed(i32Tensor([]int{len(z)}, z)) }
	small := yt.DType == ir.I8 || yt.DType == ir.U8 || yt.DType == ir.I16
	if qx != nil && qx.Axis >= 0 && qy != nil && qy.Axis >= 0 && qx.Axis != qy.Axis {
		return nil, Unsupported(v, "requantize between axes %d and %d", qx.Axis, qy.Axis)
	}
	switch v.Op.Name {
	case "quantize":
		if qy == nil || !small || (xt.DType != ir.F32 && xt.DType != ir.I32) {
			return nil, Unsupported(v, "quantize %v to %v (f32 or i32 to i8/u8/i16 are compiled)", xt, yt)
		}
		m.Kind = "quantize"
		if v.Str("rq") == "tflite" {
			m.Kind = "quantize_away" // ties away from zero, as TFLite's QUANTIZE
		}
		s, z := qparams(qy, dim)
		st.In = append(st.In, f32(s), i32(z))
	case "dequantize":
		if qx == nil || xt.DType == ir.I64 || yt.DType != ir.F32 {
			return nil, Unsupported(v, "dequantize %v", xt)
		}
		m.Kind = "dequantize"
		s, z := qparams(qx, dim)
		st.In = append(st.In, f32(s), i32(z))
	case "requantize":
		if qx == nil || qy == nil || !small || xt.DType == ir.I64 {
			return nil, Unsupported(v, "requantize %v to %v", xt, yt)
		}
		sx, zx := qparams(qx, dim)
		sy, zy := qparams(qy, dim)
		switch rqMode(v) {
		case "float":
			m.Kind = "requantize_float"
			st.In = append(st.In, f32(sx), i32(zx), f32(sy), i32(zy))
		case "tflite":
			m.Kind = "requantize_tflite"
			mult, shift := make([]int32, dim), make([]int32, dim)
			for c := range mult {
				a, b := rt.QuantizeMultiplier(float64(sx[c]) / float64(sy[c]))
				mult[c], shift[c] = a, int32(b)
			}
			st.In = append(st.In, i32(zx), i32(mult), i32(shift), i32(zy))
		default:
			return nil, Unsupported(v, "rq=%s", rqMode(v))
		}
	case "hardswish", "hardsigmoid", "sigmoid", "tanh":
		tab, err := unaryTable(v)
		if err != nil {
			return nil, err
		}
		m.Kind = "lut"
		m.Outer, m.Dim, m.Inner = 1, 1, xt.NumElements()
		st.In = append(st.In, l.packed(tab))
	case "relu", "clip":
		if !qx.Equal(qy) || xt.DType != yt.DType || (qx != nil && qx.Axis >= 0) || xt.DType == ir.I64 {
			return nil, Unsupported(v, "integer %s from %v to %v", v.Op.Name, xt, yt)
		}
		m.Kind = "clamp"
		if v.Op.Name == "relu" {
			if qx != nil {
				m.Lo = int32(qx.ZeroPoint[0])
			} else {
				m.Lo = 0
			}
		} else {
			lo, hi := intBounds(v.Float("min"), v.Float("max"), xt.DType)
			m.Lo, m.Hi = int32(lo), int32(hi)
		}
		m.Outer, m.Dim, m.Inner = 1, 1, xt.NumElements()
	}
	return st, nil
}

// lowerIntPool lowers integer max pooling and TFLite's average pooling.
func (l *lowerer) lowerIntPool(v *ir.Value) (*Step, error) {
	x := v.Args[0].Type
	if !is8(x.DType) || x.DType != v.Type.DType || !x.Quant.Equal(v.Type.Quant) || x.Rank() != 4 {
		return nil, Unsupported(v, "integer %s from %v to %v", v.Op.Name, x, v.Type)
	}
	rq := &Requant{Mode: "max"}
	if v.Op.Name == "avgpool" {
		if rqMode(v) != "tflite" || x.Quant == nil || x.Quant.Axis >= 0 || v.Int("ceil_mode") != 0 || v.Int("count_include_pad") != 0 {
			return nil, Unsupported(v, "integer avgpool (rq=tflite without ceil_mode or count_include_pad is compiled)")
		}
		rq.Mode = "tflite"
	}
	win, err := ir.WindowOf(v, 2, nil)
	if err != nil {
		return nil, err
	}
	if rq.Mode == "tflite" && (win.Dilations[0] != 1 || win.Dilations[1] != 1) {
		return nil, Unsupported(v, "tflite avgpool with dilations")
	}
	p := &Pool{Max: rq.Mode == "max", Planes: x.Shape[0] * x.Shape[1], H: x.Shape[2], W: x.Shape[3],
		OH: v.Type.Shape[2], OW: v.Type.Shape[3], KH: win.Kernel[0], KW: win.Kernel[1],
		SH: win.Strides[0], SW: win.Strides[1], DH: win.Dilations[0], DW: win.Dilations[1],
		PT: win.PadsBegin[0], PL: win.PadsBegin[1], PB: win.PadsEnd[0], PR: win.PadsEnd[1]}
	lo, hi := x.DType.Range()
	rq.Lo, rq.Hi = int32(lo), int32(hi)
	st := &Step{Kernel: KPool, Op: v.Op.Name, Where: v.Where(), Pool: p, Rq: rq}
	st.In = []Operand{l.operand(v.Args[0])}
	return st, nil
}

// lowerIntSoftmax lowers TFLite's integer softmax. The exponentials depend
// on max - x only, which takes at most 256 values: they are tabulated here.
func (l *lowerer) lowerIntSoftmax(v *ir.Value) (*Step, error) {
	x := v.Args[0].Type
	qx, qo := x.Quant, v.Type.Quant
	if rqMode(v) != "tflite" || !is8(x.DType) || !is8(v.Type.DType) || qx == nil || qo == nil || qx.Axis >= 0 || qo.Axis >= 0 {
		return nil, Unsupported(v, "integer softmax %v to %v (rq=tflite on 8-bit per-tensor is compiled)", x, v.Type)
	}
	lo, hi := v.Type.DType.Range()
	if qo.ZeroPoint[0] != lo || math.Abs(float64(qo.Scale[0]-1.0/256)) > 0.001/256 {
		return nil, Unsupported(v, "rq=tflite softmax needs result quantization q(1/256, %d)", lo)
	}
	const scaledDiffBits, accumBits = 5, 12
	real := math.Min(float64(qx.Scale[0])*(1<<(31-scaledDiffBits)), 1<<31-1.0)
	if real <= 1 {
		return nil, Unsupported(v, "rq=tflite softmax: input scale %v is too small", qx.Scale[0])
	}
	mult, leftShift := rt.QuantizeMultiplier(real)
	diffMin := -rt.CalculateInputRadius(scaledDiffBits, leftShift, 31)
	exps, sums := make([]int32, 256), make([]int32, 256)
	for d := range exps {
		diff := int32(-d)
		exps[d], sums[d] = -1, 0
		if diff >= diffMin {
			exps[d] = rt.ExpOnNegativeValues(rt.SaturatingRoundingDoublingHighMul(diff*(1<<leftShift), mult), scaledDiffBits)
			sums[d] = rt.RoundingDivideByPOT(exps[d], accumBits)
		}
	}
	ax := v.Int("axis")
	s := v.Type.Shape
	st := &Step{Kernel: KSoftmax, Op: "softmax", Where: v.Where(), Rq: &Requant{Mode: "tflite", Lo: int32(lo), Hi: int32(hi)},
		Softmax: [3]int{ir.NumElements(s[:ax]), s[ax], ir.NumElements(s[ax+1:])}}
	st.In = []Operand{l.operand(v.Args[0]), l.packed(i32Tensor([]int{256}, exps)), l.packed(i32Tensor([]int{256}, sums))}
	return st, nil
}

// lowerQBinary lowers quantized add, sub and mul (rq float: through f32 as
// rt's viaFloat; rq tflite: TFLite's integer add and sub).
func (l *lowerer) lowerQBinary(v *ir.Value) (*Step, error) {
	a, b, y := v.Args[0].Type, v.Args[1].Type, v.Type
	for _, t := range []ir.Type{a, b, y} {
		if !is8(t.DType) || t.Quant == nil || t.Quant.Axis >= 0 {
			return nil, Unsupported(v, "quantized %s of %v and %v to %v (8-bit per-tensor operands are compiled)", v.Op.Name, a, b, y)
		}
	}
	qb := &QBinary{Op: v.Op.Name, Mode: rqMode(v), ZA: int32(a.Quant.ZeroPoint[0]), ZB: int32(b.Quant.ZeroPoint[0]),
		ZY: int32(y.Quant.ZeroPoint[0]), SA: a.Quant.Scale[0], SB: b.Quant.Scale[0], SY: y.Quant.Scale[0]}
	switch qb.Mode {
	case "float":
	case "tflite":
		if v.Op.Name == "mul" {
			return nil, Unsupported(v, "rq=tflite mul")
		}
		const leftShift = 20
		twiceMax := float64(2 * max(qb.SA, qb.SB))
		m1, s1 := rt.QuantizeMultiplier(float64(qb.SA) / twiceMax)
		m2, s2 := rt.QuantizeMultiplier(float64(qb.SB) / twiceMax)
		mo, so := rt.QuantizeMultiplier(twiceMax / float64(float32(1<<leftShift)*qb.SY))
		qb.M1, qb.S1, qb.M2, qb.S2, qb.MO, qb.SO = m1, int32(s1), m2, int32(s2), mo, int32(so)
	default:
		return nil, Unsupported(v, "rq=%s", qb.Mode)
	}
	lo, hi := y.DType.Range()
	lo, hi, err := actBounds(v, lo, hi)
	if err != nil {
		return nil, err
	}
	qb.Lo, qb.Hi = int32(lo), int32(hi)
	if qb.Mode == "float" {
		qb.RecipY = recipExact(qb, a.DType, b.DType)
	}
	out := y.Shape
	lp := &Loop{Shape: out, Strides: [][]int{ir.Strides(out), bcastStrides(a.Shape, out), bcastStrides(b.Shape, out)}}
	lp.simplify()
	st := &Step{Kernel: KQBinary, Op: v.Op.Name, Where: v.Where(), QBin: qb, Loop: lp}
	st.In = []Operand{l.operand(v.Args[0]), l.operand(v.Args[1])}
	return st, nil
}

// unaryTable tabulates a quantized unary op of an 8-bit per-tensor input:
// rt's result for each of the 256 stored values, in order from the type's
// least: the table of a QMap lut. Built by rt itself, it gives rt's results
// whatever the op's arithmetic (rq float or tflite).
func unaryTable(v *ir.Value) (*ir.Tensor, error) {
	xt, yt := v.Args[0].Type, v.Type
	if !is8(xt.DType) || !is8(yt.DType) || xt.Quant == nil || xt.Quant.Axis >= 0 || yt.Quant == nil || yt.Quant.Axis >= 0 {
		return nil, Unsupported(v, "integer %s of %v to %v (8-bit per-tensor is compiled)", v.Op.Name, xt, yt)
	}
	g := ir.NewGraph("table")
	p := g.AddParam("x", ir.Type{DType: xt.DType, Shape: []int{256}, Quant: xt.Quant})
	u, err := g.Add(v.Op.Name, []*ir.Value{p}, v.Attrs.Clone(), ir.Type{DType: yt.DType, Quant: yt.Quant}, "y", v.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", v.Where(), err)
	}
	lo, _ := xt.DType.Range()
	x := ir.NewTensor(xt.DType, []int{256})
	for i := 0; i < 256; i++ {
		x.SetInt(i, lo+int64(i))
	}
	return rt.EvalOp(u, []*ir.Tensor{x})
}

// recipExact returns float32(1/SY) when, for every pair of stored values
// of a (adt) and b (bdt), rounding f·(1/SY) gives q's result for f/SY
// (f = float32(a - ZA)·SA op float32(b - ZB)·SB, each step rounded to
// float32 as rt's), else 0: a multiply instead of a divide, exact.
func recipExact(q *QBinary, adt, bdt ir.DType) float32 {
	r := float32(1 / float64(q.SY))
	if r == 0 || math.IsInf(float64(r), 0) || math.IsNaN(float64(r)) {
		return 0
	}
	quant := func(x float32) int64 {
		v := math.RoundToEven(float64(x)) + float64(q.ZY)
		return int64(max(float64(q.Lo), min(float64(q.Hi), v)))
	}
	alo, ahi := adt.Range()
	blo, bhi := bdt.Range()
	for a := alo; a <= ahi; a++ {
		da := float32(float32(a-int64(q.ZA)) * q.SA)
		for b := blo; b <= bhi; b++ {
			db := float32(float32(b-int64(q.ZB)) * q.SB)
			var f float32
			switch q.Op {
			case "add":
				f = float32(da + db)
			case "sub":
				f = float32(da - db)
			default:
				f = float32(da * db)
			}
			if math.IsNaN(float64(f)) {
				return 0
			}
			if quant(float32(f/q.SY)) != quant(float32(f*r)) {
				return 0
			}
		}
	}
	return r
}
