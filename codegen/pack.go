package codegen

import (
	"github.com/pare-ml/pare/ir"
)

// blob accumulates the packed constants, each 64-byte aligned, deduplicated
// by tensor identity.
type blob struct {
	data []byte
	seen map[*ir.Tensor]int64
}

func newBlob() *blob { return &blob{seen: map[*ir.Tensor]int64{}} }

func (b *blob) add(t *ir.Tensor) int64 {
	if off, ok := b.seen[t]; ok {
		return off
	}
	off := alignUp(int64(len(b.data)))
	for int64(len(b.data)) < off {
		b.data = append(b.data, 0)
	}
	b.data = append(b.data, t.Bytes()...)
	b.seen[t] = off
	return off
}

func (b *blob) bytes() []byte {
	for len(b.data)%Align != 0 {
		b.data = append(b.data, 0)
	}
	return b.data
}

// channelVector returns the per-channel values of a constant that
// broadcasts against an [N, M, spatial...] tensor along dim 1 only, or nil.
func channelVector(c *ir.Tensor, out []int) []float32 {
	if c == nil || c.DType != ir.F32 || len(out) < 2 {
		return nil
	}
	s := c.Shape
	if len(s) > len(out) {
		return nil
	}
	m := out[1]
	// Align s to the right of out; every dim but 1 must be 1.
	found := false
	for i := range s {
		d := len(out) - len(s) + i
		switch {
		case s[i] == 1:
		case d == 1 && s[i] == m:
			found = true
		default:
			return nil
		}
	}
	v := make([]float32, m)
	for i := range v {
		if found {
			v[i] = c.F32[i]
		} else {
			v[i] = c.F32[0]
		}
	}
	return v
}

// rowVector returns the values of a constant that broadcasts against an
// [M, N] matrix along its last dim only, or nil.
func rowVector(c *ir.Tensor, n int) []float32 {
	if c == nil || c.DType != ir.F32 {
		return nil
	}
	for i, d := range c.Shape {
		if d != 1 && !(i == len(c.Shape)-1 && d == n) {
			return nil
		}
	}
	v := make([]float32, n)
	for i := range v {
		if len(c.F32) == n {
			v[i] = c.F32[i]
		} else {
			v[i] = c.F32[0]
		}
	}
	return v
}
