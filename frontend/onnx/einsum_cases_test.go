package onnx

import (
	"fmt"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// Cases of Einsum (convert_einsum.go) against a reference that sums the
// products over every assignment of the labels.

// einsumRef evaluates an explicit, letters-only equation; a size-1 dim
// broadcasts (its index is taken modulo the size).
func einsumRef(eq string, ins ...*ir.Tensor) *ir.Tensor {
	lhs, rhs, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	size := map[byte]int{}
	var labels []byte
	for i, t := range terms {
		for d := 0; d < len(t); d++ {
			if _, ok := size[t[d]]; !ok {
				labels = append(labels, t[d])
			}
			size[t[d]] = max(size[t[d]], ins[i].Shape[d])
		}
	}
	oshape := []int{}
	for d := 0; d < len(rhs); d++ {
		oshape = append(oshape, size[rhs[d]])
	}
	acc := make([]float64, ir.NumElements(oshape))
	dims := make([]int, len(labels))
	for i, l := range labels {
		dims[i] = size[l]
	}
	for a := 0; a < ir.NumElements(dims); a++ {
		val := unflat(a, dims)
		at := func(l byte) int {
			for i, m := range labels {
				if m == l {
					return val[i]
				}
			}
			panic(l)
		}
		prod := 1.0
		for i, t := range terms {
			idx := make([]int, len(t))
			for d := range idx {
				idx[d] = at(t[d]) % ins[i].Shape[d]
			}
			prod *= ins[i].At(flat(idx, ins[i].Shape))
		}
		oi := make([]int, len(rhs))
		for d := range oi {
			oi[d] = at(rhs[d])
		}
		acc[flat(oi, oshape)] += prod
	}
	out := ir.NewTensor(ir.F32, oshape)
	for i, v := range acc {
		out.F32[i] = float32(v)
	}
	return out
}

func einsumCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		eq, refEq string // refEq: eq made explicit with letters for "..." ("": eq)
		x         []int
		params    [][]int
		twice     bool // the second operand is x too
	}{
		{"ij,jk->ik", "", []int{3, 4}, [][]int{{4, 5}}, false},
		{"bij,bjk->bik", "", []int{2, 3, 4}, [][]int{{2, 4, 5}}, false},
		{"ij->ji", "", []int{3, 4}, nil, false},
		{"ij->", "", []int{3, 4}, nil, false},
		{"i,i->", "", []int{5}, [][]int{{5}}, false},
		{"i,j->ij", "", []int{3}, [][]int{{4}}, false},
		{"...ij,...jk->...ik", "abij,abjk->abik", []int{2, 3, 2, 4}, [][]int{{1, 3, 4, 5}}, false},
		{"ij,jk", "ij,jk->ik", []int{3, 4}, [][]int{{4, 2}}, false},
		{"bhqd,bhkd->bhqk", "", []int{1, 2, 3, 4}, [][]int{{1, 2, 5, 4}}, false},
		{"ijk->ki", "", []int{2, 3, 4}, nil, false},
		{"ij,ij->ij", "", []int{3, 4}, [][]int{{3, 4}}, false},
		{"ij,kj->ik", "", []int{3, 4}, nil, true},
		{"abc,cd,de->abe", "", []int{2, 3, 4}, [][]int{{4, 5}, {5, 2}}, false},
		{"...i,...i->...", "abi,abi->ab", []int{2, 3, 4}, [][]int{{2, 1, 4}}, false},
		{"...ij,...jk->...ik", "abij,bjk->abik", []int{2, 3, 2, 4}, [][]int{{3, 4, 5}}, false}, // ellipses of ranks 2 and 1 (numpy)
		{"ij,j->i", "", []int{3, 4}, [][]int{{4}}, false},
		{"...ij,...jk", "aij,ajk->aik", []int{2, 3, 4}, [][]int{{2, 4, 5}}, false},
		{"...ij,...jk->...ik", "aij,ajk->aik", []int{1, 3, 4}, [][]int{{2, 4, 5}}, false},
		{"bij,bkj->bji", "", []int{2, 3, 4}, [][]int{{2, 5, 4}}, false}, // k summed in the second operand only
		{"i j , j k -> k i", "ij,jk->ki", []int{2, 3}, [][]int{{3, 4}}, false},
		{"ba", "ba->ab", []int{3, 2}, nil, false},
	} {
		var params []*ir.Tensor
		for k, s := range tc.params {
			params = append(params, randParam(int64(700+10*i+k), -1, 1, s...))
		}
		refEq := tc.refEq
		if refEq == "" {
			refEq = tc.eq
		}
		attrs := []*attrProto{aStr("equation", tc.eq)}
		dc := decompCase{name: fmt.Sprintf("Einsum/%d_%s", i, strings.ReplaceAll(tc.eq, " ", "")), opset: []int64{12, 13}[i%2], op: "Einsum",
			x: tc.x, attrs: attrs, params: params, tol: 1e-4,
			ref: func(x *ir.Tensor) *ir.Tensor { return einsumRef(refEq, append([]*ir.Tensor{x}, params...)...) }}
		if strings.Count(tc.eq, "...") > 0 && len(tc.params) > 0 && len(tc.params[0]) != len(tc.x) {
			dc.ortSkip = "ONNX shape inference rejects ellipses of different ranks"
		}
		if tc.twice {
			dc.body = func(m *mb, p string) { m.node("Einsum", []string{p + "x", p + "x"}, []string{p + "y"}, attrs...) }
			dc.ref = func(x *ir.Tensor) *ir.Tensor { return einsumRef(refEq, x, x) }
		}
		out = append(out, dc)
	}
	return out
}
