package passes

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// qbuilder rewrites a float graph into its quantized form: a new graph in
// which every old value has a float version, a quantized version, or both,
// created on first use (so quantize / dequantize sit exactly at the
// boundaries between integer and float regions).
type qbuilder struct {
	c    *qconfig
	obs  map[*ir.Value]*observer
	ng   *ir.Graph
	fl   map[*ir.Value]*ir.Value
	qv   map[*ir.Value]*ir.Value
	skip map[*ir.Value]bool
	// concatOf maps a value a concat reads to that concat: a layer whose
	// result (or relu / clip of it) is concatenated takes the concat's
	// quantization, so the concat runs on the integers as they are.
	concatOf map[*ir.Value]*ir.Value
}

// quantPreserving ops run on quantized tensors and keep their input's parameters.
// (A resize only in nearest mode: it picks elements.)
var quantPreserving = map[string]bool{"relu": true, "clip": true, "maxpool": true, "reshape": true, "transpose": true, "resize": true}

// quantPad reports whether v is a pad that runs on quantized tensors as it
// is: one that repeats or reflects its input, or fills with 0 (the zero
// point, exact in any activation range, which always holds 0). Channel pads
// (BlazeFace's residual blocks) are of that kind.
func quantPad(v *ir.Value) bool {
	return v.Op.Name == "pad" && len(v.Args) == 1 && (v.Str("mode") != "constant" || v.Float("value") == 0)
}

// quantSlice reports whether v is a slice that runs on quantized tensors
// as it is: a spatial crop (or stride) of an NC[spatial] tensor, which keeps
// every batch and channel whole, as the crop of a transposed conv's pads
// after its 1×1 conv (canonicalize_convt.go). Slices that split the
// channels or features (silero VAD's LSTM gates from one gemm) stay f32,
// each part with its own range: quantizing those slices and the gates
// after them cost VAD 4.4 dB (README, int8 on models pare had not seen).
func quantSlice(v *ir.Value) bool {
	if v.Op.Name != "slice" || len(v.Args) != 1 {
		return false
	}
	x := v.Args[0].Type.Shape
	if len(x) < 3 {
		return false
	}
	st, en, sp := v.IntList("starts"), v.IntList("ends"), v.IntList("steps")
	for d := 0; d < 2; d++ {
		if st[d] != 0 || en[d] != x[d] || sp[d] != 1 {
			return false
		}
	}
	return true
}

func (c *qconfig) build(g *ir.Graph, obs map[*ir.Value]*observer, skip map[*ir.Value]bool) (*ir.Graph, error) {
	b := &qbuilder{c: c, obs: obs, ng: ir.NewGraph(g.Name), fl: map[*ir.Value]*ir.Value{}, qv: map[*ir.Value]*ir.Value{}, skip: skip,
		concatOf: map[*ir.Value]*ir.Value{}}
	for _, v := range g.Values {
		if v.Op.Name == "concat" && obs[v] != nil {
			for _, a := range v.Args {
				b.concatOf[a] = v
			}
		}
	}
	for _, p := range g.Params {
		np := b.ng.AddParam(p.Name, p.Type)
		np.Source = p.Source
		b.fl[p] = np
	}
	for _, v := range g.Values {
		if v.IsConst() {
			continue // created where used
		}
		if err := b.value(v); err != nil {
			return nil, err
		}
	}
	for _, r := range g.Results {
		f, err := b.float(r)
		if err != nil {
			return nil, err
		}
		b.ng.Results = append(b.ng.Results, f)
	}
	// Results keep the names users know them by (the model's output names):
	// the integer value that feeds a result's dequantize takes a suffix.
	for i, r := range g.Results {
		f := b.ng.Results[i]
		if f.Name == r.Name || f.IsParam() {
			continue
		}
		if q := b.ng.Lookup(r.Name); q != nil {
			b.ng.Rename(q, r.Name+".q")
		}
		b.ng.Rename(f, r.Name)
	}
	b.ng.RemoveDead()
	if err := ir.Verify(b.ng); err != nil {
		return nil, fmt.Errorf("quantized graph: %v", err)
	}
	return b.ng, nil
}

func (b *qbuilder) add(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, name, source string) (*ir.Value, error) {
	return b.ng.Add(op, args, attrs, hint, name, source)
}

// float returns the f32 version of old value v.
func (b *qbuilder) float(v *ir.Value) (*ir.Value, error) {
	if f := b.fl[v]; f != nil {
		return f, nil
	}
	if v.IsConst() {
		f := b.ng.AddConst(v.Name, v.Const, v.Type.Quant)
		f.Source = v.Source
		b.fl[v] = f
		return f, nil
	}
	q := b.qv[v]
	if q == nil {
		return nil, fmt.Errorf("%s has no value in the quantized graph", v.Where())
	}
	f, err := b.add("dequantize", []*ir.Value{q}, nil, ir.Type{}, v.Name+".dq", v.Source)
	b.fl[v] = f
	return f, err
}

// quant returns the quantized version of old value v (nil when v was not calibrated).
func (b *qbuilder) quant(v *ir.Value) (*ir.Value, error) {
	if q := b.qv[v]; q != nil {
		return q, nil
	}
	o := b.obs[v]
	if o == nil {
		return nil, nil
	}
	f, err := b.float(v)
	if err != nil {
		return nil, err
	}
	q, err := b.add("quantize", []*ir.Value{f}, nil, ir.Type{DType: b.c.adt, Quant: b.c.actQuant(o)}, v.Name+".q", v.Source)
	b.qv[v] = q
	return q, err
}

func (b *qbuilder) value(v *ir.Value) error {
	if axis, ok := isTarget(v); ok && !b.skip[v] {
		done, err := b.layer(v, axis)
		if done || err != nil {
			return err
		}
	}
	if (quantPreserving[v.Op.Name] || quantPad(v) || quantSlice(v)) && b.qv[v.Args[0]] != nil && (v.Op.Name != "resize" || v.Str("mode") == "nearest") {
		x := b.qv[v.Args[0]]
		attrs := v.Attrs.Clone()
		if v.Op.Name == "clip" {
			// Clip bounds on integer tensors apply to the stored integers.
			q := x.Type.Quant
			for _, k := range []string{"min", "max"} {
				f := float64(v.Float(k))
				if !math.IsInf(f, 0) {
					attrs[k] = ir.Float(float32(math.RoundToEven(f/float64(q.Scale[0])) + float64(q.ZeroPoint[0])))
				}
			}
		}
		hint := ir.Type{}
		if v.Op.Name == "reshape" || v.Op.Name == "resize" {
			hint.Shape = v.Type.Shape
		}
		nv, err := b.add(v.Op.Name, []*ir.Value{x}, attrs, hint, v.Name, v.Source)
		if err == nil {
			b.qv[v] = nv
			return nil
		}
	}
	if v.Op.Name == "concat" && b.obs[v] != nil {
		if done, err := b.concat(v); done || err != nil {
			return err
		}
	}
	if quantUnary[v.Op.Name] && b.obs[v] != nil && b.qv[v.Args[0]] != nil {
		x := b.qv[v.Args[0]]
		if q := x.Type.Quant; q != nil && q.Axis < 0 && (x.Type.DType == ir.I8 || x.Type.DType == ir.U8) {
			attrs := v.Attrs.Clone()
			if b.c.rq == "tflite" {
				attrs["rq"] = ir.Str("tflite")
			}
			nv, err := b.add(v.Op.Name, []*ir.Value{x}, attrs, ir.Type{DType: b.c.adt, Quant: b.unaryQuant(v)}, v.Name, v.Source)
			if err == nil {
				b.qv[v] = nv
				return nil
			}
		}
	}
	if spatialMean(v) && b.obs[v] != nil && b.qv[v.Args[0]] != nil {
		if done, err := b.mean(v); done || err != nil {
			return err
		}
	}
	if quantBinary(v) && b.obs[v] != nil && (b.qv[v.Args[0]] != nil || b.qv[v.Args[1]] != nil) {
		qa, err := b.operand(v.Args[0])
		if err != nil {
			return err
		}
		qb, err := b.operand(v.Args[1])
		if err != nil {
			return err
		}
		if qa != nil && qb != nil && qa.Type.DType == qb.Type.DType {
			attrs := ir.Attrs{}
			if b.c.rq == "tflite" {
				attrs["rq"] = ir.Str("tflite")
			}
			nv, err := b.add(v.Op.Name, []*ir.Value{qa, qb}, attrs, ir.Type{DType: qa.Type.DType, Quant: b.c.actQuant(b.obs[v])}, v.Name, v.Source)
			if err == nil {
				b.qv[v] = nv
				return nil
			}
		}
	}
	args := make([]*ir.Value, len(v.Args))
	for i, a := range v.Args {
		f, err := b.float(a)
		if err != nil {
			return err
		}
		args[i] = f
	}
	nv, err := b.add(v.Op.Name, args, v.Attrs.Clone(), v.Type, v.Name, v.Source)
	if err != nil {
		return err
	}
	b.fl[v] = nv
	return nil
}

// operand is the quantized version of an activation (quant), or of a
// scalar constant: ±|c| over ±127 (zero point 0, or 128 for u8
// activations), so that the 8-bit constant stands for c itself.
func (b *qbuilder) operand(v *ir.Value) (*ir.Value, error) {
	if !scalarConst(v) {
		return b.quant(v)
	}
	c := math.Abs(float64(v.Const.F32[0]))
	if c == 0 {
		c = 1
	}
	zp := int64(0)
	if b.c.adt == ir.U8 {
		zp = 128
	}
	q := ir.PerTensor(float32(c/127), zp)
	x := b.ng.AddConst(v.Name+".q", quantizeConst(v.Const, q, b.c.adt), q)
	x.Source = v.Source
	return x, nil
}

// unaryQuant is the result quantization of a quantized unary op: sigmoid
// and tanh take their whole range, [0, 1) in steps of 1/256 and [-1, 1) in
// steps of 1/128 (TFLite's fixed parameters), never a calibrated one: a
// probability head calibrated where it stays near 0 (hand_landmark_lite's
// hand presence on pictures without hands: [0, 0.05]) could otherwise never
// say yes. Other ops take their calibrated range.
func (b *qbuilder) unaryQuant(v *ir.Value) *ir.Quant {
	u8 := b.c.adt == ir.U8
	switch v.Op.Name {
	case "sigmoid", "hardsigmoid":
		if u8 {
			return ir.PerTensor(1.0/256, 0)
		}
		return ir.PerTensor(1.0/256, -128)
	case "tanh":
		if u8 {
			return ir.PerTensor(1.0/128, 128)
		}
		return ir.PerTensor(1.0/128, 0)
	}
	return b.c.actQuant(b.obs[v])
}

// mean emits a spatial mean (spatialMean) as TFLite's integer mean with
// keepdims, reshaped to v's shape when v drops the spatial dims.
func (b *qbuilder) mean(v *ir.Value) (bool, error) {
	x := b.qv[v.Args[0]]
	q := x.Type.Quant
	if q == nil || q.Axis >= 0 || (x.Type.DType != ir.I8 && x.Type.DType != ir.U8) {
		return false, nil
	}
	name := v.Name
	kept := v.Type.Rank() == 4
	if !kept {
		name += ".mean"
	}
	attrs := ir.Attrs{"axes": ir.Ints(2, 3), "keepdims": ir.Int(1), "rq": ir.Str("tflite")}
	nv, err := b.add("reduce_mean", []*ir.Value{x}, attrs, ir.Type{DType: x.Type.DType, Quant: b.c.actQuant(b.obs[v])}, name, v.Source)
	if err != nil {
		return false, nil
	}
	if !kept {
		if nv, err = b.add("reshape", []*ir.Value{nv}, nil, ir.Type{Shape: v.Type.Shape}, v.Name, v.Source); err != nil {
			return false, err
		}
	}
	b.qv[v] = nv
	return true, nil
}

// concat concatenates the integers when every input is quantized: inputs
// whose parameters differ from the concat's are requantized first (layers
// feeding a concat already take its parameters, see concatOf).
func (b *qbuilder) concat(v *ir.Value) (bool, error) {
	q := b.c.actQuant(b.obs[v])
	args := make([]*ir.Value, len(v.Args))
	nq := 0
	for i, a := range v.Args {
		x := b.qv[a]
		if x == nil && a.IsConst() && a.Type.DType == ir.F32 {
			// A constant (BlazeFace's zero channels, as Barracuda exports a
			// channel pad) joins in the concat's own parameters.
			x = b.ng.AddConst(a.Name+".q", quantizeConst(a.Const, q, b.c.adt), q)
			x.Source = a.Source
		} else if x != nil {
			nq++
		}
		if x == nil || x.Type.DType != b.c.adt {
			return false, nil
		}
		args[i] = x
	}
	if nq == 0 {
		return false, nil
	}
	for i, x := range args {
		if !x.Type.Quant.Equal(q) {
			attrs := ir.Attrs{}
			if b.c.rq == "tflite" {
				attrs["rq"] = ir.Str("tflite")
			}
			r, err := b.add("requantize", []*ir.Value{x}, attrs, ir.Type{DType: b.c.adt, Quant: q}, v.Args[i].Name+".rq", v.Source)
			if err != nil {
				return false, err
			}
			args[i] = r
		}
	}
	nv, err := b.add("concat", args, v.Attrs.Clone(), ir.Type{}, v.Name, v.Source)
	if err != nil {
		return false, err
	}
	b.qv[v] = nv
	return true, nil
}

// layer emits the QLinear form of a conv / gemm / matmul.
func (b *qbuilder) layer(v *ir.Value, axis int) (bool, error) {
	k := outKeyOf(v, b.obs)
	u := b.obs[k]
	if c := b.concatOf[k]; c != nil && u != nil {
		u = b.obs[c]
	}
	if u == nil {
		return false, nil
	}
	x, err := b.quant(v.Args[0])
	if err != nil || x == nil || x.Type.Quant.Axis >= 0 {
		return false, err
	}
	w := v.Args[1].Const
	var wq *ir.Tensor
	var wQuant *ir.Quant
	var deq []float32
	if b.c.pairBound {
		if wq, wQuant, deq, err = quantWeightPairs(w, axis, b.c.perTensor); err != nil {
			return false, fmt.Errorf("%s: pair-bound: %v", v.Where(), err)
		}
	} else {
		wq, wQuant, deq = quantWeight(w, axis, b.c.perTensor)
	}
	if v.Op.Name == "matmul" && wQuant.Axis >= 0 {
		wQuant.Axis = len(w.Shape) - 1
	}
	nch := w.Shape[axis]
	sx := x.Type.Quant.Scale[0]
	var bias []float32
	var biasShape []int
	if len(v.Args) == 3 {
		bt := v.Args[2].Const
		if bt.Len() != nch || (v.Op.Name == "gemm" && !perColumn(bt.Shape, nch)) {
			return false, nil
		}
		bias, biasShape = append([]float32{}, bt.F32...), bt.Shape
	}
	if b.c.bc {
		if m := b.obs[v.Args[0]].chanMean(); m != nil {
			delta := weightErrorShift(v, w, deq, m, axis)
			if bias == nil && v.Op.Name != "matmul" {
				bias, biasShape = make([]float32, nch), []int{nch}
			}
			if bias != nil {
				for c := range bias {
					bias[c] -= float32(delta[c])
				}
			}
		}
	}
	wv := b.ng.AddConst(v.Args[1].Name, wq, wQuant)
	wv.Source = v.Args[1].Source
	args := []*ir.Value{x, wv}
	if bias != nil {
		bq := ir.NewTensor(ir.I32, biasShape)
		bQuant := &ir.Quant{Axis: len(biasShape) - 1, Scale: make([]float32, nch), ZeroPoint: make([]int64, nch)}
		for c := range bias {
			s := sx * wQuant.ScaleAt(c)
			bQuant.Scale[c] = s
			bq.I32[c] = int32(math.Max(math.MinInt32, math.Min(math.MaxInt32, math.RoundToEven(float64(bias[c])/float64(s)))))
		}
		name := v.Name + ".bias"
		if len(v.Args) == 3 {
			name = v.Args[2].Name
		}
		bv := b.ng.AddConst(name, bq, bQuant)
		args = append(args, bv)
	}
	attrs := v.Attrs.Clone()
	if b.c.rq == "tflite" {
		attrs["rq"] = ir.Str("tflite")
	}
	op := v.Op.Name
	if op == "matmul" && bias != nil {
		return false, nil
	}
	nv, err := b.add(op, args, attrs, ir.Type{DType: b.c.adt, Quant: b.c.actQuant(u)}, v.Name, v.Source)
	if err != nil {
		return false, err
	}
	b.qv[v] = nv
	return true, nil
}

// outKeyOf is outKey for a builder that only has the observers: the relu /
// clip whose range was observed for v's result.
func outKeyOf(v *ir.Value, obs map[*ir.Value]*observer) *ir.Value {
	if obs[v] != nil {
		return v
	}
	for o := range obs {
		if (o.Op.Name == "relu" || o.Op.Name == "clip") && o.Args[0] == v {
			return o
		}
	}
	return v
}

// weightErrorShift is the mean change of each output channel that weight
// quantization causes: Σ (deq - w) · E[x] over the inputs of the channel.
func weightErrorShift(v *ir.Value, w *ir.Tensor, deq []float32, mean []float64, axis int) []float64 {
	nch := w.Shape[axis]
	delta := make([]float64, nch)
	switch v.Op.Name {
	case "conv":
		M, cg := w.Shape[0], w.Shape[1]
		kk := w.Len() / (M * cg)
		groups := max(1, v.Int("group"))
		mg := M / groups
		for m := 0; m < M; m++ {
			gi := m / mg
			for ci := 0; ci < cg; ci++ {
				cin := gi*cg + ci
				if cin >= len(mean) {
					continue
				}
				for k := 0; k < kk; k++ {
					i := (m*cg+ci)*kk + k
					delta[m] += float64(deq[i]-w.F32[i]) * mean[cin]
				}
			}
		}
	default: // gemm / matmul: w [k, n] (or [n, k] when axis 0)
		rows, cols := w.Shape[0], w.Shape[1]
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				i := r*cols + c
				n, k := c, r
				if axis == 0 {
					n, k = r, c
				}
				if k < len(mean) {
					delta[n] += float64(deq[i]-w.F32[i]) * mean[k]
				}
			}
		}
	}
	return delta
}

// quantizeConst quantizes f32 t with per-tensor q to dt (ties to even, saturating).
func quantizeConst(t *ir.Tensor, q *ir.Quant, dt ir.DType) *ir.Tensor {
	lo, hi := dt.Range()
	y := ir.NewTensor(dt, t.Shape)
	for i, f := range t.F32 {
		r := math.RoundToEven(float64(f)/float64(q.Scale[0])) + float64(q.ZeroPoint[0])
		y.SetInt(i, int64(math.Max(float64(lo), math.Min(float64(hi), r))))
	}
	return y
}
