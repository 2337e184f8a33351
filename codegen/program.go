// Package codegen lowers a verified ir.Graph to a Program: the
// target-independent plan that pare's backends (LLVM, Go source) turn into
// code. A Program is plain data: an execution order of kernel steps, each
// with its shapes, attributes and the places of its operands; a static
// memory plan (every intermediate tensor at a fixed offset in one arena);
// and the constants, packed into the layouts the kernels read, in one blob.
//
// Lowering fuses elementwise chains into their producer (conv + bias +
// batchnorm + relu becomes one step), folds batch normalizations and
// per-channel bias additions into convolution weights, aliases reshapes,
// and reuses buffers in place where an elementwise step allows it.
package codegen

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Space says which memory a Ref points into.
type Space uint8

// Memory spaces.
const (
	Arena   Space = iota // the scratch arena, one per program
	Input                // the caller's input buffer Index
	Output               // the caller's output buffer Index
	Weights              // the packed constant blob
)

func (s Space) String() string {
	return [...]string{"arena", "input", "output", "weights"}[s]
}

// Ref is the place of a tensor: a space, the input or output index (for
// Input and Output) and a byte offset.
type Ref struct {
	Space  Space
	Index  int
	Offset int64
}

func (r Ref) String() string {
	switch r.Space {
	case Input, Output:
		return fmt.Sprintf("%v%d+%d", r.Space, r.Index, r.Offset)
	}
	return fmt.Sprintf("%v+%d", r.Space, r.Offset)
}

// Operand is a tensor a step reads or writes.
type Operand struct {
	Ref
	DType ir.DType
	Shape []int
	Quant *ir.Quant
	Value string // the ir value it holds ("" for packed constants and scratch)

	buf  *buffer // while lowering: the buffer the plan places
	boff int64
}

// Bytes is the operand's storage size.
func (o Operand) Bytes() int64 { return int64(ir.NumElements(o.Shape)) * int64(o.DType.Size()) }

// Kernel names the implementation a step uses.
type Kernel string

// Kernels. Backends switch on these; each documents its operands.
const (
	// KConvGemm: 2-D conv as GEMM. In: x, packed weight [G][Mg][Cg*KH*KW],
	// bias [M] (optional). Im2col into Scratch unless Conv.Pointwise. f32
	// steps always have a Scratch of [Cg*KH*KW][OH*OW rounded up to
	// PanelCols] (pointwise ones too: a backend may pack B there).
	KConvGemm Kernel = "conv_gemm"
	// KConvDepthwise: 2-D conv with one input channel per group. In: x,
	// weight [M][KH*KW], bias [M] (optional).
	KConvDepthwise Kernel = "conv_depthwise"
	// KGemm: Out[b] = A[b]·B[b] (+ bias row [N]) for every batch entry. In:
	// A, B (B packed to [K,N] when constant), bias (optional).
	KGemm Kernel = "gemm"
	// KMap: Out = epilogue(In[0]) elementwise over Loop (binary ops are
	// epilogue entries with a second operand).
	KMap Kernel = "map"
	// KPool: 2-D max or average pooling (Pool). In: x.
	KPool Kernel = "pool"
	// KGlobalAvgPool: mean over the spatial dims of every (n, c) plane.
	KGlobalAvgPool Kernel = "global_avgpool"
	// KSoftmax: softmax over the middle dim of In[0] seen as [Outer, N, Inner].
	KSoftmax Kernel = "softmax"
	// KReduce: reduce In[0] over Reduce.
	KReduce Kernel = "reduce"
	// KQuant: elementwise integer conversions (QMap): quantize,
	// dequantize, requantize and integer clamps. In: x, then QMap.Kind's
	// per-channel parameter arrays.
	KQuant Kernel = "quant"
	// KCopy: strided copies (Copies) of In[i] into Out, after filling Out
	// with Fill when HasFill.
	KCopy Kernel = "copy"
	// KResize: nearest or multilinear resize of In[0] (Resize), computed
	// as rt's: per output element, the sum over the corners of the
	// blending dims (in Resize.Dims order) of weight·x, weights multiplied
	// in dim order, zero weights skipped.
	KResize Kernel = "resize"
	// KConvTranspose: 1-D or 2-D transposed convolution (Conv: H, W the
	// input's, OH, OW the output's; M, Mg the output channels). In: x,
	// weight [C][Mg][KH*KW] as ONNX stores it, bias [M] (optional).
	KConvTranspose Kernel = "conv_transpose"
	// KQBinary: a quantized add, sub or mul of In[0] and In[1] (QBin),
	// broadcast over Loop (Strides[0] the output's, contiguous; Strides[1]
	// and Strides[2] the inputs').
	KQBinary Kernel = "qbinary"
	// KPoolTable: N-d f32 max or average pooling, or maxpool_index, from
	// per-output window tables (PoolTable), computed as rt's pool plan. In:
	// x, offs i32[OutSz*K] (the plane offset of each window position, -1
	// outside the input), then divisor f32[OutSz] (average) or the reported
	// offsets i32[OutSz*K] (maxpool_index: row- or column-major).
	KPoolTable Kernel = "pool_table"
	// KBatchNorm: batchnorm with runtime parameters, as rt's: per channel
	// a = scale/sqrt(var+eps) (the root in f64), b = bias - mean·a, then
	// y = x·a + b. In: x [N, C, ...], scale, bias, mean, var f32[C].
	KBatchNorm Kernel = "batchnorm"
	// KIntConvRuntime: an integer conv (Conv, Rq with BRuntime) whose
	// weights are a runtime operand: In: x, w [M][Cg·KH·KW] as stored,
	// bias i32[M], the Requant parameters, then the weight zero points
	// i32[M] (last; Rq.ZB is the first of them); Scratch
	// as KConvGemm's integer form (accumulator row, then the im2col).
	KIntConvRuntime Kernel = "int_conv_runtime"
	// KSparseConv: a conv (Conv; Rq when integer) whose constant weights
	// are Sparse-encoded: out[n,m,oh,ow] = bias[m] + Σ over row m's
	// entries (column k = (cg·KH + kh)·KW + kw, weight w) of w ·
	// x[n, g·Cg + cg, oh·SH − PT + kh·DH, ow·SW − PL + kw·DW] (g = m / Mg;
	// outside the input: 0, or for integers x − ZX is 0 there). In: x,
	// values or codebook indices (see Sparse), bias (f32 when Conv.Bias;
	// integer steps: i32[M] always, then the Requant parameters as
	// KConvGemm's). Scratch (4-byte elements) has room for a table of
	// 2·Cols words, then the padded input [C][Hp][Wp] (f32, or for integers
	// x − ZX as i32), then for integer steps an accumulator plane OH·OW.
	KSparseConv Kernel = "sparse_conv"
	// KSparseGemm: a gemm or matmul (Gemm; Rq when integer) whose constant
	// B is Sparse-encoded as Bᵀ (row n holds column n of B): Out[b][i][n] =
	// Alpha·Σ over row n's entries (column k, weight w) of w·A[b][i][k]
	// (+ bias[n]). Every batch entry reads the one B. In: A, values or
	// codebook indices, bias (optional for f32; integer steps: i32[N], then
	// the Requant parameters); integer steps have KGemm's Scratch.
	KSparseGemm Kernel = "sparse_gemm"
	// KNMS: nms_index (NMS) as rt computes it (rt/nms.go): In: boxes
	// f32[N,4], scores f32[N]; Out i32[MaxOut]; Scratch f32[6N] (see
	// lowerNMS). Per box: corners normalized by std::min / std::max
	// (q < p ? q : p, p < q ? q : p), area = (ymax - ymin)·(xmax - xmin),
	// candidate = score >= Score. Then MaxOut rounds: the first candidate
	// of greatest score (scanned in index order, replaced only by a
	// greater one) is written and stops being one, and unless its area is
	// <= 0, every candidate i of area > 0 with IoU > IoU stops being one:
	// ih = max(min(ymax) - max(ymin), 0), iw likewise, inter = ih·iw,
	// IoU = inter / ((area_best + area_i) - inter), each step rounded to
	// f32 (no FMA). With no candidate the slot gets -1.
	KNMS Kernel = "nms"
	// KGather: a gather whose indices are read at run time (Gather): In:
	// x (any dtype; its quantization carries over), indices (i32 or i64).
	// The only kernel that can fail (Step.Fails): an index out of range.
	KGather Kernel = "gather"
)

// Program is a lowered graph.
type Program struct {
	Name      string // a C identifier derived from the graph name
	Inputs    []Operand
	Outputs   []Operand
	Steps     []*Step
	ArenaSize int64
	// Weights holds every constant, each at a 64-byte aligned offset,
	// little-endian.
	Weights []byte
	// BufferBytes is the sum of the sizes of the arena buffers the plan
	// placed (what an allocator without reuse would need).
	BufferBytes int64
}

// Step is one kernel invocation.
type Step struct {
	Kernel Kernel
	Op     string // the ir op it implements (of the chain's head)
	Name   string // a C identifier, unique in the program
	Where  string // the ir value and source node, for messages and comments
	In     []Operand
	Out    Operand
	// Scratch is arena space the kernel may use during the step (im2col).
	Scratch *Operand
	// Epilogue is applied to every output element after the kernel, in order.
	Epilogue []Epi
	// InPlace reports that Out shares its storage with In[0] (KMap only).
	InPlace bool

	Conv    *Conv
	Gemm    *Gemm
	Pool    *Pool
	PoolT   *PoolTable
	BN      *BatchNorm
	Loop    *Loop // KMap iteration space: operand 0 is In[0], then epilogue args
	Softmax [3]int
	Reduce  *Reduce
	Copies  []Copy
	Resize  *Resize
	HasFill bool
	Fill    float32
	// Rq is set on integer conv, gemm, pool and softmax steps.
	Rq   *Requant
	QMap *QMap
	QBin *QBinary
	// Sparse is the compressed weight of KSparseConv and KSparseGemm.
	Sparse *Sparse
	// Gather is the geometry of a KGather step.
	Gather *Gather
	// NMS is the geometry of a KNMS step.
	NMS *NMS
}

// QBinary is the arithmetic of a quantized binary op on 8-bit per-tensor
// operands a, b and result y, by Mode:
//   - "float" (rt's viaFloat): da = float32(a - ZA)·SA, db likewise, f =
//     da op db in f32, y = sat(round_half_even(f / SY) + ZY);
//   - "tflite" (add and sub): x = MBQM((a - ZA)·2^20, M1, S1), z =
//     MBQM((b - ZB)·2^20, M2, S2), y = MBQM(x ± z, MO, SO) + ZY (wrapping
//     int32);
//
// then clamped to [Lo, Hi] (max then min: the type range and a fused act).
// RecipY, when not 0, is a float32 1/SY by which "float" mode may multiply
// instead of dividing: checked, for every pair of stored operand values,
// to give the same result (recipExact).
type QBinary struct {
	Op, Mode               string
	ZA, ZB, ZY             int32
	SA, SB, SY             float32
	M1, S1, M2, S2, MO, SO int32
	Lo, Hi                 int32
	RecipY                 float32
}

// Requant is the integer arithmetic of a quantized conv or gemm step:
// acc = Σ (x - ZX)·w' + bias in wrapping int32, w' the zero-centred weights
// packed as i8 or i16 (In[1]; a runtime B of a gemm, BRuntime, has its
// stored type and zero point ZB), bias
// int32 (In[2], always present), then by Mode:
//   - "i32": acc is stored as it is;
//   - "float": round_half_even(float32(acc)·scale[c]) + ZY (In[3] = scale f32[nch]);
//   - "tflite": MultiplyByQuantizedMultiplier(acc, mult[c], shift[c]) + ZY
//     (In[3] = mult i32[nch], In[4] = shift i32[nch]);
//
// and clamped to [Lo, Hi] (max then min: the type range and a fused act).
// c is the output channel (conv) or column (gemm).
//
// On pool steps Mode "tflite" is TFLite's integer average (rounded
// division by the count of valid elements) and "max" an integer max pool;
// on softmax steps "tflite" is TFLite's integer softmax with In[1] the
// exp table and In[2] the Q12.19 table, both i32[256] indexed by max - x.
type Requant struct {
	Mode     string
	ZX, ZB   int32
	BRuntime bool
	ZY       int32
	Lo, Hi   int32
}

// QMap is an elementwise integer conversion over In[0] seen as [Outer,
// Dim, Inner] (the parameters index Dim):
//   - "quantize": sat(round_half_even(x / sy[c]) + zy[c]); In: x, sy f32, zy i32
//   - "dequantize": float32(x - zx[c])·sx[c]; In: x, sx f32, zx i32
//   - "requantize_float": quantize(dequantize(x)); In: x, sx, zx, sy, zy
//   - "requantize_tflite": MultiplyByQuantizedMultiplier(x - zx[c], mult[c],
//     shift[c]) + zy[c]; In: x, zx, mult, shift, zy
//   - "clamp": x (stored integers; the store wraps to the output dtype)
//   - "trunc": f32 x truncated toward zero, as int64 (NaN and values
//     beyond int64: MinInt64), wrapped to the output dtype (rt's cast)
//   - "lut": table[x + 128] for an i8 x, table[x] for a u8 x; In: x, the
//     table (256 elements of the output dtype: i8, u8 or f32); no clamp
//
// Integer results are clamped to [Lo, Hi] (max then min).
type QMap struct {
	Kind              string
	Outer, Dim, Inner int
	Lo, Hi            int32
}

// EpiOp is one elementwise operation of an epilogue.
type EpiOp string

// Epilogue operations; binary ones read Arg.
const (
	EpiAdd, EpiSub, EpiMul, EpiDiv, EpiMax, EpiMin, EpiPow, EpiPrelu EpiOp = "add", "sub", "mul", "div", "max", "min", "pow", "prelu"

	EpiRelu, EpiLeakyRelu, EpiClip, EpiSigmoid, EpiTanh, EpiHardSigmoid, EpiHardSwish EpiOp = "relu", "leaky_relu", "clip", "sigmoid", "tanh", "hardsigmoid", "hardswish"
	EpiExp, EpiLog, EpiSqrt, EpiErf, EpiNeg, EpiAbs, EpiReciprocal, EpiFloor, EpiCeil EpiOp = "exp", "log", "sqrt", "erf", "neg", "abs", "reciprocal", "floor", "ceil"
)

// Epi is one epilogue entry: cur = Op(cur, Arg) (Swapped: Op(Arg, cur));
// EpiWhere is cur ? Arg : Arg2. The chain value changes type where an
// entry's Result says so (comparisons give bool, where Arg's dtype).
type Epi struct {
	Op      EpiOp
	Arg     *Operand
	Arg2    *Operand // the third operand of a ternary op (EpiWhere)
	Swapped bool
	// A and B are the op's float parameters: clip min/max, leaky_relu and
	// hardsigmoid alpha/beta.
	A, B float32
}

// Binary reports whether the op reads a second operand (Arg).
func (op EpiOp) Binary() bool {
	switch op {
	case EpiAdd, EpiSub, EpiMul, EpiDiv, EpiMax, EpiMin, EpiPow, EpiPrelu:
		return true
	}
	return op.Compare() || op.Logic() || op == EpiMod || op == EpiFmod || op == EpiWhere
}

// Conv is the geometry of a 2-D convolution (1-D convs have H = KH = 1).
type Conv struct {
	N, C, H, W     int
	M, OH, OW      int
	KH, KW         int
	SH, SW, DH, DW int
	PT, PL         int // top and left pads (the bottom/right ones follow from OH, OW)
	Group          int
	Cg, Mg         int
	Pointwise      bool // 1×1, stride 1, no pads: the input is the GEMM's B
	Bias           bool
}

// Gemm is C = A·B over Batch entries of element offsets (A, B, C).
type Gemm struct {
	M, N, K int
	// TransA means A is stored [K, M]; B is always [K, N] after packing
	// unless TransB (stored [N, K]).
	TransA, TransB bool
	Batch          [][3]int
	Bias           bool // In[2] is a [N] row added to every output row
	Alpha          float32
}

// PoolTable is an N-d pooling as tables (KPoolTable): Planes (n, c) planes
// of InSz elements, OutSz outputs per plane, each reducing over K window
// positions in row-major window order.
type PoolTable struct {
	Max, Index          bool
	Planes, InSz, OutSz int
	K                   int
}

// BatchNorm is the shape of a KBatchNorm step: x seen as [N, C, Inner].
type BatchNorm struct {
	N, C, Inner int
	Eps         float32
}

// Pool is the geometry of a 2-D pooling.
type Pool struct {
	Max            bool
	Planes         int // N*C
	H, W, OH, OW   int
	KH, KW         int
	SH, SW, DH, DW int
	PT, PL, PB, PR int
	IncludePad     bool
}

// Loop is a nest of loops over Shape; Strides[k][d] is operand k's element
// stride along dim d (0 where it broadcasts). The output is contiguous.
// Strides[0] is In[0]'s (or the output's, for a producer's epilogue),
// Strides[1+j] epilogue entry j's Arg, and after those come the strides of
// the Arg2 operands in entry order (Step.Arg2Strides).
type Loop struct {
	Shape   []int
	Strides [][]int
}

// Reduce reduces In[0] (seen as Loop.Shape = out dims then reduced dims)
// with Op "sum", "mean" or "max".
type Reduce struct {
	Op      string
	Outer   []int // output dims (the kept ones, in order)
	OStride []int // input strides of the outer dims
	Inner   []int // reduced dims
	IStride []int // input strides of the reduced dims
	// Op "topk" / "topk_index" (lowerTopK): Inner is the one axis; K,
	// Largest as the ops' attributes; output element s of an outer
	// position sits at Σ outer index · OutStride + s·KStride.
	K, KStride int
	Largest    bool
	OutStride  []int
	// Op "argmax": Inner is the one axis; the output (i32 or i64) is the
	// index along it of the first maximum, or with Last the last (rt's:
	// from the first element on, greater — Last: greater or equal —
	// replaces the best). f32 or integer input.
	Last bool
	// Mean, on an 8-bit reduce_mean (rq=tflite): the int32 sum of the
	// reduced elements (stored integers) finished as Mean says.
	Mean *rt.TFLiteMean
}

// Copy copies Shape elements from In[Src] at SrcOff (element offset) with
// SrcStrides into Out at DstOff with DstStrides.
type Copy struct {
	Src                    int
	Shape                  []int
	SrcOff, DstOff         int
	SrcStrides, DstStrides []int
}

// Resize maps every output coordinate of every dim to input coordinates.
type Resize struct {
	Shape []int // the output shape
	Dims  []ResizeDim
}

// ResizeDim is one dim of a resize: output coordinate o reads input
// element offsets I0[o] (weight 1-W1[o]) and I1[o] (weight W1[o]), both
// already multiplied by the input stride. Without Lerp only I0 is read.
type ResizeDim struct {
	I0, I1 []int
	W1     []float32
	Lerp   bool
}

// eachOperand calls f on every operand of the step.
func (s *Step) eachOperand(f func(*Operand)) {
	for i := range s.In {
		f(&s.In[i])
	}
	f(&s.Out)
	if s.Scratch != nil {
		f(s.Scratch)
	}
	for i := range s.Epilogue {
		if s.Epilogue[i].Arg != nil {
			f(s.Epilogue[i].Arg)
		}
		if s.Epilogue[i].Arg2 != nil {
			f(s.Epilogue[i].Arg2)
		}
	}
}
