package onnx

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// externalModel writes dir/m.onnx, y = x + w (w [3] f32), with w's bytes
// in dir/w.bin after 5 bytes of padding, described by kv (nil: the right
// location, offset and length).
func externalModel(t *testing.T, kv map[string]string, wbytes []byte) (string, []float32) {
	t.Helper()
	dir := t.TempDir()
	w := []float32{1.5, -2, 4}
	raw := ir.FromF32([]int{3}, w).Bytes()
	if wbytes == nil {
		wbytes = raw
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), append([]byte("pad!!"), wbytes...), 0o644); err != nil {
		t.Fatal(err)
	}
	if kv == nil {
		kv = map[string]string{"location": "w.bin", "offset": "5", "length": "12"}
	}
	tp := EncodeTensor("w", ir.FromF32([]int{3}, w))
	tp.RawData = nil
	tp.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	for k, v := range kv {
		tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)})
	}
	m := newModel(13).input("x", dtFloat, 3).node("Add", []string{"x", "w"}, []string{"y"}).output("y")
	m.inits = append(m.inits, tp)
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, m.bytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, w
}

// TestExternalData: a model whose weights are in a file beside it imports
// (offset, length, checksum read as ONNX defines them) and runs; bad
// entries are errors that say what is wrong, and a location cannot leave
// the model's folder.
func TestExternalData(t *testing.T) {
	path, w := externalModel(t, nil, nil)
	g, err := Import(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := rt.Run(g, []*ir.Tensor{ir.FromF32([]int{3}, []float32{1, 1, 1})})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out[0].F32 {
		if v != w[i]+1 {
			t.Fatalf("y = %v, want w + 1 (w = %v)", out[0].F32, w)
		}
	}
	raw := ir.FromF32([]int{3}, w).Bytes()
	sum := sha1.Sum(raw)
	good := hex.EncodeToString(sum[:])
	if _, err := Import(func() string {
		p, _ := externalModel(t, map[string]string{"location": "w.bin", "offset": "5", "checksum": good}, nil)
		return p
	}(), Options{}); err != nil {
		t.Errorf("checksum %s, no length: %v", good, err)
	}
	for _, tc := range []struct {
		kv   map[string]string
		want string
	}{
		{map[string]string{"location": "../w.bin"}, "leaves the model's folder"},
		{map[string]string{"location": "/etc/passwd"}, "leaves the model's folder"},
		{map[string]string{"location": "sub/../../w.bin"}, "leaves the model's folder"},
		{map[string]string{"location": "missing.bin"}, "no such file"},
		{map[string]string{"location": "w.bin", "offset": "5", "length": "8"}, "needs 12 bytes"},
		{map[string]string{"location": "w.bin", "offset": "9", "length": "12"}, "past its end"},
		{map[string]string{"location": "w.bin", "offset": "-1"}, "not a byte count"},
		{map[string]string{"location": "w.bin", "offset": "5", "checksum": strings.Repeat("0", 40)}, "does not match its checksum"},
		{map[string]string{"offset": "5"}, "without a location"},
	} {
		p, _ := externalModel(t, tc.kv, nil)
		if _, err := Import(p, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.kv, err, tc.want)
		}
	}
	// From bytes there is no folder to read from.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ImportBytes("m.onnx", b, Options{}); err == nil || !strings.Contains(err.Error(), "import the model from its file") {
		t.Errorf("ImportBytes: err = %v", err)
	}
}
