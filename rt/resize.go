package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// resize: nearest or (multi)linear, with the ONNX coordinate
// transformations, computed in float32 as ONNX Runtime does. The scale of
// a dim is the "scales" attribute when given, else out/in.

// axisMap holds, per output coordinate of one dim, the input coordinates and
// weights to blend (one coordinate with weight 1 for nearest).
type axisMap struct {
	i0, i1 []int
	w1     []float32 // weight of i1; i0 gets 1-w1
	lerp   bool      // some w1 is not zero
}

func newAxisMap(v *ir.Value, d, in, out int) axisMap {
	m := ir.ResizeAxis(v, d, in, out)
	return axisMap{i0: m.I0, i1: m.I1, w1: m.W1, lerp: m.Lerp}
}

func buildResize(v *ir.Value) (kernel, error) {
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	intNearest := v.Args[0].Type.DType != ir.F32
	if intNearest && v.Str("mode") != "nearest" {
		return nil, fmt.Errorf("resize of %v in %s mode (integers resize in nearest mode)", v.Args[0].Type.DType, v.Str("mode"))
	}
	if len(in) != len(out) {
		return nil, fmt.Errorf("resize from rank %d to rank %d", len(in), len(out))
	}
	r := len(in)
	maps := make([]axisMap, r)
	for d := 0; d < r; d++ {
		if in[d] == 0 && out[d] > 0 {
			return nil, fmt.Errorf("resize of an empty dim")
		}
		if out[d] > 0 {
			maps[d] = newAxisMap(v, d, in[d], out[d])
		}
	}
	istr := ir.Strides(in)
	// Interpolation runs over the dims that blend; the others pick one
	// coordinate.
	var lerpDims []int
	for d := range maps {
		if maps[d].lerp {
			lerpDims = append(lerpDims, d)
		}
	}
	corners := 1 << len(lerpDims)
	if intNearest {
		if len(lerpDims) > 0 {
			return nil, fmt.Errorf("resize of %v blends", v.Args[0].Type.DType)
		}
		// Integers: the element each output position picks, as it is.
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			res := newResult(v)
			od := newOdometer(out)
			for o := 0; o < res.Len(); o++ {
				base := 0
				for d := 0; d < r; d++ {
					base += maps[d].i0[od.idx[d]] * istr[d]
				}
				res.SetInt(o, args[0].IntAt(base))
				od.next()
			}
			return res, nil
		}, nil
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		res := newResult(v)
		x, y := args[0].F32, res.F32
		if len(y) == 0 {
			return res, nil
		}
		od := newOdometer(out)
		for o := range y {
			base := 0
			for d := 0; d < r; d++ {
				if !maps[d].lerp {
					base += maps[d].i0[od.idx[d]] * istr[d]
				}
			}
			var s float32
			for c := 0; c < corners; c++ {
				off, w := base, float32(1)
				for b, d := range lerpDims {
					oc := od.idx[d]
					if c>>b&1 == 0 {
						off += maps[d].i0[oc] * istr[d]
						w *= 1 - maps[d].w1[oc]
					} else {
						off += maps[d].i1[oc] * istr[d]
						w *= maps[d].w1[oc]
					}
				}
				if w != 0 {
					s += w * x[off]
				}
			}
			y[o] = s
			od.next()
		}
		return res, nil
	}, nil
}

func init() { register("resize", buildResize) }
