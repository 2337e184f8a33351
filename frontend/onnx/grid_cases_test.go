package onnx

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Cases of AffineGrid (convert_grid.go): theta is the input.

func affineGridCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		size    []int64
		align   int64 // -1: left out (0)
		ortSkip string
	}{
		{[]int64{2, 3, 4, 5}, -1, ""},
		{[]int64{1, 1, 3, 2}, 1, ""},
		{[]int64{2, 2, 1, 4}, 1, "a dim of 1 with align_corners: ONNX leaves its position undefined; pare takes torch's 0, ONNX Runtime 1.30 gives 1"},
		{[]int64{1, 1, 2, 3, 4}, 0, ""},
		{[]int64{2, 1, 3, 2, 2}, 1, ""},
		{[]int64{1, 1, 1, 3}, 0, ""},
	} {
		sp := len(tc.size) - 2
		n := int(tc.size[0])
		dims := make([]int, sp)
		for j := range dims {
			dims[j] = int(tc.size[2+j])
		}
		var attrs []*attrProto
		if tc.align >= 0 {
			attrs = append(attrs, aInt("align_corners", tc.align))
		}
		align := tc.align == 1
		pos := func(i, n int) float64 {
			switch {
			case align && n == 1:
				return 0
			case align:
				return -1 + 2*float64(i)/float64(n-1)
			}
			return -1 + (2*float64(i)+1)/float64(n)
		}
		outShape := append(append([]int{n}, dims...), sp)
		out = append(out, decompCase{name: fmt.Sprintf("AffineGrid/%d_size%v_align%d", i, tc.size, tc.align), opset: 20, op: "AffineGrid",
			x: []int{n, sp, sp + 1}, attrs: attrs, ortSkip: tc.ortSkip, params: []*ir.Tensor{ir.FromI64([]int{len(tc.size)}, tc.size)},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(outShape, func(ix []int) float64 {
					b, k := ix[0], ix[len(ix)-1]
					s := x.At(flat([]int{b, k, sp}, x.Shape)) // the translation
					for c := range sp {                       // c = 0: x, from the last spatial dim
						d := sp - 1 - c
						s += x.At(flat([]int{b, k, c}, x.Shape)) * pos(ix[1+d], dims[d])
					}
					return s
				})
			}})
	}
	return out
}

// TestAffineGridErrors: malformed AffineGrid nodes and a size pare cannot
// know are errors naming the model, the node and the reason.
func TestAffineGridErrors(t *testing.T) {
	ag := func(theta []int64, size *ir.Tensor) *mb {
		return newModel(20).input("t", dtFloat, theta...).init("s", size).node("AffineGrid", []string{"t", "s"}, []string{"y"}).output("y")
	}
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		{"size length", ag([]int64{1, 2, 3}, i64s(1, 1, 4)), "size [3] must be 4 or 5 integers"},
		{"theta shape", ag([]int64{1, 3, 4}, i64s(1, 1, 4, 4)), "theta [1 3 4] must be [N, 2, 3] for a size of 4 dims"},
		{"batch", ag([]int64{2, 2, 3}, i64s(1, 1, 4, 4)), "size[0] = 1 differs from theta's batch 2"},
		{"dim", ag([]int64{1, 2, 3}, i64s(1, 1, 0, 4)), "size[2] = 0 must be positive"},
		{"runtime size", newModel(20).input("t", dtFloat, 1, 2, 3).input("s", dtInt64, 4).node("AffineGrid", []string{"t", "s"}, []string{"y"}).output("y"),
			`input "s" must be a constant`},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `node "AffineGrid_0"`) {
			t.Errorf("%s: err = %v, want it to name AffineGrid_0 and say %q", tc.name, err, tc.want)
		}
	}
}
