package onnx

import (
	"fmt"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestTopK: TopK's values and indices (ties in index order, largest and
// smallest, K as input and, before opset 10, as attribute) as worked out
// by hand, and as ONNX Runtime gives them (outside -short).
func TestTopK(t *testing.T) {
	x := ir.FromF32([]int{2, 5}, []float32{3, 1, 3, 7, 0, -1, -1, 2, 5, -1})
	for _, tc := range []struct {
		opset      int64
		largest    int64
		vals, idxs []float32
	}{
		{13, 1, []float32{7, 3, 3, 5, 2, -1}, []float32{3, 0, 2, 3, 2, 0}},
		{13, 0, []float32{0, 1, 3, -1, -1, -1}, []float32{4, 1, 0, 0, 1, 4}},
		{9, 1, []float32{7, 3, 3, 5, 2, -1}, []float32{3, 0, 2, 3, 2, 0}},
	} {
		t.Run(fmt.Sprintf("opset%d_largest%d", tc.opset, tc.largest), func(t *testing.T) {
			for out, want := range map[string][]float32{"v": tc.vals, "fi": tc.idxs} {
				m := newModel(tc.opset).input("x0", dtFloat, 2, 5)
				in := []string{"x0"}
				if tc.opset >= 10 {
					m.init("k", i64s(3))
					in = append(in, "k")
				}
				attrs := []*onnxpb.AttributeProto{aInt("axis", -1)}
				if tc.opset >= 11 {
					attrs = append(attrs, aInt("largest", tc.largest))
				}
				if tc.opset < 10 {
					attrs = append(attrs, aInt("k", 3))
				}
				m.node("TopK", in, []string{"v", "i"}, attrs...).
					node("Cast", []string{"i"}, []string{"fi"}, aInt("to", int64(dtFloat))).output(out)
				g := m.mustLoad(t, Options{})
				res, err := rt.Run(g, []*ir.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(res[0].Shape) != "[2 3]" || fmt.Sprint(res[0].F32) != fmt.Sprint(want) {
					t.Errorf("%s: %v %v, want %v", out, res[0].Shape, res[0].F32, want)
				}
				if testing.Short() {
					continue
				}
				if o := runContribORT(t, m.bytes(t), []*ir.Tensor{x}); o != nil && fmt.Sprint(o) != fmt.Sprint(want) {
					t.Errorf("%s: ONNX Runtime gives %v, want %v", out, o, want)
				}
			}
		})
	}
}
