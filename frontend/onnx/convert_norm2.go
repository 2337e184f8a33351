package onnx

import (
	"github.com/pare-ml/pare/ir"
)

// LogSoftmax, GroupNormalization, MeanVarianceNormalization,
// LpNormalization, GlobalLpPool and LpPool: decomposed into reductions,
// pooling and elementwise ops.

// convLogSoftmax: x − m − log(Σ exp(x − m)), m = max along the axis (never
// overflows). Before opset 13 the axis coerces x to 2-D as Softmax does.
func convLogSoftmax(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	return c.softmaxLike(x, "logsoftmax_2d", func(b *builder, in *ir.Value, axis int, name string) *ir.Value {
		return b.logSoftmax(name, in, axis)
	})
}

// logSoftmax adds x − m − log(Σ exp(x − m)) along axis, m = the max there,
// the result named name (see builder.name).
func (b *builder) logSoftmax(name string, x *ir.Value, axis int) *ir.Value {
	axes := []int{axis}
	d := b.op("sub", "shifted", nil, x, b.reduce("reduce_max", "max", x, axes, true))
	s := b.reduce("reduce_sum", "sum", b.op("exp", "exp", nil, d), axes, true)
	return b.op("sub", name, nil, d, b.op("log", "log", nil, s))
}

// convGroupNorm: x [N, C, ...] viewed as [N, G, C/G·spatial], normalized
// over the last dim, back to x's shape, then · scale + bias: per group at
// opset 18 (scale and bias [G]), per channel from opset 21 ([C]).
func convGroupNorm(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	vs, err := c.needN(3)
	if err != nil {
		return err
	}
	if st := c.int("stash_type", 1); st != 1 {
		return c.unsupported("stash_type %d is not supported (1, statistics in FLOAT, is)", st)
	}
	shape := x.Type.Shape
	if len(shape) < 2 {
		return c.errf("input %v needs rank >= 2 (N, C, ...)", shape)
	}
	if !c.has("num_groups") {
		return c.errf("the num_groups attribute is missing")
	}
	g, ch := c.int("num_groups", 0), shape[1]
	if g < 1 || ch%g != 0 {
		return c.errf("num_groups %d must be positive and divide the %d channels", g, ch)
	}
	perGroup := c.opset < 21
	want := ch
	if perGroup {
		want = g
	}
	for i, name := range []string{"scale", "bias"} {
		if s := vs[i+1].Type.Shape; len(s) != 1 || s[0] != want {
			return c.errf("%s %v must be [%d]", name, s, want)
		}
	}
	b := c.build()
	grouped := []int{shape[0], g, ir.NumElements(shape[1:]) / g}
	norm, _, _ := b.normalize(b.reshape("grouped", x, grouped), []int{2}, c.float("epsilon", 1e-5))
	if perGroup {
		y := b.op("add", "affine", nil, b.op("mul", "scaled", nil, norm, b.reshape("scale", vs[1], []int{g, 1})), b.reshape("bias", vs[2], []int{g, 1}))
		return b.finish(b.reshape("", y, shape))
	}
	pshape := ones(len(shape) - 1)
	pshape[0] = ch
	scaled := b.op("mul", "scaled", nil, b.reshape("ungrouped", norm, shape), b.reshape("scale", vs[1], pshape))
	return b.finish(b.op("add", "", nil, scaled, b.reshape("bias", vs[2], pshape)))
}

// convMVN: (x − mean) / (sqrt(var) + 1e-9) over axes (default [0, 2, 3]),
// as the function body of the spec computes it.
func convMVN(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	axes := c.ints("axes")
	if !c.has("axes") {
		axes = []int{0, 2, 3}
	}
	seen := map[int]bool{}
	for i, a := range axes {
		if axes[i], err = c.normAxis(a, r); err != nil {
			return err
		}
		if seen[axes[i]] {
			return c.errf("axes %v repeat an axis", c.ints("axes"))
		}
		seen[axes[i]] = true
	}
	b := c.build()
	d := b.op("sub", "centered", nil, x, b.reduce("reduce_mean", "mean", x, axes, true))
	sd := b.op("sqrt", "std", nil, b.reduce("reduce_mean", "var", b.op("mul", "square", nil, d, d), axes, true))
	return b.finish(b.op("div", "", nil, d, b.op("add", "std_eps", nil, sd, b.k("epsilon", 1e-9))))
}

// lpPow is |x|^p: abs for p 1, a square for p 2, else pow.
func (b *builder) lpPow(x *ir.Value, p int) *ir.Value {
	switch p {
	case 1:
		return b.op("abs", "abs", nil, x)
	case 2:
		return b.op("mul", "square", nil, x, x)
	}
	return b.op("pow", "pow", nil, b.op("abs", "abs", nil, x), b.k("p", float64(p)))
}

// lpRoot is s^(1/p).
func (b *builder) lpRoot(name string, s *ir.Value, p int) *ir.Value {
	switch p {
	case 1:
		return s
	case 2:
		return b.op("sqrt", name, nil, s)
	}
	return b.op("pow", name, nil, s, b.k("inv_p", 1/float64(p)))
}

// convLpNorm: x / ‖x‖_p along axis (p 1 or 2).
func convLpNorm(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	axis, err := c.normAxis(c.int("axis", -1), x.Type.Rank())
	if err != nil {
		return err
	}
	p := c.int("p", 2)
	if p != 1 && p != 2 {
		return c.errf("p %d must be 1 or 2", p)
	}
	b := c.build()
	n := b.lpRoot("norm", b.reduce("reduce_sum", "sum", b.lpPow(x, p), []int{axis}, true), p)
	return b.finish(b.op("div", "", nil, x, n))
}

// convGlobalLpPool: (Σ|x|^p over the spatial dims)^(1/p), kept as size 1.
func convGlobalLpPool(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	if r < 3 {
		return c.errf("input %v needs rank >= 3 (N, C, spatial...)", x.Type.Shape)
	}
	p := c.int("p", 2)
	if p < 1 || p > 64 {
		return c.errf("p %d must be in [1, 64]", p)
	}
	var axes []int
	for i := 2; i < r; i++ {
		axes = append(axes, i)
	}
	b := c.build()
	sumName := "sum"
	if p == 1 {
		sumName = ""
	}
	s := b.reduce("reduce_sum", sumName, b.lpPow(x, p), axes, true)
	return b.finish(b.lpRoot("", s, p))
}

// convLpPool: (Σ|x|^p over each window)^(1/p), the window as AveragePool
// reads it (pads add zeros). The window sum is avgpool (count_include_pad
// 0: the mean over the positions inside x) times that count, a constant
// per output position.
func convLpPool(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	attrs, err := c.poolAttrs(x)
	if err != nil {
		return err
	}
	p := c.int("p", 2)
	if p < 1 || p > 64 {
		return c.errf("p %d must be in [1, 64]", p)
	}
	attrs["count_include_pad"] = ir.Int(0)
	b := c.build()
	mean := b.op("avgpool", "window_mean", attrs, b.lpPow(x, p))
	if b.err != nil {
		return b.err
	}
	sumName := "window_sum"
	if p == 1 {
		sumName = ""
	}
	sum := b.op("mul", sumName, nil, mean, c.constant(c.tmpName("window_count"), windowCounts(x.Type.Shape[2:], mean.Type.Shape[2:], attrs), nil))
	return b.finish(b.lpRoot("", sum, p))
}

// windowCounts is the number of input positions inside in that each
// output position's window reads, as f32 [1, 1, out...].
func windowCounts(in, out []int, attrs ir.Attrs) *ir.Tensor {
	n := len(in)
	get := func(name string, i, def int) int {
		if l := attrs[name].Ints; len(l) > i {
			return l[i]
		}
		return def
	}
	per := make([][]int, n)
	for d := range n {
		per[d] = make([]int, out[d])
		for o := range out[d] {
			start := o*get("strides", d, 1) - get("pads", d, 0)
			for k := range attrs["kernel"].Ints[d] {
				if q := start + k*get("dilations", d, 1); q >= 0 && q < in[d] {
					per[d][o]++
				}
			}
		}
	}
	t := ir.NewTensor(ir.F32, append([]int{1, 1}, out...))
	for i := range t.F32 {
		cnt, rem := 1, i
		for d := n - 1; d >= 0; d-- {
			cnt *= per[d][rem%out[d]]
			rem /= out[d]
		}
		t.F32[i] = float32(cnt)
	}
	return t
}
