package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

func init() { register("lut", buildLut) }

// lut: y[i] = table[x[i] - min(x's dtype)].
func buildLut(v *ir.Value) (kernel, error) {
	x := v.Args[0].Type
	if x.DType != ir.I8 && x.DType != ir.U8 {
		return nil, fmt.Errorf("lut takes i8 or u8, got %v", x.DType)
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		tb := args[1]
		if tb.Len() != 256 {
			return nil, fmt.Errorf("lut: table of %d entries, want 256", tb.Len())
		}
		y := ir.NewTensor(tb.DType, args[0].Shape)
		n := y.Len()
		idx := func(i int) int {
			if x.DType == ir.I8 {
				return int(args[0].I8[i]) + 128
			}
			return int(args[0].U8[i])
		}
		switch tb.DType {
		case ir.I8:
			for i := 0; i < n; i++ {
				y.I8[i] = tb.I8[idx(i)]
			}
		case ir.U8:
			for i := 0; i < n; i++ {
				y.U8[i] = tb.U8[idx(i)]
			}
		case ir.F32:
			for i := 0; i < n; i++ {
				y.F32[i] = tb.F32[idx(i)]
			}
		default:
			return nil, fmt.Errorf("lut: table of %v", tb.DType)
		}
		return y, nil
	}, nil
}
