package tflite

import (
	"fmt"
	"math/rand"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// TransformLandmarks version 2 against its definition: (x, y) against the
// first two rows of the runtime matrix with (x, y, 0, 1); z unchanged.
func TestTransformLandmarks(t *testing.T) {
	rng := rand.New(rand.NewSource(41))
	for _, d := range []int{2, 3} {
		const k = 7
		op := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TransformLandmarks", version: 2,
			ins: []opIn{f32In(1, k, int32(d)), f32In(1, 4, 4)}, outs: []opIn{f32In(1, k, int32(d))}}
		x, a := randF32(rng, 1, k, d)
		m, ma := randF32(rng, 1, 4, 4)
		g, outs := op.run(t, x, m)
		mat := func(r, c int) float64 { return ma.at(0, r, c) }
		want := newND(1, k, d).fill(func(o []int) float64 {
			lx, ly := a.at(0, o[1], 0), a.at(0, o[1], 1)
			if o[2] == 2 {
				return a.at(0, o[1], 2)
			}
			r := o[2]
			return mat(r, 0)*lx + mat(r, 1)*ly + mat(r, 3)
		})
		near(t, fmt.Sprintf("D=%d", d), outs[0], want, 1e-5)
		if n := countOps(g)["matmul"]; n != 1 {
			t.Errorf("D=%d: %d matmuls, want 1:\n%s", d, n, g)
		}
	}
	in := []opIn{f32In(1, 5, 2), f32In(1, 4, 4)}
	oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TransformLandmarks", ins: in, outs: []opIn{f32In(1, 5, 2)}}.
		importErr(t, "unsupported: version 1")
	oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TransformLandmarks", version: 2, ins: []opIn{f32In(2, 5, 2), f32In(1, 4, 4)}, outs: []opIn{f32In(2, 5, 2)}}.
		importErr(t, "landmarks [2 5 2] must be [1, K, 2] or [1, K, 3]")
	oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TransformLandmarks", version: 2, ins: []opIn{f32In(1, 5, 2), f32In(1, 3, 4)}, outs: []opIn{f32In(1, 5, 2)}}.
		importErr(t, "matrix [1 3 4] must be [1, 4, 4]")
}
