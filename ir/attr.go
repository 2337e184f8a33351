package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// AttrKind is the kind of an attribute value.
type AttrKind uint8

// Attribute kinds.
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
)

func (k AttrKind) String() string {
	return [...]string{"?", "int", "float", "string", "ints", "floats"}[k]
}

// Attr is one attribute value; the field matching Kind is set.
type Attr struct {
	Kind   AttrKind
	Int    int
	Float  float32
	Str    string
	Ints   []int
	Floats []float32
}

// Attribute constructors.
func Int(v int) Attr           { return Attr{Kind: AttrInt, Int: v} }
func Float(v float32) Attr     { return Attr{Kind: AttrFloat, Float: v} }
func Str(v string) Attr        { return Attr{Kind: AttrString, Str: v} }
func Ints(v ...int) Attr       { return Attr{Kind: AttrInts, Ints: append([]int{}, v...)} }
func Floats(v ...float32) Attr { return Attr{Kind: AttrFloats, Floats: append([]float32{}, v...)} }

// Equal compares two attribute values.
func (a Attr) Equal(b Attr) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case AttrInt:
		return a.Int == b.Int
	case AttrFloat:
		return a.Float == b.Float
	case AttrString:
		return a.Str == b.Str
	case AttrInts:
		if len(a.Ints) != len(b.Ints) {
			return false
		}
		for i := range a.Ints {
			if a.Ints[i] != b.Ints[i] {
				return false
			}
		}
		return true
	case AttrFloats:
		if len(a.Floats) != len(b.Floats) {
			return false
		}
		for i := range a.Floats {
			if a.Floats[i] != b.Floats[i] {
				return false
			}
		}
		return true
	}
	return false
}

func (a Attr) String() string {
	switch a.Kind {
	case AttrInt:
		return strconv.Itoa(a.Int)
	case AttrFloat:
		return FormatFloat(a.Float)
	case AttrString:
		if isBareWord(a.Str) {
			return a.Str
		}
		return strconv.Quote(a.Str)
	case AttrInts:
		parts := make([]string, len(a.Ints))
		for i, v := range a.Ints {
			parts[i] = strconv.Itoa(v)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case AttrFloats:
		parts := make([]string, len(a.Floats))
		for i, v := range a.Floats {
			parts[i] = FormatFloat(v)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return "?"
}

func isBareWord(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Attrs maps attribute names to values. Attributes equal to the op's
// default are not stored; the getters below fall back to the default.
type Attrs map[string]Attr

// Clone copies the map (the values are immutable by convention).
func (a Attrs) Clone() Attrs {
	c := make(Attrs, len(a))
	for k, v := range a {
		c[k] = v
	}
	return c
}

// AttrDef declares one attribute of an op.
type AttrDef struct {
	Name     string
	Kind     AttrKind
	Required bool
	Default  Attr // used when the attribute is absent (and not Required)
	Doc      string
}

// attr looks up an attribute of v, falling back to the op's default.
func (v *Value) attr(name string, kind AttrKind) Attr {
	if a, ok := v.Attrs[name]; ok {
		return a
	}
	if d := v.Op.attrDef(name); d != nil {
		return d.Default
	}
	panic(fmt.Sprintf("ir: op %s has no attribute %q", v.Op.Name, name))
}

// Int returns an int attribute (or its default).
func (v *Value) Int(name string) int { return v.attr(name, AttrInt).Int }

// Float returns a float attribute (or its default).
func (v *Value) Float(name string) float32 { return v.attr(name, AttrFloat).Float }

// Str returns a string attribute (or its default).
func (v *Value) Str(name string) string { return v.attr(name, AttrString).Str }

// IntList returns an ints attribute (or its default); may be empty.
func (v *Value) IntList(name string) []int { return v.attr(name, AttrInts).Ints }

// FloatList returns a floats attribute (or its default).
func (v *Value) FloatList(name string) []float32 { return v.attr(name, AttrFloats).Floats }
