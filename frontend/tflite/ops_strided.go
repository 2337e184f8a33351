package tflite

import (
	"fmt"
)

// STRIDED_SLICE with TFLite's index rules (strided_slice_logic.h): begin,
// end and strides are constant vectors of one entry per spec; an ellipsis
// spec stands for the dims no other spec takes, a new_axis spec inserts a
// size-1 dim, dims after the last spec are taken whole.

// sliceSpec is the slice of one input dim.
type sliceSpec struct {
	begin, end, stride         int
	beginMask, endMask, shrink bool
}

// denseSpecs resolves the specs into one per input dim of a rank-r input.
func denseSpecs(r int, begin, end, strides []int, opt options) ([]sliceSpec, error) {
	n := len(begin)
	if len(end) != n || len(strides) != n {
		return nil, fmt.Errorf("begin %v, end %v and strides %v differ in length", begin, end, strides)
	}
	for _, m := range []int32{opt.beginMask, opt.endMask, opt.ellipsisMask, opt.newAxisMask, opt.shrinkMask} {
		if m < 0 || m>>n != 0 {
			return nil, fmt.Errorf("masks (begin %#x, end %#x, ellipsis %#x, new_axis %#x, shrink_axis %#x) name specs beyond the %d given",
				opt.beginMask, opt.endMask, opt.ellipsisMask, opt.newAxisMask, opt.shrinkMask, n)
		}
	}
	if e := opt.ellipsisMask; e&(e-1) != 0 {
		return nil, fmt.Errorf("ellipsis_mask %#x has more than one bit", e)
	}
	bit := func(m int32, i int) bool { return m>>i&1 != 0 }
	taken := 0 // specs that slice an input dim
	for i := 0; i < n; i++ {
		if !bit(opt.ellipsisMask, i) && !bit(opt.newAxisMask, i) {
			taken++
		}
	}
	if taken > r {
		return nil, fmt.Errorf("%d slice specs for rank %d", taken, r)
	}
	out := make([]sliceSpec, r)
	for d := range out {
		out[d] = sliceSpec{stride: 1, beginMask: true, endMask: true}
	}
	d := 0
	for i := 0; i < n; i++ {
		switch {
		case bit(opt.ellipsisMask, i):
			d += r - taken
		case bit(opt.newAxisMask, i):
		default:
			out[d] = sliceSpec{begin[i], end[i], strides[i], bit(opt.beginMask, i), bit(opt.endMask, i), bit(opt.shrinkMask, i)}
			d++
		}
	}
	return out, nil
}

func convStridedSlice(o *opctx) error {
	opt := o.op.opt
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	var lists [3][]int
	for k, what := range []string{"begin", "end", "strides"} {
		if lists[k], err = o.constList(k+1, what); err != nil {
			return err
		}
	}
	specs, err := denseSpecs(len(shape), lists[0], lists[1], lists[2], opt)
	if err != nil {
		return err
	}
	r := len(shape)
	starts, ends, steps := make([]int, r), make([]int, r), make([]int, r)
	keepRank := opt.newAxisMask == 0
	for d, n := range shape {
		sp := specs[d]
		s := sp.stride
		if s == 0 {
			return fmt.Errorf("stride 0 on dim %d", d)
		}
		steps[d] = s
		starts[d] = clampIndex(sp.begin, n, s)
		if sp.beginMask {
			starts[d] = byStep(s, 0, n-1)
		}
		if sp.shrink {
			if starts[d] < 0 || starts[d] >= n {
				return fmt.Errorf("shrink_axis dim %d: begin %d out of range for size %d", d, sp.begin, n)
			}
			ends[d], steps[d] = starts[d]+1, 1
			keepRank = false
			continue
		}
		e := sp.end
		if opt.offset {
			e += starts[d]
		}
		ends[d] = clampIndex(e, n, s)
		if sp.endMask {
			ends[d] = byStep(s, n, -1)
		}
	}
	return o.sliceAt(0, xi, starts, ends, steps, keepRank)
}

// byStep is fwd for a positive step, else back.
func byStep(step, fwd, back int) int {
	if step > 0 {
		return fwd
	}
	return back
}

// clampIndex is TFLite's start / stop of a strided slice: negative counts
// from the end, then clamped to [0, n] (step > 0) or [-1, n-1] (step < 0).
func clampIndex(i, n, step int) int {
	if i < 0 {
		i += n
	}
	if step > 0 {
		return min(max(i, 0), n)
	}
	return min(max(i, -1), n-1)
}
