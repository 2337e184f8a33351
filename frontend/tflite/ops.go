package tflite

import (
	"fmt"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// converters is the one table of supported TFLite ops.
var converters = []converter{
	{fb.BuiltinOperatorCONV_2D, 2, "conv (weights OHWI → OIHW at import; input channels a multiple of the filter's give groups), fused activation", convConv},
	{fb.BuiltinOperatorDEPTHWISE_CONV_2D, 2, "conv with group = input channels (weights [1,H,W,C·m] → [C·m,1,H,W]; per-channel dimension 3 → axis 0)", convDepthwise},
	{fb.BuiltinOperatorFULLY_CONNECTED, 2, "reshape to [batch, in] + gemm trans_b=1 (weights [out,in], i32 bias), keep_num_dims", convFullyConnected},
	{fb.BuiltinOperatorADD, 2, "add with broadcasting, fused activation", convBinary("add")},
	{fb.BuiltinOperatorSUB, 2, "sub with broadcasting, fused activation", convBinary("sub")},
	{fb.BuiltinOperatorMUL, 2, "mul with broadcasting, fused activation", convBinary("mul")},
	{fb.BuiltinOperatorAVERAGE_POOL_2D, 1, "avgpool (padding not counted), fused activation", convPool("avgpool")},
	{fb.BuiltinOperatorMAX_POOL_2D, 1, "maxpool, fused activation", convPool("maxpool")},
	{fb.BuiltinOperatorMEAN, 2, "reduce_mean over constant axes, keep_dims (quantized 4-D with keep_dims: axes 1 and 2 only, TFLite's spatial mean)", convMean},
	{fb.BuiltinOperatorRESHAPE, 1, "reshape to the output tensor's shape", convReshape},
	{fb.BuiltinOperatorSQUEEZE, 1, "reshape", convReshape},
	{fb.BuiltinOperatorEXPAND_DIMS, 1, "reshape", convReshape},
	{fb.BuiltinOperatorCONCATENATION, 1, "concat, fused activation; inputs with other quantization are requantized first (fixed point: TFLite rescales those in float, so a value may differ by one step)", convConcat},
	{fb.BuiltinOperatorPAD, 2, "pad with zero (the zero point when quantized), constant paddings", convPad},
	{fb.BuiltinOperatorSOFTMAX, 1, "softmax over the last dim (beta ≠ 1: float only, as a mul); quantized: TFLite's reference fixed-point kernel", convSoftmax},
	{fb.BuiltinOperatorLOGISTIC, 1, "sigmoid; int8/uint8: tflite-micro's fixed-point kernel (output q(1/256, lowest))", convUnary("sigmoid")},
	{fb.BuiltinOperatorTANH, 1, "tanh; int8/uint8: tflite-micro's fixed-point kernel (output q(1/128, middle))", convUnary("tanh")},
	{fb.BuiltinOperatorHARD_SWISH, 1, "hardswish; int8/uint8: TFLite's 16-bit fixed-point kernel", convUnary("hardswish")},
	{fb.BuiltinOperatorRELU, 1, "relu; quantized: clip on the stored integers", convRelu(fb.ActivationFunctionTypeRELU)},
	{fb.BuiltinOperatorRELU6, 1, "clip [0, 6]; quantized: clip on the stored integers", convRelu(fb.ActivationFunctionTypeRELU6)},
	{fb.BuiltinOperatorRELU_N1_TO_1, 1, "clip [-1, 1]; quantized: clip on the stored integers", convRelu(fb.ActivationFunctionTypeRELU_N1_TO_1)},
	{fb.BuiltinOperatorQUANTIZE, 1, "quantize (float input; ties round to even, TFLite rounds them away from zero) or requantize (integer input)", convQuantize},
	{fb.BuiltinOperatorDEQUANTIZE, 1, "dequantize; a constant FLOAT16 or quantized input (float16 or weight-only int8 weights) folds into an f32 constant", convDequantize},
	{fb.BuiltinOperatorCAST, 1, "cast", convCast},

	// Data movement (ops_shape.go, ops_strided.go, ops_expand.go, ops_pad.go, ops_batch.go): integer tensors move
	// unchanged; an output with other parameters gets a requantize.
	{fb.BuiltinOperatorTRANSPOSE, 2, "transpose by the constant perm (composed with the NCHW layout: none when it only undoes it)", convTranspose},
	{fb.BuiltinOperatorSTRIDED_SLICE, 4, "slice with constant begin, end, strides (+ reshape); all five masks, offset", convStridedSlice},
	{fb.BuiltinOperatorSLICE, 3, "slice with constant begin and size (-1: to the end)", convSlice},
	{fb.BuiltinOperatorSPLIT, 2, "one slice per output along the constant axis (input 0)", convSplit},
	{fb.BuiltinOperatorSPLIT_V, 3, "one slice per output, constant size_splits (one -1 allowed) and axis", convSplitV},
	{fb.BuiltinOperatorPACK, 1, "reshape each input + concat along axis", convPack},
	{fb.BuiltinOperatorUNPACK, 1, "one slice per output + reshape", convUnpack},
	{fb.BuiltinOperatorBROADCAST_TO, 2, "expand to the constant shape", convBroadcastTo},
	{fb.BuiltinOperatorSHAPE, 1, "the input's static shape as a constant", convShape},
	{fb.BuiltinOperatorTILE, 2, "reshape + expand + reshape by the constant multiples", convTile},
	{fb.BuiltinOperatorGATHER, 2, "gather, batch_dims 0: constant indices checked in range at import; computed ones checked by the gather when it runs (a negative one is out of range, as in TFLite)", convGather},
	{fb.BuiltinOperatorPADV2, 2, "pad with the constant value of input 2 (quantized: its parameters must be the output's)", convPadV2},
	{fb.BuiltinOperatorMIRROR_PAD, 2, "REFLECT: pad mode=reflect; SYMMETRIC: a gather per padded dim", convMirrorPad},
	{fb.BuiltinOperatorSPACE_TO_DEPTH, 1, "reshape + transpose + reshape in NCHW (depth ordered block row, block column, channel)", blockMove(true)},
	{fb.BuiltinOperatorDEPTH_TO_SPACE, 1, "reshape + transpose + reshape in NCHW", blockMove(false)},
	{fb.BuiltinOperatorSPACE_TO_BATCH_ND, 3, "4-D: pad (zero point when quantized) + reshape + transpose + reshape in NCHW", convSpaceToBatch},
	{fb.BuiltinOperatorBATCH_TO_SPACE_ND, 3, "4-D: reshape + transpose + reshape in NCHW + slice (crops)", convBatchToSpace},

	// Math (ops_math.go, ops_decomp.go): float only unless said otherwise.
	{fb.BuiltinOperatorEXP, 1, "exp", floatOnly(convUnary("exp"))},
	{fb.BuiltinOperatorLOG, 1, "log", floatOnly(convUnary("log"))},
	{fb.BuiltinOperatorSQRT, 1, "sqrt", floatOnly(convUnary("sqrt"))},
	{fb.BuiltinOperatorRSQRT, 1, "sqrt + reciprocal", floatOnly(convUnary("sqrt", "reciprocal"))},
	{fb.BuiltinOperatorABS, 1, "abs", floatOnly(convUnary("abs"))},
	{fb.BuiltinOperatorNEG, 1, "neg", floatOnly(convUnary("neg"))},
	{fb.BuiltinOperatorLEAKY_RELU, 1, "leaky_relu", floatOnly(convLeakyRelu)},
	{fb.BuiltinOperatorPRELU, 2, "prelu with broadcasting", floatOnly(convBinary("prelu"))},
	{fb.BuiltinOperatorDIV, 2, "div with broadcasting, fused activation", floatOnly(convBinary("div"))},
	{fb.BuiltinOperatorPOW, 2, "pow with broadcasting", floatOnly(convBinary("pow"))},
	{fb.BuiltinOperatorSQUARED_DIFFERENCE, 2, "sub + mul", floatOnly(convSquaredDifference)},
	{fb.BuiltinOperatorSQUARE, 1, "mul", floatOnly(convSquare)},
	{fb.BuiltinOperatorFLOOR, 1, "floor", floatOnly(convUnary("floor"))},
	{fb.BuiltinOperatorCEIL, 1, "ceil", floatOnly(convUnary("ceil"))},
	{fb.BuiltinOperatorL2_NORMALIZATION, 1, "x / max(sqrt(reduce_sum(x²)), 1e-6) over the last dim", floatOnly(convL2Norm)},
	{fb.BuiltinOperatorLOG_SOFTMAX, 1, "x - max - log(reduce_sum(exp(x - max))) over the last dim", floatOnly(convLogSoftmax)},
	{fb.BuiltinOperatorELU, 1, "relu(x) + exp(min(x, 0)) - 1", floatOnly(convElu)},
	{fb.BuiltinOperatorRELU_0_TO_1, 1, "clip [0, 1]", floatOnly(convRelu0To1)},
	{fb.BuiltinOperatorADD_N, 1, "a chain of adds", floatOnly(convAddN)},
	{fb.BuiltinOperatorGELU, 1, "x/2·(1 + erf(x/√2)); approximate: the tanh form", floatOnly(convGelu)},
	{fb.BuiltinOperatorMAXIMUM, 2, "max with broadcasting; quantized: one shared per-tensor quantization", sameQuantOnly(convBinary("max"))},
	{fb.BuiltinOperatorMINIMUM, 2, "min with broadcasting; quantized: one shared per-tensor quantization", sameQuantOnly(convBinary("min"))},
	{fb.BuiltinOperatorSUM, 2, "reduce_sum over constant axes, keep_dims", floatOnly(convSum)},
	{fb.BuiltinOperatorTOPK_V2, 2, "topk and topk_index (int32) along the last dim, ties in index order; quantized values keep their parameters", convTopK},
	{fb.BuiltinOperatorARG_MAX, 2, "argmax over a constant axis (reduced away), i32 or i64 as the output tensor", convArgMax(false)},
	{fb.BuiltinOperatorARG_MIN, 2, "argmax of neg (float tensors)", convArgMax(true)},
	{fb.BuiltinOperatorREDUCE_MAX, 2, "reduce_max over constant axes, keep_dims; quantized: axes 1 and 2 of a 4-D tensor only, as a maxpool over the whole image", convReduceMax},

	// Comparisons, logic, selection and float functions (ops_logic.go).
	{fb.BuiltinOperatorEQUAL, 2, "equal with broadcasting (bool); quantized: one shared quantization", convCompare("equal", false)},
	{fb.BuiltinOperatorNOT_EQUAL, 2, "equal + not", convCompare("equal", true)},
	{fb.BuiltinOperatorLESS, 2, "less", convCompare("less", false)},
	{fb.BuiltinOperatorLESS_EQUAL, 2, "less_equal", convCompare("less_equal", false)},
	{fb.BuiltinOperatorGREATER, 2, "greater", convCompare("greater", false)},
	{fb.BuiltinOperatorGREATER_EQUAL, 2, "greater_equal", convCompare("greater_equal", false)},
	{fb.BuiltinOperatorLOGICAL_AND, 2, "and", convLogic("and")},
	{fb.BuiltinOperatorLOGICAL_OR, 2, "or", convLogic("or")},
	{fb.BuiltinOperatorLOGICAL_NOT, 1, "not", convUnary("not")},
	{fb.BuiltinOperatorSELECT, 3, "where; a vector condition selects along dim 0 (reshape)", convSelect(false)},
	{fb.BuiltinOperatorSELECT_V2, 3, "where, broadcasting all three inputs", convSelect(true)},
	{fb.BuiltinOperatorSIN, 1, "sin", floatOnly(convUnary("sin"))},
	{fb.BuiltinOperatorCOS, 1, "cos", floatOnly(convUnary("cos"))},
	{fb.BuiltinOperatorROUND, 1, "round, ties to even", floatOnly(convUnary("round"))},
	{fb.BuiltinOperatorSIGN, 1, "sign (float and int32)", signOnly(convUnary("sign"))},
	{fb.BuiltinOperatorFLOOR_DIV, 2, "integers: (a − mod(a, b)) / b (exact); floats: floor(div)", convFloorDiv},
	{fb.BuiltinOperatorFLOOR_MOD, 2, "integers: mod; floats: mod fmod=1, + the divisor where the signs differ (where)", convFloorMod},

	// Reductions and normalization built from IR ops (ops_extra.go).
	{fb.BuiltinOperatorREDUCE_MIN, 2, "neg, reduce_max, neg over constant axes, keep_dims; int8/uint8 with one shared per-tensor quantization: the same between dequantize and quantize (exact)", convReduceMin},
	{fb.BuiltinOperatorREDUCE_PROD, 2, "float: reduced dims moved last and flattened, then one slice and mul per element in TFLite's order (at most 64 elements per output)", floatOnly(convReduceProd)},
	{fb.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, 1, "x · pow(bias + alpha·Σ x² over channels c±radius, −beta): the sum as avgpool (count_include_pad) of x² viewed with channels as a spatial dim", floatOnly(convLRN)},

	// Constants known at import (ops_const.go); data movement and scans (ops_scan.go).
	{fb.BuiltinOperatorFILL, 2, "a constant of the static dims (constant value); a computed value: reshape + expand", convFill},
	{fb.BuiltinOperatorZEROS_LIKE, 1, "a constant of zeros (float or integer)", convConstLike(0)},
	{fb.BuiltinOperatorRANGE, 3, "a constant (constant start, limit, delta; f32, i32, i64 as TFLite's kernel accumulates)", convRange},
	{fb.BuiltinOperatorONE_HOT, 4, "a constant (constant indices, depth, on_value, off_value; any axis)", convOneHot},
	{fb.BuiltinOperatorREVERSE_V2, 2, "slice with step −1 on the constant axes", convReverse},
	{fb.BuiltinOperatorGATHER_ND, 2, "reshape + gather along dim 0 by flat indices: precomputed for constant indices (checked in range at import), computed for runtime ones (slice, mul, add; an index outside its dim makes the gather fail)", convGatherND},
	{fb.BuiltinOperatorNON_MAX_SUPPRESSION_V4, 5, "nms_index (hard NMS, the thresholds moved one float to TFLite's score > and IoU >=); indices past valid_outputs 0, as TFLite; f32, constant max_output_size and thresholds", convNMS(false)},
	{fb.BuiltinOperatorNON_MAX_SUPPRESSION_V5, 6, "as V4, and selected_scores gathered (0 past valid_outputs); soft_nms_sigma must be 0 (Soft-NMS unsupported)", convNMS(true)},
	{fb.BuiltinOperatorEMBEDDING_LOOKUP, 2, "gather of the value rows at the ids (an id outside the rows makes the gather fail); quantized values with a float output dequantized", convEmbeddingLookup},
	{fb.BuiltinOperatorCUMSUM, 2, "f32/i32/i64 along a constant axis: a Hillis–Steele scan of pad (shift) + add, log2(n) steps (integers exact); exclusive, reverse", convCumsum},

	{fb.BuiltinOperatorDENSIFY, 1, "a dense constant: sparse constants (traversal order, block map, DENSE / SPARSE_CSR dims) are densified at import, also where any other op reads them", convDensify},

	{fb.BuiltinOperatorFAKE_QUANT, 1, "float: clip to TFLite's nudged range, sub, mul, round half away from zero as floor(t) + floor(2·frac(t)), mul, add (TFLite's reference arithmetic, bit for bit); narrow_range unsupported, as in TFLite", floatOnly(convFakeQuant)},

	// Sequences unrolled over the static time dim (ops_seq.go).
	{fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_RNN, 5, "float: per time step slice, gemm by the weights (+ bias) and the recurrent weights, add, fused activation; concat of the steps; time_major either way (at most 1024 steps)", floatOnly(convSeqRNN)},
	{fb.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_LSTM, 20, "float: per time step four gates of gemms, sigmoid / fused activation, mul, add (CIFG, cell_clip); concat of the steps; time_major either way; peephole, projection, layer norm: unsupported", floatOnly(convSeqLSTM)},

	// Layers (ops_layer.go), float only unless said otherwise.
	{fb.BuiltinOperatorBATCH_MATMUL, 2, "matmul with batch broadcasting; adj_x / adj_y transpose the last two dims; int8/uint8 per tensor: TFLite's integer kernel (rq=tflite)", convBatchMatMul},
	{fb.BuiltinOperatorTRANSPOSE_CONV, 3, "conv_transpose (weights OHWI → [I,O,H,W]), the declared output_shape by pads and output_padding, bias, fused activation", floatOnly(convTransposeConv)},
	{fb.BuiltinOperatorRESIZE_BILINEAR, 2, "resize mode=linear, coord align_corners / half_pixel / asymmetric", floatOnly(convResize(true))},
	{fb.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, 2, "resize nearest (floor; align_corners: round) with TFLite's coordinates; integers, or where the float coordinates would differ: a gather per spatial dim", convResize(false)},
}

// weights reads a constant weight tensor, transposed by perm.
func (o *opctx) weights(k int, perm []int) (*ir.Value, error) {
	i := o.in(k)
	t, q, err := o.im.constTensor(i)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("weights (input %d) must be constant", k)
	}
	if len(t.Shape) != len(perm) {
		return nil, fmt.Errorf("weights %v must have rank %d", t.Shape, len(perm))
	}
	t, q = transposeConst(t, q, perm)
	return o.im.addConst(o.im.sg.tensors[i].name, "", t, q), nil
}

// bias reads the optional bias (input k) of a conv or dense layer; an
// integer bias without its own quantization gets scale sx·sw, zero point 0.
func (o *opctx) bias(k int, x, w *ir.Value) (*ir.Value, error) {
	i := o.in(k)
	if i < 0 {
		return nil, nil
	}
	b, err := o.im.get(i)
	if err != nil {
		return nil, err
	}
	if b.Type.DType == ir.I32 && b.Type.Quant == nil && b.IsConst() && x.Type.Quant != nil && w.Type.Quant != nil {
		qw := w.Type.Quant
		q := &ir.Quant{Axis: -1, Scale: make([]float32, len(qw.Scale)), ZeroPoint: make([]int64, len(qw.Scale))}
		if qw.Axis >= 0 {
			q.Axis = 0
		}
		for c, s := range qw.Scale {
			q.Scale[c] = x.Type.Quant.Scale[0] * s
		}
		b.Type.Quant = q
	}
	return b, nil
}

func convConv(o *opctx) error      { return convolution(o, false) }
func convDepthwise(o *opctx) error { return convolution(o, true) }
func argsOf(vs ...*ir.Value) []*ir.Value {
	var out []*ir.Value
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func convolution(o *opctx, depthwise bool) error {
	x, err := o.im.getNCHW(o.in(0))
	if err != nil {
		return err
	}
	perm := []int{0, 3, 1, 2} // OHWI → OIHW
	if depthwise {
		perm = []int{3, 0, 1, 2} // [1,H,W,C·m] → [C·m,1,H,W]
	}
	w, err := o.weights(1, perm)
	if err != nil {
		return err
	}
	c, m := x.Type.Shape[1], w.Type.Shape[0]
	group := 1
	switch {
	case depthwise:
		if w.Type.Shape[1] != 1 || c == 0 || m%c != 0 {
			return fmt.Errorf("depthwise weights %v do not fit %d input channels", w.Type.Shape, c)
		}
		group = c
	case w.Type.Shape[1] == 0 || c%w.Type.Shape[1] != 0:
		return fmt.Errorf("weights %v do not fit %d input channels", w.Type.Shape, c)
	default:
		group = c / w.Type.Shape[1]
	}
	b, err := o.bias(2, x, w)
	if err != nil {
		return err
	}
	sh, sw, dh, dw, err := o.window()
	if err != nil {
		return err
	}
	kh, kw := w.Type.Shape[2], w.Type.Shape[3]
	attrs := ir.Attrs{"group": ir.Int(group), "strides": ir.Ints(sh, sw), "dilations": ir.Ints(dh, dw),
		"pads": ir.Ints(padsFor(o.op.opt.padding, x.Type.Shape[2], x.Type.Shape[3], kh, kw, sh, sw, dh, dw)...)}
	hint, err := o.hint()
	if err != nil {
		return err
	}
	v, err := o.add("conv", argsOf(x, w, b), attrs, hint)
	if err != nil {
		return err
	}
	if v, err = o.activate(v, o.op.opt.act); err != nil {
		return err
	}
	return o.set(v, true)
}

func convFullyConnected(o *opctx) error {
	if o.op.opt.weightsFormat != fb.FullyConnectedOptionsWeightsFormatDEFAULT {
		return fmt.Errorf("weights format %v is not supported", o.op.opt.weightsFormat)
	}
	x, err := o.im.get(o.in(0))
	if err != nil {
		return err
	}
	w, err := o.im.get(o.in(1))
	if err != nil {
		return err
	}
	if w.Type.Rank() != 2 || w.Type.Shape[1] == 0 {
		return fmt.Errorf("weights %v must be [out, in]", w.Type.Shape)
	}
	k := w.Type.Shape[1]
	n := x.Type.NumElements()
	if n%k != 0 {
		return fmt.Errorf("input %v does not flatten to rows of %d", x.Type.Shape, k)
	}
	if rows := []int{n / k, k}; !ir.EqualShape(x.Type.Shape, rows) {
		if x, err = o.im.g.Add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: rows}, ssaName(o.out.name)+".rows", o.out.name); err != nil {
			return err
		}
	}
	b, err := o.bias(2, x, w)
	if err != nil {
		return err
	}
	hint, err := o.hint()
	if err != nil {
		return err
	}
	v, err := o.add("gemm", argsOf(x, w, b), ir.Attrs{"trans_b": ir.Int(1)}, hint)
	if err != nil {
		return err
	}
	if want, _ := o.outType(); !ir.EqualShape(v.Type.Shape, want.Shape) {
		if v, err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: want.Shape}); err != nil {
			return err
		}
	}
	if v, err = o.activate(v, o.op.opt.act); err != nil {
		return err
	}
	return o.set(v, false)
}

// layoutOf picks the layout of a multi-input op: NCHW when every input is
// rank 4 and one of them exists only in NCHW form.
func (o *opctx) layoutOf(ins []int32) bool {
	any4 := false
	for _, i := range ins {
		t, err := o.im.tensor(i)
		if err != nil || len(t.shape) != 4 {
			return false
		}
		any4 = any4 || o.im.isNCHW(i)
	}
	return any4
}

func (o *opctx) inputs(ins []int32, nchw bool) ([]*ir.Value, error) {
	vs := make([]*ir.Value, len(ins))
	for k, i := range ins {
		var err error
		if nchw {
			vs[k], err = o.im.getNCHW(i)
		} else {
			vs[k], err = o.im.get(i)
		}
		if err != nil {
			return nil, err
		}
	}
	return vs, nil
}

func convBinary(op string) func(o *opctx) error {
	return func(o *opctx) error {
		a, b, nchw, err := o.binaryArgs()
		if err != nil {
			return err
		}
		hint, err := o.hint()
		if err != nil {
			return err
		}
		v, err := o.add(op, []*ir.Value{a, b}, nil, hint)
		if err != nil {
			return err
		}
		if v, err = o.activate(v, o.op.opt.act); err != nil {
			return err
		}
		return o.set(v, nchw)
	}
}

// binaryArgs returns inputs 0 and 1 of a broadcasting binary op in one
// layout: NCHW when both are rank 4 and one exists only so, or when one
// does and the other is a constant that broadcasts once expanded to rank 4.
func (o *opctx) binaryArgs() (a, b *ir.Value, nchw bool, err error) {
	ins := []int32{o.in(0), o.in(1)}
	nchw = o.layoutOf(ins)
	if nchw {
		a, err = o.im.getNCHW(ins[0])
		if err == nil {
			b, err = o.im.getNCHW(ins[1])
		}
	} else if o.im.isNCHW(ins[0]) != o.im.isNCHW(ins[1]) {
		nchw = true
		for _, i := range ins {
			if !o.im.isNCHW(i) && !o.broadcastsAsConst(i) {
				nchw = false
			}
		}
		if nchw {
			a, err = o.binaryArg(ins[0])
			if err == nil {
				b, err = o.binaryArg(ins[1])
			}
		}
	}
	if !nchw {
		a, err = o.im.get(ins[0])
		if err == nil {
			b, err = o.im.get(ins[1])
		}
	}
	return a, b, nchw, err
}

// broadcastsAsConst reports whether tensor i is a constant that rank4Const takes.
func (o *opctx) broadcastsAsConst(i int32) bool {
	t, err := o.im.tensor(i)
	if err != nil || len(t.shape) > 4 {
		return false
	}
	if v := o.im.vals[i].plain; v != nil && v.IsConst() { // folded at import
		return v.Type.Quant == nil || v.Type.Quant.Axis < 0
	}
	if t.buffer == 0 || int(t.buffer) >= len(o.im.m.buffers) || len(o.im.m.buffers[t.buffer]) == 0 {
		return false
	}
	return t.q == nil || len(t.q.scale) <= 1
}

// rank4Const returns constant tensor i expanded to rank 4 (NHWC) and
// transposed to NCHW, or nil when i is not a constant of rank <= 4.
func (o *opctx) rank4Const(i int32) (*ir.Value, error) {
	t, q, err := o.im.constTensor(i)
	if err != nil || t == nil || len(t.Shape) > 4 || (q != nil && q.Axis >= 0) {
		return nil, err
	}
	shape := append([]int{1, 1, 1, 1}[:4-len(t.Shape)], t.Shape...)
	d, q := transposeConst(t.Reshaped(shape), q, toNCHW)
	return o.im.addConst(o.im.sg.tensors[i].name, ".nchw", d, q), nil
}

func (o *opctx) binaryArg(i int32) (*ir.Value, error) {
	if o.im.isNCHW(i) {
		return o.im.getNCHW(i)
	}
	return o.rank4Const(i)
}

func convPool(op string) func(o *opctx) error {
	return func(o *opctx) error {
		x, err := o.im.getNCHW(o.in(0))
		if err != nil {
			return err
		}
		sh, sw, _, _, err := o.window()
		if err != nil {
			return err
		}
		kh, kw := int(o.op.opt.filterH), int(o.op.opt.filterW)
		if kh < 1 || kw < 1 {
			return fmt.Errorf("filter %dx%d must be positive", kh, kw)
		}
		attrs := ir.Attrs{"kernel": ir.Ints(kh, kw), "strides": ir.Ints(sh, sw),
			"pads": ir.Ints(padsFor(o.op.opt.padding, x.Type.Shape[2], x.Type.Shape[3], kh, kw, sh, sw, 1, 1)...)}
		hint, err := o.hint()
		if err != nil {
			return err
		}
		v, err := o.add(op, []*ir.Value{x}, attrs, hint)
		if err != nil {
			return err
		}
		if v, err = o.activate(v, o.op.opt.act); err != nil {
			return err
		}
		return o.set(v, true)
	}
}
