package codegentest

import (
	"math/rand"

	"github.com/pare-ml/pare/ir"
)

// GatherCases are gathers whose indices are graph inputs (codegen.KGather:
// the indices are read at run time); both backends run them with IntCases.
// IntOpsGraph draws the index inputs in range (ValidIndices).
var GatherCases = []IntCase{
	// An embedding lookup: token ids into a constant f32 table.
	{"gather_embedding", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		table := g.AddConst("table", RandTensor(r, 50, 16), nil)
		ids := add(ir.TensorType(ir.I64, 2, 7))
		return g.Add("gather", []*ir.Value{table, ids}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, "gather_embedding", "gather_embedding")
	}},
	// Axis 1 of a 4-D f32 input, 2-D i32 indices (negative ones too).
	{"gather_axis1_i32", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.F32, 2, 5, 3, 4))
		ix := add(ir.TensorType(ir.I32, 2, 3))
		return g.Add("gather", []*ir.Value{x, ix}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "gather_axis1_i32", "gather_axis1_i32")
	}},
	// Quantized data: the result keeps x's quantization.
	{"gather_i8_quant", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.I8, 0.05, -3, 4, 6, 5))
		ix := add(ir.TensorType(ir.I64, 3))
		return g.Add("gather", []*ir.Value{x, ix}, ir.Attrs{"axis": ir.Int(2)}, ir.Type{}, "gather_i8_quant", "gather_i8_quant")
	}},
	// A scalar index: the gathered dim goes away.
	{"gather_u8_scalar", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(QT(ir.U8, 0.02, 128, 3, 7, 2))
		ix := add(ir.TensorType(ir.I32))
		return g.Add("gather", []*ir.Value{x, ix}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "gather_u8_scalar", "gather_u8_scalar")
	}},
	{"gather_i64_data", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.I64, 6, 4))
		ix := add(ir.TensorType(ir.I64, 2, 5))
		return g.Add("gather", []*ir.Value{x, ix}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, "gather_i64_data", "gather_i64_data")
	}},
	// Bools computed by an earlier step, at i32 indices.
	{"gather_bool", func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		x := add(ir.TensorType(ir.F32, 4, 3))
		ix := add(ir.TensorType(ir.I32, 5))
		b, err := g.Add("greater", []*ir.Value{x, g.AddConst("zero", ir.FromF32([]int{1}, []float32{0}), nil)}, nil, ir.Type{}, "gt", "gt")
		if err != nil {
			return nil, err
		}
		return g.Add("gather", []*ir.Value{b, ix}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "gather_bool", "gather_bool")
	}},
}

// ValidIndices redraws the values of the parameters of g that are the
// indices of a gather (vals[i] holds parameter i's) in [-n, n), n the size
// of the gathered axis, so that the gathers run: an index set of two or
// more holds both ends, -n and n-1.
func ValidIndices(g *ir.Graph, vals []*ir.Tensor, r *rand.Rand) {
	param := map[*ir.Value]int{}
	for i, p := range g.Params {
		param[p] = i
	}
	for _, v := range g.Values {
		if v.Op == nil || v.Op.Name != "gather" {
			continue
		}
		i, ok := param[v.Args[1]]
		if !ok || i >= len(vals) {
			continue
		}
		x, ax := v.Args[0].Type, v.Int("axis")
		if ax < 0 {
			ax += x.Rank()
		}
		if ax < 0 || ax >= x.Rank() || x.Shape[ax] == 0 {
			continue
		}
		n := int64(x.Shape[ax])
		t := ir.NewTensor(v.Args[1].Type.DType, v.Args[1].Type.Shape)
		for j := 0; j < t.Len(); j++ {
			t.SetInt(j, r.Int63n(2*n)-n)
		}
		if k := t.Len(); k >= 2 {
			t.SetInt(0, -n)
			t.SetInt(k-1, n-1)
		}
		vals[i] = t
	}
}
