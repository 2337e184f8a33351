package dataset

import "testing"

func TestFashionMNIST(t *testing.T) {
	if _, err := FashionMNISTDir(); err != nil {
		t.Skip(err)
	}
	s, err := FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 10000 || s.H != 28 || s.W != 28 || s.Labels[0] > 9 {
		t.Fatalf("fashion-mnist test: %d images %dx%d", s.N, s.H, s.W)
	}
	in, labels, err := s.Limit(2).Tensors([]int{1, 1, 28, 28}, Preprocess{Scale: 1.0 / 255})
	if err != nil || len(in) != 2 || len(labels) != 2 || in[0].F32[0] < 0 || in[0].F32[0] > 1 {
		t.Fatalf("tensors: %v", err)
	}
}
