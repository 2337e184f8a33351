package codegentest

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/pare-ml/pare/ir"
)

// Float graphs reproducing the patterns of real models that pare's int8
// path first met in 2026-11 (tests/int8unseen): each is small, f32, with
// the weights drawn from a seed, for the quantize pass and the backends.
// UnseenCases lists them; UnseenInputs draws calibration / test inputs.

// UnseenCase is one pattern: its graph and where it comes from.
type UnseenCase struct {
	Name  string
	From  string
	Build func(r *rand.Rand) (*ir.Graph, error)
	// Float are the ops quantize leaves in f32 inside the int8 graph (no
	// quantized form in the IR yet), between a dequantize and a quantize.
	Float []string
}

// UnseenCases are the patterns.
var UnseenCases = []UnseenCase{
	{"blaze_block", "BlazeFace (ONNX and TFLite): a residual block whose shortcut pads channels with zeros, and a concat of a constant zero tensor", blazeBlock, nil},
	{"ppocr_affine_hswish", "PP-OCRv4 det and rec: learnable affine blocks, x·a + b with scalar a and b, around each hard-swish", affineHSwish, nil},
	{"ppocr_lcnet_block", "PP-OCR (cls, det, rec): written-out hard-swish x·relu6(x+3)/6 after convs, a squeeze-excite gate (global average pool, convs, hard-sigmoid, broadcast mul), a residual add with broadcasting and a sigmoid head", lcnetBlock,
		nil},
}

// UnseenInputs draws n input sets for g: smooth values in [-1, 1].
func UnseenInputs(g *ir.Graph, n int, seed int64) [][]*ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	var out [][]*ir.Tensor
	for s := 0; s < n; s++ {
		var in []*ir.Tensor
		for _, p := range g.Params {
			t := ir.NewTensor(ir.F32, p.Type.Shape)
			a, b, c := r.Float64()*0.5, r.Float64()*0.5, r.Float64()*6
			for i := range t.F32 {
				t.F32[i] = float32(0.8*math.Sin(float64(i)*a+c)*math.Cos(float64(i)*b) + 0.2*(r.Float64()*2-1))
			}
			in = append(in, t)
		}
		out = append(out, in)
	}
	return out
}

// builder adds values to g, keeping the first error.
type builder struct {
	g   *ir.Graph
	r   *rand.Rand
	err error
}

func (b *builder) add(op string, attrs ir.Attrs, hint ir.Type, args ...*ir.Value) *ir.Value {
	if b.err != nil {
		return nil
	}
	v, err := b.g.Add(op, args, attrs, hint, "", op)
	if err != nil {
		b.err = fmt.Errorf("%s: %v", op, err)
	}
	return v
}

// weight is a constant of the shape with values in ±scale.
func (b *builder) weight(scale float32, shape ...int) *ir.Value {
	t := RandTensor(b.r, shape...)
	for i := range t.F32 {
		t.F32[i] *= scale
	}
	return b.g.AddConst("w", t, nil)
}

func (b *builder) conv(x *ir.Value, cout, k, stride, group int) *ir.Value {
	cin := x.Type.Shape[1]
	p := k / 2
	return b.add("conv", ir.Attrs{"strides": ir.Ints(stride, stride), "pads": ir.Ints(p, p, p, p), "group": ir.Int(group)}, ir.Type{},
		x, b.weight(1/float32(k), cout, cin/group, k, k), b.weight(0.2, cout))
}

func (b *builder) done(out ...*ir.Value) (*ir.Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	b.g.Results = out
	return b.g, ir.Verify(b.g)
}

func blazeBlock(r *rand.Rand) (*ir.Graph, error) {
	b := &builder{g: ir.NewGraph("blaze_block"), r: r}
	x := b.g.AddParam("x", ir.TensorType(ir.F32, 1, 4, 8, 8))
	a := b.add("relu", nil, ir.Type{}, b.conv(x, 8, 3, 1, 1))
	// Shortcut: channels padded with zeros (TFLite's channel_padding).
	p := b.add("pad", ir.Attrs{"pads": ir.Ints(0, 0, 0, 0, 0, 4, 0, 0)}, ir.Type{}, a)
	d := b.conv(b.conv(a, 8, 3, 1, 8), 12, 1, 1, 1)
	s := b.add("relu", nil, ir.Type{}, b.add("add", nil, ir.Type{}, d, p))
	// Barracuda's form of the same pad: a concat with constant zeros.
	z := b.g.AddConst("zeros", ir.NewTensor(ir.F32, []int{1, 4, 8, 8}), nil)
	c := b.add("concat", ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, s, z)
	m := b.add("maxpool", ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{}, c)
	o := b.conv(m, 6, 1, 1, 1)
	// A global pool as TFLite's MEAN over the spatial axes (hand landmark).
	g := b.add("reduce_mean", ir.Attrs{"axes": ir.Ints(2, 3), "keepdims": ir.Int(0)}, ir.Type{}, o)
	return b.done(o, g)
}

// hardSwishOut writes hard-swish out as PP-OCR's Paddle export does.
func (b *builder) hardSwishOut(x *ir.Value) *ir.Value {
	three := b.g.AddConst("three", ir.FromF32(nil, []float32{3}), nil)
	six := b.g.AddConst("six", ir.FromF32(nil, []float32{6}), nil)
	c := b.add("clip", ir.Attrs{"min": ir.Float(0), "max": ir.Float(6)}, ir.Type{}, b.add("add", nil, ir.Type{}, x, three))
	return b.add("div", nil, ir.Type{}, b.add("mul", nil, ir.Type{}, x, c), six)
}

func lcnetBlock(r *rand.Rand) (*ir.Graph, error) {
	b := &builder{g: ir.NewGraph("lcnet_block"), r: r}
	x := b.g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 12, 12))
	h := b.hardSwishOut(b.conv(x, 8, 3, 2, 1))
	d := b.hardSwishOut(b.conv(h, 8, 3, 1, 8))
	// Squeeze-excite: the gate broadcasts over the spatial dims.
	s := b.add("global_avgpool", nil, ir.Type{}, d)
	s = b.add("relu", nil, ir.Type{}, b.conv(s, 4, 1, 1, 1))
	s = b.add("hardsigmoid", ir.Attrs{"alpha": ir.Float(0.2), "beta": ir.Float(0.5)}, ir.Type{}, b.conv(s, 8, 1, 1, 1))
	e := b.add("mul", nil, ir.Type{}, d, s)
	p := b.conv(e, 8, 1, 1, 1)
	// A residual add whose second operand broadcasts along the width.
	col := b.add("maxpool", ir.Attrs{"kernel": ir.Ints(1, 6), "strides": ir.Ints(1, 6)}, ir.Type{}, h)
	a := b.add("add", nil, ir.Type{}, p, b.add("relu", nil, ir.Type{}, col))
	y := b.add("sigmoid", nil, ir.Type{}, b.conv(a, 2, 1, 1, 1))
	return b.done(y)
}

func affineHSwish(r *rand.Rand) (*ir.Graph, error) {
	b := &builder{g: ir.NewGraph("affine_hswish"), r: r}
	x := b.g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 10, 10))
	scalar := func(f float32) *ir.Value { return b.g.AddConst("s", ir.FromF32([]int{1}, []float32{f}), nil) }
	affine := func(x *ir.Value, a, c float32) *ir.Value {
		return b.add("add", nil, ir.Type{}, b.add("mul", nil, ir.Type{}, scalar(a), x), scalar(c))
	}
	h := affine(b.hardSwishOut(affine(b.conv(x, 6, 3, 1, 1), 0.94, 0.03)), 1.1, -0.0075)
	return b.done(b.conv(h, 4, 1, 1, 1))
}
