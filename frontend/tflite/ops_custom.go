package tflite

import (
	"encoding/binary"
	"fmt"
	"strings"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// TFLite CUSTOM ops, keyed by custom code: TFLite_Detection_PostProcess
// (TFLite's own, ops_custom_detection.go, FlexBuffers options) and the ones
// MediaPipe registers for its published models
// (mediapipe/util/tflite/operations). The options of
// the transpose conv and the pools are not FlexBuffers: custom_options
// holds the bytes of a C struct of TFLite's builtin_op_data.h
// (TfLiteTransposeConvParams, TfLitePoolParams), which the kernel reads in
// place: little-endian int32 fields, and TfLitePadding counts Unknown 0,
// Same 1, Valid 2 (not the schema's Padding, where SAME is 0).
// TransformLandmarks version 2 has no options. Landmarks2TransformMatrix
// and TransformTensorBilinear (FlexBuffers options) are not supported.

// customConverters are the supported custom ops; minIn and fn as for
// builtin ops (converter.op is CUSTOM).
var customConverters = []struct {
	code string
	converter
}{
	{"Convolution2DTransposeBias", converter{fb.BuiltinOperatorCUSTOM, 3,
		"MediaPipe's transpose conv with bias (inputs: input, weights OHWI, bias; custom_options TfLiteTransposeConvParams: padding, stride_w, stride_h): conv_transpose (weights → [I,O,H,W]) with bias, pads by MediaPipe's output size s·(in-1)+k-P, P = SAME ? max(0, k-(in-1)%s-1) : 0, P/2 before; f32 only",
		floatOnly(convTransposeBias)}},
	{"MaxPoolingWithArgmax2D", converter{fb.BuiltinOperatorCUSTOM, 1,
		"MediaPipe's max pool that also returns each max's position in its window as f32 (y·filter_w + x + 0.1; custom_options TfLitePoolParams): maxpool, and maxpool_index turned into the window position by i64 mod / div / sub and a cast; fused activation; f32 only",
		floatOnly(convMaxPoolArgmax)}},
	{"MaxUnpooling2D", converter{fb.BuiltinOperatorCUSTOM, 2,
		"MediaPipe's max unpooling (inputs: values, window positions of MaxPoolingWithArgmax2D; custom_options TfLitePoolParams): each value goes to its window position (cast to i32), zeros elsewhere, by reshape, equal and where; stride = filter only (other strides need a scatter, an error); f32 only",
		floatOnly(convMaxUnpool)}},
	{"TFLite_Detection_PostProcess", converter{fb.BuiltinOperatorCUSTOM, 3,
		"SSD detection postprocess (inputs: box encodings [1,N,4+], class scores [1,N,C(+1)], anchors [N,4]; FlexBuffers options), center-size decode with the scales (div, mul, add, exp, sub, concat); fast path: per anchor the best class (argmax, reduce_max; max_classes_per_detection > 1: topk), nms_index (score >= threshold, IoU > threshold suppresses), gather at the selected anchors; use_regular_nms: nms_index per class (detections_per_class), then topk_index of all selections by score (ties in class order; TFLite's are unspecified); slots after the count are zeros; uint8 inputs (and anchors) dequantized first",
		convDetectionPostProcess}},
	{"TransformLandmarks", converter{fb.BuiltinOperatorCUSTOM, 2,
		"MediaPipe's landmark transform, version 2 (inputs: landmarks [1,K,2|3], matrix [1,4,4]): (x, y) → the first two matrix rows against (x, y, 0, 1), z kept: slice, transpose, matmul, add, concat; version 1 (FlexBuffers options) is an error; f32 only",
		floatOnly(convTransformLandmarks)}},
}

var customConverterFor = map[string]*converter{}

func init() {
	for i := range customConverters {
		c := &customConverters[i]
		if customConverterFor[c.code] != nil {
			panic("tflite: custom converter registered twice: " + c.code)
		}
		customConverterFor[c.code] = &c.converter
	}
}

// customSupport lists the supported custom ops for SupportedOps.
func customSupport() []OpSupport {
	var out []OpSupport
	for _, c := range customConverters {
		out = append(out, OpSupport{Op: "CUSTOM " + c.code, Notes: c.notes})
	}
	return out
}

// structParams reads the first len(names) int32 fields of the C struct in
// custom_options; extra bytes (later fields, padding) are ignored, as the
// kernels ignore them.
func (o *opctx) structParams(st string, names ...string) ([]int, error) {
	b := o.op.custom
	if len(b) < 4*len(names) {
		return nil, fmt.Errorf("custom_options has %d bytes; %s needs %d (%s as int32)", len(b), st, 4*len(names), strings.Join(names, ", "))
	}
	out := make([]int, len(names))
	for i := range out {
		out[i] = int(int32(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return out, nil
}

// tfLitePadding converts a TfLitePadding value (1 same, 2 valid).
func tfLitePadding(p int) (same bool, err error) {
	switch p {
	case 1:
		return true, nil
	case 2:
		return false, nil
	}
	return false, fmt.Errorf("padding %d in custom_options is neither SAME (1) nor VALID (2)", p)
}

// convTransposeBias imports MediaPipe's Convolution2DTransposeBias: inputs
// input [N,H,W,I], weights [O,kh,kw,I] (constant), bias [O]. Input pixel
// (y, x) adds w·value at output (y·s - P/2 + ky, x·s - P/2 + kx), the
// output is bias plus those sums, and its size is s·(in-1) + k - P with
// P = max(0, k - (in-1)%s - 1) for SAME and 0 for VALID, per axis. In the
// IR: conv_transpose with pads [P/2, P - P/2] per axis, which crop the
// full s·(in-1) + k result to exactly that.
func convTransposeBias(o *opctx) error {
	p, err := o.structParams("TfLiteTransposeConvParams", "padding", "stride_width", "stride_height")
	if err != nil {
		return err
	}
	same, err := tfLitePadding(p[0])
	if err != nil {
		return err
	}
	sw, sh := p[1], p[2]
	if sh < 1 || sw < 1 {
		return fmt.Errorf("strides %dx%d must be positive", sh, sw)
	}
	x, err := o.im.getNCHW(o.in(0))
	if err != nil {
		return err
	}
	w, err := o.weights(1, []int{3, 0, 1, 2})
	if err != nil {
		return err
	}
	if w.Type.Shape[0] != x.Type.Shape[1] {
		return fmt.Errorf("weights [O,H,W,I] with I = %d do not fit %d input channels", w.Type.Shape[0], x.Type.Shape[1])
	}
	b, err := o.im.get(o.in(2))
	if err != nil {
		return err
	}
	if !ir.EqualShape(b.Type.Shape, []int{w.Type.Shape[1]}) {
		return fmt.Errorf("bias %v must be [%d], one per output channel", b.Type.Shape, w.Type.Shape[1])
	}
	pads := make([]int, 4)
	for d, s := range []int{sh, sw} {
		in, k := x.Type.Shape[2+d], w.Type.Shape[2+d]
		if !same {
			continue
		}
		total := max(0, k-(in-1)%s-1)
		pads[d], pads[2+d] = total/2, total-total/2
	}
	v, err := o.add("conv_transpose", []*ir.Value{x, w, b}, ir.Attrs{"strides": ir.Ints(sh, sw), "pads": ir.Ints(pads...)}, ir.Type{})
	if err != nil {
		return err
	}
	return o.set(v, true)
}
