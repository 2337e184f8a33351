package tflite

import (
	"fmt"
	"math"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

func i64Const(v ...int64) opIn {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		for k := 0; k < 8; k++ {
			b = append(b, byte(uint64(x)>>(8*k)))
		}
	}
	return opIn{shape: []int32{int32(len(v))}, typ: fb.TensorTypeINT64, data: b}
}

// constOut checks that output 0 is a constant equal to want.
func constOut(t *testing.T, what string, g *ir.Graph, got *ir.Tensor, want nd) {
	t.Helper()
	if !g.Results[0].IsConst() {
		t.Errorf("%s: the result is not a constant\n%s", what, g)
	}
	near(t, what, got, want, 0)
}

func TestFill(t *testing.T) {
	x := ir.NewTensor(ir.F32, []int{})
	// A constant value: a constant of the dims.
	op := oneOp{code: fb.BuiltinOperatorFILL, ins: []opIn{vecConst(2, 3), f32Const([]int32{}, 1.5), f32In(1)}, outs: []opIn{f32In(2, 3)}}
	g, outs := op.run(t, ir.NewTensor(ir.F32, []int{1}))
	constOut(t, "f32", g, outs[0], newND(2, 3).fill(func([]int) float64 { return 1.5 }))
	op = oneOp{code: fb.BuiltinOperatorFILL, ins: []opIn{i64Const(3, 1, 2), i32Const([]int32{}, -7), f32In(1)}, outs: []opIn{{shape: []int32{3, 1, 2}, typ: fb.TensorTypeINT32}}}
	g, outs = op.run(t, ir.NewTensor(ir.F32, []int{1}))
	constOut(t, "i32", g, outs[0], newND(3, 1, 2).fill(func([]int) float64 { return -7 }))
	q := opIn{shape: []int32{}, typ: fb.TensorTypeINT8, data: []byte{0xfb}, scale: 0.5, zp: 3}
	op = oneOp{code: fb.BuiltinOperatorFILL, ins: []opIn{vecConst(2, 2), q, f32In(1)}, outs: []opIn{i8In(0.5, 3, 2, 2)}}
	g, outs = op.run(t, ir.NewTensor(ir.F32, []int{1}))
	constOut(t, "int8", g, outs[0], newND(2, 2).fill(func([]int) float64 { return -5 }))
	if q := g.Results[0].Type.Quant; q == nil || q.Scale[0] != 0.5 || q.ZeroPoint[0] != 3 {
		t.Errorf("int8 FILL quantization %v", q)
	}
	// A computed value: an expand.
	op = oneOp{code: fb.BuiltinOperatorFILL, ins: []opIn{vecConst(2, 1, 3), f32In()}, outs: []opIn{f32In(2, 1, 3)}}
	x.F32[0] = 2.25
	_, outs = op.run(t, x)
	near(t, "computed", outs[0], newND(2, 1, 3).fill(func([]int) float64 { return 2.25 }), 0)
	op = oneOp{code: fb.BuiltinOperatorFILL, ins: []opIn{vecConst(2, 4), f32In()}, outs: []opIn{f32In(2, 3)}}
	op.importErr(t, "differ from the output's shape")
}

func TestZerosLike(t *testing.T) {
	op := oneOp{code: fb.BuiltinOperatorZEROS_LIKE, ins: []opIn{f32In(2, 3)}, outs: []opIn{f32In(2, 3)}}
	x := ir.FromF32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	g, outs := op.run(t, x)
	constOut(t, "f32", g, outs[0], newND(2, 3))
	op = oneOp{code: fb.BuiltinOperatorZEROS_LIKE, ins: []opIn{{shape: []int32{4}, typ: fb.TensorTypeINT64}}, outs: []opIn{{shape: []int32{4}, typ: fb.TensorTypeINT64}}}
	g, outs = op.run(t, ir.FromI64([]int{4}, []int64{1, 2, 3, 4}))
	constOut(t, "i64", g, outs[0], newND(4))
}

func TestRange(t *testing.T) {
	i32 := func(n int32) opIn { return opIn{shape: []int32{n}, typ: fb.TensorTypeINT32} }
	scalar := func(v int32) opIn { return i32Const([]int32{}, v) }
	fs := func(v float32) opIn { return f32Const([]int32{}, v) }
	for _, c := range []struct {
		ins  []opIn
		out  opIn
		want []float64
	}{
		{[]opIn{scalar(3), scalar(10), scalar(3)}, i32(3), []float64{3, 6, 9}},
		{[]opIn{scalar(10), scalar(3), scalar(-3)}, i32(3), []float64{10, 7, 4}},
		{[]opIn{scalar(2), scalar(2), scalar(1)}, i32(0), []float64{}},
		{[]opIn{fs(0.5), fs(2), fs(0.25)}, f32In(6), []float64{0.5, 0.75, 1, 1.25, 1.5, 1.75}},
		{[]opIn{fs(1), fs(-0.5), fs(-0.5)}, f32In(3), []float64{1, 0.5, 0}},
	} {
		op := oneOp{code: fb.BuiltinOperatorRANGE, ins: append(c.ins, f32In(1)), outs: []opIn{c.out}}
		g, outs := op.run(t, ir.NewTensor(ir.F32, []int{1}))
		constOut(t, fmt.Sprint(c.want), g, outs[0], nd{shape: []int{len(c.want)}, v: c.want})
	}
	// float32 accumulation as TFLite's kernel: 0.1 added 7 times.
	var want []float64
	for v := float32(0); len(want) < 7; v += 0.1 {
		want = append(want, float64(v))
	}
	op := oneOp{code: fb.BuiltinOperatorRANGE, ins: []opIn{fs(0), fs(0.7), fs(0.1), f32In(1)}, outs: []opIn{f32In(int32(math.Ceil(float64(float32(0.7) / float32(0.1)))))}}
	if n := op.outs[0].shape[0]; n == 7 {
		g, outs := op.run(t, ir.NewTensor(ir.F32, []int{1}))
		constOut(t, "0.1 steps", g, outs[0], nd{shape: []int{7}, v: want})
	}
	op = oneOp{code: fb.BuiltinOperatorRANGE, ins: []opIn{scalar(0), scalar(10), scalar(3), f32In(1)}, outs: []opIn{i32(3)}}
	op.importErr(t, "the range has 4 elements")
	op = oneOp{code: fb.BuiltinOperatorRANGE, ins: []opIn{scalar(0), scalar(10), scalar(-1), f32In(1)}, outs: []opIn{i32(3)}}
	op.importErr(t, "does not lead")
}

func oneHotOpts(axis int32) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.OneHotOptionsStart(b)
		fb.OneHotOptionsAddAxis(b, axis)
		return fb.OneHotOptionsEnd(b)
	}
}

func TestOneHot(t *testing.T) {
	idx := []int32{0, 2, -1, 1, 3, 1}
	for _, axis := range []int32{-1, 0, 1} {
		shape := []int{2, 3}
		out := append(append(append([]int{}, shape[:(int(axis)+3)%3]...), 3), shape[(int(axis)+3)%3:]...)
		if axis == -1 {
			out = []int{2, 3, 3}
		}
		a := int(axis)
		if a == -1 {
			a = 2
		}
		want := newND(out...).fill(func(i []int) float64 {
			rest := append(append([]int{}, i[:a]...), i[a+1:]...)
			if int(idx[rest[0]*3+rest[1]]) == i[a] {
				return 5
			}
			return -1
		})
		op := oneOp{code: fb.BuiltinOperatorONE_HOT, ins: []opIn{i32Const([]int32{2, 3}, idx...), i32Const([]int32{}, 3), f32Const([]int32{}, 5), f32Const([]int32{}, -1), f32In(1)},
			outs: []opIn{f32In(ints32(out)...)}, optType: fb.BuiltinOptionsOneHotOptions, opt: oneHotOpts(axis)}
		g, outs := op.run(t, ir.NewTensor(ir.F32, []int{1}))
		constOut(t, fmt.Sprintf("axis %d", axis), g, outs[0], want)
	}
	op := oneOp{code: fb.BuiltinOperatorONE_HOT, ins: []opIn{f32In(2), i32Const([]int32{}, 3), f32Const([]int32{}, 5), f32Const([]int32{}, -1)},
		outs: []opIn{f32In(2, 3)}, optType: fb.BuiltinOptionsOneHotOptions, opt: oneHotOpts(-1)}
	op.importErr(t, "indices must be a constant")
}
