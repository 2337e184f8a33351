package tflite

import (
	"encoding/binary"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// A small TFLite writer for tests, built on the generated builders.

type tTensor struct {
	name  string
	shape []int32
	typ   fb.TensorType
	data  []byte // constant data, nil for activations
	scale []float32
	zp    []int64
	qdim  int32
	// sparsity, when set, writes the tensor's SparsityParameters (data
	// then holds the stored values).
	sparsity func(b *flatbuffers.Builder) flatbuffers.UOffsetT
}

type tOp struct {
	code       fb.BuiltinOperator
	custom     string
	customOpts []byte // custom_options
	version    int32  // the operator code's version; 0 writes 1
	in, out    []int32
	optType    fb.BuiltinOptions
	opt        func(b *flatbuffers.Builder) flatbuffers.UOffsetT
}

type tModel struct {
	tensors         []tTensor
	ops             []tOp
	inputs, outputs []int32
	// external stores constant data after the flatbuffer (Buffer.offset/size).
	external bool
}

func f32Bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i32Bytes(v ...int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func (m *tModel) build() []byte {
	if !m.external {
		return m.buildWith(nil)
	}
	// Two passes: offsets are fixed-size fields, so the first pass gives
	// the flatbuffer's size and the second the offsets after it.
	n := 0
	for _, t := range m.tensors {
		if t.data != nil {
			n++
		}
	}
	fake := make([]uint64, n)
	for i := range fake {
		fake[i] = 1 << 40
	}
	size := len(m.buildWith(fake))
	offs := make([]uint64, 0, n)
	pos := (size + 15) &^ 15
	for _, t := range m.tensors {
		if t.data != nil {
			offs = append(offs, uint64(pos))
			pos = (pos + len(t.data) + 15) &^ 15
		}
	}
	out := m.buildWith(offs)
	k := 0
	for _, t := range m.tensors {
		if t.data != nil {
			for uint64(len(out)) < offs[k] {
				out = append(out, 0)
			}
			out = append(out, t.data...)
			k++
		}
	}
	return out
}

func (m *tModel) buildWith(offsets []uint64) []byte {
	b := flatbuffers.NewBuilder(1024)
	ints := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, v []int32) flatbuffers.UOffsetT {
		start(b, len(v))
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependInt32(v[i])
		}
		return b.EndVector(len(v))
	}
	tables := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, v []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		start(b, len(v))
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependUOffsetT(v[i])
		}
		return b.EndVector(len(v))
	}

	// Buffers: 0 is the empty sentinel, then one per constant tensor.
	bufs := []flatbuffers.UOffsetT{}
	fb.BufferStart(b)
	bufs = append(bufs, fb.BufferEnd(b))
	bufIndex := make([]uint32, len(m.tensors))
	for i, t := range m.tensors {
		if t.data == nil {
			continue
		}
		bufIndex[i] = uint32(len(bufs))
		if offsets != nil {
			fb.BufferStart(b)
			fb.BufferAddOffset(b, offsets[len(bufs)-1])
			fb.BufferAddSize(b, uint64(len(t.data)))
			bufs = append(bufs, fb.BufferEnd(b))
			continue
		}
		b.StartVector(1, len(t.data), 16)
		for j := len(t.data) - 1; j >= 0; j-- {
			b.PrependByte(t.data[j])
		}
		data := b.EndVector(len(t.data))
		fb.BufferStart(b)
		fb.BufferAddData(b, data)
		bufs = append(bufs, fb.BufferEnd(b))
	}

	var tens []flatbuffers.UOffsetT
	for i, t := range m.tensors {
		name := b.CreateString(t.name)
		shape := ints(fb.TensorStartShapeVector, t.shape)
		var q flatbuffers.UOffsetT
		if t.scale != nil {
			fb.QuantizationParametersStartScaleVector(b, len(t.scale))
			for j := len(t.scale) - 1; j >= 0; j-- {
				b.PrependFloat32(t.scale[j])
			}
			sv := b.EndVector(len(t.scale))
			fb.QuantizationParametersStartZeroPointVector(b, len(t.zp))
			for j := len(t.zp) - 1; j >= 0; j-- {
				b.PrependInt64(t.zp[j])
			}
			zv := b.EndVector(len(t.zp))
			fb.QuantizationParametersStart(b)
			fb.QuantizationParametersAddScale(b, sv)
			fb.QuantizationParametersAddZeroPoint(b, zv)
			fb.QuantizationParametersAddQuantizedDimension(b, t.qdim)
			q = fb.QuantizationParametersEnd(b)
		}
		var sp flatbuffers.UOffsetT
		if t.sparsity != nil {
			sp = t.sparsity(b)
		}
		fb.TensorStart(b)
		if sp != 0 {
			fb.TensorAddSparsity(b, sp)
		}
		fb.TensorAddShape(b, shape)
		fb.TensorAddType(b, t.typ)
		fb.TensorAddBuffer(b, bufIndex[i])
		fb.TensorAddName(b, name)
		if q != 0 {
			fb.TensorAddQuantization(b, q)
		}
		tens = append(tens, fb.TensorEnd(b))
	}

	type key struct {
		code    fb.BuiltinOperator
		custom  string
		version int32
	}
	codeIndex := map[key]uint32{}
	var codes []key
	var ops []flatbuffers.UOffsetT
	for _, o := range m.ops {
		k := key{o.code, o.custom, max(o.version, 1)}
		if _, ok := codeIndex[k]; !ok {
			codeIndex[k] = uint32(len(codes))
			codes = append(codes, k)
		}
		in := ints(fb.OperatorStartInputsVector, o.in)
		out := ints(fb.OperatorStartOutputsVector, o.out)
		var opt, copts flatbuffers.UOffsetT
		if o.opt != nil {
			opt = o.opt(b)
		}
		if o.customOpts != nil {
			copts = b.CreateByteVector(o.customOpts)
		}
		fb.OperatorStart(b)
		if copts != 0 {
			fb.OperatorAddCustomOptions(b, copts)
		}
		fb.OperatorAddOpcodeIndex(b, codeIndex[k])
		fb.OperatorAddInputs(b, in)
		fb.OperatorAddOutputs(b, out)
		if o.opt != nil {
			fb.OperatorAddBuiltinOptionsType(b, o.optType)
			fb.OperatorAddBuiltinOptions(b, opt)
		}
		ops = append(ops, fb.OperatorEnd(b))
	}
	var codeTabs []flatbuffers.UOffsetT
	for _, c := range codes {
		var cc flatbuffers.UOffsetT
		if c.custom != "" {
			cc = b.CreateString(c.custom)
		}
		fb.OperatorCodeStart(b)
		dep := int8(fb.BuiltinOperatorPLACEHOLDER_FOR_GREATER_OP_CODES)
		if c.code < fb.BuiltinOperatorPLACEHOLDER_FOR_GREATER_OP_CODES {
			dep = int8(c.code)
		}
		fb.OperatorCodeAddDeprecatedBuiltinCode(b, dep)
		fb.OperatorCodeAddBuiltinCode(b, c.code)
		if cc != 0 {
			fb.OperatorCodeAddCustomCode(b, cc)
		}
		fb.OperatorCodeAddVersion(b, c.version)
		codeTabs = append(codeTabs, fb.OperatorCodeEnd(b))
	}

	tv := tables(fb.SubGraphStartTensorsVector, tens)
	ov := tables(fb.SubGraphStartOperatorsVector, ops)
	iv := ints(fb.SubGraphStartInputsVector, m.inputs)
	outv := ints(fb.SubGraphStartOutputsVector, m.outputs)
	sgName := b.CreateString("main")
	fb.SubGraphStart(b)
	fb.SubGraphAddTensors(b, tv)
	fb.SubGraphAddInputs(b, iv)
	fb.SubGraphAddOutputs(b, outv)
	fb.SubGraphAddOperators(b, ov)
	fb.SubGraphAddName(b, sgName)
	sg := fb.SubGraphEnd(b)

	sgv := tables(fb.ModelStartSubgraphsVector, []flatbuffers.UOffsetT{sg})
	cv := tables(fb.ModelStartOperatorCodesVector, codeTabs)
	bv := tables(fb.ModelStartBuffersVector, bufs)
	desc := b.CreateString("pare test model")
	fb.ModelStart(b)
	fb.ModelAddVersion(b, 3)
	fb.ModelAddOperatorCodes(b, cv)
	fb.ModelAddSubgraphs(b, sgv)
	fb.ModelAddDescription(b, desc)
	fb.ModelAddBuffers(b, bv)
	b.FinishWithFileIdentifier(fb.ModelEnd(b), []byte("TFL3"))
	return b.FinishedBytes()
}

// convOptions builds Conv2DOptions.
func convOptions(pad fb.Padding, sh, sw int32, act fb.ActivationFunctionType) func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.Conv2DOptionsStart(b)
		fb.Conv2DOptionsAddPadding(b, pad)
		fb.Conv2DOptionsAddStrideH(b, sh)
		fb.Conv2DOptionsAddStrideW(b, sw)
		fb.Conv2DOptionsAddFusedActivationFunction(b, act)
		return fb.Conv2DOptionsEnd(b)
	}
}
