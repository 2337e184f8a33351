package tflite

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Comparisons, logic, selection, FLOOR_MOD, FLOOR_DIV and the float functions (ir's
// ops_logic.go). TFLite compares quantized inputs by their real values: with
// one shared quantization that is a comparison of stored integers, which
// is what pare imports; other quantized comparisons are unsupported.

// convCompare imports EQUAL, NOT_EQUAL (equal + not), LESS, LESS_EQUAL,
// GREATER and GREATER_EQUAL.
func convCompare(op string, negate bool) func(o *opctx) error {
	return func(o *opctx) error {
		a, b, nchw, err := o.binaryArgs()
		if err != nil {
			return err
		}
		if !a.Type.Quant.Equal(b.Type.Quant) {
			return fmt.Errorf("unsupported: %s of %v and %v (quantized inputs must share one quantization)", o.code.name(), a.Type, b.Type)
		}
		v, err := o.add(op, []*ir.Value{a, b}, nil, ir.Type{})
		if err == nil && negate {
			v, err = o.add("not", []*ir.Value{v}, nil, ir.Type{})
		}
		if err != nil {
			return err
		}
		return o.set(v, nchw)
	}
}

// convLogic imports LOGICAL_AND and LOGICAL_OR.
func convLogic(op string) func(o *opctx) error {
	return func(o *opctx) error {
		a, b, nchw, err := o.binaryArgs()
		if err != nil {
			return err
		}
		v, err := o.add(op, []*ir.Value{a, b}, nil, ir.Type{})
		if err != nil {
			return err
		}
		return o.set(v, nchw)
	}
}

// convSelect imports SELECT_V2 (where, broadcasting all three) and SELECT,
// whose condition is x's shape or, for x of rank > 1, a vector selecting
// along dim 0 (reshaped to [n, 1, ...] so that it broadcasts).
func convSelect(v2 bool) func(o *opctx) error {
	return func(o *opctx) error {
		ins := []int32{o.in(0), o.in(1), o.in(2)}
		vs, err := o.inputs(ins, false)
		if err != nil {
			return err
		}
		c, x, y := vs[0], vs[1], vs[2]
		if !x.Type.Quant.Equal(y.Type.Quant) {
			return fmt.Errorf("unsupported: %s of %v and %v (quantized inputs must share one quantization)", o.code.name(), x.Type, y.Type)
		}
		if !v2 && c.Type.Rank() == 1 && x.Type.Rank() > 1 {
			if c.Type.Shape[0] != x.Type.Shape[0] {
				return fmt.Errorf("condition %v does not select along dim 0 of %v", c.Type.Shape, x.Type.Shape)
			}
			shape := append([]int{c.Type.Shape[0]}, make([]int, x.Type.Rank()-1)...)
			for i := 1; i < len(shape); i++ {
				shape[i] = 1
			}
			if c, err = o.add("reshape", []*ir.Value{c}, nil, ir.TensorType(ir.Bool, shape...)); err != nil {
				return err
			}
		}
		hint, err := o.hint()
		if err != nil {
			return err
		}
		v, err := o.add("where", []*ir.Value{c, x, y}, nil, hint)
		if err != nil {
			return err
		}
		return o.set(v, false)
	}
}

// convFloorMod imports FLOOR_MOD: the remainder with the divisor's sign.
// Integers: mod (fmod=0). Floats: r = fmod(a, b), then r + b where r is
// nonzero and its sign differs from b's.
func convFloorMod(o *opctx) error {
	a, b, nchw, err := o.binaryArgs()
	if err != nil {
		return err
	}
	if a.Type.Quant != nil || b.Type.Quant != nil {
		return fmt.Errorf("unsupported: quantized FLOOR_MOD")
	}
	if a.Type.DType != ir.F32 {
		v, err := o.add("mod", []*ir.Value{a, b}, nil, ir.Type{})
		if err != nil {
			return err
		}
		return o.set(v, nchw)
	}
	zero := o.im.g.AddConst(ssaName(o.out.name)+".zero", ir.ScalarF32(0), nil)
	var v *ir.Value
	step := func(op string, args []*ir.Value, attrs ir.Attrs) *ir.Value {
		if err != nil {
			return nil
		}
		v, err = o.add(op, args, attrs, ir.Type{})
		return v
	}
	r := step("mod", []*ir.Value{a, b}, ir.Attrs{"fmod": ir.Int(1)})
	nz := step("not", []*ir.Value{step("equal", []*ir.Value{r, zero}, nil)}, nil)
	diff := step("xor", []*ir.Value{step("less", []*ir.Value{r, zero}, nil), step("less", []*ir.Value{b, zero}, nil)}, nil)
	fix := step("and", []*ir.Value{nz, diff}, nil)
	step("where", []*ir.Value{fix, step("add", []*ir.Value{r, b}, nil), r}, nil)
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

// convFloorDiv imports FLOOR_DIV: the quotient rounded down. Integers:
// (a − mod(a, b)) / b, exact (mod takes the divisor's sign, so a − mod is a
// multiple of b); floats: floor(a / b).
func convFloorDiv(o *opctx) error {
	a, b, nchw, err := o.binaryArgs()
	if err != nil {
		return err
	}
	if a.Type.Quant != nil || b.Type.Quant != nil {
		return fmt.Errorf("unsupported: quantized FLOOR_DIV")
	}
	var v *ir.Value
	step := func(op string, args []*ir.Value) *ir.Value {
		if err != nil {
			return nil
		}
		v, err = o.add(op, args, nil, ir.Type{})
		return v
	}
	if a.Type.DType == ir.F32 {
		step("floor", []*ir.Value{step("div", []*ir.Value{a, b})})
	} else {
		step("div", []*ir.Value{step("sub", []*ir.Value{a, step("mod", []*ir.Value{a, b})}), b})
	}
	if err != nil {
		return err
	}
	return o.set(v, nchw)
}

// signOnly wraps SIGN: f32 or unquantized integers.
func signOnly(fn func(o *opctx) error) func(o *opctx) error {
	return func(o *opctx) error {
		if o.quantizedIO() {
			return fmt.Errorf("unsupported: quantized SIGN")
		}
		return fn(o)
	}
}
