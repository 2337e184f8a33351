package tflite

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

type poolCase struct {
	h, w, c, fh, fw, sh, sw int
	same                    bool
	act                     int32 // TfLiteFusedActivation
}

func (c poolCase) opts() []byte {
	pad := int32(tflPadValid)
	if c.same {
		pad = tflPadSame
	}
	return structBytes(pad, int32(c.sw), int32(c.sh), int32(c.fw), int32(c.fh), c.act)
}

// argmaxPoolRef is MediaPipe's MaxPoolingWithArgmax2D from its definition:
// output size ceil(in/s) (SAME) or (in - f + s)/s (VALID), pad before
// max(((out-1)·s + f - in)/2, 0); per output, the window from out·s - pad
// clipped to the input, its first strict maximum (from the lowest float),
// clamped by RELU6 (act 3); the position y·fw + x from the window's
// origin, plus 0.1 in float32.
func argmaxPoolRef(a nd, c poolCase) (vals, pos nd) {
	size := func(in, f, s int) (int, int) {
		out := (in - f + s) / s
		if c.same {
			out = (in + s - 1) / s
		}
		return out, max(((out-1)*s+f-in)/2, 0)
	}
	oh, pt := size(c.h, c.fh, c.sh)
	ow, pl := size(c.w, c.fw, c.sw)
	vals, pos = newND(1, oh, ow, c.c), newND(1, oh, ow, c.c)
	for i := range vals.v {
		o := vals.index(i)
		y0, x0 := o[1]*c.sh-pt, o[2]*c.sw-pl
		best, by, bx := -math.MaxFloat32, 0, 0
		for fy := max(0, -y0); fy < min(c.fh, c.h-y0); fy++ {
			for fx := max(0, -x0); fx < min(c.fw, c.w-x0); fx++ {
				if v := a.at(0, y0+fy, x0+fx, o[3]); v > best {
					best, by, bx = v, fy, fx
				}
			}
		}
		if c.act == 3 {
			best = min(max(best, 0), 6)
		}
		vals.v[i] = best
		pos.v[i] = float64(float32(by*c.fw+bx) + float32(0.1))
	}
	return vals, pos
}

// unpoolRef is MediaPipe's MaxUnpooling2D from its definition: zeros of
// [1, h·fh, w·fw, C]; each input value written at its window's origin
// (y·s - pad, x·s - pad) plus (p / fw, p % fw), p its position truncated.
func unpoolRef(a, p nd, c poolCase) nd {
	oh, ow := c.h*c.fh, c.w*c.fw
	pt, pl := max(((c.h-1)*c.sh+c.fh-oh)/2, 0), max(((c.w-1)*c.sw+c.fw-ow)/2, 0)
	out := newND(1, oh, ow, c.c)
	for i := range a.v {
		o := a.index(i)
		k := int(p.v[i])
		y, x := o[1]*c.sh-pt+k/c.fw, o[2]*c.sw-pl+k%c.fw
		if y >= 0 && y < oh && x >= 0 && x < ow {
			out.v[out.flat([]int{0, y, x, o[3]})] = a.v[i]
		}
	}
	return out
}

func TestMaxPoolingWithArgmax2D(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	for _, c := range []poolCase{
		{h: 8, w: 6, c: 3, fh: 2, fw: 2, sh: 2, sw: 2, same: true},
		{h: 7, w: 5, c: 2, fh: 2, fw: 2, sh: 2, sw: 2, same: true},
		{h: 7, w: 5, c: 2, fh: 3, fw: 3, sh: 2, sw: 2, same: true},
		{h: 7, w: 9, c: 4, fh: 3, fw: 2, sh: 2, sw: 3, same: false},
		{h: 6, w: 6, c: 1, fh: 3, fw: 3, sh: 1, sw: 1, same: true, act: 3},
		{h: 5, w: 4, c: 2, fh: 1, fw: 1, sh: 2, sw: 2, same: false},
	} {
		vals, _ := argmaxPoolRef(newND(1, c.h, c.w, c.c), c)
		out := f32In(ints32(vals.shape)...)
		op := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "MaxPoolingWithArgmax2D", customOpts: c.opts(),
			ins: []opIn{f32In(1, int32(c.h), int32(c.w), int32(c.c))}, outs: []opIn{out, out}}
		x, a := randF32(rng, 1, c.h, c.w, c.c)
		if c.act == 3 {
			for i := range x.F32 { // some maxima above 6
				x.F32[i] *= 5
				a.v[i] = float64(x.F32[i])
			}
		}
		_, outs := op.run(t, x)
		wv, wp := argmaxPoolRef(a, c)
		near(t, fmt.Sprintf("%+v maxima", c), outs[0], wv, 0)
		near(t, fmt.Sprintf("%+v positions", c), outs[1], wp, 0)
	}
}

func TestMaxUnpooling2D(t *testing.T) {
	rng := rand.New(rand.NewSource(32))
	for _, c := range []poolCase{
		{h: 3, w: 4, c: 2, fh: 2, fw: 2, sh: 2, sw: 2, same: true},
		{h: 2, w: 3, c: 3, fh: 3, fw: 2, sh: 3, sw: 2, same: false},
	} {
		in := f32In(1, int32(c.h), int32(c.w), int32(c.c))
		op := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "MaxUnpooling2D", customOpts: c.opts(),
			ins: []opIn{in, in}, outs: []opIn{f32In(1, int32(c.h*c.fh), int32(c.w*c.fw), int32(c.c))}}
		x, a := randF32(rng, 1, c.h, c.w, c.c)
		p, pa := randF32(rng, 1, c.h, c.w, c.c)
		for i := range p.F32 {
			p.F32[i] = float32(rng.Intn(c.fh*c.fw)) + 0.1
			pa.v[i] = float64(p.F32[i])
		}
		_, outs := op.run(t, x, p)
		near(t, fmt.Sprintf("%+v", c), outs[0], unpoolRef(a, pa, c), 0)
	}
	bad := poolCase{h: 3, w: 3, c: 1, fh: 3, fw: 3, sh: 2, sw: 2, same: true}
	in := f32In(1, 3, 3, 1)
	oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "MaxUnpooling2D", customOpts: bad.opts(), ins: []opIn{in, in}, outs: []opIn{f32In(1, 9, 9, 1)}}.
		importErr(t, "strides 2x2 differ from the filter 3x3")
	oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "MaxUnpooling2D", customOpts: bad.opts()[:20], ins: []opIn{in, in}, outs: []opIn{f32In(1, 9, 9, 1)}}.
		importErr(t, "custom_options has 20 bytes; TfLitePoolParams needs 24")
}

// argmaxUnpoolModel is the hair segmentation models' pair: pool with
// argmax, then unpool the maxima to their positions.
func argmaxUnpoolModel(c poolCase) *tModel {
	in := []int32{1, int32(c.h), int32(c.w), int32(c.c)}
	pooled := []int32{1, int32(c.h / c.fh), int32(c.w / c.fw), int32(c.c)}
	return &tModel{
		tensors: []tTensor{{name: "x", shape: in}, {name: "max", shape: pooled}, {name: "pos", shape: pooled}, {name: "y", shape: in}},
		ops: []tOp{
			{code: fb.BuiltinOperatorCUSTOM, custom: "MaxPoolingWithArgmax2D", customOpts: c.opts(), in: []int32{0}, out: []int32{1, 2}},
			{code: fb.BuiltinOperatorCUSTOM, custom: "MaxUnpooling2D", customOpts: c.opts(), in: []int32{1, 2}, out: []int32{3}},
		},
		inputs: []int32{0}, outputs: []int32{3},
	}
}

// Pool then unpool keeps each window's maximum in place and zeros the rest.
func TestArgmaxUnpoolChain(t *testing.T) {
	c := poolCase{h: 6, w: 8, c: 3, fh: 2, fw: 2, sh: 2, sw: 2, same: true}
	g, err := ImportBytes("chain.tflite", argmaxUnpoolModel(c).build(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, a := randF32(rand.New(rand.NewSource(33)), 1, c.h, c.w, c.c)
	outs, err := interp(t, g).Run([]*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	want := newND(1, c.h, c.w, c.c).fill(func(o []int) float64 {
		y0, x0 := o[1]/2*2, o[2]/2*2
		for y := y0; y < y0+2; y++ {
			for x := x0; x < x0+2; x++ {
				if a.at(0, y, x, o[3]) > a.at(0, o[1], o[2], o[3]) {
					return 0
				}
			}
		}
		return a.at(0, o[1], o[2], o[3])
	})
	near(t, "pool, unpool", outs[0], want, 0)
	oneOp{}.lowers(t, g)
}

// customFamily is the MediaPipe custom ops side by side, for the compiled
// backends: transpose convs with bias (SAME stride 2, VALID stride 1 on an
// NCHW-only input), a max pool with positions (SAME, 3x3 stride 2, RELU6)
// the pool, unpool pair, and a landmark transform.
func customFamily(rng *rand.Rand) *tModel {
	t1, _ := tconvCase{n: 1, h: 5, w: 6, c: 3, o: 2, kh: 3, kw: 3, sh: 2, sw: 2, same: true}.model(rng)
	t2, _ := tconvCase{n: 1, h: 4, w: 4, c: 8, o: 4, kh: 2, kw: 2, sh: 1, sw: 1, pool: true}.model(rng)
	pc := poolCase{h: 7, w: 5, c: 2, fh: 3, fw: 3, sh: 2, sw: 2, same: true, act: 3}
	vals, _ := argmaxPoolRef(newND(1, pc.h, pc.w, pc.c), pc)
	out := f32In(ints32(vals.shape)...)
	pool := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "MaxPoolingWithArgmax2D", customOpts: pc.opts(),
		ins: []opIn{f32In(1, int32(pc.h), int32(pc.w), int32(pc.c))}, outs: []opIn{out, out}}
	lm := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TransformLandmarks", version: 2,
		ins: []opIn{f32In(1, 9, 3), f32In(1, 4, 4)}, outs: []opIn{f32In(1, 9, 3)}}
	return merge(t1.model(), t2.model(), pool.model(), argmaxUnpoolModel(poolCase{h: 6, w: 8, c: 3, fh: 2, fw: 2, sh: 2, sw: 2, same: true}), lm.model())
}
