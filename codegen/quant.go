package codegen

import (
	"math"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Integer lowering: quantized conv / gemm / matmul with int32 accumulators
// and their requantization (rq float or tflite), quantize / dequantize /
// requantize, integer clamps, integer pooling and TFLite's softmax. Every
// constant the arithmetic needs (multipliers, shifts, tables) is computed
// here exactly as rt computes it, so the compiled results equal rt's.

// isIntStep reports whether v takes the integer lowering (other than conv,
// gemm and matmul, which branch there themselves).
func isIntStep(v *ir.Value) bool {
	switch v.Op.Name {
	case "quantize", "dequantize", "requantize", "cast", "lut":
		return true
	case "relu", "clip", "maxpool", "avgpool", "softmax":
		return len(v.Args) > 0 && v.Args[0].Type.DType.IsInt()
	case "add", "sub", "mul":
		return v.Type.DType.IsInt() && v.Type.Quant != nil
	case "hardswish", "hardsigmoid", "sigmoid", "tanh":
		return len(v.Args) > 0 && is8(v.Args[0].Type.DType)
	}
	return false
}

// rqMode is v's requantization scheme ("float" without the attribute).
func rqMode(v *ir.Value) string {
	if v.Op.AttrDef("rq") == nil {
		return "float"
	}
	return v.Str("rq")
}

func is8(dt ir.DType) bool { return dt == ir.I8 || dt == ir.U8 }

func i32Tensor(shape []int, x []int32) *ir.Tensor {
	t := ir.NewTensor(ir.I32, shape)
	copy(t.I32, x)
	return t
}

// intBounds is rt's: float clip bounds as stored integers of dt.
func intBounds(mn, mx float32, dt ir.DType) (lo, hi int64) {
	rlo, rhi := dt.Range()
	sat := func(f float64) int64 { return int64(math.Max(math.Min(f, float64(rhi)), float64(rlo))) }
	return sat(math.Ceil(float64(mn))), sat(math.Floor(float64(mx)))
}

// actBounds folds v's fused activation into the result range [lo, hi].
func actBounds(v *ir.Value, lo, hi int64) (int64, int64, error) {
	if v.Op.AttrDef("act") == nil {
		return lo, hi, nil
	}
	switch v.Str("act") {
	case "none":
	case "relu":
		q := v.Type.Quant
		if q == nil || q.Axis >= 0 {
			return 0, 0, Unsupported(v, "act=relu on %v", v.Type)
		}
		lo = max(lo, q.ZeroPoint[0])
	case "clip":
		a, b := intBounds(v.Float("act_min"), v.Float("act_max"), v.Type.DType)
		lo, hi = max(lo, a), min(hi, b)
	default:
		return 0, 0, Unsupported(v, "act %s", v.Str("act"))
	}
	return lo, hi, nil
}

// intResult prepares the requantization of an integer conv / gemm with nch
// output channels and returns its parameter arrays.
func (l *lowerer) intResult(v *ir.Value, qw *ir.Quant, nch int) (*Requant, []Operand, error) {
	qx := v.Args[0].Type.Quant
	r := &Requant{ZX: int32(qx.ZeroPoint[0])}
	if v.Type.DType == ir.I32 && v.Type.Quant == nil {
		if v.Op.AttrDef("act") != nil && v.Str("act") != "none" {
			return nil, nil, Unsupported(v, "act on an i32 result")
		}
		r.Mode = "i32"
		return r, nil, nil
	}
	q := v.Type.Quant
	if q == nil || q.Axis >= 0 || !is8(v.Type.DType) {
		return nil, nil, Unsupported(v, "integer result %v (i32 or per-tensor quantized i8/u8 are compiled)", v.Type)
	}
	if qw.Axis >= 0 && qw.Channels() != nch {
		return nil, nil, Unsupported(v, "weight has %d scales for %d output channels", qw.Channels(), nch)
	}
	lo, hi := v.Type.DType.Range()
	lo, hi, err := actBounds(v, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	r.ZY, r.Lo, r.Hi = int32(q.ZeroPoint[0]), int32(lo), int32(hi)
	sx := qx.Scale[0]
	switch r.Mode = rqMode(v); r.Mode {
	case "float":
		sc := make([]float32, nch)
		for c := range sc {
			sc[c] = sx * qw.ScaleAt(c) / q.Scale[0]
		}
		return r, []Operand{l.packed(ir.FromF32([]int{nch}, sc))}, nil
	case "tflite":
		// As rt (and TFLite): the float32 product sx*sw for fully
		// connected layers and uint8 convolutions, else the double one.
		f32Product := v.Op.Name != "conv" || v.Args[0].Type.DType == ir.U8
		mult, shift := make([]int32, nch), make([]int32, nch)
		for c := range mult {
			real := float64(sx) * float64(qw.ScaleAt(c)) / float64(q.Scale[0])
			if f32Product {
				real = float64(sx*qw.ScaleAt(c)) / float64(q.Scale[0])
			}
			m, s := rt.QuantizeMultiplier(real)
			mult[c], shift[c] = m, int32(s)
		}
		return r, []Operand{l.packed(i32Tensor([]int{nch}, mult)), l.packed(i32Tensor([]int{nch}, shift))}, nil
	}
	return nil, nil, Unsupported(v, "rq=%s", r.Mode)
}

// centered returns the constant t minus its zero points as int32; axis is
// the quantization channel axis of t's layout (q.Axis).
func centered(t *ir.Tensor, q *ir.Quant) []int32 {
	out := make([]int32, t.Len())
	stride, dim := 1, 1
	if q.Axis >= 0 {
		stride, dim = ir.Strides(t.Shape)[q.Axis], t.Shape[q.Axis]
	}
	for i := range out {
		out[i] = int32(t.IntAt(i) - q.ZeroAt((i/stride)%dim))
	}
	return out
}

// zeroPoints0 reports whether every zero point of q is 0 (so a zero
// stored weight is a zero weight).
func zeroPoints0(q *ir.Quant) bool {
	for _, z := range q.ZeroPoint {
		if z != 0 {
			return false
		}
	}
	return true
}

// narrow packs zero-centred weights as i8 when they fit (weights with zero
// points 0, as TFLite's int8 ones), else i16 (they lie in [-255, 255]).
func narrow(shape []int, x []int32) *ir.Tensor {
	dt := ir.I8
	for _, e := range x {
		if e < -128 || e > 127 {
			dt = ir.I16
			break
		}
	}
	t := ir.NewTensor(dt, shape)
	for i, e := range x {
		t.SetInt(i, int64(e))
	}
	return t
}

// intBias returns a constant i32 bias of n entries (zeros without one).
func intBias(v *ir.Value, arg int, n int) ([]int32, bool) {
	b := make([]int32, n)
	if len(v.Args) <= arg {
		return b, true
	}
	t := constOf(v.Args[arg])
	if t == nil || t.DType != ir.I32 {
		return nil, false
	}
	for _, d := range t.Shape[:max(len(t.Shape)-1, 0)] {
		if d != 1 {
			return nil, false
		}
	}
	switch t.Len() {
	case n:
		copy(b, t.I32)
	case 1:
		for i := range b {
			b[i] = t.I32[0]
		}
	default:
		return nil, false
	}
	return b, true
}

func checkIntOperands(v *ir.Value, a, b ir.Type) error {
	if !is8(a.DType) || !is8(b.DType) || a.Quant == nil || b.Quant == nil || a.Quant.Axis >= 0 {
		return Unsupported(v, "integer %s of %v and %v (per-tensor i8/u8 input, quantized i8/u8 weights)", v.Op.Name, a, b)
	}
	return nil
}

// lowerIntConv lowers an integer conv with constant weights (packed
// zero-centred, i8 or i16) or runtime ones (KIntConvRuntime), and a
// constant bias.
func (l *lowerer) lowerIntConv(v *ir.Value) (*Step, *ir.Value, error) {
	x, w := v.Args[0].Type, v.Args[1].Type
	if err := checkIntOperands(v, x, w); err != nil {
		return nil, nil, err
	}
	if w.Quant.Axis > 0 {
		return nil, nil, Unsupported(v, "weight quantization along axis %d", w.Quant.Axis)
	}
	wt := constOf(v.Args[1])
	c, err := convOf(v)
	if err != nil {
		return nil, nil, err
	}
	bias, ok := intBias(v, 2, c.M)
	if !ok {
		return nil, nil, Unsupported(v, "integer conv bias must be a constant i32 vector")
	}
	c.Bias = true
	rq, params, err := l.intResult(v, w.Quant, c.M)
	if err != nil {
		return nil, nil, err
	}
	st := &Step{Kernel: KConvGemm, Op: "conv", Where: v.Where(), Conv: c, Rq: rq}
	var sparseW []int64
	if wt != nil {
		cw := centered(wt, w.Quant)
		wo := Operand{} // packed by sparseConv
		if x, nnz := i32Bits(cw); zeroPoints0(w.Quant) && l.wantSparse(st, v.Args[1], nnz, c.M, c.Cg*c.KH*c.KW, true) {
			sparseW = x
		} else {
			wo = l.packed(narrow(wt.Shape, cw))
		}
		st.In = []Operand{l.operand(v.Args[0]), wo}
	} else {
		// Runtime weights: their zero points (per output channel) are
		// subtracted in the kernel.
		st.Kernel, rq.BRuntime = KIntConvRuntime, true
		rq.ZB = int32(w.Quant.ZeroPoint[0])
		st.In = []Operand{l.operand(v.Args[0]), l.operand(v.Args[1])}
	}
	st.In = append(st.In, l.packed(i32Tensor([]int{c.M}, bias)))
	st.In = append(st.In, params...)
	if st.Kernel == KIntConvRuntime {
		zb := make([]int32, c.M)
		for m := range zb {
			zb[m] = int32(w.Quant.ZeroAt(m))
		}
		st.In = append(st.In, l.packed(i32Tensor([]int{c.M}, zb)))
	}
	if sparseW != nil {
		l.sparseConv(st, sparseW, false)
		return st, v, nil
	}
	P := c.OH * c.OW
	n := int64(P) // the accumulator row
	switch {
	case st.Kernel == KIntConvRuntime:
		if !c.Pointwise {
			n += int64(c.Cg*c.KH*c.KW) * int64(P)
		}
	case c.Cg == 1:
		st.Kernel = KConvDepthwise
	case !c.Pointwise:
		n += int64(c.Cg*c.KH*c.KW) * int64(P)
	}
	if n*4 > maxScratch {
		return nil, nil, Unsupported(v, "integer conv scratch of %d bytes", n*4)
	}
	b := l.newBuffer(n * 4)
	b.first, b.last = l.cur(), l.cur()
	st.Scratch = &Operand{DType: ir.I32, Shape: []int{int(n)}, buf: b}
	return st, v, nil
}

// lowerIntGemm lowers integer gemm and matmul: A per-tensor quantized, B
// constant (packed zero-centred [K, N]) or a runtime per-tensor one.
func (l *lowerer) lowerIntGemm(v *ir.Value) (*Step, *ir.Value, error) {
	a, b := v.Args[0], v.Args[1]
	if err := checkIntOperands(v, a.Type, b.Type); err != nil {
		return nil, nil, err
	}
	gm := &Gemm{Alpha: 1, Bias: true}
	st := &Step{Kernel: KGemm, Op: v.Op.Name, Where: v.Where(), Gemm: gm}
	nAxis := len(b.Type.Shape) - 1
	if v.Op.Name == "gemm" {
		if v.Float("alpha") != 1 || (len(v.Args) == 3 && v.Float("beta") != 1) {
			return nil, nil, Unsupported(v, "integer gemm with alpha or beta other than 1")
		}
		gm.TransA, gm.TransB = v.Int("trans_a") != 0, v.Int("trans_b") != 0
		gm.M, gm.K = a.Type.Shape[0], a.Type.Shape[1]
		if gm.TransA {
			gm.M, gm.K = gm.K, gm.M
		}
		gm.N = v.Type.Shape[1]
		gm.Batch = [][3]int{{0, 0, 0}}
		if gm.TransB {
			nAxis = 0
		}
	} else {
		as, bs := a.Type.Shape, b.Type.Shape
		if len(as) < 2 || len(bs) < 2 {
			return nil, nil, Unsupported(v, "integer matmul of 1-D operands")
		}
		gm.M, gm.K, gm.N = as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
		batch, err := ir.Broadcast(as[:len(as)-2], bs[:len(bs)-2])
		if err != nil {
			return nil, nil, err
		}
		gm.Batch = matmulBatch(as, bs, batch, gm.M, gm.N, gm.K)
	}
	qb := b.Type.Quant
	if qb.Axis >= 0 && qb.Axis != nAxis {
		return nil, nil, Unsupported(v, "b quantized along axis %d", qb.Axis)
	}
	bias, ok := intBias(v, 2, gm.N)
	if !ok {
		return nil, nil, Unsupported(v, "integer gemm C must be a constant i32 row")
	}
	rq, params, err := l.intResult(v, qb, gm.N)
	if err != nil {
		return nil, nil, err
	}
	st.Rq = rq
	st.In = []Operand{l.operand(a)}
	var sparseB []int64
	if bt := constOf(b); bt != nil {
		bc := centered(bt, qb)
		if gm.TransB {
			tt := make([]int32, len(bc))
			for i := 0; i < gm.N; i++ {
				for j := 0; j < gm.K; j++ {
					tt[j*gm.N+i] = bc[i*gm.K+j]
				}
			}
			bc, gm.TransB = tt, false
		}
		if x, nnz := i32Bits(transposeKN(bc, gm.K, gm.N)); zeroPoints0(qb) && sharedB(gm) && l.wantSparse(st, b, nnz, gm.N, gm.K, true) {
			sparseB = x
			st.In = append(st.In, Operand{}) // packed by sparseGemm
		} else {
			st.In = append(st.In, l.packed(narrow(bt.Shape, bc)))
		}
	} else {
		if qb.Axis >= 0 || gm.TransB {
			return nil, nil, Unsupported(v, "runtime B quantized per axis or transposed")
		}
		rq.ZB, rq.BRuntime = int32(qb.ZeroPoint[0]), true
		st.In = append(st.In, l.operand(b))
	}
	st.In = append(st.In, l.packed(i32Tensor([]int{gm.N}, bias)))
	st.In = append(st.In, params...)
	b0 := l.newBuffer(int64(gm.N) * 4)
	b0.first, b0.last = l.cur(), l.cur()
	st.Scratch = &Operand{DType: ir.I32, Shape: []int{gm.N}, buf: b0}
	if sparseB != nil {
		l.sparseGemm(st, sparseB, false)
	}
	return st, v, nil
}
