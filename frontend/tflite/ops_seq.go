package tflite

import (
	"fmt"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// UNIDIRECTIONAL_SEQUENCE_RNN and UNIDIRECTIONAL_SEQUENCE_LSTM (float),
// unrolled over the static time dimension: per step a slice of the input,
// gemms by the input and recurrent weights (trans_b, as FULLY_CONNECTED),
// the gate activations and elementwise ops; the steps' states joined by
// concat. LSTM variants with peepholes, projection, layer normalization or
// diagonal recurrent weights are errors.

// maxSeqSteps bounds the unrolled time steps (some 20 IR ops each).
const maxSeqSteps = 1024

// seq is the time-unrolling state of one op.
type seq struct {
	*steps
	x         *ir.Value
	t, b, in  int // time steps, batch, input size
	timeMajor bool
	outs      []*ir.Value
}

// seqIn reads input 0: [time, batch, input] when time-major, else
// [batch, time, input].
func (o *opctx) seqIn() (*seq, error) {
	x, err := o.im.get(o.in(0))
	if err != nil {
		return nil, err
	}
	sh := x.Type.Shape
	if len(sh) != 3 {
		return nil, fmt.Errorf("input %v must be 3-D", sh)
	}
	q := &seq{steps: &steps{o: o}, x: x, timeMajor: o.op.opt.timeMajor, in: sh[2]}
	q.t, q.b = sh[1], sh[0]
	if q.timeMajor {
		q.t, q.b = sh[0], sh[1]
	}
	if q.t < 1 || q.t > maxSeqSteps {
		return nil, fmt.Errorf("unsupported: %d time steps (unrolled: 1 to %d)", q.t, maxSeqSteps)
	}
	return q, nil
}

func (q *seq) reshape(v *ir.Value, shape ...int) *ir.Value {
	if q.err != nil {
		return nil
	}
	var out *ir.Value
	out, q.err = q.o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: shape})
	return out
}

// step is the input at time t as [batch, input].
func (q *seq) step(t int) *ir.Value {
	starts, ends := []int{0, 0, 0}, append([]int{}, q.x.Type.Shape...)
	d := 1
	if q.timeMajor {
		d = 0
	}
	starts[d], ends[d] = t, t+1
	v := q.add("slice", ir.Attrs{"starts": ir.Ints(starts...), "ends": ir.Ints(ends...), "steps": ir.Ints(1, 1, 1)}, q.x)
	return q.reshape(v, q.b, q.in)
}

// emit records h [batch, n] as the output at the current step.
func (q *seq) emit(h *ir.Value, n int) {
	if q.timeMajor {
		q.outs = append(q.outs, q.reshape(h, 1, q.b, n))
	} else {
		q.outs = append(q.outs, q.reshape(h, q.b, 1, n))
	}
}

// finish joins the steps' outputs along time as output 0.
func (q *seq) finish() error {
	axis := 1
	if q.timeMajor {
		axis = 0
	}
	v := q.outs[0]
	if len(q.outs) > 1 {
		v = q.add("concat", ir.Attrs{"axis": ir.Int(axis)}, q.outs...)
	}
	if q.err != nil {
		return q.err
	}
	return q.o.set(v, false)
}

// dense is x·wᵀ (+ bias when b is not nil).
func (q *seq) dense(x, w, b *ir.Value) *ir.Value {
	return q.add("gemm", ir.Attrs{"trans_b": ir.Int(1)}, argsOf(x, w, b)...)
}

// weight reads input k, which must be [rows, cols] (a vector when cols is 0).
func (q *seq) weight(k, rows, cols int, what string) (*ir.Value, error) {
	i := q.o.in(k)
	if i < 0 {
		return nil, fmt.Errorf("%s (input %d) is missing", what, k)
	}
	v, err := q.o.im.get(i)
	if err != nil {
		return nil, err
	}
	want := []int{rows, cols}
	if cols == 0 {
		want = []int{rows}
	}
	if v.Type.DType != ir.F32 || !ir.EqualShape(v.Type.Shape, want) {
		return nil, fmt.Errorf("%s (input %d) is %v, want f32%v", what, k, v.Type, want)
	}
	return v, nil
}

// state reads the initial state (input k, a variable tensor) [batch, n]:
// a graph input as it is, else zeros (TFLite resets variable tensors to
// zero); stored non-zero data is an error.
func (q *seq) state(k, n int) (*ir.Value, error) {
	i := q.o.in(k)
	if i < 0 {
		return nil, fmt.Errorf("the state (input %d) is missing", k)
	}
	if v := q.o.im.vals[i].plain; v != nil && !v.IsConst() {
		if !ir.EqualShape(v.Type.Shape, []int{q.b, n}) {
			return nil, fmt.Errorf("state (input %d) %v, want [%d %d]", k, v.Type.Shape, q.b, n)
		}
		return v, nil
	}
	c, _, err := q.o.im.constTensor(i)
	if err != nil {
		return nil, err
	}
	if c != nil {
		for j := 0; j < c.Len(); j++ {
			if c.At(j) != 0 {
				return nil, fmt.Errorf("unsupported: state (input %d) with stored non-zero data", k)
			}
		}
	}
	return q.o.im.addConst(q.o.im.sg.tensors[i].name, ".zero", ir.NewTensor(ir.F32, []int{q.b, n}), nil), nil
}

// convSeqRNN imports UNIDIRECTIONAL_SEQUENCE_RNN: inputs x, weights
// [units, input], recurrent weights [units, units], bias, hidden state;
// h = act(x·Wᵀ + b + h·Rᵀ) per step, the output the h of every step.
func convSeqRNN(o *opctx) error {
	q, err := o.seqIn()
	if err != nil {
		return err
	}
	wi := o.in(1)
	ws, err := o.inShape(wi)
	if err != nil {
		return err
	}
	if len(ws) != 2 {
		return fmt.Errorf("weights %v must be [units, input]", ws)
	}
	n := ws[0]
	w, err := q.weight(1, n, q.in, "weights")
	if err != nil {
		return err
	}
	r, err := q.weight(2, n, n, "recurrent weights")
	if err != nil {
		return err
	}
	b, err := q.weight(3, n, 0, "bias")
	if err != nil {
		return err
	}
	h, err := q.state(4, n)
	if err != nil {
		return err
	}
	for t := 0; t < q.t && q.err == nil; t++ {
		z := q.add("add", nil, q.dense(q.step(t), w, b), q.dense(h, r, nil))
		if q.err == nil {
			h, q.err = o.activate(z, o.op.opt.act)
		}
		q.emit(h, n)
	}
	return q.finish()
}

// LSTM inputs (TFLite's lstm_shared.h order).
const (
	lstmInputWeights     = 1 // + gate: input, forget, cell, output
	lstmRecurrentWeights = 5
	lstmPeephole         = 9 // cell_to_input, _forget, _output
	lstmGateBias         = 12
	lstmProjection       = 16 // weights, bias
	lstmOutputState      = 18
	lstmCellState        = 19
	lstmLayerNorm        = 20 // input, forget, cell, output coefficients
)

// convSeqLSTM imports UNIDIRECTIONAL_SEQUENCE_LSTM (float, no peephole,
// projection or layer normalization; CIFG when the input gate's tensors
// are absent): per step
//
//	i = σ(x·Wiᵀ + bi + h·Riᵀ)  (CIFG: 1 − f)
//	f = σ(x·Wfᵀ + bf + h·Rfᵀ)
//	g = act(x·Wcᵀ + bc + h·Rcᵀ)
//	o = σ(x·Woᵀ + bo + h·Roᵀ)
//	c = f·c + i·g, clipped to ±cell_clip when it is positive
//	h = o·act(c)
//
// with act the fused activation (TANH in converted Keras models).
func convSeqLSTM(o *opctx) error {
	opt := o.op.opt
	if opt.diagonal {
		return fmt.Errorf("unsupported: diagonal_recurrent_tensors")
	}
	for k, what := range map[int]string{lstmPeephole: "peephole", lstmPeephole + 1: "peephole", lstmPeephole + 2: "peephole",
		lstmProjection: "projection", lstmProjection + 1: "projection", lstmLayerNorm: "layer normalization", lstmLayerNorm + 1: "layer normalization",
		lstmLayerNorm + 2: "layer normalization", lstmLayerNorm + 3: "layer normalization"} {
		if o.in(k) >= 0 {
			return fmt.Errorf("unsupported: %s weights (input %d; pare unrolls the plain and CIFG LSTM only)", what, k)
		}
	}
	if len(o.op.inputs) <= lstmCellState {
		return fmt.Errorf("takes %d inputs, has %d", lstmCellState+1, len(o.op.inputs))
	}
	q, err := o.seqIn()
	if err != nil {
		return err
	}
	fs, err := o.inShape(o.in(lstmInputWeights + 1))
	if err != nil {
		return err
	}
	if len(fs) != 2 {
		return fmt.Errorf("input-to-forget weights %v must be [units, input]", fs)
	}
	n := fs[0]
	cifg := o.in(lstmInputWeights) < 0
	if cifg && (o.in(lstmRecurrentWeights) >= 0 || o.in(lstmGateBias) >= 0) {
		return fmt.Errorf("CIFG (no input-to-input weights) with recurrent-to-input weights or an input gate bias")
	}
	var w, r, b [4]*ir.Value
	for g := 0; g < 4; g++ {
		if g == 0 && cifg {
			continue
		}
		if w[g], err = q.weight(lstmInputWeights+g, n, q.in, "input weights"); err != nil {
			return err
		}
		if r[g], err = q.weight(lstmRecurrentWeights+g, n, n, "recurrent weights"); err != nil {
			return err
		}
		if b[g], err = q.weight(lstmGateBias+g, n, 0, "gate bias"); err != nil {
			return err
		}
	}
	h, err := q.state(lstmOutputState, n)
	if err != nil {
		return err
	}
	c, err := q.state(lstmCellState, n)
	if err != nil {
		return err
	}
	act := func(v *ir.Value) *ir.Value {
		if q.err != nil {
			return nil
		}
		var out *ir.Value
		out, q.err = o.activate(v, opt.act)
		return out
	}
	if opt.act == fb.ActivationFunctionTypeNONE {
		act = func(v *ir.Value) *ir.Value { return v }
	}
	for t := 0; t < q.t && q.err == nil; t++ {
		x := q.step(t)
		gate := func(g int) *ir.Value { return q.add("add", nil, q.dense(x, w[g], b[g]), q.dense(h, r[g], nil)) }
		f := q.add("sigmoid", nil, gate(1))
		var i *ir.Value
		if cifg {
			i = q.add("sub", nil, q.scalar(1), f)
		} else {
			i = q.add("sigmoid", nil, gate(0))
		}
		g := act(gate(2))
		og := q.add("sigmoid", nil, gate(3))
		c = q.add("add", nil, q.add("mul", nil, f, c), q.add("mul", nil, i, g))
		if opt.cellClip > 0 {
			c = q.add("clip", ir.Attrs{"min": ir.Float(-opt.cellClip), "max": ir.Float(opt.cellClip)}, c)
		}
		h = q.add("mul", nil, og, act(c))
		q.emit(h, n)
	}
	return q.finish()
}
