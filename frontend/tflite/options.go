package tflite

import (
	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// options gathers the builtin options pare reads, whatever their table.
type options struct {
	padding          fb.Padding
	strideW, strideH int32
	dilW, dilH       int32
	filterW, filterH int32
	depthMultiplier  int32
	act              fb.ActivationFunctionType
	weightsFormat    fb.FullyConnectedOptionsWeightsFormat
	keepNumDims      bool
	beta             float32
	axis             int32
	keepDims         bool
	newShape         []int32
	squeezeDims      []int32

	// STRIDED_SLICE
	beginMask, endMask, ellipsisMask, newAxisMask, shrinkMask int32
	offset                                                    bool

	count        int32 // SPLIT, SPLIT_V num_splits; PACK values_count; UNPACK num
	batchDims    int32 // GATHER
	mirrorMode   fb.MirrorPadMode
	blockSize    int32   // SPACE_TO_DEPTH, DEPTH_TO_SPACE
	alpha        float32 // LEAKY_RELU
	adjX, adjY   bool    // BATCH_MATMUL
	alignCorners bool    // RESIZE_*
	halfPixel    bool    // RESIZE_*
	approximate  bool    // GELU

	// options_extra.go: LOCAL_RESPONSE_NORMALIZATION (and alpha, beta
	// above), CUMSUM, FAKE_QUANT; ONE_HOT's axis is axis.
	radius             int32
	bias               float32
	exclusive, reverse bool
	fqMin, fqMax       float32
	numBits            int32
	narrowRange        bool
	// ops_seq.go: UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN (and act above).
	timeMajor, diagonal bool
	cellClip, projClip  float32
}

// optionTable is one options table pare reads: the fields it reads (id,
// size, vector) for the verifier, and how to copy them.
type optionTable struct {
	fields []fieldSpec
	read   func(u flatbuffers.Table, o *options)
}

// as views a verified union member as options table T.
func as[T any, P interface {
	*T
	Init([]byte, flatbuffers.UOffsetT)
}](u flatbuffers.Table) P {
	p := P(new(T))
	p.Init(u.Bytes, u.Pos)
	return p
}

func int32s(n int, at func(int) int32) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = at(i)
	}
	return s
}

// actOnly reads a table whose only field pare reads is the fused activation (id 0).
func actOnly[T any, P interface {
	*T
	Init([]byte, flatbuffers.UOffsetT)
	FusedActivationFunction() fb.ActivationFunctionType
}]() optionTable {
	return optionTable{[]fieldSpec{sc(0, 1)}, func(u flatbuffers.Table, o *options) {
		o.act = as[T, P](u).FusedActivationFunction()
	}}
}

// blockSize reads SpaceToDepthOptions and DepthToSpaceOptions.
func blockSize[T any, P interface {
	*T
	Init([]byte, flatbuffers.UOffsetT)
	BlockSize() int32
}]() optionTable {
	return optionTable{[]fieldSpec{sc(0, 4)}, func(u flatbuffers.Table, o *options) { o.blockSize = as[T, P](u).BlockSize() }}
}

// resizeOptions reads align_corners and half_pixel_centers, fields first
// and first+1 of the RESIZE_* options.
func resizeOptions[T any, P interface {
	*T
	Init([]byte, flatbuffers.UOffsetT)
	AlignCorners() bool
	HalfPixelCenters() bool
}](first int) optionTable {
	return optionTable{[]fieldSpec{sc(first, 1), sc(first+1, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[T, P](u)
		o.alignCorners, o.halfPixel = t.AlignCorners(), t.HalfPixelCenters()
	}}
}

var optionTables = map[fb.BuiltinOptions]optionTable{
	fb.BuiltinOptionsConv2DOptions: {[]fieldSpec{sc(0, 1), sc(1, 4), sc(2, 4), sc(3, 1), sc(4, 4), sc(5, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.Conv2DOptions](u)
		o.padding, o.strideW, o.strideH, o.act = t.Padding(), t.StrideW(), t.StrideH(), t.FusedActivationFunction()
		o.dilW, o.dilH = t.DilationWFactor(), t.DilationHFactor()
	}},
	fb.BuiltinOptionsDepthwiseConv2DOptions: {[]fieldSpec{sc(0, 1), sc(1, 4), sc(2, 4), sc(3, 4), sc(4, 1), sc(5, 4), sc(6, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.DepthwiseConv2DOptions](u)
		o.padding, o.strideW, o.strideH, o.act = t.Padding(), t.StrideW(), t.StrideH(), t.FusedActivationFunction()
		o.dilW, o.dilH, o.depthMultiplier = t.DilationWFactor(), t.DilationHFactor(), t.DepthMultiplier()
	}},
	fb.BuiltinOptionsPool2DOptions: {[]fieldSpec{sc(0, 1), sc(1, 4), sc(2, 4), sc(3, 4), sc(4, 4), sc(5, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.Pool2DOptions](u)
		o.padding, o.strideW, o.strideH, o.act = t.Padding(), t.StrideW(), t.StrideH(), t.FusedActivationFunction()
		o.filterW, o.filterH = t.FilterWidth(), t.FilterHeight()
	}},
	fb.BuiltinOptionsFullyConnectedOptions: {[]fieldSpec{sc(0, 1), sc(1, 1), sc(2, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.FullyConnectedOptions](u)
		o.act, o.weightsFormat, o.keepNumDims = t.FusedActivationFunction(), t.WeightsFormat(), t.KeepNumDims()
	}},
	fb.BuiltinOptionsSoftmaxOptions: {[]fieldSpec{sc(0, 4)}, func(u flatbuffers.Table, o *options) { o.beta = as[fb.SoftmaxOptions](u).Beta() }},
	fb.BuiltinOptionsConcatenationOptions: {[]fieldSpec{sc(0, 4), sc(1, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.ConcatenationOptions](u)
		o.axis, o.act = t.Axis(), t.FusedActivationFunction()
	}},
	fb.BuiltinOptionsAddOptions: actOnly[fb.AddOptions](),
	fb.BuiltinOptionsSubOptions: actOnly[fb.SubOptions](),
	fb.BuiltinOptionsMulOptions: actOnly[fb.MulOptions](),
	fb.BuiltinOptionsDivOptions: actOnly[fb.DivOptions](),
	fb.BuiltinOptionsReshapeOptions: {[]fieldSpec{vec(0, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.ReshapeOptions](u)
		o.newShape = int32s(t.NewShapeLength(), t.NewShape)
	}},
	fb.BuiltinOptionsReducerOptions: {[]fieldSpec{sc(0, 1)}, func(u flatbuffers.Table, o *options) { o.keepDims = as[fb.ReducerOptions](u).KeepDims() }},
	fb.BuiltinOptionsSqueezeOptions: {[]fieldSpec{vec(0, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.SqueezeOptions](u)
		o.squeezeDims = int32s(t.SqueezeDimsLength(), t.SqueezeDims)
	}},
	fb.BuiltinOptionsStridedSliceOptions: {[]fieldSpec{sc(0, 4), sc(1, 4), sc(2, 4), sc(3, 4), sc(4, 4), sc(5, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.StridedSliceOptions](u)
		o.beginMask, o.endMask, o.ellipsisMask = t.BeginMask(), t.EndMask(), t.EllipsisMask()
		o.newAxisMask, o.shrinkMask, o.offset = t.NewAxisMask(), t.ShrinkAxisMask(), t.Offset()
	}},
	fb.BuiltinOptionsSplitOptions:  {[]fieldSpec{sc(0, 4)}, func(u flatbuffers.Table, o *options) { o.count = as[fb.SplitOptions](u).NumSplits() }},
	fb.BuiltinOptionsSplitVOptions: {[]fieldSpec{sc(0, 4)}, func(u flatbuffers.Table, o *options) { o.count = as[fb.SplitVOptions](u).NumSplits() }},
	fb.BuiltinOptionsPackOptions: {[]fieldSpec{sc(0, 4), sc(1, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.PackOptions](u)
		o.count, o.axis = t.ValuesCount(), t.Axis()
	}},
	fb.BuiltinOptionsUnpackOptions: {[]fieldSpec{sc(0, 4), sc(1, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.UnpackOptions](u)
		o.count, o.axis = t.Num(), t.Axis()
	}},
	fb.BuiltinOptionsGatherOptions: {[]fieldSpec{sc(0, 4), sc(1, 4)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.GatherOptions](u)
		o.axis, o.batchDims = t.Axis(), t.BatchDims()
	}},
	fb.BuiltinOptionsMirrorPadOptions:    {[]fieldSpec{sc(0, 1)}, func(u flatbuffers.Table, o *options) { o.mirrorMode = as[fb.MirrorPadOptions](u).Mode() }},
	fb.BuiltinOptionsSpaceToDepthOptions: blockSize[fb.SpaceToDepthOptions](),
	fb.BuiltinOptionsDepthToSpaceOptions: blockSize[fb.DepthToSpaceOptions](),
	fb.BuiltinOptionsGeluOptions:         {[]fieldSpec{sc(0, 1)}, func(u flatbuffers.Table, o *options) { o.approximate = as[fb.GeluOptions](u).Approximate() }},
	fb.BuiltinOptionsLeakyReluOptions:    {[]fieldSpec{sc(0, 4)}, func(u flatbuffers.Table, o *options) { o.alpha = as[fb.LeakyReluOptions](u).Alpha() }},
	fb.BuiltinOptionsBatchMatMulOptions: {[]fieldSpec{sc(0, 1), sc(1, 1), sc(2, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.BatchMatMulOptions](u)
		o.adjX, o.adjY = t.AdjX(), t.AdjY()
	}},
	// Fields 0 and 1 (new_height, new_width) are deprecated: the size is input 1.
	fb.BuiltinOptionsResizeBilinearOptions:        resizeOptions[fb.ResizeBilinearOptions](2),
	fb.BuiltinOptionsResizeNearestNeighborOptions: resizeOptions[fb.ResizeNearestNeighborOptions](0),
	fb.BuiltinOptionsTransposeConvOptions: {[]fieldSpec{sc(0, 1), sc(1, 4), sc(2, 4), sc(3, 1)}, func(u flatbuffers.Table, o *options) {
		t := as[fb.TransposeConvOptions](u)
		o.padding, o.strideW, o.strideH, o.act = t.Padding(), t.StrideW(), t.StrideH(), t.FusedActivationFunction()
	}},
}
