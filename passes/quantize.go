package passes

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// quantize: post-training int8. Weights symmetric per output channel (or
// per tensor); activations asymmetric (or symmetric) per tensor, i8 or u8;
// int32 biases with scale sx*sw; conv / gemm / matmul in their QLinear form
// (quantized operands and result). relu, clip, maxpool, reshape and
// transpose run on the quantized tensors; adds of two activations become
// quantized adds; every other op stays f32 behind an explicit dequantize.
// Ranges come from a calibration set run through rt.
var quantizePass = &Pass{
	Name:    "quantize",
	Summary: "post-training int8 quantization calibrated on data (minmax, percentile, entropy), bias correction, mixed precision",
	Options: []OptionDef{
		{Name: "w", Kind: String, Default: "int8", Values: []string{"int8"}, Doc: "weight type"},
		{Name: "a", Kind: String, Default: "int8", Values: []string{"int8", "uint8"}, Doc: "activation type"},
		{Name: "scheme", Kind: String, Default: "asym", Values: []string{"asym", "sym"}, Doc: "activation zero points: asymmetric or symmetric"},
		{Name: "per-tensor", Kind: Bool, Default: "false", Doc: "one weight scale per tensor instead of per output channel"},
		{Name: "pair-bound", Kind: Bool, Default: "false", Doc: "keep every pair of consecutive weights (k even, k+1 along the reduction axis) of an output channel within ±128 when of one sign, so AVX2's u8×s8 pair multiply-add (vpmaddubsw) cannot saturate and pare's LLVM backend runs those layers at twice the multiplies per instruction; per channel the scale with the least squared weight error under that bound is chosen"},
		{Name: "calib", Kind: String, Default: "minmax", Values: []string{"minmax", "percentile:P", "entropy", "mse"}, Doc: "activation range observer (mse: the range of least expected squared quantization error)"},
		{Name: "bias-correction", Kind: Bool, Default: "false", Doc: "correct each layer's bias for the mean error its weight quantization causes"},
		{Name: "rq", Kind: String, Default: "float", Values: []string{"float", "fixed", "tflite"}, Doc: "requantization: float32 multiply (ONNX) or fixed-point multiplier and shift (fixed = tflite)"},
		{Name: "keep", Kind: List, Default: "", Doc: "layers (value or node names) left in f32"},
		{Name: "budget", Kind: Float, Default: "-1", Doc: "top-1 points the calibration set may lose: layers return to f32, most sensitive first, until it holds (-1: off)"},
	},
	After:     []string{"canonicalize"},
	NeedsData: true,
	New:       newQuantize,
}

type qconfig struct {
	adt       ir.DType
	sym       bool
	perTensor bool
	pairBound bool
	calib     calibMethod
	bc        bool
	rq        string
	keep      []string
	budget    float64
}

func newQuantize(o Options) (Func, error) {
	c := &qconfig{adt: ir.I8, sym: o.String("scheme") == "sym", perTensor: o.Bool("per-tensor"), pairBound: o.Bool("pair-bound"),
		bc: o.Bool("bias-correction"), rq: o.String("rq"), keep: o.List("keep"), budget: o.Float("budget")}
	if o.String("a") == "uint8" {
		c.adt = ir.U8
	}
	if c.rq == "fixed" {
		c.rq = "tflite"
	}
	var err error
	if c.calib, err = parseCalib(o.String("calib")); err != nil {
		return nil, err
	}
	return func(g *ir.Graph, ctx *Context, rep *Report) error { return c.run(g, ctx, rep) }, nil
}

// isTarget reports whether v is a float conv / gemm / matmul with constant
// weights, and gives the weight's output-channel axis.
func isTarget(v *ir.Value) (axis int, ok bool) {
	if v.Type.DType != ir.F32 || len(v.Args) < 2 || constF32(v.Args[1]) == nil || v.Args[0].Type.DType != ir.F32 {
		return 0, false
	}
	switch v.Op.Name {
	case "conv":
		return 0, true
	case "gemm":
		if v.Int("trans_a") != 0 || v.Float("alpha") != 1 || v.Float("beta") != 1 {
			return 0, false
		}
		if len(v.Args) == 3 && constF32(v.Args[2]) == nil {
			return 0, false
		}
		if v.Int("trans_b") != 0 {
			return 0, true
		}
		return 1, true
	case "matmul":
		if v.Args[1].Type.Rank() != 2 {
			return 0, false
		}
		return 1, true
	}
	return 0, false
}

// quantBinary reports whether v is an add or mul of two activations (either
// may broadcast), which runs quantized when both operands are.
func quantBinary(v *ir.Value) bool {
	if (v.Op.Name != "add" && v.Op.Name != "mul") || v.Type.DType != ir.F32 || (v.Op.AttrDef("act") != nil && v.Str("act") != "none") {
		return false
	}
	a, b := v.Args[0], v.Args[1]
	return !a.IsConst() && !b.IsConst() || !a.IsConst() && scalarConst(b) || scalarConst(a) && !b.IsConst()
}

// scalarConst reports whether v is a constant f32 scalar (one element, of
// any rank): an operand of a quantized add or mul it joins as an 8-bit
// constant that represents it within float rounding (±|c| over ±127), as
// PP-OCRv4's learnable affine blocks (x·a + b around hard-swish) need.
func scalarConst(v *ir.Value) bool {
	return v.IsConst() && v.Type.DType == ir.F32 && v.Const != nil && v.Const.Len() == 1
}

// quantUnary are the ops with a quantized form (an 8-bit per-tensor input,
// a result of its own parameters) that run quantized when their input is:
// PP-OCR's hard-swish, the sigmoid and tanh of gates and heads.
var quantUnary = map[string]bool{"hardswish": true, "hardsigmoid": true, "sigmoid": true, "tanh": true}

// spatialMean reports whether v averages a 4-D tensor over its two spatial
// dims: global_avgpool, or reduce_mean over axes 2 and 3 (TFLite's MEAN of a
// global pool, imported in NCHW). Its integer form is TFLite's spatial
// mean (integer sum, fixed-point rescale), which the backends compile.
func spatialMean(v *ir.Value) bool {
	if len(v.Args) != 1 || v.Args[0].Type.Rank() != 4 {
		return false
	}
	switch v.Op.Name {
	case "global_avgpool":
		return true
	case "reduce_mean":
		ax := v.IntList("axes")
		return len(ax) == 2 && (ax[0] == 2 && ax[1] == 3 || ax[0] == 3 && ax[1] == 2 || ax[0] == -2 && ax[1] == -1)
	}
	return false
}

// outKey is the value whose range a layer's quantized result takes: the
// relu / clip that is its only user (so the activation costs no range), else itself.
func outKey(u map[*ir.Value][]*ir.Value, v *ir.Value) *ir.Value {
	if s := soleUser(u, v); s != nil && (s.Op.Name == "relu" || s.Op.Name == "clip") && s.Type.DType == ir.F32 {
		return s
	}
	return v
}

func (c *qconfig) run(g *ir.Graph, ctx *Context, rep *Report) error {
	// Written-out hard-swish (x * relu6(x+3) / 6, as PP-OCR exports it)
	// becomes the op first, which has a quantized form: otherwise its mul
	// would be quantized on its own and fuse could no longer find it.
	if n := fuseHardSwish(g); n > 0 {
		g.RemoveDead()
		rep.Notef("%d written-out hard-swish became hardswish (quantized as one op)", n)
	}
	u := users(g)
	obs := map[*ir.Value]*observer{}
	want := func(v *ir.Value, chanAxis int) {
		if v.Type.DType != ir.F32 || v.IsConst() {
			return
		}
		if obs[v] == nil {
			obs[v] = newObserver()
			obs[v].chanAxis = chanAxis
		} else if chanAxis >= 0 {
			obs[v].chanAxis = chanAxis
		}
	}
	var targets []*ir.Value
	for _, v := range g.Values {
		if _, ok := isTarget(v); ok {
			targets = append(targets, v)
			ax := -1
			if c.bc {
				ax = 1
				if v.Op.Name != "conv" {
					ax = v.Args[0].Type.Rank() - 1
				}
			}
			want(v.Args[0], ax)
			want(outKey(u, v), -1)
		}
		if v.Op.Name == "concat" && v.Type.DType == ir.F32 {
			want(v, -1)
		}
		if quantBinary(v) {
			want(v, -1)
			want(v.Args[0], -1)
			want(v.Args[1], -1)
		}
		if (quantUnary[v.Op.Name] || spatialMean(v)) && v.Type.DType == ir.F32 && !v.Args[0].IsConst() {
			want(v, -1)
		}
	}
	if len(targets) == 0 {
		rep.Notef("no conv / gemm / matmul with constant weights: nothing to quantize")
		return nil
	}
	if err := calibrate(g, ctx.Data, obs, c.calib.name != "minmax", ctx); err != nil {
		return fmt.Errorf("calibration: %v", err)
	}
	dropFlat(g, obs, rep)
	// The input of a sigmoid or tanh keeps at least its sensitive range
	// (sigmoid(±6) = 0.0025 / 0.9975, tanh(±3) = ∓0.995 / ±0.995), so that a
	// probability head calibrated where it stays near one answer can still
	// give the other (the result takes the whole [0, 1) or [-1, 1)).
	for _, v := range g.Values {
		if o := obs[outKeyArg(v, obs)]; o != nil && (v.Op.Name == "sigmoid" || v.Op.Name == "tanh" || v.Op.Name == "hardsigmoid") && v.Type.DType == ir.F32 {
			o.widen = map[string]float64{"sigmoid": 6, "tanh": 3, "hardsigmoid": 3}[v.Op.Name]
		}
	}
	skip := map[*ir.Value]bool{}
	for _, t := range targets {
		if matchName(t, c.keep) {
			skip[t] = true
		}
	}
	for _, k := range c.keep {
		found := false
		for _, t := range targets {
			found = found || matchName(t, []string{k})
		}
		if !found {
			var names []string
			for _, t := range targets {
				names = append(names, t.Source)
			}
			return fmt.Errorf("keep=%s names no layer to quantize (layers: %s)", k, strings.Join(names, ", "))
		}
	}
	ng, err := c.build(g, obs, skip)
	if err != nil {
		return err
	}
	if c.budget >= 0 {
		if ng, err = c.fitBudget(g, ng, obs, targets, skip, ctx, rep); err != nil {
			return err
		}
	}
	kept := 0
	for _, t := range targets {
		if skip[t] || !quantizedIn(ng, t) {
			kept++
		}
	}
	rep.Notef("quantized %d of %d layers (w int8 %s, a %v %s, calib %s, rq %s%s) on %d calibration samples",
		len(targets)-kept, len(targets), map[bool]string{true: "per-tensor", false: "per-channel"}[c.perTensor],
		c.adt, map[bool]string{true: "symmetric", false: "asymmetric"}[c.sym], c.calib.name, c.rq,
		map[bool]string{true: ", bias correction", false: ""}[c.bc]+map[bool]string{true: ", pair-bound", false: ""}[c.pairBound],
		ctx.Data.Len())
	if kept > 0 {
		var names []string
		for _, t := range targets {
			if skip[t] || !quantizedIn(ng, t) {
				names = append(names, t.Name)
			}
		}
		rep.Notef("left in f32: %v", names)
	}
	*g = *ng
	return nil
}

// outKeyArg is the value whose observer gives v's input its range: the
// input itself, or the value a chain of reshapes, transposes and spatial
// slices moves the integers of (an upsampling's 1×1 conv before its
// depth-to-space, canonicalize_convt.go).
func outKeyArg(v *ir.Value, obs map[*ir.Value]*observer) *ir.Value {
	if len(v.Args) == 0 {
		return nil
	}
	a := v.Args[0]
	for obs[a] == nil && (a.Op.Name == "reshape" || a.Op.Name == "transpose" || quantSlice(a)) {
		a = a.Args[0]
	}
	return a
}

// quantizedIn reports whether layer t of the float graph has an integer
// form in ng (a result's integer value is named NAME.q, its dequantize NAME).
func quantizedIn(ng *ir.Graph, t *ir.Value) bool {
	for _, n := range []string{t.Name, t.Name + ".q"} {
		if v := ng.Lookup(n); v != nil && v.Op.Name == t.Op.Name && v.Type.DType != ir.F32 {
			return true
		}
	}
	return false
}

// dropFlat removes the observers of activations that took a single value
// (or none) on every calibration sample: a range of width zero gives a
// scale of nothing (1e-8/255), and any other value at run time would
// saturate. Without an observer a value has no quantized form, so the
// layers reading or writing it stay in f32. The usual cause is calibration
// data that never exercises an input, such as a recurrent state fed zeros.
func dropFlat(g *ir.Graph, obs map[*ir.Value]*observer, rep *Report) {
	flat := map[*ir.Value]bool{}
	for v, o := range obs {
		if !(o.max > o.min) {
			flat[v] = true
		}
	}
	if len(flat) == 0 {
		return
	}
	var names []string
	for _, v := range sortedValues(g, flat) {
		o := obs[v]
		if o.n == 0 {
			names = append(names, v.Name+" (not reached)")
		} else {
			names = append(names, fmt.Sprintf("%s (always %g)", v.Name, o.min))
		}
		delete(obs, v)
	}
	rep.Notef("calibration: %d activations took one value on every sample and stay f32 with the layers that read or write them (give data that exercises them, e.g. a recurrent state taken from a running stream rather than zeros): %s",
		len(names), strings.Join(names, ", "))
}

// fitBudget returns layers to f32, most sensitive first, until the top-1
// drop on the calibration set is within the budget.
func (c *qconfig) fitBudget(g, ng *ir.Graph, obs map[*ir.Value]*observer, targets []*ir.Value, skip map[*ir.Value]bool, ctx *Context, rep *Report) (*ir.Graph, error) {
	data := ctx.Data
	for _, l := range data.Labels {
		if l < 0 {
			return nil, fmt.Errorf("budget needs labelled calibration data")
		}
	}
	fa, err := Evaluate(g, data, nil)
	if err != nil {
		return nil, err
	}
	qa, err := Evaluate(ng, data, nil)
	if err != nil {
		return nil, err
	}
	rep.Notef("calibration top-1: f32 %.2f %%, int8 %.2f %% (budget %.2f points)", fa.Top1Pct(), qa.Top1Pct(), c.budget)
	if fa.Top1Pct()-qa.Top1Pct() <= c.budget {
		return ng, nil
	}
	type sens struct {
		v    *ir.Value
		drop float64
	}
	var ss []sens
	for _, t := range targets {
		if skip[t] {
			continue
		}
		only := map[*ir.Value]bool{}
		for _, o := range targets {
			only[o] = o != t
		}
		tg, err := c.build(g, obs, only)
		if err != nil {
			return nil, err
		}
		a, err := Evaluate(tg, data, nil)
		if err != nil {
			return nil, err
		}
		ss = append(ss, sens{t, fa.Top1Pct() - a.Top1Pct()})
	}
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].drop > ss[j].drop })
	for _, s := range ss {
		rep.Notef("sensitivity %s: %.2f points", s.v.Name, s.drop)
	}
	for _, s := range ss {
		skip[s.v] = true
		tg, err := c.build(g, obs, skip)
		if err != nil {
			return nil, err
		}
		a, err := Evaluate(tg, data, nil)
		if err != nil {
			return nil, err
		}
		ng = tg
		rep.Notef("f32 %s: top-1 %.2f %%", s.v.Name, a.Top1Pct())
		if fa.Top1Pct()-a.Top1Pct() <= c.budget {
			break
		}
	}
	return ng, nil
}

// actQuant turns an observed range into activation parameters.
func (c *qconfig) actQuant(o *observer) *ir.Quant {
	lo, hi := o.rangeOf(c.calib, 128)
	lo, hi = math.Min(lo, -o.widen), math.Max(hi, o.widen)
	if hi-lo < 1e-8 {
		hi = lo + 1e-8
	}
	qmin, qmax := c.adt.Range()
	if c.sym {
		s := math.Max(-lo, hi) / 127
		zp := int64(0)
		if c.adt == ir.U8 {
			zp = 128
		}
		return ir.PerTensor(float32(s), zp)
	}
	s := (hi - lo) / float64(qmax-qmin)
	zp := qmin - int64(math.Round(lo/s))
	return ir.PerTensor(float32(s), max(qmin, min(qmax, zp)))
}

// quantWeight quantizes w symmetrically to int8 along axis (per tensor when
// perTensor), returning the tensor, its parameters and the dequantized values.
func quantWeight(w *ir.Tensor, axis int, perTensor bool) (*ir.Tensor, *ir.Quant, []float32) {
	dim, stride := 1, 1
	if !perTensor {
		dim, stride = w.Shape[axis], ir.Strides(w.Shape)[axis]
	}
	amax := make([]float64, dim)
	for i, x := range w.F32 {
		c := (i / stride) % dim
		amax[c] = math.Max(amax[c], math.Abs(float64(x)))
	}
	q := &ir.Quant{Axis: axis, Scale: make([]float32, dim), ZeroPoint: make([]int64, dim)}
	if perTensor {
		q.Axis = -1
	}
	for c := range amax {
		q.Scale[c] = float32(amax[c] / 127)
		if q.Scale[c] == 0 {
			q.Scale[c] = 1
		}
	}
	t := ir.NewTensor(ir.I8, w.Shape)
	deq := make([]float32, len(w.F32))
	for i, x := range w.F32 {
		c := (i / stride) % dim
		r := math.RoundToEven(float64(x / q.Scale[c]))
		r = math.Max(-127, math.Min(127, r))
		t.I8[i] = int8(r)
		deq[i] = float32(r) * q.Scale[c]
	}
	return t, q, deq
}
