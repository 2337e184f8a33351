package codegentest

import (
	"fmt"
	"math/rand"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// Sparse weights: convs and gemms (f32 and integer) whose constant weights
// are mostly zeros, in every geometry the sparse kernels cover. Both
// backends compile them with codegen's sparse kernels and compare with rt.

// Sparsify zeroes each element of t with probability 1-density.
func Sparsify(r *rand.Rand, t *ir.Tensor, density float64) *ir.Tensor {
	for i := 0; i < t.Len(); i++ {
		if r.Float64() >= density {
			t.SetInt(i, 0)
			if t.DType == ir.F32 {
				t.F32[i] = 0
			}
		}
	}
	return t
}

type sparseCase struct {
	name  string
	build func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error)
}

func sparseConvF32(name string, x, w []int, attrs ir.Attrs, bias bool, density float64) sparseCase {
	return sparseCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		args := []*ir.Value{add(ir.TensorType(ir.F32, x...)), g.AddConst(name+"_w", Sparsify(r, RandTensor(r, w...), density), nil)}
		if bias {
			args = append(args, g.AddConst(name+"_b", RandTensor(r, w[0]), nil))
		}
		c, err := g.Add("conv", args, attrs, ir.Type{}, name, name)
		if err != nil {
			return nil, err
		}
		return g.Add("relu", []*ir.Value{c}, nil, ir.Type{}, name+"_relu", name)
	}}
}

func sparseGemmF32(name, op string, a, b []int, attrs ir.Attrs, bias bool, density float64) sparseCase {
	return sparseCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		args := []*ir.Value{add(ir.TensorType(ir.F32, a...)), g.AddConst(name+"_b", Sparsify(r, RandTensor(r, b...), density), nil)}
		if bias {
			n := b[len(b)-1]
			if _, ok := attrs["trans_b"]; ok {
				n = b[0]
			}
			args = append(args, g.AddConst(name+"_c", RandTensor(r, n), nil))
		}
		return g.Add(op, args, attrs, ir.Type{}, name, name)
	}}
}

func sparseConvInt(name string, dt ir.DType, x, w []int, attrs ir.Attrs, density float64) sparseCase {
	return sparseCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		zx := int64(-3)
		if dt == ir.U8 {
			zx = 120
		}
		scales := make([]float32, w[0])
		zps := make([]int64, w[0])
		for i := range scales {
			scales[i] = 0.002 + 0.003*r.Float32()
		}
		wt := ir.Type{DType: ir.I8, Shape: w, Quant: QAxis(0, scales, zps)}
		wc := g.AddConst(name+"_w", Sparsify(r, RandInt(r, wt), density), wt.Quant)
		args := []*ir.Value{add(QT(dt, 0.05, zx, x...)), wc, I32Const(g, r, w[0])}
		return g.Add("conv", args, attrs, QT(dt, 0.04, zx/2, nil...), name, name)
	}}
}

func sparseGemmInt(name string, a, b []int, attrs ir.Attrs, density float64) sparseCase {
	return sparseCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		bt := QT(ir.I8, 0.01, 0, b...)
		bc := g.AddConst(name+"_b", Sparsify(r, RandInt(r, bt), density), bt.Quant)
		n := b[1]
		if _, ok := attrs["trans_b"]; ok {
			n = b[0]
		}
		args := []*ir.Value{add(QT(ir.U8, 0.05, 100, a...)), bc, I32Const(g, r, n)}
		return g.Add("gemm", args, attrs, QT(ir.U8, 0.2, 90, nil...), name, name)
	}}
}

var sparseCases = []sparseCase{
	sparseConvF32("sp_conv3x3", []int{1, 8, 10, 12}, []int{16, 8, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, true, 0.15),
	sparseConvF32("sp_conv5x5_s2_batch", []int{2, 4, 11, 9}, []int{12, 4, 5, 5}, ir.Attrs{"pads": ir.Ints(2, 1, 2, 2), "strides": ir.Ints(2, 2)}, false, 0.2),
	sparseConvF32("sp_conv_group_dil", []int{1, 6, 9, 9}, []int{16, 3, 3, 3}, ir.Attrs{"group": ir.Int(2), "dilations": ir.Ints(2, 1), "pads": ir.Ints(0, 1, 1, 0)}, true, 0.3),
	sparseConvF32("sp_depthwise", []int{1, 32, 7, 7}, []int{32, 1, 3, 3}, ir.Attrs{"group": ir.Int(32), "pads": ir.Ints(1, 1, 1, 1), "strides": ir.Ints(2, 2)}, true, 0.3),
	sparseConvF32("sp_conv1d", []int{1, 10, 20}, []int{14, 10, 3}, ir.Attrs{"pads": ir.Ints(1, 1)}, true, 0.1),
	sparseConvF32("sp_pointwise", []int{1, 32, 5, 6}, []int{24, 32, 1, 1}, nil, true, 0.1),
	sparseGemmF32("sp_gemm_transb", "gemm", []int{3, 40}, []int{30, 40}, ir.Attrs{"trans_b": ir.Int(1)}, true, 0.2),
	sparseGemmF32("sp_matmul_batch", "matmul", []int{2, 3, 40}, []int{40, 20}, nil, false, 0.25),
	sparseConvInt("sp_qconv_i8", ir.I8, []int{1, 8, 9, 7}, []int{16, 8, 3, 3}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1), "act": ir.Str("relu")}, 0.15),
	sparseConvInt("sp_qconv_u8_s2_tflite", ir.U8, []int{1, 8, 11, 11}, []int{12, 8, 3, 3}, ir.Attrs{"strides": ir.Ints(2, 2), "rq": ir.Str("tflite"), "pads": ir.Ints(0, 1, 1, 0)}, 0.15),
	sparseConvInt("sp_qdepthwise", ir.I8, []int{1, 32, 6, 6}, []int{32, 1, 3, 3}, ir.Attrs{"group": ir.Int(32), "pads": ir.Ints(1, 1, 1, 1)}, 0.15),
	sparseGemmInt("sp_qgemm", []int{2, 64}, []int{64, 30}, nil, 0.15),
	sparseGemmInt("sp_qgemm_transb", []int{1, 64}, []int{30, 64}, ir.Attrs{"trans_b": ir.Int(1)}, 0.15),
}

// SparseGraph builds every sparse case into one graph (one result per
// case) with deterministic inputs. Encode, when not "", is a pass pipeline
// run on the graph first, e.g. "sparse{min=0.5}" or
// "share{bits=4},sparse{min=0.5}", so that the weights reach codegen as
// the IR's compressed encodings.
func SparseGraph(encode string) (*ir.Graph, []*ir.Tensor, error) {
	r := rand.New(rand.NewSource(5))
	g := ir.NewGraph("sparse")
	var vals []*ir.Tensor
	for _, c := range sparseCases {
		add := func(ty ir.Type) *ir.Value {
			if ty.DType == ir.F32 {
				vals = append(vals, RandTensor(r, ty.Shape...))
			} else {
				vals = append(vals, RandInt(r, ty))
			}
			return g.AddParam(c.name, ty)
		}
		v, err := c.build(g, r, add)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", c.name, err)
		}
		g.Results = append(g.Results, v)
	}
	if encode != "" {
		if _, err := passes.RunSpec(g, encode, nil); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", encode, err)
		}
	}
	return g, vals, ir.Verify(g)
}
