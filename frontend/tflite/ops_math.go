package tflite

import (
	"fmt"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Float math: unary functions, binary ops built from IR ops, and the
// quantized MAXIMUM / MINIMUM (a comparison of stored integers when every
// tensor shares one quantization, as TFLite's kernel requires).

func convLeakyRelu(o *opctx) error {
	x, nchw, err := o.elementwiseIn(0)
	if err != nil {
		return err
	}
	v, err := o.add("leaky_relu", []*ir.Value{x}, ir.Attrs{"alpha": ir.Float(o.op.opt.alpha)}, ir.Type{})
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

// sameQuantOnly wraps the converter of MAXIMUM / MINIMUM: quantized inputs
// and output must share one per-tensor quantization (TFLite's kernel then
// compares stored integers, and so does rt).
func sameQuantOnly(fn func(o *opctx) error) func(o *opctx) error {
	return func(o *opctx) error {
		if !o.quantizedIO() {
			return fn(o)
		}
		want, err := o.outType()
		if err != nil {
			return err
		}
		for k := 0; k < 2; k++ {
			t, err := o.im.tensor(o.in(k))
			if err != nil {
				return err
			}
			typ, err := o.im.irType(t)
			if err != nil {
				return err
			}
			if want.Quant == nil || want.Quant.Axis >= 0 || !typ.Quant.Equal(want.Quant) {
				return fmt.Errorf("unsupported: quantized %s with input %d %v and output %v (only one shared per-tensor quantization)", o.code.name(), k, typ, want)
			}
		}
		return fn(o)
	}
}

func convSum(o *opctx) error { return o.reduce("reduce_sum") }

// convReduceMax imports REDUCE_MAX: reduce_max on floats; on quantized
// tensors (whose IR reduce_max would drop the parameters) the spatial
// maximum TFLite models use, a maxpool over the whole image (a comparison
// of stored integers, as TFLite's kernel does).
func convReduceMax(o *opctx) error {
	if !o.quantizedIO() {
		return o.reduce("reduce_max")
	}
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	_, axes, err := o.constAxes()
	if err != nil {
		return err
	}
	if len(shape) != 4 || !slices.Equal(axes, []int{1, 2}) {
		return fmt.Errorf("unsupported: quantized REDUCE_MAX over axes %v of %v (only axes [1 2] of a 4-D tensor)", axes, shape)
	}
	x, err := o.im.getNCHW(xi)
	if err != nil {
		return err
	}
	v, err := o.add("maxpool", []*ir.Value{x}, ir.Attrs{"kernel": ir.Ints(shape[1], shape[2])}, ir.Type{})
	if err != nil {
		return err
	}
	if o.op.opt.keepDims {
		return o.setMoved(0, v, true)
	}
	return o.setNHWC(0, v)
}

// convArgMax imports ARG_MAX, and ARG_MIN of float tensors (min: the
// argmax of −x, exact): the axis a constant, the axis reduced away, the
// output tensor's type (i32 or i64) the result's; TFLite returns the first
// index of the extreme, so do the IR's argmax and this. Quantized inputs
// compare their stored integers (the scale is positive).
func convArgMax(min bool) func(o *opctx) error {
	return func(o *opctx) error {
		_, axes, err := o.constAxes()
		if err != nil {
			return err
		}
		if len(axes) != 1 {
			return fmt.Errorf("axis has %d elements, want 1", len(axes))
		}
		x, err := o.im.get(o.in(0))
		if err != nil {
			return err
		}
		if min {
			if x.Type.DType != ir.F32 {
				return fmt.Errorf("unsupported: ARG_MIN of %v (float tensors only)", x.Type)
			}
			if x, err = o.add("neg", []*ir.Value{x}, nil, ir.Type{}); err != nil {
				return err
			}
		}
		want, err := o.outType()
		if err != nil {
			return err
		}
		v, err := o.add("argmax", []*ir.Value{x}, ir.Attrs{"axis": ir.Int(axes[0]), "keepdims": ir.Int(0)}, ir.Type{DType: want.DType})
		if err != nil {
			return err
		}
		return o.set(v, false)
	}
}
