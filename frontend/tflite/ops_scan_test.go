package tflite

import (
	"fmt"
	"math/rand"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

func TestReverseV2(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	shape := []int{2, 3, 4, 5}
	for _, axes := range [][]int32{{1}, {3, 0}, {-2}, {0, 1, 2, 3}} {
		for _, pool := range []bool{false, true} {
			rev := make([]bool, 4)
			for _, a := range axes {
				rev[(int(a)+4)%4] = true
			}
			x, a := randF32(rng, shape...)
			want := newND(shape...).fill(func(i []int) float64 {
				j := append([]int{}, i...)
				for d := range j {
					if rev[d] {
						j[d] = shape[d] - 1 - j[d]
					}
				}
				return a.at(j...)
			})
			op := oneOp{code: fb.BuiltinOperatorREVERSE_V2, ins: []opIn{f32In(ints32(shape)...), vecConst(axes...)}, outs: []opIn{f32In(ints32(shape)...)}, pool: pool}
			_, outs := op.run(t, x)
			near(t, fmt.Sprintf("axes %v pool %v", axes, pool), outs[0], want, 0)
		}
	}
	// int8 moves its stored integers.
	x, a := randI8(rng, 3, 4)
	op := oneOp{code: fb.BuiltinOperatorREVERSE_V2, ins: []opIn{i8In(0.1, 2, 3, 4), vecConst(1)}, outs: []opIn{i8In(0.1, 2, 3, 4)}}
	_, outs := op.run(t, x)
	near(t, "int8", outs[0], newND(3, 4).fill(func(i []int) float64 { return a.at(i[0], 3-i[1]) }), 0)
}

func TestGatherND(t *testing.T) {
	rng := rand.New(rand.NewSource(22))
	params := []int{3, 4, 5}
	for _, c := range []struct {
		ishape []int32
		idx    []int32
	}{
		{[]int32{2, 2}, []int32{0, 1, 2, 3}},
		{[]int32{2, 1, 3}, []int32{1, 2, 4, 2, 0, 0}},
		{[]int32{3, 1}, []int32{2, 0, 1}},
		{[]int32{2, 2, 2}, []int32{0, 0, 1, 3, 2, 2, 0, 3}},
	} {
		k := int(c.ishape[len(c.ishape)-1])
		lead := toInts(c.ishape[:len(c.ishape)-1])
		out := append(append([]int{}, lead...), params[k:]...)
		x, a := randF32(rng, params...)
		want := newND(out...).fill(func(i []int) float64 {
			row := 0
			for d, n := range lead {
				row = row*n + i[d]
			}
			j := make([]int, 0, 3)
			for d := 0; d < k; d++ {
				j = append(j, int(c.idx[row*k+d]))
			}
			return a.at(append(j, i[len(lead):]...)...)
		})
		op := oneOp{code: fb.BuiltinOperatorGATHER_ND, ins: []opIn{f32In(ints32(params)...), i32Const(c.ishape, c.idx...)}, outs: []opIn{f32In(ints32(out)...)}}
		_, outs := op.run(t, x)
		near(t, fmt.Sprint(c.ishape), outs[0], want, 0)
	}
	x, a := randI8(rng, 3, 4)
	op := oneOp{code: fb.BuiltinOperatorGATHER_ND, ins: []opIn{i8In(0.1, 2, 3, 4), i32Const([]int32{2, 2}, 2, 3, 0, 1)}, outs: []opIn{i8In(0.1, 2, 2)}}
	_, outs := op.run(t, x)
	near(t, "int8", outs[0], nd{shape: []int{2}, v: []float64{a.at(2, 3), a.at(0, 1)}}, 0)
	op = oneOp{code: fb.BuiltinOperatorGATHER_ND, ins: []opIn{f32In(3, 4), i32Const([]int32{1, 2}, 3, 0)}, outs: []opIn{f32In(1)}}
	op.importErr(t, "index 3 out of range")
}

func cumsumOpts(exclusive, reverse bool) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.CumsumOptionsStart(b)
		fb.CumsumOptionsAddExclusive(b, exclusive)
		fb.CumsumOptionsAddReverse(b, reverse)
		return fb.CumsumOptionsEnd(b)
	}
}

// cumsumRef is the sequential scan along axis.
func cumsumRef(a nd, axis int, exclusive, reverse bool, wrap32 bool) nd {
	out := newND(a.shape...)
	n := a.shape[axis]
	for i := range a.v {
		idx := a.index(i)
		sum := 0.0
		var isum int32
		for j := 0; j < n; j++ {
			if (!reverse && (j > idx[axis] || exclusive && j == idx[axis])) || (reverse && (j < idx[axis] || exclusive && j == idx[axis])) {
				continue
			}
			idx2 := append([]int{}, idx...)
			idx2[axis] = j
			sum += a.at(idx2...)
			isum += int32(a.at(idx2...))
		}
		out.v[i] = sum
		if wrap32 {
			out.v[i] = float64(isum)
		}
	}
	return out
}

func TestCumsum(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	shape := []int{2, 3, 4, 7}
	for _, axis := range []int{3, 1, -4} {
		for _, ex := range []bool{false, true} {
			for _, rev := range []bool{false, true} {
				for _, pool := range []bool{false, true} {
					x, a := randF32(rng, shape...)
					op := oneOp{code: fb.BuiltinOperatorCUMSUM, ins: []opIn{f32In(ints32(shape)...), i32Const([]int32{}, int32(axis))},
						outs: []opIn{f32In(ints32(shape)...)}, optType: fb.BuiltinOptionsCumsumOptions, opt: cumsumOpts(ex, rev), pool: pool}
					_, outs := op.run(t, x)
					near(t, fmt.Sprintf("axis %d exclusive %v reverse %v pool %v", axis, ex, rev, pool), outs[0], cumsumRef(a, (axis+4)%4, ex, rev, false), 1e-5)
				}
			}
		}
	}
	// i32: exact, wrapping.
	for _, ex := range []bool{false, true} {
		for _, rev := range []bool{false, true} {
			x := ir.NewTensor(ir.I32, []int{3, 9})
			a := newND(3, 9)
			for i := range x.I32 {
				x.I32[i] = int32(rng.Int63n(1<<32) - 1<<31)
				a.v[i] = float64(x.I32[i])
			}
			it := opIn{shape: []int32{3, 9}, typ: fb.TensorTypeINT32}
			op := oneOp{code: fb.BuiltinOperatorCUMSUM, ins: []opIn{it, i32Const([]int32{}, 1)}, outs: []opIn{it}, optType: fb.BuiltinOptionsCumsumOptions, opt: cumsumOpts(ex, rev)}
			_, outs := op.run(t, x)
			near(t, fmt.Sprintf("i32 exclusive %v reverse %v", ex, rev), outs[0], cumsumRef(a, 1, ex, rev, true), 0)
		}
	}
	op := oneOp{code: fb.BuiltinOperatorCUMSUM, ins: []opIn{i8In(0.1, 0, 2, 3), i32Const([]int32{}, 1)}, outs: []opIn{i8In(0.1, 0, 2, 3)}, optType: fb.BuiltinOptionsCumsumOptions, opt: cumsumOpts(false, false)}
	op.importErr(t, "TFLite's kernel takes float32, int32, int64")
}
