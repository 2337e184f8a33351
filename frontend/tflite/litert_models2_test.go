package tflite

import (
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// More single-operator models for tests/litert: convolutions (dilation,
// depth multiplier, transposed), fully connected, concatenation with
// requantization, shape ops, normalizations.

// lcg fills deterministic pseudo-random values in [-1, 1).
type lcg uint32

func (r *lcg) next() float32 {
	*r = *r*1664525 + 1013904223
	return float32(*r>>8)/float32(1<<23) - 1
}

func (r *lcg) f32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.next()
	}
	return v
}

// perChannelI8 quantizes w (o blocks of equal size) symmetrically per block
// and returns the bytes and the scales.
func perChannelI8(w []float32, o int) ([]byte, []float32) {
	per := len(w) / o
	b := make([]byte, len(w))
	scales := make([]float32, o)
	for c := 0; c < o; c++ {
		m := float32(1e-6)
		for _, v := range w[c*per : (c+1)*per] {
			m = max(m, float32(math.Abs(float64(v))))
		}
		scales[c] = m / 127
		for i, v := range w[c*per : (c+1)*per] {
			b[c*per+i] = byte(int8(math.Round(float64(v / scales[c]))))
		}
	}
	return b, scales
}

// perLastI8 quantizes w per index of its last dimension (of size o).
func perLastI8(w []float32, o int) ([]byte, []float32) {
	scales := make([]float32, o)
	for i, v := range w {
		scales[i%o] = max(scales[i%o], float32(math.Abs(float64(v)))/127)
	}
	b := make([]byte, len(w))
	for i, v := range w {
		b[i] = byte(int8(math.Round(float64(v / scales[i%o]))))
	}
	return b, scales
}

func biasI32(sx float32, scales []float32, r *lcg) []byte {
	v := make([]int32, len(scales))
	for c := range v {
		v[c] = int32(math.Round(float64(r.next() * 0.5 / (sx * scales[c]))))
	}
	return i32Bytes(v...)
}

func zeros(n int) []int64 { return make([]int64, n) }

func moreLiteRTModels(ms map[string]*tModel) {
	I8, F32, I32 := fb.TensorTypeINT8, fb.TensorTypeFLOAT32, fb.TensorTypeINT32
	s := []int32{1, 4, 4, 8}
	x8 := q8("x", I8, s, 0.05, -3)
	xf := tTensor{name: "x", shape: s, typ: F32}
	r := lcg(7)
	none := fb.BuiltinOptionsNONE

	// CONV_2D 3×3, dilation 2, SAME, 8 → 6 channels, fused RELU.
	convOpt := func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.Conv2DOptionsStart(b)
		fb.Conv2DOptionsAddPadding(b, fb.PaddingSAME)
		fb.Conv2DOptionsAddStrideH(b, 1)
		fb.Conv2DOptionsAddStrideW(b, 1)
		fb.Conv2DOptionsAddDilationHFactor(b, 2)
		fb.Conv2DOptionsAddDilationWFactor(b, 2)
		fb.Conv2DOptionsAddFusedActivationFunction(b, fb.ActivationFunctionTypeRELU)
		return fb.Conv2DOptionsEnd(b)
	}
	w := r.f32(6 * 3 * 3 * 8)
	wq, ws := perChannelI8(w, 6)
	so := []int32{1, 4, 4, 6}
	ms["conv_dilated_i8"] = unary(fb.BuiltinOperatorCONV_2D, x8, q8("y", I8, so, 0.08, -128), []tTensor{
		{name: "w", shape: []int32{6, 3, 3, 8}, typ: I8, data: wq, scale: ws, zp: zeros(6)},
		{name: "b", shape: []int32{6}, typ: I32, data: biasI32(0.05, ws, &r), scale: scaled(ws, 0.05), zp: zeros(6)},
	}, fb.BuiltinOptionsConv2DOptions, convOpt)
	ms["conv_dilated_f32"] = unary(fb.BuiltinOperatorCONV_2D, xf, tTensor{name: "y", shape: so, typ: F32}, []tTensor{
		{name: "w", shape: []int32{6, 3, 3, 8}, typ: F32, data: f32Bytes(w...)},
		{name: "b", shape: []int32{6}, typ: F32, data: f32Bytes(r.f32(6)...)},
	}, fb.BuiltinOptionsConv2DOptions, convOpt)

	// DEPTHWISE_CONV_2D 3×3, depth multiplier 2, stride 2, SAME.
	dwOpt := func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.DepthwiseConv2DOptionsStart(b)
		fb.DepthwiseConv2DOptionsAddPadding(b, fb.PaddingSAME)
		fb.DepthwiseConv2DOptionsAddStrideH(b, 2)
		fb.DepthwiseConv2DOptionsAddStrideW(b, 2)
		fb.DepthwiseConv2DOptionsAddDepthMultiplier(b, 2)
		return fb.DepthwiseConv2DOptionsEnd(b)
	}
	dw := r.f32(3 * 3 * 16)
	dq, ds := perLastI8(dw, 16)
	sd := []int32{1, 2, 2, 16}
	ms["depthwise_mult2_i8"] = unary(fb.BuiltinOperatorDEPTHWISE_CONV_2D, x8, q8("y", I8, sd, 0.06, 3), []tTensor{
		{name: "w", shape: []int32{1, 3, 3, 16}, typ: I8, data: dq, scale: ds, zp: zeros(16), qdim: 3},
		{name: "b", shape: []int32{16}, typ: I32, data: biasI32(0.05, ds, &r), scale: scaled(ds, 0.05), zp: zeros(16)},
	}, fb.BuiltinOptionsDepthwiseConv2DOptions, dwOpt)
	ms["depthwise_mult2_f32"] = unary(fb.BuiltinOperatorDEPTHWISE_CONV_2D, xf, tTensor{name: "y", shape: sd, typ: F32}, []tTensor{
		{name: "w", shape: []int32{1, 3, 3, 16}, typ: F32, data: f32Bytes(dw...)},
		{name: "b", shape: []int32{16}, typ: F32, data: f32Bytes(r.f32(16)...)},
	}, fb.BuiltinOptionsDepthwiseConv2DOptions, dwOpt)

	// TRANSPOSE_CONV 3×3, stride 2, SAME: [1,4,4,8] → [1,8,8,4]. Inputs
	// are (output_shape, weights, input, bias).
	tw := r.f32(4 * 3 * 3 * 8)
	ms["transpose_conv_f32"] = &tModel{
		tensors: []tTensor{xf, {name: "y", shape: []int32{1, 8, 8, 4}, typ: F32},
			{name: "shape", shape: []int32{4}, typ: I32, data: i32Bytes(1, 8, 8, 4)},
			{name: "w", shape: []int32{4, 3, 3, 8}, typ: F32, data: f32Bytes(tw...)},
			{name: "b", shape: []int32{4}, typ: F32, data: f32Bytes(r.f32(4)...)}},
		inputs: []int32{0}, outputs: []int32{1},
		ops: []tOp{{code: fb.BuiltinOperatorTRANSPOSE_CONV, in: []int32{2, 3, 0, 4}, out: []int32{1}, optType: fb.BuiltinOptionsTransposeConvOptions,
			opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.TransposeConvOptionsStart(b)
				fb.TransposeConvOptionsAddPadding(b, fb.PaddingSAME)
				fb.TransposeConvOptionsAddStrideH(b, 2)
				fb.TransposeConvOptionsAddStrideW(b, 2)
				return fb.TransposeConvOptionsEnd(b)
			}}},
	}

	// FULLY_CONNECTED: [1,4,4,8] read as [16,8], weights [5,8].
	fw := r.f32(5 * 8)
	fq, fs := perChannelI8(fw, 5)
	m := max(fs[0], fs[1], fs[2], fs[3], fs[4])
	for i := range fq { // per tensor: requantize to the largest scale
		fq[i] = byte(int8(math.Round(float64(float32(int8(fq[i])) * fs[i/8] / m))))
	}
	ms["fully_connected_i8"] = unary(fb.BuiltinOperatorFULLY_CONNECTED, x8, q8("y", I8, []int32{16, 5}, 0.07, -4), []tTensor{
		{name: "w", shape: []int32{5, 8}, typ: I8, data: fq, scale: []float32{m}, zp: []int64{0}},
		{name: "b", shape: []int32{5}, typ: I32, data: biasI32(0.05, []float32{m, m, m, m, m}, &r), scale: []float32{0.05 * m}, zp: []int64{0}},
	}, none, nil)
	ms["fully_connected_f32"] = unary(fb.BuiltinOperatorFULLY_CONNECTED, xf, tTensor{name: "y", shape: []int32{16, 5}, typ: F32}, []tTensor{
		{name: "w", shape: []int32{5, 8}, typ: F32, data: f32Bytes(fw...)},
		{name: "b", shape: []int32{5}, typ: F32, data: f32Bytes(r.f32(5)...)},
	}, none, nil)

	// CONCATENATION along channels with a constant of another scale.
	cdata := make([]byte, 64)
	for i := range cdata {
		cdata[i] = byte(int8(r.next() * 127))
	}
	concatOpt := func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.ConcatenationOptionsStart(b)
		fb.ConcatenationOptionsAddAxis(b, 3)
		return fb.ConcatenationOptionsEnd(b)
	}
	sc := []int32{1, 4, 4, 12}
	// TFLite's int8 kernel requires one shared quantization (the converter
	// ensures it); uint8 rescales each input.
	ms["concat_i8"] = unary(fb.BuiltinOperatorCONCATENATION, x8, q8("y", I8, sc, 0.05, -3), []tTensor{
		{name: "c", shape: []int32{1, 4, 4, 4}, typ: I8, data: cdata, scale: []float32{0.05}, zp: []int64{-3}},
	}, fb.BuiltinOptionsConcatenationOptions, concatOpt)
	ms["concat_rescale_u8"] = unary(fb.BuiltinOperatorCONCATENATION, q8("x", fb.TensorTypeUINT8, s, 0.05, 125), q8("y", fb.TensorTypeUINT8, sc, 0.06, 121), []tTensor{
		{name: "c", shape: []int32{1, 4, 4, 4}, typ: fb.TensorTypeUINT8, data: cdata, scale: []float32{0.02}, zp: []int64{133}},
	}, fb.BuiltinOptionsConcatenationOptions, concatOpt)

	// Shape ops.
	pads := tTensor{name: "pads", shape: []int32{4, 2}, typ: I32, data: i32Bytes(0, 0, 1, 2, 2, 1, 0, 0)}
	ms["pad_i8"] = unary(fb.BuiltinOperatorPAD, x8, q8("y", I8, []int32{1, 7, 7, 8}, 0.05, -3), []tTensor{pads}, none, nil)
	ms["pad_f32"] = unary(fb.BuiltinOperatorPAD, xf, tTensor{name: "y", shape: []int32{1, 7, 7, 8}, typ: F32}, []tTensor{pads}, none, nil)
	perm := tTensor{name: "perm", shape: []int32{4}, typ: I32, data: i32Bytes(0, 3, 1, 2)}
	ms["transpose_i8"] = unary(fb.BuiltinOperatorTRANSPOSE, x8, q8("y", I8, []int32{1, 8, 4, 4}, 0.05, -3), []tTensor{perm}, none, nil)
	ss := []tTensor{
		{name: "begin", shape: []int32{4}, typ: I32, data: i32Bytes(0, 1, 0, 1)},
		{name: "end", shape: []int32{4}, typ: I32, data: i32Bytes(1, 4, 4, 8)},
		{name: "strides", shape: []int32{4}, typ: I32, data: i32Bytes(1, 2, 1, 3)},
	}
	ms["strided_slice_i8"] = unary(fb.BuiltinOperatorSTRIDED_SLICE, x8, q8("y", I8, []int32{1, 2, 4, 3}, 0.05, -3), ss, fb.BuiltinOptionsStridedSliceOptions,
		func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			fb.StridedSliceOptionsStart(b)
			return fb.StridedSliceOptionsEnd(b)
		})
	ms["space_to_depth_i8"] = unary(fb.BuiltinOperatorSPACE_TO_DEPTH, x8, q8("y", I8, []int32{1, 2, 2, 32}, 0.05, -3), nil,
		fb.BuiltinOptionsSpaceToDepthOptions, axisOpts(fb.SpaceToDepthOptionsStart, fb.SpaceToDepthOptionsAddBlockSize, fb.SpaceToDepthOptionsEnd, 2))

	// Normalizations and elementwise math.
	ms["l2_normalization_f32"] = unary(fb.BuiltinOperatorL2_NORMALIZATION, xf, tTensor{name: "y", shape: s, typ: F32}, nil, none, nil)
	ms["l2_normalization_i8"] = unary(fb.BuiltinOperatorL2_NORMALIZATION, x8, q8("y", I8, s, 1.0/128, 0), nil, none, nil)
	ms["log_softmax_f32"] = unary(fb.BuiltinOperatorLOG_SOFTMAX, xf, tTensor{name: "y", shape: s, typ: F32}, nil, none, nil)
	ms["log_softmax_i8"] = unary(fb.BuiltinOperatorLOG_SOFTMAX, x8, q8("y", I8, s, 16.0/256, 127), nil, none, nil)
	for _, e := range []struct {
		name string
		code fb.BuiltinOperator
	}{{"exp", fb.BuiltinOperatorEXP}, {"abs", fb.BuiltinOperatorABS}, {"neg", fb.BuiltinOperatorNEG},
		{"square", fb.BuiltinOperatorSQUARE}, {"sin", fb.BuiltinOperatorSIN}, {"floor", fb.BuiltinOperatorFLOOR}} {
		ms[e.name+"_f32"] = unary(e.code, xf, tTensor{name: "y", shape: s, typ: F32}, nil, none, nil)
	}
}

func scaled(v []float32, k float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * k
	}
	return out
}
