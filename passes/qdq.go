package passes

import (
	"math"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// qdq: a QDQ model — float ops between dequantize and quantize, the form
// ONNX Runtime's quantizer, PyTorch's ONNX export and most toolkits write
// (DequantizeLinear → Conv → QuantizeLinear) — becomes the integer graph
// it describes, as ONNX Runtime and TensorRT run such models:
//
//   - quantize(conv / gemm / matmul(dequantize(x), dequantize(w) [,
//     bias])) becomes the integer op on x and w with the quantize's type
//     (the QLinearConv form); a relu or clip between the op and the
//     quantize becomes its act. w must be a constant; the bias a constant,
//     either i32 dequantized at scale_x·scale_w[c] with zero point 0 (as
//     QDQ writes it) or f32 (quantized to i32 at that scale, as the
//     quantize pass does).
//   - quantize(op(dequantize(x)...)) with the same parameters on every
//     side, for the ops that move or select values (maxpool, reshape,
//     transpose, slice, concat, pad with 0, resize nearest), becomes op on
//     the integers: exactly what the float graph computes.
//   - quantize(add / sub / mul(dequantize(a), dequantize(b))) and the
//     unary ops with a quantized form (sigmoid, tanh, hardswish, softmax,
//     reduce_mean, avgpool) take their integer operands
//     (rq=float: dequantize, the float op, quantize in one step).
//
// The integer conv, gemm and matmul requantize their i32 sums once instead
// of rounding float products: outputs may differ from the float graph's by
// one quantization step (so the pass is not part of canonicalize).
// Dequantize ops left without users go; the dequantize of a constant that
// a float op still reads is folded to an f32 constant.
var qdqPass = &Pass{
	Name:    "qdq",
	Summary: "QDQ models (dequantize → float op → quantize) → integer conv / gemm / matmul and integer data movement",
	// Before canonicalize, which folds the dequantize of a constant weight
	// into an f32 constant and so ends the QDQ group.
	Before: []string{"canonicalize", "quantize", "fuse"},
	New: func(o Options) (Func, error) {
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			n := foldQDQ(g)
			g.RemoveDead()
			k := foldConstDequantize(g)
			g.RemoveDead()
			topoSort(g)
			rep.Notef("integer conv/gemm/matmul: %d, integer data movement and elementwise ops: %d, constant dequantizes folded: %d", n[0], n[1], k)
			return nil
		}, nil
	},
}

// qdqMove are the ops that only move or select values: on integers with
// the parameters of their input they compute exactly what the float op
// computes between dequantize and quantize.
var qdqMove = map[string]bool{"maxpool": true, "reshape": true, "transpose": true, "slice": true, "concat": true,
	"expand": true, "gather": true, "pad": true, "resize": true}

// qdqQuantOps take per-tensor quantized operands and give a quantized
// result (rq=float: dequantize, op, quantize).
var qdqQuantOps = map[string]bool{"add": true, "sub": true, "mul": true, "sigmoid": true, "tanh": true, "hardswish": true,
	"softmax": true, "reduce_mean": true, "avgpool": true}

// foldQDQ rewrites every quantize that closes a QDQ group; n[0] counts
// integer conv / gemm / matmul, n[1] the other ops.
func foldQDQ(g *ir.Graph) (n [2]int) {
	u := users(g)
	for _, q := range g.Values {
		if q.Op.Name != "quantize" || q.Type.Quant == nil || q.Type.Quant.Axis >= 0 ||
			(q.Type.DType != ir.I8 && q.Type.DType != ir.U8) {
			continue
		}
		p := q.Args[0]
		if soleUser(u, p) != q {
			continue
		}
		var act ir.Attrs
		if (p.Op.Name == "relu" || p.Op.Name == "clip") && len(p.Args) == 1 {
			act = actOf(p)
			if a := p.Args[0]; soleUser(u, a) == p && act != nil {
				p = a
			} else {
				act = nil
			}
		}
		switch {
		case p.Op.Name == "conv" || p.Op.Name == "gemm" || p.Op.Name == "matmul":
			if qdqLinear(g, q, p, act) {
				n[0]++
			}
		case act != nil:
		case qdqMove[p.Op.Name]:
			if qdqRewrite(q, p, true) {
				n[1]++
			}
		case qdqQuantOps[p.Op.Name]:
			if qdqRewrite(q, p, false) {
				n[1]++
			}
		}
	}
	return n
}

// actOf is the act attributes a relu or clip (constant bounds) becomes on
// the op before it, or nil.
func actOf(p *ir.Value) ir.Attrs {
	if p.Op.Name == "relu" {
		return ir.Attrs{"act": ir.Str("relu")}
	}
	lo, hi := p.Float("min"), p.Float("max")
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) {
		return nil
	}
	return ir.Attrs{"act": ir.Str("clip"), "act_min": ir.Float(lo), "act_max": ir.Float(hi)}
}

// dequantized returns x when v is dequantize(x) with x i8/u8 quantized
// per tensor (perAxis: or per axis), else nil.
func dequantized(v *ir.Value, perAxis bool) *ir.Value {
	if v.Op.Name != "dequantize" {
		return nil
	}
	x := v.Args[0]
	if (x.Type.DType != ir.I8 && x.Type.DType != ir.U8) || x.Type.Quant == nil || (!perAxis && x.Type.Quant.Axis >= 0) {
		return nil
	}
	return x
}

// qdqLinear turns q = quantize(p [act]) with p a float conv / gemm /
// matmul over dequantized operands into the integer op.
func qdqLinear(g *ir.Graph, q, p *ir.Value, act ir.Attrs) bool {
	if p.Type.DType != ir.F32 || len(p.Args) < 2 || (act != nil && p.Str("act") != "none") {
		return false
	}
	x, w := dequantized(p.Args[0], false), dequantized(p.Args[1], true)
	if x == nil || w == nil || !w.IsConst() {
		return false
	}
	if p.Op.Name == "gemm" && (p.Float("alpha") != 1 || p.Float("beta") != 1) {
		return false
	}
	args := []*ir.Value{x, w}
	if len(p.Args) == 3 {
		b := qdqBias(g, p, x.Type.Quant.ScaleAt(0), w.Type.Quant)
		if b == nil {
			return false
		}
		args = append(args, b)
	}
	attrs := ir.Attrs{}
	for k, v := range p.Attrs {
		attrs[k] = v
	}
	for k, v := range act {
		attrs[k] = v
	}
	nv, err := ir.NewValue(p.Op.Name, args, attrs, ir.Type{DType: q.Type.DType, Quant: q.Type.Quant})
	if err != nil {
		return false
	}
	q.Op, q.Args, q.Attrs, q.Type = nv.Op, nv.Args, nv.Attrs, nv.Type
	return true
}

// qdqBias returns the i32 bias of the integer form of p (its bias p.Args[2]
// at scale sx·sw[c], zero point 0), or nil when it has none that fits.
func qdqBias(g *ir.Graph, p *ir.Value, sx float32, wq *ir.Quant) *ir.Value {
	b := p.Args[2]
	shape := b.Type.Shape
	if len(shape) == 0 || ir.NumElements(shape) != shape[len(shape)-1] { // [N] or [1, N] (gemm)
		return nil
	}
	n := shape[len(shape)-1]
	if wq.Axis >= 0 && wq.Channels() != n {
		return nil
	}
	scale := func(c int) float64 { return float64(sx) * float64(wq.ScaleAt(c)) }
	out := ir.NewTensor(ir.I32, shape)
	if bq := dequantizedI32(b); bq != nil {
		bqq := bq.Type.Quant
		for c := 0; c < n; c++ {
			if bqq.ZeroAt(c) != 0 || math.Abs(float64(bqq.ScaleAt(c))-scale(c)) > 1e-6*scale(c) {
				return nil
			}
			out.I32[c] = bq.Const.I32[c]
		}
	} else if t := constF32(b); t != nil {
		for c := 0; c < n; c++ {
			r := math.RoundToEven(float64(t.F32[c]) / scale(c))
			if scale(c) == 0 || r > math.MaxInt32 || r < math.MinInt32 {
				return nil
			}
			out.I32[c] = int32(r)
		}
	} else {
		return nil
	}
	return g.AddConst(p.Name+".bias", out, nil)
}

// dequantizedI32 returns the i32 constant b dequantizes, or nil.
func dequantizedI32(b *ir.Value) *ir.Value {
	if b.Op.Name != "dequantize" {
		return nil
	}
	x := b.Args[0]
	if x.Type.DType != ir.I32 || !x.IsConst() || x.Const == nil || x.Type.Quant == nil {
		return nil
	}
	return x
}

// qdqRewrite turns q = quantize(p(dequantize(x)...)) into p on the
// integers. same: every operand (and q) must have the same dtype and
// parameters (the data-movement ops); else p must take quantized operands
// (qdqQuantOps). Non-float operands (indices, shapes) pass as they are.
func qdqRewrite(q, p *ir.Value, same bool) bool {
	if p.Type.DType != ir.F32 {
		return false
	}
	args := make([]*ir.Value, len(p.Args))
	for i, a := range p.Args {
		if a.Type.DType != ir.F32 {
			args[i] = a
			continue
		}
		x := dequantized(a, false)
		if x == nil {
			return false
		}
		if same && (x.Type.DType != q.Type.DType || !x.Type.Quant.Equal(q.Type.Quant)) {
			return false
		}
		args[i] = x
	}
	if p.Op.Name == "pad" && p.Float("value") != 0 {
		return false // 0 would have to be quantized: not the same value
	}
	if p.Op.Name == "resize" && p.Str("mode") != "nearest" {
		return false
	}
	hint := ir.Type{DType: q.Type.DType, Shape: p.Type.Shape, Quant: q.Type.Quant} // reshape, expand, resize: the declared shape
	nv, err := ir.NewValue(p.Op.Name, args, p.Attrs, hint)
	if err != nil || nv.Type.DType != q.Type.DType || !nv.Type.Quant.Equal(q.Type.Quant) {
		return false
	}
	q.Op, q.Args, q.Attrs, q.Type = nv.Op, nv.Args, nv.Attrs, nv.Type
	return true
}

// foldConstDequantize replaces dequantize(const) by its f32 constant (as
// rt computes it).
func foldConstDequantize(g *ir.Graph) int {
	n := 0
	for _, v := range g.Values {
		if v.Op.Name != "dequantize" || !v.Args[0].IsConst() || v.Args[0].Const == nil || v.Args[0].Type.Quant == nil {
			continue
		}
		t, err := rt.EvalOp(v, []*ir.Tensor{v.Args[0].Const})
		if err != nil {
			continue
		}
		g.ReplaceUses(v, g.AddConst(v.Name+".f", t, nil))
		n++
	}
	return n
}
