package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Straight-through gradients of quantize and dequantize, so that a
// quantize → dequantize pair in a float graph is a fake-quant node for
// quantization-aware training: the gradient passes through where x lies
// inside the quantized range and is zero where quantize saturates.
// The gradient of an integer value is an f32 tensor in real units per
// stored step: dequantize multiplies by the scale, quantize divides by it.

func init() {
	RegisterGrad("quantize", gradQuantize)
	RegisterGrad("dequantize", gradDequantize)
}

// quantChannels maps element i of a tensor of shape to its quantization channel.
func quantChannels(q *ir.Quant, shape []int) func(i int) int {
	if q.Axis < 0 {
		return func(int) int { return 0 }
	}
	inner := ir.NumElements(shape[q.Axis+1:])
	dim := shape[q.Axis]
	return func(i int) int { return (i / inner) % dim }
}

func gradQuantize(v *ir.Value) (VJP, error) {
	if v.Args[0].Type.DType != ir.F32 {
		return nil, fmt.Errorf("gradient of quantize from %v (only f32)", v.Args[0].Type.DType)
	}
	q := v.Type.Quant
	lo, hi := v.Type.DType.Range()
	ch := quantChannels(q, v.Type.Shape)
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx := ir.NewTensor(ir.F32, args[0].Shape)
		x := args[0].F32
		for i, g := range dy.F32 {
			c := ch(i)
			s, z := q.ScaleAt(c), float32(q.ZeroAt(c))
			if x[i] < (float32(lo)-z)*s || x[i] > (float32(hi)-z)*s {
				continue
			}
			dx.F32[i] = g / s
		}
		return []*ir.Tensor{dx}, nil
	}, nil
}

func gradDequantize(v *ir.Value) (VJP, error) {
	q := v.Args[0].Type.Quant
	ch := quantChannels(q, v.Args[0].Type.Shape)
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx := ir.NewTensor(ir.F32, args[0].Shape)
		for i, g := range dy.F32 {
			dx.F32[i] = g * q.ScaleAt(ch(i))
		}
		return []*ir.Tensor{dx}, nil
	}, nil
}
