package rt

import "github.com/pare-ml/pare/ir"

// topk and topk_index: per slice along axis, the elements in index order
// are inserted into the k kept ones after those they do not beat (beat:
// greater, largest=0 less; or equal with a lower index: a displaced
// element carried on keeps its place before later equal ones), as a
// carried element bubbles through the slots: a slot not yet filled always
// takes it. Ties keep index order; a NaN beats nothing and nothing beats
// it. The backends run the same
// passes.
func topkKernel[T number](v *ir.Value) (kernel, error) {
	shape := v.Args[0].Type.Shape
	ax, k := v.Int("axis"), v.Int("k")
	largest, index := v.Int("largest") != 0, v.Op.Name == "topk_index"
	outer, n, inner := ir.NumElements(shape[:ax]), shape[ax], ir.NumElements(shape[ax+1:])
	beats := func(e, s T) bool {
		if largest {
			return e > s
		}
		return e < s
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x := data[T](args[0])
		vals, idx := make([]T, k), make([]int, k)
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				base := o*n*inner + j
				for i := 0; i < n; i++ {
					cv, ci := x[base+i*inner], i
					for s := 0; s < k; s++ {
						if s >= i || beats(cv, vals[s]) || cv == vals[s] && ci < idx[s] {
							cv, vals[s] = vals[s], cv
							ci, idx[s] = idx[s], ci
						}
					}
				}
				for s := 0; s < k; s++ {
					at := (o*k+s)*inner + j
					if index {
						out.SetInt(at, int64(idx[s]))
					} else {
						data[T](out)[at] = vals[s]
					}
				}
			}
		}
		return out, nil
	}, nil
}

func init() {
	for _, name := range []string{"topk", "topk_index"} {
		register(name, func(v *ir.Value) (kernel, error) {
			return pick(v, v.Args[0].Type.DType, topkKernel[float32], topkKernel[int8], topkKernel[uint8],
				topkKernel[int16], topkKernel[int32], topkKernel[int64])
		})
	}
}
