package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Cases of the decomposed reductions (convert_reduce.go).

type reduceRefForm struct {
	op        string
	pre, post func(float64) float64
	fold      func(acc, v float64) float64
	lo, hi    float64
}

func ident(x float64) float64  { return x }
func sum(a, v float64) float64 { return a + v }

var reduceRefForms = []reduceRefForm{
	{op: "ReduceMin", pre: ident, fold: math.Min, post: ident},
	{op: "ReduceL1", pre: math.Abs, fold: sum, post: ident},
	{op: "ReduceL2", pre: func(x float64) float64 { return x * x }, fold: sum, post: math.Sqrt},
	{op: "ReduceSumSquare", pre: func(x float64) float64 { return x * x }, fold: sum, post: ident},
	{op: "ReduceLogSum", pre: ident, fold: sum, post: math.Log, lo: 0.1, hi: 3},
	{op: "ReduceLogSumExp", pre: math.Exp, fold: sum, post: math.Log},
	{op: "ReduceLogSumExp", pre: math.Exp, fold: sum, post: math.Log, lo: 60, hi: 100}, // exp overflows f32
}

func reduceCases() []decompCase {
	var out []decompCase
	for _, f := range reduceRefForms {
		for i, tc := range []struct {
			x    []int
			axes []int // nil: all (or none with noop)
			keep int   // -1: the attribute left out (1)
			noop bool
		}{
			{x: []int{2, 3, 4}, axes: []int{1}, keep: -1},
			{x: []int{2, 3, 4}, axes: []int{0, 2}, keep: 0},
			{x: []int{2, 3, 4, 5}, axes: []int{-1}, keep: 1},
			{x: []int{3, 5}, keep: 0},
			{x: []int{3, 5}, keep: 1},
			{x: []int{1, 4, 3, 3}, axes: []int{2, 3}, keep: 0},
			{x: []int{2, 3}, noop: true, keep: -1},
		} {
			for _, opset := range []int64{13, 18} {
				if tc.noop && opset < 18 {
					continue
				}
				var attrs []*attrProto
				var params []*ir.Tensor
				keep := tc.keep != 0
				if tc.keep >= 0 {
					attrs = append(attrs, aInt("keepdims", int64(tc.keep)))
				}
				if tc.noop {
					attrs = append(attrs, aInt("noop_with_empty_axes", 1))
				}
				if tc.axes != nil {
					ax := make([]int64, len(tc.axes))
					for d, a := range tc.axes {
						ax[d] = int64(a)
					}
					if opset >= 18 {
						params = []*ir.Tensor{i64s(ax...)}
					} else {
						attrs = append(attrs, aInts("axes", ax...))
					}
				}
				var axes []int
				switch {
				case tc.noop:
				case tc.axes == nil:
					for d := range tc.x {
						axes = append(axes, d)
					}
				default:
					for _, a := range tc.axes {
						axes = append(axes, (a+len(tc.x))%len(tc.x))
					}
				}
				out = append(out, decompCase{name: fmt.Sprintf("%s/%d_%v_axes%v_keep%d_noop%v_opset%d_range%v", f.op, i, tc.x, tc.axes, tc.keep, tc.noop, opset, f.hi),
					opset: opset, op: f.op, x: tc.x, attrs: attrs, params: params, lo: f.lo, hi: f.hi,
					ref: reduceRef(axes, keep, f.pre, f.fold, f.post)})
			}
		}
	}
	return out
}
