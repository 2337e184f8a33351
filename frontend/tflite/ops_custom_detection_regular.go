package tflite

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// regularNMS is TFLite_Detection_PostProcess with use_regular_nms true
// (NonMaxSuppressionMultiClassRegularHelper): per class, nms_index over that
// class's scores of every anchor (detections_per_class selections, the same
// thresholds), then the best max_detections of all the classes' selections
// by score. In the IR: per class a slice, nms_index and a gather of the
// selected scores (-inf for none); one concat of all, topk_index (equal
// scores keep class order, then selection order, where TFLite's partial
// sort leaves their order unspecified), and gathers of the anchors, boxes
// and scores; the class is the position / detections_per_class. Results:
// boxes [S, 4], classes [S], scores [S] and the count, S = min(D, C·dpc).
func (b *detBuilder) regularNMS(d detectionOptions, boxes, scores *ir.Value, n int) (outBoxes, outClasses, outScores, count *ir.Value) {
	c, dpc := d.numClasses, d.perClass
	if dpc < 1 {
		b.err = fmt.Errorf("detections_per_class %d must be positive", dpc)
		return
	}
	// One nms_index per class: bound the graph a model can ask for.
	if c > 1024 || c*dpc > 1<<24 {
		b.err = fmt.Errorf("unsupported: regular NMS over %d classes × detections_per_class %d (at most 1024 classes and %d candidates)", c, dpc, 1<<24)
		return
	}
	negInf := b.f32(".minus_inf", []int{}, float32(math.Inf(-1)))
	zeroI := b.o.im.addConst(b.o.out.name, ".zero_index", &ir.Tensor{DType: ir.I32, Shape: []int{}, I32: []int32{0}}, nil)
	attrs := ir.Attrs{"max_output": ir.Int(dpc), "iou_threshold": ir.Float(d.iouThreshold), "score_threshold": ir.Float(d.scoreThreshold)}
	var sels, scs []*ir.Value
	for k := 0; k < c && b.err == nil; k++ {
		p := fmt.Sprintf(".class%d", k)
		col := b.reshape(p+"_scores", b.slice(p+"_column", scores, []int{0, k}, []int{n, k + 1}), n)
		sel := b.add(p+"_selected", "nms_index", []*ir.Value{boxes, col}, attrs, ir.Type{})
		valid := b.add(p+"_valid", "greater_equal", []*ir.Value{sel, zeroI}, nil, ir.Type{})
		idx := b.add(p+"_index", "max", []*ir.Value{sel, zeroI}, nil, ir.Type{})
		sc := b.add(p+"_selected_scores", "gather", []*ir.Value{col, idx}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
		sels = append(sels, sel)
		scs = append(scs, b.add(p+"_candidates", "where", []*ir.Value{valid, sc, negInf}, nil, ir.Type{}))
	}
	all, allScores := sels[0], scs[0]
	if c > 1 {
		all = b.add(".candidates", "concat", sels, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
		allScores = b.add(".candidate_scores", "concat", scs, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	}
	s := min(d.maxDetections, c*dpc)
	pos := b.add(".best", "topk_index", []*ir.Value{allScores}, ir.Attrs{"k": ir.Int(s), "axis": ir.Int(0)}, ir.Type{DType: ir.I32})
	anchors := b.add(".best_anchors", "gather", []*ir.Value{all, pos}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
	classes := b.add(".best_classes", "div", []*ir.Value{pos,
		b.o.im.addConst(b.o.out.name, ".per_class", &ir.Tensor{DType: ir.I32, Shape: []int{}, I32: []int32{int32(dpc)}}, nil)}, nil, ir.Type{})
	valid, pick := b.picker(".final", anchors)
	outBoxes = pick(".boxes", boxes)
	outClasses = b.add(".classes", "where", []*ir.Value{valid, b.add(".classes_f32", "cast", []*ir.Value{classes}, nil, ir.Type{DType: ir.F32}), b.f32(".zero_class", []int{}, 0)}, nil, ir.Type{})
	outScores = b.add(".scores", "where", []*ir.Value{valid,
		b.add(".scores_gathered", "gather", []*ir.Value{allScores, pos}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{}), b.f32(".zero_score", []int{}, 0)}, nil, ir.Type{})
	count = b.count("", valid)
	return
}
