package tflite

import (
	"fmt"
	"slices"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// nchwPos is where NHWC dim a sits in NCHW order.
var nchwPos = []int{0, 2, 3, 1}

// normAxes normalizes (negative) axes against rank r, sorted, without repeats.
func normAxes(axes []int, r int) ([]int, error) {
	var out []int
	for _, a := range axes {
		if a < -r || a >= r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", a, r)
		}
		if a < 0 {
			a += r
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out, nil
}

func convMean(o *opctx) error { return o.reduce("reduce_mean") }

// reduce imports MEAN, SUM and REDUCE_MAX over constant axes (input 1).
// constAxes is input 0's tensor and the constant axes of input 1,
// normalized against its rank.
func (o *opctx) constAxes() (*tensor, []int, error) {
	xt, err := o.im.tensor(o.in(0))
	if err != nil {
		return nil, nil, err
	}
	raw, _, err := o.constInts(1)
	if err != nil {
		return nil, nil, err
	}
	axes, err := normAxes(raw, len(xt.shape))
	return xt, axes, err
}

func (o *opctx) reduce(op string) error {
	xi := o.in(0)
	xt, axes, err := o.constAxes()
	if err != nil {
		return err
	}
	keep := o.op.opt.keepDims
	if op == "reduce_mean" && o.quantized() && keep && len(xt.shape) == 4 && len(axes) == 2 && !slices.Equal(axes, []int{1, 2}) {
		// rt's rq=tflite reduce_mean takes every 2-axis keep_dims mean of a
		// 4-D tensor for TFLite's spatial one (axes 1 and 2).
		return fmt.Errorf("quantized MEAN over axes %v of a 4-D tensor with keep_dims is not supported (only axes [1 2])", axes)
	}
	var x *ir.Value
	nchw, outNCHW := false, false
	if o.im.isNCHW(xi) && len(xt.shape) == 4 {
		// Reducing in NCHW keeps the remaining dims in NHWC order unless
		// both C and a spatial dim remain.
		var rest []int
		for _, a := range []int{0, 3, 1, 2} {
			if !slices.Contains(axes, a) {
				rest = append(rest, a)
			}
		}
		nchw = keep || slices.IsSorted(rest)
		outNCHW = keep
	}
	if nchw {
		x, err = o.im.getNCHW(xi)
		for k, a := range axes {
			axes[k] = nchwPos[a]
		}
		slices.Sort(axes)
	} else {
		x, err = o.im.get(xi)
	}
	if err != nil {
		return err
	}
	keepdims := 0
	if keep {
		keepdims = 1
	}
	hint, err := o.hint()
	if err != nil {
		return err
	}
	v, err := o.add(op, []*ir.Value{x}, ir.Attrs{"axes": ir.Ints(axes...), "keepdims": ir.Int(keepdims)}, hint)
	if err != nil {
		return err
	}
	if want, _ := o.outType(); !outNCHW && !ir.EqualShape(v.Type.Shape, want.Shape) && v.Type.NumElements() == want.NumElements() {
		// TFLite allows a MEAN without keep_dims to declare size-1 dims.
		if v, err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: want.Shape}); err != nil {
			return err
		}
	}
	return o.set(v, outNCHW)
}

// convReshape imports RESHAPE, SQUEEZE and EXPAND_DIMS: the output tensor's
// shape says it all (checked against the element count).
func convReshape(o *opctx) error {
	x, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	v, err := o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: want.Shape})
	if err != nil {
		return err
	}
	return o.set(v, false)
}

func convConcat(o *opctx) error {
	ins := o.op.inputs
	want, err := o.outType()
	if err != nil {
		return err
	}
	r := want.Rank()
	axis := int(o.op.opt.axis)
	if axis < -r || axis >= r {
		return fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	nchw := o.layoutOf(ins)
	if nchw {
		axis = nchwPos[axis]
	}
	xs, err := o.inputs(ins, nchw)
	if err != nil {
		return err
	}
	hint := ir.Type{DType: want.DType, Quant: want.Quant}
	if err := o.requantizeAll(xs, want); err != nil {
		return err
	}
	v, err := o.add("concat", xs, ir.Attrs{"axis": ir.Int(axis)}, hint)
	if err != nil {
		return err
	}
	if v, err = o.activate(v, o.op.opt.act); err != nil {
		return err
	}
	return o.set(v, nchw)
}

func convSoftmax(o *opctx) error {
	x, nchw, err := o.elementwiseIn(0)
	if err != nil {
		return err
	}
	axis := x.Type.Rank() - 1
	if nchw {
		axis = 1
	}
	beta := o.op.opt.beta
	hint, err := o.hint()
	if err != nil {
		return err
	}
	if beta != 1 {
		if hint.Quant != nil {
			return fmt.Errorf("quantized softmax with beta %v is not supported (only beta 1)", beta)
		}
		b := o.im.addConst(o.out.name, ".beta", ir.ScalarF32(beta), nil)
		if x, err = o.add("mul", []*ir.Value{x, b}, nil, ir.Type{}); err != nil {
			return err
		}
	}
	v, err := o.add("softmax", []*ir.Value{x}, ir.Attrs{"axis": ir.Int(axis)}, hint)
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

// convUnary imports an elementwise op that keeps whatever layout its input
// has, as a chain of IR unary ops (RSQRT is sqrt then reciprocal); the last
// one gets the output's dtype and quantization.
func convUnary(ops ...string) func(o *opctx) error {
	return func(o *opctx) error {
		x, nchw, err := o.elementwiseIn(0)
		if err != nil {
			return err
		}
		hint, err := o.hint()
		if err != nil {
			return err
		}
		for k, op := range ops {
			h := ir.Type{}
			if k == len(ops)-1 {
				h = hint
			}
			if x, err = o.add(op, []*ir.Value{x}, nil, h); err != nil {
				return err
			}
		}
		return o.set(x, nchw)
	}
}

// convRelu imports RELU, RELU6 and RELU_N1_TO_1 as the fused activation of
// the same name, after a requantization when the output's parameters differ.
func convRelu(act fb.ActivationFunctionType) func(o *opctx) error {
	return func(o *opctx) error {
		x, nchw, err := o.elementwiseIn(0)
		if err != nil {
			return err
		}
		hint, err := o.hint()
		if err != nil {
			return err
		}
		if hint.Quant != nil && !x.Type.Quant.Equal(hint.Quant) {
			if x, err = o.add("requantize", []*ir.Value{x}, nil, hint); err != nil {
				return err
			}
		}
		v, err := o.activate(x, act)
		if err != nil {
			return err
		}
		return o.set(v, nchw)
	}
}

func convQuantize(o *opctx) error {
	x, nchw, err := o.elementwiseIn(0)
	if err != nil {
		return err
	}
	hint, err := o.hint()
	if err != nil {
		return err
	}
	op := "quantize"
	if x.Type.Quant != nil {
		op = "requantize"
	}
	v, err := o.add(op, []*ir.Value{x}, nil, hint)
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

// convDequantize imports DEQUANTIZE: of a quantized tensor, or, folded
// into an f32 constant that later ops read as weights, of a constant
// FLOAT16 tensor (the TF converter's float16 weights) or quantized one
// (weight-only quantization: (q - zero point)·scale in float32, as TFLite).
func convDequantize(o *opctx) error {
	if t, err := o.im.tensor(o.in(0)); err == nil && t.typ == fb.TensorTypeFLOAT16 {
		if v := o.im.vals[o.in(0)].plain; v != nil && v.IsConst() { // a DENSIFY of FLOAT16 (sparse.go)
			return o.set(v, false)
		}
		return o.float16Const(t)
	}
	if c, q, err := o.im.constTensor(o.in(0)); err == nil && c != nil && q != nil {
		return o.set(o.im.addConst(o.out.name, "", dequantizeConst(c, q), nil), false)
	}
	x, nchw, err := o.elementwiseIn(0)
	if err != nil {
		return err
	}
	v, err := o.add("dequantize", []*ir.Value{x}, nil, ir.Type{})
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

func convCast(o *opctx) error {
	x, nchw, err := o.elementwiseIn(0)
	if err != nil {
		return err
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	v, err := o.add("cast", []*ir.Value{x}, nil, ir.Type{DType: want.DType})
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

// float16Const sets output 0 to the f32 value of constant FLOAT16 tensor t.
func (o *opctx) float16Const(t *tensor) error {
	shape, err := shapeOf(t)
	if err != nil {
		return err
	}
	if t.buffer == 0 || int(t.buffer) >= len(o.im.m.buffers) || len(o.im.m.buffers[t.buffer]) == 0 {
		return fmt.Errorf("FLOAT16 input %q must be a constant", t.name)
	}
	if t.sparse != nil {
		f, err := o.im.sparseHalf(t, shape)
		if err != nil {
			return err
		}
		return o.set(o.im.addConst(o.out.name, "", f, nil), false)
	}
	b := o.im.m.buffers[t.buffer]
	n := ir.NumElements(shape)
	if len(b) != 2*n {
		return fmt.Errorf("FLOAT16 tensor %q %v holds %d bytes, want %d", t.name, shape, len(b), 2*n)
	}
	f := ir.NewTensor(ir.F32, shape)
	for i := range f.F32 {
		f.F32[i] = ir.HalfToFloat(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return o.set(o.im.addConst(o.out.name, "", f, nil), false)
}

// dequantizeConst is (q - zero point)·scale per element, per channel
// along q.Axis.
func dequantizeConst(c *ir.Tensor, q *ir.Quant) *ir.Tensor {
	f := ir.NewTensor(ir.F32, c.Shape)
	stride, n := 1, 1
	if q.Axis >= 0 {
		stride, n = ir.Strides(c.Shape)[q.Axis], c.Shape[q.Axis]
	}
	for i := range f.F32 {
		ch := (i / stride) % n
		f.F32[i] = q.ScaleAt(ch) * float32(c.IntAt(i)-q.ZeroAt(ch))
	}
	return f
}
