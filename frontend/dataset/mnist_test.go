package dataset

import "testing"

func TestMNIST(t *testing.T) {
	if _, err := MNISTDir(); err != nil {
		t.Skip(err)
	}
	for split, n := range map[string]int{"test": 10000, "train": 60000} {
		s, err := MNIST(split)
		if err != nil {
			t.Fatal(err)
		}
		if s.N != n || s.H != 28 || s.W != 28 || len(s.Pixels) != n*784 || len(s.Labels) != n {
			t.Fatalf("%s: N=%d %dx%d", split, s.N, s.H, s.W)
		}
		var hist [10]int
		for _, l := range s.Labels {
			if l > 9 {
				t.Fatalf("label %d", l)
			}
			hist[l]++
		}
		for d, c := range hist {
			if c < n/20 {
				t.Errorf("%s: digit %d has only %d images", split, d, c)
			}
		}
	}
	// The first test image is a 7 (the well-known first entry of t10k).
	s, _ := MNIST("test")
	if s.Labels[0] != 7 {
		t.Errorf("first test label %d, want 7", s.Labels[0])
	}
}
