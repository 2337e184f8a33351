package rt

import (
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestResizeIntNearest: nearest resize of integers picks the elements the
// f32 resize picks, in every nearest_mode and coordinate transformation.
func TestResizeIntNearest(t *testing.T) {
	xi := ir.NewTensor(ir.I8, []int{1, 2, 5, 7})
	xf := ir.NewTensor(ir.F32, xi.Shape)
	for i := range xi.I8 {
		xi.I8[i] = int8(i*37%256 - 128)
		xf.F32[i] = float32(xi.I8[i])
	}
	for _, coord := range []string{"half_pixel", "asymmetric", "align_corners"} {
		for _, nm := range []string{"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"} {
			for _, shape := range [][]int{{1, 2, 11, 13}, {1, 2, 3, 4}} {
				attrs := ir.Attrs{"coord": ir.Str(coord), "nearest_mode": ir.Str(nm)}
				q := &ir.Quant{Axis: -1, Scale: []float32{0.1}, ZeroPoint: []int64{2}}
				got := eval1(t, "resize", []*ir.Tensor{xi}, []*ir.Quant{q}, attrs, ir.Type{Shape: shape})
				want := eval1(t, "resize", []*ir.Tensor{xf}, nil, attrs, ir.Type{Shape: shape})
				if got.DType != ir.I8 {
					t.Fatalf("%s %s: result %v, want i8", coord, nm, got.DType)
				}
				for i := range want.F32 {
					if float32(got.I8[i]) != want.F32[i] {
						t.Fatalf("%s %s %v: element %d is %d, f32 resize picks %v", coord, nm, shape, i, got.I8[i], want.F32[i])
					}
				}
			}
		}
	}
}
