package tflite

import (
	"math/rand"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// A chain of ops imports to the same function whether each op reads its
// input in NCHW (as the import keeps activations after a conv) or in NHWC
// (a RESHAPE to the same shape between every two ops forces the model's
// layout): the layout bookkeeping of every converter agrees with the plain
// conversion. The chained graph also lowers with codegen, with few
// transposes.

type link struct {
	code    fb.BuiltinOperator
	consts  []opIn // inputs after the chain's value
	side    bool   // input 1 is the chain's value before the previous link
	out     []int32
	optType fb.BuiltinOptions
	opt     optFn
}

// chainModel builds x → CONV_2D 1x1 → links..., with RESHAPE barriers between links when plain.
func chainModel(in []int32, links []link, plain bool) *tModel {
	c := in[3]
	w := make([]float32, c*c)
	for i := range w {
		w[i] = float32(i%5)/4 - 0.5
	}
	m := &tModel{tensors: []tTensor{
		{name: "x", shape: in, typ: fb.TensorTypeFLOAT32},
		{name: "w", shape: []int32{c, 1, 1, c}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(w...)},
		{name: "conv", shape: in, typ: fb.TensorTypeFLOAT32},
	}, inputs: []int32{0}}
	m.ops = []tOp{{code: fb.BuiltinOperatorCONV_2D, in: []int32{0, 1, -1}, out: []int32{2}, optType: fb.BuiltinOptionsConv2DOptions,
		opt: convOptions(fb.PaddingVALID, 1, 1, fb.ActivationFunctionTypeNONE)}}
	add := func(name string, shape []int32, data []byte) int32 {
		m.tensors = append(m.tensors, tTensor{name: name, shape: shape, typ: fb.TensorTypeFLOAT32, data: data})
		return int32(len(m.tensors) - 1)
	}
	cur, prev := int32(2), int32(0)
	for k, l := range links {
		if plain {
			b := add("barrier", m.tensors[cur].shape, nil)
			m.ops = append(m.ops, tOp{code: fb.BuiltinOperatorRESHAPE, in: []int32{cur}, out: []int32{b}})
			cur = b
		}
		ins := []int32{cur}
		if l.side {
			ins = append(ins, prev)
		}
		for _, c := range l.consts {
			m.tensors = append(m.tensors, tTensor{name: "c", shape: c.shape, typ: c.typ, data: c.data})
			ins = append(ins, int32(len(m.tensors)-1))
		}
		out := add("link"+string(rune('a'+k)), l.out, nil)
		m.ops = append(m.ops, tOp{code: l.code, in: ins, out: []int32{out}, optType: l.optType, opt: l.opt})
		prev, cur = cur, out
	}
	m.outputs = []int32{cur}
	return m
}

func TestChainLayouts(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	in := []int32{1, 6, 8, 4}
	for _, c := range []struct {
		name       string
		links      []link
		transposes int    // at most, in the NCHW import
		uncompiled string // see oneOp
	}{
		{"segmentation head", []link{
			{code: fb.BuiltinOperatorDEPTH_TO_SPACE, out: []int32{1, 12, 16, 1},
				optType: fb.BuiltinOptionsDepthToSpaceOptions, opt: axisOpts(fb.DepthToSpaceOptionsStart, fb.DepthToSpaceOptionsAddBlockSize, fb.DepthToSpaceOptionsEnd, 2)},
			{code: fb.BuiltinOperatorRESIZE_BILINEAR, consts: []opIn{vecConst(6, 8)}, out: []int32{1, 6, 8, 1},
				optType: fb.BuiltinOptionsResizeBilinearOptions, opt: resizeOpts(true, false, true)},
			{code: fb.BuiltinOperatorMIRROR_PAD, consts: []opIn{i32Const([]int32{4, 2}, 0, 0, 1, 1, 2, 2, 0, 0)}, out: []int32{1, 8, 12, 1},
				optType: fb.BuiltinOptionsMirrorPadOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
					fb.MirrorPadOptionsStart(b)
					return fb.MirrorPadOptionsEnd(b)
				}},
			{code: fb.BuiltinOperatorSPACE_TO_DEPTH, out: []int32{1, 4, 6, 4},
				optType: fb.BuiltinOptionsSpaceToDepthOptions, opt: axisOpts(fb.SpaceToDepthOptionsStart, fb.SpaceToDepthOptionsAddBlockSize, fb.SpaceToDepthOptionsEnd, 2)},
			{code: fb.BuiltinOperatorTILE, consts: []opIn{vecConst(1, 2, 1, 1)}, out: []int32{1, 8, 6, 4}},
		}, 4, ""}, // DEPTH_TO_SPACE and SPACE_TO_DEPTH transpose inside
		{"slices and math", []link{
			{code: fb.BuiltinOperatorSTRIDED_SLICE, consts: []opIn{vecConst(0, 1, 0, 0), vecConst(1, 6, 8, 4), vecConst(1, 2, -1, 1)}, out: []int32{1, 3, 8, 4},
				optType: fb.BuiltinOptionsStridedSliceOptions, opt: stridedOpts(0b0100, 0b0100, 0, false)},
			{code: fb.BuiltinOperatorGATHER, consts: []opIn{vecConst(3, 3, 0)}, out: []int32{1, 3, 8, 3},
				optType: fb.BuiltinOptionsGatherOptions, opt: axisOpts(fb.GatherOptionsStart, fb.GatherOptionsAddAxis, fb.GatherOptionsEnd, 3)},
			{code: fb.BuiltinOperatorPRELU, consts: []opIn{f32Const([]int32{3}, 0.5, -1, 2)}, out: []int32{1, 3, 8, 3}},
			{code: fb.BuiltinOperatorSQUARED_DIFFERENCE, side: true, out: []int32{1, 3, 8, 3}},
			{code: fb.BuiltinOperatorL2_NORMALIZATION, out: []int32{1, 3, 8, 3}},
			{code: fb.BuiltinOperatorSLICE, consts: []opIn{vecConst(0, 1, 2, 0), vecConst(-1, 2, 4, 2)}, out: []int32{1, 2, 4, 2}},
			{code: fb.BuiltinOperatorTRANSPOSE, consts: []opIn{vecConst(0, 3, 1, 2)}, out: []int32{1, 2, 2, 4}},
			{code: fb.BuiltinOperatorLOG_SOFTMAX, out: []int32{1, 2, 2, 4}},
		}, 3, ""},
		{"reductions", []link{
			{code: fb.BuiltinOperatorSUM, consts: []opIn{vecConst(2)}, out: []int32{1, 6, 1, 4}, optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(true)},
			{code: fb.BuiltinOperatorBROADCAST_TO, consts: []opIn{vecConst(1, 6, 8, 4)}, out: []int32{1, 6, 8, 4}},
			{code: fb.BuiltinOperatorREDUCE_MAX, consts: []opIn{vecConst(1)}, out: []int32{1, 8, 4}, optType: fb.BuiltinOptionsReducerOptions, opt: reducerOpts(false)},
		}, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			x, _ := randF32(rng, toInts(in)...)
			var outs [2]*ir.Tensor
			for k, plain := range []bool{false, true} {
				op := oneOp{uncompiled: c.uncompiled}
				g, err := ImportBytes("chain.tflite", chainModel(in, c.links, plain).build(), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := ir.Verify(g); err != nil {
					t.Fatal(err)
				}
				if n := countOps(g)["transpose"]; !plain && n > c.transposes {
					t.Errorf("%d transposes, want at most %d:\n%s", n, c.transposes, g)
				}
				if !plain {
					op.lowers(t, g)
				}
				outs[k] = run1(t, interp(t, g), x)
			}
			want := newND(outs[1].Shape...)
			for i, v := range outs[1].F32 {
				want.v[i] = float64(v)
			}
			near(t, "NCHW import vs NHWC import", outs[0], want, 1e-5)
		})
	}
}
