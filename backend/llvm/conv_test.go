package llvm

import (
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/ir"
)

// convShape is an f32 conv (+ relu, or + add of a second input, relu) over
// the shapes the packed GEMM blocks unevenly: remainder rows and columns,
// several K blocks, groups, strides.
func convShape(name string, x, w []int, attrs ir.Attrs, res []int) codegentest.OpCase {
	ins := [][]int{x}
	residual := res != nil
	if residual {
		ins = append(ins, res)
	}
	c := codegentest.OpCase{Name: name, Inputs: ins, Build: func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		args := []*ir.Value{in[0], g.AddConst("w", codegentest.RandTensor(r, w...), nil), g.AddConst("b", codegentest.RandTensor(r, w[0]), nil)}
		v, err := g.Add("conv", args, attrs, ir.Type{}, "c", name)
		if err != nil {
			return nil, err
		}
		if residual {
			if v, err = g.Add("add", []*ir.Value{v, in[1]}, nil, ir.Type{}, "a", name); err != nil {
				return nil, err
			}
		}
		return g.Add("relu", []*ir.Value{v}, nil, ir.Type{}, "r", name)
	}}
	return c
}

// TestConvShapes compiles f32 convs whose GEMMs have full and partial
// register tiles, several K blocks and groups, and compares with rt.
func TestConvShapes(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	pad1 := ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}
	cases := []codegentest.OpCase{
		convShape("c3x3_m13", []int{1, 20, 9, 9}, []int{13, 20, 3, 3}, pad1, nil),
		convShape("c3x3_k576", []int{1, 64, 6, 7}, []int{14, 64, 3, 3}, pad1, nil),
		convShape("c3x3_group", []int{1, 40, 8, 8}, []int{22, 20, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1), "group": ir.Int(2)}, nil),
		convShape("c1x1_k300", []int{1, 300, 5, 5}, []int{7, 300, 1, 1}, nil, nil),
		convShape("c1x1_s2", []int{1, 24, 9, 9}, []int{12, 24, 1, 1}, ir.Attrs{"strides": ir.Ints(2, 2)}, nil),
		convShape("c7x7_s2", []int{2, 3, 20, 20}, []int{8, 3, 7, 7}, ir.Attrs{"strides": ir.Ints(2, 2), "pads": ir.Ints(3, 3, 3, 3)}, nil),
		convShape("c1x1_res", []int{1, 32, 8, 8}, []int{24, 32, 1, 1}, nil, []int{1, 24, 8, 8}),
		convShape("c3x3_res", []int{1, 16, 8, 8}, []int{18, 16, 3, 3}, pad1, []int{1, 18, 8, 8}),
		// Several column blocks (blockRows), the last one overlapping.
		convShape("c3x3_blocks", []int{1, 64, 21, 8}, []int{10, 64, 3, 3}, pad1, []int{1, 10, 21, 8}),
		convShape("c3x3_blocks_odd", []int{1, 64, 20, 13}, []int{7, 64, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1), "strides": ir.Ints(1, 1)}, nil),
		convShape("c3x3_blocks_s2", []int{1, 16, 81, 16}, []int{9, 16, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 0, 1, 2), "strides": ir.Ints(2, 1)}, nil),
		convShape("c1x1_blocks", []int{1, 300, 45, 8}, []int{13, 300, 1, 1}, nil, []int{1, 13, 45, 8}),
		// Depthwise along rows (stride 1 across): vector blocks, single
		// vectors, edge columns, kernel rows entering and leaving.
		convShape("dw5x5_w28", []int{1, 1, 28, 28}, []int{8, 1, 5, 5}, ir.Attrs{"pads": ir.Ints(2, 2, 2, 2), "group": ir.Int(1)}, nil),
		convShape("dw3x3_w75", []int{2, 3, 6, 75}, []int{3, 1, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1), "group": ir.Int(3)}, nil),
		convShape("dw3x3_sh2_dil", []int{1, 4, 13, 44}, []int{8, 1, 3, 3}, ir.Attrs{"pads": ir.Ints(2, 2, 1, 0), "group": ir.Int(4), "strides": ir.Ints(2, 1), "dilations": ir.Ints(2, 2)}, nil),
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, host, nil, vals)
}

func TestBlockRows(t *testing.T) {
	for _, c := range []struct {
		k, oh, ow, want int
	}{
		{576, 21, 8, 10}, {576, 20, 13, 16}, {300, 45, 8, 20}, {576, 6, 7, 6}, {864, 160, 160, 1}, {576, 56, 56, 2},
	} {
		if got := blockRows(&codegen.Conv{OH: c.oh, OW: c.ow}, c.k); got != c.want {
			t.Errorf("blockRows(K=%d, %dx%d) = %d, want %d", c.k, c.oh, c.ow, got, c.want)
		}
	}
}

// convTShape is an f32 conv_transpose with bias.
func convTShape(name string, x, w []int, attrs ir.Attrs) codegentest.OpCase {
	return codegentest.OpCase{Name: name, Inputs: [][]int{x}, Build: func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		groups := 1
		if a, ok := attrs["group"]; ok {
			groups = int(a.Int)
		}
		args := []*ir.Value{in[0], g.AddConst("w", codegentest.RandTensor(r, w...), nil), g.AddConst("b", codegentest.RandTensor(r, w[1]*groups), nil)}
		return g.Add("conv_transpose", args, attrs, ir.Type{}, "ct", name)
	}}
}

// TestConvTransposeShapes covers the upsampling transposed conv's vector
// blocks, partial blocks and scalar tail, and kernels other than 2×2.
func TestConvTransposeShapes(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	cases := []codegentest.OpCase{
		convTShape("ct2x2_w45", []int{1, 5, 3, 45}, []int{5, 3, 2, 2}, ir.Attrs{"strides": ir.Ints(2, 2)}),
		convTShape("ct3x3_w19_group", []int{2, 4, 2, 19}, []int{4, 2, 3, 3}, ir.Attrs{"strides": ir.Ints(3, 3), "group": ir.Int(2)}),
		convTShape("ct2x1_w16", []int{1, 3, 4, 16}, []int{3, 1, 2, 1}, ir.Attrs{"strides": ir.Ints(2, 1)}),
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, host, nil, vals)
}

// TestPoolShapes covers the row-wise pooling's vectorized interior and
// unrolled edge columns on planes wider than a vector.
func TestPoolShapes(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	pool := func(name, op string, x []int, attrs ir.Attrs) codegentest.OpCase {
		return codegentest.OpCase{Name: name, Inputs: [][]int{x}, Build: func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
			return g.Add(op, []*ir.Value{in[0]}, attrs, ir.Type{}, "p", name)
		}}
	}
	cases := []codegentest.OpCase{
		pool("max3x3_s2", "maxpool", []int{1, 3, 37, 45}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2)}),
		pool("max3x3_s2_pad_ceil", "maxpool", []int{1, 2, 30, 41}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "ceil_mode": ir.Int(1)}),
		pool("avg3x3_pad", "avgpool", []int{1, 2, 20, 33}, ir.Attrs{"kernel": ir.Ints(3, 3), "pads": ir.Ints(1, 1, 1, 1)}),
		pool("avg5x3_s1x2", "avgpool", []int{2, 1, 19, 40}, ir.Attrs{"kernel": ir.Ints(5, 3), "strides": ir.Ints(1, 2), "pads": ir.Ints(2, 0, 2, 1), "count_include_pad": ir.Int(1)}),
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, host, nil, vals)
}
