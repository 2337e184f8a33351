package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Quantized ops. ONNX passes scales and zero points as tensors; pare puts
// them in the integer operand's type (ir.Quant), so they must be constants.
// An integer graph input or op result read with some quantization gets it in
// its type; a constant read with several gets one copy per quantization.

// quantOf builds the quantization of an integer tensor of dtype dt and shape
// from the constant scale input si (si < 0: scale 1, for the Integer ops)
// and zero-point input zi (absent: 0). axis is the per-axis dimension when
// there are several scales; axis < 0 allows per-tensor parameters only.
func (c *nodeCtx) quantOf(si, zi int, dt ir.DType, shape []int, axis int, what string) (*ir.Quant, error) {
	zp, err := c.constIn(zi)
	if err != nil {
		return nil, err
	}
	var scale *ir.Tensor
	if si >= 0 {
		if scale, err = c.constIn(si); err != nil {
			return nil, err
		}
		if scale == nil {
			return nil, c.errf("the scale of %s is missing", what)
		}
		if scale.DType != ir.F32 {
			return nil, c.errf("the scale of %s is %v, want FLOAT", what, scale.DType)
		}
	}
	n := 1
	switch {
	case scale != nil:
		n = scale.Len()
		if zp != nil && zp.Len() != n {
			return nil, c.errf("%s has %d scales and %d zero points", what, n, zp.Len())
		}
	case zp != nil:
		n = zp.Len()
	}
	if n == 0 {
		return nil, c.errf("the scale and zero point of %s are empty", what)
	}
	for _, t := range []*ir.Tensor{scale, zp} {
		if t != nil && len(t.Shape) > 1 && n > 1 {
			return nil, c.unsupported("blocked quantization of %s (scale shape %v) is not supported; per-tensor and per-axis are", what, t.Shape)
		}
	}
	if zp != nil && zp.DType != dt {
		return nil, c.errf("the zero point of %s is %v, the tensor is %v", what, zp.DType, dt)
	}
	q := &ir.Quant{Axis: -1, Scale: make([]float32, n), ZeroPoint: make([]int64, n)}
	for i := 0; i < n; i++ {
		q.Scale[i] = 1
		if scale != nil {
			q.Scale[i] = scale.F32[i]
		}
		if zp != nil {
			q.ZeroPoint[i] = zp.IntAt(i)
		}
		if s := q.Scale[i]; !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, c.errf("the scale of %s, %v, must be positive and finite", what, s)
		}
	}
	if n > 1 && axis < 0 && uniform(q) {
		// e.g. a per-row zero point of MatMulInteger that is the same for every row
		q.Scale, q.ZeroPoint = q.Scale[:1], q.ZeroPoint[:1]
		n = 1
	}
	if n > 1 {
		if axis < 0 {
			return nil, c.unsupported("per-axis quantization of %s is not supported (it must be per tensor)", what)
		}
		if axis >= len(shape) || shape[axis] != n {
			return nil, c.errf("%d scales for %s do not match dim %d of %v", n, what, axis, shape)
		}
		q.Axis = axis
	}
	return q, nil
}

// uniform reports whether all channels of q have the same parameters.
func uniform(q *ir.Quant) bool {
	for i := range q.Scale {
		if q.Scale[i] != q.Scale[0] || q.ZeroPoint[i] != q.ZeroPoint[0] {
			return false
		}
	}
	return true
}

// checkQuant validates quantization parameters for a type.
func checkQuant(q *ir.Quant, t ir.Type) error {
	if !t.DType.IsInt() {
		return fmt.Errorf("quantization on %v", t.DType)
	}
	if q.Axis >= 0 && (q.Axis >= t.Rank() || t.Shape[q.Axis] != len(q.Scale)) {
		return fmt.Errorf("%d scales along axis %d of %v", len(q.Scale), q.Axis, t.Shape)
	}
	lo, hi := t.DType.Range()
	for _, z := range q.ZeroPoint {
		if z < lo || z > hi {
			return fmt.Errorf("zero point %d out of range for %v", z, t.DType)
		}
	}
	return nil
}

// withQuant returns v read with quantization q: v itself (its type gets q
// if it has none yet), or for a constant a copy with q.
func (c *nodeCtx) withQuant(v *ir.Value, q *ir.Quant, what string) (*ir.Value, error) {
	if v.Type.Quant.Equal(q) {
		return v, nil
	}
	if err := checkQuant(q, v.Type); err != nil {
		return nil, c.errf("%s: %v", what, err)
	}
	if v.IsConst() {
		for _, qc := range c.im.qconsts[v] {
			if qc.Type.Quant.Equal(q) {
				return qc, nil
			}
		}
		qc := c.im.g.AddConst(v.Name, v.Const, q)
		qc.Source = v.Source
		c.im.qconsts[v] = append(c.im.qconsts[v], qc)
		return qc, nil
	}
	if v.Type.Quant != nil {
		return nil, c.errf("%s (%%%s) is quantized as %v and read here as %v; a value has one quantization", what, v.Name, v.Type.Quant, q)
	}
	if c.im.uses[v] > 0 {
		return nil, c.errf("%s (%%%s) is used without quantization before this node reads it as %v", what, v.Name, q)
	}
	if v.IsParam() {
		v.Type.Quant = q
		return v, nil
	}
	old := v.Type
	v.Type.Quant = q
	if t, err := v.Op.Infer(v); err != nil || !t.Equal(v.Type) {
		v.Type = old
		return nil, c.errf("%s is computed by %s, whose result cannot take quantization %v", what, v.Where(), q)
	}
	return v, nil
}

// quantDType is the integer dtype of a quantized result: the zero point's,
// else output_dtype (opset 21+), else u8.
func (c *nodeCtx) quantDType(zi int) (ir.DType, error) {
	if zp := c.in(zi); zp != nil {
		return zp.Type.DType, nil
	}
	if od := c.int("output_dtype", 0); od != 0 {
		dt, err := irDType(int32(min(od, 1<<20)))
		if err != nil {
			return 0, c.unsupported("output_dtype: %s", err.(*UnsupportedError).Reason)
		}
		return dt, nil
	}
	return ir.U8, nil
}

// quantAxis is the axis attribute (default 1) of Quantize/DequantizeLinear,
// normalized for rank r; it only matters for per-axis parameters, and an
// out-of-range axis makes them a mismatch error.
func (c *nodeCtx) quantAxis(r int) int {
	a := c.int("axis", 1)
	if a < 0 {
		a += r
	}
	if a < 0 {
		a = r
	}
	return a
}

func (c *nodeCtx) noBlocks() error {
	if c.int("block_size", 0) != 0 {
		return c.unsupported("blocked quantization (block_size=%d) is not supported; per-tensor and per-axis are", c.int("block_size", 0))
	}
	return nil
}

func convQuantize(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if err := c.noBlocks(); err != nil {
		return err
	}
	if p := c.int("precision", 0); p != 0 && p != int(dtFloat) {
		return c.unsupported("precision %d is not supported (FLOAT is)", p)
	}
	dt, err := c.quantDType(2)
	if err != nil {
		return err
	}
	if dt != ir.I8 && dt != ir.U8 && dt != ir.I16 {
		return c.unsupported("quantization to %v is not supported (INT8, UINT8 and INT16 are)", dt)
	}
	q, err := c.quantOf(1, 2, dt, x.Type.Shape, c.quantAxis(x.Type.Rank()), "the result")
	if err != nil {
		return err
	}
	return c.out("quantize", []*ir.Value{x}, nil, ir.Type{DType: dt, Quant: q})
}

func convDequantize(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if err := c.noBlocks(); err != nil {
		return err
	}
	if od := c.int("output_dtype", 0); od != 0 && od != int(dtFloat) {
		return c.unsupported("output_dtype %d is not supported (FLOAT is)", od)
	}
	if !x.Type.DType.IsInt() || x.Type.DType == ir.I64 {
		return c.errf("input %v is not an 8-, 16- or 32-bit integer tensor", x.Type)
	}
	q, err := c.quantOf(1, 2, x.Type.DType, x.Type.Shape, c.quantAxis(x.Type.Rank()), "input "+c.inName(0))
	if err != nil {
		return err
	}
	if x, err = c.withQuant(x, q, "input "+c.inName(0)); err != nil {
		return err
	}
	return c.out("dequantize", []*ir.Value{x}, nil, ir.Type{})
}

// quantOperand gives input xi the quantization of scale si and zero point zi.
func (c *nodeCtx) quantOperand(xi, si, zi, axis int) (*ir.Value, error) {
	x, err := c.need(xi)
	if err != nil {
		return nil, err
	}
	what := "input " + c.inName(xi)
	q, err := c.quantOf(si, zi, x.Type.DType, x.Type.Shape, axis, what)
	if err != nil {
		return nil, err
	}
	return c.withQuant(x, q, what)
}

// quantResult is the declared type of a QLinear op's result.
func (c *nodeCtx) quantResult(si, zi int) (ir.Type, error) {
	dt, err := c.quantDType(zi)
	if err != nil {
		return ir.Type{}, err
	}
	q, err := c.quantOf(si, zi, dt, nil, -1, "the result")
	if err != nil {
		return ir.Type{}, err
	}
	return ir.Type{DType: dt, Quant: q}, nil
}

func convQLinearConv(c *nodeCtx) error {
	if _, _, _, err := c.convArgs(0, 3, 8); err != nil {
		return err
	}
	x, err := c.quantOperand(0, 1, 2, -1)
	if err != nil {
		return err
	}
	w, err := c.quantOperand(3, 4, 5, 0)
	if err != nil {
		return err
	}
	t, err := c.quantResult(6, 7)
	if err != nil {
		return err
	}
	return c.conv(x, w, c.in(8), t)
}

func convQLinearMatMul(c *nodeCtx) error {
	b, err := c.need(3)
	if err != nil {
		return err
	}
	a, err := c.quantOperand(0, 1, 2, -1)
	if err != nil {
		return err
	}
	if b, err = c.quantOperand(3, 4, 5, b.Type.Rank()-1); err != nil {
		return err
	}
	t, err := c.quantResult(6, 7)
	if err != nil {
		return err
	}
	return c.out("matmul", []*ir.Value{a, b}, nil, t)
}

func convConvInteger(c *nodeCtx) error {
	if zx := c.runtimeZP(2); zx != nil {
		return c.convIntegerRuntimeZP(zx)
	}
	if _, _, _, err := c.convArgs(0, 1, 4); err != nil {
		return err
	}
	x, err := c.quantOperand(0, -1, 2, -1)
	if err != nil {
		return err
	}
	w, err := c.quantOperand(1, -1, 3, 0)
	if err != nil {
		return err
	}
	return c.conv(x, w, nil, ir.Type{DType: ir.I32})
}

func convMatMulInteger(c *nodeCtx) error {
	if za := c.runtimeZP(2); za != nil {
		return c.matMulIntegerRuntimeZP(za)
	}
	b, err := c.need(1)
	if err != nil {
		return err
	}
	a, err := c.quantOperand(0, -1, 2, -1)
	if err != nil {
		return err
	}
	if b, err = c.quantOperand(1, -1, 3, b.Type.Rank()-1); err != nil {
		return err
	}
	return c.out("matmul", []*ir.Value{a, b}, nil, ir.Type{DType: ir.I32})
}
