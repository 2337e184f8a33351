package onnxpb

import "strconv"

// DataTypeName returns the official name of a TensorProto.DataType value,
// such as "FLOAT", "FLOAT16" or "INT4", or "DataType(N)" for a value the
// schema does not know.
func DataTypeName(dt int32) string {
	if name, ok := TensorProto_DataType_name[dt]; ok {
		return name
	}
	return "DataType(" + strconv.FormatInt(int64(dt), 10) + ")"
}
