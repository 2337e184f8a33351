package rt

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
)

func seq(n int) []float32 {
	r := make([]float32, n)
	for i := range r {
		r[i] = float32(i + 1)
	}
	return r
}

func TestPooling(t *testing.T) {
	x44 := f32t(shp(1, 1, 4, 4), seq(16)...)
	x22 := f32t(shp(1, 1, 2, 2), 1, 2, 3, 4)
	cases := []struct {
		name  string
		op    string
		x     *ir.Tensor
		attrs ir.Attrs
		shape []int
		want  []float32
	}{
		// ONNX test_averagepool_2d_ceil / test_maxpool_2d_ceil.
		{"avg ceil", "avgpool", x44, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "ceil_mode": ir.Int(1)}, shp(1, 1, 2, 2), []float32{6, 7.5, 12, 13.5}},
		{"max ceil", "maxpool", x44, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "ceil_mode": ir.Int(1)}, shp(1, 1, 2, 2), []float32{11, 12, 15, 16}},
		{"max floor", "maxpool", x44, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2)}, shp(1, 1, 1, 1), []float32{11}},
		// Pads: count_include_pad counts the padded positions.
		{"avg pads include", "avgpool", x22, ir.Attrs{"kernel": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "count_include_pad": ir.Int(1)}, shp(1, 1, 3, 3),
			[]float32{0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1}},
		{"avg pads exclude", "avgpool", x22, ir.Attrs{"kernel": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1)}, shp(1, 1, 3, 3),
			[]float32{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}},
		{"max pads", "maxpool", f32t(shp(1, 1, 2, 2), -1, -2, -3, -4), ir.Attrs{"kernel": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1)}, shp(1, 1, 3, 3),
			[]float32{-1, -1, -2, -1, -1, -2, -3, -3, -4}},
		// The ceil-mode overhang never counts, even with count_include_pad.
		{"avg ceil overhang", "avgpool", f32t(shp(1, 1, 1, 5), seq(5)...), ir.Attrs{"kernel": ir.Ints(1, 2), "strides": ir.Ints(1, 2), "ceil_mode": ir.Int(1), "count_include_pad": ir.Int(1)},
			shp(1, 1, 1, 3), []float32{1.5, 3.5, 5}},
		{"avg ceil overhang with pad", "avgpool", f32t(shp(1, 1, 1, 5), seq(5)...), ir.Attrs{"kernel": ir.Ints(1, 3), "strides": ir.Ints(1, 2), "pads": ir.Ints(0, 1, 0, 0), "ceil_mode": ir.Int(1), "count_include_pad": ir.Int(1)},
			shp(1, 1, 1, 3), []float32{1, 3, 4.5}},
		// Dilation and 1-D / 3-D.
		{"max 1-D dilated", "maxpool", f32t(shp(1, 1, 6), 3, 1, 4, 1, 5, 9), ir.Attrs{"kernel": ir.Ints(2), "dilations": ir.Ints(2)}, shp(1, 1, 4), []float32{4, 1, 5, 9}},
		{"avg 3-D", "avgpool", f32t(shp(1, 1, 2, 2, 2), seq(8)...), ir.Attrs{"kernel": ir.Ints(2, 2, 2)}, shp(1, 1, 1, 1, 1), []float32{4.5}},
	}
	for _, c := range cases {
		got := eval1(t, c.op, []*ir.Tensor{c.x}, nil, c.attrs, ir.Type{})
		if !ir.EqualShape(got.Shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.name, got.Shape, c.shape)
			continue
		}
		closeF32(t, c.name, got.F32, c.want, 1e-6, 0)
	}
}

func TestMaxPoolIntegerAndIndex(t *testing.T) {
	x := intTensor(ir.U8, shp(1, 2, 2, 3), 1, 6, 3, 4, 5, 2, 9, 0, 0, 0, 0, 8)
	got := eval1(t, "maxpool", []*ir.Tensor{x}, nil, ir.Attrs{"kernel": ir.Ints(2, 2)}, ir.Type{})
	equalInts(t, "maxpool u8", got, []int64{6, 6, 9, 8})
	xi := intTensor(ir.I8, shp(1, 1, 1, 3), -128, -100, -128)
	equalInts(t, "maxpool i8 pads", eval1(t, "maxpool", []*ir.Tensor{xi}, nil, ir.Attrs{"kernel": ir.Ints(1, 2), "pads": ir.Ints(0, 1, 0, 1)}, ir.Type{}), []int64{-128, -100, -100, -128})
	// Quantized maxpool keeps the stored integers.
	q := ir.PerTensor(0.1, 3)
	equalInts(t, "maxpool quantized", eval1(t, "maxpool", []*ir.Tensor{x}, []*ir.Quant{q}, ir.Attrs{"kernel": ir.Ints(2, 2)}, ir.Type{}), []int64{6, 6, 9, 8})

	xf := f32t(shp(1, 2, 2, 3), 1, 6, 3, 4, 5, 2, 9, 0, 0, 0, 0, 8)
	// Row-major flat index over N*C*H*W: channel 1 starts at 6.
	idx := eval1(t, "maxpool_index", []*ir.Tensor{xf}, nil, ir.Attrs{"kernel": ir.Ints(2, 2)}, ir.Type{})
	equalInts(t, "index row-major", idx, []int64{1, 1, 6, 11})
	// Column-major within the plane: (h, w) → h + w*H.
	idx = eval1(t, "maxpool_index", []*ir.Tensor{xf}, nil, ir.Attrs{"kernel": ir.Ints(2, 2), "storage_order": ir.Int(1)}, ir.Type{})
	equalInts(t, "index column-major", idx, []int64{2, 2, 6, 6 + 1 + 2*2})
}

func TestGlobalPoolReduceSoftmaxBatchNorm(t *testing.T) {
	x := f32t(shp(1, 2, 2, 2), 1, 2, 3, 4, 10, 20, 30, 40)
	closeF32(t, "global_avgpool", eval1(t, "global_avgpool", []*ir.Tensor{x}, nil, nil, ir.Type{}).F32, []float32{2.5, 25}, 1e-6, 0)
	y := f32t(shp(2, 3), 1, 5, 3, -4, 2, 0)
	closeF32(t, "reduce_mean", eval1(t, "reduce_mean", []*ir.Tensor{y}, nil, ir.Attrs{"axes": ir.Ints(1), "keepdims": ir.Int(0)}, ir.Type{}).F32, []float32{3, -2.0 / 3}, 1e-6, 0)
	closeF32(t, "reduce_sum", eval1(t, "reduce_sum", []*ir.Tensor{y}, nil, ir.Attrs{"axes": ir.Ints(0)}, ir.Type{}).F32, []float32{-3, 7, 3}, 1e-6, 0)
	closeF32(t, "reduce_max all", eval1(t, "reduce_max", []*ir.Tensor{y}, nil, ir.Attrs{"axes": ir.Ints(0, 1), "keepdims": ir.Int(0)}, ir.Type{}).F32, []float32{5}, 0, 0)
	yi := intTensor(ir.I8, shp(2, 2), -5, -7, 3, -128)
	equalInts(t, "reduce_max i8", eval1(t, "reduce_max", []*ir.Tensor{yi}, nil, ir.Attrs{"axes": ir.Ints(1)}, ir.Type{}), []int64{-5, 3})
	a := f32t(shp(2, 4), 1, 7, 7, -2, 3, 3, 0, 3)
	equalInts(t, "argmax first", eval1(t, "argmax", []*ir.Tensor{a}, nil, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}), []int64{1, 0})
	equalInts(t, "argmax last", eval1(t, "argmax", []*ir.Tensor{a}, nil, ir.Attrs{"axis": ir.Int(1), "select_last_index": ir.Int(1)}, ir.Type{}), []int64{2, 3})
	equalInts(t, "argmax axis 0", eval1(t, "argmax", []*ir.Tensor{a}, nil, ir.Attrs{"axis": ir.Int(0), "keepdims": ir.Int(0)}, ir.Type{DType: ir.I32}), []int64{1, 0, 0, 1})
	equalInts(t, "argmax i8", eval1(t, "argmax", []*ir.Tensor{yi}, nil, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}), []int64{1, 0})

	s := eval1(t, "softmax", []*ir.Tensor{f32t(shp(2, 2), 1000, 1001, 0, 0)}, nil, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
	e := float32(1 / (1 + math.E))
	closeF32(t, "softmax large", s.F32, []float32{e, 1 - e, 0.5, 0.5}, 1e-6, 0)
	s = eval1(t, "softmax", []*ir.Tensor{f32t(shp(2, 2), 0, 0, 1000, 1001)}, nil, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	closeF32(t, "softmax axis 0", s.F32, []float32{0, 0, 1, 1}, 1e-6, 1e-7)

	bn := eval1(t, "batchnorm", []*ir.Tensor{x, f32t(shp(2), 2, 1), f32t(shp(2), 1, 0), f32t(shp(2), 2, 20), f32t(shp(2), 4, 100)}, nil, ir.Attrs{"epsilon": ir.Float(0)}, ir.Type{})
	closeF32(t, "batchnorm", bn.F32, []float32{0, 1, 2, 3, -1, 0, 1, 2}, 1e-6, 1e-7)
}

func TestQuantizedAvgPool(t *testing.T) {
	// Dequantize, average, quantize: (1+2+3+4)*0.5/4 = 1.25 → /0.5 = 2.5 → 2, + zp 1.
	q := ir.PerTensor(0.5, 0)
	x := intTensor(ir.I8, shp(1, 1, 2, 2), 1, 2, 3, 4)
	got := eval1(t, "avgpool", []*ir.Tensor{x}, []*ir.Quant{q}, ir.Attrs{"kernel": ir.Ints(2, 2)}, ir.Type{Quant: ir.PerTensor(0.5, 1)})
	equalInts(t, "avgpool quantized", got, []int64{3})
}
