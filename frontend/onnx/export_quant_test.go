package onnx

import (
	"bytes"
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// quantGraph builds a small quantized graph covering the quantized rows:
// quantize, integer conv (per-channel weights, i32 bias, act clip on a
// zero point inside the range), maxpool, requantize, relu, reshape, integer
// gemm (per-column weights, relu), matmul with an i32 result, dequantize.
func quantGraph(t *testing.T) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("q")
	x := g.AddParam("x", ir.Type{DType: ir.F32, Shape: []int{1, 2, 6, 6}})
	must := func(v *ir.Value, err error) *ir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	fill := func(dt ir.DType, shape []int, f func(i int) int64) *ir.Tensor {
		w := ir.NewTensor(dt, shape)
		for i := 0; i < w.Len(); i++ {
			w.SetInt(i, f(i))
		}
		return w
	}
	xq := must(g.Add("quantize", []*ir.Value{x}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.02, 3)}, "xq", ""))
	wq := &ir.Quant{Axis: 0, Scale: []float32{0.01, 0.02, 0.015}, ZeroPoint: []int64{0, 0, 0}}
	w := g.AddConst("w", fill(ir.I8, []int{3, 2, 3, 3}, func(i int) int64 { return int64((i*37)%255 - 127) }), wq)
	bq := &ir.Quant{Axis: 0, Scale: []float32{0.0002, 0.0004, 0.0003}, ZeroPoint: []int64{0, 0, 0}}
	b := g.AddConst("b", fill(ir.I32, []int{3}, func(i int) int64 { return int64(i*500 - 400) }), bq)
	conv := must(g.Add("conv", []*ir.Value{xq, w, b}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1), "act": ir.Str("clip"),
		"act_min": ir.Float(-20), "act_max": ir.Float(90)}, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.05, -5)}, "conv", ""))
	pool := must(g.Add("maxpool", []*ir.Value{conv}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{}, "pool", ""))
	rq := must(g.Add("requantize", []*ir.Value{pool}, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.04, 10)}, "rq", ""))
	relu := must(g.Add("relu", []*ir.Value{rq}, nil, ir.Type{}, "relu", ""))
	flat := must(g.Add("reshape", []*ir.Value{relu}, nil, ir.Type{Shape: []int{1, 27}}, "flat", ""))
	gq := &ir.Quant{Axis: 1, Scale: []float32{0.01, 0.03, 0.02, 0.01}, ZeroPoint: []int64{0, 0, 0, 0}}
	gw := g.AddConst("gw", fill(ir.I8, []int{27, 4}, func(i int) int64 { return int64((i*53)%255 - 127) }), gq)
	gb := g.AddConst("gb", fill(ir.I32, []int{1, 4}, func(i int) int64 { return int64(i*300 - 500) }), nil)
	gemm := must(g.Add("gemm", []*ir.Value{flat, gw, gb}, ir.Attrs{"act": ir.Str("relu")}, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.1, -2)}, "gemm", ""))
	dq := must(g.Add("dequantize", []*ir.Value{gemm}, nil, ir.Type{}, "dq", ""))
	g.Results = []*ir.Value{dq}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// accGraph: integer conv (bias, relu) and gemm (trans_b, bias) with i32
// results on an i8 graph input (ConvInteger / MatMulInteger).
func accGraph(t *testing.T) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("acc")
	x := g.AddParam("x", ir.Type{DType: ir.I8, Shape: []int{1, 2, 5, 5}, Quant: ir.PerTensor(0.5, 3)})
	must := func(v *ir.Value, err error) *ir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	fill := func(dt ir.DType, shape []int, f func(i int) int64) *ir.Tensor {
		w := ir.NewTensor(dt, shape)
		for i := 0; i < w.Len(); i++ {
			w.SetInt(i, f(i))
		}
		return w
	}
	w := g.AddConst("w", fill(ir.I8, []int{3, 2, 3, 3}, func(i int) int64 { return int64((i*37)%255 - 127) }), ir.PerTensor(1, 0))
	b := g.AddConst("b", fill(ir.I32, []int{3}, func(i int) int64 { return int64(i*500 - 400) }), nil)
	conv := must(g.Add("conv", []*ir.Value{x, w, b}, ir.Attrs{"act": ir.Str("relu")}, ir.Type{DType: ir.I32}, "conv", ""))
	flat := must(g.Add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: []int{2, 25}}, "flat", ""))
	gw := g.AddConst("gw", fill(ir.I8, []int{4, 25}, func(i int) int64 { return int64((i*53)%255 - 127) }), ir.PerTensor(1, 0))
	gb := g.AddConst("gb", fill(ir.I32, []int{4}, func(i int) int64 { return int64(i*300 - 500) }), nil)
	gemm := must(g.Add("gemm", []*ir.Value{flat, gw, gb}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{DType: ir.I32}, "gemm", ""))
	g.Results = []*ir.Value{conv, gemm}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestExportQuantForms: both quantized forms import back (onnx.Import reads
// QDQ, QLinear and Integer nodes) and compute rt's results: within one step
// of the output scale for QDQ (float ops between), identical for QOperator.
func TestExportQuantForms(t *testing.T) {
	g := quantGraph(t)
	x := ir.NewTensor(ir.F32, []int{1, 2, 6, 6})
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i)*0.7)) * 2
	}
	checkForms(t, g, x, 0.1*1.001) // QDQ: within one step of gemm's scale
	ag := accGraph(t)
	xi := ir.NewTensor(ir.I8, []int{1, 2, 5, 5})
	for i := range xi.I8 {
		xi.I8[i] = int8((i*29)%256 - 128)
	}
	checkForms(t, ag, xi, 0)
	if w := QuantWarnings(g); len(w) != 0 {
		t.Errorf("warnings for rq=float: %v", w)
	}
	g.Lookup("rq").Attrs["rq"] = ir.Str("tflite")
	if w := QuantWarnings(g); len(w) != 1 {
		t.Errorf("rq=tflite warnings: %v", w)
	}
}

func checkForms(t *testing.T, g *ir.Graph, x *ir.Tensor, qdqTol float64) {
	t.Helper()
	want, err := rt.Run(g, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExportModel(g, ExportOptions{}); err == nil {
		t.Error("the float form wrote a quantized graph")
	}
	for _, form := range []string{FormQDQ, FormQOperator} {
		var buf bytes.Buffer
		if err := ExportWith(g, &buf, ExportOptions{Form: form}); err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		back, err := ImportBytes("q", buf.Bytes(), Options{})
		if err != nil {
			t.Fatalf("%s: import: %v", form, err)
		}
		got, err := rt.Run(back, []*ir.Tensor{x})
		if err != nil {
			t.Fatalf("%s: run: %v", form, err)
		}
		for r := range want {
			for i := 0; i < want[r].Len(); i++ {
				a, b := want[r].At(i), got[r].At(i)
				tol := 0.0
				if form == FormQDQ {
					tol = qdqTol
				}
				if math.Abs(a-b) > tol {
					t.Errorf("%s: result %d element %d: %v, rt %v", form, r, i, b, a)
				}
			}
		}
	}
}
