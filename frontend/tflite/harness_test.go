package tflite

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/pare-ml/pare/codegen"
	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// A harness for one-op models: build the flatbuffer, import, run on rt,
// compare with a float64 reference computed here in NHWC order.

// nd is a float64 array in row-major order.
type nd struct {
	shape []int
	v     []float64
}

func newND(shape ...int) nd { return nd{shape: shape, v: make([]float64, ir.NumElements(shape))} }

// index unravels flat index i.
func (a nd) index(i int) []int {
	idx := make([]int, len(a.shape))
	for d := len(a.shape) - 1; d >= 0; d-- {
		if a.shape[d] > 0 {
			idx[d] = i % a.shape[d]
			i /= a.shape[d]
		}
	}
	return idx
}

// flat is the flat index of idx.
func (a nd) flat(idx []int) int {
	f := 0
	for d, i := range idx {
		f = f*a.shape[d] + i
	}
	return f
}

func (a nd) at(idx ...int) float64 { return a.v[a.flat(idx)] }

// fill sets every element from its index.
func (a nd) fill(f func(idx []int) float64) nd {
	for i := range a.v {
		a.v[i] = f(a.index(i))
	}
	return a
}

// opIn is an input tensor of the op under test: a graph input (data nil)
// or a constant.
type opIn struct {
	shape []int32
	typ   fb.TensorType
	data  []byte
	scale float32
	zp    int64
}

func f32In(shape ...int32) opIn { return opIn{shape: shape, typ: fb.TensorTypeFLOAT32} }
func i32Const(shape []int32, v ...int32) opIn {
	return opIn{shape: shape, typ: fb.TensorTypeINT32, data: i32Bytes(v...)}
}
func vecConst(v ...int32) opIn { return i32Const([]int32{int32(len(v))}, v...) }
func f32Const(shape []int32, v ...float32) opIn {
	return opIn{shape: shape, typ: fb.TensorTypeFLOAT32, data: f32Bytes(v...)}
}

// i8In is a graph input of type int8 with scale s, zero point z.
func i8In(s float32, z int64, shape ...int32) opIn {
	return opIn{shape: shape, typ: fb.TensorTypeINT8, scale: s, zp: z}
}

type optFn = func(b *flatbuffers.Builder) flatbuffers.UOffsetT

// oneOp is a model of one op (after a 1x1 MAX_POOL_2D on input 0 when
// pool: the op then reads a tensor that exists only in NCHW form).
type oneOp struct {
	code    fb.BuiltinOperator
	ins     []opIn
	outs    []opIn // shapes and types of the outputs
	optType fb.BuiltinOptions
	opt     optFn
	// custom and customOpts are a CUSTOM op's custom code and options,
	// version its operator code's version (0: 1).
	custom     string
	customOpts []byte
	version    int32
	pool       bool
	// uncompiled, when set, is what codegen.Lower says of the float graph
	// (an op rt runs and the backends do not compile yet).
	uncompiled string
}

func (c oneOp) model() *tModel {
	m := &tModel{}
	tensor := func(name string, in opIn) int32 {
		t := tTensor{name: name, shape: in.shape, typ: in.typ, data: in.data}
		if in.scale != 0 {
			t.scale, t.zp = []float32{in.scale}, []int64{in.zp}
		}
		m.tensors = append(m.tensors, t)
		return int32(len(m.tensors) - 1)
	}
	var opIns []int32
	for k, in := range c.ins {
		i := tensor("in"+string(rune('0'+k)), in)
		if in.data == nil {
			m.inputs = append(m.inputs, i)
		}
		if k == 0 && c.pool {
			p := tensor("pooled", opIn{shape: in.shape, typ: in.typ, scale: in.scale, zp: in.zp})
			m.ops = append(m.ops, tOp{code: fb.BuiltinOperatorMAX_POOL_2D, in: []int32{i}, out: []int32{p},
				optType: fb.BuiltinOptionsPool2DOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
					fb.Pool2DOptionsStart(b)
					fb.Pool2DOptionsAddPadding(b, fb.PaddingVALID)
					fb.Pool2DOptionsAddStrideW(b, 1)
					fb.Pool2DOptionsAddStrideH(b, 1)
					fb.Pool2DOptionsAddFilterWidth(b, 1)
					fb.Pool2DOptionsAddFilterHeight(b, 1)
					return fb.Pool2DOptionsEnd(b)
				}})
			i = p
		}
		opIns = append(opIns, i)
	}
	var outs []int32
	for k, o := range c.outs {
		outs = append(outs, tensor("out"+string(rune('0'+k)), o))
	}
	m.ops = append(m.ops, tOp{code: c.code, custom: c.custom, customOpts: c.customOpts, version: c.version, in: opIns, out: outs, optType: c.optType, opt: c.opt})
	m.outputs = outs
	return m
}

// run imports the model, runs it on feeds and returns the outputs. Float
// graphs must also lower with codegen.
func (c oneOp) run(t *testing.T, feeds ...*ir.Tensor) (*ir.Graph, []*ir.Tensor) {
	t.Helper()
	g, err := ImportBytes("op.tflite", c.model().build(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	out, err := interp(t, g).Run(feeds)
	if err != nil {
		t.Fatalf("%v\n%s", err, g)
	}
	c.lowers(t, g)
	return g, out
}

// lowers checks that a float graph lowers with codegen (or fails saying
// c.uncompiled).
func (c oneOp) lowers(t *testing.T, g *ir.Graph) {
	t.Helper()
	for _, v := range append(append([]*ir.Value{}, g.Params...), g.Results...) {
		if v.Type.DType != ir.F32 {
			return
		}
	}
	_, err := codegen.Lower(g)
	switch {
	case c.uncompiled == "" && err != nil:
		t.Errorf("codegen.Lower: %v\n%s", err, g)
	case c.uncompiled != "" && (err == nil || !strings.Contains(err.Error(), c.uncompiled)):
		t.Errorf("codegen.Lower: %v, want an error saying %q", err, c.uncompiled)
	}
}

// importErr imports the model and returns the error, which must name the
// op and its index and say want.
func (c oneOp) importErr(t *testing.T, want string) {
	t.Helper()
	_, err := ImportBytes("op.tflite", c.model().build(), Options{})
	if err == nil {
		t.Fatalf("%v imported; want an error saying %q", c.code, want)
	}
	index := "operator 0 "
	if c.pool {
		index = "operator 1 "
	}
	for _, s := range []string{c.code.String(), index, want} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

// randF32 is a random float input of shape and its float64 copy.
func randF32(rng *rand.Rand, shape ...int) (*ir.Tensor, nd) {
	a := newND(shape...)
	x := ir.NewTensor(ir.F32, shape)
	for i := range x.F32 {
		x.F32[i] = float32(rng.NormFloat64())
		a.v[i] = float64(x.F32[i])
	}
	return x, a
}

// randI8 is a random int8 input of shape and its stored values.
func randI8(rng *rand.Rand, shape ...int) (*ir.Tensor, nd) { return randInt(rng, ir.I8, shape...) }

// randInt is a random i8 or u8 input of shape and its stored values.
func randInt(rng *rand.Rand, dt ir.DType, shape ...int) (*ir.Tensor, nd) {
	a := newND(shape...)
	x := ir.NewTensor(dt, shape)
	lo, hi := dt.Range()
	for i := range a.v {
		x.SetInt(i, lo+rng.Int63n(hi-lo+1))
		a.v[i] = float64(x.IntAt(i))
	}
	return x, a
}

// near compares an output with a reference: exactly for integers, within
// tol (absolute and relative) for floats.
func near(t *testing.T, what string, got *ir.Tensor, want nd, tol float64) {
	t.Helper()
	if !ir.EqualShape(got.Shape, want.shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.shape)
	}
	for i, w := range want.v {
		g := got.At(i)
		if d := math.Abs(g - w); d > tol*(1+math.Abs(w)) || math.IsNaN(g) != math.IsNaN(w) {
			t.Fatalf("%s: element %v = %v, want %v", what, want.index(i), g, w)
		}
	}
}

func ints32(s []int) []int32 {
	out := make([]int32, len(s))
	for i, v := range s {
		out[i] = int32(v)
	}
	return out
}
