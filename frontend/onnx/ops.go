package onnx

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
)

// The default-domain opsets pare imports.
const (
	minOpset = 1
	maxOpset = 25
)

// converter is one row of the import table.
type converter struct {
	fn    func(c *nodeCtx) error
	since int // the first opset the converter handles (minOpset if lower)
	// consts lists the inputs that must be known at import (a Reshape's
	// shape ...); foldOnly ops have no IR op and need every input constant.
	consts []int
	// constsAt, when set, replaces consts for ops whose inputs moved
	// between opsets (Resize-10's scales is input 1, Resize-11's input 2).
	constsAt func(opset int) []int
	foldOnly bool
	notes    string
}

// constInputs returns the positions of the inputs that must be known at
// import at the given opset.
func (c converter) constInputs(opset int) []int {
	if c.constsAt != nil {
		return c.constsAt(opset)
	}
	return c.consts
}

// converters is THE table of supported ONNX ops; SupportedOps, the op
// coverage listing and the README read it.
var converters map[string]converter

func init() {
	converters = map[string]converter{
		// Neural-network ops (convert_nn.go).
		"Conv":                  {fn: convConv, notes: "→ conv; auto_pad → explicit pads; kernel_shape checked against the weight"},
		"ConvTranspose":         {fn: convConvTranspose, notes: "→ conv_transpose; output_shape and auto_pad → pads and output_padding"},
		"MaxPool":               {fn: convMaxPool, notes: "→ maxpool; the Indices output → maxpool_index"},
		"AveragePool":           {fn: convAvgPool, notes: "→ avgpool"},
		"GlobalAveragePool":     {fn: convGlobalAvgPool, notes: "→ global_avgpool"},
		"GlobalMaxPool":         {fn: convGlobalMaxPool, notes: "→ reduce_max over the spatial dims, keepdims"},
		"BatchNormalization":    {fn: convBatchNorm, notes: "→ batchnorm; training_mode=1 → reduce_mean/sub/mul/add/sqrt/div with running statistics; spatial=0 unsupported"},
		"Gemm":                  {fn: convGemm, notes: "→ gemm"},
		"MatMul":                {fn: convMatMul, notes: "→ matmul"},
		"Softmax":               {fn: convSoftmax, notes: "→ softmax; before opset 13 the 2-D coercion at axis becomes reshape → softmax → reshape"},
		"Resize":                {fn: convResize, since: 10, constsAt: resizeConsts, notes: "→ resize with the declared output shape for nearest and linear; cubic (cubic_coeff_a, exclude_outside), antialias, tf_crop_and_resize (roi, extrapolation_value), half_pixel_symmetric and keep_aspect_ratio_policy → one matmul per resized axis by a constant interpolation matrix (FLOAT); scales, sizes and (tf_crop_and_resize) roi must be constant; there an Inf or NaN input makes its whole output line NaN (0·Inf in the matmul), where the reference spreads it to the taps that read it"},
		"Upsample":              {fn: convUpsample, consts: []int{1}, notes: "→ resize (asymmetric, nearest floor or linear); before opset 7 height_scale and width_scale, mode bilinear"},
		"QuantizeLinear":        {fn: convQuantize, since: 10, consts: []int{1, 2}, notes: "→ quantize with a quantized i8/u8/i16 result type; per-tensor or per-axis; blocked quantization unsupported"},
		"DequantizeLinear":      {fn: convDequantize, since: 10, consts: []int{1, 2}, notes: "→ dequantize; the scale and zero point become the input's type (a param or const gets them)"},
		"QLinearConv":           {fn: convQLinearConv, since: 10, consts: []int{1, 2, 4, 5, 6, 7}, notes: "→ conv on quantized operand types with a quantized result"},
		"QLinearMatMul":         {fn: convQLinearMatMul, since: 10, consts: []int{1, 2, 4, 5, 6, 7}, notes: "→ matmul on quantized operand types with a quantized result"},
		"ConvInteger":           {fn: convConvInteger, since: 10, consts: []int{3}, notes: "→ conv with i32 result; constant zero points → quantization with scale 1; an x_zero_point computed at run time (a scalar) → conv(x, w − w_zero_point) − x_zero_point·(the weight's tap sums as conv(ones, w − w_zero_point) with the node's pads, folded at import for a constant w) in i32"},
		"MatMulInteger":         {fn: convMatMulInteger, since: 10, consts: []int{3}, notes: "→ matmul with i32 result; constant zero points → quantization with scale 1; an a_zero_point computed at run time (scalar or per row, as DynamicQuantizeLinear makes it) → matmul(a, b − b_zero_point) − a_zero_point·(b's column sums as matmul(ones, b − b_zero_point), folded at import for a constant B) in i32"},
		"DynamicQuantizeLinear": {fn: convDynQuantize, since: 11, notes: "→ reduce_max (min x as −max(−x)), min/max with 0, div, round (ties to even), clip and quantize (scale 1) to u8, as ONNX Runtime computes it: y_scale = (max(0, max x) − min(0, min x)) / 255, 1 for an all-zero x (the spec divides 0 by 0)"},

		// Elementwise math (convert_math.go).
		"Add":         {fn: convBinary("add"), notes: "→ add"},
		"Sub":         {fn: convBinary("sub"), notes: "→ sub"},
		"Mul":         {fn: convBinary("mul"), notes: "→ mul"},
		"Div":         {fn: convBinary("div"), notes: "→ div"},
		"Pow":         {fn: convPow, notes: "→ pow (f32; an integer exponent is cast)"},
		"Max":         {fn: convVariadic("max"), notes: "→ chained max"},
		"Min":         {fn: convVariadic("min"), notes: "→ chained min"},
		"Sum":         {fn: convVariadic("add"), notes: "→ chained add"},
		"Mean":        {fn: convMean, notes: "→ chained add, then div by the count"},
		"PRelu":       {fn: convPRelu, notes: "→ prelu"},
		"Relu":        {fn: convUnary("relu"), notes: "→ relu"},
		"LeakyRelu":   {fn: convLeakyRelu, notes: "→ leaky_relu"},
		"Clip":        {fn: convClip, notes: "→ clip (constant bounds); a bound computed at run time → max(x, min), min(·, max)"},
		"Sigmoid":     {fn: convUnary("sigmoid"), notes: "→ sigmoid"},
		"Tanh":        {fn: convUnary("tanh"), notes: "→ tanh"},
		"HardSigmoid": {fn: convHardSigmoid, notes: "→ hardsigmoid"},
		"HardSwish":   {fn: convUnary("hardswish"), since: 14, notes: "→ hardswish"},
		"Exp":         {fn: convUnary("exp"), notes: "→ exp"},
		"Log":         {fn: convUnary("log"), notes: "→ log"},
		"Sqrt":        {fn: convUnary("sqrt"), notes: "→ sqrt"},
		"Erf":         {fn: convUnary("erf"), since: 9, notes: "→ erf"},
		"Neg":         {fn: convUnary("neg"), notes: "→ neg"},
		"Abs":         {fn: convUnary("abs"), notes: "→ abs"},
		"Reciprocal":  {fn: convUnary("reciprocal"), notes: "→ reciprocal"},
		"Floor":       {fn: convUnary("floor"), notes: "→ floor"},
		"Ceil":        {fn: convUnary("ceil"), notes: "→ ceil"},
		"ReduceMean":  {fn: convReduce("reduce_mean", 18), consts: []int{1}, notes: "→ reduce_mean; axes normalized; noop_with_empty_axes"},
		"ReduceSum":   {fn: convReduce("reduce_sum", 13), consts: []int{1}, notes: "→ reduce_sum; axes normalized; noop_with_empty_axes"},
		"ReduceMax":   {fn: convReduce("reduce_max", 18), consts: []int{1}, notes: "→ reduce_max; axes normalized; noop_with_empty_axes"},
		"TopK":        {fn: convTopK, consts: []int{1}, notes: "Values → topk, Indices → topk_index (i64); K must be constant; ties keep index order"},
		"ArgMax":      {fn: convArgMax(false), notes: "→ argmax (i64); select_last_index"},
		"ArgMin":      {fn: convArgMax(true), notes: "→ neg, argmax (f32 inputs)"},
		"Cast":        {fn: convCast, notes: "→ cast (removed when the dtype does not change); before opset 6 `to` names the type; to FLOAT16 / BFLOAT16 computes in f32 (half constants become f32)"},

		// Reductions decomposed (convert_reduce.go).
		"ReduceMin":       {fn: convReduceForm(reduceMin), consts: []int{1}, notes: "→ neg, reduce_max, neg"},
		"ReduceL1":        {fn: convReduceForm(reduceL1), consts: []int{1}, notes: "→ abs, reduce_sum"},
		"ReduceL2":        {fn: convReduceForm(reduceL2), consts: []int{1}, notes: "→ mul (square), reduce_sum, sqrt"},
		"ReduceSumSquare": {fn: convReduceForm(reduceSumSquare), consts: []int{1}, notes: "→ mul (square), reduce_sum"},
		"ReduceLogSum":    {fn: convReduceForm(reduceLogSum), consts: []int{1}, notes: "→ reduce_sum, log"},
		"ReduceLogSumExp": {fn: convReduceLogSumExp, consts: []int{1}, notes: "→ log(reduce_sum(exp(x − m))) + m, m = reduce_max"},

		// Activations decomposed (convert_act.go).
		"Elu":             {fn: convElu, notes: "→ relu(x) + alpha·(exp(clip(x, max 0)) − 1)"},
		"Selu":            {fn: convSelu, notes: "→ gamma·(relu(x) + alpha·(exp(clip(x, max 0)) − 1))"},
		"Celu":            {fn: convCelu, since: 12, notes: "→ relu(x) + alpha·(exp(clip(x, max 0)/alpha) − 1)"},
		"Softplus":        {fn: convSoftplus, notes: "→ relu(x) + log(1 + exp(−|x|))"},
		"Softsign":        {fn: convSoftsign, notes: "→ x / (1 + abs(x))"},
		"Mish":            {fn: convMish, since: 18, notes: "→ x·tanh(softplus(x)), softplus as for Softplus"},
		"Gelu":            {fn: convGelu, since: 20, notes: "→ x/2·(1 + erf(x/√2)); approximate=tanh → x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))"},
		"Swish":           {fn: convSwish, since: 24, notes: "→ x·sigmoid(alpha·x)"},
		"ThresholdedRelu": {fn: convThresholdedRelu, since: 10, notes: "→ max(x, alpha)·clip(ceil(relu(x − alpha)), max 1) (exact, no comparison)"},

		// Normalizations decomposed (convert_norm.go).
		"LRN":                   {fn: convLRN, notes: "→ x / pow(bias + alpha·avgpool(x², channel window, count_include_pad), beta)"},
		"InstanceNormalization": {fn: convInstanceNorm, notes: "→ reduce_mean/sub/mul/add/sqrt/div over the spatial dims, · scale + B"},
		"ImageScaler":           {fn: convImageScaler, notes: "→ mul by scale, add the per-channel bias (experimental op of opsets 1-9, in older zoo models)"},
		"LayerNormalization":    {fn: convLayerNorm, since: 17, notes: "→ reduce_mean/sub/mul/add/sqrt/div over the dims from axis, · Scale + B; stash_type 1 only; the Mean and InvStdDev outputs unsupported"},

		// Decompositions into existing IR ops (convert_norm2.go, convert_rnn.go,
		// convert_einsum.go, convert_misc2.go).
		"LogSoftmax":                {fn: convLogSoftmax, notes: "→ x − m − log(reduce_sum(exp(x − m))), m = reduce_max; before opset 13 the 2-D coercion at axis as for Softmax"},
		"GroupNormalization":        {fn: convGroupNorm, since: 18, notes: "→ reshape to [N, groups, rest], reduce_mean/sub/mul/add/sqrt/div, · scale + bias (per group at opset 18, per channel from 21); stash_type 1 only"},
		"MeanVarianceNormalization": {fn: convMVN, since: 9, notes: "→ (x − reduce_mean) / (sqrt(variance) + 1e-9) over axes (default [0, 2, 3])"},
		"LpNormalization":           {fn: convLpNorm, notes: "→ x / ‖x‖_p along axis: abs or square, reduce_sum, sqrt, div; p 1 or 2"},
		"GlobalLpPool":              {fn: convGlobalLpPool, notes: "→ (reduce_sum of |x|^p over the spatial dims)^(1/p): abs, mul or pow; sqrt or pow"},
		"LpPool":                    {fn: convLpPool, notes: "→ (window sum of |x|^p)^(1/p), the window sum = avgpool (count_include_pad 0) · a constant count of the positions inside x"},
		"RNN":                       {fn: convRecurrent(rnnRNN), notes: "unrolled over the sequence: one matmul projects all steps, then per step matmul, add and the activation; forward, reverse, bidirectional; layout 0 and 1; clip; sequence_lens absent or all full length"},
		"GRU":                       {fn: convRecurrent(rnnGRU), notes: "unrolled as RNN, gates z r h by slice, sigmoid, tanh, mul, sub; linear_before_reset 0 and 1"},
		"LSTM":                      {fn: convRecurrent(rnnLSTM), notes: "unrolled as RNN, gates i o f c; peepholes (P) and input_forget; outputs Y, Y_h and Y_c"},
		"CumSum":                    {fn: convCumSum, since: 11, consts: []int{1}, notes: "→ ⌈log2 n⌉ steps of pad (shift) and add (a Hillis–Steele scan, exact for integers); exclusive and reverse; axis must be constant"},
		"Trilu":                     {fn: convTrilu, since: 14, consts: []int{1}, notes: "→ mul by a constant 0/1 mask over the last two dims; k must be constant"},
		"EyeLike":                   {fn: convEyeLike, since: 9, notes: "→ const; dtype and k"},
		"CastLike":                  {fn: convCastLike, since: 15, notes: "→ cast to the dtype of target_type (removed when it does not change)"},
		"OneHot":                    {fn: convOneHot, since: 9, consts: []int{1}, notes: "→ const when indices and values are constant; else where(equal(indices (+ depth where negative) against an iota along axis), on, off), float indices truncated; depth must be constant"},
		"GatherElements":            {fn: convGatherElements, since: 11, notes: "→ reshape to 1-D, gather at flat indices: precomputed for constant indices; for computed ones less, add, where (negatives wrap), mul, add, and an out-of-range index gives a position past the data, which the gather reports"},
		"GatherND":                  {fn: convGatherND, since: 11, notes: "→ reshape to [rows, slice], gather of rows, reshape; batch_dims; rows precomputed for constant indices, for computed ones slice, less, add, where, mul, add per index column (an out-of-range tuple makes the gather fail)"},
		"Compress":                  {fn: convCompress, since: 9, consts: []int{1}, notes: "→ gather of the selected positions (of x flattened without axis); condition must be constant and select something"},
		"ReduceProd":                {fn: convReduceProd, consts: []int{1}, notes: "→ transpose, reshape, a tree of slice and mul; at most 64 reduced elements per output"},
		"Shrink":                    {fn: convShrink, since: 9, notes: "→ x − clip(x, −bias, bias), times an exact [|x| > lambd] mask (relu, ceil, clip) when bias < lambd; bias > lambd unsupported"},
		"Einsum":                    {fn: convEinsum, since: 12, notes: "→ reduce_sum, transpose, reshape, expand and, per pair of operands, matmul (batch, rows, inner, columns) or mul; ellipsis; repeated labels in one operand (diagonals) unsupported"},

		// Losses (convert_loss.go).
		"NegativeLogLikelihoodLoss": {fn: convNLLLoss, since: 12, notes: "→ −input[n, target, d…] picked by the runtime GatherElements (the target, INT32 or INT64, may be computed at run time; targets equal to ignore_index read class 0, others outside [0, C) make the gather fail), · gather(weight, target), where(target = ignore_index, 0, ·); reduction none, sum (reduce_sum) or mean (reduce_sum / reduce_sum of the weights of the elements not ignored, 1 each without weight, as ONNX Runtime; NaN when all are ignored); FLOAT input and weight only (DOUBLE and FLOAT16 unsupported)"},
		"SoftmaxCrossEntropyLoss":   {fn: convSCELoss, since: 12, notes: "→ log_softmax along axis 1 (as LogSoftmax), then as NegativeLogLikelihoodLoss; output 1 (log_prob) is that log_softmax; FLOAT scores and weights only (DOUBLE and FLOAT16 unsupported)"},

		// Decompositions into existing IR ops and constants (convert_misc3.go).
		"Hardmax":          {fn: convHardmax, notes: "→ argmax (keepdims), equal against a constant iota along the axis, where 1 else 0: one-hot of the first maximum; before opset 13 the 2-D coercion at axis as for Softmax"},
		"RMSNormalization": {fn: convRMSNorm, since: 23, notes: "→ x / sqrt(reduce_mean(x²) + epsilon) over the dims from axis, · scale; stash_type 1 only"},
		"ScatterElements":  {fn: convScatterElements, since: 11, consts: []int{1}, notes: "→ reshape to 1-D, gather from concat(data, updates) at a precomputed index vector (the last update to an element wins); reduction add/mul/max/min → per layer of updates to one element a gather and add/mul/max/min (at most 64 layers); indices must be constant"},
		"Scatter":          {fn: convScatterElements, since: 9, consts: []int{1}, notes: "the opset 9-10 name of ScatterElements (no reduction): as ScatterElements"},
		"ScatterND":        {fn: convScatterND, since: 11, consts: []int{1}, notes: "→ as ScatterElements, each index tuple writing a slice; indices must be constant"},
		"ReverseSequence":  {fn: convReverseSequence, since: 10, consts: []int{1}, notes: "→ reshape to 1-D, gather at precomputed flat indices, reshape; sequence_lens must be constant"},
		"CenterCropPad":    {fn: convCenterCropPad, since: 18, consts: []int{1}, notes: "→ pad (zeros; negative pads crop), the odd element of a crop left of the center, of a pad on the right; shape must be constant"},
		"HannWindow":       {fn: convWindow, since: 17, consts: []int{0}, notes: "→ const 0.5 − 0.5·cos(2πn/N), computed in float64; periodic (N = size, else size − 1); output_datatype FLOAT or an integer type (truncated); size must be constant"},
		"HammingWindow":    {fn: convWindow, since: 17, consts: []int{0}, notes: "→ const 25/46 − 21/46·cos(2πn/N), as HannWindow"},
		"BlackmanWindow":   {fn: convWindow, since: 17, consts: []int{0}, notes: "→ const 0.42 − 0.5·cos(2πn/N) + 0.08·cos(4πn/N), as HannWindow"},
		"DFT":              {fn: convDFT, since: 17, consts: []int{1, 2}, notes: "→ transpose (signal last), reshape, matmul by a constant cos/sin matrix (real and imaginary parts), reshape, transpose; real or complex input; inverse; onesided for real forward; dft_length (truncate or zero-pad) and the opset-20 axis input must be constant"},

		// Attention (convert_attention.go).
		"Attention": {fn: convAttention, since: 23, notes: "→ transpose/reshape to [batch, heads, seq, head size], mul (scale), matmul by Kᵀ, softcap as mul/tanh/mul, add (attn_mask: bool → where 0 else −inf, padded with −inf to the total length; is_causal: a constant −inf mask above the diagonal after the past), softmax (a query the mask hides every key from gets 0, as in ONNX Runtime: reduce_max of the mask, greater, where), matmul by V; grouped/multi-query heads (kv_num_heads) as a reshape of the query heads into groups; past_key/past_value concat → present_key/present_value; qk_matmul_output_mode 0-3 (matmul, softcap, mask, softmax: ONNX Runtime 1.30's order); computed in f32 whatever softmax_precision; nonpad_kv_seqlen unsupported"},

		"RotaryEmbedding": {fn: convRotaryEmbedding, since: 23, notes: "→ slice of the rotated features (halves, or even and odd with interleaved), mul by the caches (gathered at position_ids when given), sub/add, concat (interleaved: reshape to pairs, concat, reshape), concat with the rest; 3-D input with num_heads or 4-D; rotary_embedding_dim"},

		// Sequences, resolved at import (convert_seq.go).
		"SequenceEmpty":      {fn: convSequenceEmpty, since: 11, notes: "an empty list of tensors at import (no IR); dtype"},
		"SequenceConstruct":  {fn: convSequenceConstruct, since: 11, notes: "a list of the input tensors at import (no IR)"},
		"SequenceAt":         {fn: convSequenceAt, since: 11, consts: []int{1}, notes: "the tensor at the position (constant, negative from the end)"},
		"SequenceLength":     {fn: convSequenceLength, since: 11, notes: "→ const i64 scalar"},
		"SequenceInsert":     {fn: convSequenceInsert, since: 11, consts: []int{2}, notes: "the list with the tensor inserted at the position (constant; default the end)"},
		"SequenceErase":      {fn: convSequenceErase, since: 11, consts: []int{1}, notes: "the list without the tensor at the position (constant; default the last)"},
		"SplitToSequence":    {fn: convSplitToSequence, since: 11, consts: []int{1}, notes: "→ one slice per part (constant split: lengths, a chunk size, or absent: size 1 with keepdims), listed at import"},
		"ConcatFromSequence": {fn: convConcatFromSequence, since: 11, notes: "→ concat of the listed tensors; new_axis=1 → reshape each (a 1 at axis), concat"},

		// Spectrograms (convert_stft.go).
		"STFT":            {fn: convSTFT, since: 17, consts: []int{1, 3}, notes: "→ gather of the frames at constant indices, mul by the window (folded into the matrix when constant), reshape, matmul by a constant cos/sin matrix, reshape to [batch, frames, bins, 2]; real or complex signal; onesided; frame_step and frame_length must be constant"},
		"MelWeightMatrix": {fn: convMelWeightMatrix, since: 17, foldOnly: true, consts: []int{0, 1, 2, 3, 4}, notes: "folded: all inputs must be constant; output_datatype FLOAT or an integer type"},

		// Sampling grids and im2col (convert_grid.go).
		"AffineGrid": {fn: convAffineGrid, since: 20, consts: []int{1}, notes: "→ matmul of the constant homogeneous output positions by thetaᵀ (transpose), reshape; 2-D and 3-D; align_corners; size must be constant"},
		"GridSample": {fn: convGridSample, since: 16, notes: "→ per neighbour: the pixel coordinates (mul, add; border: clip), floor/round, clip into the image, a flat index n·H·W + y·W + x cast to i32, gather from X as [N·H·W, C], weights (zeros padding: where inside), add; transposes around; a constant grid folds the indices and weights (a computed grid gathers at indices computed at run time, compiled too); 4-D input; linear/bilinear and nearest; zeros and border padding; align_corners; cubic and reflection unsupported"},
		"RoiAlign":   {fn: convRoiAlign, since: 10, notes: "→ per roi the sample coordinates start + bin·(j + (i + 0.5)/sampling_ratio) from the run-time rois (mul by spatial_scale, sub the half-pixel shift, sub, output_half_pixel: max 1, div, mul by constant offsets, add); per axis clip into [0, size − 1], floor, the high neighbour clipped, weights masked to 0 outside [−1, size] (greater_equal, less_equal, and, where); per neighbour a flat index b·H·W + y·W + x (the batch index cast to f32; one outside [0, N) fails the gather) cast to i32, gather from X as [N·H·W, C], mul by the weight; avg: add, reduce_mean over each bin's samples; max: max of the weighted neighbours (as ONNX's reference and ONNX Runtime: not of the interpolated value), reduce_max; reshape, transpose to [R, C, h, w]; half_pixel and output_half_pixel; sampling_ratio 0 (adaptive) only with constant rois (grouped by their grid at import, gathered back in order)"},
		"DeformConv": {fn: convDeformConv, since: 19, notes: "→ the sample positions: the run-time offsets reshaped and transposed to [N, offset_group, kH·kW, oH·oW, 2], sliced, added to the constant base positions (strides, pads, dilations); bilinear as GridSample's (floor, clip into the image, a flat index (n·offset_group + g)·H·W + y·W + x cast to i32, gather from X as [N·offset_group·H·W, C/offset_group], weights 0 for a neighbour outside the image (where), add); mul by the mask; transpose, reshape to the im2col [N, group, C/group·kH·kW, oH·oW]; matmul by W reshaped to [1, group, oC/group, C/group·kH·kW] (W may be computed); reshape; add the bias; 2-D only, FLOAT; the offsets' pairs are (Δy, Δx); a NaN or infinite offset samples 0 (like a point outside the image); N·offset_group·H·W must be below 2^24 (f32 indices)"},
		"Col2Im":     {fn: convCol2Im, since: 18, consts: []int{1, 2}, notes: "→ reshape to [N, C, Πblock·L], concat a 0, per layer of contributions to an image position a gather at constant indices, add, reshape; N-D; dilations, pads, strides; image_shape and block_shape must be constant"},

		// Determinants (convert_det.go) and unpooling (convert_unpool.go).
		"Det":             {fn: convDet, since: 11, notes: "a constant input folds; a computed one → slices of the elements, mul and sub for M ≤ 3 (larger computed matrices unsupported)"},
		"TfIdfVectorizer": {fn: convTfIdfVectorizer, since: 9, notes: "int32/int64 X with pool_int64s → per gram length and skip, slices of X equal against the constant pool tokens, and, cast, reduce_sum, a matmul by a constant 0/1 [K, D] placement matrix by ngram_indexes, summed; IDF → where(count > 0, weights), TFIDF → mul by weights (weights[k] at pool n-gram k's column); pool_strings and string X unsupported"},
		"MaxUnpool":       {fn: convMaxUnpool, since: 9, consts: []int{2}, notes: "constant indices → as ScatterElements into zeros; computed indices (from a MaxPool of the same kernel, strides and pads) → per layer of the pooled elements whose window covers an output element, gathers of X and I at constant indices, equal to the element's flat index, where; output_shape must be constant"},

		// Integer bit operations, folded (convert_bits.go).
		"BitShift":   {fn: convBitShift, since: 11, foldOnly: true, consts: []int{0, 1}, notes: "folded: all inputs must be constant (the IR has no bit operations); UINT8"},
		"BitwiseAnd": {fn: convBitwise(func(a, b int64) int64 { return a & b }), since: 18, foldOnly: true, consts: []int{0, 1}, notes: "folded: all inputs must be constant (the IR has no bit operations)"},
		"BitwiseOr":  {fn: convBitwise(func(a, b int64) int64 { return a | b }), since: 18, foldOnly: true, consts: []int{0, 1}, notes: "folded: all inputs must be constant"},
		"BitwiseXor": {fn: convBitwise(func(a, b int64) int64 { return a ^ b }), since: 18, foldOnly: true, consts: []int{0, 1}, notes: "folded: all inputs must be constant"},
		"BitwiseNot": {fn: convBitwiseNot, since: 18, foldOnly: true, consts: []int{0}, notes: "folded: all inputs must be constant"},

		// Shapes, layout and constants (convert_shape.go).
		"Reshape":         {fn: convReshape, consts: []int{1}, notes: "→ reshape with the declared shape; 0, -1 and allowzero resolved; before opset 5 the shape attribute"},
		"Flatten":         {fn: convFlatten, notes: "→ reshape"},
		"Squeeze":         {fn: convSqueeze, consts: []int{1}, notes: "→ reshape"},
		"Unsqueeze":       {fn: convUnsqueeze, consts: []int{1}, notes: "→ reshape"},
		"Transpose":       {fn: convTranspose, notes: "→ transpose"},
		"Concat":          {fn: convConcat, notes: "→ concat; before opset 4 axis defaults to 1"},
		"Pad":             {fn: convPad, consts: []int{1, 2, 3}, notes: "→ pad; constant, reflect and edge modes; pads and value must be constant; opset 1 paddings"},
		"Slice":           {fn: convSlice, consts: []int{1, 2, 3, 4}, notes: "→ slice with starts, ends and steps normalized per dim and clamped"},
		"Split":           {fn: convSplit, consts: []int{1}, notes: "→ one slice per output; opset 1 split input or attribute"},
		"Gather":          {fn: convGather, notes: "→ gather (folded when all inputs are constant)"},
		"Expand":          {fn: convExpand, since: 8, consts: []int{1}, notes: "→ expand to the broadcast shape"},
		"Tile":            {fn: convTile, consts: []int{1, 2}, notes: "→ reshape (a 1 before each repeated dim), expand, reshape; repeats must be constant; before opset 6 tiles and axis"},
		"DepthToSpace":    {fn: convDepthToSpace, notes: "→ reshape, transpose, reshape; DCR and CRD modes"},
		"SpaceToDepth":    {fn: convSpaceToDepth, notes: "→ reshape, transpose, reshape"},
		"Identity":        {fn: convIdentity, notes: "removed: the output is the input (a sequence too)"},
		"Loop":            {fn: convLoop, consts: []int{0, 1}, notes: "unrolled when M and the condition fold to constants (at most 4096 iterations); scan outputs stacked along axis 0; a loop-carried value may be a sequence (a list built in the loop)"},
		"Scan":            {fn: convScan, since: 8, constsAt: scanConsts, notes: "unrolled over the scan inputs' static length (at most 4096 iterations; opset 8: batch × length); scan_input_axes/directions and scan_output_axes/directions; opset 8's sequence_lens only as a constant equal to the full length; state variables and scan inputs must be tensors"},
		"If":              {fn: convIf, consts: []int{0}, notes: "the branch a condition folded at import selects is inlined; a runtime condition is unsupported"},
		"Dropout":         {fn: convDropout, consts: []int{2}, notes: "removed (inference): the output is the input, the mask all true"},
		"Constant":        {fn: convConstant, notes: "→ const; value, value_float(s), value_int(s)"},
		"ConstantOfShape": {fn: convConstantOfShape, since: 9, consts: []int{0}, notes: "→ const"},
		"Shape":           {fn: convShape, notes: "→ const (shapes are static); start and end"},
		"Size":            {fn: convSize, notes: "→ const"},
		"Range":           {fn: convRange, since: 11, foldOnly: true, notes: "folded: all inputs must be constant"},

		// Comparisons, logic, selection and float functions (convert_logic.go).
		"Equal":          {fn: convCompare, since: 7, notes: "→ equal (bool result; folded when all inputs are constant); quantized operands compare stored integers"},
		"Less":           {fn: convCompare, since: 7, notes: "→ less; NaN compares false"},
		"LessOrEqual":    {fn: convCompare, since: 12, notes: "→ less_equal"},
		"Greater":        {fn: convCompare, since: 7, notes: "→ greater"},
		"GreaterOrEqual": {fn: convCompare, since: 12, notes: "→ greater_equal"},
		"And":            {fn: convLogic("and"), notes: "→ and"},
		"Or":             {fn: convLogic("or"), notes: "→ or"},
		"Xor":            {fn: convLogic("xor"), notes: "→ xor"},
		"Not":            {fn: convUnary("not"), notes: "→ not"},
		"Where":          {fn: convWhere, since: 9, notes: "→ where, broadcasting all three inputs"},
		"Sign":           {fn: convUnary("sign"), since: 9, notes: "→ sign (f32 and unquantized integers)"},
		"Round":          {fn: convUnary("round"), since: 11, notes: "→ round, ties to even"},
		"Sin":            {fn: convUnary("sin"), since: 7, notes: "→ sin"},
		"Cos":            {fn: convUnary("cos"), since: 7, notes: "→ cos"},
		"Tan":            {fn: convUnary("tan"), since: 7, notes: "→ tan"},
		"Asin":           {fn: convUnary("asin"), since: 7, notes: "→ asin"},
		"Acos":           {fn: convUnary("acos"), since: 7, notes: "→ acos"},
		"Atan":           {fn: convUnary("atan"), since: 7, notes: "→ atan"},
		"Sinh":           {fn: convUnary("sinh"), since: 9, notes: "→ sinh"},
		"Cosh":           {fn: convUnary("cosh"), since: 9, notes: "→ cosh"},
		"Asinh":          {fn: convUnary("asinh"), since: 9, notes: "→ asinh"},
		"Acosh":          {fn: convUnary("acosh"), since: 9, notes: "→ acosh"},
		"Atanh":          {fn: convUnary("atanh"), since: 9, notes: "→ atanh"},
		"IsNaN":          {fn: convUnary("isnan"), since: 9, notes: "→ isnan"},
		"IsInf":          {fn: convIsInf, since: 10, notes: "→ isinf; detect_positive, detect_negative"},
		"Mod":            {fn: convMod, since: 10, notes: "→ mod; fmod=0 (integers: the divisor's sign) or 1 (C fmod, required for FLOAT); an integer remainder by 0 gives 0"},
	}
}

// lookupConverter finds the converter of a node, or says why there is none.
func lookupConverter(n *onnxpb.NodeProto, opset int) (converter, string) {
	if d := n.GetDomain(); d == "com.microsoft" {
		if conv, ok := msConverters[n.GetOpType()]; ok {
			return conv, ""
		}
		return converter{}, fmt.Sprintf("operator %s of domain \"com.microsoft\" is not supported (pare imports %s of it)", n.GetOpType(), msList())
	} else if d != "" && d != "ai.onnx" {
		return converter{}, fmt.Sprintf("operator %s of domain %q is not supported (pare imports the default ONNX domain and some of com.microsoft)", n.GetOpType(), d)
	}
	conv, ok := converters[n.GetOpType()]
	if !ok {
		return conv, fmt.Sprintf("operator %s is not supported at opset %d; pare supports %s", n.GetOpType(), opset, supportedList())
	}
	if opset < conv.since {
		return conv, fmt.Sprintf("operator %s is supported from opset %d; the model's opset is %d", n.GetOpType(), conv.since, opset)
	}
	return conv, ""
}

func msList() string {
	var names []string
	for name := range msConverters {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func supportedList() string {
	var names []string
	for _, s := range SupportedOps() {
		names = append(names, s.Op)
	}
	return strings.Join(names, ", ")
}

// OpSupport describes one supported ONNX operator.
type OpSupport struct {
	Op     string
	Opsets string // the default-domain opsets handled, e.g. "7-25"
	Notes  string // what it becomes in the IR, and limits
}

// SupportedOps lists the supported ONNX operators, sorted by name.
func SupportedOps() []OpSupport {
	var out []OpSupport
	for name, c := range converters {
		out = append(out, OpSupport{Op: name, Opsets: fmt.Sprintf("%d-%d", max(c.since, minOpset), maxOpset), Notes: c.notes})
	}
	for name, c := range msConverters {
		out = append(out, OpSupport{Op: "com.microsoft." + name, Opsets: "1", Notes: c.notes})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}
