package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// numericDiff runs a and b in rt on the same inputs and prints, for every
// value of b whose name a has too (or a has without b's suffix .q, the
// quantize pass's name for a value's integer form) with as many elements, how far b's
// values (dequantized when quantized) are from a's: the signal-to-noise
// ratio in dB and the largest absolute difference. This is where a
// quantized model loses accuracy, layer by layer. Where b fused an
// activation into an op that a computes before a separate relu / clip,
// a's values are clamped alike first.
func numericDiff(w io.Writer, a, b *ir.Graph, in []*ir.Tensor) error {
	ref := map[string][]float32{}
	pa, err := rt.New(a)
	if err != nil {
		return err
	}
	if err := pa.Trace(in, func(v *ir.Value, t *ir.Tensor) {
		if f := asFloat(v, t); f != nil {
			ref[v.Name] = f
		}
	}); err != nil {
		return fmt.Errorf("%s: %v", a.Name, err)
	}
	pb, err := rt.New(b)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%9s %11s  %-14s %s\n", "snr_dB", "max_abs", "op", "value (B's type)")
	n := 0
	err = pb.Trace(in, func(v *ir.Value, t *ir.Tensor) {
		name := v.Name
		r := ref[name]
		if r == nil && strings.HasSuffix(name, ".q") { // the quantized form of A's value
			name = strings.TrimSuffix(name, ".q")
			r = ref[name]
		}
		got := asFloat(v, t)
		if r == nil || got == nil || len(r) != len(got) || v.IsConst() {
			return
		}
		lo, hi := fusedClamp(v, a.Lookup(name))
		var se, sp, worst float64
		for i, x := range r {
			want := math.Min(math.Max(float64(x), lo), hi)
			d := float64(got[i]) - want
			se += d * d
			sp += want * want
			worst = math.Max(worst, math.Abs(d))
		}
		snr := math.Inf(1)
		if se > 0 {
			snr = 10 * math.Log10(sp/se)
		}
		fmt.Fprintf(w, "%9.2f %11.4g  %-14s %%%s %v\n", snr, worst, v.Op.Name, v.Name, v.Type)
		n++
	})
	if err != nil {
		return fmt.Errorf("%s: %v", b.Name, err)
	}
	if n == 0 {
		fmt.Fprintln(w, "no value of B has a value of A's name to compare with")
	}
	return nil
}

// asFloat is t as f32 values: dequantized when v is quantized per tensor
// or per axis; nil for other dtypes.
func asFloat(v *ir.Value, t *ir.Tensor) []float32 {
	if t.DType == ir.F32 {
		return t.F32
	}
	q := v.Type.Quant
	if q == nil || !t.DType.IsInt() {
		return nil
	}
	out := make([]float32, t.Len())
	inner, dim := 1, 1
	if q.Axis >= 0 && q.Axis < len(t.Shape) {
		inner, dim = ir.Strides(t.Shape)[q.Axis], t.Shape[q.Axis]
	}
	for i := range out {
		c := 0
		if q.Axis >= 0 {
			c = i / inner % dim
		}
		out[i] = float32(float64(t.IntAt(i)-q.ZeroAt(c)) * float64(q.ScaleAt(c)))
	}
	return out
}

// fusedClamp is the clamp b's value applies through a fused activation
// that a's value of the same name does not have (else no clamp).
func fusedClamp(vb, va *ir.Value) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if va == nil || vb.Op.AttrDef("act") == nil {
		return
	}
	if va.Op.AttrDef("act") != nil && va.Str("act") == vb.Str("act") {
		return
	}
	switch vb.Str("act") {
	case "relu":
		lo = 0
	case "clip":
		lo, hi = float64(vb.Float("act_min")), float64(vb.Float("act_max"))
	}
	return lo, hi
}
