package tflite

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// TestTopKV2: TOPK_V2's values and int32 indices along the last dim of
// float and int8 inputs (int8 ties often), also read from an NCHW-only
// tensor: each row sorted best first, ties by index.
func TestTopKV2(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	in := []int{2, 3, 4, 6}
	const k = 4
	for _, typ := range []fb.TensorType{fb.TensorTypeFLOAT32, fb.TensorTypeINT8} {
		for _, pool := range []bool{false, true} {
			x, a := randF32(rng, in...)
			xin := f32In(ints32(in)...)
			vt := opIn{shape: []int32{2, 3, 4, k}, typ: fb.TensorTypeFLOAT32}
			if typ == fb.TensorTypeINT8 {
				x, a = randInt(rng, ir.I8, in...)
				xin = i8In(0.1, -3, ints32(in)...)
				vt = opIn{shape: vt.shape, typ: fb.TensorTypeINT8, scale: 0.1, zp: -3}
			}
			op := oneOp{code: fb.BuiltinOperatorTOPK_V2, ins: []opIn{xin, i32Const(nil, k)},
				outs: []opIn{vt, {shape: vt.shape, typ: fb.TensorTypeINT32}}, pool: pool}
			_, outs := op.run(t, x)
			order := func(o []int) []int {
				idx := make([]int, in[3])
				for i := range idx {
					idx[i] = i
				}
				sort.SliceStable(idx, func(i, j int) bool { return a.at(o[0], o[1], o[2], idx[i]) > a.at(o[0], o[1], o[2], idx[j]) })
				return idx
			}
			vals := newND(2, 3, 4, k).fill(func(o []int) float64 { return a.at(o[0], o[1], o[2], order(o)[o[3]]) })
			idxs := newND(2, 3, 4, k).fill(func(o []int) float64 { return float64(order(o)[o[3]]) })
			name := fmt.Sprintf("%v pool %v", typ, pool)
			near(t, name+" values", outs[0], vals, 0)
			near(t, name+" indices", outs[1], idxs, 0)
		}
	}
}
