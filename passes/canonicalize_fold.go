package passes

import (
	"math"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// The folding rules of canonicalize: batchnorm, biases and pads into the
// conv / gemm before them.

// isPlainLayer reports whether v is an f32 conv, conv_transpose or gemm
// with constant weights and no fused activation: a layer whose output
// channels can absorb a per-channel scale and shift. It returns the
// output-channel axis of the weight (for conv_transpose, whose weight is
// [C, M/group, k...], outChannels and scaleOut know the layout).
func isPlainLayer(v *ir.Value) (wAxis int, ok bool) {
	if v.Type.DType != ir.F32 || len(v.Args) < 2 || constF32(v.Args[1]) == nil {
		return 0, false
	}
	if len(v.Args) == 3 && constF32(v.Args[2]) == nil {
		return 0, false
	}
	switch v.Op.Name {
	case "conv":
		return 0, v.Str("act") == "none"
	case "conv_transpose":
		return 1, true
	case "gemm":
		if v.Int("trans_a") != 0 || v.Float("alpha") != 1 || v.Float("beta") != 1 || v.Str("act") != "none" {
			return 0, false
		}
		if v.Int("trans_b") != 0 {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

// outChannels is the number of output channels of a plain layer.
func outChannels(l *ir.Value, axis int) int {
	if l.Op.Name == "conv_transpose" {
		return l.Type.Shape[1]
	}
	return l.Args[1].Type.Shape[axis]
}

// scaleOut is a plain layer's weight with each output channel's weights
// multiplied by s. A conv_transpose's output channel m = gi·(M/group) + mo
// takes the weights [c, mo, ...] of the input channels c of group gi.
func scaleOut(l *ir.Value, axis int, s []float32) *ir.Tensor {
	w := l.Args[1].Const
	if l.Op.Name != "conv_transpose" {
		return scaleChannels(w, axis, s)
	}
	out := w.Clone()
	c, mg := w.Shape[0], w.Shape[1]
	k := w.Len() / (c * mg)
	cg := c / max(1, l.Int("group"))
	for i := range out.F32 {
		ci := i / (mg * k)
		out.F32[i] *= s[ci/cg*mg+i/k%mg]
	}
	return out
}

// evalBinary computes op(a, b) on constant tensors through rt.
func evalBinary(op string, a, b *ir.Tensor) (*ir.Tensor, error) {
	g := ir.NewGraph("tmp")
	va, vb := g.AddConst("a", a, nil), g.AddConst("b", b, nil)
	v, err := ir.NewValue(op, []*ir.Value{va, vb}, nil, ir.Type{})
	if err != nil {
		return nil, err
	}
	return rt.EvalOp(v, []*ir.Tensor{a, b})
}

// layerBias returns the current bias of a plain layer as a per-channel
// vector (zeros when absent), or nil when the bias is not per channel.
func layerBias(v *ir.Value, nch int) []float32 {
	b := make([]float32, nch)
	if len(v.Args) < 3 {
		return b
	}
	t := v.Args[2].Const
	if t.Len() != nch || (v.Op.Name == "gemm" && !perColumn(t.Shape, nch)) {
		return nil
	}
	copy(b, t.F32)
	return b
}

// perColumn reports whether a constant of this shape is one value per
// output column of a gemm result [m, n]: [n] or [1, n].
func perColumn(shape []int, n int) bool {
	return (len(shape) == 1 && shape[0] == n) || (len(shape) == 2 && shape[0] == 1 && shape[1] == n)
}

// setLayer replaces a plain layer's weight and bias. A constant only this
// layer uses is updated in place (it keeps its name, so a diff shows the
// weights changed); a shared one is copied.
func setLayer(g *ir.Graph, v *ir.Value, w *ir.Tensor, b []float32) {
	u := g.Uses()
	setConst := func(i int, t *ir.Tensor, name string) {
		if i < len(v.Args) {
			if c := v.Args[i]; len(u[c]) == 1 && !isResult(g, c) {
				c.Const, c.Type = t, ir.Type{DType: t.DType, Shape: append([]int{}, t.Shape...)}
				return
			}
			name = v.Args[i].Name
		}
		nc := g.AddConst(name, t, nil)
		if i < len(v.Args) {
			v.Args[i] = nc
		} else {
			v.Args = append(v.Args, nc)
		}
	}
	if w != v.Args[1].Const {
		setConst(1, w, "")
	}
	shape := []int{len(b)}
	if v.Op.Name == "gemm" && len(v.Args) == 3 {
		shape = v.Args[2].Type.Shape
	}
	setConst(2, ir.FromF32(shape, b), v.Name+".bias")
}

func isResult(g *ir.Graph, v *ir.Value) bool {
	for _, r := range g.Results {
		if r == v {
			return true
		}
	}
	return false
}

// scaleChannels multiplies the weight's output channels by s.
func scaleChannels(w *ir.Tensor, axis int, s []float32) *ir.Tensor {
	out := w.Clone()
	stride := ir.Strides(w.Shape)[axis]
	dim := w.Shape[axis]
	for i := range out.F32 {
		out.F32[i] *= s[(i/stride)%dim]
	}
	return out
}

// foldBatchNorm folds batchnorm(conv(x)), batchnorm(conv_transpose(x)) and
// batchnorm(gemm(x)) into the layer.
func foldBatchNorm(g *ir.Graph, o Options) (int, error) {
	u := users(g)
	n := 0
	for _, v := range g.Values {
		if v.Op.Name != "batchnorm" {
			continue
		}
		l := v.Args[0]
		axis, ok := isPlainLayer(l)
		if !ok || soleUser(u, l) != v {
			continue
		}
		var p [4]*ir.Tensor
		okc := true
		for i := range p {
			if p[i] = constF32(v.Args[i+1]); p[i] == nil {
				okc = false
			}
		}
		nch := outChannels(l, axis)
		if !okc || p[0].Len() != nch {
			continue
		}
		bias := layerBias(l, nch)
		if bias == nil {
			continue
		}
		eps := float64(v.Float("epsilon"))
		s := make([]float32, nch)
		for c := range s {
			s[c] = float32(float64(p[0].F32[c]) / math.Sqrt(float64(p[3].F32[c])+eps))
			bias[c] = (bias[c]-p[2].F32[c])*s[c] + p[1].F32[c]
		}
		setLayer(g, l, scaleOut(l, axis, s), bias)
		g.ReplaceUses(v, l)
		n++
	}
	return n, nil
}

// foldBias folds add(layer, const) into the layer's bias when the constant
// is one value per output channel; matmul(x, W) + bias becomes gemm.
func foldBias(g *ir.Graph, o Options) (int, error) {
	u := users(g)
	n := 0
	for _, v := range g.Values {
		if v.Op.Name != "add" || v.Type.DType != ir.F32 || v.Str("act") != "none" {
			continue
		}
		l, c := v.Args[0], v.Args[1]
		if constF32(c) == nil {
			l, c = c, l
		}
		ct := constF32(c)
		if ct == nil || soleUser(u, l) != v || !ir.EqualShape(v.Type.Shape, l.Type.Shape) {
			continue
		}
		if l.Op.Name == "matmul" && l.Type.DType == ir.F32 && l.Str("act") == "none" && l.Args[0].Type.Rank() == 2 &&
			constF32(l.Args[1]) != nil && l.Args[1].Type.Rank() == 2 && perColumn(ct.Shape, l.Type.Shape[1]) {
			l.Op = ir.LookupOp("gemm")
			l.Args = append(l.Args, c)
			if err := retype(l); err != nil {
				return n, err
			}
			g.ReplaceUses(v, l)
			n++
			continue
		}
		axis, ok := isPlainLayer(l)
		if !ok {
			continue
		}
		nch := outChannels(l, axis)
		if !perChannelConst(ct.Shape, l.Type.Rank(), nch, l.Op.Name == "gemm") {
			continue
		}
		bias := layerBias(l, nch)
		if bias == nil {
			continue
		}
		for i := range bias {
			bias[i] += ct.F32[i]
		}
		setLayer(g, l, l.Args[1].Const, bias)
		g.ReplaceUses(v, l)
		n++
	}
	return n, nil
}

// perChannelConst reports whether a constant of this shape, broadcast
// against a layer result of the given rank, holds one value per channel
// (axis 1 for conv; the last axis for gemm).
func perChannelConst(shape []int, rank, nch int, gemm bool) bool {
	if gemm {
		return perColumn(shape, nch)
	}
	if len(shape) > rank || ir.NumElements(shape) != nch {
		return false
	}
	for i, d := range shape {
		axis := rank - len(shape) + i
		if d != 1 && axis != 1 {
			return false
		}
	}
	return nch == 1 || rank-len(shape) <= 1
}

// foldPads folds a zero constant pad of the spatial dims into the conv or
// count_include_pad avgpool that reads it.
func foldPads(g *ir.Graph, o Options) (int, error) {
	n := 0
	for _, v := range g.Values {
		if len(v.Args) == 0 || v.Type.DType != ir.F32 {
			continue
		}
		switch {
		case v.Op.Name == "conv":
		case v.Op.Name == "avgpool" && v.Int("count_include_pad") != 0:
		default:
			continue
		}
		p := v.Args[0]
		if p.Op.Name != "pad" || p.Str("mode") != "constant" || p.Float("value") != 0 {
			continue
		}
		pads := p.IntList("pads")
		r := p.Type.Rank()
		nsp := r - 2
		legal := pads[0] == 0 && pads[1] == 0 && pads[r] == 0 && pads[r+1] == 0
		for _, x := range pads {
			if x < 0 {
				legal = false
			}
		}
		if !legal {
			continue
		}
		cur := v.IntList("pads")
		if len(cur) == 0 {
			cur = make([]int, 2*nsp)
		}
		np := make([]int, 2*nsp)
		for i := 0; i < nsp; i++ {
			np[i] = cur[i] + pads[2+i]
			np[nsp+i] = cur[nsp+i] + pads[r+2+i]
		}
		attrs := v.Attrs.Clone()
		attrs["pads"] = ir.Ints(np...)
		old, oldArg := v.Attrs, v.Args[0]
		v.Attrs, v.Args[0] = attrs, p.Args[0]
		if err := retype(v); err != nil {
			v.Attrs, v.Args[0] = old, oldArg
			continue
		}
		n++
	}
	return n, nil
}
