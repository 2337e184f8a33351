package tensorfile

import (
	"bytes"
	"testing"

	"github.com/pare-ml/pare/ir"
)

func TestNPYRoundTrip(t *testing.T) {
	for _, tc := range []*ir.Tensor{
		ir.FromF32([]int{2, 3}, []float32{1, -2, 3.5, 0, 1e-9, 7}),
		ir.FromI64([]int{3}, []int64{-1, 0, 1 << 40}),
		ir.FromF32([]int{}, []float32{42}),
		{DType: ir.U8, Shape: []int{1, 2, 2}, U8: []uint8{0, 255, 7, 9}},
	} {
		var b bytes.Buffer
		if err := WriteNPY(&b, tc); err != nil {
			t.Fatal(err)
		}
		if (b.Len()-len(tc.Bytes()))%64 != 0 {
			t.Errorf("header not 64-aligned: %d", b.Len())
		}
		got, err := ReadNPY(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(tc) {
			t.Errorf("round trip %v%v: got %v", tc.DType, tc.Shape, got)
		}
	}
}

func TestNPYErrors(t *testing.T) {
	for name, data := range map[string]string{
		"magic":   "hello world",
		"short":   "\x93NUMPY\x01\x00\xff\x00{",
		"f8":      "\x93NUMPY\x01\x00\x3a\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n",
		"fortran": "\x93NUMPY\x01\x00\x3b\x00{'descr': '<f4', 'fortran_order': True, 'shape': (1,), } \n",
	} {
		if _, err := ReadNPY([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
