package codegentest

import (
	"fmt"
	"math/rand"

	"github.com/pare-ml/pare/ir"
)

// nmsCase is an nms_index of n random boxes (corners in [-2, 2), either
// order) and scores; floor floors both first, so that many boxes have zero
// area or coincide and many scores tie. A -inf score threshold is left at
// the default.
func nmsCase(n, maxOut int, iou, score float32, floor bool) IntCase {
	name := fmt.Sprintf("nms_index_n%d_m%d_iou%v_s%v_floor%v", n, maxOut, iou, score, floor)
	return IntCase{name, func(g *ir.Graph, r *rand.Rand, add func(ir.Type) *ir.Value) (*ir.Value, error) {
		b, s := add(ir.TensorType(ir.F32, n, 4)), add(ir.TensorType(ir.F32, n))
		if floor {
			var err error
			if b, err = g.Add("floor", []*ir.Value{b}, nil, ir.Type{}, "fb", name); err != nil {
				return nil, err
			}
			if s, err = g.Add("floor", []*ir.Value{s}, nil, ir.Type{}, "fs", name); err != nil {
				return nil, err
			}
		}
		attrs := ir.Attrs{"max_output": ir.Int(maxOut), "iou_threshold": ir.Float(iou)}
		if score > -10 {
			attrs["score_threshold"] = ir.Float(score)
		}
		return g.Add("nms_index", []*ir.Value{b, s}, attrs, ir.Type{}, name, name)
	}}
}
