package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// withAct applies the fused activation attribute (act = relu | clip, set by
// the fuse pass) of conv, matmul, gemm and add after their kernel. On an f32
// result it clamps; on a quantized integer result relu is max(q, zero point)
// and clip's bounds apply to the stored integers, exactly as the unfused
// relu and clip kernels compute, so fusion never changes a result.
func withAct(b builder) builder {
	return func(v *ir.Value) (kernel, error) {
		k, err := b(v)
		if err != nil || v.Op.AttrDef("act") == nil {
			return k, err
		}
		act := v.Str("act")
		if act == "none" {
			return k, nil
		}
		dt := v.Type.DType
		var flo, fhi float32
		var lo, hi int64
		switch act {
		case "relu":
			flo, fhi = 0, float32(math.Inf(1))
			_, hi = dt.Range()
			if q := v.Type.Quant; q != nil {
				if q.Axis >= 0 {
					return nil, fmt.Errorf("act=relu on a per-axis quantized result")
				}
				lo = q.ZeroPoint[0]
			}
		case "clip":
			flo, fhi = v.Float("act_min"), v.Float("act_max")
			if dt != ir.F32 {
				lo, hi = intBounds(flo, fhi, dt)
			}
		default:
			return nil, fmt.Errorf("unknown act %q (none, relu, clip)", act)
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			t, err := k(args)
			if err != nil {
				return nil, err
			}
			switch t.DType {
			case ir.F32:
				clampSlice(t.F32, flo, fhi)
			case ir.I8:
				clampSlice(t.I8, int8(max(lo, -128)), int8(min(hi, 127)))
			case ir.U8:
				clampSlice(t.U8, uint8(max(lo, 0)), uint8(min(hi, 255)))
			case ir.I32:
				clampSlice(t.I32, int32(max(lo, math.MinInt32)), int32(min(hi, math.MaxInt32)))
			default:
				return nil, fmt.Errorf("act on a %v result", t.DType)
			}
			return t, nil
		}, nil
	}
}

// clampSlice clamps x to [lo, hi] in place; lo > hi gives hi everywhere,
// as clip does.
func clampSlice[T number](x []T, lo, hi T) {
	for i, e := range x {
		if e < lo {
			e = lo
		}
		if e > hi {
			e = hi
		}
		x[i] = e
	}
}
