package tflite

import (
	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// The options tables of the ops in ops_extra.go, ops_const.go, ops_scan.go
// ops_fakequant.go and ops_seq.go, added to optionTables.
func init() {
	for k, t := range map[fb.BuiltinOptions]optionTable{
		fb.BuiltinOptionsLocalResponseNormalizationOptions: {[]fieldSpec{sc(0, 4), sc(1, 4), sc(2, 4), sc(3, 4)}, func(u flatbuffers.Table, o *options) {
			t := as[fb.LocalResponseNormalizationOptions](u)
			o.radius, o.bias, o.alpha, o.beta = t.Radius(), t.Bias(), t.Alpha(), t.Beta()
		}},
		fb.BuiltinOptionsCumsumOptions: {[]fieldSpec{sc(0, 1), sc(1, 1)}, func(u flatbuffers.Table, o *options) {
			t := as[fb.CumsumOptions](u)
			o.exclusive, o.reverse = t.Exclusive(), t.Reverse()
		}},
		fb.BuiltinOptionsOneHotOptions: {[]fieldSpec{sc(0, 4)}, func(u flatbuffers.Table, o *options) { o.axis = as[fb.OneHotOptions](u).Axis() }},
		fb.BuiltinOptionsFakeQuantOptions: {[]fieldSpec{sc(0, 4), sc(1, 4), sc(2, 4), sc(3, 1)}, func(u flatbuffers.Table, o *options) {
			t := as[fb.FakeQuantOptions](u)
			o.fqMin, o.fqMax, o.numBits, o.narrowRange = t.Min(), t.Max(), t.NumBits(), t.NarrowRange()
		}},
		fb.BuiltinOptionsSequenceRNNOptions: {[]fieldSpec{sc(0, 1), sc(1, 1)}, func(u flatbuffers.Table, o *options) {
			t := as[fb.SequenceRNNOptions](u)
			o.timeMajor, o.act = t.TimeMajor(), t.FusedActivationFunction()
		}},
		fb.BuiltinOptionsUnidirectionalSequenceLSTMOptions: {[]fieldSpec{sc(0, 1), sc(1, 4), sc(2, 4), sc(3, 1), sc(4, 1), sc(5, 1)}, func(u flatbuffers.Table, o *options) {
			t := as[fb.UnidirectionalSequenceLSTMOptions](u)
			o.act, o.cellClip, o.projClip = t.FusedActivationFunction(), t.CellClip(), t.ProjClip()
			o.timeMajor, o.diagonal = t.TimeMajor(), t.DiagonalRecurrentTensors()
		}},
	} {
		if _, dup := optionTables[k]; dup {
			panic("tflite: options table registered twice: " + k.String())
		}
		optionTables[k] = t
	}
}
