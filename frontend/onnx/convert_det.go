package onnx

import (
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// convDet: the determinants of the [.., M, M] matrices of X. A constant X
// folds (LU with partial pivoting in float64); a computed one is expanded
// for M ≤ 3: slices of the elements, mul and sub (the rule of Sarrus for
// 3×3); larger computed matrices are unsupported.
func convDet(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	r := len(s)
	if r < 2 || s[r-1] != s[r-2] {
		return c.errf("input %v must be [..., M, M]", s)
	}
	m, batch := s[r-1], s[:r-2]
	if x.IsConst() {
		out := ir.NewTensor(ir.F32, slices.Clone(batch))
		a := make([]float64, m*m)
		for k := range out.Len() {
			for i := range a {
				a[i] = x.Const.At(k*m*m + i)
			}
			out.F32[k] = float32(luDet(a, m))
		}
		c.set(0, c.constant(c.outName(0), out, nil))
		return nil
	}
	if m > 3 {
		return c.unsupported("a computed %d×%d matrix: pare expands determinants up to 3×3 (constant matrices of any size fold)", m, m)
	}
	b := c.build()
	el := func(i, j int) *ir.Value {
		st, en := make([]int, r), slices.Clone(s)
		st[r-2], en[r-2], st[r-1], en[r-1] = i, i+1, j, j+1
		return b.op("slice", "a"+string(rune('0'+i))+string(rune('0'+j)), ir.Attrs{"starts": ir.Ints(st...), "ends": ir.Ints(en...), "steps": ir.Ints(ones(r)...)}, x)
	}
	mul := func(p, q *ir.Value) *ir.Value { return b.op("mul", "prod", nil, p, q) }
	var d *ir.Value
	switch m {
	case 1:
		d = el(0, 0)
	case 2:
		d = b.op("sub", "det2", nil, mul(el(0, 0), el(1, 1)), mul(el(0, 1), el(1, 0)))
	case 3:
		a := [3][3]*ir.Value{}
		for i := range 3 {
			for j := range 3 {
				a[i][j] = el(i, j)
			}
		}
		minor := func(i0, j0, i1, j1 int) *ir.Value { // a[i0][j0]·a[i1][j1] − a[i0][j1]·a[i1][j0]
			return b.op("sub", "minor", nil, mul(a[i0][j0], a[i1][j1]), mul(a[i0][j1], a[i1][j0]))
		}
		d = b.op("sub", "det3_ab", nil, mul(a[0][0], minor(1, 1, 2, 2)), mul(a[0][1], minor(1, 0, 2, 2)))
		d = b.op("add", "det3", nil, d, mul(a[0][2], minor(1, 0, 2, 1)))
	}
	return b.finish(b.reshape("", d, slices.Clone(batch)))
}

// luDet is the determinant of the m×m row-major a (overwritten).
func luDet(a []float64, m int) float64 {
	det := 1.0
	for k := range m {
		p := k
		for i := k + 1; i < m; i++ {
			if math.Abs(a[i*m+k]) > math.Abs(a[p*m+k]) {
				p = i
			}
		}
		if a[p*m+k] == 0 {
			return 0
		}
		if p != k {
			for j := range m {
				a[k*m+j], a[p*m+j] = a[p*m+j], a[k*m+j]
			}
			det = -det
		}
		det *= a[k*m+k]
		for i := k + 1; i < m; i++ {
			f := a[i*m+k] / a[k*m+k]
			for j := k; j < m; j++ {
				a[i*m+j] -= f * a[k*m+j]
			}
		}
	}
	return det
}
