package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Hardmax, RMSNormalization, ScatterElements, ScatterND, ReverseSequence,
// CenterCropPad and the window functions: decomposed into existing IR ops
// or constants (what must be known at import is a constant input).

// iotaAlong is the constant 0, 1, ..., n-1 (i64) along axis of a tensor of
// rank r, size 1 on the other dims.
func (c *nodeCtx) iotaAlong(n, axis, r int) *ir.Value {
	shape := ones(r)
	shape[axis] = n
	t := ir.NewTensor(ir.I64, shape)
	for i := range n {
		t.I64[i] = int64(i)
	}
	return c.constant(c.tmpName("iota"), t, nil)
}

// convHardmax: argmax along the axis (keepdims), equal against a constant
// iota along it, where 1 else 0: one-hot of the first maximum. Before
// opset 13 the axis coerces x to 2-D as Softmax does.
func convHardmax(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	return c.softmaxLike(x, "hardmax_2d", func(b *builder, in *ir.Value, axis int, name string) *ir.Value {
		am := b.typed("argmax", "argmax", ir.Attrs{"axis": ir.Int(axis), "keepdims": ir.Int(1), "select_last_index": ir.Int(0)}, ir.Type{DType: ir.I64}, in)
		hot := b.op("equal", "is_max", nil, am, c.iotaAlong(in.Type.Shape[axis], axis, in.Type.Rank()))
		return b.op("where", name, nil, hot, b.k("one", 1), b.k("zero", 0))
	})
}

// convRMSNorm: x / sqrt(mean(x², axes from axis on) + epsilon) · scale,
// the statistics in f32 (stash_type 1).
func convRMSNorm(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	scale, err := c.floatIn(1)
	if err != nil {
		return err
	}
	if st := c.int("stash_type", 1); st != 1 {
		return c.unsupported("stash_type %d is not supported (1, statistics in FLOAT, is)", st)
	}
	r := x.Type.Rank()
	if r == 0 {
		return c.errf("input is a scalar; RMSNormalization needs rank >= 1")
	}
	axis, err := c.normAxis(c.int("axis", -1), r)
	if err != nil {
		return err
	}
	if s, err := ir.Broadcast(scale.Type.Shape, x.Type.Shape); err != nil || !ir.EqualShape(s, x.Type.Shape) {
		return c.errf("scale %v does not broadcast to the input %v", scale.Type.Shape, x.Type.Shape)
	}
	var axes []int
	for i := axis; i < r; i++ {
		axes = append(axes, i)
	}
	b := c.build()
	ms := b.reduce("reduce_mean", "mean_square", b.op("mul", "square", nil, x, x), axes, true)
	rms := b.op("sqrt", "rms", nil, b.op("add", "mean_square_eps", nil, ms, b.k("epsilon", float64(c.float("epsilon", 1e-5)))))
	return b.finish(b.op("mul", "", nil, b.op("div", "norm", nil, x, rms), scale))
}

// maxScatterLayers bounds the updates a scatter with a reduction may write
// to one element (one gather and one op each).
const maxScatterLayers = 64

// scatterOps maps a Scatter reduction to the IR op that applies it.
var scatterOps = map[string]string{"add": "add", "mul": "mul", "max": "max", "min": "min"}

// scatterIdentity is the element that leaves y unchanged under op (−0 for
// a float add, so that −0 stays −0).
func scatterIdentity(op string, dt ir.DType) *ir.Tensor {
	t := ir.NewTensor(dt, []int{1})
	switch {
	case op == "mul":
		t.SetInt(0, 1)
	case dt == ir.F32 && op == "add":
		t.F32[0] = float32(math.Copysign(0, -1))
	case dt == ir.F32:
		t.F32[0] = float32(math.Inf(map[string]int{"max": -1, "min": 1}[op]))
	case op == "max":
		t.SetInt(0, map[ir.DType]int64{ir.I32: math.MinInt32, ir.I64: math.MinInt64}[dt])
	case op == "min":
		t.SetInt(0, map[ir.DType]int64{ir.I32: math.MaxInt32, ir.I64: math.MaxInt64}[dt])
	}
	return t
}

// scatterArgs returns data, the constant indices and updates of a Scatter
// node, with the reduction checked.
func (c *nodeCtx) scatterArgs() (data, upd *ir.Value, idx *ir.Tensor, red string, err error) {
	vs, err := c.needN(3)
	if err != nil {
		return nil, nil, nil, "", err
	}
	data, upd = vs[0], vs[2]
	if idx, err = c.constArg(1, "indices"); err != nil {
		return nil, nil, nil, "", err
	}
	if !idx.DType.IsInt() {
		return nil, nil, nil, "", c.errf("indices are %v, want integers", idx.DType)
	}
	if data.Type.DType != upd.Type.DType || !data.Type.Quant.Equal(upd.Type.Quant) {
		return nil, nil, nil, "", c.errf("data %v and updates %v differ in type", data.Type, upd.Type)
	}
	red = c.str("reduction", "none")
	if red == "none" {
		return data, upd, idx, red, nil
	}
	if scatterOps[red] == "" {
		return nil, nil, nil, "", c.errf("unknown reduction %q (none, add, mul, max, min)", red)
	}
	if _, err := c.numericIn(0); err != nil {
		return nil, nil, nil, "", err
	}
	return data, upd, idx, red, nil
}

// scatterFlat makes output 0: data with update u written to flat element
// dst[u], in the order of u. Without a reduction the output gathers from
// concat(flat data, flat updates) at a constant index vector (the last
// update written to an element wins, as the reference implementation's
// loop does). With one, layer k gathers the k-th update written to each
// element (the identity of the op where there is none) and y = op(y,
// layer k), which applies the updates in the reference's order.
func (c *nodeCtx) scatterFlat(data, upd *ir.Value, dst []int, red string) error {
	n, m := data.Type.NumElements(), upd.Type.NumElements()
	if !c.im.budget(16 * n) {
		return c.errf("data %v is too large to scatter into at import", data.Type.Shape)
	}
	b := c.build()
	flatData := b.reshape("flat_data", data, []int{n})
	flatUpd := b.reshape("flat_updates", upd, []int{m})
	if b.err != nil {
		return b.err
	}
	gather := func(name, ixName string, src *ir.Value, ix []int64) *ir.Value {
		k := c.constant(c.tmpName(ixName), ir.FromI64([]int{n}, ix), nil)
		return b.op("gather", name, ir.Attrs{"axis": ir.Int(0)}, src, k)
	}
	last := "scattered" // the name of the last step: the output's when no reshape follows
	if data.Type.Rank() == 1 {
		last = ""
	}
	if red == "none" {
		ix := make([]int64, n)
		for o := range ix {
			ix[o] = int64(o)
		}
		for u, o := range dst {
			ix[o] = int64(n + u)
		}
		src := b.op("concat", "data_updates", ir.Attrs{"axis": ir.Int(0)}, flatData, flatUpd)
		return b.finish(b.reshape("", gather(last, "flat_indices", src, ix), data.Type.Shape))
	}
	var layers [][]int64
	count := make([]int, n)
	for u, o := range dst {
		k := count[o]
		count[o]++
		if k == len(layers) {
			if k == maxScatterLayers {
				return c.unsupported("more than %d updates reduce into one element: pare decomposes at most %d", maxScatterLayers, maxScatterLayers)
			}
			if !c.im.budget(8 * n) {
				return c.errf("data %v is too large to scatter into at import", data.Type.Shape)
			}
			l := make([]int64, n)
			for i := range l {
				l[i] = int64(m) // the identity
			}
			layers = append(layers, l)
		}
		layers[k][o] = int64(u)
	}
	op := scatterOps[red]
	id := c.constant(c.tmpName("identity"), scatterIdentity(op, upd.Type.DType), nil)
	src := b.op("concat", "updates_identity", ir.Attrs{"axis": ir.Int(0)}, flatUpd, id)
	y := flatData
	for k, l := range layers {
		name := "reduced"
		if k == len(layers)-1 {
			name = last
		}
		y = b.op(op, name, nil, y, gather(fmt.Sprintf("layer%d", k), fmt.Sprintf("layer%d_indices", k), src, l))
	}
	return b.finish(b.reshape("", y, data.Type.Shape))
}

// convScatterElements: update u goes to its own position in data with the
// index along axis replaced by indices[u]; constant indices.
func convScatterElements(c *nodeCtx) error {
	data, upd, idx, red, err := c.scatterArgs()
	if err != nil {
		return err
	}
	r := data.Type.Rank()
	if len(idx.Shape) != r || !ir.EqualShape(idx.Shape, upd.Type.Shape) {
		return c.errf("indices %v and updates %v must have one shape, of the rank of data %v", idx.Shape, upd.Type.Shape, data.Type.Shape)
	}
	axis, err := c.normAxis(c.int("axis", 0), r)
	if err != nil {
		return err
	}
	for d := range r {
		if d != axis && idx.Shape[d] > data.Type.Shape[d] {
			return c.errf("indices %v exceed data %v off axis %d", idx.Shape, data.Type.Shape, axis)
		}
	}
	n := int64(data.Type.Shape[axis])
	dst := make([]int, idx.Len())
	for u := range dst {
		pos := unflatIndex(u, idx.Shape)
		v := idx.IntAt(u)
		if v < -n || v >= n {
			return c.errf("index %d at %v is out of range for dim %d of size %d", v, pos, axis, n)
		}
		if v < 0 {
			v += n
		}
		pos[axis] = int(v)
		dst[u] = flatIndex(pos, data.Type.Shape)
	}
	return c.scatterFlat(data, upd, dst, red)
}

// convScatterND: index tuple t (the last dim of indices, k long) selects
// the slice data[t] of shape data.shape[k:], which updates[t] replaces
// (or reduces into); constant indices.
func convScatterND(c *nodeCtx) error {
	data, upd, idx, red, err := c.scatterArgs()
	if err != nil {
		return err
	}
	shape, q := data.Type.Shape, len(idx.Shape)
	if q < 1 || idx.Shape[q-1] < 1 || idx.Shape[q-1] > len(shape) {
		return c.errf("indices %v must end in a dim of 1 to the rank of data %v", idx.Shape, shape)
	}
	k := idx.Shape[q-1]
	if want := slices.Concat(idx.Shape[:q-1], shape[k:]); !ir.EqualShape(upd.Type.Shape, want) {
		return c.errf("updates %v must be %v (indices %v, data %v)", upd.Type.Shape, want, idx.Shape, shape)
	}
	slice := ir.NumElements(shape[k:])
	dst := make([]int, 0, upd.Type.NumElements())
	tuple := make([]int, k)
	for t := range ir.NumElements(idx.Shape[:q-1]) {
		for j := range k {
			v, n := idx.IntAt(t*k+j), int64(shape[j])
			if v < -n || v >= n {
				return c.errf("index %d at %v is out of range for dim %d of size %d", v, unflatIndex(t*k+j, idx.Shape), j, n)
			}
			if v < 0 {
				v += n
			}
			tuple[j] = int(v)
		}
		base := flatIndex(tuple, shape[:k]) * slice
		for s := range slice {
			dst = append(dst, base+s)
		}
	}
	return c.scatterFlat(data, upd, dst, red)
}

// convReverseSequence: sequence b (along batch_axis) has its first
// sequence_lens[b] steps along time_axis reversed, the rest kept: a gather
// of x flattened at a constant index vector; sequence_lens must be constant.
func convReverseSequence(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	lens, err := c.constArg(1, "sequence_lens")
	if err != nil {
		return err
	}
	shape := x.Type.Shape
	ta, ba := c.int("time_axis", 0), c.int("batch_axis", 1)
	if len(shape) < 2 || ta == ba || ta < 0 || ta > 1 || ba < 0 || ba > 1 {
		return c.errf("time_axis %d and batch_axis %d must be 0 and 1 (or 1 and 0) of an input of rank >= 2, got %v", ta, ba, shape)
	}
	nb, nt := shape[ba], shape[ta]
	if !lens.DType.IsInt() || len(lens.Shape) != 1 || lens.Shape[0] != nb {
		return c.errf("sequence_lens %v%v must be integers of shape [%d] (the batch)", lens.DType, lens.Shape, nb)
	}
	for b := range nb {
		if l := lens.IntAt(b); l < 0 || l > int64(nt) {
			return c.errf("sequence_lens[%d] = %d is out of range [0, %d]", b, l, nt)
		}
	}
	if !c.im.budget(8 * x.Type.NumElements()) {
		return c.errf("input %v is too large to index at import", shape)
	}
	idx := ir.NewTensor(ir.I64, []int{x.Type.NumElements()})
	for i := range idx.I64 {
		pos := unflatIndex(i, shape)
		if l := int(lens.IntAt(pos[ba])); pos[ta] < l {
			pos[ta] = l - 1 - pos[ta]
		}
		idx.I64[i] = int64(flatIndex(pos, shape))
	}
	return c.gatherFlat(x, idx, shape)
}

// convCenterCropPad: per axis, a crop starting at ⌊(dim − target)/2⌋ or a
// zero pad of ⌊(target − dim)/2⌋ before and the rest after (the odd
// element on the right side): one pad whose negative pads crop; the
// target shape must be constant.
func convCenterCropPad(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if x.Type.Quant != nil {
		return c.unsupported("input is quantized (%v): a zero pad would need its zero point", x.Type)
	}
	st, err := c.constArg(1, "shape")
	if err != nil {
		return err
	}
	r := x.Type.Rank()
	axes := c.ints("axes")
	if !c.has("axes") {
		axes = identityPerm(r)
	}
	if !st.DType.IsInt() || len(st.Shape) != 1 || st.Len() != len(axes) {
		return c.errf("shape %v%v must be integers, one per axis of %v", st.DType, st.Shape, axes)
	}
	pads := make([]int, 2*r)
	seen := map[int]bool{}
	for i, a := range axes {
		axis, err := c.normAxis(a, r)
		if err != nil {
			return err
		}
		if seen[axis] {
			return c.errf("axes %v repeat axis %d", c.ints("axes"), axis)
		}
		seen[axis] = true
		target := st.IntAt(i)
		if target < 1 || target > ir.MaxElements {
			return c.errf("target size %d of axis %d must be positive", target, axis)
		}
		// d/2 truncates: ⌊d/2⌋ padded before when d >= 0, ⌊|d|/2⌋ cropped
		// before when d < 0.
		d := int(target) - x.Type.Shape[axis]
		pads[axis], pads[axis+r] = d/2, d-d/2
	}
	if slices.Equal(pads, make([]int, 2*r)) {
		c.set(0, x)
		return nil
	}
	return c.out("pad", []*ir.Value{x}, ir.Attrs{"pads": ir.Ints(pads...)}, ir.Type{})
}

// windowCoefs are the a0, a1, a2 of the generalized cosine windows
// a0 − a1·cos(2πn/N) + a2·cos(4πn/N) (Hamming's a0 is 25/46, as ONNX's
// function body has it).
var windowCoefs = map[string][3]float64{
	"HannWindow":     {0.5, 0.5, 0},
	"HammingWindow":  {25.0 / 46, 21.0 / 46, 0},
	"BlackmanWindow": {0.42, 0.5, 0.08},
}

// convWindow: HannWindow, HammingWindow and BlackmanWindow become a
// constant computed in float64 and stored as output_datatype (integers
// truncate, as a Cast does); N is size (periodic) or size − 1; size must
// be constant.
func convWindow(c *nodeCtx) error {
	size, err := c.scalarInt(0, "size")
	if err != nil {
		return err
	}
	dt, err := irDType(int32(min(max(c.int("output_datatype", int(dtFloat)), -1), 1<<20)))
	if err != nil || dt == ir.Bool {
		return c.unsupported("output_datatype %d: pare makes FLOAT and integer windows", c.int("output_datatype", int(dtFloat)))
	}
	if size < 1 || size > ir.MaxElements || !c.im.budget(8*size) {
		return c.errf("size %d must be positive and at most %d", size, ir.MaxElements)
	}
	n := size
	if c.int("periodic", 1) == 0 {
		n--
	}
	if n == 0 {
		return c.errf("a symmetric window of size 1 divides by size − 1 = 0")
	}
	a := windowCoefs[c.op]
	t := ir.NewTensor(dt, []int{size})
	for i := range size {
		w := 2 * math.Pi * float64(i) / float64(n)
		v := a[0] - a[1]*math.Cos(w) + a[2]*math.Cos(2*w)
		if dt == ir.F32 {
			t.F32[i] = float32(v)
		} else {
			t.SetInt(i, int64(math.Trunc(v)))
		}
	}
	c.set(0, c.constant(c.outName(0), t, nil))
	return nil
}

// convDFT: the signal axis moved last (after the real/imaginary dim), the
// rows [Π others, c·n] times a constant [c·n, 2K] matrix of cos and sin
// (real and imaginary parts of the e^∓2πikm/L sums; rows past L zero, so
// dft_length truncates or zero-pads), then [.., 2, K] moved back. Axis is
// an attribute at opset 17 and an input from 20; dft_length and axis must
// be constant.
func convDFT(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	shape := x.Type.Shape
	r := len(shape)
	if r < 3 || shape[r-1] != 1 && shape[r-1] != 2 {
		return c.errf("input %v must be [batch, ..., signal, 1 or 2] (real or complex)", shape)
	}
	a := c.int("axis", 1)
	if c.opset >= 20 {
		if a = -2; c.in(2) != nil {
			if a, err = c.scalarInt(2, "axis"); err != nil {
				return err
			}
		}
	}
	axis, err := c.normAxis(a, r)
	if err != nil {
		return err
	}
	if axis == r-1 {
		return c.errf("axis %d is the real/imaginary dim of %v, not a signal dim", a, shape)
	}
	cn, n := shape[r-1], shape[axis]
	l := n
	if c.in(1) != nil {
		if l, err = c.scalarInt(1, "dft_length"); err != nil {
			return err
		}
		if l < 1 || l > 1<<16 {
			return c.errf("dft_length %d must be in [1, 65536]", l)
		}
	}
	inverse, onesided := c.int("inverse", 0) != 0, c.int("onesided", 0) != 0
	if onesided && (inverse || cn == 2) {
		return c.unsupported("onesided with a complex input or inverse: ONNX defines onesided for the forward transform of a real signal")
	}
	k := l
	if onesided {
		k = l/2 + 1
	}
	if !c.im.budget(4 * cn * n * 2 * k) {
		return c.errf("a %d-point DFT of %d samples is too large to build at import", l, n)
	}
	// W[p·n + m, q·k + j]: input part p (0 real, 1 imaginary), sample m,
	// output part q, frequency j: (a + ib)(cos θ + iσ sin θ) with θ =
	// 2πjm/L and σ = −1 forward, +1 inverse (which also divides by L).
	sigma, scale := -1.0, 1.0
	if inverse {
		sigma, scale = 1, 1/float64(l)
	}
	w := ir.NewTensor(ir.F32, []int{cn * n, 2 * k})
	for m := range min(n, l) {
		for j := range k {
			th := 2 * math.Pi * float64(j*m%l) / float64(l)
			cs, sn := math.Cos(th)*scale, sigma*math.Sin(th)*scale
			w.F32[m*2*k+j], w.F32[m*2*k+k+j] = float32(cs), float32(sn) // real part of the input
			if cn == 2 {
				w.F32[(n+m)*2*k+j], w.F32[(n+m)*2*k+k+j] = float32(-sn), float32(cs) // imaginary part
			}
		}
	}
	var perm, rest []int
	for d := range r - 1 {
		if d != axis {
			perm, rest = append(perm, d), append(rest, shape[d])
		}
	}
	perm = append(perm, r-1, axis)
	b := c.build()
	y := x
	if cn == 2 || axis != r-2 { // else the transpose only moves the size-1 dim: the reshape does it
		y = b.op("transpose", "signal_last", ir.Attrs{"perm": ir.Ints(perm...)}, y)
	}
	rows := ir.NumElements(rest)
	y = b.op("matmul", "spectrum_rows", nil, b.reshape("rows", y, []int{rows, cn * n}), c.constant(c.tmpName("dft_matrix"), w, nil))
	y = b.reshape("spectrum", y, append(slices.Clone(rest), 2, k))
	// y is [rest..., 2, K]: put K back at axis and the parts last.
	back := make([]int, r)
	for i, d := 0, 0; d < r-1; d++ {
		if d == axis {
			back[d] = r - 1
			continue
		}
		back[d] = i
		i++
	}
	back[r-1] = r - 2
	return b.finish(b.op("transpose", "", ir.Attrs{"perm": ir.Ints(back...)}, y))
}
