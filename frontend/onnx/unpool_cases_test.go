package onnx

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Cases of MaxUnpool (convert_unpool.go).

// maxUnpoolRef pools x (kernel, strides, no pads) keeping the first
// maximum of each window and writes the maxima back into zeros of out.
func maxUnpoolRef(x *ir.Tensor, kern, strides, out []int) *ir.Tensor {
	s := x.Shape
	d := len(s) - 2
	pooled := make([]int, d)
	for i := range d {
		pooled[i] = (s[2+i]-kern[i])/strides[i] + 1
	}
	y := ir.NewTensor(ir.F32, out)
	for nc := range s[0] * s[1] {
		for q := range ir.NumElements(pooled) {
			qq := unflat(q, pooled)
			best, at := 0.0, -1
			for k := range ir.NumElements(kern) {
				kk := unflat(k, kern)
				pos := make([]int, d)
				for i := range d {
					pos[i] = qq[i]*strides[i] + kk[i]
				}
				v := x.F32[nc*ir.NumElements(s[2:])+flat(pos, s[2:])]
				if at < 0 || float64(v) > best {
					best, at = float64(v), flat(pos, out[2:])
				}
			}
			y.F32[nc*ir.NumElements(out[2:])+at] = float32(best)
		}
	}
	return y
}

func maxUnpoolCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x, kern, strides, outShape []int // outShape nil: the default
	}{
		{x: []int{1, 2, 4, 4}, kern: []int{2, 2}, strides: []int{2, 2}},
		{x: []int{2, 1, 5, 5}, kern: []int{3, 3}, strides: []int{2, 2}},
		{x: []int{1, 1, 5, 7}, kern: []int{2, 3}, strides: []int{2, 3}, outShape: []int{1, 1, 5, 7}}, // the default would be [1 1 4 6]
		{x: []int{1, 2, 6}, kern: []int{2}, strides: []int{2}},
	} {
		i64 := func(v []int) []int64 {
			o := make([]int64, len(v))
			for j, x := range v {
				o[j] = int64(x)
			}
			return o
		}
		attrs := []*attrProto{aInts("kernel_shape", i64(tc.kern)...), aInts("strides", i64(tc.strides)...)}
		os := tc.outShape
		if os == nil {
			os = append([]int{}, tc.x...)
		}
		out = append(out, decompCase{name: fmt.Sprintf("MaxUnpool/%d_%v_kernel%v_strides%v_out%v", i, tc.x, tc.kern, tc.strides, tc.outShape), opset: 11, op: "MaxUnpool", x: tc.x,
			body: func(m *mb, p string) {
				m.node("MaxPool", []string{p + "x"}, []string{p + "pooled", p + "idx"}, attrs...)
				in := []string{p + "pooled", p + "idx"}
				if tc.outShape != nil {
					m.init(p+"os", ir.FromI64([]int{len(os)}, i64(os)))
					in = append(in, p+"os")
				}
				m.node("MaxUnpool", in, []string{p + "y"}, attrs...)
			},
			ref: func(x *ir.Tensor) *ir.Tensor { return maxUnpoolRef(x, tc.kern, tc.strides, os) }})
	}
	// Constant indices: a scatter.
	idx := ir.FromI64([]int{1, 1, 2, 2}, []int64{0, 3, 9, 15})
	out = append(out, decompCase{name: "MaxUnpool/constant_indices", opset: 11, op: "MaxUnpool", x: []int{1, 1, 2, 2},
		attrs: []*attrProto{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}, params: []*ir.Tensor{idx},
		ref: func(x *ir.Tensor) *ir.Tensor {
			y := ir.NewTensor(ir.F32, []int{1, 1, 4, 4})
			for j, o := range idx.I64 {
				y.F32[o] = x.F32[j]
			}
			return y
		}})
	return out
}

// TestMaxUnpoolErrors: indices pare cannot unpool exactly are an
// UnsupportedError naming the node.
func TestMaxUnpoolErrors(t *testing.T) {
	k2 := []*attrProto{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}
	for _, tc := range []struct {
		name        string
		m           *mb
		want        string
		unsupported bool
	}{
		{"graph input indices", newModel(11).input("x", dtFloat, 1, 1, 2, 2).input("i", dtInt64, 1, 1, 2, 2).
			node("MaxUnpool", []string{"x", "i"}, []string{"y"}, k2...).output("y"), `the indices "i" are computed by`, true},
		{"other windows", newModel(11).input("x", dtFloat, 1, 1, 4, 4).node("MaxPool", []string{"x"}, []string{"p", "i"}, aInts("kernel_shape", 2, 2), aInts("strides", 1, 1)).
			node("MaxUnpool", []string{"p", "i"}, []string{"y"}, aInts("kernel_shape", 2, 2), aInts("strides", 1, 1), aInts("pads", 0, 0, 1, 1)).output("y"), "of other windows or an input of another shape", true},
		{"kernel", newModel(11).input("x", dtFloat, 1, 1, 2, 2).init("i", ir.FromI64([]int{1, 1, 2, 2}, []int64{0, 1, 2, 3})).
			node("MaxUnpool", []string{"x", "i"}, []string{"y"}).output("y"), "the kernel_shape attribute is missing", false},
		{"range", newModel(11).input("x", dtFloat, 1, 1, 2, 2).init("i", ir.FromI64([]int{1, 1, 2, 2}, []int64{0, 1, 2, 16})).
			node("MaxUnpool", []string{"x", "i"}, []string{"y"}, k2...).output("y"), "index 16 is out of range for the output [1 1 4 4]", false},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `(MaxUnpool)`) {
			t.Errorf("%s: err = %v, want it to name the MaxUnpool node and say %q", tc.name, err, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.name, err, !tc.unsupported, tc.unsupported)
		}
	}
}
