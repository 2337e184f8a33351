package tflite

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// TFLite_Detection_PostProcess, the custom op that ends SSD-style detection
// models (tensorflow/lite/kernels/detection_postprocess.cc). Inputs: box
// encodings [1, N, L ≥ 4] (ty, tx, th, tw, then keypoints it ignores),
// class predictions [1, N, C or C+1] (with background, column 0 is it) and
// anchors [N, 4] (ycenter, xcenter, h, w); uint8 boxes and classes (with
// uint8 anchors) are dequantized first, as TFLite does. Options: a
// FlexBuffers map. Outputs, all f32: boxes [1, D·K, 4] (ymin, xmin, ymax,
// xmax), classes [1, D·K] (0-based, background excluded), scores [1, D·K],
// count [1], for D = max_detections and K = max_classes_per_detection.
//
// The fast path (use_regular_nms false), in the IR:
//   - decode: ycenter = ty / y_scale · ah + ay, h/2 = exp(th / h_scale) · 0.5 · ah,
//     ymin = ycenter - h/2, ymax = ycenter + h/2 (x the same): div, mul, add,
//     exp, sub and concat, in f32 (TFLite computes in double and rounds once
//     to f32: a coordinate may differ by an ulp or two);
//   - per anchor the best class among columns label_offset.. (argmax, the
//     first maximum as TFLite's ArgMaxVector, and reduce_max), or with K > 1
//     the best min(K, C) (topk / topk_index: equal scores in index order,
//     where TFLite's partial sort leaves their order unspecified);
//   - nms_index over the anchors' best scores (score >= nms_score_threshold,
//     IoU > nms_iou_threshold suppresses, zero-area boxes never overlap);
//   - gather of boxes, classes and scores at the selected anchors (-1 slots
//     read anchor 0 and are then zeroed by where); count = the selected.
//
// use_regular_nms true: per-class NMS (ops_custom_detection_regular.go).
// Slots after the count: TFLite's fast path leaves them as they were (its
// regular path writes zeros); pare writes zeros.

// detectionOptions are the kernel's options (OpData in TFLite).
type detectionOptions struct {
	maxDetections, maxClasses, perClass, numClasses int
	regular                                         bool
	scoreThreshold, iouThreshold                    float32
	yScale, xScale, hScale, wScale                  float32
}

func readDetectionOptions(b []byte) (detectionOptions, error) {
	m, err := flexMapOf(b)
	if err != nil {
		return detectionOptions{}, fmt.Errorf("custom_options: %v", err)
	}
	num := func(k string, def float64, required bool) (float64, error) {
		v, ok := m[k]
		if !ok || v.typ == flexNull {
			if required {
				return 0, fmt.Errorf("custom_options has no %s", k)
			}
			return def, nil
		}
		return v.num, nil
	}
	var d detectionOptions
	var errs []error
	get := func(k string, def float64, required bool) float64 {
		v, err := num(k, def, required)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	integer := func(k string, def float64, required bool) int {
		v := get(k, def, required)
		if v < 0 || v > 1<<20 || v != math.Trunc(v) {
			errs = append(errs, fmt.Errorf("%s %v: want an integer in [0, %d]", k, v, 1<<20))
			return 0
		}
		return int(v)
	}
	d.maxDetections = integer("max_detections", 0, true)
	d.maxClasses = integer("max_classes_per_detection", 0, true)
	d.perClass = integer("detections_per_class", 100, false)
	d.numClasses = integer("num_classes", 0, true)
	d.regular = get("use_regular_nms", 0, false) != 0
	d.scoreThreshold = float32(get("nms_score_threshold", 0, false))
	d.iouThreshold = float32(get("nms_iou_threshold", 0, true))
	d.yScale = float32(get("y_scale", 0, true))
	d.xScale = float32(get("x_scale", 0, true))
	d.hScale = float32(get("h_scale", 0, true))
	d.wScale = float32(get("w_scale", 0, true))
	if len(errs) > 0 {
		return d, errs[0]
	}
	switch {
	case d.maxDetections < 1:
		return d, fmt.Errorf("max_detections %d must be positive", d.maxDetections)
	case d.maxClasses < 1:
		return d, fmt.Errorf("max_classes_per_detection %d must be positive", d.maxClasses)
	case d.numClasses < 1:
		return d, fmt.Errorf("num_classes %d must be positive", d.numClasses)
	case !(d.iouThreshold > 0 && d.iouThreshold <= 1):
		return d, fmt.Errorf("nms_iou_threshold %v must be in (0, 1]", d.iouThreshold)
	case d.yScale == 0 || d.xScale == 0 || d.hScale == 0 || d.wScale == 0:
		return d, fmt.Errorf("scales y %v x %v h %v w %v must not be zero", d.yScale, d.xScale, d.hScale, d.wScale)
	}
	return d, nil
}

// detBuilder adds the ops of one TFLite_Detection_PostProcess, named after
// its first output; the first error sticks.
type detBuilder struct {
	o   *opctx
	err error
}

func (b *detBuilder) add(suffix, op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) *ir.Value {
	if b.err != nil {
		return nil
	}
	v, err := b.o.named(suffix, op, args, attrs, hint)
	if err != nil {
		b.err = fmt.Errorf("%s (%s): %v", op, suffix, err)
	}
	return v
}

func (b *detBuilder) slice(suffix string, x *ir.Value, starts, ends []int) *ir.Value {
	steps := make([]int, len(starts))
	for i := range steps {
		steps[i] = 1
	}
	return b.add(suffix, "slice", []*ir.Value{x}, ir.Attrs{"starts": ir.Ints(starts...), "ends": ir.Ints(ends...), "steps": ir.Ints(steps...)}, ir.Type{})
}

func (b *detBuilder) reshape(suffix string, x *ir.Value, shape ...int) *ir.Value {
	if b.err == nil && ir.EqualShape(x.Type.Shape, shape) {
		return x
	}
	return b.add(suffix, "reshape", []*ir.Value{x}, nil, ir.Type{Shape: shape})
}

func (b *detBuilder) f32(suffix string, shape []int, v ...float32) *ir.Value {
	return b.o.im.addConst(b.o.out.name, suffix, ir.FromF32(shape, v), nil)
}

// float returns input k as f32: uint8 quantized inputs are dequantized.
func (b *detBuilder) float(k int, what string) *ir.Value {
	if b.err != nil {
		return nil
	}
	x, err := b.o.im.get(b.o.in(k))
	if err != nil {
		b.err = fmt.Errorf("%s: %v", what, err)
		return nil
	}
	switch {
	case x.Type.DType == ir.F32:
		return x
	case x.Type.DType == ir.U8 && x.Type.Quant != nil && x.Type.Quant.Axis < 0:
		return b.add("."+what+"_f32", "dequantize", []*ir.Value{x}, nil, ir.Type{})
	}
	b.err = fmt.Errorf("%s %v: want f32 or per-tensor quantized uint8 (as TFLite's kernel)", what, x.Type)
	return nil
}

func convDetectionPostProcess(o *opctx) error {
	d, err := readDetectionOptions(o.op.custom)
	if err != nil {
		return err
	}
	if len(o.op.outputs) != 4 {
		return fmt.Errorf("%d outputs, want 4 (boxes, classes, scores, count)", len(o.op.outputs))
	}
	b := &detBuilder{o: o}
	enc, cls := b.float(0, "box_encodings"), b.float(1, "class_predictions")
	anchorsIn, err := o.im.get(o.in(2))
	if err != nil {
		return fmt.Errorf("anchors: %v", err)
	}
	if b.err != nil {
		return b.err
	}
	es, cs, as := enc.Type.Shape, cls.Type.Shape, anchorsIn.Type.Shape
	if len(es) != 3 || es[0] != 1 || es[2] < 4 {
		return fmt.Errorf("box encodings %v must be [1, anchors, 4 or more]", es)
	}
	n := es[1]
	if len(cs) != 3 || cs[0] != 1 || cs[1] != n {
		return fmt.Errorf("class predictions %v must be [1, %d, classes]", cs, n)
	}
	off := cs[2] - d.numClasses
	if off != 0 && off != 1 {
		return fmt.Errorf("class predictions %v: %d columns for num_classes %d (want it or one more, the background)", cs, cs[2], d.numClasses)
	}
	if !ir.EqualShape(as, []int{n, 4}) {
		return fmt.Errorf("anchors %v must be [%d, 4]", as, n)
	}
	encIn, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	if et, at := encIn.Type.DType, anchorsIn.Type.DType; et != at {
		return fmt.Errorf("anchors are %v and box encodings %v: TFLite's kernel needs both f32 or both uint8", at, et)
	}
	anchors := b.float(2, "anchors")

	// Decode: (ty, tx) / (y_scale, x_scale) · (ah, aw) + (ay, ax), and
	// exp((th, tw) / (h_scale, w_scale)) · 0.5 · (ah, aw) for the halves.
	e4 := enc
	if es[2] > 4 { // keypoints after the box
		e4 = b.slice(".enc4", enc, []int{0, 0, 0}, []int{1, n, 4})
	}
	e4 = b.reshape(".enc", e4, n, 4)
	ayx := b.slice(".anchor_yx", anchors, []int{0, 0}, []int{n, 2})
	ahw := b.slice(".anchor_hw", anchors, []int{0, 2}, []int{n, 4})
	tyx := b.slice(".enc_yx", e4, []int{0, 0}, []int{n, 2})
	thw := b.slice(".enc_hw", e4, []int{0, 2}, []int{n, 4})
	center := b.add(".center", "add", []*ir.Value{
		b.add(".center_scaled", "mul", []*ir.Value{
			b.add(".enc_yx_unscaled", "div", []*ir.Value{tyx, b.f32(".scale_yx", []int{2}, d.yScale, d.xScale)}, nil, ir.Type{}), ahw}, nil, ir.Type{}),
		ayx}, nil, ir.Type{})
	half := b.add(".half", "mul", []*ir.Value{
		b.add(".half_unscaled", "mul", []*ir.Value{
			b.add(".size", "exp", []*ir.Value{
				b.add(".enc_hw_unscaled", "div", []*ir.Value{thw, b.f32(".scale_hw", []int{2}, d.hScale, d.wScale)}, nil, ir.Type{})}, nil, ir.Type{}),
			b.f32(".half_const", []int{}, 0.5)}, nil, ir.Type{}),
		ahw}, nil, ir.Type{})
	boxes := b.add(".decoded", "concat", []*ir.Value{
		b.add(".min", "sub", []*ir.Value{center, half}, nil, ir.Type{}),
		b.add(".max", "add", []*ir.Value{center, half}, nil, ir.Type{})}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})

	// Class scores without the background; the best k per anchor.
	scores := b.reshape(".scores", cls, n, cs[2])
	if off == 1 {
		scores = b.slice(".class_scores", scores, []int{0, 1}, []int{n, cs[2]})
	}
	dmax, m := d.maxDetections, d.maxClasses
	var outBoxes, outClasses, outScores, count *ir.Value
	if d.regular {
		outBoxes, outClasses, outScores, count = b.regularNMS(d, boxes, scores, n)
	} else {
		outBoxes, outClasses, outScores, count = b.fastNMS(d, boxes, scores, n)
	}
	// Slots after the ones filled (regular NMS fills max_detections of
	// max_detections · max_classes_per_detection) hold zeros.
	if b.err != nil {
		return b.err
	}
	if s := outClasses.Type.Shape[0]; s < dmax*m {
		outBoxes = b.add(".boxes_pad", "pad", []*ir.Value{outBoxes}, ir.Attrs{"pads": ir.Ints(0, 0, dmax*m-s, 0)}, ir.Type{})
		outClasses = b.add(".classes_pad", "pad", []*ir.Value{outClasses}, ir.Attrs{"pads": ir.Ints(0, dmax*m-s)}, ir.Type{})
		outScores = b.add(".scores_pad", "pad", []*ir.Value{outScores}, ir.Attrs{"pads": ir.Ints(0, dmax*m-s)}, ir.Type{})
	}
	outs := []*ir.Value{
		b.add(".boxes_out", "reshape", []*ir.Value{outBoxes}, nil, ir.Type{Shape: []int{1, dmax * m, 4}}),
		b.add(".classes_out", "reshape", []*ir.Value{outClasses}, nil, ir.Type{Shape: []int{1, dmax * m}}),
		b.add(".scores_out", "reshape", []*ir.Value{outScores}, nil, ir.Type{Shape: []int{1, dmax * m}}),
		count,
	}
	if b.err != nil {
		return b.err
	}
	for i, v := range outs {
		if err := o.setAt(i, v, false); err != nil {
			return err
		}
	}
	return nil
}

// fastNMS is the fast path: per anchor its best k classes, nms_index over
// the best scores, and each selected anchor's box, classes and scores in
// max_classes_per_detection slots: [D·K, 4], [D·K], [D·K] and the count.
func (b *detBuilder) fastNMS(d detectionOptions, boxes, scores *ir.Value, n int) (outBoxes, outClasses, outScores, count *ir.Value) {
	k, m, dmax := min(d.maxClasses, d.numClasses), d.maxClasses, d.maxDetections
	var best, bestClass *ir.Value
	if k == 1 {
		best = b.add(".best_score", "reduce_max", []*ir.Value{scores}, ir.Attrs{"axes": ir.Ints(1), "keepdims": ir.Int(1)}, ir.Type{})
		bestClass = b.add(".best_class", "argmax", []*ir.Value{scores}, ir.Attrs{"axis": ir.Int(1), "keepdims": ir.Int(1)}, ir.Type{DType: ir.I32})
	} else {
		attrs := ir.Attrs{"k": ir.Int(k), "axis": ir.Int(1)}
		best = b.add(".best_scores", "topk", []*ir.Value{scores}, attrs, ir.Type{})
		bestClass = b.add(".best_classes", "topk_index", []*ir.Value{scores}, attrs, ir.Type{DType: ir.I32})
	}
	top := best
	if k > 1 {
		top = b.slice(".top_score", best, []int{0, 0}, []int{n, 1})
	}
	sel := b.add(".selected", "nms_index", []*ir.Value{boxes, b.reshape(".nms_scores", top, n)},
		ir.Attrs{"max_output": ir.Int(dmax), "iou_threshold": ir.Float(d.iouThreshold), "score_threshold": ir.Float(d.scoreThreshold)}, ir.Type{})

	// Gather at the selected anchors; -1 slots read anchor 0, then zeros.
	valid, pick := b.picker("", sel)
	outBoxes, outClasses, outScores = pick(".boxes", boxes), pick(".classes", bestClass), pick(".scores", best)
	count = b.count("", valid)
	if m > 1 {
		// Each selected anchor fills K slots: its box K times, its best k
		// classes and scores, zeros after them.
		outBoxes = b.add(".boxes_rep", "expand", []*ir.Value{b.reshape(".boxes_col", outBoxes, dmax, 1, 4)}, nil, ir.TensorType(ir.F32, dmax, k, 4))
		if k < m {
			outBoxes = b.add(".boxes_kpad", "pad", []*ir.Value{outBoxes}, ir.Attrs{"pads": ir.Ints(0, 0, 0, 0, m-k, 0)}, ir.Type{})
			outClasses = b.add(".classes_kpad", "pad", []*ir.Value{outClasses}, ir.Attrs{"pads": ir.Ints(0, 0, 0, m-k)}, ir.Type{})
			outScores = b.add(".scores_kpad", "pad", []*ir.Value{outScores}, ir.Attrs{"pads": ir.Ints(0, 0, 0, m-k)}, ir.Type{})
		}
	}
	return b.reshape(".boxes_flat", outBoxes, dmax*m, 4), b.reshape(".classes_flat", outClasses, dmax*m),
		b.reshape(".scores_flat", outScores, dmax*m), count
}

// picker gathers rows of a tensor at the selected indices sel (i32 [S], -1
// for none): -1 reads row 0, then where gives zeros there. It returns the
// validity of each slot and the picking function.
func (b *detBuilder) picker(prefix string, sel *ir.Value) (*ir.Value, func(suffix string, x *ir.Value) *ir.Value) {
	if b.err != nil {
		return nil, func(string, *ir.Value) *ir.Value { return nil }
	}
	zeroI := b.o.im.addConst(b.o.out.name, prefix+".zero_index", &ir.Tensor{DType: ir.I32, Shape: []int{}, I32: []int32{0}}, nil)
	valid := b.add(prefix+".valid", "greater_equal", []*ir.Value{sel, zeroI}, nil, ir.Type{})
	idx := b.add(prefix+".index", "max", []*ir.Value{sel, zeroI}, nil, ir.Type{})
	validCol := b.reshape(prefix+".valid_col", valid, sel.Type.Shape[0], 1)
	zero := b.f32(prefix+".zero", []int{}, 0)
	return valid, func(suffix string, x *ir.Value) *ir.Value {
		g := b.add(prefix+suffix+"_gathered", "gather", []*ir.Value{x, idx}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
		if g != nil && g.Type.DType != ir.F32 {
			g = b.add(prefix+suffix+"_f32", "cast", []*ir.Value{g}, nil, ir.Type{DType: ir.F32})
		}
		if g != nil && g.Type.Rank() == 1 {
			return b.add(prefix+suffix+"_kept", "where", []*ir.Value{valid, g, zero}, nil, ir.Type{})
		}
		return b.add(prefix+suffix+"_kept", "where", []*ir.Value{validCol, g, zero}, nil, ir.Type{})
	}
}

// count is the number of valid slots as f32 [1].
func (b *detBuilder) count(prefix string, valid *ir.Value) *ir.Value {
	ones := b.add(prefix+".ones", "where", []*ir.Value{valid, b.f32(prefix+".one", []int{}, 1), b.f32(prefix+".zero_count", []int{}, 0)}, nil, ir.Type{})
	return b.add(prefix+".count", "reduce_sum", []*ir.Value{ones}, ir.Attrs{"axes": ir.Ints(0), "keepdims": ir.Int(1)}, ir.Type{})
}
