package onnx

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Convolution, pooling, normalization, dense layers, softmax and resize.

// windowAttrs reads strides, dilations and pads of a conv or pool over the
// spatial dims in, resolving auto_pad to explicit pads.
func (c *nodeCtx) windowAttrs(in, kernel []int) (ir.Attrs, error) {
	nsp := len(in)
	strides, dil, pads := c.window("strides", nsp, 1), c.window("dilations", nsp, 1), c.window("pads", 2*nsp, 0)
	if c.err != nil {
		return nil, c.err
	}
	fill := func(l []int, n, v int) []int {
		if l != nil {
			return l
		}
		l = make([]int, n)
		for i := range l {
			l[i] = v
		}
		return l
	}
	strides, dil, pads = fill(strides, nsp, 1), fill(dil, nsp, 1), fill(pads, 2*nsp, 0)
	switch ap := c.str("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
	case "VALID":
		pads = make([]int, 2*nsp)
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < nsp; i++ {
			out := (in[i] + strides[i] - 1) / strides[i]
			total := max(0, (out-1)*strides[i]+(kernel[i]-1)*dil[i]+1-in[i])
			small, big := total/2, total-total/2
			if ap == "SAME_UPPER" {
				pads[i], pads[i+nsp] = small, big
			} else {
				pads[i], pads[i+nsp] = big, small
			}
		}
	default:
		return nil, c.unsupported("auto_pad %q is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER are)", ap)
	}
	return windowMap(strides, dil, pads), nil
}

// windowMap makes window attributes, leaving out the defaults (all strides
// and dilations 1, all pads 0) so that the IR reads cleanly.
func windowMap(strides, dil, pads []int) ir.Attrs {
	a := ir.Attrs{}
	for name, l := range map[string][]int{"strides": strides, "dilations": dil} {
		for _, v := range l {
			if v != 1 {
				a[name] = ir.Ints(l...)
				break
			}
		}
	}
	if !allZero(pads) {
		a["pads"] = ir.Ints(pads...)
	}
	return a
}

// windowLists returns the strides, dilations and pads of window attributes.
func windowLists(a ir.Attrs, nsp int) (strides, dil, pads []int) {
	get := func(name string, n, def int) []int {
		if l, ok := a[name]; ok {
			return append([]int{}, l.Ints...)
		}
		l := make([]int, n)
		for i := range l {
			l[i] = def
		}
		return l
	}
	return get("strides", nsp, 1), get("dilations", nsp, 1), get("pads", 2*nsp, 0)
}

// convArgs returns x, w and the optional bias of a conv, with x and w of
// one rank >= 3 and kernel_shape (if given) matching the weight.
func (c *nodeCtx) convArgs(xi, wi, bi int) (x, w, b *ir.Value, err error) {
	if x, err = c.need(xi); err != nil {
		return
	}
	if w, err = c.need(wi); err != nil {
		return
	}
	b = c.in(bi)
	if x.Type.Rank() < 3 || w.Type.Rank() != x.Type.Rank() {
		return nil, nil, nil, c.errf("input %v and weight %v must have one rank >= 3", x.Type.Shape, w.Type.Shape)
	}
	if ks := c.window("kernel_shape", x.Type.Rank()-2, 1); ks != nil && !ir.EqualShape(ks, w.Type.Shape[2:]) {
		return nil, nil, nil, c.errf("kernel_shape %v does not match weight %v", ks, w.Type.Shape)
	}
	return x, w, b, c.err
}

func convConv(c *nodeCtx) error {
	x, w, b, err := c.convArgs(0, 1, 2)
	if err != nil {
		return err
	}
	return c.conv(x, w, b, ir.Type{})
}

// conv adds the conv of output 0 (the float, integer and quantized forms).
func (c *nodeCtx) conv(x, w, b *ir.Value, hint ir.Type) error {
	attrs, err := c.windowAttrs(x.Type.Shape[2:], w.Type.Shape[2:])
	if err != nil {
		return err
	}
	attrs["group"] = ir.Int(c.int("group", 1))
	args := []*ir.Value{x, w}
	if b != nil {
		args = append(args, b)
	}
	return c.out("conv", args, attrs, hint)
}

func convConvTranspose(c *nodeCtx) error {
	x, w, b, err := c.convArgs(0, 1, 2)
	if err != nil {
		return err
	}
	nsp := x.Type.Rank() - 2
	in, kernel := x.Type.Shape[2:], w.Type.Shape[2:]
	attrs, err := c.windowAttrs(in, kernel)
	if err != nil {
		return err
	}
	strides, dil, pads := windowLists(attrs, nsp)
	outPad := c.window("output_padding", nsp, 0)
	if outPad == nil {
		outPad = make([]int, nsp)
	}
	ap := c.str("auto_pad", "NOTSET")
	outShape := c.ints("output_shape")
	if len(outShape) == nsp+2 {
		outShape = outShape[2:]
	}
	if outShape == nil && (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
		for i := 0; i < nsp; i++ {
			outShape = append(outShape, in[i]*strides[i])
		}
	}
	if outShape != nil {
		if len(outShape) != nsp {
			return c.errf("output_shape %v needs %d spatial dims", c.ints("output_shape"), nsp)
		}
		for i := 0; i < nsp; i++ {
			if outShape[i] < 1 || outShape[i] >= 1<<31 {
				return c.errf("output_shape %v out of range", outShape)
			}
			total := strides[i]*(in[i]-1) + outPad[i] + (kernel[i]-1)*dil[i] + 1 - outShape[i]
			switch {
			case total < 0:
				pads[i], pads[i+nsp] = 0, 0
				outPad[i] -= total
			case ap == "SAME_UPPER":
				pads[i], pads[i+nsp] = total/2, total-total/2
			default:
				pads[i], pads[i+nsp] = total-total/2, total/2
			}
		}
	}
	attrs = windowMap(strides, dil, pads)
	if !allZero(outPad) {
		attrs["output_padding"] = ir.Ints(outPad...)
	}
	attrs["group"] = ir.Int(c.int("group", 1))
	args := []*ir.Value{x, w}
	if b != nil {
		args = append(args, b)
	}
	return c.out("conv_transpose", args, attrs, ir.Type{})
}

// poolAttrs reads a pooling window.
func (c *nodeCtx) poolAttrs(x *ir.Value) (ir.Attrs, error) {
	if x.Type.Rank() < 3 {
		return nil, c.errf("input %v needs rank >= 3 (N, C, spatial...)", x.Type.Shape)
	}
	kernel := c.window("kernel_shape", x.Type.Rank()-2, 1)
	if kernel == nil {
		return nil, c.errf("kernel_shape is missing or invalid")
	}
	attrs, err := c.windowAttrs(x.Type.Shape[2:], kernel)
	if err != nil {
		return nil, err
	}
	attrs["kernel"] = ir.Ints(kernel...)
	attrs["ceil_mode"] = ir.Int(c.int("ceil_mode", 0))
	return attrs, nil
}

func convMaxPool(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	attrs, err := c.poolAttrs(x)
	if err != nil {
		return err
	}
	if err := c.out("maxpool", []*ir.Value{x}, attrs, ir.Type{}); err != nil {
		return err
	}
	if c.outName(1) != "" {
		ia := attrs.Clone()
		ia["storage_order"] = ir.Int(c.int("storage_order", 0))
		v, err := c.add("maxpool_index", []*ir.Value{x}, ia, ir.Type{}, c.outName(1))
		if err != nil {
			return err
		}
		c.set(1, v)
	}
	return nil
}

func convAvgPool(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	attrs, err := c.poolAttrs(x)
	if err != nil {
		return err
	}
	attrs["count_include_pad"] = ir.Int(c.int("count_include_pad", 0))
	return c.out("avgpool", []*ir.Value{x}, attrs, ir.Type{})
}

func convGlobalAvgPool(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	return c.out("global_avgpool", []*ir.Value{x}, nil, ir.Type{})
}

func convGlobalMaxPool(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if x.Type.Rank() < 3 {
		return c.errf("input %v needs rank >= 3", x.Type.Shape)
	}
	var axes []int
	for i := 2; i < x.Type.Rank(); i++ {
		axes = append(axes, i)
	}
	return c.out("reduce_max", []*ir.Value{x}, ir.Attrs{"axes": ir.Ints(axes...), "keepdims": ir.Int(1)}, ir.Type{})
}

func convBatchNorm(c *nodeCtx) error {
	vs, err := c.needN(5)
	if err != nil {
		return err
	}
	if c.opset < 9 && c.int("spatial", 1) == 0 {
		return c.unsupported("spatial=0 (per-activation statistics) is not supported")
	}
	eps := c.float("epsilon", 1e-5)
	training := c.opset >= 14 && c.int("training_mode", 0) != 0
	for i := 1; i < len(c.n.GetOutput()); i++ {
		if c.outName(i) != "" && (!training || i > 2) {
			return c.unsupported("the training outputs of BatchNormalization (output %d) are not supported; pare imports inference graphs (training_mode=1 is supported at opset 14 and later)", i)
		}
	}
	if training {
		return c.batchNormTraining(vs, eps, c.float("momentum", 0.9))
	}
	return c.out("batchnorm", vs, ir.Attrs{"epsilon": ir.Float(eps)}, ir.Type{})
}

// batchNormTraining normalizes with the batch statistics and updates the
// running ones (ONNX BatchNormalization training_mode=1).
func (c *nodeCtx) batchNormTraining(vs []*ir.Value, eps, momentum float32) error {
	x, scale, bias, mean, variance := vs[0], vs[1], vs[2], vs[3], vs[4]
	r := x.Type.Rank()
	if r < 2 {
		return c.errf("input %v needs a channel dim", x.Type.Shape)
	}
	ch := x.Type.Shape[1]
	axes := []int{0}
	bshape := ones(r - 1)
	bshape[0] = ch
	for i := 2; i < r; i++ {
		axes = append(axes, i)
	}
	b := c.build()
	norm, m, v := b.normalize(x, axes, eps)
	y := b.op("add", "", nil, b.op("mul", "scaled", nil, norm, b.reshape("scale", scale, bshape)), b.reshape("bias", bias, bshape))
	if err := b.finish(y); err != nil {
		return err
	}
	mom := c.scalar("momentum", ir.F32, float64(momentum))
	rest := c.scalar("one_minus_momentum", ir.F32, float64(1-momentum))
	for i, pair := range [][2]*ir.Value{{mean, m}, {variance, v}} {
		name := c.outName(i + 1)
		if name == "" {
			continue
		}
		old, err := c.add("mul", []*ir.Value{pair[0], mom}, nil, ir.Type{}, name+"/old")
		if err != nil {
			return err
		}
		batch, err := c.reshape(pair[1], []int{ch}, name+"/batch")
		if err != nil {
			return err
		}
		cur, err := c.add("mul", []*ir.Value{batch, rest}, nil, ir.Type{}, name+"/new")
		if err != nil {
			return err
		}
		upd, err := c.add("add", []*ir.Value{old, cur}, nil, ir.Type{}, name)
		if err != nil {
			return err
		}
		c.set(i+1, upd)
	}
	return nil
}

func convGemm(c *nodeCtx) error {
	vs, err := c.needN(2)
	if err != nil {
		return err
	}
	if b := c.in(2); b != nil {
		vs = append(vs, b)
	}
	attrs := ir.Attrs{"trans_a": ir.Int(c.int("transA", 0)), "trans_b": ir.Int(c.int("transB", 0)),
		"alpha": ir.Float(c.float("alpha", 1)), "beta": ir.Float(c.float("beta", 1))}
	return c.out("gemm", vs, attrs, ir.Type{})
}

func convMatMul(c *nodeCtx) error {
	vs, err := c.needN(2)
	if err != nil {
		return err
	}
	return c.out("matmul", vs, nil, ir.Type{})
}

func convSoftmax(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	return c.softmaxLike(x, "softmax", func(b *builder, in *ir.Value, axis int, name string) *ir.Value {
		return b.op("softmax", name, ir.Attrs{"axis": ir.Int(axis)}, in)
	})
}

// resize adds the resize of output 0 to scales (when given) or sizes.
func (c *nodeCtx) resize(x *ir.Value, mode, coord, nearest string, scales []float32, sizes []int) error {
	switch mode {
	case "bilinear", "trilinear":
		mode = "linear"
	case "nearest", "linear":
	default:
		return c.unsupported("resize mode %q is not supported (nearest and linear are)", mode)
	}
	r := x.Type.Rank()
	shape := make([]int, r)
	if scales != nil {
		if len(scales) != r {
			return c.errf("scales %v need %d entries", scales, r)
		}
		for i, s := range scales {
			f := math.Floor(float64(s) * float64(x.Type.Shape[i]))
			if !(s > 0) || !(f < ir.MaxElements) {
				return c.errf("invalid scales %v", scales)
			}
			shape[i] = int(f)
		}
	} else {
		if len(sizes) != r {
			return c.errf("sizes %v need %d entries", sizes, r)
		}
		copy(shape, sizes)
	}
	if err := checkShape(shape); err != nil {
		return c.errf("output shape: %v", err)
	}
	attrs := ir.Attrs{"mode": ir.Str(mode), "coord": ir.Str(coord), "nearest_mode": ir.Str(nearest)}
	if scales != nil {
		attrs["scales"] = ir.Floats(scales...)
	}
	return c.out("resize", []*ir.Value{x}, attrs, x.Type.WithShape(shape))
}

// legacyNearest is the nearest rounding of Resize-10 and Upsample (as ONNX
// Runtime does): floor when enlarging, ceil when shrinking.
func (c *nodeCtx) legacyNearest(scales []float32) (string, error) {
	up, down := false, false
	for _, s := range scales {
		up = up || s > 1
		down = down || s < 1
	}
	if up && down {
		return "", c.unsupported("nearest resize that enlarges some dims and shrinks others is not supported before opset 11")
	}
	if down {
		return "ceil", nil
	}
	return "floor", nil
}

func convUpsample(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	scales := c.floats("scales")
	mode := c.str("mode", "nearest")
	if c.opset < 7 { // Upsample-1: NCHW, two attributes; "bilinear"
		if x.Type.Rank() != 4 {
			return c.errf("input %v: Upsample before opset 7 takes NCHW", x.Type.Shape)
		}
		scales = []float32{1, 1, c.float("height_scale", 0), c.float("width_scale", 0)}
		if mode == "bilinear" {
			mode = "linear"
		}
	}
	if c.opset >= 9 {
		t, err := c.constIn(1)
		if err != nil {
			return err
		}
		if t == nil {
			return c.errf("the scales input is missing")
		}
		if scales, err = floatList(t); err != nil {
			return c.errf("scales: %v", err)
		}
	}
	nearest, err := c.legacyNearest(scales)
	if err != nil {
		return err
	}
	return c.resize(x, mode, "asymmetric", nearest, scales, nil)
}

// resizeConsts: Resize-10's scales is input 1; from opset 11 scales and
// sizes are inputs 2 and 3 (roi, input 1, only matters for the
// tf_crop_and_resize, which reads it with constIn).
func resizeConsts(opset int) []int {
	if opset < 11 {
		return []int{1}
	}
	return []int{2, 3}
}

func convResize(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	mode := c.str("mode", "nearest")
	if c.opset < 11 {
		t, err := c.constIn(1)
		if err != nil {
			return err
		}
		if t == nil {
			return c.errf("the scales input is missing")
		}
		scales, err := floatList(t)
		if err != nil {
			return c.errf("scales: %v", err)
		}
		nearest, err := c.legacyNearest(scales)
		if err != nil {
			return err
		}
		return c.resize(x, mode, "asymmetric", nearest, scales, nil)
	}
	coord := c.str("coordinate_transformation_mode", "half_pixel")
	antialias := c.int("antialias", 0) != 0 && mode != "nearest"
	st, err := c.constIn(2)
	if err != nil {
		return err
	}
	zt, err := c.constIn(3)
	if err != nil {
		return err
	}
	var scales []float32
	var sizes []int
	if st != nil && st.Len() > 0 {
		if scales, err = floatList(st); err != nil {
			return c.errf("scales: %v", err)
		}
	}
	if zt != nil && zt.Len() > 0 {
		if sizes, err = intList(zt); err != nil {
			return c.errf("sizes: %v", err)
		}
	}
	policy := c.str("keep_aspect_ratio_policy", "stretch")
	switch policy {
	case "stretch", "not_larger", "not_smaller":
	default:
		return c.errf("keep_aspect_ratio_policy %q is not stretch, not_larger or not_smaller", policy)
	}
	// The resize op has nearest and linear without antialias; the rest
	// lowers to the separable matrix form (convert_resize.go).
	if (mode != "nearest" && mode != "linear") || antialias || coord == "tf_crop_and_resize" || coord == "half_pixel_symmetric" || (sizes != nil && policy != "stretch") {
		return c.resizeByMatrix(x, mode, coord, policy, scales, sizes)
	}
	if (scales == nil) == (sizes == nil) {
		return c.errf("exactly one of scales and sizes must be given")
	}
	if axes := c.ints("axes"); axes != nil {
		r := x.Type.Rank()
		fs, fz := make([]float32, r), append([]int{}, x.Type.Shape...)
		for i := range fs {
			fs[i] = 1
		}
		for i, a := range axes {
			if a, err = c.normAxis(a, r); err != nil {
				return err
			}
			if scales != nil && i < len(scales) {
				fs[a] = scales[i]
			} else if sizes != nil && i < len(sizes) {
				fz[a] = sizes[i]
			} else {
				return c.errf("axes %v do not match scales %v / sizes %v", axes, scales, sizes)
			}
		}
		if scales != nil {
			scales = fs
		} else {
			sizes = fz
		}
	}
	return c.resize(x, mode, coord, c.str("nearest_mode", "round_prefer_floor"), scales, sizes)
}
