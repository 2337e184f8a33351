package ir

import "fmt"

// Broadcast computes the numpy broadcast of two shapes.
func Broadcast(a, b []int) ([]int, error) {
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// PoolOutDim is the output length of one spatial axis of a window op.
// pb and pe are the pads at the beginning and the end; with ceil, the
// division rounds up, but the last window must start inside the input or
// the beginning padding (the ONNX / PyTorch rule).
func PoolOutDim(in, k, stride, dil, pb, pe int, ceil bool) int {
	span := (k-1)*dil + 1
	num := in + pb + pe - span
	if num < 0 {
		return 0
	}
	if !ceil {
		return num/stride + 1
	}
	out := (num+stride-1)/stride + 1
	if (out-1)*stride >= in+pb {
		out--
	}
	return out
}

// Window holds the normalized geometry of a conv or pool over nsp spatial dims.
type Window struct {
	Kernel, Strides, Dilations []int
	PadsBegin, PadsEnd         []int
}

// WindowOf reads kernel/strides/dilations/pads attributes of v for nsp
// spatial dims; kernel comes from the "kernel" attribute or, for convs, the
// weight shape (kernel may be nil then and is filled by the caller).
func WindowOf(v *Value, nsp int, kernel []int) (Window, error) {
	w := Window{Kernel: kernel}
	if w.Kernel == nil {
		w.Kernel = v.IntList("kernel")
	}
	if len(w.Kernel) != nsp {
		return w, fmt.Errorf("kernel %v has %d dims, want %d", w.Kernel, len(w.Kernel), nsp)
	}
	fill := func(name string, n, def int) ([]int, error) {
		l := v.IntList(name)
		if len(l) == 0 {
			l = make([]int, n)
			for i := range l {
				l[i] = def
			}
			return l, nil
		}
		if len(l) != n {
			return nil, fmt.Errorf("%s %v has %d entries, want %d", name, l, len(l), n)
		}
		return l, nil
	}
	var err error
	if w.Strides, err = fill("strides", nsp, 1); err != nil {
		return w, err
	}
	if w.Dilations, err = fill("dilations", nsp, 1); err != nil {
		return w, err
	}
	pads, err := fill("pads", 2*nsp, 0)
	if err != nil {
		return w, err
	}
	w.PadsBegin, w.PadsEnd = pads[:nsp], pads[nsp:]
	for i := 0; i < nsp; i++ {
		if w.Strides[i] < 1 || w.Dilations[i] < 1 || w.Kernel[i] < 1 {
			return w, fmt.Errorf("kernel %v, strides %v and dilations %v must be positive", w.Kernel, w.Strides, w.Dilations)
		}
		if w.PadsBegin[i] < 0 || w.PadsEnd[i] < 0 {
			return w, fmt.Errorf("negative pads %v", pads)
		}
	}
	return w, nil
}
