package ir

import (
	"fmt"
	"math"
)

// nms_index: greedy non-maximum suppression over one set of boxes, the
// selection of TFLite's TFLite_Detection_PostProcess (and of ONNX's
// NonMaxSuppression for one class and batch, given its sort). The result
// is the indices of the selected boxes in selection order, padded with -1.
//
// Semantics, which rt and both backends follow operation by operation
// (indices are integers: the backends agree with rt exactly):
//
//   - A box is a candidate when score >= score_threshold (a NaN score never
//     is).
//   - Repeat max_output times: the best candidate (the greatest score; equal
//     scores go to the lower index) is selected and stops being a
//     candidate; every remaining candidate whose IoU with it is greater than
//     iou_threshold stops being one. With no candidate left, the rest of the
//     result is -1. This is sort-then-greedy (a stable sort by decreasing
//     score, then each box kept unless a kept one suppresses it) without the
//     sort.
//   - IoU of boxes a and b, in f32, each operation rounded: per box
//     ymin = min(y1, y2), ymax = max(y1, y2), the same for x (flipped
//     corners are allowed); area = (ymax - ymin) · (xmax - xmin); when
//     area_a <= 0 or area_b <= 0 the IoU is 0 (a zero-area box suppresses
//     nothing and is suppressed by nothing); otherwise
//     inter = max(min(ymax_a, ymax_b) - max(ymin_a, ymin_b), 0) ·
//     max(min(xmax_a, xmax_b) - max(xmin_a, xmin_b), 0) and
//     IoU = inter / ((area_a + area_b) - inter). min(p, q) is q < p ? q : p
//     and max(p, q) is p < q ? q : p (std::min / std::max, which TFLite
//     uses).
func init() {
	register(&OpDef{Name: "nms_index", Args: []string{"boxes", "scores"}, Infer: nmsIndexInfer,
		Attrs: []AttrDef{
			{Name: "max_output", Kind: AttrInt, Required: true, Doc: "the result's length: at most this many boxes are selected"},
			{Name: "iou_threshold", Kind: AttrFloat, Required: true, Doc: "a candidate whose IoU with a selected box is greater is dropped"},
			{Name: "score_threshold", Kind: AttrFloat, Default: Float(float32(math.Inf(-1))), Doc: "boxes whose score is at least this are candidates"}},
		Doc: "greedy non-maximum suppression: the indices (i32 [max_output], -1 after the last) of the selected boxes (f32 [N,4] corners y1, x1, y2, x2, either order per axis) in selection order: " +
			"candidates are the boxes with score >= score_threshold (never NaN); repeatedly the best candidate (greatest score, ties to the lower index) is selected and every candidate whose IoU with it is > iou_threshold is dropped; " +
			"IoU is 0 when either box has area <= 0, else inter / (area_a + area_b - inter), each step rounded to f32 (TFLite_Detection_PostProcess's selection)"})
}

func nmsIndexInfer(v *Value) (Type, error) {
	b, s := arg(v, 0), arg(v, 1)
	if b.DType != F32 || s.DType != F32 {
		return Type{}, fmt.Errorf("boxes %v and scores %v must be f32", b, s)
	}
	if b.Rank() != 2 || b.Shape[1] != 4 {
		return Type{}, fmt.Errorf("boxes %v must be [N,4]", b.Shape)
	}
	if s.Rank() != 1 || s.Shape[0] != b.Shape[0] {
		return Type{}, fmt.Errorf("scores %v must be [%d], one per box", s.Shape, b.Shape[0])
	}
	m := v.Int("max_output")
	if m < 1 || m > 1<<20 {
		return Type{}, fmt.Errorf("max_output %d must be in [1, %d]", m, 1<<20)
	}
	if b.Shape[0] >= 1<<31-1 {
		return Type{}, fmt.Errorf("%d boxes do not fit i32 indices", b.Shape[0])
	}
	if dt := v.Type.DType; dt != 0 && dt != I32 {
		return Type{}, fmt.Errorf("nms_index gives i32, not %v", dt)
	}
	return Type{DType: I32, Shape: []int{m}}, nil
}
