package onnx

import (
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestConverters imports one-node (or few-node) models and checks the ops
// they become, the result type and, where given, the values rt computes on
// x = 0, 1, 2, ...
func TestConverters(t *testing.T) {
	i8 := func(v ...int8) *ir.Tensor { return &ir.Tensor{DType: ir.I8, Shape: []int{len(v)}, I8: v} }
	u8s := func(v uint8) *ir.Tensor { return &ir.Tensor{DType: ir.U8, Shape: []int{}, U8: []uint8{v}} }
	for _, tc := range []struct {
		name  string
		m     *mb
		ops   []string
		shape []int
		vals  []float32
		err   string
	}{
		{name: "pad constant opset 11", m: newModel(11).input("x", dtFloat, 1, 3).init("p", i64s(0, 1, 0, 2)).init("v", ir.ScalarF32(-1)).
			node("Pad", []string{"x", "p", "v"}, []string{"y"}), ops: []string{"pad"}, shape: []int{1, 6}, vals: []float32{-1, 0, 1, 2, -1, -1}},
		{name: "pad reflect opset 2", m: newModel(7).input("x", dtFloat, 1, 3).node("Pad", []string{"x"}, []string{"y"}, aInts("pads", 0, 2, 0, 1), aStr("mode", "reflect")),
			ops: []string{"pad"}, shape: []int{1, 6}, vals: []float32{2, 1, 0, 1, 2, 1}},
		{name: "pad edge axes opset 18", m: newModel(18).input("x", dtFloat, 1, 3).init("p", i64s(1, 1)).init("a", i64s(-1)).
			node("Pad", []string{"x", "p", "", "a"}, []string{"y"}, aStr("mode", "edge")), ops: []string{"pad"}, shape: []int{1, 5}, vals: []float32{0, 0, 1, 2, 2}},
		{name: "pad wrap", m: newModel(19).input("x", dtFloat, 3).init("p", i64s(1, 1)).node("Pad", []string{"x", "p"}, []string{"y"}, aStr("mode", "wrap")), err: "not supported"},
		{name: "split opset 11", m: newModel(11).input("x", dtFloat, 5).node("Split", []string{"x"}, []string{"a", "y"}, aInts("split", 2, 3)),
			ops: []string{"slice"}, shape: []int{3}, vals: []float32{2, 3, 4}},
		{name: "split num_outputs", m: newModel(18).input("x", dtFloat, 5).node("Split", []string{"x"}, []string{"a", "b", "y"}, aInt("num_outputs", 3)),
			ops: []string{"slice"}, shape: []int{1}, vals: []float32{4}},
		{name: "gather", m: newModel(13).input("x", dtFloat, 3, 2).init("i", i64s(-1, 0)).node("Gather", []string{"x", "i"}, []string{"y"}),
			ops: []string{"gather"}, shape: []int{2, 2}, vals: []float32{4, 5, 0, 1}},
		{name: "gather out of range", m: newModel(13).input("x", dtFloat, 3, 2).init("i", i64s(3)).node("Gather", []string{"x", "i"}, []string{"y"}), err: "out of range"},
		{name: "expand", m: newModel(13).input("x", dtFloat, 3, 1).init("s", i64s(2, 1, 2)).node("Expand", []string{"x", "s"}, []string{"y"}),
			ops: []string{"expand"}, shape: []int{2, 3, 2}, vals: []float32{0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}},
		{name: "squeeze opset 11", m: newModel(11).input("x", dtFloat, 1, 3, 1).node("Squeeze", []string{"x"}, []string{"y"}, aInts("axes", -1)), ops: []string{"reshape"}, shape: []int{1, 3}},
		{name: "squeeze all", m: newModel(13).input("x", dtFloat, 1, 3, 1).node("Squeeze", []string{"x"}, []string{"y"}), ops: []string{"reshape"}, shape: []int{3}},
		{name: "squeeze non-1", m: newModel(13).input("x", dtFloat, 2, 3).init("a", i64s(0)).node("Squeeze", []string{"x", "a"}, []string{"y"}), err: "cannot squeeze"},
		{name: "unsqueeze opset 13", m: newModel(13).input("x", dtFloat, 3).init("a", i64s(0, -1)).node("Unsqueeze", []string{"x", "a"}, []string{"y"}), ops: []string{"reshape"}, shape: []int{1, 3, 1}},
		{name: "flatten", m: newModel(13).input("x", dtFloat, 2, 3, 4).node("Flatten", []string{"x"}, []string{"y"}, aInt("axis", 0)), ops: []string{"reshape"}, shape: []int{1, 24}},
		{name: "reduce mean opset 13", m: newModel(13).input("x", dtFloat, 2, 3).node("ReduceMean", []string{"x"}, []string{"y"}, aInts("axes", -1), aInt("keepdims", 0)),
			ops: []string{"reduce_mean"}, shape: []int{2}, vals: []float32{1, 4}},
		{name: "reduce sum opset 13 all", m: newModel(13).input("x", dtFloat, 2, 3).node("ReduceSum", []string{"x"}, []string{"y"}), ops: []string{"reduce_sum"}, shape: []int{1, 1}, vals: []float32{15}},
		{name: "reduce max noop", m: newModel(18).input("x", dtFloat, 2, 3).node("ReduceMax", []string{"x"}, []string{"y"}, aInt("noop_with_empty_axes", 1)), ops: nil, shape: []int{2, 3}},
		{name: "reduce mean opset 18 input", m: newModel(18).input("x", dtFloat, 2, 3).init("a", i64s(0)).node("ReduceMean", []string{"x", "a"}, []string{"y"}), ops: []string{"reduce_mean"}, shape: []int{1, 3}, vals: []float32{1.5, 2.5, 3.5}},
		{name: "global max pool", m: newModel(13).input("x", dtFloat, 1, 2, 2, 2).node("GlobalMaxPool", []string{"x"}, []string{"y"}), ops: []string{"reduce_max"}, shape: []int{1, 2, 1, 1}, vals: []float32{3, 7}},
		{name: "clip opset 6", m: newModel(6).input("x", dtFloat, 4).node("Clip", []string{"x"}, []string{"y"}, aFloat("min", 1), aFloat("max", 2)), ops: []string{"clip"}, shape: []int{4}, vals: []float32{1, 1, 2, 2}},
		{name: "shape start end", m: newModel(15).input("x", dtFloat, 2, 3, 4).node("Shape", []string{"x"}, []string{"y"}, aInt("start", 1), aInt("end", -1)), ops: nil, shape: []int{1}},
		{name: "size", m: newModel(13).input("x", dtFloat, 2, 3, 4).node("Size", []string{"x"}, []string{"y"}), ops: nil, shape: []int{}},
		{name: "range where equal", m: newModel(13).input("x", dtFloat, 2, 3).init("a", i64s(0)).init("b", i64s(3)).init("d", i64s(1)).
			node("Squeeze", []string{"a"}, []string{"a0"}).node("Squeeze", []string{"b"}, []string{"b0"}).node("Squeeze", []string{"d"}, []string{"d0"}).
			node("Range", []string{"a0", "b0", "d0"}, []string{"r"}).init("one", i64s(1)).node("Equal", []string{"r", "one"}, []string{"e"}).
			init("m", i64s(-1, -1, -1)).node("Where", []string{"e", "m", "r"}, []string{"s"}).node("Not", []string{"e"}, []string{"ne"}).
			init("two", i64s(2)).node("Slice", []string{"s", "d", "two"}, []string{"s1"}).node("Concat", []string{"s1", "two"}, []string{"shape"}, aInt("axis", 0)).
			node("Reshape", []string{"x", "shape"}, []string{"y"}), ops: []string{"reshape"}, shape: []int{3, 2}},
		{name: "constant forms", m: newModel(13).input("x", dtFloat, 2).node("Constant", nil, []string{"c"}, aFloat("value_float", 2)).
			node("Mul", []string{"x", "c"}, []string{"y"}), ops: []string{"mul"}, shape: []int{2}, vals: []float32{0, 2}},
		{name: "cast same dtype", m: newModel(13).input("x", dtFloat, 2).node("Cast", []string{"x"}, []string{"y"}, aInt("to", 1)), ops: nil, shape: []int{2}},
		{name: "cast to double", m: newModel(13).input("x", dtFloat, 2).node("Cast", []string{"x"}, []string{"y"}, aInt("to", 11)), err: "DOUBLE is not supported"},
		{name: "mean", m: newModel(13).input("x", dtFloat, 2).node("Relu", []string{"x"}, []string{"r"}).node("Mean", []string{"x", "r", "x"}, []string{"y"}),
			ops: []string{"relu", "add", "add", "div"}, shape: []int{2}, vals: []float32{0, 1}},
		{name: "pow int exponent", m: newModel(13).input("x", dtFloat, 3).init("e", i64s(2)).node("Pow", []string{"x", "e"}, []string{"y"}), ops: []string{"pow"}, shape: []int{3}, vals: []float32{0, 1, 4}},
		{name: "legacy broadcast opset 6", m: newModel(6).input("x", dtFloat, 2, 3, 2).init("b", f32s([]int{3}, 10, 20, 30)).
			node("Add", []string{"x", "b"}, []string{"y"}, aInt("broadcast", 1), aInt("axis", 1)), ops: []string{"add"}, shape: []int{2, 3, 2}, vals: []float32{10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41}},
		{name: "prelu opset 6 per channel", m: newModel(6).input("x", dtFloat, 1, 2, 1, 2).init("s", f32s([]int{2}, 0.5, 2)).node("Neg", []string{"x"}, []string{"n"}).
			node("PRelu", []string{"n", "s"}, []string{"y"}), ops: []string{"neg", "prelu"}, shape: []int{1, 2, 1, 2}, vals: []float32{0, -0.5, -4, -6}},
		{name: "upsample opset 9", m: newModel(9).input("x", dtFloat, 1, 1, 1, 2).init("s", f32s([]int{4}, 1, 1, 2, 2)).node("Upsample", []string{"x", "s"}, []string{"y"}),
			ops: []string{"resize"}, shape: []int{1, 1, 2, 4}, vals: []float32{0, 0, 1, 1, 0, 0, 1, 1}},
		{name: "resize sizes axes", m: newModel(18).input("x", dtFloat, 1, 1, 2, 2).init("z", i64s(4)).node("Resize", []string{"x", "", "", "z"}, []string{"y"}, aInts("axes", 3)),
			ops: []string{"resize"}, shape: []int{1, 1, 2, 4}},
		{name: "resize cubic", m: newModel(13).input("x", dtFloat, 1, 1, 2, 2).init("s", f32s([]int{4}, 1, 1, 2, 2)).node("Resize", []string{"x", "", "s"}, []string{"y"}, aStr("mode", "cubic")),
			ops: []string{"reshape", "matmul", "matmul", "reshape"}, shape: []int{1, 1, 4, 4}},
		{name: "resize lanczos", m: newModel(13).input("x", dtFloat, 1, 1, 2, 2).init("s", f32s([]int{4}, 1, 1, 2, 2)).node("Resize", []string{"x", "", "s"}, []string{"y"}, aStr("mode", "lanczos")), err: "not supported"},
		{name: "conv transpose output_shape", m: newModel(13).input("x", dtFloat, 1, 1, 3, 3).init("w", f32s([]int{1, 2, 3, 3})).
			node("ConvTranspose", []string{"x", "w"}, []string{"y"}, aInts("strides", 3, 2), aInts("output_shape", 10, 8)), ops: []string{"conv_transpose"}, shape: []int{1, 2, 10, 8}},
		{name: "conv transpose same_upper", m: newModel(13).input("x", dtFloat, 1, 1, 3, 3).init("w", f32s([]int{1, 2, 3, 3})).
			node("ConvTranspose", []string{"x", "w"}, []string{"y"}, aInts("strides", 2, 2), aStr("auto_pad", "SAME_UPPER")), ops: []string{"conv_transpose"}, shape: []int{1, 2, 6, 6}},
		{name: "maxpool indices", m: newModel(13).input("x", dtFloat, 1, 1, 2, 2).node("MaxPool", []string{"x"}, []string{"p", "y"}, aInts("kernel_shape", 2, 2)),
			ops: []string{"maxpool_index"}, shape: []int{1, 1, 1, 1}},
		{name: "dropout mask", m: newModel(13).input("x", dtFloat, 2).node("Dropout", []string{"x"}, []string{"d", "y"}), ops: nil, shape: []int{2}},
		{name: "qlinearconv per-channel", m: newModel(13).input("x", dtUint8, 1, 1, 3, 3).init("xs", ir.ScalarF32(0.5)).init("xz", u8s(1)).
			init("w", i8(1, -1).Reshaped([]int{2, 1, 1, 1})).init("ws", f32s([]int{2}, 0.25, 0.5)).init("wz", i8(0, 0)).init("ys", ir.ScalarF32(0.1)).init("yz", u8s(5)).
			node("QLinearConv", []string{"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, []string{"y"}), ops: []string{"conv"}, shape: []int{1, 2, 3, 3},
			vals: []float32{4, 5, 6, 7, 9, 10, 11, 13, 14, 7, 5, 3, 0, 0, 0, 0, 0, 0}}, // float32 multiplier 1.2499999: 7.5 rounds to 7
		{name: "qlinearconv wrong zero point type", m: newModel(13).input("x", dtUint8, 1, 1, 3, 3).init("xs", ir.ScalarF32(0.5)).init("xz", i8(1)).
			init("w", i8(1).Reshaped([]int{1, 1, 1, 1})).init("ws", ir.ScalarF32(1)).init("ys", ir.ScalarF32(0.1)).
			node("QLinearConv", []string{"x", "xs", "xz", "w", "ws", "", "ys"}, []string{"y"}), err: "zero point of input x is i8"},
		{name: "matmulinteger", m: newModel(13).input("a", dtUint8, 2, 3).input("b", dtInt8, 3, 2).init("az", u8s(3)).
			node("MatMulInteger", []string{"a", "b", "az"}, []string{"y"}), ops: []string{"matmul"}, shape: []int{2, 2}},
		{name: "matmulinteger uniform per-row zero point", m: newModel(13).input("a", dtUint8, 2, 3).input("b", dtInt8, 3, 2).init("az", &ir.Tensor{DType: ir.U8, Shape: []int{2}, U8: []uint8{3, 3}}).
			node("MatMulInteger", []string{"a", "b", "az"}, []string{"y"}), ops: []string{"matmul"}, shape: []int{2, 2}},
		{name: "matmulinteger per-row zero point", m: newModel(13).input("a", dtUint8, 2, 3).input("b", dtInt8, 3, 2).init("az", &ir.Tensor{DType: ir.U8, Shape: []int{2}, U8: []uint8{3, 4}}).
			node("MatMulInteger", []string{"a", "b", "az"}, []string{"y"}), err: "per-axis quantization of input a is not supported"},
		{name: "custom domain", m: newModel(13).input("x", dtFloat, 2).node("Relu", []string{"x"}, []string{"y"}).m(func(m *mb) { m.nodes[0].Domain = ptr("com.microsoft") }), err: `domain "com.microsoft"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.m.output("y").load(t, Options{})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(g); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got := ops(g); !slices.Equal(got, tc.ops) {
				t.Errorf("ops %v, want %v", got, tc.ops)
			}
			y := g.Results[0]
			if !slices.Equal(y.Type.Shape, tc.shape) {
				t.Errorf("result %v, want shape %v", y.Type, tc.shape)
			}
			if tc.vals == nil {
				return
			}
			var in []*ir.Tensor
			for _, p := range g.Params {
				x := ir.NewTensor(p.Type.DType, p.Type.Shape)
				for i := 0; i < x.Len(); i++ {
					x.Set(i, float64(i))
				}
				in = append(in, x)
			}
			out, err := rt.Run(g, in)
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			for i := 0; i < out[0].Len(); i++ {
				got = append(got, float32(out[0].At(i)))
			}
			if !slices.Equal(got, tc.vals) {
				t.Errorf("values %v, want %v", got, tc.vals)
			}
		})
	}
}

// m applies an edit to the model being built.
func (m *mb) m(f func(*mb)) *mb {
	f(m)
	return m
}
