package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Cases of the decomposed layout ops (convert_layout.go).

func layoutCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x    []int
		b    int
		mode string // "": the attribute left out
	}{
		{x: []int{1, 8, 3, 4}, b: 2},
		{x: []int{2, 18, 2, 3}, b: 3, mode: "DCR"},
		{x: []int{1, 8, 3, 4}, b: 2, mode: "CRD"},
		{x: []int{2, 12, 2, 2}, b: 2, mode: "CRD"},
		{x: []int{1, 5, 3, 2}, b: 1, mode: "CRD"},
	} {
		attrs := []*attrProto{aInt("blocksize", int64(tc.b))}
		opset := int64(11 + i%3*2)
		if tc.mode != "" {
			attrs = append(attrs, aStr("mode", tc.mode))
		} else if i == 0 {
			opset = 6
		}
		out = append(out, decompCase{name: fmt.Sprintf("DepthToSpace/%s_b%d_%v", tc.mode, tc.b, tc.x), opset: opset, op: "DepthToSpace",
			x: tc.x, attrs: attrs, ref: depthToSpaceRef(tc.b, tc.mode == "CRD")})
	}
	for i, tc := range []struct {
		x []int
		b int
	}{{[]int{1, 3, 4, 6}, 2}, {[]int{2, 2, 6, 3}, 3}, {[]int{1, 1, 4, 4}, 4}} {
		out = append(out, decompCase{name: fmt.Sprintf("SpaceToDepth/b%d_%v", tc.b, tc.x), opset: []int64{6, 13}[i%2], op: "SpaceToDepth",
			x: tc.x, attrs: []*attrProto{aInt("blocksize", int64(tc.b))}, ref: spaceToDepthRef(tc.b)})
	}
	for i, tc := range []struct{ x, reps []int }{
		{[]int{2, 3}, []int{2, 3}},
		{[]int{1, 3, 4, 4}, []int{1, 2, 1, 1}},
		{[]int{2, 1, 3}, []int{3, 4, 1}},
		{[]int{5}, []int{3}},
		{[]int{1, 2, 3, 2}, []int{2, 1, 2, 3}},
		{[]int{2, 3}, []int{1, 1}},
	} {
		reps := make([]int64, len(tc.reps))
		for d, r := range tc.reps {
			reps[d] = int64(r)
		}
		out = append(out, decompCase{name: fmt.Sprintf("Tile/%v_%v", tc.x, tc.reps), opset: []int64{6, 13}[i%2], op: "Tile",
			x: tc.x, params: []*ir.Tensor{i64s(reps...)}, ref: tileRef(tc.reps)})
	}
	return out
}
