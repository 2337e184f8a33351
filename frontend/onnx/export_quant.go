package onnx

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// Quantized export: the rows of the writer for values that involve
// quantized integer tensors (pare opt ... quantize). ExportOptions.Form
// selects the form:
//
//   - qdq: quantize → QuantizeLinear, dequantize → DequantizeLinear; an
//     integer conv / gemm / matmul (or any other quantized op) is written as
//     DequantizeLinear on its quantized inputs (weights per axis, the i32
//     bias with scale s_x·s_w), the float op, its fused activation, then
//     QuantizeLinear into the result's scale and zero point.
//   - qoperator: integer conv → QLinearConv, matmul → QLinearMatMul, gemm →
//     QLinearConv on a 1×1 view ([M,K] as [M,K,1,1]); fused activations on
//     quantized results as Clip on the stored integers; ops without a
//     QLinear form (add, avgpool, softmax ...) fall back to the QDQ form.
//
// In both, ops that move integers without arithmetic (reshape, transpose,
// maxpool, concat and slice of one quantization) stay on the integers, and
// integer ops with an i32 result become ConvInteger / MatMulInteger (+ Add
// of the bias). ONNX requantizes in float32 (multiply, round half to even),
// as pare's rq=float; rq=tflite (fixed-point multiplier and shift) has no
// ONNX form and is written as rq=float: QuantWarnings says where.

// Export forms (ExportOptions.Form).
const (
	FormFloat     = "float"
	FormQDQ       = "qdq"
	FormQOperator = "qoperator"
)

// ExportForms lists the forms ExportOptions.Form accepts.
var ExportForms = []string{FormFloat, FormQDQ, FormQOperator}

// quantState is the exporter's state for the quantized forms.
type quantState struct {
	dq map[*ir.Value]string // DequantizeLinear outputs, per quantized value
}

func (e *exporter) quantized() bool {
	return e.opts.Form == FormQDQ || e.opts.Form == FormQOperator
}

// checkForm validates ExportOptions.Form.
func checkForm(form string) error {
	switch form {
	case "", FormFloat, FormQDQ, FormQOperator:
		return nil
	}
	return fmt.Errorf("export form %q (float, qdq, qoperator)", form)
}

// ioType is the type written for a graph input or output: in the quantized
// forms, a quantized integer tensor is written as its integer type (its
// scale and zero point go to the DequantizeLinear / QLinear nodes reading it).
func (e *exporter) ioType(t ir.Type) ir.Type {
	if e.quantized() {
		t.Quant = nil
	}
	return t
}

// involvesQuant reports whether v has a quantized integer result or argument.
func involvesQuant(v *ir.Value) bool {
	if v.Type.Quant != nil {
		return true
	}
	for _, a := range v.Args {
		if a.Type.Quant != nil && a.Type.DType.IsInt() {
			return true
		}
	}
	return false
}

// QuantWarnings lists what a quantized export of g only approximates:
// values requantized with rq=tflite (ONNX requantizes in float32).
func QuantWarnings(g *ir.Graph) []string {
	var w []string
	for _, v := range g.Values {
		if v.Op != nil && v.Op.AttrDef("rq") != nil && v.Str("rq") == "tflite" && involvesQuant(v) {
			w = append(w, fmt.Sprintf("%s: rq=tflite (fixed-point requantization) has no ONNX form; written with float32 requantization, results may differ by one quantization step", v.Where()))
		}
	}
	return w
}

// quantValue writes a value that involves quantized tensors.
func (e *exporter) quantValue(v *ir.Value) error {
	if e.q == nil {
		e.q = &quantState{dq: map[*ir.Value]string{}}
	}
	switch v.Op.Name {
	case "quantize":
		x := v.Args[0].Name
		if v.Args[0].Type.DType != ir.F32 {
			x = e.fresh(v.Name + ".f")
			e.node("Cast", []string{v.Args[0].Name}, []string{x}, []*onnxpb.AttributeProto{attrInt("to", int(onnxpb.TensorProto_FLOAT))})
		}
		return e.quantizeLinear(x, v.Name, v.Type)
	case "dequantize":
		return e.dequantizeLinear(v.Args[0], v.Args[0].Type.Quant, v.Name)
	case "requantize":
		f := e.fresh(v.Name + ".f")
		if err := e.dequantizeLinear(v.Args[0], v.Args[0].Type.Quant, f); err != nil {
			return err
		}
		return e.quantizeLinear(f, v.Name, v.Type)
	case "lut":
		return e.lut(v)
	case "conv", "gemm", "matmul":
		if v.Args[0].Type.DType.IsInt() {
			if v.Type.DType == ir.I32 && v.Type.Quant == nil {
				return e.integerAcc(v)
			}
			if e.opts.Form == FormQOperator {
				if ok, err := e.qlinear(v); ok || err != nil {
					return err
				}
			}
		}
	}
	if passThrough(v) {
		return exportOps[v.Op.Name](e, v)
	}
	return e.viaFloat(v)
}

// lut writes a table lookup as a Gather of the table by the input codes
// (cast to int32, plus 128 for i8): exact in both forms.
func (e *exporter) lut(v *ir.Value) error {
	x, tb := v.Args[0], v.Args[1]
	if tb.Const == nil {
		return fmt.Errorf("%s: lut with a table computed at run time cannot be exported", v.Where())
	}
	idx := e.fresh(v.Name + ".idx")
	e.node("Cast", []string{x.Name}, []string{idx}, []*onnxpb.AttributeProto{attrInt("to", int(onnxpb.TensorProto_INT32))})
	if x.Type.DType == ir.I8 {
		off, err := e.constant(v.Name+".off", &ir.Tensor{DType: ir.I32, Shape: []int{}, I32: []int32{128}})
		if err != nil {
			return err
		}
		sum := e.fresh(v.Name + ".code")
		e.node("Add", []string{idx, off}, []string{sum}, nil)
		idx = sum
	}
	table, err := e.constant(v.Name+".table", tb.Const)
	if err != nil {
		return err
	}
	e.node("Gather", []string{table, idx}, []string{v.Name}, []*onnxpb.AttributeProto{attrInt("axis", 0)})
	return nil
}

// passThrough reports whether v moves integers without arithmetic, so that
// its ONNX op can take the integer tensors as they are.
func passThrough(v *ir.Value) bool {
	switch v.Op.Name {
	case "reshape", "transpose", "maxpool", "concat":
	default:
		return false
	}
	if exportOps[v.Op.Name] == nil || v.Type.Quant == nil {
		return false
	}
	for _, a := range v.Args {
		if a.Type.DType != v.Type.DType || (v.Op.Name != "transpose" && !a.Type.Quant.Equal(v.Type.Quant)) {
			return false
		}
	}
	return v.Op.Name != "transpose" || v.Args[0].Type.Quant.Axis < 0
}

// viaFloat writes v as DequantizeLinear on its quantized arguments, its
// float op, its fused activation, and QuantizeLinear into its result type.
func (e *exporter) viaFloat(v *ir.Value) error {
	f := exportOps[v.Op.Name]
	if f == nil {
		return fmt.Errorf("op %s cannot be exported to ONNX", v.Op.Name)
	}
	s := *v
	s.Args = make([]*ir.Value, len(v.Args))
	for i, a := range v.Args {
		s.Args[i] = a
		q := a.Type.Quant
		if !a.Type.DType.IsInt() || (q == nil && !isAccBias(v, i)) {
			continue
		}
		if isAccBias(v, i) {
			q = biasQuant(v)
			if q == nil {
				return fmt.Errorf("the i32 bias of %s needs quantized operands", v.Op.Name)
			}
		}
		name, err := e.dq(a, q)
		if err != nil {
			return err
		}
		fa := *a
		fa.Name, fa.Type = name, ir.Type{DType: ir.F32, Shape: a.Type.Shape}
		fa.Op, fa.Const = nil, nil
		s.Args[i] = &fa
	}
	act := actOf(v)
	q := v.Type.Quant
	if q == nil && v.Type.DType != ir.F32 {
		return fmt.Errorf("a %v result of %s from quantized operands has no ONNX form", v.Type, v.Op.Name)
	}
	s.Type = ir.Type{DType: ir.F32, Shape: v.Type.Shape}
	s.Name = v.Name
	if q != nil || act != "none" {
		s.Name = e.fresh(v.Name + ".f")
	}
	if err := f(e, &s); err != nil {
		return err
	}
	cur := s.Name
	if act != "none" {
		out := v.Name
		if q != nil {
			out = e.fresh(v.Name + ".act")
		}
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if act == "clip" {
			lo, hi = v.Float("act_min"), v.Float("act_max")
			if q != nil { // bounds on the stored integers, written in float
				l, h := intBounds(lo, hi, v.Type.DType)
				lo, hi = float32(l-q.ZeroPoint[0])*q.Scale[0], float32(h-q.ZeroPoint[0])*q.Scale[0]
			}
		}
		if err := e.clip(cur, out, act, ir.F32, float64(lo), float64(hi)); err != nil {
			return err
		}
		cur = out
	}
	if q != nil {
		return e.quantizeLinear(cur, v.Name, v.Type)
	}
	return nil
}

// isAccBias reports whether argument i of v is the i32 bias of an integer
// conv / gemm (added to the accumulator, scale s_x·s_w).
func isAccBias(v *ir.Value, i int) bool {
	return i == 2 && (v.Op.Name == "conv" || v.Op.Name == "gemm") && v.Args[0].Type.DType.IsInt() && v.Args[2].Type.DType == ir.I32
}

// biasQuant is the quantization of the i32 bias of an integer conv / gemm:
// scale s_x·s_w (per output channel when the weights are), zero point 0,
// along the bias axis holding the output channels.
func biasQuant(v *ir.Value) *ir.Quant {
	qx, qw := v.Args[0].Type.Quant, v.Args[1].Type.Quant
	b := v.Args[2].Type
	if qx == nil || qw == nil {
		return nil
	}
	n := qw.Channels()
	q := &ir.Quant{Axis: -1, Scale: make([]float32, n), ZeroPoint: make([]int64, n)}
	for c := range q.Scale {
		q.Scale[c] = qx.Scale[0] * qw.Scale[c]
	}
	if n > 1 {
		q.Axis = b.Rank() - 1
		if b.Rank() == 0 || b.Shape[q.Axis] != n {
			return nil
		}
	}
	return q
}

func actOf(v *ir.Value) string {
	if v.Op.AttrDef("act") == nil {
		return "none"
	}
	return v.Str("act")
}

// intBounds are clip's float bounds on stored integers of dt, as rt applies them.
func intBounds(mn, mx float32, dt ir.DType) (int64, int64) {
	lo, hi := dt.Range()
	c := func(f float64) int64 { return int64(math.Max(float64(lo), math.Min(float64(hi), f))) }
	return c(math.Ceil(float64(mn))), c(math.Floor(float64(mx)))
}

// clip writes Relu (act relu on f32) or Clip of in with bounds of dtype dt
// (infinite bounds are left out).
func (e *exporter) clip(in, out, act string, dt ir.DType, lo, hi float64) error {
	if act == "relu" && dt == ir.F32 {
		e.node("Relu", []string{in}, []string{out}, nil)
		return nil
	}
	bound := func(x float64) (string, error) {
		if math.IsInf(x, 0) {
			return "", nil
		}
		t := ir.NewTensor(dt, []int{})
		if dt == ir.F32 {
			t.F32[0] = float32(x)
		} else {
			t.SetInt(0, int64(x))
		}
		return e.constant(out+".bound", t)
	}
	ln, err := bound(lo)
	if err != nil {
		return err
	}
	hn, err := bound(hi)
	if err != nil {
		return err
	}
	ins := []string{in, ln, hn}
	if hn == "" {
		ins = ins[:2]
		if ln == "" {
			ins = ins[:1]
		}
	}
	e.node("Clip", ins, []string{out}, nil)
	return nil
}

// quantParams adds the scale (f32) and zero point (dt) initializers of q:
// scalars per tensor, 1-D per axis, with the axis attribute then.
func (e *exporter) quantParams(base string, q *ir.Quant, dt ir.DType) (scale, zp string, axis *onnxpb.AttributeProto, err error) {
	shape := []int{}
	if q.Axis >= 0 {
		shape = []int{len(q.Scale)}
		axis = attrInt("axis", q.Axis)
	}
	s := ir.NewTensor(ir.F32, shape)
	z := ir.NewTensor(dt, shape)
	for i := range q.Scale {
		s.F32[i] = q.Scale[i]
		z.SetInt(i, q.ZeroPoint[i])
	}
	if scale, err = e.constant(base+".scale", s); err != nil {
		return
	}
	zp, err = e.constant(base+".zero_point", z)
	return
}

// quantizeLinear writes QuantizeLinear of the f32 tensor in into out of type t.
func (e *exporter) quantizeLinear(in, out string, t ir.Type) error {
	if t.DType != ir.I8 && t.DType != ir.U8 {
		return fmt.Errorf("QuantizeLinear (opset %d) writes i8 or u8, not %v", ExportOpset, t.DType)
	}
	s, z, ax, err := e.quantParams(out, t.Quant, t.DType)
	if err != nil {
		return err
	}
	e.node("QuantizeLinear", []string{in, s, z}, []string{out}, attrs(ax))
	return nil
}

// dequantizeLinear writes DequantizeLinear of x read with quantization q into out.
func (e *exporter) dequantizeLinear(x *ir.Value, q *ir.Quant, out string) error {
	dt := x.Type.DType
	if dt != ir.I8 && dt != ir.U8 && dt != ir.I32 {
		return fmt.Errorf("DequantizeLinear (opset %d) reads i8, u8 or i32, not %v (%%%s)", ExportOpset, dt, x.Name)
	}
	if dt == ir.I32 {
		for _, z := range q.ZeroPoint {
			if z != 0 {
				return fmt.Errorf("DequantizeLinear of i32 %%%s needs zero point 0, has %d", x.Name, z)
			}
		}
	}
	s, z, ax, err := e.quantParams(out, q, dt)
	if err != nil {
		return err
	}
	e.node("DequantizeLinear", []string{x.Name, s, z}, []string{out}, attrs(ax))
	return nil
}

// dq returns the name of x dequantized with q (one DequantizeLinear per
// value and quantization).
func (e *exporter) dq(x *ir.Value, q *ir.Quant) (string, error) {
	if q.Equal(x.Type.Quant) {
		if n, ok := e.q.dq[x]; ok {
			return n, nil
		}
	}
	n := e.fresh(x.Name + ".dq")
	if err := e.dequantizeLinear(x, q, n); err != nil {
		return "", err
	}
	if q.Equal(x.Type.Quant) {
		e.q.dq[x] = n
	}
	return n, nil
}

func attrs(as ...*onnxpb.AttributeProto) []*onnxpb.AttributeProto {
	var s []*onnxpb.AttributeProto
	for _, a := range as {
		if a != nil {
			s = append(s, a)
		}
	}
	return s
}

// dropUnused removes the initializers no node reads (a gemm's weights and
// bias once written in the 1×1 QLinearConv form).
func (e *exporter) dropUnused() {
	used := map[string]bool{}
	for _, n := range e.gp.Node {
		for _, in := range n.Input {
			used[in] = true
		}
	}
	for _, o := range e.gp.Output {
		used[o.GetName()] = true
	}
	keep := e.gp.Initializer[:0]
	for _, t := range e.gp.Initializer {
		if used[t.GetName()] {
			keep = append(keep, t)
		}
	}
	e.gp.Initializer = keep
}
