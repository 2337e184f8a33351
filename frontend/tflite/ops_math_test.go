package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// Float math ops against float64 references, with broadcasting, in the
// model's layout and after an NCHW producer.

type mathCase struct {
	name    string
	code    fb.BuiltinOperator
	ins     []opIn // graph inputs and f32 constants
	out     []int
	optType fb.BuiltinOptions
	opt     optFn
	gen     func(x float64) float64 // maps a normal sample to the input domain (nil: as is)
	ref     func(a []float64) float64
}

func divOpts(act fb.ActivationFunctionType) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.DivOptionsStart(b)
		fb.DivOptionsAddFusedActivationFunction(b, act)
		return fb.DivOptionsEnd(b)
	}
}

func positive(x float64) float64 { return math.Abs(x) + 0.1 }

func unaryCases(shape []int32) []mathCase {
	u := func(name string, code fb.BuiltinOperator, gen func(float64) float64, ref func(float64) float64) mathCase {
		return mathCase{name: name, code: code, ins: []opIn{f32In(shape...)}, out: toInts(shape), gen: gen,
			ref: func(a []float64) float64 { return ref(a[0]) }}
	}
	leaky := u("leaky_relu", fb.BuiltinOperatorLEAKY_RELU, nil, func(x float64) float64 { return max(x, 0.2*x) })
	leaky.optType, leaky.opt = fb.BuiltinOptionsLeakyReluOptions, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.LeakyReluOptionsStart(b)
		fb.LeakyReluOptionsAddAlpha(b, 0.2)
		return fb.LeakyReluOptionsEnd(b)
	}
	gelu := u("gelu approximate", fb.BuiltinOperatorGELU, nil, func(x float64) float64 {
		return x / 2 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	})
	gelu.optType, gelu.opt = fb.BuiltinOptionsGeluOptions, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.GeluOptionsStart(b)
		fb.GeluOptionsAddApproximate(b, true)
		return fb.GeluOptionsEnd(b)
	}
	return []mathCase{
		u("exp", fb.BuiltinOperatorEXP, nil, math.Exp),
		u("log", fb.BuiltinOperatorLOG, positive, math.Log),
		u("sqrt", fb.BuiltinOperatorSQRT, positive, math.Sqrt),
		u("rsqrt", fb.BuiltinOperatorRSQRT, positive, func(x float64) float64 { return 1 / math.Sqrt(x) }),
		u("abs", fb.BuiltinOperatorABS, nil, math.Abs),
		u("neg", fb.BuiltinOperatorNEG, nil, func(x float64) float64 { return -x }),
		leaky,
		u("elu", fb.BuiltinOperatorELU, nil, func(x float64) float64 { return max(x, 0) + math.Expm1(min(x, 0)) }),
		u("relu_0_to_1", fb.BuiltinOperatorRELU_0_TO_1, nil, func(x float64) float64 { return min(max(x, 0), 1) }),
		u("square", fb.BuiltinOperatorSQUARE, nil, func(x float64) float64 { return x * x }),
		u("floor", fb.BuiltinOperatorFLOOR, nil, math.Floor),
		u("ceil", fb.BuiltinOperatorCEIL, nil, math.Ceil),
		u("gelu", fb.BuiltinOperatorGELU, nil, func(x float64) float64 { return x / 2 * (1 + math.Erf(x/math.Sqrt2)) }),
		gelu,
	}
}

func toInts(s []int32) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

var slope = f32Const([]int32{5}, 0.1, -0.2, 0.3, 0, 1)

var binaryCases = []mathCase{
	{name: "div relu", code: fb.BuiltinOperatorDIV, ins: []opIn{f32In(1, 3, 4, 5), f32In(1, 3, 4, 5)}, out: []int{1, 3, 4, 5},
		optType: fb.BuiltinOptionsDivOptions, opt: divOpts(fb.ActivationFunctionTypeRELU),
		ref: func(a []float64) float64 { return max(a[0]/a[1], 0) }},
	{name: "div by const", code: fb.BuiltinOperatorDIV, ins: []opIn{f32In(1, 3, 4, 5), f32Const([]int32{5}, 1, 2, 4, -8, 0.5)}, out: []int{1, 3, 4, 5},
		ref: func(a []float64) float64 { return a[0] / a[1] }},
	{name: "pow", code: fb.BuiltinOperatorPOW, ins: []opIn{f32In(1, 3, 4, 5), f32In(1, 1, 1, 5)}, out: []int{1, 3, 4, 5}, gen: positive,
		ref: func(a []float64) float64 { return math.Pow(a[0], a[1]) }},
	{name: "squared difference", code: fb.BuiltinOperatorSQUARED_DIFFERENCE, ins: []opIn{f32In(1, 3, 4, 5), f32In(1, 3, 4, 5)}, out: []int{1, 3, 4, 5},
		ref: func(a []float64) float64 { return (a[0] - a[1]) * (a[0] - a[1]) }},
	{name: "squared difference const", code: fb.BuiltinOperatorSQUARED_DIFFERENCE, ins: []opIn{f32In(2, 5), f32Const([]int32{5}, 1, 2, 3, 4, 5)}, out: []int{2, 5},
		ref: func(a []float64) float64 { return (a[0] - a[1]) * (a[0] - a[1]) }},
	{name: "maximum", code: fb.BuiltinOperatorMAXIMUM, ins: []opIn{f32In(1, 3, 4, 5), f32Const([]int32{5}, 0, 0.5, -0.5, 1, -1)}, out: []int{1, 3, 4, 5},
		ref: func(a []float64) float64 { return max(a[0], a[1]) }},
	{name: "minimum", code: fb.BuiltinOperatorMINIMUM, ins: []opIn{f32In(1, 3, 4, 5), f32In(1, 3, 4, 5)}, out: []int{1, 3, 4, 5},
		ref: func(a []float64) float64 { return min(a[0], a[1]) }},
	{name: "prelu", code: fb.BuiltinOperatorPRELU, ins: []opIn{f32In(1, 3, 4, 5), slope}, out: []int{1, 3, 4, 5},
		ref: func(a []float64) float64 { return max(a[0], 0) + a[1]*min(a[0], 0) }},
	{name: "prelu 1x1xC", code: fb.BuiltinOperatorPRELU, ins: []opIn{f32In(1, 3, 4, 5), f32Const([]int32{1, 1, 5}, 0.1, -0.2, 0.3, 0, 1)}, out: []int{1, 3, 4, 5},
		ref: func(a []float64) float64 { return max(a[0], 0) + a[1]*min(a[0], 0) }},
}

// constND decodes an f32 constant.
func constND(in opIn) nd {
	a := newND(toInts(in.shape)...)
	for i := range a.v {
		a.v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(in.data[4*i:])))
	}
	return a
}

// bcast reads a at output index o with numpy broadcasting.
func bcast(a nd, o []int) float64 {
	idx := make([]int, len(a.shape))
	off := len(o) - len(a.shape)
	for d := range idx {
		if a.shape[d] != 1 {
			idx[d] = o[off+d]
		}
	}
	return a.at(idx...)
}

func (c mathCase) run(t *testing.T, rng *rand.Rand, pool bool) {
	op := oneOp{code: c.code, ins: c.ins, outs: []opIn{f32In(ints32(c.out)...)}, optType: c.optType, opt: c.opt, pool: pool}
	var feeds []*ir.Tensor
	var args []nd
	for _, in := range c.ins {
		if in.data != nil {
			args = append(args, constND(in))
			continue
		}
		x, a := randF32(rng, toInts(in.shape)...)
		if c.gen != nil {
			for i := range a.v {
				x.F32[i] = float32(c.gen(a.v[i]))
				a.v[i] = float64(x.F32[i])
			}
		}
		feeds, args = append(feeds, x), append(args, a)
	}
	_, outs := op.run(t, feeds...)
	want := newND(c.out...).fill(func(o []int) float64 {
		vals := make([]float64, len(args))
		for k, a := range args {
			vals[k] = bcast(a, o)
		}
		return c.ref(vals)
	})
	near(t, "output", outs[0], want, 1e-5)
}

func TestFloatMath(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cases := append(append(unaryCases([]int32{2, 3, 4, 5}), unaryCases([]int32{3, 7})...), binaryCases...)
	for _, c := range cases {
		for _, pool := range []bool{false, true} {
			if pool && len(c.ins[0].shape) != 4 {
				continue
			}
			t.Run(fmt.Sprintf("%s%v/pool=%v", c.name, c.ins[0].shape, pool), func(t *testing.T) { c.run(t, rng, pool) })
		}
	}
}

func reducerOpts(keep bool) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.ReducerOptionsStart(b)
		fb.ReducerOptionsAddKeepDims(b, keep)
		return fb.ReducerOptionsEnd(b)
	}
}

func TestReductions(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	in := []int{2, 3, 4, 5}
	for _, code := range []fb.BuiltinOperator{fb.BuiltinOperatorSUM, fb.BuiltinOperatorREDUCE_MAX} {
		for _, axes := range [][]int32{{1, 2}, {-1}, {0, 3}, {3, 1, 2}} {
			for _, keep := range []bool{true, false} {
				for _, pool := range []bool{false, true} {
					red := make([]bool, 4)
					for _, a := range axes {
						red[(int(a)+4)%4] = true
					}
					var out []int
					for d, n := range in {
						if !red[d] {
							out = append(out, n)
						} else if keep {
							out = append(out, 1)
						}
					}
					op := oneOp{code: code, ins: []opIn{f32In(ints32(in)...), vecConst(axes...)}, outs: []opIn{f32In(ints32(out)...)},
						optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(keep), pool: pool}
					x, a := randF32(rng, in...)
					_, outs := op.run(t, x)
					want := newND(out...)
					init := math.Inf(-1)
					if code == fb.BuiltinOperatorSUM {
						init = 0
					}
					for i := range want.v {
						want.v[i] = init
					}
					for i, v := range a.v {
						idx := a.index(i)
						var o []int
						for d, j := range idx {
							switch {
							case !red[d]:
								o = append(o, j)
							case keep:
								o = append(o, 0)
							}
						}
						f := want.flat(o)
						if code == fb.BuiltinOperatorSUM {
							want.v[f] += v
						} else {
							want.v[f] = max(want.v[f], v)
						}
					}
					near(t, fmt.Sprintf("%v axes %v keep %v pool %v", code, axes, keep, pool), outs[0], want, 1e-5)
				}
			}
		}
	}
}

// Quantized MAXIMUM / MINIMUM with one shared quantization compare stored
// integers; other quantized math is an error that names the op.
func TestQuantizedMath(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, code := range []fb.BuiltinOperator{fb.BuiltinOperatorMAXIMUM, fb.BuiltinOperatorMINIMUM} {
		for _, pool := range []bool{false, true} {
			op := oneOp{code: code, ins: []opIn{i8In(0.1, -4, 1, 3, 4, 5), i8In(0.1, -4, 1, 3, 4, 5)}, outs: []opIn{i8In(0.1, -4, 1, 3, 4, 5)}, pool: pool}
			x, a := randI8(rng, 1, 3, 4, 5)
			y, b := randI8(rng, 1, 3, 4, 5)
			_, outs := op.run(t, x, y)
			want := newND(1, 3, 4, 5)
			for i := range want.v {
				want.v[i] = max(a.v[i], b.v[i])
				if code == fb.BuiltinOperatorMINIMUM {
					want.v[i] = min(a.v[i], b.v[i])
				}
			}
			near(t, code.String(), outs[0], want, 0)
		}
	}
	for _, keep := range []bool{true, false} {
		for _, pool := range []bool{false, true} {
			out := []int32{2, 5}
			if keep {
				out = []int32{2, 1, 1, 5}
			}
			op := oneOp{code: fb.BuiltinOperatorREDUCE_MAX, ins: []opIn{i8In(0.1, -4, 2, 3, 4, 5), vecConst(2, -3)}, outs: []opIn{i8In(0.1, -4, out...)},
				optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(keep), pool: pool}
			x, a := randI8(rng, 2, 3, 4, 5)
			_, outs := op.run(t, x)
			want := newND(toInts(out)...).fill(func(o []int) float64 {
				n, c := o[0], o[len(o)-1]
				m := math.Inf(-1)
				for y := 0; y < 3; y++ {
					for xx := 0; xx < 4; xx++ {
						m = max(m, a.at(n, y, xx, c))
					}
				}
				return m
			})
			near(t, fmt.Sprintf("REDUCE_MAX keep %v pool %v", keep, pool), outs[0], want, 0)
		}
	}
	q := i8In(0.1, -4, 2, 3)
	for _, c := range []struct {
		op   oneOp
		want string
	}{
		{oneOp{code: fb.BuiltinOperatorEXP, ins: []opIn{q}, outs: []opIn{q}}, "unsupported: quantized EXP"},
		{oneOp{code: fb.BuiltinOperatorLEAKY_RELU, ins: []opIn{q}, outs: []opIn{q}}, "unsupported: quantized LEAKY_RELU"},
		{oneOp{code: fb.BuiltinOperatorMAXIMUM, ins: []opIn{q, q}, outs: []opIn{i8In(0.2, -4, 2, 3)}}, "only one shared per-tensor quantization"},
		{oneOp{code: fb.BuiltinOperatorREDUCE_MAX, ins: []opIn{q, vecConst(1)}, outs: []opIn{i8In(0.1, -4, 2)}}, "only axes [1 2] of a 4-D tensor"},
		{oneOp{code: fb.BuiltinOperatorSUM, ins: []opIn{q, vecConst(1)}, outs: []opIn{i8In(0.1, -4, 2)}}, "unsupported: quantized SUM"},
		{oneOp{code: fb.BuiltinOperatorRESIZE_BILINEAR, ins: []opIn{i8In(0.1, -4, 1, 2, 2, 1), vecConst(4, 4)}, outs: []opIn{i8In(0.1, -4, 1, 4, 4, 1)}}, "unsupported: quantized RESIZE_BILINEAR"},
		{oneOp{code: fb.BuiltinOperatorBATCH_MATMUL, ins: []opIn{f32In(2, 3), i8In(0.1, -4, 3, 2)}, outs: []opIn{f32In(2, 2)}}, "unsupported: input 1"},
	} {
		c.op.importErr(t, c.want)
	}
}

// L2_NORMALIZATION and LOG_SOFTMAX work on rows of the last dim.
func TestRowOps(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, code := range []fb.BuiltinOperator{fb.BuiltinOperatorL2_NORMALIZATION, fb.BuiltinOperatorLOG_SOFTMAX} {
		for _, shape := range [][]int{{2, 3, 4, 5}, {3, 7}} {
			for _, pool := range []bool{false, true} {
				if pool && len(shape) != 4 {
					continue
				}
				op := oneOp{code: code, ins: []opIn{f32In(ints32(shape)...)}, outs: []opIn{f32In(ints32(shape)...)}, pool: pool}
				x, a := randF32(rng, shape...)
				_, outs := op.run(t, x)
				n := shape[len(shape)-1]
				want := newND(shape...)
				for r := 0; r < len(a.v); r += n {
					row, out := a.v[r:r+n], want.v[r:r+n]
					ss, mx, se := 0.0, math.Inf(-1), 0.0
					for _, v := range row {
						ss, mx = ss+v*v, max(mx, v)
					}
					for _, v := range row {
						se += math.Exp(v - mx)
					}
					for i, v := range row {
						if code == fb.BuiltinOperatorL2_NORMALIZATION {
							out[i] = v / max(math.Sqrt(ss), 1e-6)
						} else {
							out[i] = v - mx - math.Log(se)
						}
					}
				}
				near(t, fmt.Sprintf("%v %v pool %v", code, shape, pool), outs[0], want, 1e-5)
			}
		}
	}
}

func TestAddN(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	for _, pool := range []bool{false, true} {
		op := oneOp{code: fb.BuiltinOperatorADD_N, ins: []opIn{f32In(1, 3, 4, 5), f32In(1, 3, 4, 5), f32In(1, 3, 4, 5)}, outs: []opIn{f32In(1, 3, 4, 5)}, pool: pool}
		x, a := randF32(rng, 1, 3, 4, 5)
		y, b := randF32(rng, 1, 3, 4, 5)
		z, c := randF32(rng, 1, 3, 4, 5)
		_, outs := op.run(t, x, y, z)
		want := newND(1, 3, 4, 5)
		for i := range want.v {
			want.v[i] = a.v[i] + b.v[i] + c.v[i]
		}
		near(t, fmt.Sprintf("pool %v", pool), outs[0], want, 1e-6)
	}
}

// SHAPE is a constant; RESHAPE reads its output tensor's shape whatever feeds its shape input.
func TestShapeOp(t *testing.T) {
	for _, typ := range []fb.TensorType{fb.TensorTypeINT32, fb.TensorTypeINT64} {
		op := oneOp{code: fb.BuiltinOperatorSHAPE, ins: []opIn{f32In(2, 3, 4, 5)}, outs: []opIn{{shape: []int32{4}, typ: typ}}}
		x, _ := randF32(rand.New(rand.NewSource(14)), 2, 3, 4, 5)
		_, outs := op.run(t, x)
		near(t, typ.String(), outs[0], nd{shape: []int{4}, v: []float64{2, 3, 4, 5}}, 0)
	}
}
