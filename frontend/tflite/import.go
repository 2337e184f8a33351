// Package tflite imports TensorFlow Lite models (.tflite flatbuffers) into
// pare's IR: float models, and fully quantized int8 / uint8 models with
// per-tensor and per-channel parameters. Integer ops get rq="tflite", so rt
// evaluates them with TFLite's reference integer arithmetic.
//
// Layout: the IR is NCHW, as ONNX. The imported graph keeps the model's
// inputs and outputs as they are (NHWC for images: users feed the same data
// as to TFLite) and converts inside: weights are transposed at import (conv
// OHWI → OIHW, depthwise [1,H,W,C·m] → [C·m,1,H,W] with group C), and
// activations get transpose ops only where the layout must change: at the
// boundaries and before ops whose meaning depends on NHWC order (RESHAPE,
// SQUEEZE, FULLY_CONNECTED's flatten, ...). A chain of convolutions has no
// transposes inside; data-movement ops (TRANSPOSE, slices, GATHER, pads,
// TILE, ...) on a tensor that exists only in NCHW run in NCHW with their
// axes mapped. Sparse constant tensors (TFLite's sparsity parameters, as
// pruned models store weights) are densified at import (sparse.go). Only
// subgraph 0 is imported.
package tflite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// Options controls an import. It is empty for now and reserved for later
// settings (such as choosing a subgraph).
type Options struct{}

// Import reads and imports a .tflite file.
func Import(path string, opts Options) (*ir.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ImportBytes(filepath.Base(path), data, opts)
}

// ImportBytes imports a TFLite model held in memory; name (the file name)
// names the graph and prefixes errors. Malformed input is an error, never a
// panic.
func ImportBytes(name string, data []byte, opts Options) (g *ir.Graph, err error) {
	defer func() {
		// A last resort: decode verifies every offset it follows, so this
		// should never run; if it does, the model is malformed.
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("%s: malformed TFLite model (%v)", name, r)
		}
	}()
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed TFLite model: %v", name, err)
	}
	im := &importer{model: name, m: m, sg: &m.sg,
		g:    ir.NewGraph(strings.TrimSuffix(name, filepath.Ext(name))),
		vals: make([]tval, len(m.sg.tensors))}
	if err := im.run(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return im.g, nil
}

// importer holds the state of one import.
type importer struct {
	model string
	m     *model
	sg    *subgraph
	g     *ir.Graph
	vals  []tval // per tensor of subgraph 0
}

// tval is the IR value of a TFLite tensor, in the model's own layout
// (plain) and, for rank-4 tensors, permuted to NCHW. Either may be nil
// until asked for: a conversion is made once, when first needed.
type tval struct {
	plain, nchw *ir.Value
}

// Permutations between TFLite's NHWC and the IR's NCHW.
var (
	toNCHW = []int{0, 3, 1, 2}
	toNHWC = []int{0, 2, 3, 1}
)

func (im *importer) run() error {
	sg := im.sg
	for _, i := range sg.inputs {
		t, err := im.tensor(i)
		if err != nil {
			return fmt.Errorf("subgraph 0 input: %v", err)
		}
		typ, err := im.irType(t)
		if err != nil {
			return fmt.Errorf("subgraph 0 input %q: %v", t.name, err)
		}
		if im.vals[i].plain != nil {
			return fmt.Errorf("subgraph 0 input %q listed twice", t.name)
		}
		im.vals[i].plain = im.g.AddParam(t.name, typ)
	}
	for k := range sg.ops {
		if err := im.convertOp(k); err != nil {
			return err
		}
	}
	for _, i := range sg.outputs {
		v, err := im.get(i)
		if err != nil {
			return fmt.Errorf("subgraph 0 output: %v", err)
		}
		im.g.Results = append(im.g.Results, v)
	}
	if len(im.g.Results) == 0 {
		return fmt.Errorf("subgraph 0 has no outputs")
	}
	im.g.RemoveDead()
	return nil
}

// convertOp imports operator k of subgraph 0.
func (im *importer) convertOp(k int) error {
	op := &im.sg.ops[k]
	if int(op.code) >= len(im.m.codes) {
		return fmt.Errorf("subgraph 0 operator %d: opcode index %d out of range (%d operator codes)", k, op.code, len(im.m.codes))
	}
	code := im.m.codes[op.code]
	c, ok := converterFor[code.builtin]
	if code.builtin == fb.BuiltinOperatorCUSTOM {
		c, ok = customConverterFor[code.custom]
	}
	if !ok {
		return fmt.Errorf("subgraph 0 operator %d: unsupported op %s (supported: %s)", k, code.name(), supportedList())
	}
	oc := &opctx{im: im, op: op, index: k, code: code}
	for _, i := range op.outputs {
		if _, err := im.tensor(i); err != nil {
			return oc.errorf("output: %v", err)
		}
		if im.vals[i].plain != nil || im.vals[i].nchw != nil {
			return oc.errorf("output tensor %d is written twice", i)
		}
	}
	if len(op.outputs) == 0 {
		return oc.errorf("no outputs")
	}
	oc.out = &im.sg.tensors[op.outputs[0]]
	if len(op.inputs) < c.minIn {
		return oc.errorf("takes at least %d inputs, has %d", c.minIn, len(op.inputs))
	}
	if err := c.fn(oc); err != nil {
		return oc.errorf("%v", err)
	}
	return nil
}

// tensor returns tensor i of subgraph 0, checked.
func (im *importer) tensor(i int32) (*tensor, error) {
	if i < 0 || int(i) >= len(im.sg.tensors) {
		return nil, fmt.Errorf("tensor index %d out of range (%d tensors)", i, len(im.sg.tensors))
	}
	return &im.sg.tensors[i], nil
}

// shape converts a TFLite shape, rejecting unknown (-1) and oversized dims.
func shapeOf(t *tensor) ([]int, error) {
	s := make([]int, len(t.shape))
	for i, d := range t.shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q has an unknown dimension in shape %v", t.name, t.shape)
		}
		s[i] = int(d)
	}
	if err := ir.CheckShape(s); err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.name, err)
	}
	return s, nil
}

var dtypes = map[fb.TensorType]ir.DType{
	fb.TensorTypeFLOAT32: ir.F32, fb.TensorTypeINT8: ir.I8, fb.TensorTypeUINT8: ir.U8,
	fb.TensorTypeINT16: ir.I16, fb.TensorTypeINT32: ir.I32, fb.TensorTypeINT64: ir.I64, fb.TensorTypeBOOL: ir.Bool,
}

// irType is the IR type of a tensor in the model's layout.
func (im *importer) irType(t *tensor) (ir.Type, error) {
	dt, ok := dtypes[t.typ]
	if !ok {
		return ir.Type{}, fmt.Errorf("tensor %q has type %v (supported: FLOAT32, INT8, UINT8, INT16, INT32, INT64, BOOL)", t.name, t.typ)
	}
	s, err := shapeOf(t)
	if err != nil {
		return ir.Type{}, err
	}
	q, err := quantOf(t, dt, s)
	if err != nil {
		return ir.Type{}, err
	}
	return ir.Type{DType: dt, Shape: s, Quant: q}, nil
}

// quantOf reads a tensor's quantization: nil for float tensors and for
// integer tensors without scales.
func quantOf(t *tensor, dt ir.DType, shape []int) (*ir.Quant, error) {
	q := t.q
	if q == nil || len(q.scale) == 0 || !dt.IsInt() {
		return nil, nil
	}
	if q.details != fb.QuantizationDetailsNONE {
		return nil, fmt.Errorf("tensor %q uses %v quantization (not supported)", t.name, q.details)
	}
	n := len(q.scale)
	zp := q.zp
	if len(zp) == 0 {
		zp = make([]int64, n)
	}
	if len(zp) != n {
		return nil, fmt.Errorf("tensor %q has %d scales and %d zero points", t.name, n, len(zp))
	}
	out := &ir.Quant{Axis: -1, Scale: append([]float32{}, q.scale...), ZeroPoint: append([]int64{}, zp...)}
	if n > 1 { // per channel; one scale is per tensor whatever the dimension says
		if len(shape) == 1 && shape[0] == n {
			// Old converters (TOCO) copy the weights' dimension into the
			// bias's parameters: a vector has only dimension 0.
			q.dim = 0
		}
		if q.dim < 0 || int(q.dim) >= len(shape) || shape[q.dim] != n {
			return nil, fmt.Errorf("tensor %q %v: %d scales for quantized dimension %d", t.name, shape, n, q.dim)
		}
		out.Axis = int(q.dim)
	}
	lo, hi := dt.Range()
	for i, s := range out.Scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, fmt.Errorf("tensor %q: scale %v must be positive and finite", t.name, s)
		}
		if z := out.ZeroPoint[i]; z < lo || z > hi {
			return nil, fmt.Errorf("tensor %q: zero point %d out of range for %v", t.name, z, dt)
		}
	}
	return out, nil
}

// constTensor reads the data of a constant tensor (nil when it has none).
// The output of an op the import folds into a constant (DEQUANTIZE of
// FLOAT16 weights) counts as one.
func (im *importer) constTensor(i int32) (*ir.Tensor, *ir.Quant, error) {
	t, err := im.tensor(i)
	if err != nil {
		return nil, nil, err
	}
	if v := im.vals[i].plain; v != nil && v.IsConst() {
		return v.Const, v.Type.Quant, nil
	}
	if t.buffer == 0 || int(t.buffer) >= len(im.m.buffers) || len(im.m.buffers[t.buffer]) == 0 {
		if t.external != 0 {
			return nil, nil, fmt.Errorf("tensor %q keeps its data in an external buffer (not supported)", t.name)
		}
		if int(t.buffer) >= len(im.m.buffers) {
			return nil, nil, fmt.Errorf("tensor %q: buffer %d out of range (%d buffers)", t.name, t.buffer, len(im.m.buffers))
		}
		return nil, nil, nil
	}
	typ, err := im.irType(t)
	if err != nil {
		return nil, nil, err
	}
	if t.sparse != nil {
		return im.sparseConst(t, typ)
	}
	data, err := ir.TensorFromBytes(typ.DType, typ.Shape, im.m.buffers[t.buffer])
	if err != nil {
		return nil, nil, fmt.Errorf("tensor %q: %v", t.name, err)
	}
	return data, typ.Quant, nil
}

// get returns tensor i's value in the model's layout, converting from NCHW
// (or materializing a constant) when needed.
func (im *importer) get(i int32) (*ir.Value, error) {
	t, err := im.tensor(i)
	if err != nil {
		return nil, err
	}
	tv := &im.vals[i]
	if tv.plain != nil {
		return tv.plain, nil
	}
	if tv.nchw != nil {
		v, err := im.permute(tv.nchw, toNHWC, ssaName(t.name)+".nhwc", t.name)
		if err != nil {
			return nil, err
		}
		tv.plain = v
		return v, nil
	}
	data, q, err := im.constTensor(i)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("tensor %d (%q) is used before any operator produces it", i, t.name)
	}
	tv.plain = im.addConst(t.name, "", data, q)
	return tv.plain, nil
}

// addConst adds a constant named after a tensor (plus suffix).
func (im *importer) addConst(tensorName, suffix string, t *ir.Tensor, q *ir.Quant) *ir.Value {
	v := im.g.AddConst(ssaName(tensorName)+suffix, t, q)
	v.Source = tensorName
	return v
}

// getNCHW returns rank-4 tensor i's value permuted to NCHW. Constants are
// transposed at import.
func (im *importer) getNCHW(i int32) (*ir.Value, error) {
	t, err := im.tensor(i)
	if err != nil {
		return nil, err
	}
	tv := &im.vals[i]
	if tv.nchw != nil {
		return tv.nchw, nil
	}
	if len(t.shape) != 4 {
		return nil, fmt.Errorf("tensor %q has shape %v, want rank 4 (NHWC)", t.name, t.shape)
	}
	if tv.plain == nil {
		data, q, err := im.constTensor(i)
		if err != nil {
			return nil, err
		}
		if data != nil {
			d, q := transposeConst(data, q, toNCHW)
			tv.nchw = im.addConst(t.name, ".nchw", d, q)
			return tv.nchw, nil
		}
	}
	x, err := im.get(i)
	if err != nil {
		return nil, err
	}
	if tv.nchw, err = im.permute(x, toNCHW, ssaName(t.name)+".nchw", t.name); err != nil {
		return nil, err
	}
	return tv.nchw, nil
}

// isNCHW reports whether tensor i exists only in NCHW form so far.
func (im *importer) isNCHW(i int32) bool {
	return i >= 0 && int(i) < len(im.vals) && im.vals[i].nchw != nil && im.vals[i].plain == nil
}

// permute transposes x; when the permutation keeps the order of elements
// (every moved dim but one has size 1), it is a reshape.
func (im *importer) permute(x *ir.Value, perm []int, name, source string) (*ir.Value, error) {
	s := x.Type.Shape
	shape := make([]int, len(perm))
	var moved []int
	for i, p := range perm {
		shape[i] = s[p]
		if s[p] != 1 {
			moved = append(moved, p)
		}
	}
	ordered := true
	for i := 1; i < len(moved); i++ {
		ordered = ordered && moved[i-1] < moved[i]
	}
	if ordered && (x.Type.Quant == nil || x.Type.Quant.Axis < 0) {
		return im.g.Add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: shape}, name, source)
	}
	return im.g.Add("transpose", []*ir.Value{x}, ir.Attrs{"perm": ir.Ints(perm...)}, ir.Type{}, name, source)
}

// transposeConst permutes a constant's data (and its quantization axis).
func transposeConst(t *ir.Tensor, q *ir.Quant, perm []int) (*ir.Tensor, *ir.Quant) {
	shape := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = t.Shape[p]
	}
	out := ir.NewTensor(t.DType, shape)
	switch t.DType {
	case ir.F32:
		permuteData(out.F32, t.F32, t.Shape, perm)
	case ir.I8:
		permuteData(out.I8, t.I8, t.Shape, perm)
	case ir.U8:
		permuteData(out.U8, t.U8, t.Shape, perm)
	case ir.I16:
		permuteData(out.I16, t.I16, t.Shape, perm)
	case ir.I32:
		permuteData(out.I32, t.I32, t.Shape, perm)
	case ir.I64:
		permuteData(out.I64, t.I64, t.Shape, perm)
	case ir.Bool:
		permuteData(out.Bool, t.Bool, t.Shape, perm)
	}
	if q != nil && q.Axis >= 0 {
		nq := *q
		for i, p := range perm {
			if p == q.Axis {
				nq.Axis = i
			}
		}
		q = &nq
	}
	return out, q
}

// permuteData writes src (of shape) transposed by perm into dst, walking
// dst in order with an inner loop over its last dim.
func permuteData[T any](dst, src []T, shape, perm []int) {
	r := len(perm)
	if len(dst) == 0 {
		return
	}
	if r == 0 {
		copy(dst, src)
		return
	}
	st := ir.Strides(shape)
	oshape := make([]int, r)
	for i, p := range perm {
		oshape[i] = shape[p]
	}
	inner, innerStride := oshape[r-1], st[perm[r-1]]
	idx := make([]int, r-1)
	for o := 0; o < len(dst); o += inner {
		base := 0
		for d, i := range idx {
			base += i * st[perm[d]]
		}
		row := dst[o : o+inner]
		for j := range row {
			row[j] = src[base+j*innerStride]
		}
		for d := r - 2; d >= 0; d-- {
			if idx[d]++; idx[d] < oshape[d] {
				break
			}
			idx[d] = 0
		}
	}
}
