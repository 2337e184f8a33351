package ir

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// GraphDiff is the structural difference between two graphs: one line per
// change, in the order of a (removed and changed values), then added values
// in the order of b.
type GraphDiff struct {
	Lines []DiffLine
	// Added, Removed and Changed count values (a value with several changes
	// counts once); header and result changes count as changed.
	Added, Removed, Changed int
}

// DiffLine is one change.
type DiffLine struct {
	Kind byte   // '+' added, '-' removed, '~' changed
	Name string // the value's name: in b for '+', in a otherwise ("" for the graph itself)
	Text string // the full line, starting with Kind
}

// Empty reports whether the graphs are the same.
func (d *GraphDiff) Empty() bool { return len(d.Lines) == 0 }

// Format writes the lines and a summary line.
func (d *GraphDiff) Format(w io.Writer) {
	for _, l := range d.Lines {
		fmt.Fprintln(w, l.Text)
	}
	if d.Empty() {
		fmt.Fprintln(w, "no changes")
		return
	}
	fmt.Fprintf(w, "%d added, %d removed, %d changed\n", d.Added, d.Removed, d.Changed)
}

// Diff aligns the values of a with those of b, first by name (names come
// from the source model), then by structure (same op, aligned arguments in
// the same positions, same attributes; constants by content), and reports
// what was added, removed and changed. Diff expects verified graphs.
func Diff(a, b *Graph) *GraphDiff {
	d := &differ{ab: map[*Value]*Value{}, ba: map[*Value]*Value{}, p: newPrinter(false), out: &GraphDiff{}}
	if a == nil {
		a = &Graph{}
	}
	if b == nil {
		b = &Graph{}
	}
	d.align(a, b)
	if a.Name != b.Name {
		d.line('~', "", fmt.Sprintf("~ graph @%s -> @%s", a.Name, b.Name))
		d.out.Changed++
	}
	for _, v := range allValues(a) {
		if w := d.ab[v]; w == nil {
			d.line('-', v.Name, "- "+d.describe(v))
			d.out.Removed++
		} else if d.compare(v, w) {
			d.out.Changed++
		}
	}
	for _, w := range allValues(b) {
		if d.ba[w] == nil {
			d.line('+', w.Name, "+ "+d.describe(w))
			d.out.Added++
		}
	}
	same := len(a.Results) == len(b.Results)
	for i := 0; same && i < len(a.Results); i++ {
		same = a.Results[i] != nil && d.ab[a.Results[i]] == b.Results[i]
	}
	if !same {
		d.line('~', "", fmt.Sprintf("~ return %s -> %s", d.names(a.Results), d.names(b.Results)))
		d.out.Changed++
	}
	return d.out
}

type differ struct {
	ab, ba map[*Value]*Value
	p      *printer
	out    *GraphDiff
}

func (d *differ) line(kind byte, name, text string) {
	d.out.Lines = append(d.out.Lines, DiffLine{Kind: kind, Name: name, Text: text})
}

func allValues(g *Graph) []*Value {
	var vs []*Value
	for _, v := range g.Params {
		if v != nil {
			vs = append(vs, v)
		}
	}
	for _, v := range g.Values {
		if v != nil {
			vs = append(vs, v)
		}
	}
	return vs
}

func (d *differ) match(v, w *Value) {
	d.ab[v] = w
	d.ba[w] = v
}

func (d *differ) align(a, b *Graph) {
	av, bv := allValues(a), allValues(b)
	byName := map[string]*Value{}
	for _, w := range bv {
		if _, dup := byName[w.Name]; !dup {
			byName[w.Name] = w
		}
	}
	for _, v := range av {
		if w := byName[v.Name]; w != nil && d.ba[w] == nil {
			d.match(v, w)
		}
	}
	// Renamed parameters: in order, by type.
	for _, v := range a.Params {
		if v == nil || d.ab[v] != nil {
			continue
		}
		for _, w := range b.Params {
			if w != nil && d.ba[w] == nil && v.Type.Equal(w.Type) {
				d.match(v, w)
				break
			}
		}
	}
	// Structure: same op, aligned arguments and attributes (constants: same
	// content); then, for what is left, same op and arguments alone.
	id := map[*Value]int{}
	for i, w := range bv {
		id[w] = i
	}
	for d.structural(a, b, id, true)+d.structural(a, b, id, false) > 0 {
	}
}

// structural matches the unmatched values of a and b by key and returns how
// many it matched. The keys of b's values use b's positions, those of a's
// values the positions of their arguments' matches, so one pass over a in
// SSA order reaches the fixpoint; more passes cover other orders.
func (d *differ) structural(a, b *Graph, id map[*Value]int, attrs bool) int {
	index := map[string][]*Value{}
	for _, w := range b.Values {
		if w != nil && d.ba[w] == nil {
			if k, ok := d.key(w, attrs, func(x *Value) (int, bool) { i, ok := id[x]; return i, ok }); ok {
				index[k] = append(index[k], w)
			}
		}
	}
	n := 0
	for progress := true; progress; {
		progress = false
		for _, v := range a.Values {
			if v == nil || d.ab[v] != nil {
				continue
			}
			k, ok := d.key(v, attrs, func(x *Value) (int, bool) { i, ok := id[d.ab[x]]; return i, ok })
			if cands := index[k]; ok && len(cands) > 0 {
				d.match(v, cands[0])
				index[k] = cands[1:]
				progress = true
				n++
			}
		}
	}
	return n
}

// key describes a value's structure with its arguments as positions in b
// (and its attributes when attrs is set); ok is false while an argument has
// no position.
func (d *differ) key(v *Value, attrs bool, pos func(*Value) (int, bool)) (string, bool) {
	var b strings.Builder
	if v.Op == nil {
		return "", false
	}
	if v.Op == OpConst {
		if checkTensor(v.Const) != nil {
			return "", false
		}
		return "const " + v.Type.String() + " " + d.p.hash(v.Const), true
	}
	b.WriteString(v.Op.Name)
	for _, a := range v.Args {
		i, ok := pos(a)
		if !ok {
			return "", false
		}
		b.WriteString(" " + strconv.Itoa(i))
	}
	if attrs {
		b.WriteString(" " + formatAttrs(v.Op, v.Attrs))
	}
	return b.String(), true
}

// describe is the text line of a value (params as %x = param : type).
func (d *differ) describe(v *Value) string {
	if v.Op == nil || v.Op == OpParam || d.p.check(&Graph{Values: []*Value{v}}) != nil {
		return fmt.Sprintf("%%%s = %s : %v%s", v.Name, opName(v.Op), v.Type, loc(v))
	}
	return d.p.value(v)
}

func (d *differ) names(vs []*Value) string {
	if len(vs) == 0 {
		return "()"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = "%<nil>"
		if v != nil {
			s[i] = "%" + v.Name
		}
	}
	return strings.Join(s, ", ")
}

// compare reports the changes between matched values, one line each.
func (d *differ) compare(v, w *Value) bool {
	n := len(d.out.Lines)
	add := func(format string, args ...any) {
		d.line('~', v.Name, fmt.Sprintf("~ %%%s: ", v.Name)+fmt.Sprintf(format, args...))
	}
	if v.Name != w.Name {
		add("renamed %%%s", w.Name)
	}
	if v.Op != w.Op {
		add("op %s -> %s", opName(v.Op), opName(w.Op))
	}
	isConst := v.Op == OpConst && w.Op == OpConst
	if !v.Type.Equal(w.Type) && !(isConst && v.Type.DType == w.Type.DType && v.Type.Quant.Equal(w.Type.Quant)) {
		add("%v -> %v", v.Type, w.Type)
	}
	if len(v.Args) == len(w.Args) {
		for i := range v.Args {
			if d.ab[v.Args[i]] != w.Args[i] || v.Args[i] == nil {
				add("arg %d %s -> %s", i, d.names(v.Args[i:i+1]), d.names(w.Args[i:i+1]))
			}
		}
	} else {
		add("args %s -> %s", d.names(v.Args), d.names(w.Args))
	}
	if v.Op != nil && w.Op != nil {
		for _, k := range attrNames(v, w) {
			x, xok := effectiveAttr(v, k)
			y, yok := effectiveAttr(w, k)
			if xok != yok || !attrIdentical(x, y) {
				add("attr %s %s -> %s", k, attrText(x, xok), attrText(y, yok))
			}
		}
	}
	if isConst {
		if s := weightChange(v.Const, w.Const); s != "" {
			add("weight changed: %s", s)
		}
	}
	return len(d.out.Lines) > n
}

// attrNames lists the attributes stored on v or w: in the declared order
// of v's op, then of w's, then undeclared ones by name. (Attributes stored
// on neither have their defaults on both sides, or belong to only one op.)
func attrNames(v, w *Value) []string {
	var names []string
	seen := map[string]bool{}
	addName := func(k string) {
		_, sv := v.Attrs[k]
		_, sw := w.Attrs[k]
		if !seen[k] && (sv || sw) {
			seen[k] = true
			names = append(names, k)
		}
	}
	for _, x := range []*Value{v, w} {
		for _, a := range x.Op.Attrs {
			addName(a.Name)
		}
	}
	for _, x := range []*Value{v, w} {
		for _, k := range sortedKeys(x.Attrs) {
			addName(k)
		}
	}
	return names
}

func effectiveAttr(v *Value, k string) (Attr, bool) {
	if a, ok := v.Attrs[k]; ok {
		return a, true
	}
	if def := v.Op.attrDef(k); def != nil && !def.Required {
		return def.Default, true
	}
	return Attr{}, false
}

func attrText(a Attr, ok bool) string {
	if !ok || a.Kind < AttrInt || a.Kind > AttrFloats {
		return "(none)"
	}
	return a.String()
}

// weightChange describes how a constant's data changed, or "" when it did not.
func weightChange(x, y *Tensor) string {
	if x == y {
		return ""
	}
	if checkTensor(x) != nil || checkTensor(y) != nil {
		if checkTensor(x) != nil && checkTensor(y) != nil {
			return ""
		}
		return "malformed data"
	}
	if sameBits(x, y) {
		return ""
	}
	var parts []string
	if x.DType != y.DType {
		parts = append(parts, fmt.Sprintf("dtype %v->%v", x.DType, y.DType))
	}
	sameShape := EqualShape(x.Shape, y.Shape)
	if !sameShape {
		parts = append(parts, fmt.Sprintf("shape %s->%s", FormatShape(x.Shape), FormatShape(y.Shape)))
	}
	sx, sy := x.Stats(), y.Stats()
	parts = append(parts, fmt.Sprintf("sparsity %.2f->%.2f", sx.Sparsity, sy.Sparsity),
		fmt.Sprintf("distinct %s->%s", distinctText(sx.Distinct), distinctText(sy.Distinct)))
	if sameShape && x.DType == y.DType {
		maxd, changed := 0.0, 0
		bx, by, size := x.Bytes(), y.Bytes(), x.DType.Size()
		for i := 0; i < x.Len(); i++ {
			if string(bx[i*size:(i+1)*size]) == string(by[i*size:(i+1)*size]) {
				continue
			}
			changed++
			if dv := math.Abs(x.At(i) - y.At(i)); dv > maxd || dv != dv {
				maxd = dv
			}
		}
		parts = append(parts, fmt.Sprintf("max|Δ| %.4g (%d/%d elements)", maxd, changed, x.Len()))
	}
	return strings.Join(parts, " ")
}

func distinctText(n int) string {
	if n > DistinctCap {
		return ">" + strconv.Itoa(DistinctCap)
	}
	return strconv.Itoa(n)
}

// sameBits is Tensor.Equal without encoding both tensors to bytes.
func sameBits(x, y *Tensor) bool {
	if x.DType != y.DType || !EqualShape(x.Shape, y.Shape) {
		return false
	}
	switch x.DType {
	case F32:
		for i, v := range x.F32 {
			if math.Float32bits(v) != math.Float32bits(y.F32[i]) {
				return false
			}
		}
		return true
	case I8:
		return slices.Equal(x.I8, y.I8)
	case U8:
		return slices.Equal(x.U8, y.U8)
	case I16:
		return slices.Equal(x.I16, y.I16)
	case I32:
		return slices.Equal(x.I32, y.I32)
	case I64:
		return slices.Equal(x.I64, y.I64)
	case Bool:
		return slices.Equal(x.Bool, y.Bool)
	}
	return x.Equal(y)
}
