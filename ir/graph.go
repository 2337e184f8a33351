package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Value is one SSA value: a graph parameter, a constant, or an op applied to
// earlier values.
type Value struct {
	Name   string // unique within the graph, printed as %Name
	Op     *OpDef
	Args   []*Value
	Attrs  Attrs
	Type   Type
	Const  *Tensor // the data of a const value
	Source string  // the name of the node this value came from in the source model
}

// IsConst reports whether v is a constant.
func (v *Value) IsConst() bool { return v.Op == OpConst }

// IsParam reports whether v is a graph parameter.
func (v *Value) IsParam() bool { return v.Op == OpParam }

// Where names the value and its source node, for error messages.
func (v *Value) Where() string {
	s := "%" + v.Name
	if v.Op != nil {
		s = v.Op.Name + " " + s
	}
	if v.Source != "" && v.Source != v.Name {
		s += fmt.Sprintf(" (node %q)", v.Source)
	}
	return s
}

// Graph is a function over tensors: parameters, body values in SSA order,
// and results. Params are not part of Values.
type Graph struct {
	Name    string
	Params  []*Value
	Values  []*Value
	Results []*Value

	names map[string]bool
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{Name: SanitizeName(name), names: map[string]bool{}}
}

// SanitizeName maps any string to a name the text form accepts:
// letters, digits, '_', '.', '-' ; other bytes become '_'.
func SanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r == '.' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "v"
	}
	return b.String()
}

// uniqueName returns a sanitized, unused name derived from want.
func (g *Graph) uniqueName(want string) string {
	if g.names == nil {
		g.rebuildNames()
	}
	base := ""
	if want != "" {
		base = SanitizeName(want)
	}
	if base != "" && !g.names[base] {
		g.names[base] = true
		return base
	}
	if base == "" {
		base = "v"
	}
	for i := len(g.names); ; i++ {
		n := base + "." + strconv.Itoa(i)
		if base == "v" {
			n = strconv.Itoa(i)
		}
		if !g.names[n] {
			g.names[n] = true
			return n
		}
	}
}

func (g *Graph) rebuildNames() {
	g.names = map[string]bool{}
	for _, p := range g.Params {
		g.names[p.Name] = true
	}
	for _, v := range g.Values {
		g.names[v.Name] = true
	}
}

// AddParam appends a graph parameter.
func (g *Graph) AddParam(name string, t Type) *Value {
	v := &Value{Name: g.uniqueName(name), Op: OpParam, Type: t, Source: name}
	g.Params = append(g.Params, v)
	return v
}

// AddConst appends a constant. q, if not nil, becomes the type's quantization.
func (g *Graph) AddConst(name string, t *Tensor, q *Quant) *Value {
	v := &Value{Name: g.uniqueName(name), Op: OpConst, Const: t, Source: name,
		Type: Type{DType: t.DType, Shape: append([]int{}, t.Shape...), Quant: q}}
	g.Values = append(g.Values, v)
	return v
}

// NewValue builds (but does not insert) a value of op over args, inferring its
// type. hint supplies what the op cannot infer (the dtype of a cast, the
// shape of a reshape, the quantization of an integer result); pass Type{}
// when nothing is needed. Attributes equal to their default are dropped.
func NewValue(opName string, args []*Value, attrs Attrs, hint Type) (*Value, error) {
	op := LookupOp(opName)
	if op == nil {
		return nil, fmt.Errorf("unknown op %q", opName)
	}
	v := &Value{Op: op, Args: args, Attrs: attrs, Type: hint}
	if v.Attrs == nil {
		v.Attrs = Attrs{}
	}
	if err := op.checkAttrs(v); err != nil {
		return nil, err
	}
	for k, a := range v.Attrs {
		if d := op.attrDef(k); d != nil && !d.Required && a.Equal(d.Default) {
			delete(v.Attrs, k)
		}
	}
	if err := op.checkArity(len(args)); err != nil {
		return nil, err
	}
	t, err := op.Infer(v)
	if err != nil {
		return nil, err
	}
	v.Type = t
	return v, nil
}

// Add builds a value with NewValue and appends it to the graph. name is the
// wanted SSA name (made unique), source the node it comes from.
func (g *Graph) Add(opName string, args []*Value, attrs Attrs, hint Type, name, source string) (*Value, error) {
	v, err := NewValue(opName, args, attrs, hint)
	if err != nil {
		if source != "" {
			return nil, fmt.Errorf("%s %q: %w", opName, source, err)
		}
		return nil, fmt.Errorf("%s: %w", opName, err)
	}
	v.Source = source
	v.Name = g.uniqueName(name)
	g.Values = append(g.Values, v)
	return v, nil
}

// Insert appends an already-built value (from NewValue), naming it.
func (g *Graph) Insert(v *Value, name string) *Value {
	v.Name = g.uniqueName(name)
	g.Values = append(g.Values, v)
	return v
}

// Uses maps each value to the values that use it as an argument (results not included).
func (g *Graph) Uses() map[*Value][]*Value {
	u := map[*Value][]*Value{}
	for _, v := range g.Values {
		for _, a := range v.Args {
			u[a] = append(u[a], v)
		}
	}
	return u
}

// ReplaceUses makes every use of old (arguments and results) use new.
func (g *Graph) ReplaceUses(old, new *Value) {
	for _, v := range g.Values {
		for i, a := range v.Args {
			if a == old {
				v.Args[i] = new
			}
		}
	}
	for i, r := range g.Results {
		if r == old {
			g.Results[i] = new
		}
	}
}

// RemoveDead drops body values that no result depends on. It returns how many it removed.
func (g *Graph) RemoveDead() int {
	live := map[*Value]bool{}
	var mark func(v *Value)
	mark = func(v *Value) {
		if live[v] {
			return
		}
		live[v] = true
		for _, a := range v.Args {
			mark(a)
		}
	}
	for _, r := range g.Results {
		mark(r)
	}
	kept := g.Values[:0]
	removed := 0
	for _, v := range g.Values {
		if live[v] {
			kept = append(kept, v)
		} else {
			removed++
			delete(g.names, v.Name)
		}
	}
	for i := len(kept); i < len(g.Values); i++ {
		g.Values[i] = nil
	}
	g.Values = kept
	return removed
}

// Clone deep-copies the graph structure; constant tensors are shared (they are
// immutable by convention: passes that change weights make new tensors).
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name}
	m := map[*Value]*Value{}
	cp := func(v *Value) *Value {
		n := *v
		n.Attrs = v.Attrs.Clone()
		n.Type = v.Type.WithShape(v.Type.Shape)
		n.Args = make([]*Value, len(v.Args))
		for i, a := range v.Args {
			n.Args[i] = m[a]
		}
		m[v] = &n
		return &n
	}
	for _, p := range g.Params {
		c.Params = append(c.Params, cp(p))
	}
	for _, v := range g.Values {
		c.Values = append(c.Values, cp(v))
	}
	for _, r := range g.Results {
		c.Results = append(c.Results, m[r])
	}
	c.rebuildNames()
	return c
}

// Lookup finds a param or body value by name.
func (g *Graph) Lookup(name string) *Value {
	for _, p := range g.Params {
		if p.Name == name {
			return p
		}
	}
	for _, v := range g.Values {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Rename changes a value's name, keeping names unique; it returns the name given.
func (g *Graph) Rename(v *Value, want string) string {
	if g.names == nil {
		g.rebuildNames()
	}
	delete(g.names, v.Name)
	v.Name = g.uniqueName(want)
	return v.Name
}
