package onnx

import (
	"slices"

	"github.com/pare-ml/pare/ir"
)

// CumSum, Trilu, EyeLike, CastLike, OneHot, GatherElements, GatherND,
// Compress, ReduceProd and Shrink: decomposed into existing IR ops or
// constants (what must be known at import is a constant input).

// constArg returns constant input i, or an *UnsupportedError saying that
// pare needs it constant (what names the input).
func (c *nodeCtx) constArg(i int, what string) (*ir.Tensor, error) {
	if c.in(i) == nil {
		return nil, c.errf("input %d (%s) is missing", i, what)
	}
	t, err := c.constIn(i)
	if err != nil {
		return nil, c.unsupported("%s must be a constant (pare imports %s with constant %s only): %v", what, c.op, what, err)
	}
	return t, nil
}

// scalarInt reads a constant integer scalar (or one-element tensor).
func (c *nodeCtx) scalarInt(i int, what string) (int, error) {
	t, err := c.constArg(i, what)
	if err != nil {
		return 0, err
	}
	if t.Len() != 1 || len(t.Shape) > 1 {
		return 0, c.errf("%s %v must be a scalar", what, t.Shape)
	}
	if !t.DType.IsInt() {
		return 0, c.errf("%s is %v, want an integer", what, t.DType)
	}
	return clampInt(t.IntAt(0)), nil
}

// numericIn returns input i, an f32, i32 or i64 tensor (not quantized).
func (c *nodeCtx) numericIn(i int) (*ir.Value, error) {
	x, err := c.need(i)
	if err != nil {
		return nil, err
	}
	switch dt := x.Type.DType; {
	case x.Type.Quant != nil, dt != ir.F32 && dt != ir.I32 && dt != ir.I64:
		return nil, c.unsupported("input %d is %v; pare imports %s on FLOAT, INT32 and INT64 tensors", i, x.Type, c.op)
	}
	return x, nil
}

// shift moves x by s along axis (s > 0: towards higher indices), filling
// with zeros: one pad whose far side crops.
func (b *builder) shift(name string, x *ir.Value, axis, s int) *ir.Value {
	if b.err != nil {
		return nil
	}
	r := x.Type.Rank()
	pads := make([]int, 2*r)
	pads[axis], pads[axis+r] = s, -s
	return b.op("pad", name, ir.Attrs{"pads": ir.Ints(pads...)}, x)
}

// convCumSum: a Hillis–Steele scan, ⌈log2 n⌉ steps of y += shift(y, 2^k),
// exact for integers; exclusive shifts the result by one, reverse scans
// towards lower indices.
func convCumSum(c *nodeCtx) error {
	x, err := c.numericIn(0)
	if err != nil {
		return err
	}
	a, err := c.scalarInt(1, "axis")
	if err != nil {
		return err
	}
	axis, err := c.normAxis(a, x.Type.Rank())
	if err != nil {
		return err
	}
	dir := 1
	if c.int("reverse", 0) != 0 {
		dir = -1
	}
	n := x.Type.Shape[axis]
	b := c.build()
	y := x
	if c.int("exclusive", 0) != 0 {
		y = b.shift("exclusive", y, axis, dir)
	}
	for s := 1; s < n; s *= 2 {
		name := "partial"
		if 2*s >= n {
			name = ""
		}
		y = b.op("add", name, nil, y, b.shift("shifted", y, axis, dir*s))
	}
	if y == x {
		c.set(0, x)
		return nil
	}
	return b.finish(y)
}

// triMask is the 0/1 mask of dtype dt over the last two dims [n, m]:
// keep j − i ≥ k (upper) or j − i ≤ k (lower).
func triMask(dt ir.DType, n, m, k int, upper bool) *ir.Tensor {
	t := ir.NewTensor(dt, []int{n, m})
	for i := range n {
		for j := range m {
			if d := j - i; upper && d >= k || !upper && d <= k {
				t.SetInt(i*m+j, 1)
			}
		}
	}
	return t
}

// convTrilu: x · a constant triangular mask.
func convTrilu(c *nodeCtx) error {
	x, err := c.numericIn(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	if r < 2 {
		return c.errf("input %v needs rank >= 2", x.Type.Shape)
	}
	k := 0
	if c.in(1) != nil {
		if k, err = c.scalarInt(1, "k"); err != nil {
			return err
		}
	}
	n, m := x.Type.Shape[r-2], x.Type.Shape[r-1]
	k = max(min(k, m+1), -n-1)
	mask := c.constant(c.tmpName("mask"), triMask(x.Type.DType, n, m, k, c.int("upper", 1) != 0), nil)
	return c.out("mul", []*ir.Value{x, mask}, nil, ir.Type{})
}

// convEyeLike: a constant of x's shape with ones on diagonal k.
func convEyeLike(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if x.Type.Rank() != 2 {
		return c.errf("input %v must be 2-D", x.Type.Shape)
	}
	dt := x.Type.DType
	if c.has("dtype") {
		if dt, err = irDType(int32(min(max(c.int("dtype", 0), -1), 1<<20))); err != nil {
			return c.unsupported("dtype: %s", err.(*UnsupportedError).Reason)
		}
	}
	if dt == ir.Bool || x.Type.Quant != nil {
		return c.unsupported("EyeLike of %v to %v is not supported", x.Type, dt)
	}
	n, m := x.Type.Shape[0], x.Type.Shape[1]
	k := c.int("k", 0)
	t := ir.NewTensor(dt, []int{n, m})
	for i := range n {
		if j := i + k; j >= 0 && j < m {
			t.SetInt(i*m+j, 1)
		}
	}
	c.set(0, c.constant(c.outName(0), t, nil))
	return nil
}

// convCastLike: a cast to the dtype of input 1.
func convCastLike(c *nodeCtx) error {
	vs, err := c.needN(2)
	if err != nil {
		return err
	}
	x, like := vs[0], vs[1]
	if like.Type.Quant != nil || x.Type.Quant != nil {
		return c.unsupported("CastLike of quantized tensors (%v, %v) is not supported", x.Type, like.Type)
	}
	if x.Type.DType == like.Type.DType {
		c.set(0, x)
		return nil
	}
	return c.out("cast", []*ir.Value{x}, nil, ir.Type{DType: like.Type.DType})
}

// convOneHot: constant indices, depth and values give a constant.
func convOneHot(c *nodeCtx) error {
	iv, err := c.need(0)
	if err != nil {
		return err
	}
	dt, err := c.constArg(1, "depth")
	if err != nil {
		return err
	}
	vv, err := c.need(2)
	if err != nil {
		return err
	}
	if dt.Len() != 1 || vv.Type.NumElements() != 2 || vv.Type.Rank() != 1 {
		return c.errf("depth %v must be a scalar and values %v [off, on]", dt.Shape, vv.Type.Shape)
	}
	depth := int(dt.At(0))
	if depth < 1 {
		return c.errf("depth %v must be positive", dt.At(0))
	}
	if !iv.IsConst() || !vv.IsConst() {
		return c.oneHotRT(iv, vv, depth) // convert_gather_rt.go
	}
	idx, vals := iv.Const, vv.Const
	r := len(idx.Shape) + 1
	axis, err := c.normAxis(c.int("axis", -1), r)
	if err != nil {
		return err
	}
	shape := slices.Insert(slices.Clone(idx.Shape), axis, depth)
	if err := checkShape(shape); err != nil || !c.im.budget(ir.NumElements(shape)*8) {
		return c.errf("result shape %v is too large", shape)
	}
	out := ir.NewTensor(vals.DType, shape)
	outer, inner := ir.NumElements(idx.Shape[:axis]), ir.NumElements(idx.Shape[axis:])
	for o := range outer {
		for d := range depth {
			for i := range inner {
				v := int(idx.At(o*inner + i))
				if v < 0 {
					v += depth
				}
				at := (o*depth+d)*inner + i
				if v == d {
					out.Set(at, vals.At(1))
				} else {
					out.Set(at, vals.At(0))
				}
			}
		}
	}
	c.set(0, c.constant(c.outName(0), out, nil))
	return nil
}

// gatherFlat gathers from x flattened to 1-D at the constant flat
// indices idx (their shape is the result's), then reshapes to shape.
func (c *nodeCtx) gatherFlat(x *ir.Value, idx *ir.Tensor, shape []int) error {
	b := c.build()
	flatX := b.reshape("flat", x, []int{x.Type.NumElements()})
	if b.err != nil {
		return b.err
	}
	ix := c.constant(c.tmpName("flat_indices"), idx, nil)
	name := "gathered"
	if ir.EqualShape(idx.Shape, shape) {
		name = ""
	}
	return b.finish(b.reshape("", b.op("gather", name, ir.Attrs{"axis": ir.Int(0)}, flatX, ix), shape))
}

// convGatherElements: y[i…] = x[i… with idx[i…] at axis]; constant idx
// gives precomputed flat indices, runtime idx computes them.
func convGatherElements(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	iv, err := c.need(1)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	if len(iv.Type.Shape) != r || !iv.Type.DType.IsInt() || iv.Type.Quant != nil {
		return c.errf("indices %v must be integers of the rank of data %v", iv.Type, x.Type.Shape)
	}
	axis, err := c.normAxis(c.int("axis", 0), r)
	if err != nil {
		return err
	}
	for d := range r {
		if d != axis && iv.Type.Shape[d] > x.Type.Shape[d] {
			return c.errf("indices %v exceed data %v off axis %d", iv.Type.Shape, x.Type.Shape, axis)
		}
	}
	if !iv.IsConst() {
		return c.gatherElementsRT(x, iv, axis) // convert_gather_rt.go
	}
	idx := iv.Const
	n := x.Type.Shape[axis]
	flatIdx := ir.NewTensor(ir.I64, idx.Shape)
	for i := range idx.Len() {
		pos := unflatIndex(i, idx.Shape)
		v := idx.IntAt(i)
		if v < -int64(n) || v >= int64(n) {
			return c.errf("index %d at %v is out of range for dim %d of size %d", v, pos, axis, n)
		}
		if v < 0 {
			v += int64(n)
		}
		pos[axis] = int(v)
		flatIdx.I64[i] = int64(flatIndex(pos, x.Type.Shape))
	}
	return c.gatherFlat(x, flatIdx, idx.Shape)
}

// convGatherND: each index tuple (after batch_dims) selects a slice of
// data; the rows of data viewed as [Π shape[:b+m], rest] are gathered.
func convGatherND(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	iv, err := c.need(1)
	if err != nil {
		return err
	}
	bd := c.int("batch_dims", 0)
	is := iv.Type.Shape
	r, q := x.Type.Rank(), len(is)
	if q < 1 || !iv.Type.DType.IsInt() || iv.Type.Quant != nil {
		return c.errf("indices %v must be integers of rank >= 1", iv.Type)
	}
	m := is[q-1]
	if bd < 0 || bd >= q || bd >= r || m < 1 || bd+m > r || !slices.Equal(is[:bd], x.Type.Shape[:bd]) {
		return c.errf("indices %v, batch_dims %d do not fit data %v", is, bd, x.Type.Shape)
	}
	if !iv.IsConst() {
		return c.gatherNDRT(x, iv, bd) // convert_gather_rt.go
	}
	idx := iv.Const
	lead := x.Type.Shape[:bd+m]
	rows := ir.NewTensor(ir.I64, idx.Shape[:q-1])
	for t := range rows.Len() {
		pos := unflatIndex(t, idx.Shape[:q-1])
		full := slices.Clone(pos[:bd])
		for j := range m {
			v, n := idx.IntAt(t*m+j), int64(lead[bd+j])
			if v < -n || v >= n {
				return c.errf("index %d at %v is out of range for dim %d of size %d", v, pos, bd+j, n)
			}
			if v < 0 {
				v += n
			}
			full = append(full, int(v))
		}
		rows.I64[t] = int64(flatIndex(full, lead))
	}
	rest := x.Type.Shape[bd+m:]
	b := c.build()
	table := b.reshape("rows", x, []int{ir.NumElements(lead), ir.NumElements(rest)})
	if b.err != nil {
		return b.err
	}
	g := b.op("gather", "gathered", ir.Attrs{"axis": ir.Int(0)}, table, c.constant(c.tmpName("row_indices"), rows, nil))
	return b.finish(b.reshape("", g, slices.Concat(idx.Shape[:q-1], rest)))
}

// convCompress: the positions where the constant condition holds,
// gathered along axis (or from x flattened).
func convCompress(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	cond, err := c.constArg(1, "condition")
	if err != nil {
		return err
	}
	if len(cond.Shape) != 1 {
		return c.errf("condition %v must be 1-D", cond.Shape)
	}
	b := c.build()
	src, axis := x, 0
	if c.has("axis") {
		if axis, err = c.normAxis(c.int("axis", 0), x.Type.Rank()); err != nil {
			return err
		}
	} else {
		src = b.reshape("flat", x, []int{x.Type.NumElements()})
	}
	if b.err != nil {
		return b.err
	}
	var keep []int64
	for i := range min(cond.Len(), src.Type.Shape[axis]) {
		if cond.At(i) != 0 {
			keep = append(keep, int64(i))
		}
	}
	if cond.Len() > src.Type.Shape[axis] {
		return c.errf("condition has %d entries for a dim of %d", cond.Len(), src.Type.Shape[axis])
	}
	if len(keep) == 0 {
		return c.unsupported("the condition selects nothing: pare has no empty tensors")
	}
	ix := c.constant(c.tmpName("positions"), ir.FromI64([]int{len(keep)}, keep), nil)
	return b.finish(b.op("gather", "", ir.Attrs{"axis": ir.Int(axis)}, src, ix))
}

// maxProdExtent bounds ReduceProd's reduced elements per output.
const maxProdExtent = 64

// convReduceProd: the reduced axes moved last and flattened, then a tree
// of slice halves and muls.
func convReduceProd(c *nodeCtx) error {
	if _, err := c.numericIn(0); err != nil {
		return err
	}
	x, axes, keep, err := c.reduceArgs(18)
	if err != nil {
		return err
	}
	if len(axes) == 0 {
		c.set(0, x)
		return nil
	}
	var kept, outShape []int
	extent := 1
	for d, n := range x.Type.Shape {
		switch {
		case slices.Contains(axes, d):
			extent *= n
			if keep {
				outShape = append(outShape, 1)
			}
		default:
			kept = append(kept, d)
			outShape = append(outShape, n)
		}
	}
	if extent > maxProdExtent {
		return c.unsupported("ReduceProd over %d elements per output: pare decomposes at most %d (a chain of muls)", extent, maxProdExtent)
	}
	if outShape == nil {
		outShape = []int{}
	}
	b := c.build()
	y := x
	if perm := append(slices.Clone(kept), axes...); !slices.Equal(perm, identityPerm(len(perm))) {
		y = b.op("transpose", "reduced_last", ir.Attrs{"perm": ir.Ints(perm...)}, y)
	}
	y = b.reshape("rows", y, []int{x.Type.NumElements() / max(extent, 1), extent})
	for n := extent; n > 1; n = (n + 1) / 2 {
		h := n / 2
		p := b.op("mul", "pairs", nil, b.sliceAxis("lo", y, 1, 0, h), b.sliceAxis("hi", y, 1, h, 2*h))
		if n%2 == 1 {
			p = b.op("concat", "carried", ir.Attrs{"axis": ir.Int(1)}, p, b.sliceAxis("odd", y, 1, 2*h, n))
		}
		y = p
	}
	return b.finish(b.reshape("", y, outShape))
}

// convShrink: x − clip(x, −bias, bias), times [|x| > lambd] (exact:
// clip(ceil(relu(|x| − lambd)), max 1)) when bias < lambd; bias > lambd is
// not supported.
func convShrink(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	bias, lambd := c.float("bias", 0), c.float("lambd", 0.5)
	if bias > lambd || bias < 0 {
		return c.unsupported("bias %g with lambd %g: pare decomposes Shrink for 0 <= bias <= lambd only", bias, lambd)
	}
	b := c.build()
	if bias == lambd {
		return b.finish(b.op("sub", "", nil, x, b.op("clip", "clipped", ir.Attrs{"min": ir.Float(-bias), "max": ir.Float(bias)}, x)))
	}
	var shrunk *ir.Value = x
	if bias != 0 {
		shrunk = b.op("sub", "shrunk", nil, x, b.op("clip", "clipped", ir.Attrs{"min": ir.Float(-bias), "max": ir.Float(bias)}, x))
	}
	over := b.op("relu", "over", nil, b.op("sub", "excess", nil, b.op("abs", "abs", nil, x), b.k("lambd", float64(lambd))))
	mask := b.op("clip", "mask", ir.Attrs{"max": ir.Float(1)}, b.op("ceil", "ceil", nil, over))
	return b.finish(b.op("mul", "", nil, shrunk, mask))
}

// unflatIndex is the index of flat element i of shape.
func unflatIndex(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

// flatIndex is the flat element of idx in shape.
func flatIndex(idx, shape []int) int {
	i := 0
	for d, n := range shape {
		i = i*n + idx[d]
	}
	return i
}
