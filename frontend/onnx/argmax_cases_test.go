package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Cases of ArgMax and ArgMin (convert_reduce.go): on floor(x), so that
// maxima tie and select_last_index matters.
func argCases() []decompCase {
	var out []decompCase
	for _, op := range []string{"ArgMax", "ArgMin"} {
		for i, tc := range []struct {
			x          []int
			axis, keep int // keep -1: the attribute left out (1)
			last       int // -1: left out (0)
			opset      int64
		}{
			{x: []int{3, 7}, axis: 1, keep: -1, last: -1, opset: 11},
			{x: []int{2, 5, 4}, axis: 0, keep: 0, last: 1, opset: 13},
			{x: []int{2, 5, 4}, axis: -1, keep: 1, last: 0, opset: 13},
			{x: []int{1, 6, 3, 3}, axis: 1, keep: 0, last: 1, opset: 18},
			{x: []int{4}, axis: 0, keep: 1, last: -1, opset: 13},
		} {
			var attrs []*attrProto
			if tc.axis != 0 {
				attrs = append(attrs, aInt("axis", int64(tc.axis)))
			}
			if tc.keep >= 0 {
				attrs = append(attrs, aInt("keepdims", int64(tc.keep)))
			}
			if tc.last >= 0 {
				attrs = append(attrs, aInt("select_last_index", int64(tc.last)))
			}
			ax := (tc.axis + len(tc.x)) % len(tc.x)
			min, keep, last := op == "ArgMin", tc.keep != 0, tc.last == 1
			out = append(out, decompCase{name: fmt.Sprintf("%s/%d_%v_axis%d_keep%d_last%d", op, i, tc.x, tc.axis, tc.keep, tc.last),
				opset: tc.opset, op: op, x: tc.x,
				body: func(m *mb, p string) {
					m.node("Floor", []string{p + "x"}, []string{p + "f"})
					m.node(op, []string{p + "f"}, []string{p + "y"}, attrs...)
				},
				ref: func(x *ir.Tensor) *ir.Tensor { return argRef(x, ax, keep, last, min) }})
		}
	}
	return out
}

// argRef is the index along axis of the first (last) maximum (min: the
// minimum) of floor(x), as i64.
func argRef(x *ir.Tensor, axis int, keep, last, min bool) *ir.Tensor {
	s := x.Shape
	outer, n, inner := ir.NumElements(s[:axis]), s[axis], ir.NumElements(s[axis+1:])
	var shape []int
	for d, v := range s {
		if d != axis {
			shape = append(shape, v)
		} else if keep {
			shape = append(shape, 1)
		}
	}
	y := ir.NewTensor(ir.I64, shape)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			best, at := 0.0, -1
			for i := 0; i < n; i++ {
				v := math.Floor(float64(x.F32[(o*n+i)*inner+j]))
				if min {
					v = -v
				}
				if at < 0 || v > best || last && v == best {
					best, at = v, i
				}
			}
			y.I64[o*inner+j] = int64(at)
		}
	}
	return y
}
