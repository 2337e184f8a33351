// Package codegentest holds the test graphs every backend runs against rt:
// one table of integer cases (quantize, requantize, integer conv / gemm /
// matmul in both requantization forms, TFLite pooling and softmax, plain
// integer arithmetic ...), so that the LLVM and Go backends check the same
// things.
package codegentest

import (
	"fmt"
	"math/rand"

	"github.com/pare-ml/pare/ir"
)

func QT(dt ir.DType, scale float32, zp int64, shape ...int) ir.Type {
	return ir.Type{DType: dt, Shape: shape, Quant: &ir.Quant{Axis: -1, Scale: []float32{scale}, ZeroPoint: []int64{zp}}}
}

func QAxis(axis int, scales []float32, zps []int64) *ir.Quant {
	return &ir.Quant{Axis: axis, Scale: scales, ZeroPoint: zps}
}

// randInt fills a tensor of an integer dtype with values in its range.
func RandInt(r *rand.Rand, t ir.Type) *ir.Tensor {
	x := ir.NewTensor(t.DType, t.Shape)
	lo, hi := t.DType.Range()
	switch t.DType {
	case ir.I32:
		lo, hi = -1000, 1000
	case ir.I64: // beyond 32 bits, within what Int63n draws
		lo, hi = -1<<61, 1<<61
	}
	for i := 0; i < x.Len(); i++ {
		x.SetInt(i, lo+r.Int63n(hi-lo+1))
	}
	return x
}

// IntCase adds one integer case to g: Build calls add for each input it
// needs (a graph parameter whose test value IntOpsGraph draws) and returns
// the result value.
type IntCase struct {
	Name  string
	Build func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error)
}

func ConstQ(g *ir.Graph, r *rand.Rand, t ir.Type) *ir.Value {
	return g.AddConst("w", RandInt(r, t), t.Quant)
}

func I32Const(g *ir.Graph, r *rand.Rand, n int) *ir.Value {
	return g.AddConst("b", RandInt(r, ir.Type{DType: ir.I32, Shape: []int{n}}), nil)
}

// IntConvCase is a quantized conv of x by constant weights w (per channel or not).
func IntConvCase(name string, dt ir.DType, x, w []int, attrs ir.Attrs, perChannel bool) IntCase {
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		zx := int64(-3)
		if dt == ir.U8 {
			zx = 120
		}
		xv := add(QT(dt, 0.05, zx, x...))
		wt := QT(dt, 0.02, 0, w...)
		if dt == ir.U8 {
			wt.Quant.ZeroPoint[0] = 131
		}
		if perChannel {
			s, z := make([]float32, w[0]), make([]int64, w[0])
			for i := range s {
				s[i] = 0.01 + 0.003*float32(i)
			}
			wt.Quant = QAxis(0, s, z)
		}
		hint := QT(dt, 0.4, 5, nil...)
		return g.Add("conv", []*ir.Value{xv, ConstQ(g, r, wt), I32Const(g, r, w[0])}, attrs, hint, name, name)
	}}
}

// lutCase looks x (of dtype dt) up in a random table of type y.
func lutCase(name string, dt ir.DType, y ir.Type) IntCase {
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(dt, 0.05, 0, 3, 7, 13))
		var tb *ir.Tensor
		if y.DType == ir.F32 {
			tb = RandTensor(r, 256)
		} else {
			tb = RandInt(r, ir.Type{DType: y.DType, Shape: []int{256}})
		}
		return g.Add("lut", []*ir.Value{x, g.AddConst("table", tb, y.Quant)}, nil, ir.Type{}, name, name)
	}}
}

// qunaryCase is a quantized unary op (compiled as a table of its 256 results).
func qunaryCase(name, op, rq string, x, y ir.Type) IntCase {
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		attrs := ir.Attrs{}
		if rq != "" {
			attrs["rq"] = ir.Str(rq)
		}
		return g.Add(op, []*ir.Value{add(x)}, attrs, y, name, name)
	}}
}

func qbinCase(name, op string, attrs ir.Attrs, a, b ir.Type, y ir.Type) IntCase {
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add(op, []*ir.Value{add(a), add(b)}, attrs, y, name, name)
	}}
}

var IntCases = []IntCase{
	lutCase("lut_i8", ir.I8, QT(ir.I8, 0.1, 3)), lutCase("lut_u8_i8", ir.U8, QT(ir.I8, 0.05, -7)),
	lutCase("lut_i8_f32", ir.I8, ir.TensorType(ir.F32)), lutCase("lut_u8", ir.U8, QT(ir.U8, 0.2, 128)),
	{"resize_nearest_i8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.I8, 0.05, -3, 1, 3, 4, 5))
		return g.Add("resize", []*ir.Value{x}, ir.Attrs{"coord": ir.Str("asymmetric"), "nearest_mode": ir.Str("floor")}, ir.Type{Shape: []int{1, 3, 8, 10}}, "rs", "rs")
	}},
	{"resize_nearest_u8_down", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.U8, 2, 2, 7, 9))
		return g.Add("resize", []*ir.Value{x}, nil, ir.Type{Shape: []int{2, 2, 3, 13}}, "rs", "rs")
	}},
	qbinCase("add_float", "add", nil, QT(ir.I8, 0.04, -3, 2, 3, 5), QT(ir.I8, 0.07, 10, 2, 3, 5), QT(ir.I8, 0.09, -5)),
	qbinCase("add_float_relu_bcast", "add", ir.Attrs{"act": ir.Str("relu")}, QT(ir.U8, 0.04, 128, 2, 3, 5), QT(ir.U8, 0.02, 3, 3, 1), QT(ir.U8, 0.05, 100)),
	qbinCase("sub_float", "sub", nil, QT(ir.I8, 0.04, -3, 2, 3, 5), QT(ir.I8, 0.07, 10, 5), QT(ir.I8, 0.1, 1)),
	qbinCase("mul_float", "mul", nil, QT(ir.U8, 0.04, 120, 2, 3, 5), QT(ir.U8, 0.07, 130, 1, 3, 1), QT(ir.U8, 0.2, 128)),
	qbinCase("add_tflite", "add", ir.Attrs{"rq": ir.Str("tflite")}, QT(ir.I8, 0.04, -3, 2, 3, 5), QT(ir.I8, 0.07, 10, 2, 3, 5), QT(ir.I8, 0.09, -5)),
	qbinCase("add_tflite_clip_bcast", "add", ir.Attrs{"rq": ir.Str("tflite"), "act": ir.Str("clip"), "act_min": ir.Float(-20), "act_max": ir.Float(40)}, QT(ir.I8, 0.03, 2, 1, 4, 3), QT(ir.I8, 0.05, -1, 4, 1), QT(ir.I8, 0.06, 0)),
	qbinCase("sub_tflite_u8", "sub", ir.Attrs{"rq": ir.Str("tflite")}, QT(ir.U8, 0.03, 128, 3, 4), QT(ir.U8, 0.01, 120, 3, 4), QT(ir.U8, 0.04, 128)),
	{"quantize", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.F32, 2, 3, 5))
		return g.Add("quantize", []*ir.Value{x}, nil, QT(ir.I8, 0.01, 3), "q", "q")
	}},
	{"quantize_tflite", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.F32, 2, 3, 5))
		return g.Add("quantize", []*ir.Value{x}, ir.Attrs{"rq": ir.Str("tflite")}, QT(ir.I8, 0.01, 3), "q", "q")
	}},
	{"quantize_axis", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.F32, 2, 3, 5))
		return g.Add("quantize", []*ir.Value{x}, nil, ir.Type{DType: ir.U8, Quant: QAxis(1, []float32{0.01, 0.02, 0.005}, []int64{128, 0, 7})}, "q", "q")
	}},
	{"dequantize", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("dequantize", []*ir.Value{add(QT(ir.I8, 0.03, -7, 4, 6))}, nil, ir.Type{}, "d", "d")
	}},
	{"requantize_float", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("requantize", []*ir.Value{add(QT(ir.I8, 0.03, -7, 4, 6))}, nil, QT(ir.U8, 0.05, 100), "r", "r")
	}},
	{"requantize_tflite", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("requantize", []*ir.Value{add(QT(ir.I8, 0.03, -7, 4, 6))}, ir.Attrs{"rq": ir.Str("tflite")}, QT(ir.I8, 0.011, 2), "r", "r")
	}},
	IntConvCase("conv_i8_tflite", ir.I8, []int{1, 3, 9, 8}, []int{5, 3, 3, 3}, ir.Attrs{"rq": ir.Str("tflite"), "pads": ir.Ints(1, 1, 1, 1), "strides": ir.Ints(2, 1)}, true),
	IntConvCase("conv_u8_tflite", ir.U8, []int{1, 3, 9, 8}, []int{4, 3, 3, 2}, ir.Attrs{"rq": ir.Str("tflite"), "pads": ir.Ints(0, 1, 1, 0)}, false),
	IntConvCase("conv_i8_float_relu", ir.I8, []int{2, 4, 6, 6}, []int{6, 2, 3, 3}, ir.Attrs{"group": ir.Int(2), "act": ir.Str("relu")}, true),
	IntConvCase("conv_pointwise", ir.U8, []int{1, 8, 5, 5}, []int{6, 8, 1, 1}, nil, false),
	// Strided 1×1 convs (codegen's legalize: a strided slice, then the
	// pointwise kernel): odd sizes, unequal strides, groups, batches.
	IntConvCase("conv_pointwise_s2", ir.I8, []int{1, 8, 7, 9}, []int{6, 8, 1, 1}, ir.Attrs{"strides": ir.Ints(2, 2), "act": ir.Str("relu")}, true),
	IntConvCase("conv_pointwise_s31", ir.U8, []int{2, 6, 8, 5}, []int{4, 3, 1, 1}, ir.Attrs{"rq": ir.Str("tflite"), "group": ir.Int(2), "strides": ir.Ints(3, 1)}, false),
	IntConvCase("conv_pointwise_s2_wide", ir.I8, []int{1, 32, 12, 40}, []int{20, 32, 1, 1}, ir.Attrs{"strides": ir.Ints(2, 2)}, true),
	IntConvCase("conv_depthwise", ir.I8, []int{1, 4, 7, 7}, []int{8, 1, 3, 3}, ir.Attrs{"rq": ir.Str("tflite"), "group": ir.Int(4), "pads": ir.Ints(1, 1, 1, 1), "strides": ir.Ints(2, 2)}, true),
	{"gemm_tflite", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.I8, 0.05, 4, 3, 20))
		w := ConstQ(g, r, QT(ir.I8, 0.01, 0, 7, 20))
		return g.Add("gemm", []*ir.Value{x, w, I32Const(g, r, 7)}, ir.Attrs{"trans_b": ir.Int(1), "rq": ir.Str("tflite")}, QT(ir.I8, 0.3, -2), "g", "g")
	}},
	{"matmul_u8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.U8, 0.05, 130, 2, 3, 9))
		w := ConstQ(g, r, ir.Type{DType: ir.U8, Shape: []int{9, 5}, Quant: QAxis(1, []float32{0.01, 0.02, 0.03, 0.01, 0.02}, []int64{128, 120, 0, 255, 3})})
		return g.Add("matmul", []*ir.Value{x, w}, nil, QT(ir.U8, 0.2, 128), "m", "m")
	}},
	{"matmul_runtime_i32", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		a := add(QT(ir.U8, 1, 12, 3, 4))
		b := add(QT(ir.I8, 1, -5, 4, 6))
		return g.Add("matmul", []*ir.Value{a, b}, nil, ir.Type{DType: ir.I32}, "m", "m")
	}},
	{"avgpool_tflite", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.I8, 0.1, -1, 1, 3, 7, 6))
		return g.Add("avgpool", []*ir.Value{x}, ir.Attrs{"rq": ir.Str("tflite"), "kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1)}, x.Type, "a", "a")
	}},
	{"maxpool_u8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.U8, 0.1, 9, 1, 2, 7, 6))
		return g.Add("maxpool", []*ir.Value{x}, ir.Attrs{"kernel": ir.Ints(2, 3), "strides": ir.Ints(2, 1), "pads": ir.Ints(0, 1, 1, 1)}, x.Type, "a", "a")
	}},
	{"softmax_tflite", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.I8, 0.07, 3, 3, 11))
		return g.Add("softmax", []*ir.Value{x}, ir.Attrs{"axis": ir.Int(1), "rq": ir.Str("tflite")}, QT(ir.I8, 1.0/256, -128), "s", "s")
	}},
	{"softmax_u8_long", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.U8, 0.13, 96, 1, 1001))
		return g.Add("softmax", []*ir.Value{x}, ir.Attrs{"axis": ir.Int(1), "rq": ir.Str("tflite")}, QT(ir.U8, 1.0/256, 0), "s", "s")
	}},
	intBinCase("add", ir.I8, []int{3, 4}, []int{4}), intBinCase("sub", ir.I32, []int{3, 4}, []int{3, 4}),
	intBinCase("mul", ir.I16, []int{2, 5}, []int{2, 1}), intBinCase("div", ir.I8, []int{40}, []int{40}),
	intBinCase("div", ir.U8, []int{40}, []int{1}), intBinCase("max", ir.U8, []int{6}, []int{6}),
	intBinCase("min", ir.I16, []int{6}, []int{6}),
	qunaryCase("hardswish_i8_float", "hardswish", "", QT(ir.I8, 0.05, -20, 3, 37), QT(ir.I8, 0.04, -90)),
	qunaryCase("hardswish_u8_tflite", "hardswish", "tflite", QT(ir.U8, 0.05, 110, 3, 37), QT(ir.U8, 0.03, 20)),
	qunaryCase("sigmoid_i8_float", "sigmoid", "", QT(ir.I8, 0.06, 3, 2, 41), QT(ir.I8, 1.0/256, -128)),
	{"hardsigmoid_u8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("hardsigmoid", []*ir.Value{add(QT(ir.U8, 0.04, 120, 2, 33))}, ir.Attrs{"alpha": ir.Float(0.2), "beta": ir.Float(0.5)}, QT(ir.U8, 1.0/256, 0), "hs", "hs")
	}},
	qunaryCase("tanh_i8_tflite", "tanh", "tflite", QT(ir.I8, 0.03, -5, 2, 41), QT(ir.I8, 1.0/128, 0)),
	{"relu_i8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("relu", []*ir.Value{add(QT(ir.I8, 0.1, -20, 4, 5))}, nil, ir.Type{}, "r", "r")
	}},
	meanCase("mean_i8_spatial", QT(ir.I8, 0.02, -5, 1, 5, 3, 4), ir.Ints(2, 3), 1, QT(ir.I8, 0.013, 7)),
	meanCase("mean_u8_spatial", QT(ir.U8, 0.02, 130, 2, 3, 5, 5), ir.Ints(2, 3), 1, QT(ir.U8, 0.031, 120)),
	meanCase("mean_i8_trunc", QT(ir.I8, 0.02, -5, 3, 4, 5), ir.Ints(1), 0, QT(ir.I8, 0.02, -5)),
	meanCase("mean_u8_float", QT(ir.U8, 0.02, 130, 3, 4, 5), ir.Ints(0, 2), 1, QT(ir.U8, 0.007, 100)),
	argmaxCase(ir.F32, 1, 1, 0, ir.I64), argmaxCase(ir.F32, 2, 0, 1, ir.I32), argmaxCase(ir.F32, 0, 1, 0, ir.I64),
	argmaxCase(ir.I8, 2, 1, 1, ir.I64), argmaxCase(ir.U8, 1, 0, 0, ir.I32),
	topkCase(ir.F32, 1, 3, 1, "topk", ir.F32), topkCase(ir.F32, 2, 5, 0, "topk_index", ir.I64),
	topkCase(ir.F32, 0, 2, 1, "topk_index", ir.I32), topkCase(ir.I8, 1, 6, 0, "topk", ir.I8),
	topkCase(ir.U8, 2, 1, 1, "topk_index", ir.I64), topkCase(ir.I16, 1, 4, 1, "topk", ir.I16),
	nmsCase(40, 16, 0.3, -1, true), nmsCase(37, 45, 0.5, 0, false), nmsCase(64, 10, 0.1, -100, false),
	nmsCase(1, 3, 0.5, -100, false), nmsCase(50, 50, 1, -2, true),
	{"pad_quant", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("pad", []*ir.Value{add(QT(ir.I8, 0.05, -3, 1, 2, 3, 4))}, ir.Attrs{"pads": ir.Ints(0, 0, 1, 2, 0, 0, 2, 0), "value": ir.Float(0.3)}, ir.Type{}, "pq", "pq")
	}},
	{"pad_reflect_u8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("pad", []*ir.Value{add(QT(ir.U8, 0.05, 128, 1, 2, 3, 4))}, ir.Attrs{"pads": ir.Ints(0, 0, 2, 3, 0, 0, 1, 3), "mode": ir.Str("reflect")}, ir.Type{}, "pr", "pr")
	}},
	castCase(ir.U8, ir.F32), castCase(ir.I32, ir.F32), castCase(ir.I8, ir.I32), castCase(ir.I32, ir.U8),
	castCase(ir.I16, ir.I8), castCase(ir.F32, ir.I8), castCase(ir.F32, ir.U8), castCase(ir.F32, ir.I32),
	castCase(ir.I64, ir.F32), castCase(ir.I64, ir.I32), castCase(ir.I64, ir.U8), castCase(ir.I32, ir.I64), castCase(ir.I8, ir.I64),
	castCase(ir.Bool, ir.F32), castCase(ir.Bool, ir.I32), castCase(ir.Bool, ir.I64), castCase(ir.Bool, ir.U8),
	castCase(ir.I8, ir.Bool), castCase(ir.I64, ir.Bool), castCase(ir.F32, ir.Bool),
	{"clip_u8", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("clip", []*ir.Value{add(QT(ir.U8, 0.1, 20, 4, 5))}, ir.Attrs{"min": ir.Float(10.5), "max": ir.Float(200)}, ir.Type{}, "c", "c")
	}},
}

// meanCase is a reduce_mean with rq=tflite of x over axes.
func meanCase(name string, x ir.Type, axes ir.Attr, keepdims int, y ir.Type) IntCase {
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		return g.Add("reduce_mean", []*ir.Value{add(x)}, ir.Attrs{"axes": axes, "keepdims": ir.Int(keepdims), "rq": ir.Str("tflite")}, y, name, name)
	}}
}

// argmaxCase is an argmax of a [3, 6, 5] input of dt; f32 inputs are
// floored first, so that maxima tie.
func argmaxCase(dt ir.DType, axis, keepdims, last int, to ir.DType) IntCase {
	name := fmt.Sprintf("argmax_%v_a%d_k%d_l%d", dt, axis, keepdims, last)
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.Type{DType: dt, Shape: []int{3, 6, 5}})
		if dt == ir.F32 {
			var err error
			if x, err = g.Add("floor", []*ir.Value{x}, nil, ir.Type{}, "f", name); err != nil {
				return nil, err
			}
		}
		return g.Add("argmax", []*ir.Value{x}, ir.Attrs{"axis": ir.Int(axis), "keepdims": ir.Int(keepdims), "select_last_index": ir.Int(last)}, ir.Type{DType: to}, name, name)
	}}
}

// topkCase is a topk or topk_index of a [3, 6, 5] input of dt; f32 inputs
// are floored first, so that values tie.
func topkCase(dt ir.DType, axis, k, largest int, op string, to ir.DType) IntCase {
	name := fmt.Sprintf("%s_%v_a%d_k%d_l%d", op, dt, axis, k, largest)
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.Type{DType: dt, Shape: []int{3, 6, 5}})
		if dt == ir.F32 {
			var err error
			if x, err = g.Add("floor", []*ir.Value{x}, nil, ir.Type{}, "f", name); err != nil {
				return nil, err
			}
		}
		return g.Add(op, []*ir.Value{x}, ir.Attrs{"axis": ir.Int(axis), "k": ir.Int(k), "largest": ir.Int(largest)}, ir.Type{DType: to}, name, name)
	}}
}

// castCase is a cast from to; f32 inputs are scaled to ±600 first, so
// that conversions to 8 bits wrap.
func castCase(from, to ir.DType) IntCase {
	return IntCase{"cast_" + from.String() + "_" + to.String(), func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.Type{DType: from, Shape: []int{3, 7}})
		if from == ir.F32 {
			k := g.AddConst("k", ir.FromF32([]int{1}, []float32{300}), nil)
			var err error
			if x, err = g.Add("mul", []*ir.Value{x, k}, nil, ir.Type{}, "s", "s"); err != nil {
				return nil, err
			}
		}
		return g.Add("cast", []*ir.Value{x}, nil, ir.Type{DType: to}, "c", "c")
	}}
}

func intBinCase(op string, dt ir.DType, a, b []int) IntCase {
	return IntCase{op + "_" + dt.String(), func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.Type{DType: dt, Shape: a})
		y := add(ir.Type{DType: dt, Shape: b})
		return g.Add(op, []*ir.Value{x, y}, nil, ir.Type{}, op, op)
	}}
}

// IntOpsGraph builds the given cases into one graph (one result per case)
// with deterministic input values: integers over their dtype's range (i32
// within ±1000, i64 within ±2^61; gather indices in range: ValidIndices),
// floats in [-2, 2).
func IntOpsGraph(cases []IntCase) (*ir.Graph, []*ir.Tensor, error) {
	r := rand.New(rand.NewSource(11))
	g := ir.NewGraph("intops")
	var vals []*ir.Tensor
	for _, c := range cases {
		add := func(ty ir.Type) *ir.Value {
			if ty.DType == ir.F32 {
				x := ir.NewTensor(ir.F32, ty.Shape)
				for i := range x.F32 {
					x.F32[i] = (r.Float32()*2 - 1) * 2
				}
				vals = append(vals, x)
			} else {
				vals = append(vals, RandInt(r, ty))
			}
			return g.AddParam(c.Name, ty)
		}
		v, err := c.Build(g, r, add)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", c.Name, err)
		}
		g.Results = append(g.Results, v)
	}
	ValidIndices(g, vals, r)
	return g, vals, nil
}

// RuntimeWeightCases are integer convs whose weights are graph inputs
// (ConvInteger, QLinearConv with runtime weights); both backends run them
// with IntCases.
var RuntimeWeightCases = []IntCase{
	runtimeConvCase("conv_runtime_i32", ir.I32, []int{1, 2, 6, 5}, ir.Type{DType: ir.U8, Shape: []int{3, 2, 3, 2},
		Quant: QAxis(0, []float32{1, 1, 1}, []int64{0, 7, 200})}, ir.Attrs{"pads": ir.Ints(1, 0, 1, 1), "strides": ir.Ints(1, 2)}),
	runtimeConvCase("conv_runtime_float_group", ir.I8, []int{2, 4, 5, 5}, QT(ir.I8, 0.02, -2, 6, 2, 3, 3),
		ir.Attrs{"group": ir.Int(2), "act": ir.Str("relu"), "dilations": ir.Ints(2, 1)}),
	runtimeConvCase("conv_runtime_tflite_pointwise", ir.U8, []int{1, 5, 4, 4}, QT(ir.U8, 0.03, 128, 4, 5, 1, 1),
		ir.Attrs{"rq": ir.Str("tflite")}),
}

// runtimeConvCase is an integer conv of x (dt, or u8 with an i32 result)
// and runtime weights of type w.
func runtimeConvCase(name string, dt ir.DType, x []int, w ir.Type, attrs ir.Attrs) IntCase {
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		xdt, hint := dt, QT(dt, 0.3, 3, nil...)
		if dt == ir.I32 {
			xdt, hint = ir.U8, ir.Type{DType: ir.I32}
		}
		zx := int64(-3)
		if xdt == ir.U8 {
			zx = 120
		}
		xv := add(QT(xdt, 0.05, zx, x...))
		wv := add(w)
		args := []*ir.Value{xv, wv}
		if dt != ir.I32 {
			args = append(args, I32Const(g, r, w.Shape[0]))
		}
		return g.Add("conv", args, attrs, hint, name, name)
	}}
}

// RandInputs draws integer values for every parameter of g (a quantized
// model's inputs; gather indices in range), deterministic for a seed.
func RandInputs(g *ir.Graph, seed int64) []*ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	var in []*ir.Tensor
	for _, p := range g.Params {
		in = append(in, RandInt(r, p.Type))
	}
	ValidIndices(g, in, r)
	return in
}
