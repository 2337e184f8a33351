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

// Data-movement ops on float and int8 inputs, in the model's layout and
// after an op that leaves its result in NCHW only: every output element is
// an input element (src) or the fill value, exactly.

const moveScale = 0.05

// moveZP is the zero point of quantized inputs: 3 for int8, 131 for uint8.
func moveZP(typ fb.TensorType) int64 {
	if typ == fb.TensorTypeUINT8 {
		return 131
	}
	return 3
}

// stored is the byte that holds real value r quantized for typ.
func stored(typ fb.TensorType, r float64) byte {
	return byte(int64(math.Round(r/moveScale)) + moveZP(typ))
}

type moveCase struct {
	name    string
	code    fb.BuiltinOperator
	in      []int
	consts  func(typ fb.TensorType) []opIn // the op's other inputs
	first   bool                           // the data input comes after the constants (SPLIT)
	outs    [][]int
	optType fb.BuiltinOptions
	opt     optFn
	src     func(k int, o []int) []int // the input element of output k's element o; nil: fill
	fill    float64                    // the real fill value
	// uncompiled: see oneOp.
	uncompiled string
}

func consts(ins ...opIn) func(fb.TensorType) []opIn {
	return func(fb.TensorType) []opIn { return ins }
}

func stridedOpts(begin, end, shrink int32, offset bool) optFn {
	return stridedMasks(begin, end, 0, 0, shrink, offset)
}

func stridedMasks(begin, end, ellipsis, newAxis, shrink int32, offset bool) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		fb.StridedSliceOptionsStart(b)
		fb.StridedSliceOptionsAddBeginMask(b, begin)
		fb.StridedSliceOptionsAddEndMask(b, end)
		fb.StridedSliceOptionsAddEllipsisMask(b, ellipsis)
		fb.StridedSliceOptionsAddNewAxisMask(b, newAxis)
		fb.StridedSliceOptionsAddShrinkAxisMask(b, shrink)
		fb.StridedSliceOptionsAddOffset(b, offset)
		return fb.StridedSliceOptionsEnd(b)
	}
}

func axisOpts(start func(*flatbuffers.Builder), add func(*flatbuffers.Builder, int32), end func(*flatbuffers.Builder) flatbuffers.UOffsetT, v int32) optFn {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		start(b)
		add(b, v)
		return end(b)
	}
}

// along returns the src of an op that offsets one axis: o with o[axis] mapped.
func along(axis int, f func(k, i int) int) func(k int, o []int) []int {
	return func(k int, o []int) []int {
		s := append([]int{}, o...)
		s[axis] = f(k, o[axis])
		return s
	}
}

var moveCases = []moveCase{
	{name: "transpose nhwc→nchw", code: fb.BuiltinOperatorTRANSPOSE, in: []int{2, 3, 4, 5}, consts: consts(vecConst(0, 3, 1, 2)),
		outs: [][]int{{2, 5, 3, 4}}, src: func(_ int, o []int) []int { return []int{o[0], o[2], o[3], o[1]} }},
	{name: "transpose reverse", code: fb.BuiltinOperatorTRANSPOSE, in: []int{2, 3, 4, 5}, consts: consts(vecConst(3, 2, 1, 0)),
		outs: [][]int{{5, 4, 3, 2}}, src: func(_ int, o []int) []int { return []int{o[3], o[2], o[1], o[0]} }},
	{name: "transpose identity", code: fb.BuiltinOperatorTRANSPOSE, in: []int{2, 3, 4, 5}, consts: consts(vecConst(0, 1, 2, 3)),
		outs: [][]int{{2, 3, 4, 5}}, src: func(_ int, o []int) []int { return o }},
	{name: "transpose rank 3", code: fb.BuiltinOperatorTRANSPOSE, in: []int{3, 4, 5}, consts: consts(vecConst(2, 0, 1)),
		outs: [][]int{{5, 3, 4}}, src: func(_ int, o []int) []int { return []int{o[1], o[2], o[0]} }},

	{name: "strided slice", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{2, 7, 6, 5},
		consts: consts(vecConst(0, 1, -5, 4), vecConst(2, 7, 6, 0), vecConst(1, 2, 2, -2)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedOpts(0, 0, 0, false),
		outs: [][]int{{2, 3, 3, 2}}, src: func(_ int, o []int) []int { return []int{o[0], 1 + 2*o[1], 1 + 2*o[2], 4 - 2*o[3]} }},
	{name: "strided slice masks", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{2, 7, 6, 5},
		consts: consts(vecConst(1, 5, 9, 1), vecConst(0, 1, 2, -1), vecConst(1, -1, 1, 1)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedOpts(0b0101, 0b0011, 0, false), // dim 0: all; dim 1: 5 down to the start; dim 2: from 0 to 2; dim 3: 1..3
		outs: [][]int{{2, 6, 2, 3}}, src: func(_ int, o []int) []int { return []int{o[0], 5 - o[1], o[2], 1 + o[3]} }},
	{name: "strided slice shrink", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{1, 7, 6, 5},
		consts: consts(vecConst(0, -1, 0, 2), vecConst(1, 0, 6, 4), vecConst(1, 1, 3, 1)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedOpts(0, 0, 0b0011, false),
		outs: [][]int{{2, 2}}, src: func(_ int, o []int) []int { return []int{0, 6, 3 * o[0], 2 + o[1]} }},
	{name: "strided slice offset", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{3, 8},
		consts: consts(vecConst(1, 2), vecConst(2, 5), vecConst(1, 2)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedOpts(0, 0, 0, true),
		outs: [][]int{{2, 3}}, src: func(_ int, o []int) []int { return []int{1 + o[0], 2 + 2*o[1]} }},

	{name: "strided slice ellipsis", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{2, 7, 6, 5},
		consts: consts(vecConst(0, 1), vecConst(0, 4), vecConst(1, 2)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedMasks(0, 0, 0b01, 0, 0, false), // x[..., 1:4:2]
		outs: [][]int{{2, 7, 6, 2}}, src: func(_ int, o []int) []int { return []int{o[0], o[1], o[2], 1 + 2*o[3]} }},
	{name: "strided slice ellipsis inside", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{2, 7, 6, 5},
		consts: consts(vecConst(1, 0, -1), vecConst(2, 0, 0), vecConst(1, 1, 1)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedMasks(0, 0, 0b010, 0, 0b100, false), // x[1:2, ..., -1]
		outs: [][]int{{1, 7, 6}}, src: func(_ int, o []int) []int { return []int{1, o[1], o[2], 4} }},
	{name: "strided slice new axis", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{3, 4, 5},
		consts: consts(vecConst(0, 0, 2), vecConst(0, 0, 3), vecConst(1, 1, 1)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedMasks(0b001, 0b001, 0, 0b010, 0b100, false), // x[:, None, 2]
		outs: [][]int{{3, 1, 5}}, src: func(_ int, o []int) []int { return []int{o[0], 2, o[2]} }},
	{name: "strided slice short specs", code: fb.BuiltinOperatorSTRIDED_SLICE, in: []int{2, 7, 6, 5},
		consts: consts(vecConst(1), vecConst(2), vecConst(1)), optType: fb.BuiltinOptionsStridedSliceOptions,
		opt:  stridedOpts(0, 0, 0, false), // x[1:2]
		outs: [][]int{{1, 7, 6, 5}}, src: func(_ int, o []int) []int { return []int{1, o[1], o[2], o[3]} }},
	{name: "slice", code: fb.BuiltinOperatorSLICE, in: []int{2, 5, 6, 4}, consts: consts(vecConst(1, 1, 0, 2), vecConst(-1, 3, 4, -1)),
		outs: [][]int{{1, 3, 4, 2}}, src: func(_ int, o []int) []int { return []int{1, 1 + o[1], o[2], 2 + o[3]} }},

	{name: "split channels", code: fb.BuiltinOperatorSPLIT, in: []int{1, 3, 4, 6}, consts: consts(i32Const(nil, -1)), first: true,
		optType: fb.BuiltinOptionsSplitOptions, opt: axisOpts(fb.SplitOptionsStart, fb.SplitOptionsAddNumSplits, fb.SplitOptionsEnd, 3),
		outs: [][]int{{1, 3, 4, 2}, {1, 3, 4, 2}, {1, 3, 4, 2}}, src: along(3, func(k, i int) int { return 2*k + i })},
	{name: "split_v height", code: fb.BuiltinOperatorSPLIT_V, in: []int{1, 6, 4, 2}, consts: consts(vecConst(1, -1, 3), i32Const(nil, 1)),
		optType: fb.BuiltinOptionsSplitVOptions, opt: axisOpts(fb.SplitVOptionsStart, fb.SplitVOptionsAddNumSplits, fb.SplitVOptionsEnd, 3),
		outs: [][]int{{1, 1, 4, 2}, {1, 2, 4, 2}, {1, 3, 4, 2}}, src: along(1, func(k, i int) int { return []int{0, 1, 3}[k] + i })},
	{name: "unpack", code: fb.BuiltinOperatorUNPACK, in: []int{2, 3, 4},
		optType: fb.BuiltinOptionsUnpackOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			fb.UnpackOptionsStart(b)
			fb.UnpackOptionsAddNum(b, 3)
			fb.UnpackOptionsAddAxis(b, -2)
			return fb.UnpackOptionsEnd(b)
		},
		outs: [][]int{{2, 4}, {2, 4}, {2, 4}}, src: func(k int, o []int) []int { return []int{o[0], k, o[1]} }},

	{name: "gather channels", code: fb.BuiltinOperatorGATHER, in: []int{1, 3, 4, 5}, consts: consts(vecConst(4, 0, 0, 2)),
		optType: fb.BuiltinOptionsGatherOptions, opt: axisOpts(fb.GatherOptionsStart, fb.GatherOptionsAddAxis, fb.GatherOptionsEnd, -1),
		outs: [][]int{{1, 3, 4, 4}}, src: along(3, func(_, i int) int { return []int{4, 0, 0, 2}[i] })},
	{name: "gather scalar index", code: fb.BuiltinOperatorGATHER, in: []int{1, 3, 4, 5}, consts: consts(i32Const([]int32{}, 2)),
		optType: fb.BuiltinOptionsGatherOptions, opt: axisOpts(fb.GatherOptionsStart, fb.GatherOptionsAddAxis, fb.GatherOptionsEnd, 1),
		outs: [][]int{{1, 4, 5}}, src: func(_ int, o []int) []int { return []int{o[0], 2, o[1], o[2]} }},
	{name: "gather width by 2-D indices", code: fb.BuiltinOperatorGATHER, in: []int{1, 3, 4, 5}, consts: consts(i32Const([]int32{2, 2}, 3, 0, 1, 1)),
		optType: fb.BuiltinOptionsGatherOptions, opt: axisOpts(fb.GatherOptionsStart, fb.GatherOptionsAddAxis, fb.GatherOptionsEnd, 2),
		outs: [][]int{{1, 3, 2, 2, 5}}, src: func(_ int, o []int) []int { return []int{o[0], o[1], []int{3, 0, 1, 1}[2*o[2]+o[3]], o[4]} }},
	{name: "gather 2-D indices", code: fb.BuiltinOperatorGATHER, in: []int{5, 3}, consts: consts(i32Const([]int32{2, 2}, 4, 1, 1, 0)),
		optType: fb.BuiltinOptionsGatherOptions, opt: axisOpts(fb.GatherOptionsStart, fb.GatherOptionsAddAxis, fb.GatherOptionsEnd, 0),
		outs: [][]int{{2, 2, 3}}, src: func(_ int, o []int) []int { return []int{[]int{4, 1, 1, 0}[2*o[0]+o[1]], o[2]} }},

	{name: "broadcast_to", code: fb.BuiltinOperatorBROADCAST_TO, in: []int{1, 3, 1, 2}, consts: consts(vecConst(2, 3, 4, 2)),
		outs: [][]int{{2, 3, 4, 2}}, src: func(_ int, o []int) []int { return []int{0, o[1], 0, o[3]} }},
	{name: "broadcast_to rank 3", code: fb.BuiltinOperatorBROADCAST_TO, in: []int{4, 1}, consts: consts(vecConst(2, 4, 3)),
		outs: [][]int{{2, 4, 3}}, src: func(_ int, o []int) []int { return []int{o[1], 0} }},
	{name: "tile", code: fb.BuiltinOperatorTILE, in: []int{1, 3, 2, 2}, consts: consts(vecConst(2, 1, 3, 2)),
		outs: [][]int{{2, 3, 6, 4}}, src: func(_ int, o []int) []int { return []int{0, o[1], o[2] % 2, o[3] % 2} }},
	{name: "tile rank 2", code: fb.BuiltinOperatorTILE, in: []int{2, 3}, consts: consts(vecConst(3, 1)),
		outs: [][]int{{6, 3}}, src: func(_ int, o []int) []int { return []int{o[0] % 2, o[1]} }},
	{name: "pad", code: fb.BuiltinOperatorPAD, in: []int{1, 3, 4, 2}, consts: consts(i32Const([]int32{4, 2}, 0, 0, 1, 2, 0, 1, 1, 0)),
		outs: [][]int{{1, 6, 5, 3}}, src: padSrc([]int{1, 3, 4, 2}, []int{0, 1, 0, 1}, nil)},
	{name: "padv2", code: fb.BuiltinOperatorPADV2, in: []int{1, 3, 4, 2},
		consts: func(typ fb.TensorType) []opIn {
			v := opIn{shape: []int32{}, typ: typ, data: f32Bytes(-1.5)}
			if typ != fb.TensorTypeFLOAT32 {
				v = opIn{shape: []int32{}, typ: typ, data: []byte{stored(typ, -1.5)}, scale: moveScale, zp: moveZP(typ)}
			}
			return []opIn{i32Const([]int32{4, 2}, 0, 0, 1, 2, 0, 1, 1, 0), v}
		},
		outs: [][]int{{1, 6, 5, 3}}, src: padSrc([]int{1, 3, 4, 2}, []int{0, 1, 0, 1}, nil), fill: -1.5},
	{name: "mirror pad", code: fb.BuiltinOperatorMIRROR_PAD, in: []int{1, 3, 4, 2}, consts: consts(i32Const([]int32{4, 2}, 0, 0, 2, 1, 3, 1, 1, 0)),
		optType: fb.BuiltinOptionsMirrorPadOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			fb.MirrorPadOptionsStart(b)
			fb.MirrorPadOptionsAddMode(b, fb.MirrorPadModeREFLECT)
			return fb.MirrorPadOptionsEnd(b)
		},
		outs: [][]int{{1, 6, 8, 3}}, src: padSrc([]int{1, 3, 4, 2}, []int{0, 2, 3, 1}, reflect)},
	{name: "mirror pad symmetric", code: fb.BuiltinOperatorMIRROR_PAD, in: []int{1, 3, 4, 2}, consts: consts(i32Const([]int32{4, 2}, 0, 0, 3, 1, 4, 2, 1, 0)),
		optType: fb.BuiltinOptionsMirrorPadOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			fb.MirrorPadOptionsStart(b)
			fb.MirrorPadOptionsAddMode(b, fb.MirrorPadModeSYMMETRIC)
			return fb.MirrorPadOptionsEnd(b)
		},
		outs: [][]int{{1, 7, 10, 3}}, src: padSrc([]int{1, 3, 4, 2}, []int{0, 3, 4, 1}, symmetric)},

	{name: "space to depth", code: fb.BuiltinOperatorSPACE_TO_DEPTH, in: []int{2, 4, 6, 3},
		optType: fb.BuiltinOptionsSpaceToDepthOptions, opt: axisOpts(fb.SpaceToDepthOptionsStart, fb.SpaceToDepthOptionsAddBlockSize, fb.SpaceToDepthOptionsEnd, 2),
		outs: [][]int{{2, 2, 3, 12}}, src: func(_ int, o []int) []int {
			blk, c := o[3]/3, o[3]%3
			return []int{o[0], 2*o[1] + blk/2, 2*o[2] + blk%2, c}
		}},
	{name: "space to batch", code: fb.BuiltinOperatorSPACE_TO_BATCH_ND, in: []int{2, 3, 5, 2},
		consts: consts(vecConst(2, 3), i32Const([]int32{2, 2}, 1, 0, 0, 1)),
		outs:   [][]int{{12, 2, 2, 2}}, src: func(_ int, o []int) []int {
			blk, n := o[0]/2, o[0]%2 // batch = (block row · 3 + block column) · N + n
			y, x := o[1]*2+blk/3-1, o[2]*3+blk%3
			if y < 0 || x >= 5 {
				return nil
			}
			return []int{n, y, x, o[3]}
		}},
	{name: "batch to space", code: fb.BuiltinOperatorBATCH_TO_SPACE_ND, in: []int{12, 2, 2, 2},
		consts: consts(vecConst(2, 3), i32Const([]int32{2, 2}, 1, 0, 0, 1)),
		outs:   [][]int{{2, 3, 5, 2}}, src: func(_ int, o []int) []int {
			y, x := o[1]+1, o[2]
			return []int{((y%2)*3+x%3)*2 + o[0], y / 2, x / 3, o[3]}
		}},
	{name: "depth to space", code: fb.BuiltinOperatorDEPTH_TO_SPACE, in: []int{2, 2, 3, 12},
		optType: fb.BuiltinOptionsDepthToSpaceOptions, opt: axisOpts(fb.DepthToSpaceOptionsStart, fb.DepthToSpaceOptionsAddBlockSize, fb.DepthToSpaceOptionsEnd, 2),
		outs: [][]int{{2, 4, 6, 3}}, src: func(_ int, o []int) []int {
			return []int{o[0], o[1] / 2, o[2] / 2, ((o[1]%2)*2+o[2]%2)*3 + o[3]}
		}},
}

func reflect(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

func symmetric(i, n int) int {
	if i < 0 {
		return -i - 1
	}
	if i >= n {
		return 2*n - 1 - i
	}
	return i
}

// padSrc maps an output index of a pad by before to the input (nil: the
// fill), or by edge when given.
func padSrc(in, before []int, edge func(i, n int) int) func(int, []int) []int {
	return func(_ int, o []int) []int {
		s := make([]int, len(o))
		for d := range o {
			s[d] = o[d] - before[d]
			if s[d] < 0 || s[d] >= in[d] {
				if edge == nil {
					return nil
				}
				s[d] = edge(s[d], in[d])
			}
		}
		return s
	}
}

func TestDataMovement(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, c := range moveCases {
		for _, typ := range []fb.TensorType{fb.TensorTypeFLOAT32, fb.TensorTypeINT8, fb.TensorTypeUINT8} {
			for _, pool := range []bool{false, true} {
				if pool && (len(c.in) != 4 || c.first) {
					continue
				}
				t.Run(fmt.Sprintf("%s/%v/pool=%v", c.name, typ, pool), func(t *testing.T) {
					c.run(t, rng, typ, pool)
				})
			}
		}
	}
}

func (c moveCase) run(t *testing.T, rng *rand.Rand, typ fb.TensorType, pool bool) {
	x := opIn{shape: ints32(c.in), typ: typ}
	if typ != fb.TensorTypeFLOAT32 {
		x.scale, x.zp = moveScale, moveZP(typ)
	}
	var ins []opIn
	if c.consts != nil {
		ins = c.consts(typ)
	}
	if c.first {
		ins = append(ins, x)
	} else {
		ins = append([]opIn{x}, ins...)
	}
	op := oneOp{code: c.code, ins: ins, optType: c.optType, opt: c.opt, pool: pool, uncompiled: c.uncompiled}
	for _, s := range c.outs {
		op.outs = append(op.outs, opIn{shape: ints32(s), typ: typ, scale: x.scale, zp: x.zp})
	}
	var feed *ir.Tensor
	var a nd
	fill := c.fill
	if typ != fb.TensorTypeFLOAT32 {
		feed, a = randInt(rng, dtypes[typ], c.in...)
		fill = fill/moveScale + float64(moveZP(typ))
	} else {
		feed, a = randF32(rng, c.in...)
	}
	g, outs := op.run(t, feed)
	for k, s := range c.outs {
		want := newND(s...).fill(func(o []int) float64 {
			if src := c.src(k, o); src != nil {
				return a.at(src...)
			}
			return fill
		})
		near(t, fmt.Sprintf("output %d", k), outs[k], want, 0)
	}
	// The op reads the pooled NCHW value as it is (TRANSPOSE composes its
	// perm with the layout's).
	for _, v := range g.Values {
		if pool && c.code != fb.BuiltinOperatorTRANSPOSE && v.Op.Name == "transpose" && v.Args[0].Op.Name == "maxpool" {
			t.Errorf("%s converts the pooled NCHW value back to NHWC:\n%s", v.Where(), g)
		}
	}
}

// CONCATENATION along every axis, from NHWC inputs and NCHW ones.
func TestConcatAxes(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, axis := range []int{0, 1, 2, 3, -1, -3} {
		for _, pool := range []bool{false, true} {
			ax := (axis + 4) % 4
			s0, s1 := []int{2, 3, 4, 5}, []int{2, 3, 4, 5}
			s1[ax] = 2
			out := append([]int{}, s0...)
			out[ax] += 2
			op := oneOp{code: fb.BuiltinOperatorCONCATENATION, ins: []opIn{f32In(ints32(s0)...), f32In(ints32(s1)...)}, outs: []opIn{f32In(ints32(out)...)},
				optType: fb.BuiltinOptionsConcatenationOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
					fb.ConcatenationOptionsStart(b)
					fb.ConcatenationOptionsAddAxis(b, int32(axis))
					return fb.ConcatenationOptionsEnd(b)
				}, pool: pool}
			x0, a0 := randF32(rng, s0...)
			x1, a1 := randF32(rng, s1...)
			_, outs := op.run(t, x0, x1)
			want := newND(out...).fill(func(o []int) float64 {
				if o[ax] < s0[ax] {
					return a0.at(o...)
				}
				i := append([]int{}, o...)
				i[ax] -= s0[ax]
				return a1.at(i...)
			})
			near(t, fmt.Sprintf("axis %d pool %v", axis, pool), outs[0], want, 0)
		}
	}
}

// PACK joins its inputs along a new axis.
func TestPack(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, axis := range []int{0, 1, 2, -1} {
		op := oneOp{code: fb.BuiltinOperatorPACK, ins: []opIn{f32In(3, 4), f32In(3, 4)},
			optType: fb.BuiltinOptionsPackOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.PackOptionsStart(b)
				fb.PackOptionsAddValuesCount(b, 2)
				fb.PackOptionsAddAxis(b, int32(axis))
				return fb.PackOptionsEnd(b)
			}}
		ax := (axis + 3) % 3
		shape := []int{3, 4}
		shape = append(shape[:ax], append([]int{2}, shape[ax:]...)...)
		op.outs = []opIn{f32In(ints32(shape)...)}
		x0, a0 := randF32(rng, 3, 4)
		x1, a1 := randF32(rng, 3, 4)
		_, outs := op.run(t, x0, x1)
		want := newND(shape...).fill(func(o []int) float64 {
			rest := append(append([]int{}, o[:ax]...), o[ax+1:]...)
			return []nd{a0, a1}[o[ax]].at(rest...)
		})
		near(t, fmt.Sprintf("axis %d", axis), outs[0], want, 0)
	}
}

// An int8 data-movement op whose output declares other parameters gets a
// requantize; unsupported options are errors that say why.
func TestDataMovementErrors(t *testing.T) {
	op := oneOp{code: fb.BuiltinOperatorTRANSPOSE, ins: []opIn{i8In(0.05, 3, 2, 3), vecConst(1, 0)}, outs: []opIn{i8In(0.1, 0, 3, 2)}}
	g, err := ImportBytes("op.tflite", op.model().build(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if countOps(g)["requantize"] != 1 {
		t.Errorf("no requantize:\n%s", g)
	}
	for _, c := range []struct {
		op   oneOp
		want string
	}{
		{oneOp{code: fb.BuiltinOperatorSTRIDED_SLICE, ins: []opIn{f32In(2, 3), vecConst(0, 0), vecConst(1, 1), vecConst(1, 1)}, outs: []opIn{f32In(1, 1)},
			optType: fb.BuiltinOptionsStridedSliceOptions, opt: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				fb.StridedSliceOptionsStart(b)
				fb.StridedSliceOptionsAddEllipsisMask(b, 3)
				return fb.StridedSliceOptionsEnd(b)
			}}, "ellipsis_mask 0x3 has more than one bit"},
		{oneOp{code: fb.BuiltinOperatorTRANSPOSE, ins: []opIn{f32In(2, 3), vecConst(1, 1)}, outs: []opIn{f32In(3, 2)}}, "not a permutation"},
		{oneOp{code: fb.BuiltinOperatorGATHER, ins: []opIn{f32In(2, 3), vecConst(2)}, outs: []opIn{f32In(1, 3)}}, "index 2 out of range"},
		{oneOp{code: fb.BuiltinOperatorGATHER, ins: []opIn{f32In(2, 3), f32In(1)}, outs: []opIn{f32In(1, 3)}}, "indices must be an i32 or i64 tensor, not f32[1]"},
		{oneOp{code: fb.BuiltinOperatorMIRROR_PAD, ins: []opIn{f32In(2, 3), i32Const([]int32{2, 2}, 2, 1, 1, 1)}, outs: []opIn{f32In(5, 5)}},
			"REFLECT paddings [2 1 1 1] must be smaller than the dims [2 3]"},
		{oneOp{code: fb.BuiltinOperatorSPLIT_V, ins: []opIn{f32In(5, 3), vecConst(2, 2), i32Const(nil, 0)}, outs: []opIn{f32In(2, 3), f32In(2, 3)}}, "do not add up"},
	} {
		c.op.importErr(t, c.want)
	}
}
