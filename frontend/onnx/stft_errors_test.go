package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestSTFTErrors: what STFT and MelWeightMatrix do not support, and
// malformed nodes, are errors naming the model, the node and the reason.
func TestSTFTErrors(t *testing.T) {
	sc := func(v int64) *ir.Tensor { return ir.FromI64([]int{}, []int64{v}) }
	stft := func(x []int64, step int64, win *ir.Tensor, length *ir.Tensor, attrs ...*attrProto) *mb {
		m := newModel(17).input("x", dtFloat, x...).init("step", sc(step))
		in := []string{"x", "step", "", ""}
		if win != nil {
			m.init("w", win)
			in[2] = "w"
		}
		if length != nil {
			m.init("n", length)
			in[3] = "n"
		}
		return m.node("STFT", in, []string{"y"}, attrs...).output("y")
	}
	mel := func(mels, dft, rate int64, lo, hi float32, attrs ...*attrProto) *mb {
		return newModel(17).init("a", sc(mels)).init("b", sc(dft)).init("c", sc(rate)).
			init("d", ir.FromF32([]int{}, []float32{lo})).init("e", ir.FromF32([]int{}, []float32{hi})).
			node("MelWeightMatrix", []string{"a", "b", "c", "d", "e"}, []string{"y"}, attrs...).output("y")
	}
	for _, tc := range []struct {
		name        string
		m           *mb
		node        string
		want        string
		unsupported bool
	}{
		{"stft shape", stft([]int64{1, 8}, 2, nil, sc(4)), "STFT_0", "signal [1 8] must be [batch, length, 1 or 2]", false},
		{"stft step", stft([]int64{1, 8, 1}, 0, nil, sc(4)), "STFT_0", "frame_step 0 must be positive", false},
		{"stft length", stft([]int64{1, 8, 1}, 2, nil, sc(9)), "STFT_0", "the frame length 9 must be in [1, the signal length 8]", false},
		{"stft window length", stft([]int64{1, 8, 1}, 2, f32s([]int{4}), sc(5)), "STFT_0", "frame_length 5 differs from the window's length 4", false},
		{"stft onesided complex", stft([]int64{1, 8, 2}, 2, nil, sc(4)), "STFT_0", "onesided with a complex signal", true},
		{"stft runtime step", newModel(17).input("x", dtFloat, 1, 8, 1).input("s", dtInt64).node("STFT", []string{"x", "s"}, []string{"y"}).output("y"),
			"STFT_0", `input "s" must be a constant`, false},
		{"mel edges", mel(8, 16, 8000, 100, 5000), "MelWeightMatrix_0", "the edges 100 and 5000 Hz must satisfy", false},
		{"mel bins", mel(0, 16, 8000, 0, 4000), "MelWeightMatrix_0", "num_mel_bins 0, dft_length 16 and sample_rate 8000 must be positive", false},
		{"mel dtype", mel(8, 16, 8000, 0, 4000, aInt("output_datatype", 9)), "MelWeightMatrix_0", "output_datatype 9", true},
	} {
		_, err := tc.m.load(t, Options{})
		prefix := `node "` + tc.node + `"`
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), "t.onnx") {
			t.Errorf("%s: err = %v\nwant it to name t.onnx, %s and say %q", tc.name, err, prefix, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.name, err, !tc.unsupported, tc.unsupported)
		}
	}
}
