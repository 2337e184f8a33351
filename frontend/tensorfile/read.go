package tensorfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// Read loads a tensor from .npy, .pb (ONNX TensorProto) or .bin (raw
// little-endian). want, when not nil, is the type the caller needs: .bin
// files take it as their type; other files must match its dtype and element
// count (their shape is then set to want's).
func Read(path string, want *ir.Type) (*ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t *ir.Tensor
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		t, err = ReadNPY(data)
	case ".pb":
		var tp onnxpb.TensorProto
		if err = proto.Unmarshal(data, &tp); err == nil {
			t, err = onnx.DecodeTensor(&tp)
		}
	case ".bin", ".raw":
		if want == nil {
			return nil, fmt.Errorf("%s: a raw file needs a known type (use .npy or .pb)", path)
		}
		t, err = ir.TensorFromBytes(want.DType, want.Shape, data)
	default:
		return nil, fmt.Errorf("%s: unknown tensor file type (want .npy, .pb or .bin)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if want != nil {
		if t.DType != want.DType {
			return nil, fmt.Errorf("%s: holds %v%v, the input needs %v", path, t.DType, t.Shape, *want)
		}
		if t.Len() != want.NumElements() {
			return nil, fmt.Errorf("%s: holds %v%v (%d elements), the input needs %v", path, t.DType, t.Shape, t.Len(), *want)
		}
		t = t.Reshaped(want.Shape)
	}
	return t, nil
}

// Write stores t as .npy, or raw little-endian for .bin.
func Write(path string, t *ir.Tensor) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".bin", ".raw":
		return os.WriteFile(path, t.Bytes(), 0o644)
	case ".npy":
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := WriteNPY(f, t); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return fmt.Errorf("%s: output must be .npy or .bin", path)
}
