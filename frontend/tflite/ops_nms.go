package tflite

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// convNMS imports NON_MAX_SUPPRESSION_V4 (boxes [N,4], scores [N],
// max_output_size, iou_threshold, score_threshold → selected_indices
// [max_output_size] i32, valid_outputs i32) and V5 (also soft_nms_sigma →
// selected_scores as well): TFLite's reference kernel, hard NMS, as one
// nms_index. TFLite keeps boxes whose score > score_threshold and
// suppresses at IoU >= iou_threshold, where nms_index keeps score >= its
// threshold and suppresses at IoU > its: the thresholds pass as the next
// float32 up and down, which is the same test on every f32. The slots
// past valid_outputs hold index 0 and score 0, as TFLite writes them.
// Equal scores go to the lower index (TFLite's priority queue leaves
// their order open). Soft-NMS (soft_nms_sigma > 0) and quantized inputs
// are unsupported.
func convNMS(v5 bool) func(o *opctx) error {
	return func(o *opctx) error {
		b := &detBuilder{o: o}
		maxOut, err := o.constScalar(2, "max_output_size")
		if err != nil {
			return err
		}
		iou, err := o.constScalar(3, "iou_threshold")
		if err != nil {
			return err
		}
		st, err := o.constScalar(4, "score_threshold")
		if err != nil {
			return err
		}
		if v5 {
			sigma, err := o.constScalar(5, "soft_nms_sigma")
			if err != nil {
				return err
			}
			if sigma.At(0) != 0 {
				return fmt.Errorf("unsupported: soft_nms_sigma %v (Soft-NMS); pare imports hard NMS (sigma 0)", sigma.At(0))
			}
		}
		m := int(maxOut.At(0))
		if m < 1 {
			return fmt.Errorf("max_output_size %d must be positive", m)
		}
		boxes, err := o.im.get(o.in(0))
		if err != nil {
			return err
		}
		scores, err := o.im.get(o.in(1))
		if err != nil {
			return err
		}
		if boxes.Type.DType != ir.F32 || scores.Type.DType != ir.F32 {
			return fmt.Errorf("unsupported: boxes %v and scores %v (pare imports f32 non-max suppression)", boxes.Type, scores.Type)
		}
		up := math.Nextafter32(float32(st.At(0)), float32(math.Inf(1)))
		down := math.Nextafter32(float32(iou.At(0)), float32(math.Inf(-1)))
		rounds := m
		if iou.At(0) <= 0 {
			// Every IoU (0 for an empty box too) is >= the threshold:
			// the best candidate suppresses all others. nms_index never
			// suppresses empty boxes, so it selects one, padded here.
			rounds = 1
		}
		sel := b.add(".selected", "nms_index", []*ir.Value{boxes, scores},
			ir.Attrs{"max_output": ir.Int(rounds), "iou_threshold": ir.Float(down), "score_threshold": ir.Float(up)}, ir.Type{})
		if rounds < m {
			sel = b.add(".selected_padded", "pad", []*ir.Value{sel}, ir.Attrs{"pads": ir.Ints(0, m-rounds), "value": ir.Float(-1)}, ir.Type{})
		}
		valid, pick := b.picker("", sel)
		zeroI := b.o.im.addConst(o.out.name, ".zero_slot", &ir.Tensor{DType: ir.I32, Shape: []int{}, I32: []int32{0}}, nil)
		indices := b.add(".indices", "max", []*ir.Value{sel, zeroI}, nil, ir.Type{})
		count := b.add(".valid", "cast", []*ir.Value{b.reshape(".count_scalar", b.count("", valid), []int{}...)}, nil, ir.Type{DType: ir.I32})
		var picked *ir.Value
		if v5 {
			picked = pick(".scores", scores)
		}
		if b.err != nil {
			return b.err
		}
		outs := []*ir.Value{indices}
		if v5 {
			outs = append(outs, picked)
		}
		outs = append(outs, count)
		for k, v := range outs {
			want, err := o.outTypeAt(k)
			if err != nil {
				return err
			}
			if !ir.EqualShape(v.Type.Shape, want.Shape) {
				if v = b.reshape(fmt.Sprintf(".out%d", k), v, want.Shape...); b.err != nil {
					return b.err
				}
			}
			if err := o.setAt(k, v, false); err != nil {
				return err
			}
		}
		return nil
	}
}
