package passes

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// qdqTestGraph is a QDQ model as quantizers write it: u8 input, a conv
// with per-channel i8 weights and an i32 bias dequantized at sx·sw[c],
// relu, quantize; a maxpool between dequantize and quantize of the same
// parameters; a gemm with an f32 bias; an add of two dequantized tensors.
func qdqTestGraph(t *testing.T) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("qdq")
	must := mustValue(t)
	add := func(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, name string) *ir.Value {
		return must(g.Add(op, args, attrs, hint, name, name))
	}
	q := func(x *ir.Value, dt ir.DType, s float32, z int64, name string) *ir.Value {
		return add("quantize", []*ir.Value{x}, nil, ir.Type{DType: dt, Quant: ir.PerTensor(s, z)}, name)
	}
	dq := func(x *ir.Value) *ir.Value { return add("dequantize", []*ir.Value{x}, nil, ir.Type{}, x.Name+".dq") }
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 3, 6, 6}})
	const sx = 0.02
	xd := dq(q(x, ir.U8, sx, 128, "xq"))
	w := ir.NewTensor(ir.I8, []int{4, 3, 3, 3})
	for i := range w.I8 {
		w.I8[i] = int8((i*37)%255 - 127)
	}
	sw := []float32{0.01, 0.02, 0.005, 0.03}
	bq := &ir.Quant{Axis: 0, Scale: make([]float32, 4), ZeroPoint: make([]int64, 4)}
	b := ir.NewTensor(ir.I32, []int{4})
	for c := range sw {
		bq.Scale[c] = sx * sw[c]
		b.I32[c] = int32(c*300 - 500)
	}
	wd := dq(g.AddConst("w", w, &ir.Quant{Axis: 0, Scale: sw, ZeroPoint: make([]int64, 4)}))
	bd := dq(g.AddConst("b", b, bq))
	conv := add("conv", []*ir.Value{xd, wd, bd}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "conv")
	r := add("relu", []*ir.Value{conv}, nil, ir.Type{}, "relu")
	yd := dq(q(r, ir.U8, 0.05, 0, "yq"))
	mp := add("maxpool", []*ir.Value{yd}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{}, "mp")
	md := dq(q(mp, ir.U8, 0.05, 0, "mq"))
	flat := add("reshape", []*ir.Value{md}, nil, ir.Type{DType: ir.F32, Shape: []int{1, 36}}, "flat")
	fd := dq(q(flat, ir.U8, 0.05, 0, "fq"))
	gw := ir.NewTensor(ir.I8, []int{36, 5})
	for i := range gw.I8 {
		gw.I8[i] = int8((i*53)%200 - 100)
	}
	gb := ir.FromF32([]int{5}, []float32{0.1, -0.2, 0.3, 0, 1})
	gemm := add("gemm", []*ir.Value{fd, dq(g.AddConst("gw", gw, ir.PerTensor(0.004, 0))), g.AddConst("gb", gb, nil)}, nil, ir.Type{}, "gemm")
	gd := dq(q(gemm, ir.I8, 0.03, -5, "gq"))
	sum := add("add", []*ir.Value{gd, gd}, nil, ir.Type{}, "sum")
	sd := dq(q(sum, ir.I8, 0.06, 0, "sq"))
	g.Results = []*ir.Value{sd}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestQDQ: the pass turns every quantize-closed group into its integer op,
// leaves one dequantize (the output's), and the outputs stay within one
// output quantization step of the float QDQ graph's (the integer conv and
// gemm round their sums once).
func TestQDQ(t *testing.T) {
	g := qdqTestGraph(t)
	before := g.Clone()
	rep, err := RunSpec(g, "qdq", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = rep
	count := map[string]int{}
	for _, v := range g.Values {
		count[v.Op.Name]++
		switch v.Op.Name {
		case "conv", "gemm", "maxpool", "add":
			if v.Type.DType == ir.F32 {
				t.Errorf("%s is still f32: %v", v.Name, v.Type)
			}
		}
		if v.Op.Name == "conv" && v.Str("act") != "relu" {
			t.Errorf("conv act %q, want the relu", v.Str("act"))
		}
	}
	if count["dequantize"] != 1 || count["relu"] != 0 || count["quantize"] != 1 {
		t.Errorf("ops after qdq: %v (want the input's quantize and the output's dequantize only)", count)
	}
	for seed := 0; seed < 4; seed++ {
		in := inputsFor(before, seed)
		a, err := rt.Run(before, in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := rt.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range a[0].F32 {
			d := math.Abs(float64(a[0].F32[i] - b[0].F32[i]))
			if d > 0.06*1.001 {
				t.Fatalf("seed %d element %d: %v float QDQ, %v integer", seed, i, a[0].F32[i], b[0].F32[i])
			}
			if d > 0 {
				diff++
			}
		}
		if diff > len(a[0].F32)/2 {
			t.Errorf("seed %d: %d of %d outputs differ", seed, diff, len(a[0].F32))
		}
	}
}

// TestQDQLeavesOthers: groups the integer forms cannot express stay float
// (a weight that is not constant, a pad with a non-zero value), and the
// dequantize of a constant a float op still reads becomes an f32 constant.
func TestQDQLeavesOthers(t *testing.T) {
	g := ir.NewGraph("keep")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 4}})
	wp := g.AddParam("w", ir.Type{DType: ir.F32, Shape: []int{4, 2}})
	add := func(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, name string) *ir.Value {
		v, err := g.Add(op, args, attrs, hint, name, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	xq := add("quantize", []*ir.Value{x}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.1, 0)}, "xq")
	wq := add("quantize", []*ir.Value{wp}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.1, 0)}, "wq")
	xd := add("dequantize", []*ir.Value{xq}, nil, ir.Type{}, "xd")
	mm := add("matmul", []*ir.Value{xd, add("dequantize", []*ir.Value{wq}, nil, ir.Type{}, "wd")}, nil, ir.Type{}, "mm")
	mq := add("quantize", []*ir.Value{mm}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.2, 0)}, "mq")
	pd := add("pad", []*ir.Value{xd}, ir.Attrs{"pads": ir.Ints(0, 1, 0, 1), "value": ir.Float(1)}, ir.Type{}, "pd")
	pq := add("quantize", []*ir.Value{pd}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.1, 0)}, "pq")
	c := g.AddConst("c", ir.FromI64([]int{4}, []int64{1, 2, 3, 4}), nil)
	c.Type.DType = ir.I8
	c.Const = &ir.Tensor{DType: ir.I8, Shape: []int{4}, I8: []int8{1, 2, 3, 4}}
	c.Type.Quant = ir.PerTensor(0.5, 1)
	s := add("add", []*ir.Value{x, add("dequantize", []*ir.Value{c}, nil, ir.Type{}, "cd")}, nil, ir.Type{}, "s")
	g.Results = []*ir.Value{mq, pq, s}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	before := g.Clone()
	if _, err := RunSpec(g, "qdq", nil); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, v := range g.Values {
		count[v.Op.Name]++
	}
	if count["matmul"] != 1 || count["pad"] != 1 || count["dequantize"] != 2 {
		t.Errorf("ops: %v (want the matmul and pad groups kept, the constant's dequantize folded)", count)
	}
	sameOutputs(t, before, g, 0, 2)
}
