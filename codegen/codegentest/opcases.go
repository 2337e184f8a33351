package codegentest

import (
	"fmt"
	"math/rand"

	"github.com/pare-ml/pare/ir"
)

// OpCase is a small f32 graph over its Inputs (shapes), built by Build.
type OpCase struct {
	Name   string
	Inputs [][]int
	Build  func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error)
}

// RandTensor fills an f32 tensor with values in [-1, 1).
func RandTensor(r *rand.Rand, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.F32, shape)
	for i := range t.F32 {
		t.F32[i] = r.Float32()*2 - 1
	}
	return t
}

func op(name string, attrs ir.Attrs, hint ir.Type, args ...*ir.Value) func(g *ir.Graph) (*ir.Value, error) {
	return func(g *ir.Graph) (*ir.Value, error) { return g.Add(name, args, attrs, hint, "", name) }
}

func unaryCase(name string, attrs ir.Attrs) OpCase {
	return OpCase{name, [][]int{{2, 3, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op(name, attrs, ir.Type{}, in[0])(g)
	}}
}

func binaryCase(name string, a, b []int) OpCase {
	return OpCase{name + "_" + ir.FormatShape(b), [][]int{a, b}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op(name, nil, ir.Type{}, in[0], in[1])(g)
	}}
}

func convCase(name string, x, w []int, attrs ir.Attrs, bias bool) OpCase {
	return OpCase{name, [][]int{x}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		args := []*ir.Value{in[0], g.AddConst("w", RandTensor(r, w...), nil)}
		if bias {
			args = append(args, g.AddConst("b", RandTensor(r, w[0]), nil))
		}
		c, err := g.Add("conv", args, attrs, ir.Type{}, "c", name)
		if err != nil {
			return nil, err
		}
		return g.Add("relu", []*ir.Value{c}, nil, ir.Type{}, "r", name)
	}}
}

func resizeCase(name string, x, y []int, attrs ir.Attrs) OpCase {
	return OpCase{name, [][]int{x}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("resize", attrs, ir.TensorType(ir.F32, y...), in[0])(g)
	}}
}

func convTCase(name string, x, w []int, attrs ir.Attrs, bias bool) OpCase {
	return OpCase{name, [][]int{x}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		args := []*ir.Value{in[0], g.AddConst("w", RandTensor(r, w...), nil)}
		if bias {
			args = append(args, g.AddConst("b", RandTensor(r, w[1]*max(1, attrs["group"].Int)), nil))
		}
		c, err := g.Add("conv_transpose", args, attrs, ir.Type{}, "ct", name)
		if err != nil {
			return nil, err
		}
		return g.Add("relu", []*ir.Value{c}, nil, ir.Type{}, "r", name)
	}}
}

// OpCases are the f32 cases every backend compiles and compares with rt.
var OpCases = []OpCase{
	// Kernels are named after their values: names alike in their first 64
	// bytes (unrolled RNN steps) still make distinct kernels.
	{"long_names", [][]int{{2, 3}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		long := "If_0_then_branch__Inline_0___decoder_rnn_LSTM_output_0_d0_t0_cell_state"
		a, err := g.Add("softmax", in, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, long+"_a", "")
		if err != nil {
			return nil, err
		}
		b, err := g.Add("softmax", []*ir.Value{a}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, long+"_b", "")
		if err != nil {
			return nil, err
		}
		return g.Add("mul", []*ir.Value{a, b}, nil, ir.Type{}, long+"_c", "")
	}},
	unaryCase("relu", nil), unaryCase("sigmoid", nil), unaryCase("tanh", nil), unaryCase("hardswish", nil),
	unaryCase("hardsigmoid", nil), unaryCase("exp", nil), unaryCase("abs", nil), unaryCase("neg", nil),
	unaryCase("leaky_relu", ir.Attrs{"alpha": ir.Float(0.1)}),
	unaryCase("clip", ir.Attrs{"min": ir.Float(-0.25), "max": ir.Float(0.5)}),
	unaryCase("softmax", ir.Attrs{"axis": ir.Int(1)}),
	unaryCase("softmax", ir.Attrs{"axis": ir.Int(2)}),
	unaryCase("reduce_mean", ir.Attrs{"axes": ir.Ints(1)}),
	unaryCase("reduce_max", ir.Attrs{"axes": ir.Ints(0, 2), "keepdims": ir.Int(0)}),
	unaryCase("reduce_sum", ir.Attrs{"axes": ir.Ints(2)}),
	unaryCase("transpose", ir.Attrs{"perm": ir.Ints(2, 0, 1)}),
	unaryCase("slice", ir.Attrs{"starts": ir.Ints(1, 2, 4), "ends": ir.Ints(2, -1, 0), "steps": ir.Ints(1, -1, -2)}),
	unaryCase("pad", ir.Attrs{"pads": ir.Ints(0, 1, 2, 1, 0, -1), "value": ir.Float(0.5)}),
	{"pad_reflect", [][]int{{1, 2, 4, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("pad", ir.Attrs{"pads": ir.Ints(0, 0, 2, 1, 0, 0, 1, 3), "mode": ir.Str("reflect")}, ir.Type{}, in[0])(g)
	}},
	{"pad_edge", [][]int{{2, 3, 4}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("pad", ir.Attrs{"pads": ir.Ints(1, 0, 2, 0, 3, 1), "mode": ir.Str("edge")}, ir.Type{}, in[0])(g)
	}},
	binaryCase("add", []int{2, 3, 5}, []int{2, 3, 5}), binaryCase("add", []int{2, 3, 5}, []int{3, 1}),
	binaryCase("sub", []int{2, 3, 5}, []int{5}), binaryCase("mul", []int{1, 3, 5}, []int{2, 1, 5}),
	binaryCase("div", []int{2, 3, 5}, []int{2, 3, 1}), binaryCase("max", []int{2, 3, 5}, []int{1}),
	binaryCase("min", []int{2, 3, 5}, []int{2, 3, 5}),
	binaryCase("matmul", []int{2, 3, 4}, []int{4, 5}), binaryCase("matmul", []int{2, 1, 3, 4}, []int{3, 4, 2}),
	{"concat_axis1", [][]int{{2, 3, 5}, {2, 2, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("concat", ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, in[0], in[1], in[0])(g)
	}},
	{"gemm", [][]int{{3, 7}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		b := g.AddConst("b", RandTensor(r, 6, 7), nil)
		c := g.AddConst("c", RandTensor(r, 6), nil)
		return op("gemm", ir.Attrs{"trans_b": ir.Int(1), "alpha": ir.Float(0.5), "beta": ir.Float(2)}, ir.Type{}, in[0], b, c)(g)
	}},
	{"gemm_trans_a_c", [][]int{{7, 3}, {3, 6}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		b := g.AddConst("b", RandTensor(r, 7, 6), nil)
		return op("gemm", ir.Attrs{"trans_a": ir.Int(1)}, ir.Type{}, in[0], b, in[1])(g)
	}},
	{"gemm_beta_c_runtime", [][]int{{3, 7}, {3, 6}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		b := g.AddConst("b", RandTensor(r, 7, 6), nil)
		return op("gemm", ir.Attrs{"alpha": ir.Float(1.5), "beta": ir.Float(0.5)}, ir.Type{}, in[0], b, in[1])(g)
	}},
	{"gemm_beta_c_const", [][]int{{3, 7}, {7, 6}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		c := g.AddConst("c", RandTensor(r, 3, 1), nil)
		return op("gemm", ir.Attrs{"beta": ir.Float(-0.25)}, ir.Type{}, in[0], in[1], c)(g)
	}},
	{"batchnorm", [][]int{{2, 3, 4, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		args := []*ir.Value{in[0]}
		for i := 0; i < 4; i++ {
			t := RandTensor(r, 3)
			if i == 3 {
				for j := range t.F32 {
					t.F32[j] += 1.5
				}
			}
			args = append(args, g.AddConst("p", t, nil))
		}
		return op("batchnorm", nil, ir.Type{}, args...)(g)
	}},
	convCase("conv3x3", []int{1, 4, 9, 9}, []int{6, 4, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, true),
	convCase("conv_stride_dil", []int{2, 3, 11, 10}, []int{4, 3, 3, 2}, ir.Attrs{"strides": ir.Ints(2, 3), "dilations": ir.Ints(2, 1), "pads": ir.Ints(1, 0, 2, 1)}, false),
	convCase("conv_group", []int{1, 6, 7, 7}, []int{4, 3, 3, 3}, ir.Attrs{"group": ir.Int(2), "pads": ir.Ints(0, 1, 1, 0)}, true),
	convCase("conv_depthwise", []int{1, 4, 8, 8}, []int{8, 1, 3, 3}, ir.Attrs{"group": ir.Int(4), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1)}, true),
	convCase("conv_pointwise", []int{1, 5, 6, 6}, []int{7, 5, 1, 1}, nil, true),
	convCase("conv1d", []int{1, 3, 12}, []int{4, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 2)}, false),
	unaryCase("maxpool", ir.Attrs{"kernel": ir.Ints(2), "strides": ir.Ints(2)}),
	{"maxpool2d", [][]int{{1, 2, 9, 9}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("maxpool", ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "ceil_mode": ir.Int(1)}, ir.Type{}, in[0])(g)
	}},
	{"avgpool_pad", [][]int{{1, 2, 8, 7}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("avgpool", ir.Attrs{"kernel": ir.Ints(3, 2), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 0)}, ir.Type{}, in[0])(g)
	}},
	{"avgpool_whole_plane", [][]int{{2, 3, 6, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("avgpool", ir.Attrs{"kernel": ir.Ints(6, 5), "strides": ir.Ints(6, 5)}, ir.Type{}, in[0])(g)
	}},
	{"avgpool_include_pad", [][]int{{1, 2, 8, 7}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("avgpool", ir.Attrs{"kernel": ir.Ints(3, 3), "pads": ir.Ints(1, 1, 1, 1), "count_include_pad": ir.Int(1)}, ir.Type{}, in[0])(g)
	}},
	{"maxpool3d_ceil_dil", [][]int{{1, 2, 6, 7, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("maxpool", ir.Attrs{"kernel": ir.Ints(2, 3, 2), "strides": ir.Ints(2, 2, 1), "dilations": ir.Ints(1, 2, 2), "pads": ir.Ints(1, 0, 1, 0, 1, 0), "ceil_mode": ir.Int(1)}, ir.Type{}, in[0])(g)
	}},
	{"avgpool3d_include_pad", [][]int{{2, 1, 5, 6, 4}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("avgpool", ir.Attrs{"kernel": ir.Ints(3, 2, 3), "strides": ir.Ints(2, 2, 2), "pads": ir.Ints(1, 1, 1, 1, 0, 1), "count_include_pad": ir.Int(1), "ceil_mode": ir.Int(1)}, ir.Type{}, in[0])(g)
	}},
	{"avgpool3d_dil_ceil", [][]int{{1, 2, 7, 6, 6}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("avgpool", ir.Attrs{"kernel": ir.Ints(2, 2, 2), "strides": ir.Ints(2, 3, 2), "dilations": ir.Ints(2, 2, 1), "ceil_mode": ir.Int(1)}, ir.Type{}, in[0])(g)
	}},
	{"maxpool_index", [][]int{{2, 2, 7, 6}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("maxpool_index", ir.Attrs{"kernel": ir.Ints(3, 2), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 0)}, ir.Type{}, in[0])(g)
	}},
	{"maxpool_index_colmajor", [][]int{{1, 3, 6, 7}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("maxpool_index", ir.Attrs{"kernel": ir.Ints(2, 3), "strides": ir.Ints(1, 2), "dilations": ir.Ints(2, 1), "storage_order": ir.Int(1)}, ir.Type{}, in[0])(g)
	}},
	{"batchnorm_runtime", [][]int{{2, 3, 4, 5}, {3}, {3}, {3}, {3}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		vr, err := op("exp", nil, ir.Type{}, in[4])(g)
		if err != nil {
			return nil, err
		}
		return op("batchnorm", ir.Attrs{"epsilon": ir.Float(1e-3)}, ir.Type{}, in[0], in[1], in[2], in[3], vr)(g)
	}},
	{"global_avgpool", [][]int{{2, 3, 4, 5}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		return op("global_avgpool", nil, ir.Type{}, in[0])(g)
	}},
	resizeCase("resize_nearest_asym", []int{1, 2, 3, 4}, []int{1, 2, 6, 8}, ir.Attrs{"mode": ir.Str("nearest"), "coord": ir.Str("asymmetric"), "nearest_mode": ir.Str("floor")}),
	resizeCase("resize_nearest_down", []int{1, 2, 7, 9}, []int{1, 2, 3, 4}, ir.Attrs{"mode": ir.Str("nearest"), "nearest_mode": ir.Str("round_prefer_ceil")}),
	resizeCase("resize_nearest_tf", []int{2, 5, 5}, []int{2, 7, 3}, ir.Attrs{"mode": ir.Str("nearest"), "coord": ir.Str("tf_half_pixel_for_nn"), "nearest_mode": ir.Str("ceil")}),
	resizeCase("resize_linear_half", []int{1, 2, 4, 5}, []int{1, 2, 7, 9}, ir.Attrs{"mode": ir.Str("linear")}),
	resizeCase("resize_linear_align", []int{1, 3, 4, 4}, []int{1, 3, 8, 3}, ir.Attrs{"mode": ir.Str("linear"), "coord": ir.Str("align_corners")}),
	resizeCase("resize_linear_pytorch", []int{1, 2, 3, 5}, []int{1, 2, 1, 10}, ir.Attrs{"mode": ir.Str("linear"), "coord": ir.Str("pytorch_half_pixel")}),
	resizeCase("resize_linear_scales", []int{1, 1, 4, 4}, []int{1, 1, 8, 8}, ir.Attrs{"mode": ir.Str("linear"), "coord": ir.Str("asymmetric"), "scales": ir.Floats(1, 1, 2, 2)}),
	resizeCase("resize_linear_3d", []int{2, 3, 4}, []int{4, 5, 4}, ir.Attrs{"mode": ir.Str("linear")}),
	convTCase("conv_transpose_s2", []int{1, 4, 5, 5}, []int{4, 3, 2, 2}, ir.Attrs{"strides": ir.Ints(2, 2)}, true),
	convTCase("conv_transpose_pad", []int{2, 4, 5, 6}, []int{4, 2, 3, 3}, ir.Attrs{"strides": ir.Ints(2, 1), "pads": ir.Ints(1, 0, 1, 2), "dilations": ir.Ints(1, 2), "group": ir.Int(2), "output_padding": ir.Ints(1, 0)}, false),
	convTCase("conv_transpose_1d", []int{1, 3, 7}, []int{3, 2, 3}, ir.Attrs{"strides": ir.Ints(3), "pads": ir.Ints(1, 1)}, true),
	{"reshape_result", [][]int{{2, 3, 4}}, func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		x, err := op("relu", nil, ir.Type{}, in[0])(g)
		if err != nil {
			return nil, err
		}
		return op("reshape", nil, ir.TensorType(ir.F32, 6, 4), x)(g)
	}},
}

// OpsGraph builds the given cases into one graph (one result per case)
// with deterministic inputs in [-1, 1).
func OpsGraph(cases []OpCase) (*ir.Graph, []*ir.Tensor, error) {
	r := rand.New(rand.NewSource(7))
	g := ir.NewGraph("ops")
	var vals []*ir.Tensor
	for _, c := range cases {
		var ins []*ir.Value
		for _, s := range c.Inputs {
			ins = append(ins, g.AddParam(c.Name, ir.TensorType(ir.F32, s...)))
			vals = append(vals, RandTensor(r, s...))
		}
		v, err := c.Build(g, r, ins)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", c.Name, err)
		}
		g.Results = append(g.Results, v)
	}
	return g, vals, nil
}
