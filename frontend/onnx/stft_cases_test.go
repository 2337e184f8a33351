package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Cases of STFT and MelWeightMatrix (convert_stft.go), references written
// from the operator definitions.

// stftRef: frame f of the signal, samples f·step + m for m < n, times the
// window, transformed: Y[b, f, j] = Σ_m w[m]·x[b, f·step + m]·e^(−2πijm/n).
func stftRef(x *ir.Tensor, step, n int, win []float64, onesided bool) *ir.Tensor {
	bsz, l, parts := x.Shape[0], x.Shape[1], x.Shape[2]
	frames, k := 1+(l-n)/step, n
	if onesided {
		k = n/2 + 1
	}
	y := ir.NewTensor(ir.F32, []int{bsz, frames, k, 2})
	for b := range bsz {
		for f := range frames {
			for j := range k {
				var re, im float64
				for m := range n {
					w := 1.0
					if win != nil {
						w = win[m]
					}
					a := w * x.At(flat([]int{b, f*step + m, 0}, x.Shape))
					bi := 0.0
					if parts == 2 {
						bi = w * x.At(flat([]int{b, f*step + m, 1}, x.Shape))
					}
					th := -2 * math.Pi * float64(j) * float64(m) / float64(n)
					re += a*math.Cos(th) - bi*math.Sin(th)
					im += a*math.Sin(th) + bi*math.Cos(th)
				}
				y.F32[flat([]int{b, f, j, 0}, y.Shape)] = float32(re)
				y.F32[flat([]int{b, f, j, 1}, y.Shape)] = float32(im)
			}
		}
	}
	return y
}

func stftCases() []decompCase {
	scalar := func(v int) *ir.Tensor { return ir.FromI64([]int{}, []int64{int64(v)}) }
	hann := func(n int) []float64 {
		w := make([]float64, n)
		for i := range w {
			w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		}
		return w
	}
	f32 := func(w []float64) *ir.Tensor {
		t := ir.NewTensor(ir.F32, []int{len(w)})
		for i, v := range w {
			t.F32[i] = float32(v)
		}
		return t
	}
	var out []decompCase
	for i, tc := range []struct {
		x         []int
		step, n   int
		window    bool // a Hann window of length n
		length    bool // frame_length given
		onesided  int  // -1: left out (1)
		runtimeWn bool // the window computed from x (not constant)
	}{
		{x: []int{1, 16, 1}, step: 4, n: 8, window: true, onesided: -1},
		{x: []int{2, 20, 1}, step: 3, n: 6, length: true, onesided: 1},
		{x: []int{2, 10, 2}, step: 2, n: 4, window: true, length: true, onesided: 0},
		{x: []int{1, 12, 1}, step: 5, n: 7, window: true, onesided: 0},
		{x: []int{3, 9, 1}, step: 1, n: 9, onesided: 1},
		{x: []int{1, 13, 1}, step: 4, n: 5, window: true, onesided: 1, runtimeWn: true},
	} {
		var win []float64
		var params []*ir.Tensor
		params = append(params, scalar(tc.step))
		if tc.window {
			win = hann(tc.n)
			params = append(params, f32(win))
		} else {
			params = append(params, nil)
		}
		if tc.length || !tc.window {
			params = append(params, scalar(tc.n))
		}
		var attrs []*attrProto
		onesided := tc.onesided != 0
		if tc.onesided >= 0 {
			attrs = append(attrs, aInt("onesided", int64(tc.onesided)))
		}
		dc := decompCase{name: fmt.Sprintf("STFT/%d_%v_step%d_n%d_window%v_onesided%d", i, tc.x, tc.step, tc.n, tc.window, tc.onesided),
			opset: 17, op: "STFT", x: tc.x, attrs: attrs, params: params, tol: 1e-4,
			ref: func(x *ir.Tensor) *ir.Tensor { return stftRef(x, tc.step, tc.n, win, onesided) }}
		if tc.x[2] == 2 {
			dc.ortSkip = "ONNX Runtime 1.30 returns garbage (values near 1e34) for a complex signal"
		}
		if tc.runtimeWn { // the window is sigmoid of the first n samples: a mul, not folded
			dc.body = func(m *mb, p string) {
				m.init(p+"step", scalar(tc.step)).init(p+"st", i64s(0, 0, 0)).init(p+"en", i64s(1, int64(tc.n), 1)).init(p+"wshape", i64s(int64(tc.n))).
					node("Slice", []string{p + "x", p + "st", p + "en"}, []string{p + "head"}).
					node("Sigmoid", []string{p + "head"}, []string{p + "sig"}).
					node("Reshape", []string{p + "sig", p + "wshape"}, []string{p + "w"}).
					node("STFT", []string{p + "x", p + "step", p + "w"}, []string{p + "y"}, attrs...)
			}
			dc.ref = func(x *ir.Tensor) *ir.Tensor {
				w := make([]float64, tc.n)
				for m := range w {
					w[m] = float64(float32(1 / (1 + math.Exp(-x.At(m)))))
				}
				return stftRef(x, tc.step, tc.n, w, onesided)
			}
		}
		out = append(out, dc)
	}
	return out
}

// melRef is the mel filter bank by its definition.
func melRef(mels, dftLen, rate int, lo, hi float64) [][]float64 {
	bins := dftLen/2 + 1
	toMel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	lm, hm := toMel(lo), toMel(hi)
	pt := make([]int, mels+2)
	for i := range pt {
		mv := lm + float64(i)*(hm-lm)/float64(mels+2)
		pt[i] = int(math.Floor(float64(dftLen+1) * 700 * (math.Pow(10, mv/2595) - 1) / float64(rate)))
	}
	w := make([][]float64, bins)
	for j := range w {
		w[j] = make([]float64, mels)
		for i := range mels {
			l, c, h := pt[i], pt[i+1], pt[i+2]
			switch {
			case j == c && l == c:
				w[j][i] = 1
			case j >= l && j <= c && c > l:
				w[j][i] = float64(j-l) / float64(c-l)
			case j > c && j < h:
				w[j][i] = float64(h-j) / float64(h-c)
			}
		}
	}
	return w
}

func melCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		mels, dftLen, rate int
		lo, hi             float32
	}{
		{8, 16, 8000, 0, 4000},
		{10, 64, 16000, 20, 7600},
		{40, 512, 16000, 125, 7500},
		{4, 9, 1000, 100, 450},
	} {
		bins := tc.dftLen/2 + 1
		w := melRef(tc.mels, tc.dftLen, tc.rate, float64(tc.lo), float64(tc.hi))
		out = append(out, decompCase{name: fmt.Sprintf("MelWeightMatrix/%d_mels%d_dft%d_rate%d_%g-%gHz", i, tc.mels, tc.dftLen, tc.rate, tc.lo, tc.hi),
			opset: 17, op: "MelWeightMatrix", x: []int{2, bins}, lo: 0, hi: 4,
			body: func(m *mb, p string) {
				sc := func(v int) *ir.Tensor { return ir.FromI64([]int{}, []int64{int64(v)}) }
				m.init(p+"mels", sc(tc.mels)).init(p+"dft", sc(tc.dftLen)).init(p+"rate", sc(tc.rate)).
					init(p+"lo", ir.FromF32([]int{}, []float32{tc.lo})).init(p+"hi", ir.FromF32([]int{}, []float32{tc.hi})).
					node("MelWeightMatrix", []string{p + "mels", p + "dft", p + "rate", p + "lo", p + "hi"}, []string{p + "w"}).
					node("MatMul", []string{p + "x", p + "w"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut([]int{2, tc.mels}, func(ix []int) float64 {
					s := 0.0
					for j := range bins {
						s += x.At(ix[0]*bins+j) * w[j][ix[1]]
					}
					return s
				})
			}})
	}
	return out
}
