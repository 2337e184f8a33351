package onnx

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// STFT and MelWeightMatrix (opset 17).

// convSTFT: the frames gathered at constant sample indices [frames,
// frame length] into [batch, frames, length, 1 or 2], weighted by the
// window (folded into the matrix when constant, else a mul), reshaped to
// rows and multiplied by a constant [length·parts, bins·2] cos/sin matrix
// whose columns interleave the real and imaginary parts, so the product
// reshapes to [batch, frames, bins, 2] as it is. frame_step and
// frame_length must be constant; onesided (the default) keeps the
// length/2 + 1 first bins of a real signal.
func convSTFT(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	if len(s) != 3 || s[2] != 1 && s[2] != 2 {
		return c.errf("signal %v must be [batch, length, 1 or 2] (real or complex)", s)
	}
	bsz, l, parts := s[0], s[1], s[2]
	step, err := c.scalarInt(1, "frame_step")
	if err != nil {
		return err
	}
	if step < 1 {
		return c.errf("frame_step %d must be positive", step)
	}
	n := -1 // the frame length
	var win *ir.Value
	if win = c.in(2); win != nil {
		if _, err := c.floatIn(2); err != nil {
			return err
		}
		if win.Type.Rank() != 1 {
			return c.errf("window %v must be 1-D", win.Type.Shape)
		}
		n = win.Type.Shape[0]
	}
	if c.in(3) != nil {
		fl, err := c.scalarInt(3, "frame_length")
		if err != nil {
			return err
		}
		if n >= 0 && fl != n {
			return c.errf("frame_length %d differs from the window's length %d", fl, n)
		}
		n = fl
	}
	if n < 0 {
		n = l
	}
	if n < 1 || n > l {
		return c.errf("the frame length %d must be in [1, the signal length %d]", n, l)
	}
	onesided := c.int("onesided", 1) != 0
	if onesided && parts == 2 {
		return c.unsupported("onesided with a complex signal: ONNX defines onesided for a real signal (set onesided=0)")
	}
	k := n
	if onesided {
		k = n/2 + 1
	}
	frames := 1 + (l-n)/step
	if !c.im.budget(4*parts*n*2*k + 8*frames*n) {
		return c.errf("a %d-point STFT is too large to build at import", n)
	}
	var w []float64 // the constant window, folded into the matrix
	if win == nil {
		w = make([]float64, n)
		for i := range w {
			w[i] = 1
		}
	} else if win.IsConst() {
		w = make([]float64, n)
		for i := range w {
			w[i] = win.Const.At(i)
		}
	}
	idx := ir.NewTensor(ir.I64, []int{frames, n})
	for f := range frames {
		for m := range n {
			idx.I64[f*n+m] = int64(f*step + m)
		}
	}
	// M[(m·parts + p), (j·2 + q)]: input part p of sample m, output part q
	// of bin j: (a + ib)(cos θ − i sin θ), θ = 2πjm/n.
	mat := ir.NewTensor(ir.F32, []int{n * parts, 2 * k})
	for m := range n {
		wm := 1.0
		if w != nil {
			wm = w[m]
		}
		for j := range k {
			th := 2 * math.Pi * float64(j*m%n) / float64(n)
			cs, sn := math.Cos(th)*wm, math.Sin(th)*wm
			row := m * parts * 2 * k
			mat.F32[row+2*j], mat.F32[row+2*j+1] = float32(cs), float32(-sn)
			if parts == 2 {
				row += 2 * k
				mat.F32[row+2*j], mat.F32[row+2*j+1] = float32(sn), float32(cs)
			}
		}
	}
	b := c.build()
	y := b.op("gather", "frames", ir.Attrs{"axis": ir.Int(1)}, x, c.constant(c.tmpName("frame_indices"), idx, nil))
	if w == nil {
		y = b.op("mul", "windowed", nil, y, b.reshape("window_column", win, []int{n, 1}))
	}
	y = b.reshape("rows", y, []int{bsz * frames, n * parts})
	y = b.op("matmul", "spectrum_rows", nil, y, c.constant(c.tmpName("dft_matrix"), mat, nil))
	return b.finish(b.reshape("", y, []int{bsz, frames, k, 2}))
}

// convMelWeightMatrix folds the [dft_length/2 + 1, num_mel_bins] matrix of
// triangular filters: num_mel_bins + 2 points evenly spaced in mel
// (2595·log10(1 + f/700)) from lower to upper_edge_hertz, in steps of the
// range over num_mel_bins + 2 (as ONNX's reference and ONNX Runtime),
// mapped to the spectrogram bins floor((dft_length + 1)·f / sample_rate);
// filter i rises from point i to i + 1 and falls to i + 2.
func convMelWeightMatrix(c *nodeCtx) error {
	var iv [3]int
	for i, what := range []string{"num_mel_bins", "dft_length", "sample_rate"} {
		v, err := c.scalarInt(i, what)
		if err != nil {
			return err
		}
		iv[i] = v
	}
	mels, dftLen, rate := iv[0], iv[1], iv[2]
	var fv [2]float64
	for i, what := range []string{"lower_edge_hertz", "upper_edge_hertz"} {
		t, err := c.constArg(3+i, what)
		if err != nil {
			return err
		}
		if t.Len() != 1 || t.DType != ir.F32 {
			return c.errf("%s %v must be a FLOAT scalar", what, t.Shape)
		}
		fv[i] = t.At(0)
	}
	lo, hi := fv[0], fv[1]
	if mels < 1 || dftLen < 1 || rate < 1 {
		return c.errf("num_mel_bins %d, dft_length %d and sample_rate %d must be positive", mels, dftLen, rate)
	}
	if !(lo >= 0 && lo <= hi && hi <= float64(rate)/2) {
		return c.errf("the edges %g and %g Hz must satisfy 0 <= lower <= upper <= sample_rate/2 = %g", lo, hi, float64(rate)/2)
	}
	dt, err := irDType(int32(min(max(c.int("output_datatype", int(dtFloat)), -1), 1<<20)))
	if err != nil || dt == ir.Bool {
		return c.unsupported("output_datatype %d: pare makes FLOAT and integer matrices", c.int("output_datatype", int(dtFloat)))
	}
	bins := dftLen/2 + 1
	if bins*mels > ir.MaxElements || !c.im.budget(8*bins*mels) {
		return c.errf("a [%d, %d] mel matrix is too large", bins, mels)
	}
	mel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	lm, hm := mel(lo), mel(hi)
	stepMel := (hm - lm) / float64(mels+2)
	pts := make([]int, mels+2)
	for i := range pts {
		f := 700 * (math.Pow(10, (float64(i)*stepMel+lm)/2595) - 1)
		pts[i] = int(math.Floor(float64(dftLen+1) * f / float64(rate)))
		if pts[i] < 0 || pts[i] >= bins {
			return c.errf("mel point %d falls in bin %d, outside the %d spectrogram bins", i, pts[i], bins)
		}
	}
	out := make([]float64, bins*mels)
	for i := range mels {
		l, m, h := pts[i], pts[i+1], pts[i+2]
		if m == l {
			out[m*mels+i] = 1
		} else {
			for j := l; j <= m; j++ {
				out[j*mels+i] = float64(j-l) / float64(m-l)
			}
		}
		for j := m; j < h; j++ {
			out[j*mels+i] = float64(h-j) / float64(h-m)
		}
	}
	t := ir.NewTensor(dt, []int{bins, mels})
	for i, v := range out {
		if dt == ir.F32 {
			t.F32[i] = float32(v)
		} else {
			t.SetInt(i, int64(math.Trunc(v)))
		}
	}
	c.set(0, c.constant(c.outName(0), t, nil))
	return nil
}
