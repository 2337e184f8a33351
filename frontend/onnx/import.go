// Package onnx imports ONNX models (default domain, opsets 1 to 25) into
// pare's IR. Every value gets static shapes: symbolic input dims come from
// Options, and shape computations (Shape, Gather, Concat, ...) are folded at
// import. See SupportedOps for the operators and what each maps to.
package onnx

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// Options controls how a model's inputs are typed and bound.
type Options struct {
	// Shapes gives the full shape of an input (by ONNX name), e.g. from
	// --shape x=1x3x224x224. It must match the model's rank and fixed dims.
	Shapes map[string][]int
	// Dims gives a value to a symbolic dimension (dim_param) by name.
	// Symbolic dims that neither Shapes nor Dims set become 1.
	Dims map[string]int
	// Bind makes graph inputs constants, for inputs the model uses where pare
	// needs compile-time values (see NeedConstError). A bound input is not a
	// parameter of the imported graph.
	Bind map[string]*ir.Tensor
}

// Import reads and imports an ONNX model file.
func Import(path string, opts Options) (*ir.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return importBytes(filepath.Base(path), filepath.Dir(path), data, opts)
}

// ImportBytes imports a serialized ONNX model; name (the file name) names
// the graph and prefixes errors.
func ImportBytes(name string, data []byte, opts Options) (*ir.Graph, error) {
	return importBytes(name, "", data, opts)
}

// importBytes is ImportBytes for a model read from folder dir ("": none),
// where its external data files are (external.go).
func importBytes(name, dir string, data []byte, opts Options) (*ir.Graph, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX model: %v", name, err)
	}
	gname := strings.TrimSuffix(name, filepath.Ext(name))
	im := &importer{model: name, dir: dir, opts: opts, g: ir.NewGraph(gname),
		vals: map[string]*ir.Value{}, seqs: map[string]*seqVal{}, uses: map[*ir.Value]int{}, qconsts: map[*ir.Value][]*ir.Value{}, foldErr: map[*ir.Value]error{}}
	if err := im.run(&m); err != nil {
		var ne *nodeError
		if len(im.defaulted) > 0 && errors.As(err, &ne) {
			ne.hint = fmt.Sprintf("the model's symbolic input dims were taken as 1 (%s): give the real shapes with --shape NAME=1x3x224x224", strings.Join(im.defaulted, "; "))
		}
		return nil, modelError(name, err)
	}
	return im.g, nil
}

// importer holds the state of one import.
type importer struct {
	model string
	dir   string // the model's folder, for external data ("" if none)
	opts  Options
	opset int
	g     *ir.Graph

	graph  *onnxpb.GraphProto
	inits  map[string]*onnxpb.TensorProto
	inputs map[string]bool // graph inputs that are not initializers (params or bound)

	vals    map[string]*ir.Value      // ONNX tensor name → value
	seqs    map[string]*seqVal        // ONNX sequence name → its tensors (convert_seq.go)
	uses    map[*ir.Value]int         // how many values use a value as an argument
	qconsts map[*ir.Value][]*ir.Value // quantized copies of a constant
	folded  int64                     // bytes of constants made by folding
	foldErr map[*ir.Value]error       // why rt could not fold a value
	// converted counts the nodes imported, subgraph nodes once per
	// inlining (If) or iteration (Loop), and depth the subgraphs being
	// imported: a model is untrusted input, and nested loops could
	// otherwise unroll without bound.
	converted, depth int
	// defaulted lists the inputs with symbolic dims that nothing bound,
	// which became 1: a shape error then hints at --shape.
	defaulted []string
}

func (im *importer) run(m *onnxpb.ModelProto) error {
	im.graph = m.GetGraph()
	if im.graph == nil {
		return fmt.Errorf("the model has no graph")
	}
	if err := im.readOpset(m); err != nil {
		return err
	}
	if len(im.graph.GetSparseInitializer()) > 0 {
		return unsupportedf("sparse initializers are not supported")
	}
	im.inits = map[string]*onnxpb.TensorProto{}
	for _, t := range im.graph.GetInitializer() {
		if _, dup := im.inits[t.GetName()]; dup || t.GetName() == "" {
			return fmt.Errorf("initializer %q is unnamed or defined twice", t.GetName())
		}
		im.inits[t.GetName()] = t
	}
	if err := im.checkOptions(); err != nil {
		return err
	}
	for _, in := range im.graph.GetInput() {
		if im.inputs[in.GetName()] {
			if _, err := im.inputType(in); err != nil {
				return err
			}
		}
	}
	if err := im.checkNodes(); err != nil {
		return err
	}
	if err := im.scanConsts(); err != nil {
		return err
	}
	if err := im.defineInputs(); err != nil {
		return err
	}
	for i, n := range im.graph.GetNode() {
		if err := im.convert(i, n); err != nil {
			return err
		}
	}
	if err := im.defineResults(); err != nil {
		return err
	}
	im.g.RemoveDead()
	return nil
}

func (im *importer) readOpset(m *onnxpb.ModelProto) error {
	im.opset = -1
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			im.opset = int(min(max(o.GetVersion(), -1), 1<<20))
		}
	}
	if im.opset < 0 {
		return unsupportedf("the model imports no opset of the default ONNX domain (pare supports opsets %d to %d)", minOpset, maxOpset)
	}
	if im.opset < minOpset || im.opset > maxOpset {
		return unsupportedf("opset %d is not supported (pare supports opsets %d to %d of the default domain)", im.opset, minOpset, maxOpset)
	}
	return nil
}

// checkOptions rejects Shapes and Bind entries that name no graph input.
func (im *importer) checkOptions() error {
	im.inputs = map[string]bool{}
	var names []string
	for _, in := range im.graph.GetInput() {
		if _, isInit := im.inits[in.GetName()]; !isInit {
			if im.inputs[in.GetName()] {
				return fmt.Errorf("graph input %q is listed twice", in.GetName())
			}
			im.inputs[in.GetName()] = true
			names = append(names, in.GetName())
		}
	}
	for _, ks := range [][]string{slices.Sorted(maps.Keys(im.opts.Shapes)), slices.Sorted(maps.Keys(im.opts.Bind))} {
		for _, k := range ks {
			if !im.inputs[k] && !im.listed(k) {
				return fmt.Errorf("there is no graph input %q (inputs: %s)", k, strings.Join(names, ", "))
			}
		}
	}
	return nil
}

// listed reports whether name is a graph input (an initializer may be one).
func (im *importer) listed(name string) bool {
	for _, in := range im.graph.GetInput() {
		if in.GetName() == name {
			return true
		}
	}
	return false
}

// checkNodes reports the first node whose operator pare does not support.
func (im *importer) checkNodes() error {
	var first error
	var others []string
	for i, n := range im.graph.GetNode() {
		if _, reason := lookupConverter(n, im.opset); reason != "" {
			if first == nil {
				first = &UnsupportedError{Node: nodeName(n, i), Op: n.GetOpType(), Reason: reason}
			} else if !slices.Contains(others, n.GetOpType()) && n.GetOpType() != first.(*UnsupportedError).Op {
				others = append(others, n.GetOpType())
			}
		}
	}
	if first != nil && len(others) > 0 {
		first.(*UnsupportedError).Reason += fmt.Sprintf(" (the model also uses unsupported %s)", strings.Join(others, ", "))
	}
	return first
}

// inputType is the declared type of a graph input, with symbolic dims
// resolved from Options.
func (im *importer) inputType(vi *onnxpb.ValueInfoProto) (ir.Type, error) {
	name := vi.GetName()
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return ir.Type{}, unsupportedf("graph input %q is not a tensor (sequence, map, optional and sparse inputs are not supported)", name)
	}
	if e := tt.GetElemType(); e == dtFloat16 || e == dtBFloat16 {
		return ir.Type{}, unsupportedf("graph input %q is %s: half-precision inputs are not supported; pare computes half-precision models in float32 (their weights and casts) with float32 inputs and outputs: convert with keep_io_types=True (onnxconverter_common's convert_float_to_float16)", name, onnxpb.DataTypeName(e))
	}
	dt, err := irDType(tt.GetElemType())
	if err != nil {
		err.(*UnsupportedError).Reason = fmt.Sprintf("graph input %q: %s", name, err.(*UnsupportedError).Reason)
		return ir.Type{}, err
	}
	over, hasOver := im.opts.Shapes[name]
	if tt.GetShape() == nil {
		if !hasOver {
			return ir.Type{}, fmt.Errorf("graph input %q has no shape in the model: give one (--shape %s=1x3x224x224)", name, name)
		}
		if err := checkShape(over); err != nil {
			return ir.Type{}, fmt.Errorf("shape of input %q: %v", name, err)
		}
		return ir.TensorType(dt, over...), nil
	}
	dims := tt.GetShape().GetDim()
	if hasOver && len(over) != len(dims) {
		return ir.Type{}, fmt.Errorf("the shape given for input %q, %v, has rank %d; the model's input %s has rank %d", name, over, len(over), declShape(dims), len(dims))
	}
	shape := make([]int, len(dims))
	defaulted := false
	for i, d := range dims {
		switch d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			v := d.GetDimValue()
			if v < 0 || v > ir.MaxElements {
				return ir.Type{}, fmt.Errorf("graph input %q has invalid dimension %d", name, v)
			}
			// A fixed 0 is an empty dim, as ONNX says; some exporters
			// meant "unknown" by it, so a given shape may override it.
			if hasOver && int64(over[i]) != v && v != 0 {
				return ir.Type{}, fmt.Errorf("the shape given for input %q, %v, differs from the model's input %s in fixed dimension %d", name, over, declShape(dims), i)
			}
			shape[i] = int(v)
			if hasOver {
				shape[i] = over[i]
			}
		default:
			shape[i] = 1
			if hasOver {
				shape[i] = over[i]
			} else if v, ok := im.opts.Dims[d.GetDimParam()]; ok && d.GetDimParam() != "" {
				shape[i] = v
			} else {
				defaulted = true
			}
		}
	}
	if d := fmt.Sprintf("%s %s", name, declShape(dims)); defaulted && !slices.Contains(im.defaulted, d) {
		im.defaulted = append(im.defaulted, d)
	}
	if err := checkShape(shape); err != nil {
		return ir.Type{}, fmt.Errorf("shape of input %q: %v", name, err)
	}
	return ir.TensorType(dt, shape...), nil
}

// declShape prints a model's declared shape, symbolic dims by name.
func declShape(dims []*onnxpb.TensorShapeProto_Dimension) string {
	var s []string
	for _, d := range dims {
		switch {
		case d.GetDimParam() != "":
			s = append(s, d.GetDimParam())
		case d.GetValue() == nil:
			s = append(s, "?")
		default:
			s = append(s, fmt.Sprint(d.GetDimValue()))
		}
	}
	return "[" + strings.Join(s, ",") + "]"
}

// defineInputs makes params (in model order), bound constants and
// initializer constants.
func (im *importer) defineInputs() error {
	for _, in := range im.graph.GetInput() {
		name := in.GetName()
		if !im.inputs[name] {
			if b, ok := im.opts.Bind[name]; ok && im.vals[name] == nil {
				init := im.inits[name]
				if dt, _ := irDType(init.GetDataType()); dt != b.DType || !slices.Equal(toInts(init.GetDims()), b.Shape) {
					return fmt.Errorf("the tensor bound to input %q is %v%v; its initializer is %s%v", name, b.DType, b.Shape, onnxpb.DataTypeName(init.GetDataType()), init.GetDims())
				}
				im.vals[name] = im.g.AddConst(name, b, nil) // overrides the initializer
			}
			continue
		}
		t, err := im.inputType(in)
		if err != nil {
			return err
		}
		if b, ok := im.opts.Bind[name]; ok {
			if b.DType != t.DType || len(b.Shape) != len(t.Shape) {
				return fmt.Errorf("the tensor bound to input %q is %v%v; the model declares %v", name, b.DType, b.Shape, t)
			}
			for i, d := range in.GetType().GetTensorType().GetShape().GetDim() {
				if _, fixed := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); fixed && int64(b.Shape[i]) != d.GetDimValue() {
					return fmt.Errorf("the tensor bound to input %q has shape %v; the model declares %s", name, b.Shape, declShape(in.GetType().GetTensorType().GetShape().GetDim()))
				}
			}
			im.vals[name] = im.g.AddConst(name, b, nil)
			continue
		}
		im.vals[name] = im.g.AddParam(name, t)
	}
	for _, tp := range im.graph.GetInitializer() {
		if _, bound := im.vals[tp.GetName()]; bound {
			continue
		}
		tp, err := loadExternal(im.dir, tp)
		if err != nil {
			return err
		}
		t, err := DecodeTensor(tp)
		if err != nil {
			return err
		}
		im.vals[tp.GetName()] = im.g.AddConst(tp.GetName(), t, nil)
	}
	return nil
}

// maxImportedNodes bounds the nodes one import converts, and
// maxSubgraphDepth the nesting of If and Loop bodies.
const (
	maxImportedNodes = 1 << 18
	maxSubgraphDepth = 32
)

// enterSubgraph counts one more level of If / Loop body for c; leave with
// the function it returns.
func (c *nodeCtx) enterSubgraph() (func(), error) {
	if c.im.depth >= maxSubgraphDepth {
		return nil, c.unsupported("If / Loop bodies nested deeper than %d levels", maxSubgraphDepth)
	}
	c.im.depth++
	return func() { c.im.depth-- }, nil
}

// convert imports one node.
func (im *importer) convert(i int, n *onnxpb.NodeProto) error {
	conv, _ := lookupConverter(n, im.opset)
	c := &nodeCtx{im: im, n: n, name: nodeName(n, i), op: n.GetOpType(), opset: im.opset}
	if im.converted++; im.converted > maxImportedNodes {
		return c.unsupported("the model expands to more than %d nodes at import (unrolled loops and inlined branches count once per copy)", maxImportedNodes)
	}
	for j, in := range n.GetInput() {
		if in != "" && im.vals[in] == nil && im.seqs[in] == nil {
			return c.errf("input %d, %q, is not defined before the node (the graph must be in topological order)", j, in)
		}
		if in != "" && im.seqs[in] != nil && !seqOps[c.op] {
			return c.unsupported("input %d, %q, is a sequence: pare resolves sequences at import and imports them only into the Sequence ops, SplitToSequence and ConcatFromSequence", j, in)
		}
	}
	for _, out := range n.GetOutput() {
		if out != "" && (im.vals[out] != nil || im.seqs[out] != nil) {
			return c.errf("output %q is defined twice", out)
		}
	}
	err := conv.fn(c)
	if c.err != nil {
		return c.err
	}
	if err != nil {
		return err
	}
	for j, out := range n.GetOutput() {
		if out != "" && im.vals[out] == nil && im.seqs[out] == nil {
			return c.unsupported("output %d (%q) is not supported", j, out)
		}
	}
	return nil
}

// defineResults sets the graph results in output order, named as the outputs.
func (im *importer) defineResults() error {
	renamed := map[*ir.Value]bool{}
	for _, out := range im.graph.GetOutput() {
		name := out.GetName()
		v := im.vals[name]
		if v == nil && im.seqs[name] != nil {
			return unsupportedf("graph output %q is a sequence: pare resolves sequences at import, and a graph returns tensors", name)
		}
		if v == nil {
			return fmt.Errorf("graph output %q is not computed by any node", name)
		}
		if err := checkDeclared(v, out); err != nil {
			return err
		}
		im.g.Results = append(im.g.Results, v)
		if !v.IsParam() && !renamed[v] {
			renamed[v] = true
			if v.Name != ir.SanitizeName(name) {
				im.g.Rename(v, name)
			}
		}
	}
	if len(im.g.Results) == 0 {
		return fmt.Errorf("the graph has no outputs")
	}
	return nil
}

// checkDeclared compares a result with the output's declared dtype, rank and
// fixed dims.
func checkDeclared(v *ir.Value, vi *onnxpb.ValueInfoProto) error {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return nil
	}
	if e := tt.GetElemType(); e == dtFloat16 || e == dtBFloat16 {
		return unsupportedf("graph output %q is %s: half-precision outputs are not supported; pare computes half-precision models in float32, with float32 inputs and outputs (convert with keep_io_types=True)", vi.GetName(), onnxpb.DataTypeName(e))
	}
	if tt.GetElemType() != 0 {
		dt, err := irDType(tt.GetElemType())
		if err != nil {
			err.(*UnsupportedError).Reason = fmt.Sprintf("graph output %q: %s", vi.GetName(), err.(*UnsupportedError).Reason)
			return err
		}
		if dt != v.Type.DType {
			return fmt.Errorf("graph output %q: the model declares %v, the import computed %v", vi.GetName(), dt, v.Type)
		}
	}
	if tt.GetShape() == nil {
		return nil
	}
	dims := tt.GetShape().GetDim()
	bad := len(dims) != v.Type.Rank()
	for i, d := range dims {
		if _, fixed := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); fixed && !bad && d.GetDimValue() != int64(v.Type.Shape[i]) {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("graph output %q: the model declares shape %s, the import computed %v", vi.GetName(), declShape(dims), v.Type)
	}
	return nil
}

// nodeName is the node's name, or op_type_index for unnamed nodes.
func nodeName(n *onnxpb.NodeProto, i int) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return fmt.Sprintf("%s_%d", n.GetOpType(), i)
}

func toInts(dims []int64) []int {
	out := make([]int, len(dims))
	for i, d := range dims {
		out[i] = int(d)
	}
	return out
}
