package onnx

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Cases of Det (convert_det.go), against a Laplace expansion.

func laplaceDet(a [][]float64) float64 {
	n := len(a)
	if n == 1 {
		return a[0][0]
	}
	det, sign := 0.0, 1.0
	for j := range n {
		var sub [][]float64
		for i := 1; i < n; i++ {
			row := append(append([]float64{}, a[i][:j]...), a[i][j+1:]...)
			sub = append(sub, row)
		}
		det += sign * a[0][j] * laplaceDet(sub)
		sign = -sign
	}
	return det
}

// detRef is the determinant of each [M, M] matrix of x.
func detRef(x *ir.Tensor) *ir.Tensor {
	r := len(x.Shape)
	m := x.Shape[r-1]
	out := ir.NewTensor(ir.F32, append([]int{}, x.Shape[:r-2]...))
	for k := range out.Len() {
		a := make([][]float64, m)
		for i := range a {
			a[i] = make([]float64, m)
			for j := range a[i] {
				a[i][j] = x.At(k*m*m + i*m + j)
			}
		}
		out.F32[k] = float32(laplaceDet(a))
	}
	return out
}

func detCases() []decompCase {
	var out []decompCase
	for _, s := range [][]int{{1, 1}, {2, 2}, {3, 3}, {4, 2, 2}, {2, 3, 3, 3}, {5, 1, 1}} {
		out = append(out, decompCase{name: fmt.Sprintf("Det/%v", s), opset: 11, op: "Det", x: s, tol: 1e-4, ref: detRef})
	}
	// A constant 5×5 folds: y = x + det(c).
	c := randParam(77, -2, 2, 2, 5, 5)
	d := detRef(c)
	out = append(out, decompCase{name: "Det/constant_[2 5 5]", opset: 22, op: "Det", x: []int{2}, tol: 1e-4,
		body: func(m *mb, p string) {
			m.init(p+"c", c).node("Det", []string{p + "c"}, []string{p + "d"}).node("Add", []string{p + "x", p + "d"}, []string{p + "y"})
		},
		ref: func(x *ir.Tensor) *ir.Tensor {
			y := x.Clone()
			for i := range y.F32 {
				y.F32[i] += d.F32[i]
			}
			return y
		}})
	return out
}

// TestDetErrors: what Det does not support, and malformed nodes.
func TestDetErrors(t *testing.T) {
	for _, tc := range []struct {
		x           []int64
		want        string
		unsupported bool
	}{
		{[]int64{2, 4, 4}, "a computed 4×4 matrix: pare expands determinants up to 3×3", true},
		{[]int64{2, 3}, "input [2 3] must be [..., M, M]", false},
	} {
		_, err := newModel(13).input("x", dtFloat, tc.x...).node("Det", []string{"x"}, []string{"y"}).output("y").load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `node "Det_0"`) {
			t.Errorf("%v: err = %v, want it to name Det_0 and say %q", tc.x, err, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%v: err %v: UnsupportedError %v, want %v", tc.x, err, !tc.unsupported, tc.unsupported)
		}
	}
}
