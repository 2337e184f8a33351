package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// The ONNX writer: an IR graph as a float ONNX model (opset 14). Each op
// maps to nodes through one row of exportOps; a quantized form (QDQ or
// QLinear nodes) is another row or a check inside one. Constants become
// initializers with raw_data, graph parameters the inputs, results the
// outputs; ONNX names are the IR value names.

// ExportOpset is the default-domain opset the writer targets.
const ExportOpset = 14

// ExportOptions adds what the IR does not hold.
type ExportOptions struct {
	DocString string            // the model's doc_string
	Metadata  map[string]string // metadata_props
	Form      string            // float (default), qdq or qoperator: export_quant.go
}

// Export writes g as an ONNX model.
func Export(g *ir.Graph, w io.Writer) error { return ExportWith(g, w, ExportOptions{}) }

// ExportFile writes g as an ONNX model file.
func ExportFile(g *ir.Graph, path string) error {
	return ExportFileWith(g, path, ExportOptions{})
}

// ExportFileWith writes g as an ONNX model file with options.
func ExportFileWith(g *ir.Graph, path string, opts ExportOptions) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ExportWith(g, f, opts); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// ExportWith writes g as an ONNX model with options.
func ExportWith(g *ir.Graph, w io.Writer, opts ExportOptions) error {
	m, err := ExportModel(g, opts)
	if err != nil {
		return err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("export %s: %v", g.Name, err)
	}
	_, err = w.Write(b)
	return err
}

// ExportModel builds the ONNX model message of g.
func ExportModel(g *ir.Graph, opts ExportOptions) (*onnxpb.ModelProto, error) {
	if err := checkForm(opts.Form); err != nil {
		return nil, err
	}
	e := &exporter{g: g, gp: &onnxpb.GraphProto{Name: proto.String(g.Name)}, names: map[string]bool{}, opts: opts}
	for _, p := range g.Params {
		e.names[p.Name] = true
	}
	for _, v := range g.Values {
		e.names[v.Name] = true
	}
	for _, p := range g.Params {
		vi, err := valueInfo(p.Name, e.ioType(p.Type))
		if err != nil {
			return nil, fmt.Errorf("export %s: input %%%s: %v", g.Name, p.Name, err)
		}
		e.gp.Input = append(e.gp.Input, vi)
	}
	for _, v := range g.Values {
		if v.IsConst() {
			t, err := tensorProto(v.Name, v.Const)
			if err != nil {
				return nil, fmt.Errorf("export %s: %s: %v", g.Name, v.Where(), err)
			}
			e.gp.Initializer = append(e.gp.Initializer, t)
			continue
		}
		if err := e.value(v); err != nil {
			return nil, fmt.Errorf("export %s: %s: %v", g.Name, v.Where(), err)
		}
	}
	for _, r := range g.Results {
		name := r.Name
		if r.IsParam() || r.IsConst() {
			// An ONNX output must be produced by a node: pass it through Identity.
			name = e.fresh(r.Name + ".out")
			e.node("Identity", []string{r.Name}, []string{name}, nil)
		}
		vi, err := valueInfo(name, e.ioType(r.Type))
		if err != nil {
			return nil, fmt.Errorf("export %s: result %%%s: %v", g.Name, r.Name, err)
		}
		e.gp.Output = append(e.gp.Output, vi)
	}
	if e.quantized() {
		e.dropUnused()
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(8),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(ExportOpset)}},
		ProducerName:    proto.String("pare"),
		ProducerVersion: proto.String("0"),
		Graph:           e.gp,
	}
	if opts.DocString != "" {
		m.DocString = proto.String(opts.DocString)
	}
	keys := make([]string, 0, len(opts.Metadata))
	for k := range opts.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(opts.Metadata[k])})
	}
	return m, nil
}

type exporter struct {
	g     *ir.Graph
	gp    *onnxpb.GraphProto
	names map[string]bool
	n     int
	opts  ExportOptions
	q     *quantState // the quantized forms' state (export_quant.go)
}

// exportFn writes the nodes of one value.
type exportFn func(e *exporter, v *ir.Value) error

// exportOps maps IR ops to their ONNX form.
var exportOps map[string]exportFn

func init() {
	exportOps = map[string]exportFn{
		"conv":           exportConv,
		"gemm":           exportGemm,
		"matmul":         simple("MatMul"),
		"relu":           simple("Relu"),
		"sigmoid":        simple("Sigmoid"),
		"tanh":           simple("Tanh"),
		"add":            simple("Add"),
		"sub":            simple("Sub"),
		"mul":            simple("Mul"),
		"div":            simple("Div"),
		"global_avgpool": simple("GlobalAveragePool"),
		"maxpool":        exportPool("MaxPool"),
		"avgpool":        exportPool("AveragePool"),
		"clip":           exportClip,
		"reshape":        exportReshape,
		"softmax": func(e *exporter, v *ir.Value) error {
			return e.emit(v, "Softmax", e.args(v), attrInt("axis", v.Int("axis")))
		},
		"transpose": func(e *exporter, v *ir.Value) error {
			return e.emit(v, "Transpose", e.args(v), attrInts("perm", v.IntList("perm")))
		},
		"concat": func(e *exporter, v *ir.Value) error {
			return e.emit(v, "Concat", e.args(v), attrInt("axis", v.Int("axis")))
		},
		"batchnorm": func(e *exporter, v *ir.Value) error {
			return e.emit(v, "BatchNormalization", e.args(v), attrFloat("epsilon", v.Float("epsilon")))
		},
	}
}

// ExportableOps lists the IR ops the writer maps, sorted.
func ExportableOps() []string {
	var s []string
	for k := range exportOps {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// floatOrBool reports whether the float writer takes a value of type t:
// f32, or bool (the masks of comparisons and where).
func floatOrBool(t ir.Type) bool { return (t.DType == ir.F32 || t.DType == ir.Bool) && t.Quant == nil }

// plainIntOK reports whether v's argument i (-1: its result) may be an
// unquantized integer in a float model: a gather's indices, a cast's ends.
func plainIntOK(v *ir.Value, i int) bool {
	t := v.Type
	if i >= 0 {
		t = v.Args[i].Type
	}
	if t.Quant != nil {
		return false
	}
	switch v.Op.Name {
	case "gather":
		return i == 1
	case "cast":
		return true
	}
	return false
}

func (e *exporter) value(v *ir.Value) error {
	if e.quantized() && involvesQuant(v) {
		return e.quantValue(v)
	}
	f := exportOps[v.Op.Name]
	if f == nil {
		return fmt.Errorf("op %s cannot be exported to ONNX (the writer maps %s)", v.Op.Name, strings.Join(ExportableOps(), ", "))
	}
	if !floatOrBool(v.Type) && !plainIntOK(v, -1) {
		return fmt.Errorf("op %s: a %v result cannot be exported (the writer writes float models)", v.Op.Name, v.Type)
	}
	for i, a := range v.Args {
		if !floatOrBool(a.Type) && !plainIntOK(v, i) {
			return fmt.Errorf("op %s: argument %d is %v (the writer writes float models)", v.Op.Name, i, a.Type)
		}
	}
	return f(e, v)
}

// fresh returns an unused tensor name derived from base.
func (e *exporter) fresh(base string) string {
	for {
		e.n++
		n := fmt.Sprintf("%s.%d", base, e.n)
		if !e.names[n] {
			e.names[n] = true
			return n
		}
	}
}

func (e *exporter) args(v *ir.Value) []string {
	s := make([]string, len(v.Args))
	for i, a := range v.Args {
		s[i] = a.Name
	}
	return s
}

func (e *exporter) node(op string, in, out []string, attrs []*onnxpb.AttributeProto) {
	name := out[0]
	e.gp.Node = append(e.gp.Node, &onnxpb.NodeProto{Input: in, Output: out, Name: proto.String(name), OpType: proto.String(op), Attribute: attrs})
}

// emit writes the node producing v.
func (e *exporter) emit(v *ir.Value, op string, in []string, attrs ...*onnxpb.AttributeProto) error {
	var as []*onnxpb.AttributeProto
	for _, a := range attrs {
		if a != nil {
			as = append(as, a)
		}
	}
	e.node(op, in, []string{v.Name}, as)
	return nil
}

// constant adds an initializer and returns its name.
func (e *exporter) constant(base string, t *ir.Tensor) (string, error) {
	name := e.fresh(base)
	tp, err := tensorProto(name, t)
	if err != nil {
		return "", err
	}
	e.gp.Initializer = append(e.gp.Initializer, tp)
	return name, nil
}

func simple(op string) exportFn {
	return func(e *exporter, v *ir.Value) error { return e.emit(v, op, e.args(v)) }
}

func attrInt(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrInts(name string, v []int) *onnxpb.AttributeProto {
	is := make([]int64, len(v))
	for i, x := range v {
		is[i] = int64(x)
	}
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: is}
}

// windowAttrs writes kernel_shape, strides, pads and dilations (the latter
// only when not all 1).
func windowAttrs(win ir.Window, dilations bool) []*onnxpb.AttributeProto {
	as := []*onnxpb.AttributeProto{attrInts("kernel_shape", win.Kernel), attrInts("strides", win.Strides),
		attrInts("pads", append(append([]int{}, win.PadsBegin...), win.PadsEnd...))}
	if dilations {
		as = append(as, attrInts("dilations", win.Dilations))
	}
	return as
}

func allOnes(s []int) bool {
	for _, x := range s {
		if x != 1 {
			return false
		}
	}
	return true
}

func exportConv(e *exporter, v *ir.Value) error {
	nsp := len(v.Type.Shape) - 2
	win, err := ir.WindowOf(v, nsp, v.Args[1].Type.Shape[2:])
	if err != nil {
		return err
	}
	as := append(windowAttrs(win, true), attrInt("group", v.Int("group")))
	return e.emit(v, "Conv", e.args(v), as...)
}

func exportGemm(e *exporter, v *ir.Value) error {
	return e.emit(v, "Gemm", e.args(v), attrInt("transA", v.Int("trans_a")), attrInt("transB", v.Int("trans_b")),
		attrFloat("alpha", v.Float("alpha")), attrFloat("beta", v.Float("beta")))
}

func exportPool(op string) exportFn {
	return func(e *exporter, v *ir.Value) error {
		nsp := len(v.Type.Shape) - 2
		win, err := ir.WindowOf(v, nsp, nil)
		if err != nil {
			return err
		}
		dil := !allOnes(win.Dilations)
		if dil && op == "AveragePool" {
			return fmt.Errorf("avgpool with dilations %v has no opset-%d form", win.Dilations, ExportOpset)
		}
		as := append(windowAttrs(win, dil), attrInt("ceil_mode", v.Int("ceil_mode")))
		if op == "AveragePool" {
			as = append(as, attrInt("count_include_pad", v.Int("count_include_pad")))
		}
		return e.emit(v, op, e.args(v), as...)
	}
}

// clip: opset 13 takes min and max as (optional) scalar inputs.
func exportClip(e *exporter, v *ir.Value) error {
	in := e.args(v)
	lo, hi := v.Float("min"), v.Float("max")
	ln, hn := "", ""
	var err error
	if !math.IsInf(float64(lo), -1) {
		if ln, err = e.constant(v.Name+".min", ir.ScalarF32(lo)); err != nil {
			return err
		}
	}
	if !math.IsInf(float64(hi), 1) {
		if hn, err = e.constant(v.Name+".max", ir.ScalarF32(hi)); err != nil {
			return err
		}
	}
	switch {
	case hn != "":
		in = append(in, ln, hn)
	case ln != "":
		in = append(in, ln)
	}
	return e.emit(v, "Clip", in)
}

func exportReshape(e *exporter, v *ir.Value) error {
	s := make([]int64, len(v.Type.Shape))
	for i, d := range v.Type.Shape {
		s[i] = int64(d)
	}
	name, err := e.constant(v.Name+".shape", ir.FromI64([]int{len(s)}, s))
	if err != nil {
		return err
	}
	return e.emit(v, "Reshape", []string{v.Args[0].Name, name})
}

func valueInfo(name string, t ir.Type) (*onnxpb.ValueInfoProto, error) {
	dt, err := exportDType(t.DType)
	if err != nil {
		return nil, err
	}
	if t.Quant != nil {
		return nil, fmt.Errorf("quantized %v (the writer writes float models)", t)
	}
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range t.Shape {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(dt), Shape: shape}}}}, nil
}

func exportDType(dt ir.DType) (int32, error) {
	switch dt {
	case ir.F32:
		return int32(onnxpb.TensorProto_FLOAT), nil
	case ir.I64:
		return int32(onnxpb.TensorProto_INT64), nil
	case ir.I32:
		return int32(onnxpb.TensorProto_INT32), nil
	case ir.I8:
		return int32(onnxpb.TensorProto_INT8), nil
	case ir.U8:
		return int32(onnxpb.TensorProto_UINT8), nil
	}
	return 0, fmt.Errorf("dtype %v cannot be exported", dt)
}

// tensorProto encodes a constant as an initializer with raw_data (little-endian).
func tensorProto(name string, t *ir.Tensor) (*onnxpb.TensorProto, error) {
	dt, err := exportDType(t.DType)
	if err != nil {
		return nil, err
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	n := t.Len()
	var raw []byte
	switch t.DType {
	case ir.F32:
		raw = make([]byte, 4*n)
		for i, x := range t.F32[:n] {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
		}
	case ir.I64:
		raw = make([]byte, 8*n)
		for i, x := range t.I64[:n] {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
		}
	case ir.I32:
		raw = make([]byte, 4*n)
		for i, x := range t.I32[:n] {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
		}
	case ir.I8:
		raw = make([]byte, n)
		for i, x := range t.I8[:n] {
			raw[i] = byte(x)
		}
	case ir.U8:
		raw = append([]byte{}, t.U8[:n]...)
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(dt), RawData: raw}, nil
}
