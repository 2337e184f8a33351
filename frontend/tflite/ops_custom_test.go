package tflite

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// structBytes is a C struct of int32 fields, as MediaPipe's models store
// their custom ops' options.
func structBytes(v ...int32) []byte { return i32Bytes(v...) }

// TfLitePadding values.
const (
	tflPadSame  = 1
	tflPadValid = 2
)

// transposeBiasRef is MediaPipe's Convolution2DTransposeBias computed here
// in float64 from its definition: the output size s·(in-1) + k - P with
// P = max(0, k - (in-1)%s - 1) for SAME, 0 for VALID; the bias everywhere,
// plus, per input pixel (y, x) and tap (ky, kx), w[o,ky,kx,i]·in[y,x,i]
// at output (y·s - P/2 + ky, x·s - P/2 + kx) when inside.
func transposeBiasRef(a nd, w nd, bias []float64, sh, sw int, same bool) nd {
	n, h, wd, ci := a.shape[0], a.shape[1], a.shape[2], a.shape[3]
	co, kh, kw := w.shape[0], w.shape[1], w.shape[2]
	pad := func(in, k, s int) int {
		if !same {
			return 0
		}
		return max(0, k-(in-1)%s-1)
	}
	ph, pw := pad(h, kh, sh), pad(wd, kw, sw)
	oh, ow := sh*(h-1)+kh-ph, sw*(wd-1)+kw-pw
	out := newND(n, oh, ow, co)
	for i := range out.v {
		out.v[i] = bias[i%co]
	}
	for b := 0; b < n; b++ {
		for y := 0; y < h; y++ {
			for x := 0; x < wd; x++ {
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						oy, ox := y*sh-ph/2+ky, x*sw-pw/2+kx
						if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
							continue
						}
						for o := 0; o < co; o++ {
							for i := 0; i < ci; i++ {
								out.v[out.flat([]int{b, oy, ox, o})] += a.at(b, y, x, i) * w.at(o, ky, kx, i)
							}
						}
					}
				}
			}
		}
	}
	return out
}

type tconvCase struct {
	n, h, w, c, o, kh, kw, sh, sw int
	same, pool                    bool
}

// model builds the one-op model of c with random weights and bias, and
// returns it with the reference for input a.
func (c tconvCase) model(rng *rand.Rand) (oneOp, func(a nd) nd) {
	wt, wa := randF32(rng, c.o, c.kh, c.kw, c.c)
	bt, ba := randF32(rng, c.o)
	pad := int32(tflPadValid)
	if c.same {
		pad = tflPadSame
	}
	ref := func(a nd) nd { return transposeBiasRef(a, wa, ba.v, c.sh, c.sw, c.same) }
	out := ref(newND(c.n, c.h, c.w, c.c)).shape
	op := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "Convolution2DTransposeBias", customOpts: structBytes(pad, int32(c.sw), int32(c.sh)),
		ins:  []opIn{f32In(int32(c.n), int32(c.h), int32(c.w), int32(c.c)), f32Const(ints32(wt.Shape), wt.F32...), f32Const([]int32{int32(c.o)}, bt.F32...)},
		outs: []opIn{f32In(ints32(out)...)}, pool: c.pool}
	return op, ref
}

// MediaPipe's transpose conv with bias against the float64 reference, with
// SAME and VALID padding, strides 1 and 2 (and unequal ones), kernels
// larger than, equal to and smaller than the stride, several channel
// counts, and an input that exists only in NCHW.
func TestConvolution2DTransposeBias(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	var cases []tconvCase
	for _, same := range []bool{true, false} {
		for _, s := range []int{1, 2} {
			for _, k := range []int{1, 2, 3, 4} {
				for _, ch := range [][2]int{{1, 1}, {3, 2}, {8, 5}} {
					cases = append(cases, tconvCase{n: 1, h: 4, w: 5, c: ch[0], o: ch[1], kh: k, kw: k, sh: s, sw: s, same: same})
				}
			}
		}
		cases = append(cases,
			tconvCase{n: 2, h: 3, w: 6, c: 4, o: 3, kh: 3, kw: 2, sh: 2, sw: 3, same: same},
			tconvCase{n: 1, h: 5, w: 4, c: 16, o: 1, kh: 2, kw: 2, sh: 2, sw: 2, same: same, pool: true},
			tconvCase{n: 1, h: 1, w: 1, c: 2, o: 3, kh: 3, kw: 3, sh: 2, sw: 2, same: same})
	}
	for _, c := range cases {
		op, ref := c.model(rng)
		x, a := randF32(rng, c.n, c.h, c.w, c.c)
		g, outs := op.run(t, x)
		if n := countOps(g)["conv_transpose"]; n != 1 {
			t.Fatalf("%+v: %d conv_transpose:\n%s", c, n, g)
		}
		near(t, fmt.Sprintf("%+v", c), outs[0], ref(a), 1e-4)
	}
}

// The selfie segmentation models' case, checked by hand: k = s = 2, SAME
// and an even input size give P = max(0, 2 - 1 - 1) = 0, so each input
// pixel becomes a 2x2 block of w·x + b. (An odd size gives P = 1: the
// output loses its last row or column.)
func TestConvolution2DTransposeBiasBlocks(t *testing.T) {
	op := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "Convolution2DTransposeBias", customOpts: structBytes(tflPadSame, 2, 2),
		ins:  []opIn{f32In(1, 2, 2, 1), f32Const([]int32{1, 2, 2, 1}, 1, 2, 3, 4), f32Const([]int32{1}, 0.5)},
		outs: []opIn{f32In(1, 4, 4, 1)}}
	x, _ := randF32(rand.New(rand.NewSource(1)), 1, 2, 2, 1)
	copy(x.F32, []float32{1, 10, 100, 1000})
	_, outs := op.run(t, x)
	want := nd{shape: []int{1, 4, 4, 1}, v: []float64{
		1.5, 2.5, 10.5, 20.5,
		3.5, 4.5, 30.5, 40.5,
		100.5, 200.5, 1000.5, 2000.5,
		300.5, 400.5, 3000.5, 4000.5}}
	near(t, "blocks", outs[0], want, 0)
	op.ins[0], op.outs[0] = f32In(1, 3, 2, 1), f32In(1, 5, 4, 1)
	x, _ = randF32(rand.New(rand.NewSource(1)), 1, 3, 2, 1)
	if _, outs = op.run(t, x); outs[0].Shape[1] != 5 {
		t.Errorf("odd height 3 gives output height %d, want 5", outs[0].Shape[1])
	}
}

// Malformed options and types are errors naming the op and the reason;
// an unknown custom code names itself.
func TestCustomOpErrors(t *testing.T) {
	base := func() oneOp {
		return oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "Convolution2DTransposeBias", customOpts: structBytes(tflPadSame, 2, 2),
			ins:  []opIn{f32In(1, 4, 4, 2), f32Const([]int32{1, 2, 2, 2}, 1, 2, 3, 4, 5, 6, 7, 8), f32Const([]int32{1}, 0.5)},
			outs: []opIn{f32In(1, 8, 8, 1)}}
	}
	if _, err := ImportBytes("op.tflite", base().model().build(), Options{}); err != nil {
		t.Fatalf("the base model does not import: %v", err)
	}
	for _, c := range []struct {
		edit func(o *oneOp)
		want string
	}{
		{func(o *oneOp) { o.customOpts = o.customOpts[:8] }, "custom_options has 8 bytes; TfLiteTransposeConvParams needs 12"},
		{func(o *oneOp) { o.customOpts = nil }, "custom_options has 0 bytes"},
		{func(o *oneOp) { o.customOpts = structBytes(0, 2, 2) }, "padding 0 in custom_options is neither SAME (1) nor VALID (2)"},
		{func(o *oneOp) { o.customOpts = structBytes(tflPadSame, 0, 2) }, "strides 2x0 must be positive"},
		{func(o *oneOp) { o.outs = []opIn{f32In(1, 7, 7, 1)} }, "the model declares f32[1,1,7,7]"},
		{func(o *oneOp) { o.ins[1] = f32In(1, 2, 2, 2) }, "weights (input 1) must be constant"},
		{func(o *oneOp) { o.ins[2] = f32Const([]int32{2}, 1, 2) }, "bias [2] must be [1]"},
		{func(o *oneOp) { o.ins = o.ins[:2] }, "takes at least 3 inputs"},
		{func(o *oneOp) { o.ins[0] = i8In(0.1, 0, 1, 4, 4, 2); o.outs = []opIn{i8In(0.1, 0, 1, 8, 8, 1)} }, "unsupported: quantized CUSTOM"},
	} {
		o := base()
		c.edit(&o)
		o.importErr(t, c.want)
	}
	_, err := ImportBytes("op.tflite", oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TransformTensorBilinear", ins: []opIn{f32In(1, 2)}, outs: []opIn{f32In(1, 2)}}.model().build(), Options{})
	for _, s := range []string{"op.tflite: subgraph 0 operator 0: ", `unsupported op CUSTOM (custom code "TransformTensorBilinear")`,
		"CUSTOM Convolution2DTransposeBias, CUSTOM MaxPoolingWithArgmax2D, CUSTOM MaxUnpooling2D, CUSTOM TFLite_Detection_PostProcess, CUSTOM TransformLandmarks, DENSIFY"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not say %q", err, s)
		}
	}
}
