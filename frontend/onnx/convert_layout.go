package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// Layout ops with no IR op of their own, decomposed into reshape, transpose
// and expand: DepthToSpace, SpaceToDepth and Tile.

// blockArgs returns the NCHW input and the blocksize of DepthToSpace and
// SpaceToDepth.
func (c *nodeCtx) blockArgs() (*ir.Value, int, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, 0, err
	}
	if x.Type.Rank() != 4 {
		return nil, 0, c.errf("input %v must have rank 4 (N, C, H, W)", x.Type.Shape)
	}
	if !c.has("blocksize") {
		return nil, 0, c.errf("the blocksize attribute is missing")
	}
	bs := c.int("blocksize", 0)
	if bs < 1 || bs >= 1<<16 {
		return nil, 0, c.errf("blocksize %d must be positive", bs)
	}
	return x, bs, c.err
}

// permute is reshape to split, transpose by perm, reshape to out.
func (c *nodeCtx) permute(x *ir.Value, split, perm, out []int) error {
	b := c.build()
	t := b.op("transpose", "permuted", ir.Attrs{"perm": ir.Ints(perm...)}, b.reshape("split", x, split))
	return b.finish(b.reshape("", t, out))
}

// convDepthToSpace moves blocks of channels to b×b pixel blocks: in DCR
// mode (the default) the channel splits as [b, b, C/b²], in CRD mode as
// [C/b², b, b].
func convDepthToSpace(c *nodeCtx) error {
	x, bs, err := c.blockArgs()
	if err != nil {
		return err
	}
	n, ch, h, w := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2], x.Type.Shape[3]
	if ch%(bs*bs) != 0 {
		return c.errf("channels %d are not a multiple of blocksize² %d", ch, bs*bs)
	}
	oc := ch / (bs * bs)
	out := []int{n, oc, h * bs, w * bs}
	mode := "DCR"
	if c.opset >= 11 {
		mode = c.str("mode", "DCR")
	}
	switch mode {
	case "DCR":
		return c.permute(x, []int{n, bs, bs, oc, h, w}, []int{0, 3, 4, 1, 5, 2}, out)
	case "CRD":
		return c.permute(x, []int{n, oc, bs, bs, h, w}, []int{0, 1, 4, 2, 5, 3}, out)
	}
	return c.unsupported("mode %q is not supported (DCR and CRD are)", mode)
}

// convSpaceToDepth moves b×b pixel blocks to channels, the inverse of
// DepthToSpace in DCR mode.
func convSpaceToDepth(c *nodeCtx) error {
	x, bs, err := c.blockArgs()
	if err != nil {
		return err
	}
	n, ch, h, w := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2], x.Type.Shape[3]
	if h%bs != 0 || w%bs != 0 {
		return c.errf("spatial dims %dx%d are not multiples of blocksize %d", h, w, bs)
	}
	return c.permute(x, []int{n, ch, h / bs, bs, w / bs, bs}, []int{0, 3, 5, 1, 2, 4}, []int{n, ch * bs * bs, h / bs, w / bs})
}

// convTile repeats x along each dim: a size-1 dim goes in front of every
// repeated dim, expand repeats along it, and a reshape merges the pairs.
func convTile(c *nodeCtx) error {
	var x *ir.Value
	var reps []int
	var err error
	if c.opset < 6 {
		x, reps, err = c.legacyTiles()
	} else {
		x, reps, err = c.withInts("repeats")
	}
	if err != nil {
		return err
	}
	shape := x.Type.Shape
	if len(reps) != len(shape) {
		return c.errf("repeats %v need %d entries for input %v", reps, len(shape), shape)
	}
	var split, wide, out []int
	for i, d := range shape {
		r := reps[i]
		if r < 0 || r >= 1<<31 {
			return c.errf("repeats %v must be >= 0", reps)
		}
		if r != 1 {
			split, wide = append(split, 1), append(wide, r)
		}
		split, wide, out = append(split, d), append(wide, d), append(out, r*d)
	}
	if err := checkShape(out); err != nil {
		return c.errf("result %v", err)
	}
	if ir.EqualShape(out, shape) && ir.EqualShape(split, shape) {
		c.set(0, x)
		return nil
	}
	b := c.build()
	e := b.typed("expand", "repeated", nil, x.Type.WithShape(wide), b.reshape("split", x, split))
	return b.finish(b.reshape("", e, out))
}

// legacyTiles reads Tile-1's inputs (input, tiles, axis: two constant
// scalars, the input repeated tiles times along axis) as Tile-6 repeats.
func (c *nodeCtx) legacyTiles() (*ir.Value, []int, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, nil, err
	}
	var sc [2]int
	for i, what := range []string{"tiles", "axis"} {
		t, err := c.constIn(i + 1)
		if err != nil {
			return nil, nil, err
		}
		if t == nil {
			return nil, nil, c.errf("the %s input is missing", what)
		}
		l, err := intList(t)
		if err != nil || len(l) != 1 {
			return nil, nil, c.errf("%s must be one integer (Tile before opset 6)", what)
		}
		sc[i] = l[0]
	}
	axis, err := c.normAxis(sc[1], x.Type.Rank())
	if err != nil {
		return nil, nil, err
	}
	reps := make([]int, x.Type.Rank())
	for i := range reps {
		reps[i] = 1
	}
	reps[axis] = sc[0]
	return x, reps, nil
}
