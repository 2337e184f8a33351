package codegen

import "github.com/pare-ml/pare/ir"

// NMS is the geometry of a KNMS step (nms_index): N boxes, MaxOut result
// slots, the two thresholds.
type NMS struct {
	N, MaxOut  int
	IoU, Score float32
}

// lowerNMS lowers nms_index as one KNMS step. Scratch holds, per box, the
// normalized corners (ymin, xmin, ymax, xmax) at [4i, 4i+4), the area at
// 4N + i and the candidate flag (1 or 0, as f32) at 5N + i.
func (l *lowerer) lowerNMS(v *ir.Value) (*Step, error) {
	n := v.Args[0].Type.Shape[0]
	if int64(n)*6*4 > maxScratch {
		return nil, Unsupported(v, "nms_index over %d boxes: scratch beyond %d bytes", n, maxScratch)
	}
	st := &Step{Op: v.Op.Name, Where: v.Where(), Kernel: KNMS,
		NMS: &NMS{N: n, MaxOut: v.Int("max_output"), IoU: v.Float("iou_threshold"), Score: v.Float("score_threshold")}}
	st.In = []Operand{l.operand(v.Args[0]), l.operand(v.Args[1])}
	b := l.newBuffer(int64(n) * 6 * 4)
	b.first, b.last = l.cur(), l.cur()
	st.Scratch = &Operand{DType: ir.F32, Shape: []int{6 * n}, buf: b}
	return st, nil
}
