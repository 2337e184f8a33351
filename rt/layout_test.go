package rt

import (
	"testing"

	"github.com/pare-ml/pare/ir"
)

func TestLayout(t *testing.T) {
	x := f32t(shp(2, 3), 1, 2, 3, 4, 5, 6)
	cases := []struct {
		name  string
		op    string
		args  []*ir.Tensor
		attrs ir.Attrs
		hint  ir.Type
		shape []int
		want  []float32
	}{
		{"transpose", "transpose", []*ir.Tensor{x}, ir.Attrs{"perm": ir.Ints(1, 0)}, ir.Type{}, shp(3, 2), []float32{1, 4, 2, 5, 3, 6}},
		{"transpose 3-D", "transpose", []*ir.Tensor{f32t(shp(2, 2, 2), seq(8)...)}, ir.Attrs{"perm": ir.Ints(2, 0, 1)}, ir.Type{}, shp(2, 2, 2), []float32{1, 3, 5, 7, 2, 4, 6, 8}},
		{"reshape", "reshape", []*ir.Tensor{x}, nil, ir.Type{Shape: shp(3, 1, 2)}, shp(3, 1, 2), []float32{1, 2, 3, 4, 5, 6}},
		{"slice", "slice", []*ir.Tensor{x}, ir.Attrs{"starts": ir.Ints(1, 0), "ends": ir.Ints(2, 3), "steps": ir.Ints(1, 2)}, ir.Type{}, shp(1, 2), []float32{4, 6}},
		{"slice negative step", "slice", []*ir.Tensor{x}, ir.Attrs{"starts": ir.Ints(1, 2), "ends": ir.Ints(-1, -1), "steps": ir.Ints(-1, -2)}, ir.Type{}, shp(2, 2), []float32{6, 4, 3, 1}},
		{"concat 0", "concat", []*ir.Tensor{x, f32t(shp(1, 3), 7, 8, 9)}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, shp(3, 3), []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"concat 1", "concat", []*ir.Tensor{x, f32t(shp(2, 1), 7, 8)}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, shp(2, 4), []float32{1, 2, 3, 7, 4, 5, 6, 8}},
		{"expand", "expand", []*ir.Tensor{f32t(shp(2, 1), 1, 2)}, nil, ir.Type{Shape: shp(2, 2, 3)}, shp(2, 2, 3), []float32{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}},
		{"gather", "gather", []*ir.Tensor{x, i64t(shp(3), 2, -3, 0)}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, shp(2, 3), []float32{3, 1, 1, 6, 4, 4}},
		{"gather 2-D indices", "gather", []*ir.Tensor{x, intTensor(ir.I32, shp(2, 2), 1, 0, 1, 1)}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}, shp(2, 2, 3),
			[]float32{4, 5, 6, 1, 2, 3, 4, 5, 6, 4, 5, 6}},
		{"pad constant", "pad", []*ir.Tensor{x}, ir.Attrs{"pads": ir.Ints(0, 1, 1, 0), "value": ir.Float(9)}, ir.Type{}, shp(3, 4),
			[]float32{9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9}},
		{"pad reflect", "pad", []*ir.Tensor{f32t(shp(1, 3), 1, 2, 3)}, ir.Attrs{"pads": ir.Ints(0, 2, 0, 2), "mode": ir.Str("reflect")}, ir.Type{}, shp(1, 7),
			[]float32{3, 2, 1, 2, 3, 2, 1}},
		{"pad edge", "pad", []*ir.Tensor{f32t(shp(1, 3), 1, 2, 3)}, ir.Attrs{"pads": ir.Ints(0, 2, 0, 1), "mode": ir.Str("edge")}, ir.Type{}, shp(1, 6),
			[]float32{1, 1, 1, 2, 3, 3}},
		{"pad negative crops", "pad", []*ir.Tensor{x}, ir.Attrs{"pads": ir.Ints(0, -1, -1, 1)}, ir.Type{}, shp(1, 3), []float32{2, 3, 0}},
	}
	for _, c := range cases {
		got := eval1(t, c.op, c.args, nil, c.attrs, c.hint)
		if !ir.EqualShape(got.Shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.name, got.Shape, c.shape)
			continue
		}
		closeF32(t, c.name, got.F32, c.want, 0, 0)
	}
}

func TestLayoutOtherTypes(t *testing.T) {
	b := &ir.Tensor{DType: ir.Bool, Shape: shp(2, 2), Bool: []bool{true, false, false, true}}
	got := eval1(t, "transpose", []*ir.Tensor{b}, nil, ir.Attrs{"perm": ir.Ints(1, 0)}, ir.Type{})
	if got.Bool[1] || got.Bool[2] || !got.Bool[0] || !got.Bool[3] {
		t.Errorf("bool transpose = %v", got.Bool)
	}
	// Quantized pad fills with the quantized pad value (the zero point for 0).
	x := intTensor(ir.U8, shp(1, 2), 7, 8)
	q := ir.PerTensor(0.5, 128)
	equalInts(t, "pad quantized", eval1(t, "pad", []*ir.Tensor{x}, []*ir.Quant{q}, ir.Attrs{"pads": ir.Ints(0, 1, 0, 1)}, ir.Type{}), []int64{128, 7, 8, 128})
	equalInts(t, "pad quantized value", eval1(t, "pad", []*ir.Tensor{x}, []*ir.Quant{q}, ir.Attrs{"pads": ir.Ints(0, 1, 0, 0), "value": ir.Float(1)}, ir.Type{}), []int64{130, 7, 8})
	// Concat of differently quantized inputs requantizes into the result.
	y := intTensor(ir.U8, shp(1, 1), 10)
	got = eval1(t, "concat", []*ir.Tensor{x, y}, []*ir.Quant{q, ir.PerTensor(1, 0)}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
	equalInts(t, "concat requantized", got, []int64{7, 8, 148})
	// Same quantization: stored integers.
	got = eval1(t, "concat", []*ir.Tensor{x, y}, []*ir.Quant{q, q}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
	equalInts(t, "concat stored", got, []int64{7, 8, 10})
	equalInts(t, "slice i64", eval1(t, "slice", []*ir.Tensor{i64t(shp(4), 1, 2, 3, 4)}, nil, ir.Attrs{"starts": ir.Ints(3), "ends": ir.Ints(0), "steps": ir.Ints(-2)}, ir.Type{}), []int64{4, 2})
}

func TestGatherOutOfRange(t *testing.T) {
	b := newGB(t)
	x := b.param("x", ir.TensorType(ir.F32, 3))
	v := b.op("gather", []*ir.Value{x, b.cnst("i", i64t(shp(1), 3), nil)}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	b.g.Results = []*ir.Value{v}
	if _, err := Run(b.g, []*ir.Tensor{f32t(shp(3), 1, 2, 3)}); err == nil {
		t.Error("gather with index 3 of 3: no error")
	}
}

func TestResize(t *testing.T) {
	x := f32t(shp(1, 1, 2, 2), 1, 2, 3, 4)
	cases := []struct {
		name  string
		x     *ir.Tensor
		attrs ir.Attrs
		shape []int
		want  []float32
	}{
		// ONNX resize_upsample_scales_nearest.
		{"nearest up", x, ir.Attrs{"scales": ir.Floats(1, 1, 2, 3)}, shp(1, 1, 4, 6),
			[]float32{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}},
		// ONNX resize_upsample_scales_linear.
		{"linear up", x, ir.Attrs{"mode": ir.Str("linear"), "scales": ir.Floats(1, 1, 2, 2)}, shp(1, 1, 4, 4),
			[]float32{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}},
		// ONNX resize_upsample_scales_linear_align_corners.
		{"linear align_corners", x, ir.Attrs{"mode": ir.Str("linear"), "coord": ir.Str("align_corners")}, shp(1, 1, 4, 4),
			[]float32{1, 4.0 / 3, 5.0 / 3, 2, 5.0 / 3, 2, 7.0 / 3, 8.0 / 3, 7.0 / 3, 8.0 / 3, 3, 10.0 / 3, 3, 10.0 / 3, 11.0 / 3, 4}},
		// ONNX resize_downsample_scales_nearest.
		{"nearest down", f32t(shp(1, 1, 2, 4), seq(8)...), ir.Attrs{"scales": ir.Floats(1, 1, 0.6, 0.6)}, shp(1, 1, 1, 2), []float32{1, 3}},
		// asymmetric + floor: the classic nearest upsample.
		{"nearest asymmetric floor", f32t(shp(1, 3), 1, 2, 3), ir.Attrs{"coord": ir.Str("asymmetric"), "nearest_mode": ir.Str("floor")}, shp(1, 6), []float32{1, 1, 2, 2, 3, 3}},
		{"nearest round_prefer_ceil", f32t(shp(1, 2), 1, 2), ir.Attrs{"coord": ir.Str("asymmetric"), "nearest_mode": ir.Str("round_prefer_ceil")}, shp(1, 4), []float32{1, 2, 2, 2}},
		{"pytorch_half_pixel to 1", f32t(shp(1, 4), 1, 2, 3, 4), ir.Attrs{"mode": ir.Str("linear"), "coord": ir.Str("pytorch_half_pixel")}, shp(1, 1), []float32{1}},
	}
	for _, c := range cases {
		got := eval1(t, "resize", []*ir.Tensor{c.x}, nil, c.attrs, ir.Type{Shape: c.shape})
		closeF32(t, c.name, got.F32, c.want, 1e-6, 1e-6)
	}
}
