package ir

import (
	"errors"
	"fmt"
)

// maxVerifyErrors is how many errors Verify reports in detail.
const maxVerifyErrors = 10

// Verify checks that g is well formed: unique, non-empty, printable names;
// parameters that are params and constants with data matching their type;
// every argument defined earlier in g (SSA order); op arity and attributes;
// valid quantization; every type equal to what the op's type rule infers;
// results that exist. It reports up to 10 errors, joined.
func Verify(g *Graph) error {
	if g == nil {
		return errors.New("verify: nil graph")
	}
	vf := &verifier{pos: map[*Value]int{}, bad: map[*Value]bool{}, names: map[string]*Value{}}
	if g.Name != "" && !validName(g.Name) {
		vf.errorf("verify: graph name %q has characters the text form cannot hold (letters, digits, _ . - only)", g.Name)
	}
	for i, v := range g.Params {
		if v != nil {
			vf.pos[v] = i
		}
	}
	for i, v := range g.Values {
		if v != nil {
			if _, dup := vf.pos[v]; dup {
				vf.errorf("verify: %s appears twice in the graph", v.Where())
				continue
			}
			vf.pos[v] = len(g.Params) + i
		}
	}
	for i, v := range g.Params {
		if v == nil {
			vf.errorf("verify: param %d is nil", i)
			continue
		}
		vf.name(v)
		if v.Op != OpParam {
			vf.fail(v, "verify: param %%%s has op %s", v.Name, opName(v.Op))
		}
		if len(v.Args) != 0 {
			vf.fail(v, "verify: param %%%s has arguments", v.Name)
		}
		vf.typ(v)
	}
	for i, v := range g.Values {
		if v == nil {
			vf.errorf("verify: value %d is nil", i)
			continue
		}
		vf.name(v)
		switch {
		case v.Op == nil:
			vf.fail(v, "verify: %%%s has no op", v.Name)
		case v.Op == OpParam:
			vf.fail(v, "verify: param %%%s is among the body values", v.Name)
		case v.Op == OpConst:
			vf.constant(v)
		default:
			vf.op(v, len(g.Params)+i)
		}
	}
	if len(g.Results) == 0 {
		vf.errorf("verify: graph @%s has no results", g.Name)
	}
	for i, r := range g.Results {
		if r == nil {
			vf.errorf("verify: result %d is nil", i)
		} else if _, ok := vf.pos[r]; !ok {
			vf.errorf("verify: result %d %%%s is not a value of the graph", i, r.Name)
		}
	}
	if vf.count > maxVerifyErrors {
		vf.errs = append(vf.errs, fmt.Errorf("verify: %d more errors", vf.count-maxVerifyErrors))
	}
	return errors.Join(vf.errs...)
}

type verifier struct {
	pos   map[*Value]int // definition order: params, then body values
	bad   map[*Value]bool
	names map[string]*Value
	errs  []error
	count int
}

func (vf *verifier) errorf(format string, args ...any) {
	vf.count++
	if len(vf.errs) < maxVerifyErrors {
		vf.errs = append(vf.errs, fmt.Errorf(format, args...))
	}
}

// fail records an error about v and marks it bad, so that its users are
// not checked against a type that is already wrong.
func (vf *verifier) fail(v *Value, format string, args ...any) {
	vf.bad[v] = true
	vf.errorf(format, args...)
}

func opName(op *OpDef) string {
	if op == nil {
		return "<nil>"
	}
	return op.Name
}

func isNameByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func (vf *verifier) name(v *Value) {
	switch {
	case v.Name == "":
		vf.errorf("verify: a %s value has an empty name", opName(v.Op))
	case !validName(v.Name):
		vf.errorf("verify: %s: name %q has characters the text form cannot hold (letters, digits, _ . - only)", v.Where(), v.Name)
	case vf.names[v.Name] != nil:
		vf.errorf("verify: %s: name %%%s is used twice", v.Where(), v.Name)
	default:
		vf.names[v.Name] = v
	}
}

// typ checks a value's declared type on its own: dtype, shape, quantization.
func (vf *verifier) typ(v *Value) bool {
	t := v.Type
	var err error
	switch {
	case t.DType.Size() == 0:
		err = fmt.Errorf("invalid dtype %v", t.DType)
	case CheckShape(t.Shape) != nil:
		err = CheckShape(t.Shape)
	default:
		err = checkQuant(t.Quant, t)
	}
	if err != nil {
		vf.fail(v, "verify: %s: type: %v", v.Where(), err)
		return false
	}
	return true
}

func (vf *verifier) constant(v *Value) {
	if len(v.Args) != 0 {
		vf.fail(v, "verify: %s has arguments", v.Where())
	}
	if !vf.typ(v) {
		return
	}
	if err := checkTensor(v.Const); err != nil {
		vf.fail(v, "verify: %s: %v", v.Where(), err)
		return
	}
	if c := v.Const; c.DType != v.Type.DType || !EqualShape(c.Shape, v.Type.Shape) {
		vf.fail(v, "verify: %s: data %v%s does not match the type %v", v.Where(), c.DType, FormatShape(c.Shape), v.Type)
	}
}

func (vf *verifier) op(v *Value, at int) {
	ok := vf.typ(v)
	if err := v.Op.checkArity(len(v.Args)); err != nil {
		vf.fail(v, "verify: %s: %v", v.Where(), err)
		ok = false
	}
	for i, a := range v.Args {
		p, member := vf.pos[a]
		switch {
		case a == nil:
			vf.fail(v, "verify: %s: argument %d is nil", v.Where(), i)
			ok = false
			continue
		case !member:
			vf.fail(v, "verify: %s: argument %d %%%s is not a value of the graph", v.Where(), i, a.Name)
		case p >= at:
			vf.fail(v, "verify: %s: argument %d %%%s is used before its definition", v.Where(), i, a.Name)
		}
		if vf.bad[a] {
			ok = false
		}
	}
	for k, a := range v.Attrs {
		if a.Kind < AttrInt || a.Kind > AttrFloats {
			vf.fail(v, "verify: %s: attribute %s has invalid kind %d", v.Where(), k, a.Kind)
			return
		}
	}
	if err := v.Op.checkAttrs(v); err != nil {
		vf.fail(v, "verify: %s: %v", v.Where(), err)
		return
	}
	if !ok {
		vf.bad[v] = true
		return
	}
	t, err := inferType(v)
	if err != nil {
		vf.fail(v, "verify: %s: %v", v.Where(), err)
	} else if !t.Equal(v.Type) {
		vf.fail(v, "verify: %s: declared %v, inferred %v", v.Where(), v.Type, t)
	}
}

// inferType runs the op's type rule, turning a panic in it into an error.
func inferType(v *Value) (t Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = Type{}, fmt.Errorf("type rule of %s panicked: %v", v.Op.Name, r)
		}
	}()
	return v.Op.Infer(v)
}
