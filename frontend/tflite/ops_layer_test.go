package tflite

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

func TestBatchMatMul(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, c := range []struct {
		a, b       []int
		adjX, adjY bool
		constB     bool
		out        []int
	}{
		{a: []int{2, 3, 4}, b: []int{2, 4, 5}, out: []int{2, 3, 5}},
		{a: []int{2, 4, 3}, b: []int{2, 4, 5}, adjX: true, out: []int{2, 3, 5}},
		{a: []int{2, 3, 4}, b: []int{2, 5, 4}, adjY: true, out: []int{2, 3, 5}},
		{a: []int{2, 1, 3, 4}, b: []int{3, 4, 5}, out: []int{2, 3, 3, 5}},
		{a: []int{3, 4}, b: []int{5, 4}, adjY: true, constB: true, out: []int{3, 5}},
		{a: []int{2, 4, 3}, b: []int{1, 5, 4}, adjX: true, adjY: true, constB: true, out: []int{2, 3, 5}},
	} {
		name := fmt.Sprintf("%v×%v adj %v %v", c.a, c.b, c.adjX, c.adjY)
		x, a := randF32(rng, c.a...)
		y, b := randF32(rng, c.b...)
		bin := f32In(ints32(c.b)...)
		feeds := []*ir.Tensor{x, y}
		if c.constB {
			bin = f32Const(ints32(c.b), y.F32...)
			feeds = feeds[:1]
		}
		op := oneOp{code: fb.BuiltinOperatorBATCH_MATMUL, ins: []opIn{f32In(ints32(c.a)...), bin}, outs: []opIn{f32In(ints32(c.out)...)},
			optType: fb.BuiltinOptionsBatchMatMulOptions, opt: func(bb *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.BatchMatMulOptionsStart(bb)
				fb.BatchMatMulOptionsAddAdjX(bb, c.adjX)
				fb.BatchMatMulOptionsAddAdjY(bb, c.adjY)
				return fb.BatchMatMulOptionsEnd(bb)
			}}
		_, outs := op.run(t, feeds...)
		r := len(c.out)
		k := c.a[len(c.a)-1]
		if c.adjX {
			k = c.a[len(c.a)-2]
		}
		// elem reads operand m at batch index o (broadcast) and matrix position (i, j) before adjoint.
		elem := func(m nd, adj bool, o []int, i, j int) float64 {
			if adj {
				i, j = j, i
			}
			idx := make([]int, len(m.shape))
			off := r - len(m.shape)
			for d := 0; d < len(m.shape)-2; d++ {
				if m.shape[d] != 1 {
					idx[d] = o[off+d]
				}
			}
			idx[len(idx)-2], idx[len(idx)-1] = i, j
			return m.at(idx...)
		}
		want := newND(c.out...).fill(func(o []int) float64 {
			s := 0.0
			for kk := 0; kk < k; kk++ {
				s += elem(a, c.adjX, o, o[r-2], kk) * elem(b, c.adjY, o, kk, o[r-1])
			}
			return s
		})
		near(t, name, outs[0], want, 1e-4)
	}
}

// quantizeMultiplier is TFLite's QuantizeMultiplier: m = q·2^shift with q
// in [0.5, 1) as a Q31 mantissa (rounded half away from zero).
func quantizeMultiplier(m float64) (int32, int) {
	if m == 0 {
		return 0, 0
	}
	q, shift := math.Frexp(m)
	fixed := int64(math.Round(q * (1 << 31)))
	if fixed == 1<<31 {
		fixed /= 2
		shift++
	}
	if shift < -31 {
		return 0, 0
	}
	return int32(fixed), shift
}

// multiplyByQuantizedMultiplier is TFLite's fixed-point x·q·2^shift:
// a rounding doubling high multiply, then a rounding right shift.
func multiplyByQuantizedMultiplier(x, q int32, shift int) int32 {
	left, right := max(shift, 0), max(-shift, 0)
	a := x * (1 << left)
	var high int32
	if a == math.MinInt32 && q == math.MinInt32 {
		high = math.MaxInt32
	} else {
		ab := int64(a) * int64(q)
		nudge := int64(1 << 30)
		if ab < 0 {
			nudge = 1 - 1<<30
		}
		high = int32((ab + nudge) / (1 << 31))
	}
	mask := int32(1)<<right - 1
	rem, threshold := high&mask, mask>>1
	if high < 0 {
		threshold++
	}
	out := high >> right
	if rem > threshold {
		out++
	}
	return out
}

// An int8 BATCH_MATMUL is TFLite's integer kernel: Σ(a-za)(b-zb),
// requantized by the multiplier of float32(sa·sb)/sy, clamped to int8.
func TestBatchMatMulInt8(t *testing.T) {
	rng := rand.New(rand.NewSource(15))
	const sa, za, sb, zb, sy, zy = 0.05, -3, 0.02, 4, 0.09, 7
	for _, adjY := range []bool{false, true} {
		bShape := []int{2, 4, 5}
		if adjY {
			bShape = []int{2, 5, 4}
		}
		op := oneOp{code: fb.BuiltinOperatorBATCH_MATMUL, ins: []opIn{i8In(sa, za, 2, 3, 4), i8In(sb, zb, ints32(bShape)...)}, outs: []opIn{i8In(sy, zy, 2, 3, 5)},
			optType: fb.BuiltinOptionsBatchMatMulOptions, opt: func(bb *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.BatchMatMulOptionsStart(bb)
				fb.BatchMatMulOptionsAddAdjY(bb, adjY)
				return fb.BatchMatMulOptionsEnd(bb)
			}}
		x, a := randI8(rng, 2, 3, 4)
		y, b := randI8(rng, bShape...)
		g, outs := op.run(t, x, y)
		if n := countOps(g)["matmul"]; n != 1 {
			t.Fatalf("%d matmuls:\n%s", n, g)
		}
		qm, shift := quantizeMultiplier(float64(float32(sa)*float32(sb)) / float64(float32(sy)))
		want := newND(2, 3, 5).fill(func(o []int) float64 {
			var acc int32
			for k := 0; k < 4; k++ {
				bv := b.at(o[0], k, o[2])
				if adjY {
					bv = b.at(o[0], o[2], k)
				}
				acc += int32(a.at(o[0], o[1], k)-za) * int32(bv-zb)
			}
			return float64(min(max(multiplyByQuantizedMultiplier(acc, qm, shift)+zy, -128), 127))
		})
		near(t, fmt.Sprintf("adj_y %v", adjY), outs[0], want, 0)
	}
}

func transposeConvOpts(pad fb.Padding, s int32, act fb.ActivationFunctionType) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.TransposeConvOptionsStart(b)
		fb.TransposeConvOptionsAddPadding(b, pad)
		fb.TransposeConvOptionsAddStrideH(b, s)
		fb.TransposeConvOptionsAddStrideW(b, s)
		fb.TransposeConvOptionsAddFusedActivationFunction(b, act)
		return fb.TransposeConvOptionsEnd(b)
	}
}

// TRANSPOSE_CONV against the scatter TFLite's reference kernel defines:
// input pixel (y, x) adds w·value at output (y·s - pad + ky, x·s - pad + kx),
// the padding before being that of a SAME conv from the output size.
func TestTransposeConv(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const C, O = 3, 2
	for _, c := range []struct {
		h, w, k, s, oh, ow int
		pad                fb.Padding
		bias               bool
		act                fb.ActivationFunctionType
	}{
		{h: 4, w: 5, k: 3, s: 2, oh: 8, ow: 10, pad: fb.PaddingSAME, bias: true},
		{h: 4, w: 5, k: 3, s: 2, oh: 7, ow: 9, pad: fb.PaddingSAME, act: fb.ActivationFunctionTypeRELU},
		{h: 4, w: 5, k: 3, s: 2, oh: 9, ow: 11, pad: fb.PaddingVALID, bias: true},
		{h: 4, w: 5, k: 4, s: 2, oh: 10, ow: 12, pad: fb.PaddingVALID},
		{h: 4, w: 5, k: 2, s: 2, oh: 8, ow: 10, pad: fb.PaddingVALID},
		{h: 3, w: 3, k: 3, s: 1, oh: 3, ow: 3, pad: fb.PaddingSAME, bias: true, act: fb.ActivationFunctionTypeRELU6},
	} {
		name := fmt.Sprintf("%dx%d k%d s%d → %dx%d %v", c.h, c.w, c.k, c.s, c.oh, c.ow, c.pad)
		x, a := randF32(rng, 1, c.h, c.w, C)
		wt, wa := randF32(rng, O, c.k, c.k, C)
		bias := newND(O)
		ins := []opIn{vecConst(1, int32(c.oh), int32(c.ow), O), f32Const([]int32{O, int32(c.k), int32(c.k), C}, wt.F32...), f32In(1, int32(c.h), int32(c.w), C)}
		if c.bias {
			bias.v = []float64{0.5, -0.25}
			ins = append(ins, f32Const([]int32{O}, 0.5, -0.25))
		}
		op := oneOp{code: fb.BuiltinOperatorTRANSPOSE_CONV, ins: ins, outs: []opIn{f32In(1, int32(c.oh), int32(c.ow), O)},
			optType: fb.BuiltinOptionsTransposeConvOptions, opt: transposeConvOpts(c.pad, int32(c.s), c.act)}
		_, outs := op.run(t, x)
		padOf := func(out int) int {
			if c.pad == fb.PaddingVALID {
				return 0
			}
			conv := (out + c.s - 1) / c.s
			return max((conv-1)*c.s+c.k-out, 0) / 2
		}
		pt, pl := padOf(c.oh), padOf(c.ow)
		want := newND(1, c.oh, c.ow, O)
		for i := range want.v {
			want.v[i] = bias.v[i%O]
		}
		for y := 0; y < c.h; y++ {
			for xx := 0; xx < c.w; xx++ {
				for ky := 0; ky < c.k; ky++ {
					for kx := 0; kx < c.k; kx++ {
						oy, ox := y*c.s-pt+ky, xx*c.s-pl+kx
						if oy < 0 || oy >= c.oh || ox < 0 || ox >= c.ow {
							continue
						}
						for o := 0; o < O; o++ {
							for ci := 0; ci < C; ci++ {
								want.v[want.flat([]int{0, oy, ox, o})] += a.at(0, y, xx, ci) * wa.at(o, ky, kx, ci)
							}
						}
					}
				}
			}
		}
		for i, v := range want.v {
			switch c.act {
			case fb.ActivationFunctionTypeRELU:
				want.v[i] = max(v, 0)
			case fb.ActivationFunctionTypeRELU6:
				want.v[i] = min(max(v, 0), 6)
			}
		}
		near(t, name, outs[0], want, 1e-4)
	}
}

func resizeOpts(linear, ac, hp bool) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		if linear {
			fb.ResizeBilinearOptionsStart(b)
			fb.ResizeBilinearOptionsAddAlignCorners(b, ac)
			fb.ResizeBilinearOptionsAddHalfPixelCenters(b, hp)
			return fb.ResizeBilinearOptionsEnd(b)
		}
		fb.ResizeNearestNeighborOptionsStart(b)
		fb.ResizeNearestNeighborOptionsAddAlignCorners(b, ac)
		fb.ResizeNearestNeighborOptionsAddHalfPixelCenters(b, hp)
		return fb.ResizeNearestNeighborOptionsEnd(b)
	}
}

// resizeRef is TFLite's source coordinate of output i in float32, as its
// reference kernels compute it.
func resizeRef(i, in, out int, ac, hp bool) float32 {
	scale := float32(in) / float32(out)
	if ac && out > 1 {
		scale = float32(in-1) / float32(out-1)
	}
	if hp {
		return (float32(i)+0.5)*scale - 0.5
	}
	return float32(i) * scale
}

func nearestRef(i, in, out int, ac, hp bool) int {
	x := resizeRef(i, in, out, ac, hp)
	if hp {
		x += 0.5 // the kernel offsets by 0.5 instead of shifting back
	}
	var j int
	if ac {
		j = int(math.Round(float64(x)))
	} else {
		j = int(math.Floor(float64(x)))
	}
	return max(min(j, in-1), 0)
}

func TestResize(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for _, sz := range [][4]int{{4, 5, 8, 10}, {4, 5, 7, 9}, {8, 10, 4, 5}, {6, 6, 4, 9}, {1, 3, 2, 6}} {
		for _, linear := range []bool{true, false} {
			for _, typ := range []fb.TensorType{fb.TensorTypeFLOAT32, fb.TensorTypeINT8} {
				if linear && typ == fb.TensorTypeINT8 {
					continue
				}
				for _, mode := range [][2]bool{{false, false}, {true, false}, {false, true}} {
					for _, pool := range []bool{false, true} {
						ac, hp := mode[0], mode[1]
						h, w, oh, ow := sz[0], sz[1], sz[2], sz[3]
						name := fmt.Sprintf("%dx%d→%dx%d linear=%v %v ac=%v hp=%v pool=%v", h, w, oh, ow, linear, typ, ac, hp, pool)
						code := fb.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR
						optType := fb.BuiltinOptionsResizeNearestNeighborOptions
						if linear {
							code, optType = fb.BuiltinOperatorRESIZE_BILINEAR, fb.BuiltinOptionsResizeBilinearOptions
						}
						in, out := opIn{shape: []int32{1, int32(h), int32(w), 2}, typ: typ}, opIn{shape: []int32{1, int32(oh), int32(ow), 2}, typ: typ}
						x, a := randF32(rng, 1, h, w, 2)
						if typ == fb.TensorTypeINT8 {
							in.scale, in.zp, out.scale, out.zp = 0.1, 2, 0.1, 2
							x, a = randI8(rng, 1, h, w, 2)
						}
						op := oneOp{code: code, ins: []opIn{in, vecConst(int32(oh), int32(ow))}, outs: []opIn{out},
							optType: optType, opt: resizeOpts(linear, ac, hp), pool: pool}
						_, outs := op.run(t, x)
						want := newND(1, oh, ow, 2).fill(func(o []int) float64 {
							if !linear {
								return a.at(0, nearestRef(o[1], h, oh, ac, hp), nearestRef(o[2], w, ow, ac, hp), o[3])
							}
							y, xx := float64(resizeRef(o[1], h, oh, ac, hp)), float64(resizeRef(o[2], w, ow, ac, hp))
							y0, x0 := math.Floor(y), math.Floor(xx)
							dy, dx := y-y0, xx-x0
							iy0, iy1 := max(int(y0), 0), min(int(math.Ceil(y)), h-1)
							ix0, ix1 := max(int(x0), 0), min(int(math.Ceil(xx)), w-1)
							return a.at(0, iy0, ix0, o[3])*(1-dy)*(1-dx) + a.at(0, iy1, ix0, o[3])*dy*(1-dx) +
								a.at(0, iy0, ix1, o[3])*(1-dy)*dx + a.at(0, iy1, ix1, o[3])*dy*dx
						})
						near(t, name, outs[0], want, 1e-5)
					}
				}
			}
		}
	}
}
