package tflite

import (
	"fmt"
	"math/rand"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// TestArgMax: ARG_MAX and ARG_MIN over each axis of float and int8 inputs
// (int8 ties often), read in NHWC and from an NCHW-only tensor, give the
// first index of the extreme, as i32 or i64.
func TestArgMax(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	in := []int{2, 3, 4, 5}
	for _, code := range []fb.BuiltinOperator{fb.BuiltinOperatorARG_MAX, fb.BuiltinOperatorARG_MIN} {
		for _, typ := range []fb.TensorType{fb.TensorTypeFLOAT32, fb.TensorTypeINT8} {
			if code == fb.BuiltinOperatorARG_MIN && typ != fb.TensorTypeFLOAT32 {
				continue
			}
			for axis := -1; axis < 4; axis++ {
				for _, pool := range []bool{false, true} {
					ax := (axis + 4) % 4
					var out []int
					for d, n := range in {
						if d != ax {
							out = append(out, n)
						}
					}
					ot := fb.TensorTypeINT64
					if axis%2 == 0 {
						ot = fb.TensorTypeINT32
					}
					x, a := randF32(rng, in...)
					xin := f32In(ints32(in)...)
					if typ == fb.TensorTypeINT8 {
						x, a = randInt(rng, ir.I8, in...)
						xin = i8In(0.1, -3, ints32(in)...)
					}
					op := oneOp{code: code, ins: []opIn{xin, vecConst(int32(axis))}, outs: []opIn{{shape: ints32(out), typ: ot}}, pool: pool}
					_, outs := op.run(t, x)
					want := newND(out...).fill(func(o []int) float64 {
						best, at := 0.0, -1
						for i := 0; i < in[ax]; i++ {
							idx := append(append(append([]int{}, o[:ax]...), i), o[ax:]...)
							v := a.at(idx...)
							if code == fb.BuiltinOperatorARG_MIN {
								v = -v
							}
							if at < 0 || v > best {
								best, at = v, i
							}
						}
						return float64(at)
					})
					near(t, fmt.Sprintf("%v %v axis %d pool %v", code, typ, axis, pool), outs[0], want, 0)
				}
			}
		}
	}
}
