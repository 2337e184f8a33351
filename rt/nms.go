package rt

import "github.com/pare-ml/pare/ir"

// nms_index: greedy non-maximum suppression (ir/ops_nms.go has the
// definition). Each of max_output rounds scans the candidates for the best
// (greatest score, ties to the lower index), selects it and drops the
// candidates it overlaps by IoU > iou_threshold: O(max_output · N), no
// sort. The backends run the same loops and the same f32 operations.
func init() {
	register("nms_index", func(v *ir.Value) (kernel, error) {
		n, m := v.Args[0].Type.Shape[0], v.Int("max_output")
		iouT, scoreT := v.Float("iou_threshold"), v.Float("score_threshold")
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			nmsIndex(args[0].F32, args[1].F32, n, iouT, scoreT, out.I32[:m])
			return out, nil
		}, nil
	})
}

// nmsIndex fills sel with the indices nms_index selects from the n boxes
// (corners y1, x1, y2, x2) and their scores, padded with -1.
func nmsIndex(boxes, scores []float32, n int, iouThreshold, scoreThreshold float32, sel []int32) {
	// Normalized corners and areas, as the IoU of ir's definition takes them.
	nb := make([]float32, 4*n)
	area := make([]float32, n)
	cand := make([]bool, n)
	for i := 0; i < n; i++ {
		y1, x1, y2, x2 := boxes[4*i], boxes[4*i+1], boxes[4*i+2], boxes[4*i+3]
		ymin, ymax := minF(y1, y2), maxF(y1, y2)
		xmin, xmax := minF(x1, x2), maxF(x1, x2)
		nb[4*i], nb[4*i+1], nb[4*i+2], nb[4*i+3] = ymin, xmin, ymax, xmax
		area[i] = float32(ymax-ymin) * float32(xmax-xmin)
		cand[i] = scores[i] >= scoreThreshold
	}
	for k := range sel {
		best := -1
		for i := 0; i < n; i++ {
			if cand[i] && (best < 0 || scores[i] > scores[best]) {
				best = i
			}
		}
		if best < 0 {
			for j := k; j < len(sel); j++ {
				sel[j] = -1
			}
			return
		}
		sel[k] = int32(best)
		cand[best] = false
		if area[best] <= 0 {
			continue
		}
		b := nb[4*best : 4*best+4]
		for i := 0; i < n; i++ {
			if !cand[i] || area[i] <= 0 {
				continue
			}
			c := nb[4*i : 4*i+4]
			ih := maxF(float32(minF(b[2], c[2])-maxF(b[0], c[0])), 0)
			iw := maxF(float32(minF(b[3], c[3])-maxF(b[1], c[1])), 0)
			inter := float32(ih * iw)
			if float32(inter/float32(float32(area[best]+area[i])-inter)) > iouThreshold {
				cand[i] = false
			}
		}
	}
}

// minF and maxF are std::min and std::max: q < p ? q : p and p < q ? q : p.
func minF(p, q float32) float32 {
	if q < p {
		return q
	}
	return p
}

func maxF(p, q float32) float32 {
	if p < q {
		return q
	}
	return p
}
