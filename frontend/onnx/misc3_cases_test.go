package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of Hardmax, RMSNormalization, ScatterElements, ScatterND,
// ReverseSequence, CenterCropPad and the window functions
// (convert_misc3.go), with references written from the operator
// definitions.

func misc3Cases() []decompCase {
	return slices.Concat(hardmaxCases(), rmsNormCases())
}

// hardmaxRef is 1 at the first maximum of each row of floor(x) and 0
// elsewhere; a row is the elements along axis (coerced: the elements of
// x viewed as [Π shape[:axis], Π shape[axis:]] sharing the first index).
func hardmaxRef(x *ir.Tensor, axis int, coerced bool) *ir.Tensor {
	s := x.Shape
	var outer, n, inner int
	if coerced {
		outer, n, inner = ir.NumElements(s[:axis]), ir.NumElements(s[axis:]), 1
	} else {
		outer, n, inner = ir.NumElements(s[:axis]), s[axis], ir.NumElements(s[axis+1:])
	}
	y := ir.NewTensor(ir.F32, s)
	for o := range outer {
		for j := range inner {
			at, best := -1, 0.0
			for i := range n {
				v := math.Floor(float64(x.F32[(o*n+i)*inner+j]))
				if at < 0 || v > best {
					at, best = i, v
				}
			}
			y.F32[(o*n+at)*inner+j] = 1
		}
	}
	return y
}

func hardmaxCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x     []int
		axis  int64 // 99: the attribute left out
		opset int64
	}{
		{[]int{3, 7}, 99, 13},
		{[]int{2, 5, 4}, 1, 13},
		{[]int{2, 5, 4}, 0, 18},
		{[]int{2, 3, 4}, -3, 13},
		{[]int{9}, 0, 13},
		{[]int{2, 3, 4}, 99, 11}, // coerced to [2, 12]
		{[]int{2, 3, 4}, 0, 11},  // [1, 24]
		{[]int{2, 3, 4}, -1, 7},  // [6, 4]
		{[]int{4, 6}, 1, 11},
	} {
		var attrs []*attrProto
		axis := tc.axis
		if tc.axis != 99 {
			attrs = append(attrs, aInt("axis", tc.axis))
		} else if axis = -1; tc.opset < 13 {
			axis = 1
		}
		ax := (int(axis) + len(tc.x)) % len(tc.x)
		coerced := tc.opset < 13
		out = append(out, decompCase{name: fmt.Sprintf("Hardmax/%d_opset%d_axis%d_%v", i, tc.opset, tc.axis, tc.x), opset: tc.opset, op: "Hardmax", x: tc.x,
			body: func(m *mb, p string) {
				m.node("Floor", []string{p + "x"}, []string{p + "f"}).node("Hardmax", []string{p + "f"}, []string{p + "y"}, attrs...)
			},
			ref: func(x *ir.Tensor) *ir.Tensor { return hardmaxRef(x, ax, coerced) }})
	}
	return out
}

func rmsNormCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x, scale []int
		axis     int64 // 99: left out (-1)
		eps      float32
	}{
		{[]int{2, 3, 8}, []int{8}, 99, 0},
		{[]int{2, 3, 4}, []int{3, 4}, 1, 0},
		{[]int{2, 3, 4}, []int{3, 1}, -2, 0.5},
		{[]int{4, 5}, []int{1}, 0, 0},
		{[]int{6}, []int{6}, -1, 2},
		{[]int{2, 2, 3, 3}, []int{2, 1, 1}, 1, 1e-3},
	} {
		var attrs []*attrProto
		axis := tc.axis
		if tc.axis == 99 {
			axis = -1
		} else {
			attrs = append(attrs, aInt("axis", tc.axis))
		}
		eps := 1e-5
		if tc.eps != 0 {
			attrs, eps = append(attrs, aFloat("epsilon", tc.eps)), float64(tc.eps)
		}
		ax := (int(axis) + len(tc.x)) % len(tc.x)
		var axes []int
		for d := ax; d < len(tc.x); d++ {
			axes = append(axes, d)
		}
		scale := randParam(int64(300+i), -2, 2, tc.scale...)
		out = append(out, decompCase{name: fmt.Sprintf("RMSNormalization/%d_axis%d_%v_scale%v", i, tc.axis, tc.x, tc.scale), opset: 23, op: "RMSNormalization",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{scale}, ref: func(x *ir.Tensor) *ir.Tensor {
				ms := map[int]float64{}
				for k, g := range groups(x.Shape, axes) {
					s := 0.0
					for _, j := range g {
						s += x.At(j) * x.At(j)
					}
					ms[k] = s / float64(len(g))
				}
				return refOut(x.Shape, func(idx []int) float64 {
					return x.At(flat(idx, x.Shape)) / math.Sqrt(ms[keyOf(idx, x.Shape, axes)]+float64(float32(eps))) * bcastAt(scale, idx)
				})
			}})
	}
	return out
}
