package ir

import (
	"fmt"
	"math"
)

// Type rules of the layers (conv, conv_transpose, pools, matmul, gemm),
// their requantization and fused-activation attributes.

// integerOperands checks the operand rules shared by conv and matmul when
// their inputs are integers: both quantized (zero points come from the
// types), and a result either i32 (the Integer forms) or quantized i8/u8
// (the QLinear forms, requantized with scale_x*scale_w/scale_y).
func integerResult(v *Value, x, w Type, shape []int) (Type, error) {
	if x.DType != I8 && x.DType != U8 || w.DType != I8 && w.DType != U8 {
		return Type{}, fmt.Errorf("integer form takes i8/u8 operands, got %v and %v", x.DType, w.DType)
	}
	if x.Quant == nil || w.Quant == nil {
		return Type{}, fmt.Errorf("integer form needs quantized operand types (%v, %v)", x, w)
	}
	if x.Quant.Axis >= 0 {
		return Type{}, fmt.Errorf("input quantization must be per tensor, got %v", x.Quant)
	}
	d := v.Type
	switch {
	case d.DType == I32 && d.Quant == nil:
		return Type{DType: I32, Shape: shape}, nil
	case (d.DType == I8 || d.DType == U8) && d.Quant != nil && d.Quant.Axis < 0:
		return Type{DType: d.DType, Shape: shape, Quant: d.Quant}, nil
	}
	return Type{}, fmt.Errorf("integer form result must be i32 or per-tensor quantized i8/u8, declared %v", d)
}

func convInfer(v *Value) (Type, error) {
	x, w := arg(v, 0), arg(v, 1)
	if x.Rank() < 3 || w.Rank() != x.Rank() {
		return Type{}, fmt.Errorf("input %v and weight %v must have the same rank >= 3", x, w)
	}
	nsp := x.Rank() - 2
	g := v.Int("group")
	if g < 1 || x.Shape[1]%g != 0 || w.Shape[0]%g != 0 {
		return Type{}, fmt.Errorf("group %d does not divide input channels %d and filters %d", g, x.Shape[1], w.Shape[0])
	}
	if w.Shape[1]*g != x.Shape[1] {
		return Type{}, fmt.Errorf("weight %v takes %d input channels per group, input has %d channels in %d groups", w.Shape, w.Shape[1], x.Shape[1], g)
	}
	win, err := WindowOf(v, nsp, w.Shape[2:])
	if err != nil {
		return Type{}, err
	}
	shape := []int{x.Shape[0], w.Shape[0]}
	for i := 0; i < nsp; i++ {
		shape = append(shape, PoolOutDim(x.Shape[2+i], win.Kernel[i], win.Strides[i], win.Dilations[i], win.PadsBegin[i], win.PadsEnd[i], false))
	}
	if len(v.Args) == 3 {
		b := arg(v, 2)
		if b.Rank() != 1 || b.Shape[0] != w.Shape[0] {
			return Type{}, fmt.Errorf("bias %v must be [%d]", b.Shape, w.Shape[0])
		}
	}
	if x.DType == F32 {
		if err := float32Only(v); err != nil {
			return Type{}, err
		}
		return Type{DType: F32, Shape: shape}, nil
	}
	if len(v.Args) == 3 && arg(v, 2).DType != I32 {
		return Type{}, fmt.Errorf("integer conv bias must be i32, got %v", arg(v, 2).DType)
	}
	return integerResult(v, x, w, shape)
}

func convTransposeInfer(v *Value) (Type, error) {
	if err := float32Only(v); err != nil {
		return Type{}, err
	}
	x, w := arg(v, 0), arg(v, 1)
	if x.Rank() < 3 || w.Rank() != x.Rank() {
		return Type{}, fmt.Errorf("input %v and weight %v must have the same rank >= 3", x, w)
	}
	nsp := x.Rank() - 2
	g := v.Int("group")
	if g < 1 || w.Shape[0] != x.Shape[1] || x.Shape[1]%g != 0 {
		return Type{}, fmt.Errorf("weight %v does not match input channels %d in %d groups", w.Shape, x.Shape[1], g)
	}
	win, err := WindowOf(v, nsp, w.Shape[2:])
	if err != nil {
		return Type{}, err
	}
	op := v.IntList("output_padding")
	if len(op) != 0 && len(op) != nsp {
		return Type{}, fmt.Errorf("output_padding %v needs %d entries", op, nsp)
	}
	shape := []int{x.Shape[0], w.Shape[1] * g}
	for i := 0; i < nsp; i++ {
		o := win.Strides[i]*(x.Shape[2+i]-1) + (win.Kernel[i]-1)*win.Dilations[i] + 1 - win.PadsBegin[i] - win.PadsEnd[i]
		if len(op) > 0 {
			o += op[i]
		}
		if o < 1 {
			return Type{}, fmt.Errorf("output size %d on spatial axis %d", o, i)
		}
		shape = append(shape, o)
	}
	if len(v.Args) == 3 && (arg(v, 2).Rank() != 1 || arg(v, 2).Shape[0] != shape[1]) {
		return Type{}, fmt.Errorf("bias %v must be [%d]", arg(v, 2).Shape, shape[1])
	}
	return Type{DType: F32, Shape: shape}, nil
}

func poolInfer(v *Value) (Type, error) {
	x := arg(v, 0)
	if x.Rank() < 3 {
		return Type{}, fmt.Errorf("input %v needs rank >= 3 (N, C, spatial...)", x)
	}
	if v.Op.Name == "avgpool" && x.DType != F32 && x.Quant == nil {
		return Type{}, fmt.Errorf("avgpool takes f32 or a quantized integer tensor, got %v", x)
	}
	nsp := x.Rank() - 2
	win, err := WindowOf(v, nsp, nil)
	if err != nil {
		return Type{}, err
	}
	shape := []int{x.Shape[0], x.Shape[1]}
	for i := 0; i < nsp; i++ {
		shape = append(shape, PoolOutDim(x.Shape[2+i], win.Kernel[i], win.Strides[i], win.Dilations[i], win.PadsBegin[i], win.PadsEnd[i], v.Int("ceil_mode") != 0))
	}
	if v.Op.Name == "maxpool_index" {
		return Type{DType: I64, Shape: shape}, nil
	}
	return Type{DType: x.DType, Shape: shape, Quant: declaredQuant(v, x.DType)}, nil
}

func matmulShape(a, b []int) ([]int, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("matmul of a scalar")
	}
	a1, b1 := len(a) == 1, len(b) == 1
	if a1 {
		a = []int{1, a[0]}
	}
	if b1 {
		b = []int{b[0], 1}
	}
	m, k, k2, n := a[len(a)-2], a[len(a)-1], b[len(b)-2], b[len(b)-1]
	if k != k2 {
		return nil, fmt.Errorf("inner dimensions differ: %v × %v", a, b)
	}
	batch, err := Broadcast(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	out := append(batch, m, n)
	if a1 {
		out = append(out[:len(out)-2], out[len(out)-1])
	}
	if b1 {
		out = out[:len(out)-1]
	}
	return out, nil
}

func matmulInfer(v *Value) (Type, error) {
	a, b := arg(v, 0), arg(v, 1)
	s, err := matmulShape(a.Shape, b.Shape)
	if err != nil {
		return Type{}, err
	}
	if a.DType == F32 {
		if err := float32Only(v); err != nil {
			return Type{}, err
		}
		return Type{DType: F32, Shape: s}, nil
	}
	return integerResult(v, a, b, s)
}

func gemmInfer(v *Value) (Type, error) {
	a, b := arg(v, 0), arg(v, 1)
	if a.Rank() != 2 || b.Rank() != 2 {
		return Type{}, fmt.Errorf("gemm takes 2-D operands, got %v and %v", a.Shape, b.Shape)
	}
	m, k := a.Shape[0], a.Shape[1]
	if v.Int("trans_a") != 0 {
		m, k = k, m
	}
	k2, n := b.Shape[0], b.Shape[1]
	if v.Int("trans_b") != 0 {
		k2, n = n, k2
	}
	if k != k2 {
		return Type{}, fmt.Errorf("inner dimensions differ: %v × %v", a.Shape, b.Shape)
	}
	if len(v.Args) == 3 {
		if s, err := Broadcast(arg(v, 2).Shape, []int{m, n}); err != nil || !EqualShape(s, []int{m, n}) {
			return Type{}, fmt.Errorf("c %v does not broadcast to [%d,%d]", arg(v, 2).Shape, m, n)
		}
	}
	if a.DType != F32 {
		if v.Float("alpha") != 1 || v.Float("beta") != 1 {
			return Type{}, fmt.Errorf("integer gemm needs alpha = beta = 1")
		}
		if len(v.Args) == 3 && arg(v, 2).DType != I32 {
			return Type{}, fmt.Errorf("integer gemm bias must be i32, got %v", arg(v, 2).DType)
		}
		return integerResult(v, a, b, []int{m, n})
	}
	if err := float32Only(v); err != nil {
		return Type{}, err
	}
	return Type{DType: F32, Shape: []int{m, n}}, nil
}

// rqAttr selects the requantization arithmetic of an op with a quantized
// integer result.
var rqAttr = AttrDef{Name: "rq", Kind: AttrString, Default: Str("float"),
	Doc: "requantization: float (ONNX: float32 multiply, round half to even) or tflite (TFLite reference fixed-point multiplier and shift)"}

// actAttrs are the fused-activation attributes of conv, matmul, gemm and add
// (set by the fuse pass). On an f32 result the activation clamps the value;
// on a quantized integer result relu is max(q, zero point) and clip's bounds
// apply to the stored integers, exactly as the unfused relu / clip ops do.
var actAttrs = []AttrDef{
	{Name: "act", Kind: AttrString, Default: Str("none"), Doc: "fused activation: none, relu, or clip (act_min, act_max)"},
	{Name: "act_min", Kind: AttrFloat, Default: Float(float32(math.Inf(-1))), Doc: "lower bound of act=clip"},
	{Name: "act_max", Kind: AttrFloat, Default: Float(float32(math.Inf(1))), Doc: "upper bound of act=clip"},
}

// withAct adds the fused-activation attributes to an op and checks them.
func withAct(d *OpDef) *OpDef {
	d.Attrs = append(append([]AttrDef{}, d.Attrs...), actAttrs...)
	infer := d.Infer
	d.Infer = func(v *Value) (Type, error) {
		switch a := v.Str("act"); a {
		case "none", "relu", "clip":
		default:
			return Type{}, fmt.Errorf("act %q (supported: none, relu, clip)", a)
		}
		t, err := infer(v)
		if err == nil && v.Str("act") != "none" && t.Quant != nil && t.Quant.Axis >= 0 {
			return Type{}, fmt.Errorf("fused act on a per-axis quantized result")
		}
		return t, err
	}
	return d
}
