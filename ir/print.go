package ir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// InlineLimit is the largest number of elements a constant may have to be
// printed inline in the text form; larger constants print as a hash and
// summary statistics and their data lives in the weights sidecar.
const InlineLimit = 8

// Print writes the text form of g:
//
//	graph @name(%x: f32[1,3]) -> (f32[1,2]) {
//	  %w = const f32[3,2] [1.0,2.0,3.0,4.0,5.0,6.0]
//	  %y = matmul %x, %w : f32[1,2]
//	  return %y
//	}
//
// Print fails only on a graph it cannot describe (nil values, ops or
// arguments, constants without consistent data); run Verify for the rest.
func Print(w io.Writer, g *Graph) error {
	p := newPrinter(false)
	if err := p.check(g); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	p.graph(bw, g)
	return bw.Flush()
}

// String is the text form of g (see Print), or a line describing why it has none.
func (g *Graph) String() string {
	var b strings.Builder
	if err := Print(&b, g); err != nil {
		return "<unprintable graph: " + err.Error() + ">"
	}
	return b.String()
}

// WeightsOf returns the constants of g that the text form prints as hashes
// (more than InlineLimit elements, or not representable inline), keyed by
// Tensor.Hash: the map Parse needs to rebuild g from its text.
func WeightsOf(g *Graph) map[string]*Tensor {
	p := newPrinter(true)
	if g != nil {
		for _, v := range g.Values {
			if v != nil && v.Op == OpConst && checkTensor(v.Const) == nil && !inlineable(v.Const) {
				p.hash(v.Const)
			}
		}
	}
	return p.weights
}

// printer formats graphs; it caches tensor hashes and, when collecting,
// records the hashed constants in first-use order.
type printer struct {
	hashes  map[*Tensor]string
	collect bool
	weights map[string]*Tensor
	order   []string
}

func newPrinter(collect bool) *printer {
	return &printer{hashes: map[*Tensor]string{}, collect: collect, weights: map[string]*Tensor{}}
}

func (p *printer) hash(t *Tensor) string {
	h, ok := p.hashes[t]
	if !ok {
		h = t.Hash()
		p.hashes[t] = h
	}
	if p.collect {
		if _, dup := p.weights[h]; !dup {
			p.weights[h] = t
			p.order = append(p.order, h)
		}
	}
	return h
}

// check rejects graphs the printer cannot describe without panicking.
func (p *printer) check(g *Graph) error {
	if g == nil {
		return errors.New("print: nil graph")
	}
	for i, v := range g.Params {
		if v == nil {
			return fmt.Errorf("print: param %d is nil", i)
		}
		if err := checkPrintableType(v.Type); err != nil {
			return fmt.Errorf("print: param %%%s: %v", v.Name, err)
		}
	}
	for i, v := range g.Values {
		if v == nil {
			return fmt.Errorf("print: value %d is nil", i)
		}
		if v.Op == nil {
			return fmt.Errorf("print: value %%%s has no op", v.Name)
		}
		if err := checkPrintableType(v.Type); err != nil {
			return fmt.Errorf("print: %s: %v", v.Where(), err)
		}
		for j, a := range v.Args {
			if a == nil {
				return fmt.Errorf("print: %s: argument %d is nil", v.Where(), j)
			}
		}
		if v.Op == OpConst {
			if err := checkTensor(v.Const); err != nil {
				return fmt.Errorf("print: %s: %v", v.Where(), err)
			}
		}
	}
	for i, r := range g.Results {
		if r == nil {
			return fmt.Errorf("print: result %d is nil", i)
		}
		if err := checkPrintableType(r.Type); err != nil {
			return fmt.Errorf("print: result %%%s: %v", r.Name, err)
		}
	}
	return nil
}

// checkPrintableType rejects what Type.String cannot print (it indexes the scales).
func checkPrintableType(t Type) error {
	if q := t.Quant; q != nil && (len(q.Scale) == 0 || len(q.ZeroPoint) == 0) {
		return fmt.Errorf("quantization without scale or zero point")
	}
	return nil
}

// checkTensor checks that a tensor's storage matches its dtype and shape.
func checkTensor(t *Tensor) error {
	if t == nil {
		return errors.New("constant without data")
	}
	if t.DType.Size() == 0 {
		return fmt.Errorf("tensor of invalid dtype %v", t.DType)
	}
	if err := CheckShape(t.Shape); err != nil {
		return err
	}
	var have int
	switch t.DType {
	case F32:
		have = len(t.F32)
	case I8:
		have = len(t.I8)
	case U8:
		have = len(t.U8)
	case I16:
		have = len(t.I16)
	case I32:
		have = len(t.I32)
	case I64:
		have = len(t.I64)
	case Bool:
		have = len(t.Bool)
	}
	if n := NumElements(t.Shape); have != n {
		return fmt.Errorf("tensor %v%s holds %d elements, its shape %d", t.DType, FormatShape(t.Shape), have, n)
	}
	return nil
}

func (p *printer) graph(w *bufio.Writer, g *Graph) {
	fmt.Fprintf(w, "graph @%s(", g.Name)
	for i, v := range g.Params {
		if i > 0 {
			w.WriteString(", ")
		}
		fmt.Fprintf(w, "%%%s: %v%s", v.Name, v.Type, loc(v))
	}
	w.WriteString(") -> (")
	for i, r := range g.Results {
		if i > 0 {
			w.WriteString(", ")
		}
		w.WriteString(r.Type.String())
	}
	w.WriteString(") {\n")
	for _, v := range g.Values {
		w.WriteString("  ")
		w.WriteString(p.value(v))
		w.WriteByte('\n')
	}
	w.WriteString("  return")
	for i, r := range g.Results {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(" %")
		w.WriteString(r.Name)
	}
	w.WriteString("\n}\n")
}

// value formats one body value as its text line (without indentation).
func (p *printer) value(v *Value) string {
	var b strings.Builder
	b.WriteString("%")
	b.WriteString(v.Name)
	b.WriteString(" = ")
	if v.Op == OpConst {
		b.WriteString("const ")
		b.WriteString(v.Type.String())
		b.WriteByte(' ')
		b.WriteString(p.constData(v.Const))
		b.WriteString(loc(v))
		return b.String()
	}
	b.WriteString(v.Op.Name)
	for i, a := range v.Args {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" %")
		b.WriteString(a.Name)
	}
	if s := formatAttrs(v.Op, v.Attrs); s != "" {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	b.WriteString(" : ")
	b.WriteString(v.Type.String())
	b.WriteString(loc(v))
	return b.String()
}

// loc is the ` loc("node")` suffix naming a value's source node when it
// differs from the value's name.
func loc(v *Value) string {
	if v.Source == "" || v.Source == v.Name {
		return ""
	}
	return " loc(" + strconv.Quote(v.Source) + ")"
}

// formatAttrs prints the stored attributes that differ from their default,
// in the op's declared order, then any undeclared ones by name: {k=v ...}.
func formatAttrs(op *OpDef, attrs Attrs) string {
	if len(attrs) == 0 {
		return ""
	}
	var parts []string
	for _, d := range op.Attrs {
		if a, ok := attrs[d.Name]; ok && (d.Required || !attrIdentical(a, d.Default)) {
			parts = append(parts, d.Name+"="+a.String())
		}
	}
	for _, k := range sortedKeys(attrs) {
		if op.attrDef(k) == nil {
			parts = append(parts, k+"="+attrs[k].String())
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func sortedKeys(a Attrs) []string { return slices.Sorted(maps.Keys(a)) }

// attrIdentical compares attributes bit for bit (NaN equals NaN, 0 differs from -0).
func attrIdentical(a, b Attr) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case AttrFloat:
		return math.Float32bits(a.Float) == math.Float32bits(b.Float)
	case AttrFloats:
		if len(a.Floats) != len(b.Floats) {
			return false
		}
		for i := range a.Floats {
			if math.Float32bits(a.Floats[i]) != math.Float32bits(b.Floats[i]) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// inlineable reports whether a constant prints its elements inline: at most
// InlineLimit of them, and none a NaN (whose payload text cannot carry).
func inlineable(t *Tensor) bool {
	if t.Len() > InlineLimit {
		return false
	}
	if t.DType == F32 {
		for _, f := range t.F32 {
			if f != f {
				return false
			}
		}
	}
	return true
}

// constData prints a constant's elements inline (a scalar bare, otherwise a
// flat list), or its hash and summary.
func (p *printer) constData(t *Tensor) string {
	if !inlineable(t) {
		lo, hi, sparsity := summary(t)
		return fmt.Sprintf("{sha=%s min=%.4g max=%.4g sparsity=%.2f}", p.hash(t), lo, hi, sparsity)
	}
	n := t.Len()
	if len(t.Shape) == 0 {
		return formatElem(t, 0)
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = formatElem(t, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func formatElem(t *Tensor, i int) string {
	switch t.DType {
	case F32:
		return FormatFloat(t.F32[i])
	case Bool:
		return strconv.FormatBool(t.Bool[i])
	}
	return strconv.FormatInt(t.IntAt(i), 10)
}

// summary computes Stats().Min, Max and Sparsity without the distinct count
// (which costs a map operation per element).
func summary(t *Tensor) (lo, hi, sparsity float64) {
	n := t.Len()
	if n == 0 {
		return 0, 0, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	zeros := 0
	if t.DType == F32 {
		flo, fhi := float32(lo), float32(hi)
		for _, v := range t.F32 {
			if v < flo {
				flo = v
			}
			if v > fhi {
				fhi = v
			}
			if v == 0 {
				zeros++
			}
		}
		lo, hi = float64(flo), float64(fhi)
	} else {
		for i := 0; i < n; i++ {
			v := t.At(i)
			lo, hi = min(lo, v), max(hi, v)
			if v == 0 {
				zeros++
			}
		}
	}
	return lo, hi, float64(zeros) / float64(n)
}
