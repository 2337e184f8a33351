package onnx

import (
	"fmt"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of the decomposed normalizations (convert_norm.go).

func lrnCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x                  []int
		size               int
		alpha, beta, bias  float32
		setAlpha, setOther bool
	}{
		{x: []int{1, 8, 5, 5}, size: 5},
		{x: []int{2, 5, 4, 3}, size: 3, alpha: 0.01, beta: 0.5, bias: 2, setAlpha: true, setOther: true},
		{x: []int{1, 6, 3, 3}, size: 2, alpha: 0.1, setAlpha: true},
		{x: []int{1, 6, 3, 3}, size: 4, alpha: 0.2, beta: 1, bias: 0.5, setAlpha: true, setOther: true},
		{x: []int{1, 3, 7}, size: 7, alpha: 0.5, setAlpha: true},
		{x: []int{2, 4, 2, 3, 2}, size: 1, alpha: 0.3, beta: 0.9, bias: 1.5, setAlpha: true, setOther: true},
	} {
		attrs := []*attrProto{aInt("size", int64(tc.size))}
		alpha, beta, bias := float32(1e-4), float32(0.75), float32(1)
		if tc.setAlpha {
			alpha = tc.alpha
			attrs = append(attrs, aFloat("alpha", alpha))
		}
		if tc.setOther {
			beta, bias = tc.beta, tc.bias
			attrs = append(attrs, aFloat("beta", beta), aFloat("bias", bias))
		}
		var skip string
		if len(tc.x) != 4 || tc.size%2 == 0 {
			skip = "ONNX Runtime's LRN takes 4-D inputs and odd sizes only"
		}
		out = append(out, decompCase{name: fmt.Sprintf("LRN/%d_size%d_%v", i, tc.size, tc.x), opset: []int64{6, 13}[i%2], op: "LRN",
			x: tc.x, attrs: attrs, ref: lrnRef(tc.size, float64(alpha), float64(beta), float64(bias)), ortSkip: skip})
	}
	return out
}

func instanceNormCases() []decompCase {
	var out []decompCase
	for i, x := range [][]int{{2, 3, 4, 5}, {1, 4, 10}, {1, 2, 3, 4, 5}, {3, 1, 1, 6}} {
		scale, bias := randParam(int64(100+i), -2, 2, x[1]), randParam(int64(200+i), -1, 1, x[1])
		eps := []float32{1e-5, 1e-3}[i%2]
		var attrs []*attrProto
		if i%2 == 1 {
			attrs = append(attrs, aFloat("epsilon", eps))
		}
		var axes []int
		for d := 2; d < len(x); d++ {
			axes = append(axes, d)
		}
		out = append(out, decompCase{name: fmt.Sprintf("InstanceNormalization/%v", x), opset: []int64{6, 22}[i%2], op: "InstanceNormalization",
			x: x, attrs: attrs, params: []*ir.Tensor{scale, bias}, tol: 1e-4,
			ref: normRef(axes, float64(eps), func(idx []int) (float64, float64) { return scale.At(idx[1]), bias.At(idx[1]) })})
	}
	return out
}

func layerNormCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x      []int
		axis   int // 99: default (-1)
		scale  []int
		bias   []int // nil: no B
		eps    float32
		setEps bool
	}{
		{x: []int{2, 5, 8}, axis: 99, scale: []int{8}, bias: []int{8}},
		{x: []int{4, 16}, axis: 1, scale: []int{16}},
		{x: []int{2, 3, 4, 5}, axis: -2, scale: []int{4, 5}, bias: []int{5}, eps: 1e-3, setEps: true},
		{x: []int{2, 3, 4, 5}, axis: 1, scale: []int{3, 1, 5}, bias: []int{1}},
		{x: []int{1, 7, 6}, axis: -1, scale: []int{1, 6}, bias: []int{6}, eps: 0.1, setEps: true},
		{x: []int{3, 4}, axis: 0, scale: []int{3, 4}, bias: []int{3, 4}},
	} {
		var attrs []*attrProto
		axis := tc.axis
		if axis == 99 {
			axis = -1
		} else {
			attrs = append(attrs, aInt("axis", int64(axis)))
		}
		if axis < 0 {
			axis += len(tc.x)
		}
		eps := float32(1e-5)
		if tc.setEps {
			eps = tc.eps
			attrs = append(attrs, aFloat("epsilon", eps))
		}
		if i%3 == 2 {
			attrs = append(attrs, aInt("stash_type", 1))
		}
		scale := randParam(int64(300+i), -2, 2, tc.scale...)
		params := []*ir.Tensor{scale}
		var bias *ir.Tensor
		if tc.bias != nil {
			bias = randParam(int64(400+i), -1, 1, tc.bias...)
			params = append(params, bias)
		}
		var axes []int
		for d := axis; d < len(tc.x); d++ {
			axes = append(axes, d)
		}
		out = append(out, decompCase{name: fmt.Sprintf("LayerNormalization/%d_axis%d_%v", i, tc.axis, tc.x), opset: []int64{17, 22}[i%2], op: "LayerNormalization",
			x: tc.x, attrs: attrs, params: params, tol: 1e-4,
			ref: normRef(axes, float64(eps), func(idx []int) (float64, float64) {
				b := 0.0
				if bias != nil {
					b = bcastAt(bias, idx)
				}
				return bcastAt(scale, idx), b
			})})
	}
	return out
}

func normCases() []decompCase {
	return slices.Concat(lrnCases(), instanceNormCases(), layerNormCases())
}
