package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Sparse kernels: the weight is a CSR matrix (rows = output channels for
// conv and gemm with trans_b, input rows for matmul and gemm without), and
// work is proportional to its non-zeros.

// sparseConv is a direct 2-D convolution (group 1) over the non-zeros of
// the weight [M, C·kh·kw]: each weight adds a shifted input plane to its
// output plane.
func sparseConv(m *csr) builder {
	return func(v *ir.Value) (kernel, error) {
		x, w := v.Args[0].Type, v.Args[1].Type
		if x.Rank() != 4 || v.Int("group") != 1 {
			return nil, fmt.Errorf("sparse conv takes 2-D convolutions of group 1")
		}
		win, err := ir.WindowOf(v, 2, w.Shape[2:])
		if err != nil {
			return nil, err
		}
		n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		kh, kw := w.Shape[2], w.Shape[3]
		oh, ow := v.Type.Shape[2], v.Type.Shape[3]
		sh, sw, dh, dw := win.Strides[0], win.Strides[1], win.Dilations[0], win.Dilations[1]
		pt, pl := win.PadsBegin[0], win.PadsBegin[1]
		hasBias := len(v.Args) == 3
		// For each kx, the range of output columns whose input column is inside.
		oxLo, oxHi := make([]int, kw), make([]int, kw)
		for kx := 0; kx < kw; kx++ {
			lo, hi := ow, 0
			for ox := 0; ox < ow; ox++ {
				if ix := ox*sw - pl + kx*dw; ix >= 0 && ix < wd {
					lo, hi = min(lo, ox), max(hi, ox+1)
				}
			}
			oxLo[kx], oxHi[kx] = lo, hi
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			xs, o := args[0].F32, out.F32
			for b := 0; b < n; b++ {
				xb := xs[b*c*h*wd : (b+1)*c*h*wd]
				for mo := 0; mo < m.rows; mo++ {
					op := o[(b*m.rows+mo)*oh*ow : (b*m.rows+mo+1)*oh*ow]
					if hasBias {
						bias := args[2].F32[mo]
						for i := range op {
							op[i] = bias
						}
					}
					for i := m.ptr[mo]; i < m.ptr[mo+1]; i++ {
						j := int(m.col[i])
						ci, ky, kx := j/(kh*kw), j/kw%kh, j%kw
						val := m.val[i]
						plane := xb[ci*h*wd : (ci+1)*h*wd]
						lo, hi := oxLo[kx], oxHi[kx]
						for oy := 0; oy < oh; oy++ {
							iy := oy*sh - pt + ky*dh
							if iy < 0 || iy >= h {
								continue
							}
							row := plane[iy*wd : (iy+1)*wd]
							orow := op[oy*ow : (oy+1)*ow]
							ix := lo*sw - pl + kx*dw
							for ox := lo; ox < hi; ox++ {
								orow[ox] += val * row[ix]
								ix += sw
							}
						}
					}
				}
			}
			return out, nil
		}, nil
	}
}

// sparseGemm computes alpha·A·op(W) + beta·C for A [M,K] (not transposed).
func sparseGemm(m *csr) builder {
	return func(v *ir.Value) (kernel, error) {
		if v.Int("trans_a") != 0 {
			return nil, fmt.Errorf("sparse gemm takes trans_a=0")
		}
		rows, n := v.Type.Shape[0], v.Type.Shape[1]
		k := v.Args[0].Type.Shape[1]
		transB := v.Int("trans_b") != 0
		alpha, beta := v.Float("alpha"), v.Float("beta")
		hasC := len(v.Args) == 3
		cn := 0
		if hasC {
			cn = v.Args[2].Type.NumElements()
			cs := v.Args[2].Type.Shape
			if cn != 1 && cn != n && cn != rows*n || cn == n && len(cs) == 2 && cs[1] != n || cn == n && len(cs) == 1 && cs[0] != n {
				return nil, fmt.Errorf("sparse gemm: bias %v", cs)
			}
			if cn == n && rows == n && len(cs) == 2 && cs[0] == n && cs[1] == 1 {
				return nil, fmt.Errorf("sparse gemm: column bias")
			}
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			a, o := args[0].F32, out.F32
			for r := 0; r < rows; r++ {
				ar, or := a[r*k:(r+1)*k], o[r*n:(r+1)*n]
				if transB { // W is [N, K]: one dot product per output
					for j := 0; j < n; j++ {
						var s float32
						for i := m.ptr[j]; i < m.ptr[j+1]; i++ {
							s += m.val[i] * ar[m.col[i]]
						}
						or[j] = s
					}
				} else { // W is [K, N]: scatter each input into its outputs
					for kk := 0; kk < k; kk++ {
						x := ar[kk]
						if x == 0 {
							continue
						}
						for i := m.ptr[kk]; i < m.ptr[kk+1]; i++ {
							or[m.col[i]] += m.val[i] * x
						}
					}
				}
				for j := range or {
					s := alpha * or[j]
					if hasC {
						switch cn {
						case 1:
							s += beta * args[2].F32[0]
						case n:
							s += beta * args[2].F32[j]
						default:
							s += beta * args[2].F32[r*n+j]
						}
					}
					or[j] = s
				}
			}
			return out, nil
		}, nil
	}
}

// sparseMatmul computes A·W for A [..., K] and a 2-D W [K, N].
func sparseMatmul(m *csr) builder {
	return func(v *ir.Value) (kernel, error) {
		a := v.Args[0].Type
		if v.Args[1].Type.Rank() != 2 || a.Rank() < 2 {
			return nil, fmt.Errorf("sparse matmul takes a 2-D weight and an input of rank >= 2")
		}
		k, n := m.rows, m.cols
		rows := a.NumElements() / k
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			x, o := args[0].F32, out.F32
			for r := 0; r < rows; r++ {
				ar, or := x[r*k:(r+1)*k], o[r*n:(r+1)*n]
				for kk, xv := range ar {
					if xv == 0 {
						continue
					}
					for i := m.ptr[kk]; i < m.ptr[kk+1]; i++ {
						or[m.col[i]] += m.val[i] * xv
					}
				}
			}
			return out, nil
		}, nil
	}
}
