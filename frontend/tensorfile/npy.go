// Package tensorfile reads and writes tensors in the files pare's CLI
// accepts: NumPy .npy, ONNX TensorProto .pb, and raw little-endian .bin.
package tensorfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/ir"
)

var npyDescr = map[string]ir.DType{
	"<f4": ir.F32, "|i1": ir.I8, "|u1": ir.U8, "<i2": ir.I16, "<i4": ir.I32, "<i8": ir.I64, "|b1": ir.Bool,
}

func descrOf(dt ir.DType) string {
	for k, v := range npyDescr {
		if v == dt {
			return k
		}
	}
	return ""
}

// ReadNPY decodes a .npy file (version 1-3, C order, little-endian).
func ReadNPY(data []byte) (*ir.Tensor, error) {
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not a .npy file (bad magic)")
	}
	major := data[6]
	var hlen, off int
	switch major {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(data[8:])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, fmt.Errorf("truncated .npy header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(data[8:])), 12
	default:
		return nil, fmt.Errorf(".npy version %d not supported", major)
	}
	if off+hlen > len(data) || hlen < 0 {
		return nil, fmt.Errorf("truncated .npy header")
	}
	hdr := string(data[off : off+hlen])
	descr := regexp.MustCompile(`'descr':\s*'([^']*)'`).FindStringSubmatch(hdr)
	order := regexp.MustCompile(`'fortran_order':\s*(True|False)`).FindStringSubmatch(hdr)
	shapeM := regexp.MustCompile(`'shape':\s*\(([^)]*)\)`).FindStringSubmatch(hdr)
	if descr == nil || order == nil || shapeM == nil {
		return nil, fmt.Errorf("malformed .npy header %q", hdr)
	}
	if order[1] == "True" {
		return nil, fmt.Errorf(".npy in Fortran order is not supported; save with np.ascontiguousarray")
	}
	d := descr[1]
	if d == "<f8" || d == "<u2" || d == "<u4" || d == "<u8" || d == "<f2" {
		return nil, fmt.Errorf(".npy dtype %s is not supported (f32 i8 u8 i16 i32 i64 bool are); convert with .astype", d)
	}
	dt, ok := npyDescr[d]
	if !ok {
		return nil, fmt.Errorf(".npy dtype %q is not supported (f32 i8 u8 i16 i32 i64 bool are)", d)
	}
	shape := []int{}
	for _, p := range strings.Split(shapeM[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("malformed .npy shape %q", shapeM[1])
		}
		shape = append(shape, n)
	}
	return ir.TensorFromBytes(dt, shape, data[off+hlen:])
}

// WriteNPY encodes t as a version-1 .npy file.
func WriteNPY(w io.Writer, t *ir.Tensor) error {
	var shape []string
	for _, d := range t.Shape {
		shape = append(shape, strconv.Itoa(d))
	}
	s := strings.Join(shape, ", ")
	if len(t.Shape) == 1 {
		s += ","
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descrOf(t.DType), s)
	pad := 64 - (10+len(hdr)+1)%64
	hdr += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	b.Write(t.Bytes())
	_, err := w.Write(b.Bytes())
	return err
}
