package tflite

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// nudge is TFLite's NudgeQuantizationRange for quantized range 0 …
// 2^bits − 1, in float32 as its kernel computes it.
func nudge(lo, hi float32, bits int) (nmin, nmax, scale float32) {
	qmin, qmax := float32(0), float32(int(1)<<bits-1)
	scale = (hi - lo) / (qmax - qmin)
	zpFromMin := qmin - lo/scale
	var zp float32
	switch {
	case zpFromMin < qmin:
		zp = qmin
	case zpFromMin > qmax:
		zp = qmax
	default:
		zp = float32(math.Round(float64(zpFromMin))) // TfLiteRound: half away from zero
	}
	return (qmin - zp) * scale, (qmax - zp) * scale, scale
}

// convFakeQuant imports FAKE_QUANT (float), TFLite's reference kernel op
// for op: clamp to the nudged range, t = (x − nudged_min)·(1/scale),
// round(t)·scale + nudged_min. t >= 0, and round half away from zero is
// floor(t) + floor(2·(t − floor(t))), exact in float32 (the fraction and
// its double are exact), so the result is that of TFLite's reference
// arithmetic, bit for bit.
// narrow_range is an error, as in TFLite's kernel.
func convFakeQuant(o *opctx) error {
	opt := o.op.opt
	if opt.narrowRange {
		return fmt.Errorf("unsupported: narrow_range (TFLite's kernel rejects it too: it is meant for weights)")
	}
	bits := int(opt.numBits)
	if bits < 2 || bits > 16 {
		return fmt.Errorf("num_bits %d out of range 2..16", bits)
	}
	lo, hi := opt.fqMin, opt.fqMax
	if !(lo <= 0 && hi >= 0 && lo < hi) || math.IsInf(float64(hi-lo), 0) {
		return fmt.Errorf("range [%v, %v] must hold 0 and be non-empty and finite", lo, hi)
	}
	nmin, nmax, scale := nudge(lo, hi, bits)
	inv := 1 / scale
	return decomposed(func(s *steps, x *ir.Value, _ int) *ir.Value {
		c := s.add("clip", ir.Attrs{"min": ir.Float(nmin), "max": ir.Float(nmax)}, x)
		t := s.add("mul", nil, s.add("sub", nil, c, s.scalar(nmin)), s.scalar(inv))
		f := s.add("floor", nil, t)
		up := s.add("floor", nil, s.add("mul", nil, s.add("sub", nil, t, f), s.scalar(2)))
		q := s.add("add", nil, f, up)
		return s.add("add", nil, s.add("mul", nil, q, s.scalar(scale)), s.scalar(nmin))
	})(o)
}
