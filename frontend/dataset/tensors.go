package dataset

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Preprocess maps pixels p (0..255) to model inputs: (p*Scale - Mean) / Std.
type Preprocess struct {
	Scale, Mean, Std float32
}

// Tensors turns each image into one f32 input tensor of the given shape
// (N=1, e.g. [1,1,28,28] for NCHW or [1,28,28,1] for NHWC; the pixels are
// stored H×W×C, so channel-first shapes of C > 1 are transposed). It
// returns the inputs and labels.
func (s *Set) Tensors(shape []int, pp Preprocess) ([]*ir.Tensor, []int, error) {
	n := s.H * s.W * s.C
	if ir.NumElements(shape) != n {
		return nil, nil, fmt.Errorf("%s: images are %dx%dx%d, the model input is %v", s.Name, s.H, s.W, s.C, shape)
	}
	if pp.Std == 0 {
		pp.Std = 1
	}
	chw := s.C > 1 && len(shape) == 4 && shape[1] == s.C
	out := make([]*ir.Tensor, s.N)
	labels := make([]int, s.N)
	for i := 0; i < s.N; i++ {
		t := ir.NewTensor(ir.F32, shape)
		img := s.Image(i)
		for j, p := range img {
			k := j
			if chw {
				pix, c := j/s.C, j%s.C
				k = c*s.H*s.W + pix
			}
			t.F32[k] = (float32(p)*pp.Scale - pp.Mean) / pp.Std
		}
		out[i] = t
		labels[i] = int(s.Labels[i])
	}
	return out, labels, nil
}
