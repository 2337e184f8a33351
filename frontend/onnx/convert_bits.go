package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// BitShift and the Bitwise ops: pare's IR has no integer bit operations,
// so these fold at import and need every input constant (a shape or index
// computation); the result has the inputs' dtype.

// bitInputs returns the constant integer inputs of the node (n of them),
// which must share a dtype.
func (c *nodeCtx) bitInputs(n int) ([]*ir.Tensor, error) {
	ts := make([]*ir.Tensor, n)
	for i := range ts {
		t, err := c.constArg(i, "input "+string(rune('A'+i)))
		if err != nil {
			return nil, err
		}
		if !t.DType.IsInt() {
			return nil, c.errf("input %d is %v, want an integer type", i, t.DType)
		}
		if i > 0 && t.DType != ts[0].DType {
			return nil, c.errf("inputs are %v and %v, want one integer type", ts[0].DType, t.DType)
		}
		ts[i] = t
	}
	return ts, nil
}

// foldBits sets output 0 to f applied elementwise to the inputs broadcast
// together (f sees the integers sign- or zero-extended to 64 bits; the
// result is truncated to the dtype).
func (c *nodeCtx) foldBits(n int, f func(v []int64) int64) error {
	ts, err := c.bitInputs(n)
	if err != nil {
		return err
	}
	shape := ts[0].Shape
	for _, t := range ts[1:] {
		if shape, err = ir.Broadcast(shape, t.Shape); err != nil {
			return c.errf("inputs %v and %v do not broadcast", ts[0].Shape, t.Shape)
		}
	}
	if !c.im.budget(8 * ir.NumElements(shape)) {
		return c.errf("the folded result %v is too large", shape)
	}
	out := ir.NewTensor(ts[0].DType, shape)
	idx := make([][]int, n)
	for i, t := range ts {
		st := broadcastStrides(t.Shape, shape)
		idx[i] = make([]int, out.Len())
		walk(shape, st, 0, func(k, j int) { idx[i][k] = j })
	}
	v := make([]int64, n)
	for k := range out.Len() {
		for i, t := range ts {
			v[i] = t.IntAt(idx[i][k])
		}
		out.SetInt(k, f(v))
	}
	c.set(0, c.constant(c.outName(0), out, nil))
	return nil
}

// convBitShift: LEFT or RIGHT shifts of unsigned integers (pare's only
// unsigned type is UINT8); shifting by the width or more gives 0.
func convBitShift(c *nodeCtx) error {
	dir := c.str("direction", "")
	if dir != "LEFT" && dir != "RIGHT" {
		return c.errf("direction %q must be LEFT or RIGHT", dir)
	}
	if x := c.in(0); x != nil && x.Type.DType != ir.U8 {
		return c.unsupported("input 0 is %v; BitShift takes unsigned integers, and pare's only one is UINT8", x.Type.DType)
	}
	return c.foldBits(2, func(v []int64) int64 {
		x, s := uint64(uint8(v[0])), uint64(uint8(v[1]))
		if dir == "LEFT" {
			return int64(uint8(x << s))
		}
		return int64(x >> s)
	})
}

func convBitwise(f func(a, b int64) int64) func(c *nodeCtx) error {
	return func(c *nodeCtx) error {
		return c.foldBits(2, func(v []int64) int64 { return f(v[0], v[1]) })
	}
}

func convBitwiseNot(c *nodeCtx) error {
	return c.foldBits(1, func(v []int64) int64 { return ^v[0] })
}
