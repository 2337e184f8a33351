package tflite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// TestWriteLiteRTModels writes small single-operator models (quantized
// activations, elementwise ops with a constant, pooling, reductions,
// resizes; float ones beside) into $PARE_TFLITE_WRITE_MODELS, for
// tests/litert to compare rt with LiteRT.js on ops the shared models do
// not use. `make litert-opmodels` runs it into .cache/litert/opmodels.
func TestWriteLiteRTModels(t *testing.T) {
	dir := os.Getenv("PARE_TFLITE_WRITE_MODELS")
	if dir == "" {
		t.Skip("set PARE_TFLITE_WRITE_MODELS=DIR to write the single-operator models for tests/litert")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, m := range liteRTModels() {
		data := m.build()
		if _, err := ImportBytes(name+".tflite", data, Options{}); err != nil {
			if !strings.Contains(err.Error(), "unsupported") {
				t.Errorf("%s: %v", name, err)
			}
			t.Logf("not written: %v", err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+".tflite"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type optFnW = func(b *flatbuffers.Builder) flatbuffers.UOffsetT

// unary is a model of one op from tensor 0 (the input) to tensor 1, with
// constant tensors after them.
func unary(code fb.BuiltinOperator, in, out tTensor, consts []tTensor, optType fb.BuiltinOptions, opt optFnW) *tModel {
	m := &tModel{tensors: append([]tTensor{in, out}, consts...), inputs: []int32{0}, outputs: []int32{1}}
	ins := []int32{0}
	for i := range consts {
		ins = append(ins, int32(2+i))
	}
	m.ops = []tOp{{code: code, in: ins, out: []int32{1}, optType: optType, opt: opt}}
	return m
}

func q8(name string, typ fb.TensorType, shape []int32, scale float32, zp int64) tTensor {
	return tTensor{name: name, shape: shape, typ: typ, scale: []float32{scale}, zp: []int64{zp}}
}

func i8Bytes(v ...int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func liteRTModels() map[string]*tModel {
	I8, U8, F32 := fb.TensorTypeINT8, fb.TensorTypeUINT8, fb.TensorTypeFLOAT32
	s := []int32{1, 4, 4, 8}
	x8 := q8("x", I8, s, 0.05, -3)
	xu8 := q8("x", U8, s, 0.05, 125)
	xf := tTensor{name: "x", shape: s, typ: F32}
	yf := tTensor{name: "y", shape: s, typ: F32}
	none := fb.BuiltinOptionsNONE
	ms := map[string]*tModel{
		"logistic_i8":   unary(fb.BuiltinOperatorLOGISTIC, x8, q8("y", I8, s, 1.0/256, -128), nil, none, nil),
		"logistic_u8":   unary(fb.BuiltinOperatorLOGISTIC, xu8, q8("y", U8, s, 1.0/256, 0), nil, none, nil),
		"tanh_i8":       unary(fb.BuiltinOperatorTANH, x8, q8("y", I8, s, 1.0/128, 0), nil, none, nil),
		"tanh_u8":       unary(fb.BuiltinOperatorTANH, xu8, q8("y", U8, s, 1.0/128, 128), nil, none, nil),
		"hard_swish_i8": unary(fb.BuiltinOperatorHARD_SWISH, x8, q8("y", I8, s, 0.04, -20), nil, none, nil),
		"hard_swish_u8": unary(fb.BuiltinOperatorHARD_SWISH, xu8, q8("y", U8, s, 0.04, 30), nil, none, nil),
		"relu_i8":       unary(fb.BuiltinOperatorRELU, x8, q8("y", I8, s, 0.03, -128), nil, none, nil),
		"relu6_i8":      unary(fb.BuiltinOperatorRELU6, x8, q8("y", I8, s, 0.03, -128), nil, none, nil),
		"elu_i8":        unary(fb.BuiltinOperatorELU, x8, q8("y", I8, s, 0.04, 0), nil, none, nil),
		"leaky_relu_i8": unary(fb.BuiltinOperatorLEAKY_RELU, x8, q8("y", I8, s, 0.04, 10), nil, fb.BuiltinOptionsLeakyReluOptions,
			func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.LeakyReluOptionsStart(b)
				fb.LeakyReluOptionsAddAlpha(b, 0.2)
				return fb.LeakyReluOptionsEnd(b)
			}),
		"softmax_i8": unary(fb.BuiltinOperatorSOFTMAX, x8, q8("y", I8, s, 1.0/256, -128), nil, fb.BuiltinOptionsSoftmaxOptions,
			func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.SoftmaxOptionsStart(b)
				fb.SoftmaxOptionsAddBeta(b, 1)
				return fb.SoftmaxOptionsEnd(b)
			}),
		"quantize_i8":    unary(fb.BuiltinOperatorQUANTIZE, x8, q8("y", I8, s, 0.07, 5), nil, none, nil),
		"dequantize_i8":  unary(fb.BuiltinOperatorDEQUANTIZE, x8, yf, nil, none, nil),
		"quantize_f32":   unary(fb.BuiltinOperatorQUANTIZE, xf, q8("y", I8, s, 0.01, 3), nil, none, nil),
		"hard_swish_f32": unary(fb.BuiltinOperatorHARD_SWISH, xf, yf, nil, none, nil),
		"logistic_f32":   unary(fb.BuiltinOperatorLOGISTIC, xf, yf, nil, none, nil),
		"tanh_f32":       unary(fb.BuiltinOperatorTANH, xf, yf, nil, none, nil),
		"elu_f32":        unary(fb.BuiltinOperatorELU, xf, yf, nil, none, nil),
		"gelu_f32": unary(fb.BuiltinOperatorGELU, xf, yf, nil, fb.BuiltinOptionsGeluOptions,
			func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.GeluOptionsStart(b)
				fb.GeluOptionsAddApproximate(b, false)
				return fb.GeluOptionsEnd(b)
			}),
		"gelu_approx_f32": unary(fb.BuiltinOperatorGELU, xf, yf, nil, fb.BuiltinOptionsGeluOptions,
			func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.GeluOptionsStart(b)
				fb.GeluOptionsAddApproximate(b, true)
				return fb.GeluOptionsEnd(b)
			}),
	}
	// Binary ops with a constant per-channel operand (broadcast over NHW).
	c8 := tTensor{name: "c", shape: []int32{8}, typ: I8, scale: []float32{0.02}, zp: []int64{1},
		data: i8Bytes(-100, -37, -5, 0, 9, 44, 90, 127)}
	cf := tTensor{name: "c", shape: []int32{8}, typ: F32, data: f32Bytes(-1.5, -0.7, -0.1, 0, 0.2, 0.9, 1.3, 2)}
	for _, b := range []struct {
		name string
		code fb.BuiltinOperator
	}{{"add", fb.BuiltinOperatorADD}, {"sub", fb.BuiltinOperatorSUB}, {"mul", fb.BuiltinOperatorMUL},
		{"maximum", fb.BuiltinOperatorMAXIMUM}, {"minimum", fb.BuiltinOperatorMINIMUM},
		{"squared_difference", fb.BuiltinOperatorSQUARED_DIFFERENCE}} {
		ms[b.name+"_i8"] = unary(b.code, x8, q8("y", I8, s, 0.06, -7), []tTensor{c8}, none, nil)
		ms[b.name+"_f32"] = unary(b.code, xf, yf, []tTensor{cf}, none, nil)
	}
	ms["prelu_i8"] = unary(fb.BuiltinOperatorPRELU, x8, q8("y", I8, s, 0.05, 0), []tTensor{c8}, none, nil)
	// Pooling, reductions, resizes.
	pool := func(pad fb.Padding, k, st int32) optFnW {
		return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			fb.Pool2DOptionsStart(b)
			fb.Pool2DOptionsAddPadding(b, pad)
			fb.Pool2DOptionsAddStrideH(b, st)
			fb.Pool2DOptionsAddStrideW(b, st)
			fb.Pool2DOptionsAddFilterHeight(b, k)
			fb.Pool2DOptionsAddFilterWidth(b, k)
			return fb.Pool2DOptionsEnd(b)
		}
	}
	s2 := []int32{1, 2, 2, 8}
	ms["avg_pool_same_i8"] = unary(fb.BuiltinOperatorAVERAGE_POOL_2D, x8, q8("y", I8, s2, 0.05, -3), nil, fb.BuiltinOptionsPool2DOptions, pool(fb.PaddingSAME, 3, 2))
	ms["avg_pool_same_f32"] = unary(fb.BuiltinOperatorAVERAGE_POOL_2D, xf, tTensor{name: "y", shape: s2, typ: F32}, nil, fb.BuiltinOptionsPool2DOptions, pool(fb.PaddingSAME, 3, 2))
	ms["max_pool_same_i8"] = unary(fb.BuiltinOperatorMAX_POOL_2D, x8, q8("y", I8, s2, 0.05, -3), nil, fb.BuiltinOptionsPool2DOptions, pool(fb.PaddingSAME, 3, 2))
	axes := tTensor{name: "axes", shape: []int32{2}, typ: fb.TensorTypeINT32, data: i32Bytes(1, 2)}
	reducer := func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.ReducerOptionsStart(b)
		fb.ReducerOptionsAddKeepDims(b, true)
		return fb.ReducerOptionsEnd(b)
	}
	s11 := []int32{1, 1, 1, 8}
	ms["mean_i8"] = unary(fb.BuiltinOperatorMEAN, x8, q8("y", I8, s11, 0.02, 4), []tTensor{axes}, fb.BuiltinOptionsReducerOptions, reducer)
	ms["mean_u8"] = unary(fb.BuiltinOperatorMEAN, xu8, q8("y", U8, s11, 0.02, 120), []tTensor{axes}, fb.BuiltinOptionsReducerOptions, reducer)
	ms["sum_i8"] = unary(fb.BuiltinOperatorSUM, x8, q8("y", I8, s11, 0.5, 0), []tTensor{axes}, fb.BuiltinOptionsReducerOptions, reducer)
	ms["reduce_max_i8"] = unary(fb.BuiltinOperatorREDUCE_MAX, x8, q8("y", I8, s11, 0.05, -3), []tTensor{axes}, fb.BuiltinOptionsReducerOptions, reducer)
	size := tTensor{name: "size", shape: []int32{2}, typ: fb.TensorTypeINT32, data: i32Bytes(7, 9)}
	s79 := []int32{1, 7, 9, 8}
	for _, r := range []struct {
		name   string
		linear bool
		ac, hp bool
	}{{"bilinear", true, false, false}, {"bilinear_hp", true, false, true}, {"bilinear_ac", true, true, false},
		{"nearest", false, false, false}, {"nearest_hp", false, false, true}, {"nearest_ac", false, true, false}} {
		code, ot := fb.BuiltinOperatorRESIZE_BILINEAR, fb.BuiltinOptionsResizeBilinearOptions
		if !r.linear {
			code, ot = fb.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, fb.BuiltinOptionsResizeNearestNeighborOptions
		}
		ms["resize_"+r.name+"_i8"] = unary(code, x8, q8("y", I8, s79, 0.05, -3), []tTensor{size}, ot, resizeOpts(r.linear, r.ac, r.hp))
		ms["resize_"+r.name+"_f32"] = unary(code, xf, tTensor{name: "y", shape: s79, typ: F32}, []tTensor{size}, ot, resizeOpts(r.linear, r.ac, r.hp))
	}
	moreLiteRTModels(ms)
	detectionLiteRTModels(ms)
	nmsLiteRTModels(ms)
	return ms
}
