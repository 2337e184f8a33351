package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Shapes, layout and constants.

// reshapeShape resolves an ONNX Reshape shape (0 copies the input dim
// unless allowzero, -1 is inferred) against the input shape.
func reshapeShape(in, spec []int, allowzero bool) ([]int, error) {
	out := make([]int, len(spec))
	neg, zero := -1, false
	for i, d := range spec {
		switch {
		case d == -1:
			if neg >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			neg = i
			out[i] = 1
		case d == 0 && !allowzero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dim %d (0), but the input %v has rank %d", spec, i, in, len(in))
			}
			out[i] = in[i]
		case d < -1:
			return nil, fmt.Errorf("shape %v has a negative dim %d", spec, d)
		default:
			out[i] = d
			zero = zero || d == 0
		}
	}
	if allowzero && zero && neg >= 0 {
		return nil, fmt.Errorf("shape %v has both 0 and -1 with allowzero=1", spec)
	}
	if err := checkShape(out); err != nil {
		return nil, fmt.Errorf("shape %v: %v", spec, err)
	}
	total := ir.NumElements(in)
	if neg >= 0 {
		known := ir.NumElements(out)
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, spec)
		}
		out[neg] = total / known
	}
	if ir.NumElements(out) != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, spec)
	}
	return out, nil
}

func convReshape(c *nodeCtx) error {
	var x *ir.Value
	var spec []int
	var err error
	if c.opset < 5 { // Reshape-1: the shape is an attribute
		if x, err = c.need(0); err != nil {
			return err
		}
		if spec = c.ints("shape"); spec == nil {
			return c.errf("the shape attribute is missing")
		}
	} else if x, spec, err = c.withInts("shape"); err != nil {
		return err
	}
	shape, err := reshapeShape(x.Type.Shape, spec, c.int("allowzero", 0) != 0)
	if err != nil {
		return c.errf("%v", err)
	}
	return c.reshapeOut(x, shape)
}

// withInts returns input 0 and the integers of input 1, a required constant
// (what names it in errors: "shape", "repeats").
func (c *nodeCtx) withInts(what string) (*ir.Value, []int, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.constIn(1)
	if err != nil {
		return nil, nil, err
	}
	if t == nil {
		return nil, nil, c.errf("the %s input is missing", what)
	}
	l, err := intList(t)
	if err != nil {
		return nil, nil, c.errf("%s: %v", what, err)
	}
	return x, l, nil
}

// reshapeOut makes output 0 x reshaped (x itself when the shape is unchanged).
func (c *nodeCtx) reshapeOut(x *ir.Value, shape []int) error {
	v, err := c.reshape(x, shape, c.outName(0))
	if err != nil {
		return err
	}
	c.set(0, v)
	return nil
}

func convFlatten(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	axis := c.int("axis", 1)
	if axis < -r || axis > r {
		return c.errf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	return c.reshapeOut(x, []int{ir.NumElements(x.Type.Shape[:axis]), ir.NumElements(x.Type.Shape[axis:])})
}

// axesArg reads the axes of Squeeze/Unsqueeze: an attribute before opset 13,
// an input after.
func (c *nodeCtx) axesArg() ([]int, error) {
	if c.opset < 13 {
		return c.ints("axes"), nil
	}
	t, err := c.constIn(1)
	if err != nil || t == nil {
		return nil, err
	}
	axes, err := intList(t)
	if err != nil {
		return nil, c.errf("axes: %v", err)
	}
	return axes, nil
}

func convSqueeze(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	axes, err := c.axesArg()
	if err != nil {
		return err
	}
	drop := make([]bool, x.Type.Rank())
	for _, a := range axes {
		a, err := c.normAxis(a, x.Type.Rank())
		if err != nil {
			return err
		}
		if x.Type.Shape[a] != 1 {
			return c.errf("cannot squeeze dim %d of %v", a, x.Type.Shape)
		}
		drop[a] = true
	}
	shape := []int{}
	for i, d := range x.Type.Shape {
		if !(drop[i] || len(axes) == 0 && d == 1) {
			shape = append(shape, d)
		}
	}
	return c.reshapeOut(x, shape)
}

func convUnsqueeze(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	axes, err := c.axesArg()
	if err != nil {
		return err
	}
	r := x.Type.Rank() + len(axes)
	ones := make([]bool, r)
	for _, a := range axes {
		a, err := c.normAxis(a, r)
		if err != nil {
			return err
		}
		if ones[a] {
			return c.errf("axes %v repeat an axis", axes)
		}
		ones[a] = true
	}
	shape := make([]int, r)
	j := 0
	for i := range shape {
		if ones[i] {
			shape[i] = 1
		} else {
			shape[i] = x.Type.Shape[j]
			j++
		}
	}
	return c.reshapeOut(x, shape)
}

func convTranspose(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	perm := c.ints("perm")
	if perm == nil {
		for i := x.Type.Rank() - 1; i >= 0; i-- {
			perm = append(perm, i)
		}
	}
	return c.out("transpose", []*ir.Value{x}, ir.Attrs{"perm": ir.Ints(perm...)}, ir.Type{})
}

func convConcat(c *nodeCtx) error {
	xs, err := c.needN(len(c.n.GetInput()))
	if err != nil {
		return err
	}
	if len(xs) == 0 {
		return c.errf("needs at least one input")
	}
	def := 0
	if c.opset < 4 {
		def = 1 // Concat-1: axis is optional, default 1
	}
	axis, err := c.normAxis(c.int("axis", def), xs[0].Type.Rank())
	if err != nil {
		return err
	}
	if !c.has("axis") && c.opset >= 4 {
		return c.errf("the axis attribute is missing")
	}
	if len(xs) == 1 {
		c.set(0, xs[0])
		return nil
	}
	return c.out("concat", xs, ir.Attrs{"axis": ir.Int(axis)}, ir.Type{})
}

func convPad(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	mode := c.str("mode", "constant")
	var pads []int
	value := float32(0)
	if c.opset < 11 {
		pads = c.ints("pads")
		if c.opset < 2 {
			pads = c.ints("paddings") // Pad-1
		}
		value = c.float("value", 0)
	} else {
		ts := make([]*ir.Tensor, 3)
		for i := range ts {
			if ts[i], err = c.constIn(i + 1); err != nil {
				return err
			}
		}
		if ts[0] == nil {
			return c.errf("the pads input is missing")
		}
		if pads, err = intList(ts[0]); err != nil {
			return c.errf("pads: %v", err)
		}
		if ts[1] != nil && ts[1].Len() > 0 {
			if value, err = scalarF32(ts[1]); err != nil {
				return c.errf("constant_value: %v", err)
			}
		}
		if ts[2] != nil {
			axes, err := intList(ts[2])
			if err != nil || len(pads) != 2*len(axes) {
				return c.errf("axes %v do not match pads %v", axes, pads)
			}
			full := make([]int, 2*r)
			for i, a := range axes {
				if a, err = c.normAxis(a, r); err != nil {
					return err
				}
				full[a], full[a+r] = pads[i], pads[i+len(axes)]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return c.errf("pads %v need %d entries for rank %d", pads, 2*r, r)
	}
	switch mode {
	case "constant", "edge":
	case "reflect":
		for i, p := range pads {
			if d := x.Type.Shape[i%r]; p >= d && p > 0 {
				return c.errf("reflect padding %v needs pads smaller than the dims %v", pads, x.Type.Shape)
			}
		}
	default:
		return c.unsupported("pad mode %q is not supported (pare supports constant, reflect and edge)", mode)
	}
	if allZero(pads) {
		c.set(0, x)
		return nil
	}
	return c.out("pad", []*ir.Value{x}, ir.Attrs{"pads": ir.Ints(pads...), "mode": ir.Str(mode), "value": ir.Float(value)}, ir.Type{})
}

func allZero(l []int) bool {
	for _, v := range l {
		if v != 0 {
			return false
		}
	}
	return true
}

// sliceParams normalizes ONNX Slice arguments to per-dim starts, ends and
// steps, clamped as the operator defines, that ir.SliceLen accepts.
func sliceParams(shape, starts, ends, axes, steps []int) (st, en, sp []int, err error) {
	r := len(shape)
	if len(ends) != len(starts) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, nil, nil, fmt.Errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	st, en, sp = make([]int, r), append([]int{}, shape...), make([]int, r)
	for i := range sp {
		sp[i] = 1
	}
	seen := make([]bool, r)
	for i := range starts {
		a := i
		if axes != nil {
			a = axes[i]
		}
		if a < -r || a >= r {
			return nil, nil, nil, fmt.Errorf("axis %d out of range for rank %d", a, r)
		}
		if a < 0 {
			a += r
		}
		if seen[a] {
			return nil, nil, nil, fmt.Errorf("axes %v repeat an axis", axes)
		}
		seen[a] = true
		step := 1
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, nil, nil, fmt.Errorf("slice step 0")
		}
		d, s, e := shape[a], starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		if step > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
		}
		st[a], en[a], sp[a] = s, e, step
	}
	return st, en, sp, nil
}

func convSlice(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	var starts, ends, axes, steps []int
	if c.opset < 10 {
		starts, ends, axes = c.ints("starts"), c.ints("ends"), c.ints("axes")
	} else {
		lists := make([][]int, 4)
		for i := range lists {
			t, err := c.constIn(i + 1)
			if err != nil {
				return err
			}
			if t == nil {
				if i < 2 {
					return c.errf("input %d (%s) is missing", i+1, []string{"starts", "ends"}[i])
				}
				continue
			}
			if lists[i], err = intList(t); err != nil {
				return c.errf("%s: %v", []string{"starts", "ends", "axes", "steps"}[i], err)
			}
		}
		starts, ends, axes, steps = lists[0], lists[1], lists[2], lists[3]
	}
	st, en, sp, err := sliceParams(x.Type.Shape, starts, ends, axes, steps)
	if err != nil {
		return c.errf("%v", err)
	}
	return c.sliceOut(0, x, st, en, sp)
}

// sliceOut makes output i a slice of x (x itself for a full slice).
func (c *nodeCtx) sliceOut(i int, x *ir.Value, st, en, sp []int) error {
	full := true
	for d := range st {
		full = full && st[d] == 0 && en[d] == x.Type.Shape[d] && sp[d] == 1
	}
	if full {
		c.set(i, x)
		return nil
	}
	v, err := c.add("slice", []*ir.Value{x}, ir.Attrs{"starts": ir.Ints(st...), "ends": ir.Ints(en...), "steps": ir.Ints(sp...)}, ir.Type{}, c.outName(i))
	if err != nil {
		return err
	}
	c.set(i, v)
	return nil
}

func convSplit(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	axis, err := c.normAxis(c.int("axis", 0), x.Type.Rank())
	if err != nil {
		return err
	}
	n := len(c.n.GetOutput())
	d := x.Type.Shape[axis]
	var sizes []int
	if c.opset < 13 {
		sizes = c.ints("split")
	}
	if c.opset < 2 || c.opset >= 13 { // Split-1 took split as an optional input too
		t, err := c.constIn(1)
		if err != nil {
			return err
		}
		if t != nil {
			if sizes, err = intList(t); err != nil {
				return c.errf("split: %v", err)
			}
		}
	}
	switch {
	case sizes != nil:
	case c.has("num_outputs"):
		k := c.int("num_outputs", 0)
		if k != n || k < 1 {
			return c.errf("num_outputs %d for %d outputs", k, n)
		}
		chunk := (d + k - 1) / k
		for i := 0; i < k; i++ {
			sizes = append(sizes, max(min(chunk, d-i*chunk), 0))
		}
	default:
		if n < 1 || d%n != 0 {
			return c.errf("cannot split dim %d of size %d into %d equal parts", axis, d, n)
		}
		for i := 0; i < n; i++ {
			sizes = append(sizes, d/n)
		}
	}
	if len(sizes) != n {
		return c.errf("split %v for %d outputs", sizes, n)
	}
	off := 0
	for i, s := range sizes {
		if s < 0 || off+s > d {
			return c.errf("split %v does not fit dim %d of size %d", sizes, axis, d)
		}
		st, en, sp := make([]int, x.Type.Rank()), append([]int{}, x.Type.Shape...), make([]int, x.Type.Rank())
		for j := range sp {
			sp[j] = 1
		}
		st[axis], en[axis] = off, off+s
		if c.outName(i) != "" {
			if err := c.sliceOut(i, x, st, en, sp); err != nil {
				return err
			}
		}
		off += s
	}
	if off != d {
		return c.errf("split %v does not sum to dim %d of size %d", sizes, axis, d)
	}
	return nil
}

func convGather(c *nodeCtx) error {
	vs, err := c.needN(2)
	if err != nil {
		return err
	}
	x, ix := vs[0], vs[1]
	axis, err := c.normAxis(c.int("axis", 0), x.Type.Rank())
	if err != nil {
		return err
	}
	if ix.IsConst() && ix.Type.DType.IsInt() {
		n := int64(x.Type.Shape[axis])
		for i := 0; i < ix.Const.Len(); i++ {
			if k := ix.Const.IntAt(i); k < -n || k >= n {
				return c.errf("index %d out of range for dim %d of size %d", k, axis, n)
			}
		}
	}
	return c.out("gather", []*ir.Value{x, ix}, ir.Attrs{"axis": ir.Int(axis)}, ir.Type{})
}

func convExpand(c *nodeCtx) error {
	x, spec, err := c.withInts("shape")
	if err != nil {
		return err
	}
	shape, err := ir.Broadcast(x.Type.Shape, spec)
	if err == nil {
		err = checkShape(shape)
	}
	if err != nil {
		return c.errf("%v", err)
	}
	return c.reshapeLike("expand", x, shape)
}

// reshapeLike adds a shape-declaring op (expand) unless the shape is unchanged.
func (c *nodeCtx) reshapeLike(op string, x *ir.Value, shape []int) error {
	if ir.EqualShape(shape, x.Type.Shape) {
		c.set(0, x)
		return nil
	}
	return c.out(op, []*ir.Value{x}, nil, x.Type.WithShape(shape))
}
