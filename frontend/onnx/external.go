package onnx

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// External data (models saved with save_as_external_data, and every model
// past protobuf's 2 GiB): a tensor's bytes sit in a file beside the model,
// named by its external_data entries location (a path relative to the
// model's folder), offset and length (bytes; default the rest of the file)
// and optionally checksum (SHA-1, hex). The bytes are raw_data's: little
// endian, row-major.

// loadExternal returns tp with its external bytes read into raw_data (tp
// itself when it has none). dir is the model's folder ("" when the model
// came as bytes: then external data is an error). A location must stay
// inside dir: absolute paths and ".." are refused, as a model is untrusted.
func loadExternal(dir string, tp *onnxpb.TensorProto) (*onnxpb.TensorProto, error) {
	if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL && len(tp.GetExternalData()) == 0 {
		return tp, nil
	}
	name := tp.GetName()
	kv := map[string]string{}
	for _, e := range tp.GetExternalData() {
		kv[e.GetKey()] = e.GetValue()
	}
	loc := kv["location"]
	if loc == "" {
		return nil, fmt.Errorf("tensor %q: external data without a location", name)
	}
	if dir == "" {
		return nil, fmt.Errorf("tensor %q: its data is in the external file %q, which needs the model's folder: import the model from its file", name, loc)
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("tensor %q: external data location %q leaves the model's folder", name, loc)
	}
	num := func(key string, def int64) (int64, error) {
		s, ok := kv[key]
		if !ok {
			return def, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("tensor %q: external data %s %q is not a byte count", name, key, s)
		}
		return v, nil
	}
	off, err := num("offset", 0)
	if err != nil {
		return nil, err
	}
	length, err := num("length", -1)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, clean))
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %v", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %v", name, err)
	}
	if length < 0 {
		length = st.Size() - off
	}
	if off > st.Size() || length > st.Size()-off {
		return nil, fmt.Errorf("tensor %q: external data %s: bytes %d to %d are past its end (%d bytes)", name, loc, off, off+length, st.Size())
	}
	// The size the dims and type need, checked before reading.
	if dt, err := irDType(tp.GetDataType()); err == nil {
		shape, err := checkDims(tp.GetDims())
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		if want := int64(ir.NumElements(shape)) * int64(dt.Size()); want != length {
			return nil, fmt.Errorf("tensor %q: %v%v needs %d bytes, external data %s has %d", name, dt, shape, want, loc, length)
		}
	}
	b := make([]byte, length)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("tensor %q: external data %s: %v", name, loc, err)
	}
	if sum, ok := kv["checksum"]; ok {
		h := sha1.Sum(b)
		if !strings.EqualFold(sum, hex.EncodeToString(h[:])) {
			return nil, fmt.Errorf("tensor %q: external data %s: SHA-1 %x does not match its checksum %s", name, loc, h, sum)
		}
	}
	out := proto.Clone(tp).(*onnxpb.TensorProto)
	out.RawData = b
	out.ExternalData = nil
	out.DataLocation = nil
	return out, nil
}
