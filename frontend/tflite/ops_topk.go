package tflite

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// convTopK: TOPK_V2 (input, k: a constant scalar) → topk and topk_index
// (int32) along the last dim, best first, ties in index order (TFLite's
// kernel keeps the lower index first too). Quantized inputs keep their
// parameters: the values are the stored integers, compared as they are.
func convTopK(o *opctx) error {
	ks, _, err := o.constInts(1)
	if err != nil {
		return err
	}
	if len(ks) != 1 {
		return fmt.Errorf("k has %d elements, want 1", len(ks))
	}
	x, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	if x.Type.Rank() < 1 {
		return fmt.Errorf("input %v has no last dim", x.Type)
	}
	attrs := ir.Attrs{"k": ir.Int(ks[0]), "axis": ir.Int(x.Type.Rank() - 1)}
	v, err := o.add("topk", []*ir.Value{x}, attrs, ir.Type{})
	if err != nil {
		return err
	}
	if err := o.set(v, false); err != nil {
		return err
	}
	if len(o.op.outputs) < 2 || o.op.outputs[1] < 0 {
		return nil
	}
	want, err := o.outTypeAt(1)
	if err != nil {
		return err
	}
	idx, err := o.addFor(1, "topk_index", []*ir.Value{x}, attrs, ir.Type{DType: want.DType})
	if err != nil {
		return err
	}
	return o.setAt(1, idx, false)
}
