package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of DFT (convert_misc3.go) against the transform's definition:
// Y[k] = Σ_{m<L} x[m]·e^(∓2πikm/L) (x zero past its length, cut at L),
// divided by L when inverse; onesided keeps k <= L/2.

// dftRef computes the DFT of x [..., n, c] along axis in float64.
func dftRef(x *ir.Tensor, axis, l int, inverse, onesided bool) *ir.Tensor {
	r := len(x.Shape)
	n, cn := x.Shape[axis], x.Shape[r-1]
	k := l
	if onesided {
		k = l/2 + 1
	}
	shape := slices.Clone(x.Shape)
	shape[axis], shape[r-1] = k, 2
	return refOut(shape, func(idx []int) float64 {
		sign := -1.0
		if inverse {
			sign = 1
		}
		re, im := 0.0, 0.0
		src := slices.Clone(idx)
		for m := 0; m < n && m < l; m++ {
			src[axis], src[r-1] = m, 0
			a := x.At(flat(src, x.Shape))
			b := 0.0
			if cn == 2 {
				src[r-1] = 1
				b = x.At(flat(src, x.Shape))
			}
			z := complex(a, b) * complex(math.Cos(2*math.Pi*float64(idx[axis]*m)/float64(l)), sign*math.Sin(2*math.Pi*float64(idx[axis]*m)/float64(l)))
			re, im = re+real(z), im+imag(z)
		}
		if inverse {
			re, im = re/float64(l), im/float64(l)
		}
		if idx[r-1] == 0 {
			return re
		}
		return im
	})
}

func dftCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		opset             int64
		x                 []int
		axis              int64 // 99: left out (1 at opset 17, -2 from 20)
		l                 int   // 0: no dft_length
		inverse, onesided bool
	}{
		{17, []int{2, 8, 1}, 99, 0, false, false},
		{17, []int{2, 6, 2}, 99, 0, true, false},
		{17, []int{1, 5, 1}, 1, 0, false, true},
		{17, []int{2, 3, 4, 2}, 2, 6, false, false},
		{17, []int{2, 7, 1}, 99, 5, false, true},
		{17, []int{2, 4, 3, 1}, 1, 0, true, false},
		{20, []int{2, 8, 1}, 99, 0, false, false},
		{20, []int{3, 4, 5, 2}, 1, 0, true, false},
		{20, []int{2, 5, 3, 1}, -3, 4, false, true},
		{20, []int{2, 3, 2}, -2, 7, true, false},
	} {
		var attrs []*attrProto
		if tc.inverse {
			attrs = append(attrs, aInt("inverse", 1))
		}
		if tc.onesided {
			attrs = append(attrs, aInt("onesided", 1))
		}
		r := len(tc.x)
		axis := tc.axis
		params := []*ir.Tensor{nil}
		if tc.l != 0 {
			params[0] = ir.FromI64([]int{}, []int64{int64(tc.l)})
		}
		switch {
		case tc.axis == 99 && tc.opset < 20:
			axis = 1
		case tc.axis == 99:
			axis = -2
		case tc.opset < 20:
			attrs = append(attrs, aInt("axis", tc.axis))
		default:
			params = append(params, ir.FromI64([]int{}, []int64{tc.axis}))
		}
		if tc.l == 0 && len(params) == 1 {
			params = nil
		}
		ax := (int(axis) + r) % r
		l := tc.l
		if l == 0 {
			l = tc.x[ax]
		}
		out = append(out, decompCase{name: fmt.Sprintf("DFT/%d_opset%d_%v_axis%d_len%d_inv%v_onesided%v", i, tc.opset, tc.x, tc.axis, tc.l, tc.inverse, tc.onesided),
			opset: tc.opset, op: "DFT", x: tc.x, attrs: attrs, params: params, tol: 1e-4,
			ref: func(x *ir.Tensor) *ir.Tensor { return dftRef(x, ax, l, tc.inverse, tc.onesided) }})
	}
	return out
}
