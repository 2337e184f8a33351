package llvm

import (
	"math/rand"
	"testing"

	pir "github.com/pare-ml/pare/ir"
)

// opCase is a small graph over one or two inputs, built by f.
type opCase struct {
	name   string
	inputs [][]int
	f      func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error)
}

func randTensor(r *rand.Rand, shape ...int) *pir.Tensor {
	t := pir.NewTensor(pir.F32, shape)
	for i := range t.F32 {
		t.F32[i] = r.Float32()*2 - 1
	}
	return t
}

func op(name string, attrs pir.Attrs, hint pir.Type, args ...*pir.Value) func(g *pir.Graph) (*pir.Value, error) {
	return func(g *pir.Graph) (*pir.Value, error) { return g.Add(name, args, attrs, hint, "", name) }
}

func unaryCase(name string, attrs pir.Attrs) opCase {
	return opCase{name, [][]int{{2, 3, 5}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op(name, attrs, pir.Type{}, in[0])(g)
	}}
}

func binaryCase(name string, a, b []int) opCase {
	return opCase{name + "_" + pir.FormatShape(b), [][]int{a, b}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op(name, nil, pir.Type{}, in[0], in[1])(g)
	}}
}

func convCase(name string, x, w []int, attrs pir.Attrs, bias bool) opCase {
	return opCase{name, [][]int{x}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		args := []*pir.Value{in[0], g.AddConst("w", randTensor(r, w...), nil)}
		if bias {
			args = append(args, g.AddConst("b", randTensor(r, w[0]), nil))
		}
		c, err := g.Add("conv", args, attrs, pir.Type{}, "c", name)
		if err != nil {
			return nil, err
		}
		return g.Add("relu", []*pir.Value{c}, nil, pir.Type{}, "r", name)
	}}
}

func resizeCase(name string, x, y []int, attrs pir.Attrs) opCase {
	return opCase{name, [][]int{x}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("resize", attrs, pir.TensorType(pir.F32, y...), in[0])(g)
	}}
}

func convTCase(name string, x, w []int, attrs pir.Attrs, bias bool) opCase {
	return opCase{name, [][]int{x}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		args := []*pir.Value{in[0], g.AddConst("w", randTensor(r, w...), nil)}
		if bias {
			args = append(args, g.AddConst("b", randTensor(r, w[1]*max(1, attrs["group"].Int)), nil))
		}
		c, err := g.Add("conv_transpose", args, attrs, pir.Type{}, "ct", name)
		if err != nil {
			return nil, err
		}
		return g.Add("relu", []*pir.Value{c}, nil, pir.Type{}, "r", name)
	}}
}

var opCases = []opCase{
	unaryCase("relu", nil), unaryCase("sigmoid", nil), unaryCase("tanh", nil), unaryCase("hardswish", nil),
	unaryCase("hardsigmoid", nil), unaryCase("exp", nil), unaryCase("abs", nil), unaryCase("neg", nil),
	unaryCase("leaky_relu", pir.Attrs{"alpha": pir.Float(0.1)}),
	unaryCase("clip", pir.Attrs{"min": pir.Float(-0.25), "max": pir.Float(0.5)}),
	unaryCase("softmax", pir.Attrs{"axis": pir.Int(1)}),
	unaryCase("softmax", pir.Attrs{"axis": pir.Int(2)}),
	unaryCase("reduce_mean", pir.Attrs{"axes": pir.Ints(1)}),
	unaryCase("reduce_max", pir.Attrs{"axes": pir.Ints(0, 2), "keepdims": pir.Int(0)}),
	unaryCase("reduce_sum", pir.Attrs{"axes": pir.Ints(2)}),
	unaryCase("transpose", pir.Attrs{"perm": pir.Ints(2, 0, 1)}),
	unaryCase("slice", pir.Attrs{"starts": pir.Ints(1, 2, 4), "ends": pir.Ints(2, -1, 0), "steps": pir.Ints(1, -1, -2)}),
	unaryCase("pad", pir.Attrs{"pads": pir.Ints(0, 1, 2, 1, 0, -1), "value": pir.Float(0.5)}),
	binaryCase("add", []int{2, 3, 5}, []int{2, 3, 5}), binaryCase("add", []int{2, 3, 5}, []int{3, 1}),
	binaryCase("sub", []int{2, 3, 5}, []int{5}), binaryCase("mul", []int{1, 3, 5}, []int{2, 1, 5}),
	binaryCase("div", []int{2, 3, 5}, []int{2, 3, 1}), binaryCase("max", []int{2, 3, 5}, []int{1}),
	binaryCase("min", []int{2, 3, 5}, []int{2, 3, 5}),
	binaryCase("matmul", []int{2, 3, 4}, []int{4, 5}), binaryCase("matmul", []int{2, 1, 3, 4}, []int{3, 4, 2}),
	{"concat_axis1", [][]int{{2, 3, 5}, {2, 2, 5}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("concat", pir.Attrs{"axis": pir.Int(1)}, pir.Type{}, in[0], in[1], in[0])(g)
	}},
	{"gemm", [][]int{{3, 7}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		b := g.AddConst("b", randTensor(r, 6, 7), nil)
		c := g.AddConst("c", randTensor(r, 6), nil)
		return op("gemm", pir.Attrs{"trans_b": pir.Int(1), "alpha": pir.Float(0.5), "beta": pir.Float(2)}, pir.Type{}, in[0], b, c)(g)
	}},
	{"gemm_trans_a_c", [][]int{{7, 3}, {3, 6}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		b := g.AddConst("b", randTensor(r, 7, 6), nil)
		return op("gemm", pir.Attrs{"trans_a": pir.Int(1)}, pir.Type{}, in[0], b, in[1])(g)
	}},
	{"batchnorm", [][]int{{2, 3, 4, 5}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		args := []*pir.Value{in[0]}
		for i := 0; i < 4; i++ {
			t := randTensor(r, 3)
			if i == 3 {
				for j := range t.F32 {
					t.F32[j] += 1.5
				}
			}
			args = append(args, g.AddConst("p", t, nil))
		}
		return op("batchnorm", nil, pir.Type{}, args...)(g)
	}},
	convCase("conv3x3", []int{1, 4, 9, 9}, []int{6, 4, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}, true),
	convCase("conv_stride_dil", []int{2, 3, 11, 10}, []int{4, 3, 3, 2}, pir.Attrs{"strides": pir.Ints(2, 3), "dilations": pir.Ints(2, 1), "pads": pir.Ints(1, 0, 2, 1)}, false),
	convCase("conv_group", []int{1, 6, 7, 7}, []int{4, 3, 3, 3}, pir.Attrs{"group": pir.Int(2), "pads": pir.Ints(0, 1, 1, 0)}, true),
	convCase("conv_depthwise", []int{1, 4, 8, 8}, []int{8, 1, 3, 3}, pir.Attrs{"group": pir.Int(4), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 1)}, true),
	convCase("conv_pointwise", []int{1, 5, 6, 6}, []int{7, 5, 1, 1}, nil, true),
	convCase("conv1d", []int{1, 3, 12}, []int{4, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 2)}, false),
	unaryCase("maxpool", pir.Attrs{"kernel": pir.Ints(2), "strides": pir.Ints(2)}),
	{"maxpool2d", [][]int{{1, 2, 9, 9}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("maxpool", pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 1), "ceil_mode": pir.Int(1)}, pir.Type{}, in[0])(g)
	}},
	{"avgpool_pad", [][]int{{1, 2, 8, 7}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("avgpool", pir.Attrs{"kernel": pir.Ints(3, 2), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 0)}, pir.Type{}, in[0])(g)
	}},
	{"avgpool_include_pad", [][]int{{1, 2, 8, 7}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("avgpool", pir.Attrs{"kernel": pir.Ints(3, 3), "pads": pir.Ints(1, 1, 1, 1), "count_include_pad": pir.Int(1)}, pir.Type{}, in[0])(g)
	}},
	{"maxpool3d_ceil_dil", [][]int{{1, 2, 6, 7, 5}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("maxpool", pir.Attrs{"kernel": pir.Ints(2, 3, 2), "strides": pir.Ints(2, 2, 1), "dilations": pir.Ints(1, 2, 2), "pads": pir.Ints(1, 0, 1, 0, 1, 0), "ceil_mode": pir.Int(1)}, pir.Type{}, in[0])(g)
	}},
	{"avgpool3d_include_pad", [][]int{{2, 1, 5, 6, 4}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("avgpool", pir.Attrs{"kernel": pir.Ints(3, 2, 3), "strides": pir.Ints(2, 2, 2), "pads": pir.Ints(1, 1, 1, 1, 0, 1), "count_include_pad": pir.Int(1), "ceil_mode": pir.Int(1)}, pir.Type{}, in[0])(g)
	}},
	{"avgpool3d_dil_ceil", [][]int{{1, 2, 7, 6, 6}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("avgpool", pir.Attrs{"kernel": pir.Ints(2, 2, 2), "strides": pir.Ints(2, 3, 2), "dilations": pir.Ints(2, 2, 1), "ceil_mode": pir.Int(1)}, pir.Type{}, in[0])(g)
	}},
	{"maxpool_index", [][]int{{2, 2, 7, 6}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("maxpool_index", pir.Attrs{"kernel": pir.Ints(3, 2), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 0)}, pir.Type{}, in[0])(g)
	}},
	{"maxpool_index_colmajor", [][]int{{1, 3, 6, 7}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("maxpool_index", pir.Attrs{"kernel": pir.Ints(2, 3), "strides": pir.Ints(1, 2), "dilations": pir.Ints(2, 1), "storage_order": pir.Int(1)}, pir.Type{}, in[0])(g)
	}},
	{"batchnorm_runtime", [][]int{{2, 3, 4, 5}, {3}, {3}, {3}, {3}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		vr, err := op("exp", nil, pir.Type{}, in[4])(g)
		if err != nil {
			return nil, err
		}
		return op("batchnorm", pir.Attrs{"epsilon": pir.Float(1e-3)}, pir.Type{}, in[0], in[1], in[2], in[3], vr)(g)
	}},
	{"global_avgpool", [][]int{{2, 3, 4, 5}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		return op("global_avgpool", nil, pir.Type{}, in[0])(g)
	}},
	resizeCase("resize_nearest_asym", []int{1, 2, 3, 4}, []int{1, 2, 6, 8}, pir.Attrs{"mode": pir.Str("nearest"), "coord": pir.Str("asymmetric"), "nearest_mode": pir.Str("floor")}),
	resizeCase("resize_nearest_down", []int{1, 2, 7, 9}, []int{1, 2, 3, 4}, pir.Attrs{"mode": pir.Str("nearest"), "nearest_mode": pir.Str("round_prefer_ceil")}),
	resizeCase("resize_nearest_tf", []int{2, 5, 5}, []int{2, 7, 3}, pir.Attrs{"mode": pir.Str("nearest"), "coord": pir.Str("tf_half_pixel_for_nn"), "nearest_mode": pir.Str("ceil")}),
	resizeCase("resize_linear_half", []int{1, 2, 4, 5}, []int{1, 2, 7, 9}, pir.Attrs{"mode": pir.Str("linear")}),
	resizeCase("resize_linear_align", []int{1, 3, 4, 4}, []int{1, 3, 8, 3}, pir.Attrs{"mode": pir.Str("linear"), "coord": pir.Str("align_corners")}),
	resizeCase("resize_linear_pytorch", []int{1, 2, 3, 5}, []int{1, 2, 1, 10}, pir.Attrs{"mode": pir.Str("linear"), "coord": pir.Str("pytorch_half_pixel")}),
	resizeCase("resize_linear_scales", []int{1, 1, 4, 4}, []int{1, 1, 8, 8}, pir.Attrs{"mode": pir.Str("linear"), "coord": pir.Str("asymmetric"), "scales": pir.Floats(1, 1, 2, 2)}),
	resizeCase("resize_linear_3d", []int{2, 3, 4}, []int{4, 5, 4}, pir.Attrs{"mode": pir.Str("linear")}),
	convTCase("conv_transpose_s2", []int{1, 4, 5, 5}, []int{4, 3, 2, 2}, pir.Attrs{"strides": pir.Ints(2, 2)}, true),
	convTCase("conv_transpose_pad", []int{2, 4, 5, 6}, []int{4, 2, 3, 3}, pir.Attrs{"strides": pir.Ints(2, 1), "pads": pir.Ints(1, 0, 1, 2), "dilations": pir.Ints(1, 2), "group": pir.Int(2), "output_padding": pir.Ints(1, 0)}, false),
	convTCase("conv_transpose_1d", []int{1, 3, 7}, []int{3, 2, 3}, pir.Attrs{"strides": pir.Ints(3), "pads": pir.Ints(1, 1)}, true),
	{"reshape_result", [][]int{{2, 3, 4}}, func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		x, err := op("relu", nil, pir.Type{}, in[0])(g)
		if err != nil {
			return nil, err
		}
		return op("reshape", nil, pir.TensorType(pir.F32, 6, 4), x)(g)
	}},
}

// TestOps compiles every case into one graph (one executable, one output
// per case) and compares with rt.
func TestOps(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	r := rand.New(rand.NewSource(7))
	g := pir.NewGraph("ops")
	var vals []*pir.Tensor
	for _, c := range opCases {
		var ins []*pir.Value
		for _, s := range c.inputs {
			ins = append(ins, g.AddParam(c.name, pir.TensorType(pir.F32, s...)))
			vals = append(vals, randTensor(r, s...))
		}
		v, err := c.f(g, r, ins)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g.Results = append(g.Results, v)
	}
	checkAgainstRT(t, g, host, nil, vals)
}
