package tflite

import (
	"fmt"
	"math"
	"sort"
	"strings"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// converter imports one TFLite builtin op.
type converter struct {
	op    fb.BuiltinOperator
	minIn int // inputs the op needs at least
	notes string
	fn    func(o *opctx) error
}

var converterFor = map[fb.BuiltinOperator]*converter{}

func init() {
	for i := range converters {
		c := &converters[i]
		if converterFor[c.op] != nil {
			panic("tflite: converter registered twice: " + c.op.String())
		}
		converterFor[c.op] = c
	}
}

// OpSupport describes one supported TFLite operator: a builtin, or a
// custom op named "CUSTOM <custom code>".
type OpSupport struct {
	Op    string // the schema's BuiltinOperator name, e.g. CONV_2D, or CUSTOM and the custom code
	Notes string // what it becomes in the IR, and limits
}

// SupportedOps lists the supported TFLite operators, sorted by name.
func SupportedOps() []OpSupport {
	var out []OpSupport
	for _, c := range converters {
		out = append(out, OpSupport{Op: c.op.String(), Notes: c.notes})
	}
	out = append(out, customSupport()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

func supportedList() string {
	var names []string
	for _, s := range SupportedOps() {
		names = append(names, s.Op)
	}
	return strings.Join(names, ", ")
}

// opctx is the operator being imported.
type opctx struct {
	im    *importer
	op    *operator
	index int
	code  opCode
	out   *tensor // output 0
}

func (o *opctx) errorf(format string, args ...any) error {
	return fmt.Errorf("subgraph 0 operator %d (%s, output %q): %s", o.index, o.code.name(), o.out.name, fmt.Sprintf(format, args...))
}

// in returns the tensor index of input k, or -1 when it is absent or optional.
func (o *opctx) in(k int) int32 {
	if k >= len(o.op.inputs) {
		return -1
	}
	return o.op.inputs[k]
}

// outType is the type of output 0 in the model's layout.
func (o *opctx) outType() (ir.Type, error) { return o.im.irType(o.out) }

// hint is what NewValue cannot infer of output 0: its dtype and quantization.
func (o *opctx) hint() (ir.Type, error) {
	t, err := o.outType()
	if err != nil {
		return ir.Type{}, err
	}
	return ir.Type{DType: t.DType, Quant: t.Quant}, nil
}

// quantized reports whether output 0 is a quantized integer tensor.
func (o *opctx) quantized() bool {
	t, err := o.outType()
	return err == nil && t.Quant != nil
}

// add appends an op named after output 0. Ops with an rq attribute and a
// quantized result get rq="tflite".
func (o *opctx) add(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) (*ir.Value, error) {
	return o.addFor(0, op, args, attrs, hint)
}

// addFor is add for a value named after output k.
func (o *opctx) addFor(k int, op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) (*ir.Value, error) {
	if d := ir.LookupOp(op); d != nil && d.AttrDef("rq") != nil && hint.Quant != nil {
		if attrs == nil {
			attrs = ir.Attrs{}
		}
		attrs["rq"] = ir.Str("tflite")
	}
	name := o.im.sg.tensors[o.op.outputs[k]].name
	return o.im.g.Add(op, args, attrs, hint, ssaName(name), name)
}

// ssaName shortens a tensor name for the IR: converters join the names of
// fused nodes with ';', and the first says what the tensor is.
func ssaName(s string) string {
	if i := strings.IndexByte(s, ';'); i > 0 {
		return s[:i]
	}
	return s
}

// set records v as output 0, in NCHW form when nchw, after checking it
// against the model's declared type.
func (o *opctx) set(v *ir.Value, nchw bool) error { return o.setAt(0, v, nchw) }

// outTypeAt is the type of output k in the model's layout.
func (o *opctx) outTypeAt(k int) (ir.Type, error) {
	return o.im.irType(&o.im.sg.tensors[o.op.outputs[k]])
}

// setAt records v as output k (see set).
func (o *opctx) setAt(k int, v *ir.Value, nchw bool) error {
	want, err := o.outTypeAt(k)
	if err != nil {
		return err
	}
	shape := want.Shape
	if nchw {
		shape = []int{shape[0], shape[3], shape[1], shape[2]}
	}
	if v.Type.DType != want.DType || !ir.EqualShape(v.Type.Shape, shape) {
		return fmt.Errorf("output %d: computes %v, the model declares %v%s", k, v.Type, want.DType, ir.FormatShape(shape))
	}
	if want.Quant != nil && !v.Type.Quant.Equal(want.Quant) {
		return fmt.Errorf("output %d: result quantization %v differs from the declared %v", k, v.Type.Quant, want.Quant)
	}
	tv := &o.im.vals[o.op.outputs[k]]
	if nchw {
		tv.nchw = v
	} else {
		tv.plain = v
	}
	return nil
}

// requantizeTo returns v requantized to quantization q when it is
// quantized otherwise (the data-movement ops keep their input's parameters;
// a model that declares others gets a requantize).
func (o *opctx) requantizeTo(k int, v *ir.Value, dt ir.DType, q *ir.Quant) (*ir.Value, error) {
	if q == nil || v.Type.Quant.Equal(q) {
		return v, nil
	}
	if v.Type.Quant == nil {
		return nil, fmt.Errorf("%v input for a quantized %v output", v.Type, dt)
	}
	return o.addFor(k, "requantize", []*ir.Value{v}, nil, ir.Type{DType: dt, Quant: q})
}

// setMoved records v, the result of a data-movement op, as output k:
// requantized when the output's parameters differ, reshaped when the
// output drops or adds size-1 dims (in the model's layout only).
func (o *opctx) setMoved(k int, v *ir.Value, nchw bool) error {
	want, err := o.outTypeAt(k)
	if err != nil {
		return err
	}
	if !nchw && !ir.EqualShape(v.Type.Shape, want.Shape) && v.Type.NumElements() == want.NumElements() {
		if v, err = o.addFor(k, "reshape", []*ir.Value{v}, nil, ir.Type{Shape: want.Shape}); err != nil {
			return err
		}
	}
	if v, err = o.requantizeTo(k, v, want.DType, want.Quant); err != nil {
		return err
	}
	return o.setAt(k, v, nchw)
}

// quantizedIO reports whether any input or output of the op is a quantized tensor.
func (o *opctx) quantizedIO() bool {
	for _, ts := range [][]int32{o.op.inputs, o.op.outputs} {
		for _, i := range ts {
			if i < 0 {
				continue
			}
			t, err := o.im.tensor(i)
			if err != nil {
				continue
			}
			if typ, err := o.im.irType(t); err == nil && typ.Quant != nil {
				return true
			}
		}
	}
	return false
}

// floatOnly wraps a converter whose integer form rt does not compute as
// TFLite does: quantized tensors make it an error, never an approximation.
func floatOnly(fn func(o *opctx) error) func(o *opctx) error {
	return func(o *opctx) error {
		if o.quantizedIO() {
			return fmt.Errorf("unsupported: quantized %s (pare has no bit-exact form of TFLite's integer kernel)", o.code.name())
		}
		return fn(o)
	}
}

// elementwiseIn returns input k in the layout it already has (NCHW when it
// exists only so), for ops that do not care.
func (o *opctx) elementwiseIn(k int) (*ir.Value, bool, error) {
	i := o.in(k)
	if o.im.isNCHW(i) {
		v, err := o.im.getNCHW(i)
		return v, true, err
	}
	v, err := o.im.get(i)
	return v, false, err
}

// constInts reads a constant integer input (axes, paddings, shapes).
func (o *opctx) constInts(k int) ([]int, []int, error) {
	t, _, err := o.im.constTensor(o.in(k))
	if err != nil {
		return nil, nil, err
	}
	if t == nil || (t.DType != ir.I32 && t.DType != ir.I64) {
		return nil, nil, fmt.Errorf("input %d must be a constant i32 or i64 tensor", k)
	}
	out := make([]int, t.Len())
	for i := range out {
		out[i] = int(t.IntAt(i))
	}
	return out, t.Shape, nil
}

// activate applies a fused activation to v. Float results get relu / clip /
// tanh; quantized results a clip on the stored integers, with the bounds
// TFLite's CalculateActivationRangeQuantized computes.
func (o *opctx) activate(v *ir.Value, act fb.ActivationFunctionType) (*ir.Value, error) {
	if act == fb.ActivationFunctionTypeNONE {
		return v, nil
	}
	var lo, hi float32
	switch act {
	case fb.ActivationFunctionTypeRELU:
		lo, hi = 0, float32(math.Inf(1))
	case fb.ActivationFunctionTypeRELU6:
		lo, hi = 0, 6
	case fb.ActivationFunctionTypeRELU_N1_TO_1:
		lo, hi = -1, 1
	case fb.ActivationFunctionTypeTANH:
		if v.Type.DType != ir.F32 {
			return nil, fmt.Errorf("fused activation TANH on a quantized result is not supported")
		}
		return o.add("tanh", []*ir.Value{v}, nil, ir.Type{})
	default:
		return nil, fmt.Errorf("fused activation %v is not supported", act)
	}
	if v.Type.DType == ir.F32 {
		if act == fb.ActivationFunctionTypeRELU {
			return o.add("relu", []*ir.Value{v}, nil, ir.Type{})
		}
		return o.add("clip", []*ir.Value{v}, ir.Attrs{"min": ir.Float(lo), "max": ir.Float(hi)}, ir.Type{})
	}
	q := v.Type.Quant
	if q == nil || q.Axis >= 0 {
		return nil, fmt.Errorf("fused activation on %v needs a per-tensor quantized result", v.Type)
	}
	qlo, qhi, full := activationRange(act, v.Type.DType, q.Scale[0], q.ZeroPoint[0])
	if full {
		return v, nil
	}
	return o.add("clip", []*ir.Value{v}, ir.Attrs{"min": ir.Float(float32(qlo)), "max": ir.Float(float32(qhi))}, ir.Type{})
}

// activationRange is TFLite's CalculateActivationRangeQuantized: the stored
// integer bounds of a fused activation; full reports they are the whole range.
func activationRange(act fb.ActivationFunctionType, dt ir.DType, scale float32, zp int64) (lo, hi int64, full bool) {
	qmin, qmax := dt.Range()
	quantize := func(f float32) int64 { return zp + int64(math.Round(float64(f/scale))) }
	lo, hi = qmin, qmax
	switch act {
	case fb.ActivationFunctionTypeRELU:
		lo = max(qmin, quantize(0))
	case fb.ActivationFunctionTypeRELU6:
		lo, hi = max(qmin, quantize(0)), min(qmax, quantize(6))
	case fb.ActivationFunctionTypeRELU_N1_TO_1:
		lo, hi = max(qmin, quantize(-1)), min(qmax, quantize(1))
	}
	return lo, hi, lo == qmin && hi == qmax
}

// padsFor converts TFLite padding to IR pads [top, left, bottom, right].
func padsFor(p fb.Padding, inH, inW, kH, kW, sH, sW, dH, dW int) []int {
	if p == fb.PaddingVALID {
		return []int{0, 0, 0, 0}
	}
	same := func(in, k, s, d int) (int, int) {
		out := (in + s - 1) / s
		total := max((out-1)*s+(k-1)*d+1-in, 0)
		return total / 2, total - total/2
	}
	t, b := same(inH, kH, sH, dH)
	l, r := same(inW, kW, sW, dW)
	return []int{t, l, b, r}
}

// window reads strides and dilations from the options, checked.
func (o *opctx) window() (sh, sw, dh, dw int, err error) {
	op := o.op.opt
	sh, sw, dh, dw = int(op.strideH), int(op.strideW), int(max(op.dilH, 1)), int(max(op.dilW, 1))
	if sh < 1 || sw < 1 {
		return 0, 0, 0, 0, fmt.Errorf("strides %dx%d must be positive", sh, sw)
	}
	if op.padding != fb.PaddingSAME && op.padding != fb.PaddingVALID {
		return 0, 0, 0, 0, fmt.Errorf("unknown padding %v", op.padding)
	}
	return sh, sw, dh, dw, nil
}
