package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// convAffineGrid (opset 20): the sampling grid of theta, [N, H, W, 2]
// (or [N, D, H, W, 3]) = the constant homogeneous points (x, y[, z], 1)
// of the normalized output positions, [H·W, 3], times thetaᵀ [N, 3, 2]
// (a batch-broadcast matmul), reshaped. size must be constant.
// Normalized positions: −1 + 2i/(n − 1) with align_corners, else
// −1 + (2i + 1)/n; a dim of 1 with align_corners is at 0 (torch).
func convAffineGrid(c *nodeCtx) error {
	theta, err := c.floatIn(0)
	if err != nil {
		return err
	}
	st, err := c.constArg(1, "size")
	if err != nil {
		return err
	}
	if !st.DType.IsInt() || len(st.Shape) != 1 || st.Len() != 4 && st.Len() != 5 {
		return c.errf("size %v must be 4 or 5 integers (N, C, H, W or N, C, D, H, W)", st.Shape)
	}
	sp := st.Len() - 2 // spatial dims: 2 or 3
	ts := theta.Type.Shape
	if len(ts) != 3 || ts[1] != sp || ts[2] != sp+1 {
		return c.errf("theta %v must be [N, %d, %d] for a size of %d dims", ts, sp, sp+1, st.Len())
	}
	if n := st.IntAt(0); n != int64(ts[0]) {
		return c.errf("size[0] = %d differs from theta's batch %d", n, ts[0])
	}
	dims := make([]int, sp)
	for i := range dims {
		d := st.IntAt(2 + i)
		if d < 1 || d > int64(ir.MaxElements) {
			return c.errf("size[%d] = %d must be positive", 2+i, d)
		}
		dims[i] = int(d)
	}
	pts := ir.NumElements(dims)
	if pts > ir.MaxElements || !c.im.budget(4*pts*(sp+1)) {
		return c.errf("a grid of %v points is too large", dims)
	}
	align := c.int("align_corners", 0) != 0
	coord := func(i, n int) float64 {
		if align {
			if n == 1 {
				return 0 // undefined in ONNX: torch's 0 (ONNX Runtime 1.30 gives 1)
			}
			return -1 + 2*float64(i)/float64(n-1)
		}
		return -1 + float64(2*i+1)/float64(n)
	}
	// base[p, k]: coordinate k of point p, x (the last dim) first.
	base := ir.NewTensor(ir.F32, []int{pts, sp + 1})
	for p := range pts {
		idx := unflatIndex(p, dims)
		for k := range sp {
			d := sp - 1 - k
			base.F32[p*(sp+1)+k] = float32(coord(idx[d], dims[d]))
		}
		base.F32[p*(sp+1)+sp] = 1
	}
	b := c.build()
	tt := b.op("transpose", "theta_t", ir.Attrs{"perm": ir.Ints(0, 2, 1)}, theta)
	g := b.op("matmul", "grid_points", nil, c.constant(c.tmpName("base_grid"), base, nil), tt)
	return b.finish(b.reshape("", g, append(append([]int{ts[0]}, dims...), sp)))
}
