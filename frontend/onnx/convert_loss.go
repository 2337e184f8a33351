package onnx

import (
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: the target's
// classes (an input, known at run time) pick input[n, target[n, d…], d…]
// with the runtime GatherElements of convert_gather_rt.go; the weights,
// the ignore_index mask and the reductions are elementwise ops and
// reduce_sum.

// convNLLLoss: loss[n, d…] = −input[n, t, d…]·weight[t], t = target[n, d…],
// 0 where t is ignore_index; reduced by none, sum or mean.
func convNLLLoss(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	b := c.build()
	return b.finish(b.nllLoss(x))
}

// convSCELoss: NegativeLogLikelihoodLoss of log_softmax(scores) along
// axis 1; output 1, when used, is that log_softmax.
func convSCELoss(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	if x.Type.Rank() < 2 {
		return c.errf("scores %v need rank >= 2 (N, C, ...)", x.Type.Shape)
	}
	b := c.build()
	lp := b.logSoftmax("log_prob", x, 1)
	loss := b.nllLoss(lp)
	if b.err == nil {
		c.set(1, lp)
	}
	return b.finish(loss)
}

// nllLoss adds the NegativeLogLikelihoodLoss of the log-probabilities x
// [N, C, d…] against the node's input 1 (target [N, d…]) and optional
// input 2 (weight [C]), under the node's reduction and ignore_index.
func (b *builder) nllLoss(x *ir.Value) *ir.Value {
	if b.err != nil {
		return nil
	}
	c := b.c
	fail := func(err error) *ir.Value { b.err = err; return nil }
	xs := x.Type.Shape
	if len(xs) < 2 {
		return fail(c.errf("input %v needs rank >= 2 (N, C, ...)", xs))
	}
	t, err := c.need(1)
	if err != nil {
		return fail(err)
	}
	if dt := t.Type.DType; dt != ir.I32 && dt != ir.I64 || t.Type.Quant != nil {
		return fail(c.unsupported("target is %v; it must be INT32 or INT64", t.Type))
	}
	ts := slices.Delete(slices.Clone(xs), 1, 2)
	if !ir.EqualShape(t.Type.Shape, ts) {
		return fail(c.errf("target %v must be %v (the input %v without dim 1)", t.Type.Shape, ts, xs))
	}
	n := xs[1]
	w := c.in(2)
	if w != nil {
		if w.Type.DType != ir.F32 || w.Type.Quant != nil {
			return fail(c.unsupported("weight is %v; pare imports %s on FLOAT tensors only", w.Type, c.op))
		}
		if !ir.EqualShape(w.Type.Shape, []int{n}) {
			return fail(c.errf("weight %v must be [%d] (one per class)", w.Type.Shape, n))
		}
	}
	red := c.str("reduction", "mean")
	if red != "none" && red != "sum" && red != "mean" {
		return fail(c.errf("reduction %q must be none, sum or mean", red))
	}
	dt := t.Type.DType

	// ign marks the targets equal to ignore_index (nil: none can be); they
	// read class 0 instead, so that no range check fails on them. Other
	// negative targets become n, out of range: ONNX's classes are [0, C).
	var ign *ir.Value
	if c.has("ignore_index") {
		ii := c.attr("ignore_index").GetI()
		if dt == ir.I64 || ii >= math.MinInt32 && ii <= math.MaxInt32 {
			ign = b.op("equal", "ignored", nil, t, c.scalar("ignore_index", dt, float64(ii)))
		}
	}
	zero := c.scalar("class_zero", dt, 0)
	cls := b.op("where", "class", nil, b.op("less", "negative", nil, t, zero), c.scalar("classes", dt, float64(n)), t)
	if ign != nil {
		cls = b.op("where", "class_kept", nil, ign, zero, cls)
	}
	col := b.reshape("class_column", cls, slices.Insert(slices.Clone(ts), 1, 1))
	picked := b.reshape("picked", b.gatherElementsAt("picked_column", x, col, 1), ts)
	loss := b.op("neg", "loss_all", nil, picked)

	// wt: the weight of every element (nil: all 1), 0 where ignored.
	var wt *ir.Value
	if w != nil {
		wt = b.op("gather", "weight_at", ir.Attrs{"axis": ir.Int(0)}, w, cls)
		loss = b.op("mul", "weighted", nil, loss, wt)
	}
	if ign != nil {
		fzero := b.k("zero", 0)
		if wt == nil {
			wt = b.op("where", "counted", nil, ign, fzero, b.k("one", 1))
		} else {
			wt = b.op("where", "weight_kept", nil, ign, fzero, wt)
		}
		loss = b.op("where", "loss_kept", nil, ign, fzero, loss)
	}
	if red == "none" {
		return loss
	}
	all := make([]int, len(ts))
	for i := range all {
		all[i] = i
	}
	if red == "sum" {
		return b.reduce("reduce_sum", "", loss, all, false)
	}
	sum := b.reduce("reduce_sum", "loss_sum", loss, all, false)
	// mean: Σ loss / Σ weight, NaN (0/0) when every element is ignored, as
	// ONNX's reference gives.
	var den *ir.Value
	if wt == nil {
		den = b.k("count", float64(ir.NumElements(ts)))
	} else {
		den = b.reduce("reduce_sum", "weight_sum", wt, all, false)
	}
	return b.op("div", "", nil, sum, den)
}
