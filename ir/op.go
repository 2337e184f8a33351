package ir

import (
	"fmt"
	"sort"
	"strings"
)

// OpFlags classify ops for passes and the op listing.
type OpFlags uint32

// Op flags.
const (
	// Elementwise ops map each output element from the same-index input
	// elements (after broadcasting).
	Elementwise OpFlags = 1 << iota
	// Quantizable ops have an integer form the quantizer can target.
	Quantizable
	// Fusable ops can absorb a following activation or elementwise chain.
	Fusable
	// Commutative binary ops.
	Commutative
	// Layout ops only move or select elements (reshape, transpose, slice ...).
	Layout
)

// OpDef is one row of the op table: the single description of an op that the
// builder, printer, parser, verifier and op listing all read.
type OpDef struct {
	Name string
	// Args names the arguments in order. A trailing '?' marks an optional
	// argument (optional ones come last); a name ending in "..." is variadic
	// (one or more) and must be the only argument.
	Args  []string
	Attrs []AttrDef
	// Infer computes the result type from the arguments and attributes of v.
	// v.Type holds the declared type (from the text form or the builder's
	// hint) for what an op cannot infer: a cast's dtype, a reshape's shape,
	// an integer result's quantization.
	Infer func(v *Value) (Type, error)
	Flags OpFlags
	Doc   string
}

func (op *OpDef) attrDef(name string) *AttrDef {
	for i := range op.Attrs {
		if op.Attrs[i].Name == name {
			return &op.Attrs[i]
		}
	}
	return nil
}

// AttrDef returns the declaration of an attribute, or nil.
func (op *OpDef) AttrDef(name string) *AttrDef { return op.attrDef(name) }

// Has reports whether the op has all the given flags.
func (op *OpDef) Has(f OpFlags) bool { return op.Flags&f == f }

// ArgRange is the minimum and maximum number of arguments (max -1: unbounded).
func (op *OpDef) ArgRange() (min, max int) {
	if len(op.Args) == 1 && strings.HasSuffix(op.Args[0], "...") {
		return 1, -1
	}
	for _, a := range op.Args {
		if !strings.HasSuffix(a, "?") {
			min++
		}
	}
	return min, len(op.Args)
}

func (op *OpDef) checkArity(n int) error {
	min, max := op.ArgRange()
	if n < min || (max >= 0 && n > max) {
		return fmt.Errorf("takes %s arguments, got %d", strings.Join(op.Args, ", "), n)
	}
	return nil
}

func (op *OpDef) checkAttrs(v *Value) error {
	for k, a := range v.Attrs {
		d := op.attrDef(k)
		if d == nil {
			return fmt.Errorf("unknown attribute %q (op %s has %s)", k, op.Name, op.attrNames())
		}
		if a.Kind != d.Kind {
			return fmt.Errorf("attribute %s must be %v, got %v", k, d.Kind, a.Kind)
		}
	}
	for _, d := range op.Attrs {
		if _, ok := v.Attrs[d.Name]; d.Required && !ok {
			return fmt.Errorf("missing required attribute %s", d.Name)
		}
	}
	return nil
}

func (op *OpDef) attrNames() string {
	if len(op.Attrs) == 0 {
		return "none"
	}
	var s []string
	for _, a := range op.Attrs {
		s = append(s, a.Name)
	}
	return strings.Join(s, ", ")
}

// OpParam and OpConst are the two ops that have no arguments.
var (
	OpParam = &OpDef{Name: "param", Doc: "a graph parameter (printed in the graph header)",
		Infer: func(v *Value) (Type, error) { return v.Type, nil }}
	OpConst = &OpDef{Name: "const", Doc: "a constant tensor (weights); printed as a hash and summary, data in the sidecar",
		Infer: func(v *Value) (Type, error) {
			if v.Const == nil {
				return Type{}, fmt.Errorf("const without data")
			}
			return Type{DType: v.Const.DType, Shape: append([]int{}, v.Const.Shape...), Quant: v.Type.Quant}, nil
		}}
)

var opTable = map[string]*OpDef{}

func register(defs ...*OpDef) {
	for _, d := range defs {
		if _, dup := opTable[d.Name]; dup {
			panic("ir: op registered twice: " + d.Name)
		}
		opTable[d.Name] = d
	}
}

func init() { register(OpConst) }

// LookupOp returns the op named name, or nil.
func LookupOp(name string) *OpDef { return opTable[name] }

// Ops lists every op (except param) sorted by name.
func Ops() []*OpDef {
	var ops []*OpDef
	for _, d := range opTable {
		ops = append(ops, d)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name })
	return ops
}
