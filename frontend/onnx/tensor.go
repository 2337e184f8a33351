package onnx

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// ONNX TensorProto.DataType values pare reads.
const (
	dtFloat  = int32(onnxpb.TensorProto_FLOAT)
	dtUint8  = int32(onnxpb.TensorProto_UINT8)
	dtInt8   = int32(onnxpb.TensorProto_INT8)
	dtInt16  = int32(onnxpb.TensorProto_INT16)
	dtInt32  = int32(onnxpb.TensorProto_INT32)
	dtInt64  = int32(onnxpb.TensorProto_INT64)
	dtBool   = int32(onnxpb.TensorProto_BOOL)
	dtString = int32(onnxpb.TensorProto_STRING)
	// Constants of these become f32 (decodeHalf), and casts to them
	// compute in f32 (convCast).
	dtFloat16  = int32(onnxpb.TensorProto_FLOAT16)
	dtBFloat16 = int32(onnxpb.TensorProto_BFLOAT16)
)

// supportedDTypes is the sentence every dtype error ends with.
const supportedDTypes = "pare supports FLOAT, UINT8, INT8, INT16, INT32, INT64 and BOOL tensors"

// irDType maps an ONNX data type to pare's, or returns an *UnsupportedError.
func irDType(dt int32) (ir.DType, error) {
	switch dt {
	case dtFloat:
		return ir.F32, nil
	case dtUint8:
		return ir.U8, nil
	case dtInt8:
		return ir.I8, nil
	case dtInt16:
		return ir.I16, nil
	case dtInt32:
		return ir.I32, nil
	case dtInt64:
		return ir.I64, nil
	case dtBool:
		return ir.Bool, nil
	}
	return ir.Invalid, unsupportedf("data type %s is not supported (%s)", onnxpb.DataTypeName(dt), supportedDTypes)
}

// onnxDType is the inverse of irDType.
func onnxDType(d ir.DType) int32 {
	switch d {
	case ir.F32:
		return dtFloat
	case ir.U8:
		return dtUint8
	case ir.I8:
		return dtInt8
	case ir.I16:
		return dtInt16
	case ir.I32:
		return dtInt32
	case ir.I64:
		return dtInt64
	case ir.Bool:
		return dtBool
	}
	return 0
}

// checkShape is ir.CheckShape without its int64 overflow: every dim and the
// element count must be at most ir.MaxElements. (ir.CheckShape multiplies
// before comparing, so [1<<32, 1<<32] wraps to 0 and passes.)
func checkShape(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 || d > ir.MaxElements {
			return fmt.Errorf("invalid dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > ir.MaxElements/d {
			return fmt.Errorf("shape %v has more than %d elements", shape, int64(ir.MaxElements))
		}
		n *= d
	}
	return nil
}

// checkDims converts ONNX dims to a shape within checkShape's limits.
func checkDims(dims []int64) ([]int, error) {
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > ir.MaxElements {
			return nil, fmt.Errorf("invalid dimension %d in shape %v", d, dims)
		}
		shape[i] = int(d)
	}
	if err := checkShape(shape); err != nil {
		return nil, err
	}
	return shape, nil
}

// DecodeTensor converts a TensorProto to a tensor. The data may be in
// raw_data (little-endian) or in the typed fields (float_data, int32_data,
// which also carries int8, uint8, int16 and bool, int64_data). External data
// must have been read in (loadExternal): here it is an error; data types pare has no dtype for give an *UnsupportedError.
func DecodeTensor(tp *onnxpb.TensorProto) (*ir.Tensor, error) {
	name := tp.GetName()
	if d := tp.GetDataType(); d == dtFloat16 || d == dtBFloat16 {
		return decodeHalf(tp)
	}
	dt, err := irDType(tp.GetDataType())
	if err != nil {
		err.(*UnsupportedError).Reason = fmt.Sprintf("tensor %q: %s", name, err.(*UnsupportedError).Reason)
		return nil, err
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q stores its data in an external file; pare reads self-contained models only (re-save the model without external data)", name)
	}
	if tp.GetSegment() != nil {
		return nil, fmt.Errorf("tensor %q is a segment of a larger tensor, which pare does not read", name)
	}
	shape, err := checkDims(tp.GetDims())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", name, err)
	}
	n := ir.NumElements(shape)
	if tp.RawData != nil {
		t, err := ir.TensorFromBytes(dt, shape, tp.RawData)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: raw_data: %v", name, err)
		}
		return t, nil
	}
	var have int
	var field string
	switch dt {
	case ir.F32:
		have, field = len(tp.GetFloatData()), "float_data"
	case ir.I64:
		have, field = len(tp.GetInt64Data()), "int64_data"
	default:
		have, field = len(tp.GetInt32Data()), "int32_data"
	}
	if have != n {
		return nil, fmt.Errorf("tensor %q: %v%v needs %d values, %s has %d", name, dt, shape, n, field, have)
	}
	t := ir.NewTensor(dt, shape)
	switch dt {
	case ir.F32:
		copy(t.F32, tp.GetFloatData())
	case ir.I64:
		copy(t.I64, tp.GetInt64Data())
	case ir.I32:
		copy(t.I32, tp.GetInt32Data())
	default:
		lo, hi := dt.Range()
		for i, v := range tp.GetInt32Data() {
			if int64(v) < lo || int64(v) > hi {
				return nil, fmt.Errorf("tensor %q: value %d at %d out of range for %v", name, v, i, dt)
			}
			t.SetInt(i, int64(v))
		}
	}
	return t, nil
}

// EncodeTensor converts a tensor to a TensorProto with raw_data.
func EncodeTensor(name string, t *ir.Tensor) *onnxpb.TensorProto {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	dt := onnxDType(t.DType)
	return &onnxpb.TensorProto{Name: &name, Dims: dims, DataType: &dt, RawData: t.Bytes()}
}

// ReadTensorFile reads a serialized TensorProto (.pb), as in the ONNX test
// data sets, returning the tensor's name and data.
func ReadTensorFile(path string) (string, *ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return "", nil, fmt.Errorf("%s: not a TensorProto: %v", path, err)
	}
	t, err := DecodeTensor(&tp)
	if err != nil {
		if ue, ok := err.(*UnsupportedError); ok {
			ue.Model = path
			return "", nil, ue
		}
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return tp.GetName(), t, nil
}

// scalarF32 reads a one-element numeric tensor as a float32.
func scalarF32(t *ir.Tensor) (float32, error) {
	if t.Len() != 1 {
		return 0, fmt.Errorf("want one value, have %v%v", t.DType, t.Shape)
	}
	return float32(t.At(0)), nil
}

// bigInt bounds the integers read from a model's tensors.
const bigInt = int64(1) << 62

// intList reads an integer tensor (rank 0 or 1) as ints.
func intList(t *ir.Tensor) ([]int, error) {
	if !t.DType.IsInt() {
		return nil, fmt.Errorf("want integers, have %v", t.DType)
	}
	if len(t.Shape) > 1 {
		return nil, fmt.Errorf("want a 1-D tensor, have shape %v", t.Shape)
	}
	out := make([]int, t.Len())
	for i := range out {
		v := t.IntAt(i)
		// Clamp huge values (INT64_MAX as "to the end" in Slice) so that
		// later arithmetic with dims cannot overflow.
		v = max(min(v, bigInt), -bigInt)
		out[i] = int(v)
	}
	return out, nil
}

// floatList reads a float tensor (rank 0 or 1) as float32s.
func floatList(t *ir.Tensor) ([]float32, error) {
	if t.DType != ir.F32 {
		return nil, fmt.Errorf("want FLOAT values, have %v", t.DType)
	}
	if len(t.Shape) > 1 {
		return nil, fmt.Errorf("want a 1-D tensor, have shape %v", t.Shape)
	}
	return append([]float32{}, t.F32...), nil
}

// decodeHalf converts a FLOAT16 or BFLOAT16 tensor (raw_data, or the 16-bit
// patterns in int32_data) to f32, exactly: pare computes half-precision
// models in f32.
func decodeHalf(tp *onnxpb.TensorProto) (*ir.Tensor, error) {
	name := tp.GetName()
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q stores its data in an external file that was not read", name)
	}
	shape, err := checkDims(tp.GetDims())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", name, err)
	}
	conv := ir.HalfToFloat
	if tp.GetDataType() == dtBFloat16 {
		conv = ir.BFloat16ToFloat
	}
	n := ir.NumElements(shape)
	t := ir.NewTensor(ir.F32, shape)
	switch {
	case tp.RawData != nil:
		if len(tp.RawData) != 2*n {
			return nil, fmt.Errorf("tensor %q: %s%v needs %d bytes of raw_data, has %d", name, onnxpb.DataTypeName(tp.GetDataType()), shape, 2*n, len(tp.RawData))
		}
		for i := range t.F32 {
			t.F32[i] = conv(binary.LittleEndian.Uint16(tp.RawData[2*i:]))
		}
	case len(tp.GetInt32Data()) == n:
		for i, v := range tp.GetInt32Data() {
			t.F32[i] = conv(uint16(v))
		}
	default:
		return nil, fmt.Errorf("tensor %q: %s%v needs %d values, int32_data has %d", name, onnxpb.DataTypeName(tp.GetDataType()), shape, n, len(tp.GetInt32Data()))
	}
	return t, nil
}
