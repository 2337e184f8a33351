package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// Normalizations with no IR op of their own: LRN, InstanceNormalization and
// LayerNormalization, decomposed into reductions, pooling and elementwise ops.

// convLRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum over channels
// c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉ clipped to [0, C). The squares are
// reshaped to [N, 1, C, spatial] so that an avgpool over the channel axis
// with those pads and count_include_pad gives Σ x² / size.
func convLRN(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	if !c.has("size") {
		return c.errf("the size attribute is missing")
	}
	size := c.int("size", 0)
	if size < 1 || size >= 1<<31 {
		return c.errf("size %d must be positive", size)
	}
	shape := x.Type.Shape
	if len(shape) < 2 {
		return c.errf("input %v needs rank >= 2 (N, C, ...)", shape)
	}
	alpha, beta, bias := c.float("alpha", 1e-4), c.float("beta", 0.75), c.float("bias", 1)
	// A window reaching more than C−1 channels past c covers no more
	// channels: clip the pads there and scale the mean back to Σ/size.
	ch := shape[1]
	lo, hi := min((size-1)/2, max(ch-1, 0)), min(size/2, max(ch-1, 0))
	k := lo + hi + 1
	b := c.build()
	sq := b.op("mul", "square", nil, x, x)
	cols := b.reshape("channels_as_rows", sq, []int{shape[0], 1, ch, ir.NumElements(shape[2:])})
	pool := b.op("avgpool", "window_mean", ir.Attrs{"kernel": ir.Ints(k, 1), "pads": ir.Ints(lo, 0, hi, 0), "count_include_pad": ir.Int(1)}, cols)
	mean := b.reshape("window_mean_nc", pool, shape)
	scale := float64(alpha) * float64(k) / float64(size)
	base := b.op("add", "base", nil, b.op("mul", "scaled", nil, mean, b.k("alpha", scale)), b.k("bias", float64(bias)))
	return b.finish(b.op("div", "", nil, x, b.op("pow", "denominator", nil, base, b.k("beta", float64(beta)))))
}

// convInstanceNorm: per sample and channel, (x − mean) / sqrt(var + eps)
// over the spatial dims, then · scale[c] + B[c].
func convInstanceNorm(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	vs, err := c.needN(3)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	if r < 3 {
		return c.errf("input %v needs rank >= 3 (N, C, spatial...)", x.Type.Shape)
	}
	ch := x.Type.Shape[1]
	for i, name := range []string{"scale", "B"} {
		if s := vs[i+1].Type.Shape; len(s) != 1 || s[0] != ch {
			return c.errf("%s %v must be [%d]", name, s, ch)
		}
	}
	var axes []int
	for i := 2; i < r; i++ {
		axes = append(axes, i)
	}
	pshape := ones(r - 1)
	pshape[0] = ch
	b := c.build()
	norm, _, _ := b.normalize(x, axes, c.float("epsilon", 1e-5))
	scaled := b.op("mul", "scaled", nil, norm, b.reshape("scale", vs[1], pshape))
	return b.finish(b.op("add", "", nil, scaled, b.reshape("bias", vs[2], pshape)))
}

// convLayerNorm (opset 17): (x − mean) / sqrt(var + eps) over the dims from
// axis on, · Scale + B (both broadcast to x, as the function body of the
// spec multiplies and adds). The Mean and
// InvStdDev outputs are not supported.
func convLayerNorm(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	scale, err := c.need(1)
	if err != nil {
		return err
	}
	if err := c.onlyOutput0("Mean or InvStdDev"); err != nil {
		return err
	}
	if st := c.int("stash_type", 1); st != 1 {
		return c.unsupported("stash_type %d is not supported (1, statistics in FLOAT, is)", st)
	}
	r := x.Type.Rank()
	axis, err := c.normAxis(c.int("axis", -1), r)
	if err != nil {
		return err
	}
	var axes []int
	for i := axis; i < r; i++ {
		axes = append(axes, i)
	}
	args := []*ir.Value{scale}
	if bias := c.in(2); bias != nil {
		args = append(args, bias)
	}
	for i, p := range args {
		if s, err := ir.Broadcast(p.Type.Shape, x.Type.Shape); err != nil || !ir.EqualShape(s, x.Type.Shape) {
			return c.errf("%s %v does not broadcast to the input %v", []string{"Scale", "B"}[i], p.Type.Shape, x.Type.Shape)
		}
	}
	b := c.build()
	norm, _, _ := b.normalize(x, axes, c.float("epsilon", 1e-5))
	if len(args) == 1 {
		return b.finish(b.op("mul", "", nil, norm, scale))
	}
	return b.finish(b.op("add", "", nil, b.op("mul", "scaled", nil, norm, scale), args[1]))
}

// convImageScaler (opsets 1-9, experimental, removed in 10; in older zoo
// models such as tiny-YOLOv2 and emotion FER+): x · scale + bias[c] on
// NCHW, scale and bias attributes.
func convImageScaler(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	if x.Type.Rank() != 4 {
		return c.errf("input %v must be NCHW", x.Type.Shape)
	}
	ch := x.Type.Shape[1]
	bias := c.floats("bias")
	if bias == nil {
		bias = make([]float32, ch)
	}
	if len(bias) != ch {
		return c.errf("bias has %d values for %d channels", len(bias), ch)
	}
	bt := ir.NewTensor(ir.F32, []int{1, ch, 1, 1})
	copy(bt.F32, bias)
	b := c.build()
	scaled := b.op("mul", "scaled", nil, x, b.k("scale", float64(c.float("scale", 1))))
	return b.finish(b.op("add", "", nil, scaled, c.constant(c.tmpName("bias"), bt, nil)))
}
