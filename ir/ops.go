package ir

import (
	"fmt"
	"math"
)

// The op table. Each row declares arguments, attributes, the type rule and
// flags; rt gives each op its semantics.

func arg(v *Value, i int) Type { return v.Args[i].Type }

func float32Only(v *Value) error {
	for i, a := range v.Args {
		if a.Type.DType != F32 {
			return fmt.Errorf("argument %d (%%%s) is %v; %s takes f32", i, a.Name, a.Type.DType, v.Op.Name)
		}
	}
	return nil
}

func sameDType(v *Value) error {
	for i, a := range v.Args[1:] {
		if a.Type.DType != v.Args[0].Type.DType {
			return fmt.Errorf("argument %d (%%%s) is %v, argument 0 is %v", i+1, a.Name, a.Type.DType, v.Args[0].Type.DType)
		}
	}
	return nil
}

// declaredQuant is the quantization of an integer result: the declared one,
// or else the first argument's (relu, maxpool, concat ... keep their input's scale).
func declaredQuant(v *Value, dt DType) *Quant {
	if !dt.IsInt() {
		return nil
	}
	if v.Type.Quant != nil {
		return v.Type.Quant
	}
	if len(v.Args) > 0 && v.Args[0].Type.DType == dt {
		return v.Args[0].Type.Quant
	}
	return nil
}

func checkQuant(q *Quant, t Type) error {
	if q == nil {
		return nil
	}
	if !t.DType.IsInt() {
		return fmt.Errorf("quantization on non-integer type %v", t.DType)
	}
	if len(q.Scale) != len(q.ZeroPoint) || len(q.Scale) == 0 {
		return fmt.Errorf("quantization needs as many scales as zero points (%d, %d)", len(q.Scale), len(q.ZeroPoint))
	}
	if q.Axis < 0 {
		if len(q.Scale) != 1 {
			return fmt.Errorf("per-tensor quantization with %d scales", len(q.Scale))
		}
	} else {
		if q.Axis >= len(t.Shape) {
			return fmt.Errorf("quantization axis %d out of range for rank %d", q.Axis, len(t.Shape))
		}
		if len(q.Scale) != t.Shape[q.Axis] {
			return fmt.Errorf("%d scales for axis %d of size %d", len(q.Scale), q.Axis, t.Shape[q.Axis])
		}
	}
	lo, hi := t.DType.Range()
	for _, z := range q.ZeroPoint {
		if z < lo || z > hi {
			return fmt.Errorf("zero point %d out of range for %v", z, t.DType)
		}
	}
	for _, s := range q.Scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("scale %v must be positive and finite", s)
		}
	}
	return nil
}

func unaryInfer(floatOnly bool) func(v *Value) (Type, error) {
	return func(v *Value) (Type, error) {
		if floatOnly {
			if err := float32Only(v); err != nil {
				return Type{}, err
			}
		}
		t := arg(v, 0)
		return Type{DType: t.DType, Shape: t.Shape, Quant: declaredQuant(v, t.DType)}, nil
	}
}

func binaryInfer(floatOnly bool) func(v *Value) (Type, error) {
	return func(v *Value) (Type, error) {
		if floatOnly {
			if err := float32Only(v); err != nil {
				return Type{}, err
			}
		}
		if err := sameDType(v); err != nil {
			return Type{}, err
		}
		s, err := Broadcast(arg(v, 0).Shape, arg(v, 1).Shape)
		if err != nil {
			return Type{}, err
		}
		dt := arg(v, 0).DType
		if dt == Bool {
			return Type{}, fmt.Errorf("%s does not take bool", v.Op.Name)
		}
		return Type{DType: dt, Shape: s, Quant: declaredQuant(v, dt)}, nil
	}
}

func unary(name, doc string, floatOnly bool, flags OpFlags, attrs ...AttrDef) *OpDef {
	return &OpDef{Name: name, Args: []string{"x"}, Attrs: attrs, Infer: unaryInfer(floatOnly), Flags: Elementwise | flags, Doc: doc}
}

func binop(name, doc string, floatOnly bool, flags OpFlags) *OpDef {
	d := &OpDef{Name: name, Args: []string{"a", "b"}, Infer: binaryInfer(floatOnly), Flags: Elementwise | flags, Doc: doc}
	if flags&Quantizable != 0 {
		d.Attrs = []AttrDef{rqAttr}
	}
	return d
}

var (
	windowAttrs = []AttrDef{
		{Name: "strides", Kind: AttrInts, Default: Ints(), Doc: "per spatial dim; empty means 1"},
		{Name: "pads", Kind: AttrInts, Default: Ints(), Doc: "begins then ends; empty means 0"},
		{Name: "dilations", Kind: AttrInts, Default: Ints(), Doc: "per spatial dim; empty means 1"},
	}
	poolAttrs = append([]AttrDef{
		{Name: "kernel", Kind: AttrInts, Required: true},
		{Name: "ceil_mode", Kind: AttrInt, Default: Int(0)},
	}, windowAttrs...)
)

func normAxis(axis, rank int) (int, error) {
	if axis < 0 || axis >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return axis, nil
}

func init() {
	register(
		withAct(&OpDef{Name: "conv", Args: []string{"x", "w", "b?"}, Flags: Quantizable | Fusable, Infer: convInfer,
			Attrs: append([]AttrDef{{Name: "group", Kind: AttrInt, Default: Int(1)}, rqAttr}, windowAttrs...),
			Doc:   "N-d convolution, NC[spatial] input, weight [M, C/group, k...]; integer operands give the ConvInteger (i32 result) or QLinearConv (quantized result) form"}),
		&OpDef{Name: "conv_transpose", Args: []string{"x", "w", "b?"}, Flags: Fusable, Infer: convTransposeInfer,
			Attrs: append([]AttrDef{{Name: "group", Kind: AttrInt, Default: Int(1)}, {Name: "output_padding", Kind: AttrInts, Default: Ints()}}, windowAttrs...),
			Doc:   "N-d transposed convolution, weight [C, M/group, k...]"},
		withAct(&OpDef{Name: "matmul", Args: []string{"a", "b"}, Flags: Quantizable | Fusable, Infer: matmulInfer, Attrs: []AttrDef{rqAttr},
			Doc: "numpy matmul with batch broadcasting; integer operands give MatMulInteger / QLinearMatMul"}),
		withAct(&OpDef{Name: "gemm", Args: []string{"a", "b", "c?"}, Flags: Quantizable | Fusable, Infer: gemmInfer,
			Attrs: []AttrDef{{Name: "trans_a", Kind: AttrInt, Default: Int(0)}, {Name: "trans_b", Kind: AttrInt, Default: Int(0)},
				{Name: "alpha", Kind: AttrFloat, Default: Float(1)}, {Name: "beta", Kind: AttrFloat, Default: Float(1)}, rqAttr},
			Doc: "alpha*op(a)*op(b) + beta*c, the dense layer; integer operands (i32 bias) as for matmul"}),

		withAct(binop("add", "a + b with broadcasting", false, Commutative|Quantizable)),
		binop("sub", "a - b with broadcasting", false, Quantizable),
		binop("mul", "a * b with broadcasting", false, Commutative|Quantizable),
		binop("div", "a / b with broadcasting (integers truncate)", false, 0),
		binop("max", "elementwise maximum", false, Commutative),
		binop("min", "elementwise minimum", false, Commutative),
		binop("pow", "a raised to b", true, 0),
		binop("prelu", "x if x >= 0 else slope*x; slope broadcasts to x", true, 0),

		unary("relu", "max(x, 0)", false, Quantizable),
		unary("leaky_relu", "x if x >= 0 else alpha*x", true, 0, AttrDef{Name: "alpha", Kind: AttrFloat, Default: Float(0.01)}),
		unary("clip", "min(max(x, min), max); relu6 is clip{min=0,max=6}", false, Quantizable,
			AttrDef{Name: "min", Kind: AttrFloat, Default: Float(float32(math.Inf(-1)))},
			AttrDef{Name: "max", Kind: AttrFloat, Default: Float(float32(math.Inf(1)))}),
		quantUnary("sigmoid", "1 / (1 + exp(-x))"),
		quantUnary("tanh", "hyperbolic tangent"),
		quantUnaryAttrs("hardsigmoid", "max(0, min(1, alpha*x + beta))",
			AttrDef{Name: "alpha", Kind: AttrFloat, Default: Float(0.2)}, AttrDef{Name: "beta", Kind: AttrFloat, Default: Float(0.5)}),
		quantUnary("hardswish", "x * max(0, min(1, x/6 + 1/2))"),
		unary("exp", "e^x", true, 0),
		unary("log", "natural logarithm", true, 0),
		unary("sqrt", "square root", true, 0),
		unary("erf", "error function", true, 0),
		unary("neg", "-x", false, 0),
		unary("abs", "|x|", false, 0),
		unary("reciprocal", "1/x", true, 0),
		unary("floor", "round down", true, 0),
		unary("ceil", "round up", true, 0),

		&OpDef{Name: "softmax", Args: []string{"x"}, Flags: Quantizable, Infer: func(v *Value) (Type, error) {
			if _, err := normAxis(v.Int("axis"), arg(v, 0).Rank()); err != nil {
				return Type{}, err
			}
			return floatOrQuantized(v, arg(v, 0).Shape)
		}, Attrs: []AttrDef{{Name: "axis", Kind: AttrInt, Required: true}, rqAttr},
			Doc: "softmax along one axis; " + quantFormDoc},

		&OpDef{Name: "maxpool", Args: []string{"x"}, Attrs: poolAttrs, Infer: poolInfer, Flags: Quantizable, Doc: "N-d max pooling"},
		&OpDef{Name: "maxpool_index", Args: []string{"x"}, Infer: poolInfer,
			Attrs: append([]AttrDef{{Name: "storage_order", Kind: AttrInt, Default: Int(0)}}, poolAttrs...),
			Doc:   "the flat input index (i64) of each max of maxpool; storage_order 1 counts column-major"},
		&OpDef{Name: "avgpool", Args: []string{"x"}, Infer: poolInfer, Flags: Quantizable,
			Attrs: append([]AttrDef{{Name: "count_include_pad", Kind: AttrInt, Default: Int(0)}, rqAttr}, poolAttrs...),
			Doc:   "N-d average pooling"},
		&OpDef{Name: "global_avgpool", Args: []string{"x"}, Flags: Quantizable, Infer: func(v *Value) (Type, error) {
			if err := float32Only(v); err != nil {
				return Type{}, err
			}
			x := arg(v, 0)
			if x.Rank() < 3 {
				return Type{}, fmt.Errorf("input %v needs rank >= 3", x)
			}
			s := append([]int{}, x.Shape...)
			for i := 2; i < len(s); i++ {
				s[i] = 1
			}
			return Type{DType: F32, Shape: s}, nil
		}, Doc: "mean over all spatial dims, kept as size 1"},
		reduceOp("reduce_mean", "mean over axes"),
		reduceOp("reduce_sum", "sum over axes"),
		reduceOp("reduce_max", "maximum over axes"),
		argmaxOp(),
		topkOp(false),
		topkOp(true),

		&OpDef{Name: "batchnorm", Args: []string{"x", "scale", "bias", "mean", "var"}, Flags: Elementwise,
			Attrs: []AttrDef{{Name: "epsilon", Kind: AttrFloat, Default: Float(1e-5)}},
			Infer: func(v *Value) (Type, error) {
				if err := float32Only(v); err != nil {
					return Type{}, err
				}
				x := arg(v, 0)
				if x.Rank() < 2 {
					return Type{}, fmt.Errorf("input %v needs a channel dim", x)
				}
				for i := 1; i < 5; i++ {
					if s := arg(v, i).Shape; len(s) != 1 || s[0] != x.Shape[1] {
						return Type{}, fmt.Errorf("%s %v must be [%d]", v.Op.Args[i], s, x.Shape[1])
					}
				}
				return Type{DType: F32, Shape: x.Shape}, nil
			}, Doc: "inference batch normalization over dim 1"},

		&OpDef{Name: "reshape", Args: []string{"x"}, Flags: Layout, Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if err := CheckShape(v.Type.Shape); err != nil {
				return Type{}, err
			}
			if NumElements(v.Type.Shape) != x.NumElements() {
				return Type{}, fmt.Errorf("cannot reshape %v to %v", x.Shape, v.Type.Shape)
			}
			q := x.Quant
			if q != nil && q.Axis >= 0 {
				return Type{}, fmt.Errorf("reshape of a per-axis quantized tensor")
			}
			return Type{DType: x.DType, Shape: v.Type.Shape, Quant: q}, nil
		}, Doc: "same elements, declared shape (flatten, squeeze and unsqueeze import as reshape)"},
		&OpDef{Name: "transpose", Args: []string{"x"}, Flags: Layout, Attrs: []AttrDef{{Name: "perm", Kind: AttrInts, Required: true}},
			Infer: func(v *Value) (Type, error) {
				x := arg(v, 0)
				p := v.IntList("perm")
				if len(p) != x.Rank() {
					return Type{}, fmt.Errorf("perm %v for rank %d", p, x.Rank())
				}
				seen := make([]bool, len(p))
				s := make([]int, len(p))
				for i, a := range p {
					if a < 0 || a >= len(p) || seen[a] {
						return Type{}, fmt.Errorf("perm %v is not a permutation", p)
					}
					seen[a] = true
					s[i] = x.Shape[a]
				}
				q := x.Quant
				if q != nil && q.Axis >= 0 {
					nq := *q
					for i, a := range p {
						if a == q.Axis {
							nq.Axis = i
						}
					}
					q = &nq
				}
				return Type{DType: x.DType, Shape: s, Quant: q}, nil
			}, Doc: "permute dims"},
		&OpDef{Name: "concat", Args: []string{"xs..."}, Flags: Layout, Attrs: []AttrDef{{Name: "axis", Kind: AttrInt, Required: true}},
			Infer: func(v *Value) (Type, error) {
				if err := sameDType(v); err != nil {
					return Type{}, err
				}
				x := arg(v, 0)
				ax, err := normAxis(v.Int("axis"), x.Rank())
				if err != nil {
					return Type{}, err
				}
				s := append([]int{}, x.Shape...)
				for _, a := range v.Args[1:] {
					if a.Type.Rank() != x.Rank() {
						return Type{}, fmt.Errorf("%%%s %v and %%%s %v differ in rank", v.Args[0].Name, x.Shape, a.Name, a.Type.Shape)
					}
					for i := range s {
						if i != ax && a.Type.Shape[i] != x.Shape[i] {
							return Type{}, fmt.Errorf("%%%s %v and %%%s %v differ off axis %d", v.Args[0].Name, x.Shape, a.Name, a.Type.Shape, ax)
						}
					}
					s[ax] += a.Type.Shape[ax]
				}
				return Type{DType: x.DType, Shape: s, Quant: declaredQuant(v, x.DType)}, nil
			}, Doc: "join along an axis"},
		&OpDef{Name: "pad", Args: []string{"x"}, Flags: Layout,
			Attrs: []AttrDef{{Name: "pads", Kind: AttrInts, Required: true, Doc: "begins then ends, per dim; negative crops"},
				{Name: "mode", Kind: AttrString, Default: Str("constant"), Doc: "constant, reflect or edge"},
				{Name: "value", Kind: AttrFloat, Default: Float(0)}},
			Infer: func(v *Value) (Type, error) {
				x := arg(v, 0)
				p := v.IntList("pads")
				if len(p) != 2*x.Rank() {
					return Type{}, fmt.Errorf("pads %v needs %d entries", p, 2*x.Rank())
				}
				switch m := v.Str("mode"); m {
				case "constant", "reflect", "edge":
				default:
					return Type{}, fmt.Errorf("pad mode %q (supported: constant, reflect, edge)", m)
				}
				s := make([]int, x.Rank())
				for i := range s {
					s[i] = x.Shape[i] + p[i] + p[i+x.Rank()]
					if s[i] < 0 {
						return Type{}, fmt.Errorf("pads %v crop more than dim %d has", p, i)
					}
				}
				return Type{DType: x.DType, Shape: s, Quant: x.Quant}, nil
			}, Doc: "pad with a constant, by reflection or by repeating the edge"},
		&OpDef{Name: "slice", Args: []string{"x"}, Flags: Layout,
			Attrs: []AttrDef{{Name: "starts", Kind: AttrInts, Required: true}, {Name: "ends", Kind: AttrInts, Required: true},
				{Name: "steps", Kind: AttrInts, Required: true}},
			Infer: func(v *Value) (Type, error) {
				x := arg(v, 0)
				st, en, sp := v.IntList("starts"), v.IntList("ends"), v.IntList("steps")
				if len(st) != x.Rank() || len(en) != x.Rank() || len(sp) != x.Rank() {
					return Type{}, fmt.Errorf("starts %v, ends %v, steps %v need one entry per dim (%d)", st, en, sp, x.Rank())
				}
				s := make([]int, x.Rank())
				for i := range s {
					n, err := SliceLen(x.Shape[i], st[i], en[i], sp[i])
					if err != nil {
						return Type{}, fmt.Errorf("dim %d: %v", i, err)
					}
					s[i] = n
				}
				q := x.Quant
				if q != nil && q.Axis >= 0 {
					return Type{}, fmt.Errorf("slice of a per-axis quantized tensor")
				}
				return Type{DType: x.DType, Shape: s, Quant: q}, nil
			}, Doc: "strided slice with normalized, per-dim starts, ends and steps"},
		&OpDef{Name: "gather", Args: []string{"x", "indices"}, Flags: Layout, Attrs: []AttrDef{{Name: "axis", Kind: AttrInt, Required: true}},
			Infer: func(v *Value) (Type, error) {
				x, ix := arg(v, 0), arg(v, 1)
				ax, err := normAxis(v.Int("axis"), x.Rank())
				if err != nil {
					return Type{}, err
				}
				if ix.DType != I32 && ix.DType != I64 {
					return Type{}, fmt.Errorf("indices must be i32 or i64, got %v", ix.DType)
				}
				s := append(append(append([]int{}, x.Shape[:ax]...), ix.Shape...), x.Shape[ax+1:]...)
				return Type{DType: x.DType, Shape: s, Quant: x.Quant}, nil
			}, Doc: "select along an axis by index tensor (negative indices count from the end)"},
		&OpDef{Name: "expand", Args: []string{"x"}, Flags: Layout, Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			s, err := Broadcast(x.Shape, v.Type.Shape)
			if err != nil || !EqualShape(s, v.Type.Shape) {
				return Type{}, fmt.Errorf("cannot broadcast %v to %v", x.Shape, v.Type.Shape)
			}
			return Type{DType: x.DType, Shape: s, Quant: x.Quant}, nil
		}, Doc: "broadcast to the declared shape"},
		&OpDef{Name: "resize", Args: []string{"x"}, Flags: Layout,
			Attrs: []AttrDef{{Name: "mode", Kind: AttrString, Default: Str("nearest"), Doc: "nearest or linear"},
				{Name: "coord", Kind: AttrString, Default: Str("half_pixel"), Doc: "half_pixel, asymmetric, align_corners, pytorch_half_pixel, tf_half_pixel_for_nn"},
				{Name: "nearest_mode", Kind: AttrString, Default: Str("round_prefer_floor"), Doc: "round_prefer_floor, round_prefer_ceil, floor, ceil"},
				{Name: "scales", Kind: AttrFloats, Default: Floats(), Doc: "per-dim scales when the model gave them; empty means out/in"}},
			Infer: func(v *Value) (Type, error) {
				x := arg(v, 0)
				if x.DType != F32 && (v.Str("mode") != "nearest" || !x.DType.IsInt() || x.DType == Bool || x.Quant != nil && x.Quant.Axis >= 0) {
					return Type{}, fmt.Errorf("resize takes f32, or integers (per-tensor quantized if at all) in nearest mode; got %v in %s mode", x, v.Str("mode"))
				}
				if len(v.Type.Shape) != x.Rank() {
					return Type{}, fmt.Errorf("declared shape %v has rank %d, input %v", v.Type.Shape, len(v.Type.Shape), x.Shape)
				}
				if sc := v.FloatList("scales"); len(sc) != 0 && len(sc) != x.Rank() {
					return Type{}, fmt.Errorf("scales %v need %d entries", sc, x.Rank())
				}
				switch v.Str("mode") {
				case "nearest", "linear":
				default:
					return Type{}, fmt.Errorf("resize mode %q (supported: nearest, linear)", v.Str("mode"))
				}
				switch v.Str("coord") {
				case "half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn":
				default:
					return Type{}, fmt.Errorf("coordinate transformation %q not supported", v.Str("coord"))
				}
				switch v.Str("nearest_mode") {
				case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
				default:
					return Type{}, fmt.Errorf("nearest_mode %q not supported", v.Str("nearest_mode"))
				}
				if err := CheckShape(v.Type.Shape); err != nil {
					return Type{}, err
				}
				return Type{DType: x.DType, Shape: v.Type.Shape, Quant: x.Quant}, nil
			}, Doc: "resize to the declared shape, nearest or (multi)linear; nearest also moves integers (quantized ones keep their parameters)"},
		&OpDef{Name: "cast", Args: []string{"x"}, Flags: Elementwise, Infer: func(v *Value) (Type, error) {
			if v.Type.DType == Invalid {
				return Type{}, fmt.Errorf("cast needs a declared result dtype")
			}
			return Type{DType: v.Type.DType, Shape: arg(v, 0).Shape}, nil
		}, Doc: "convert elements to the declared dtype (float to int truncates, saturation is not applied)"},

		&OpDef{Name: "quantize", Args: []string{"x"}, Flags: Elementwise, Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if x.DType != F32 && x.DType != I32 {
				return Type{}, fmt.Errorf("quantize takes f32 or i32, got %v", x.DType)
			}
			t := Type{DType: v.Type.DType, Shape: x.Shape, Quant: v.Type.Quant}
			if t.Quant == nil || !t.DType.IsInt() || t.DType == I64 {
				return Type{}, fmt.Errorf("quantize needs a declared quantized i8/u8/i16/i32 result, got %v", v.Type)
			}
			return t, checkQuant(t.Quant, t)
		}, Attrs: []AttrDef{rqAttr}, Doc: "saturate(round(x / scale) + zero_point), ties to even (rq=float, ONNX) or away from zero (rq=tflite, TFLite's QUANTIZE)"},
		&OpDef{Name: "dequantize", Args: []string{"x"}, Flags: Elementwise, Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if x.Quant == nil {
				return Type{}, fmt.Errorf("dequantize needs a quantized input, got %v", x)
			}
			return Type{DType: F32, Shape: x.Shape}, nil
		}, Doc: "(x - zero_point) * scale"},
		&OpDef{Name: "requantize", Args: []string{"x"}, Flags: Elementwise, Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if x.Quant == nil || v.Type.Quant == nil || !v.Type.DType.IsInt() {
				return Type{}, fmt.Errorf("requantize maps a quantized input to a declared quantized result, got %v → %v", x, v.Type)
			}
			t := Type{DType: v.Type.DType, Shape: x.Shape, Quant: v.Type.Quant}
			return t, checkQuant(t.Quant, t)
		}, Attrs: []AttrDef{rqAttr}, Doc: "quantize(dequantize(x)) in one step"},
		&OpDef{Name: "lut", Args: []string{"x", "table"}, Infer: func(v *Value) (Type, error) {
			x, tb := arg(v, 0), arg(v, 1)
			if x.DType != I8 && x.DType != U8 {
				return Type{}, fmt.Errorf("lut takes i8 or u8, got %v", x.DType)
			}
			if tb.DType != I8 && tb.DType != U8 && tb.DType != F32 || !EqualShape(tb.Shape, []int{256}) || tb.Quant != nil && tb.Quant.Axis >= 0 {
				return Type{}, fmt.Errorf("lut needs an i8, u8 or f32 table of 256 entries, per-tensor quantized if at all, got %v", tb)
			}
			return Type{DType: tb.DType, Shape: x.Shape, Quant: tb.Quant}, nil
		}, Doc: "table lookup: table[x - the least value of x's dtype] for every element (x i8 or u8; a table of 256 i8, u8 or f32 entries, whose dtype and quantization the result takes); fuse makes it of an elementwise chain between a dequantize and a quantize"},
	)
}

// quantFormDoc describes the integer form of the ops typed by floatOrQuantized.
const quantFormDoc = "a per-tensor quantized integer input gives a quantized result (declared, else the input's parameters), computed per rq"

// floatOrQuantized types an op that takes f32, or a per-tensor quantized
// integer tensor and then gives a quantized integer result: the declared
// dtype and quantization, else the input's (TFLite's integer LOGISTIC,
// TANH, HARD_SWISH, SOFTMAX, MEAN).
func floatOrQuantized(v *Value, shape []int) (Type, error) {
	x := arg(v, 0)
	if x.DType == F32 {
		return Type{DType: F32, Shape: shape}, nil
	}
	if !x.DType.IsInt() || x.Quant == nil || x.Quant.Axis >= 0 {
		return Type{}, fmt.Errorf("%s takes f32 or a per-tensor quantized integer tensor, got %v", v.Op.Name, x)
	}
	t := Type{DType: x.DType, Shape: shape, Quant: x.Quant}
	if v.Type.DType != Invalid {
		t.DType = v.Type.DType
	}
	if v.Type.Quant != nil {
		t.Quant = v.Type.Quant
	}
	if !t.DType.IsInt() || t.Quant.Axis >= 0 {
		return Type{}, fmt.Errorf("%s of a quantized input needs a per-tensor quantized integer result, declared %v", v.Op.Name, v.Type)
	}
	return t, checkQuant(t.Quant, t)
}

// quantUnaryAttrs is quantUnary with attributes of the op's own before rq.
func quantUnaryAttrs(name, doc string, attrs ...AttrDef) *OpDef {
	d := quantUnary(name, doc)
	d.Attrs = append(attrs, d.Attrs...)
	return d
}

func quantUnary(name, doc string) *OpDef {
	return &OpDef{Name: name, Args: []string{"x"}, Attrs: []AttrDef{rqAttr}, Flags: Elementwise | Quantizable,
		Infer: func(v *Value) (Type, error) { return floatOrQuantized(v, arg(v, 0).Shape) },
		Doc:   doc + "; " + quantFormDoc}
}

// SliceLen is the length of a normalized slice of a dim of size n:
// 0 <= start <= n for positive steps (start < n, -1 <= end for negative ones).
func SliceLen(n, start, end, step int) (int, error) {
	switch {
	case step > 0:
		if start < 0 || start > n || end < 0 || end > n {
			return 0, fmt.Errorf("slice %d:%d:%d out of range for size %d", start, end, step, n)
		}
		if end <= start {
			return 0, nil
		}
		return (end - start + step - 1) / step, nil
	case step < 0:
		if start < -1 || start >= n || end < -1 || end >= n {
			return 0, fmt.Errorf("slice %d:%d:%d out of range for size %d", start, end, step, n)
		}
		if end >= start {
			return 0, nil
		}
		return (start - end - step - 1) / -step, nil
	}
	return 0, fmt.Errorf("slice step 0")
}

// Compressed weight encodings (written by the prune / share passes): the
// decoded tensor is an ordinary value of the declared type, so any op can
// consume it; rt decodes constant encodings once and its conv / gemm /
// matmul kernels use a CSR encoding directly when it is sparse enough.
func init() {
	register(
		&OpDef{Name: "sparse_decode", Args: []string{"values", "colidx", "rowptr"}, Infer: sparseDecodeInfer,
			Doc: "CSR weights: the declared shape viewed as [shape[0], rest]; row r holds values[rowptr[r]:rowptr[r+1]] at columns colidx[...]; other elements are zero"},
		&OpDef{Name: "codebook_decode", Args: []string{"codebook", "indices"}, Infer: codebookDecodeInfer,
			Attrs: []AttrDef{{Name: "bits", Kind: AttrInt, Required: true, Doc: "bits per index, 1..8; indices are packed little-endian bit fields in u8 bytes"}},
			Doc:   "shared weights: element i of the declared shape is codebook[index i]"},
	)
}

// decodedType is the result of a decode op: the declared shape, the dtype
// of the stored elements, and the declared quantization (else theirs).
func decodedType(v *Value, elem Type) (Type, error) {
	s := v.Type.Shape
	if len(s) == 0 {
		return Type{}, fmt.Errorf("%s needs a declared result shape", v.Op.Name)
	}
	if err := CheckShape(s); err != nil {
		return Type{}, err
	}
	t := Type{DType: elem.DType, Shape: s, Quant: v.Type.Quant}
	if t.Quant == nil && elem.Quant != nil && elem.Quant.Axis < 0 {
		t.Quant = elem.Quant
	}
	if elem.DType != F32 && t.Quant == nil {
		return Type{}, fmt.Errorf("%s of %v elements needs a quantized result type", v.Op.Name, elem.DType)
	}
	return t, checkQuant(t.Quant, t)
}

func sparseDecodeInfer(v *Value) (Type, error) {
	vals, col, ptr := arg(v, 0), arg(v, 1), arg(v, 2)
	if vals.Rank() != 1 || col.Rank() != 1 || ptr.Rank() != 1 || vals.Shape[0] != col.Shape[0] {
		return Type{}, fmt.Errorf("values %v and colidx %v must be 1-D of one length, rowptr %v 1-D", vals.Shape, col.Shape, ptr.Shape)
	}
	if vals.DType != F32 && vals.DType != I8 && vals.DType != U8 {
		return Type{}, fmt.Errorf("values must be f32, i8 or u8, got %v", vals.DType)
	}
	if col.DType != U8 && col.DType != I16 && col.DType != I32 || ptr.DType != I32 {
		return Type{}, fmt.Errorf("colidx must be u8, i16 or i32 and rowptr i32, got %v and %v", col.DType, ptr.DType)
	}
	t, err := decodedType(v, vals)
	if err != nil {
		return Type{}, err
	}
	if ptr.Shape[0] != t.Shape[0]+1 || vals.Shape[0] > t.NumElements() {
		return Type{}, fmt.Errorf("rowptr %v needs %d entries and values %v at most %d", ptr.Shape, t.Shape[0]+1, vals.Shape, t.NumElements())
	}
	return t, nil
}

func codebookDecodeInfer(v *Value) (Type, error) {
	cb, ix := arg(v, 0), arg(v, 1)
	bits := v.Int("bits")
	if bits < 1 || bits > 8 {
		return Type{}, fmt.Errorf("bits %d (want 1..8)", bits)
	}
	if cb.Rank() != 1 || cb.Shape[0] < 1 || cb.Shape[0] > 1<<bits {
		return Type{}, fmt.Errorf("codebook %v must be 1-D with 1..%d entries", cb.Shape, 1<<bits)
	}
	if cb.DType != F32 && cb.DType != I8 && cb.DType != U8 || ix.DType != U8 || ix.Rank() != 1 {
		return Type{}, fmt.Errorf("codebook must be f32, i8 or u8 and indices 1-D u8, got %v and %v", cb, ix)
	}
	t, err := decodedType(v, cb)
	if err != nil {
		return Type{}, err
	}
	if want := (t.NumElements()*bits + 7) / 8; ix.Shape[0] != want {
		return Type{}, fmt.Errorf("indices %v: %d elements of %d bits need %d bytes", ix.Shape, t.NumElements(), bits, want)
	}
	return t, nil
}
