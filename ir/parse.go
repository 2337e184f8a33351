package ir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrMissingWeight is wrapped by the Parse error for a constant whose hash
// is not in the weights.
var ErrMissingWeight = errors.New("weight not found")

// Parse reads the text form written by Print. name (a file name) prefixes
// error messages as name:LINE:COL. weights maps Tensor.Hash to the data of
// the constants printed as {sha=...}; it may be nil when there are none.
//
// Every type is checked: the printed type is the declared type an op's type
// rule starts from (a cast's dtype, a reshape's shape, a result's
// quantization), and the inferred type must equal it.
func Parse(name string, text []byte, weights map[string]*Tensor) (g *Graph, err error) {
	p := &parser{name: name, src: text, line: 1, col: 1, weights: weights, defs: map[string]*Value{}, defLine: map[string]int{}}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			g, err = nil, pe.err
		}
	}()
	p.next()
	return p.graph(), nil
}

type parseError struct{ err error }

type tokKind uint8

const (
	tEOF tokKind = iota
	tNL
	tWord   // dtypes, ops, keywords, numbers, bare strings
	tLocal  // %name
	tGlobal // @name
	tString // "quoted", text holds the unquoted value
	tPunct  // = , : ( ) [ ] { } ->
)

type token struct {
	kind      tokKind
	text      string
	line, col int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tNL:
		return "end of line"
	case tLocal:
		return "%" + t.text
	case tGlobal:
		return "@" + t.text
	case tString:
		return "string " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

type parser struct {
	name      string
	src       []byte
	pos       int
	line, col int
	tok       token
	weights   map[string]*Tensor
	defs      map[string]*Value
	defLine   map[string]int
}

// failf stops parsing with an error at t; format may use %w.
func (p *parser) failf(t token, format string, args ...any) {
	panic(parseError{fmt.Errorf("%s:%d:%d: "+format, append([]any{p.name, t.line, t.col}, args...)...)})
}

func isWordByte(c byte) bool { return isNameByte(c) || c == '+' }

func (p *parser) advance(n int) { p.pos += n; p.col += n }

func (p *parser) next() { p.tok = p.lex() }

func (p *parser) lex() token {
	src := p.src
	for p.pos < len(src) {
		c := src[p.pos]
		if c == ' ' || c == '\t' || c == '\r' {
			p.advance(1)
		} else if c == '/' && p.pos+1 < len(src) && src[p.pos+1] == '/' {
			for p.pos < len(src) && src[p.pos] != '\n' {
				p.advance(1)
			}
		} else {
			break
		}
	}
	t := token{line: p.line, col: p.col}
	if p.pos >= len(src) {
		return t
	}
	c := src[p.pos]
	end := p.pos + 1
	switch {
	case c == '\n':
		t.kind = tNL
		p.pos++
		p.line++
		p.col = 1
		return t
	case c == '%' || c == '@':
		for end < len(src) && isNameByte(src[end]) {
			end++
		}
		t.kind, t.text = tLocal, string(src[p.pos+1:end])
		if c == '@' {
			t.kind = tGlobal
		} else if t.text == "" {
			p.failf(t, "expected a value name after %%")
		}
	case c == '"':
		for ; ; end++ {
			if end >= len(src) || src[end] == '\n' {
				p.failf(t, "unterminated string")
			}
			if src[end] == '\\' && end+1 < len(src) && src[end+1] != '\n' {
				end++
			} else if src[end] == '"' {
				end++
				break
			}
		}
		s, err := strconv.Unquote(string(src[p.pos:end]))
		if err != nil {
			p.failf(t, "bad string %s", src[p.pos:end])
		}
		t.kind, t.text = tString, s
	case c == '-' && end < len(src) && src[end] == '>':
		t.kind, t.text = tPunct, "->"
		end++
	case isWordByte(c):
		for end < len(src) && isWordByte(src[end]) {
			end++
		}
		t.kind, t.text = tWord, string(src[p.pos:end])
	case strings.IndexByte("=,:()[]{}", c) >= 0:
		t.kind, t.text = tPunct, string(c)
	default:
		p.failf(t, "unexpected character %q", c)
	}
	p.advance(end - p.pos)
	return t
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }
func (p *parser) isWord(s string) bool  { return p.tok.kind == tWord && p.tok.text == s }

func (p *parser) expectPunct(s string) token {
	t := p.tok
	if !p.isPunct(s) {
		p.failf(t, "expected %q, found %v", s, t)
	}
	p.next()
	return t
}

// expect returns the current token if it has kind k and moves past it.
func (p *parser) expect(k tokKind, what string) token {
	t := p.tok
	if t.kind != k {
		p.failf(t, "expected %s, found %v", what, t)
	}
	p.next()
	return t
}

func (p *parser) endLine() {
	switch p.tok.kind {
	case tNL:
		p.next()
	case tEOF:
	default:
		p.failf(p.tok, "expected end of line, found %v", p.tok)
	}
}

func (p *parser) skipNL() {
	for p.tok.kind == tNL {
		p.next()
	}
}

// list parses [elem, elem, ...] (possibly empty).
func (p *parser) list(elem func()) {
	p.expectPunct("[")
	if p.isPunct("]") {
		p.next()
		return
	}
	for {
		elem()
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	p.expectPunct("]")
}

func (p *parser) int64Of(t token) int64 {
	if t.kind != tWord {
		p.failf(t, "expected an integer, found %v", t)
	}
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		p.failf(t, "bad integer %q", t.text)
	}
	return n
}

func (p *parser) float32Of(t token) float32 {
	if t.kind != tWord {
		p.failf(t, "expected a number, found %v", t)
	}
	f, err := strconv.ParseFloat(t.text, 32)
	if err != nil {
		p.failf(t, "bad number %q", t.text)
	}
	return float32(f)
}

func (p *parser) parseInt() int {
	t := p.tok
	n := p.int64Of(t)
	if int64(int(n)) != n {
		p.failf(t, "integer %d out of range", n)
	}
	p.next()
	return int(n)
}

func (p *parser) parseFloat() float32 {
	f := p.float32Of(p.tok)
	p.next()
	return f
}

func (p *parser) define(t token, v *Value) {
	p.defs[t.text] = v
	p.defLine[t.text] = t.line
}

func (p *parser) checkNew(t token) {
	if _, dup := p.defs[t.text]; dup {
		p.failf(t, "%%%s redefined (first defined on line %d)", t.text, p.defLine[t.text])
	}
}

func (p *parser) use(t token) *Value {
	if t.kind != tLocal {
		p.failf(t, "expected a %%value, found %v", t)
	}
	v := p.defs[t.text]
	if v == nil {
		p.failf(t, "%%%s used before its definition", t.text)
	}
	p.next()
	return v
}

func (p *parser) graph() *Graph {
	p.skipNL()
	if !p.isWord("graph") {
		p.failf(p.tok, "expected \"graph\", found %v", p.tok)
	}
	p.next()
	g := &Graph{Name: p.expect(tGlobal, "@name").text}
	p.expectPunct("(")
	for !p.isPunct(")") {
		if len(g.Params) > 0 {
			p.expectPunct(",")
		}
		g.Params = append(g.Params, p.param())
	}
	p.next()
	p.expectPunct("->")
	var types []Type
	p.expectPunct("(")
	for !p.isPunct(")") {
		if len(types) > 0 {
			p.expectPunct(",")
		}
		types = append(types, p.parseType())
	}
	p.next()
	p.expectPunct("{")
	p.endLine()
	for p.skipNL(); !p.isWord("return"); p.skipNL() {
		if p.tok.kind != tLocal {
			p.failf(p.tok, "expected a value definition %%name = ... or return, found %v", p.tok)
		}
		g.Values = append(g.Values, p.value())
	}
	rt := p.tok
	p.next()
	var rtoks []token
	for p.tok.kind != tNL && p.tok.kind != tEOF {
		if len(rtoks) > 0 {
			p.expectPunct(",")
		}
		rtoks = append(rtoks, p.tok)
		g.Results = append(g.Results, p.use(p.tok))
	}
	p.endLine()
	if len(g.Results) != len(types) {
		p.failf(rt, "return has %d values, the header declares %d results", len(g.Results), len(types))
	}
	for i, r := range g.Results {
		if !r.Type.Equal(types[i]) {
			p.failf(rtoks[i], "result %d %%%s has type %v, the header declares %v", i, r.Name, r.Type, types[i])
		}
	}
	p.skipNL()
	p.expectPunct("}")
	p.skipNL()
	if p.tok.kind != tEOF {
		p.failf(p.tok, "unexpected %v after the graph", p.tok)
	}
	g.rebuildNames()
	return g
}

func (p *parser) param() *Value {
	t := p.expect(tLocal, "a parameter %name")
	p.checkNew(t)
	p.expectPunct(":")
	v := &Value{Name: t.text, Op: OpParam, Source: t.text, Type: p.parseType()}
	if p.isWord("loc") {
		v.Source = p.loc()
	}
	p.define(t, v)
	return v
}

func (p *parser) loc() string {
	p.next()
	p.expectPunct("(")
	s := p.expect(tString, "a quoted node name").text
	p.expectPunct(")")
	return s
}

func (p *parser) parseType() Type {
	t := p.tok
	if t.kind != tWord {
		p.failf(t, "expected a type, found %v", t)
	}
	dt, err := ParseDType(t.text)
	if err != nil {
		p.failf(t, "%v", err)
	}
	p.next()
	shape := []int{}
	p.list(func() {
		d := p.tok
		n := p.int64Of(d)
		if n < 0 || n > MaxElements {
			p.failf(d, "dimension %d out of range", n)
		}
		shape = append(shape, int(n))
		p.next()
	})
	if err := CheckShape(shape); err != nil {
		p.failf(t, "%v", err)
	}
	typ := Type{DType: dt, Shape: shape}
	if p.isWord("q") {
		qt := p.tok
		typ.Quant = p.quant()
		if err := checkQuant(typ.Quant, typ); err != nil {
			p.failf(qt, "%v%s: %v", dt, FormatShape(shape), err)
		}
	}
	return typ
}

// quant parses q(scale,zero) or q(axis=A [scales] [zeros]).
func (p *parser) quant() *Quant {
	p.next()
	p.expectPunct("(")
	q := &Quant{Axis: -1}
	if p.isWord("axis") {
		p.next()
		p.expectPunct("=")
		at := p.tok
		if q.Axis = p.parseInt(); q.Axis < 0 {
			p.failf(at, "negative quantization axis %d", q.Axis)
		}
		q.Scale = []float32{}
		q.ZeroPoint = []int64{}
		p.list(func() { q.Scale = append(q.Scale, p.parseFloat()) })
		p.list(func() { q.ZeroPoint = append(q.ZeroPoint, p.int64Of(p.tok)); p.next() })
	} else {
		q.Scale = []float32{p.parseFloat()}
		p.expectPunct(",")
		q.ZeroPoint = []int64{p.int64Of(p.tok)}
		p.next()
	}
	p.expectPunct(")")
	return q
}

func (p *parser) value() *Value {
	nt := p.tok
	p.checkNew(nt)
	p.next()
	p.expectPunct("=")
	ot := p.expect(tWord, "an op name")
	var v *Value
	if ot.text == "const" {
		v = p.constant(nt)
	} else {
		v = p.op(nt, ot)
	}
	p.define(nt, v)
	return v
}

func (p *parser) op(nt, ot token) *Value {
	op := LookupOp(ot.text)
	if op == nil {
		p.failf(ot, "unknown op %q", ot.text)
	}
	v := &Value{Name: nt.text, Op: op, Attrs: Attrs{}, Source: nt.text}
	for p.tok.kind == tLocal {
		v.Args = append(v.Args, p.use(p.tok))
		if !p.isPunct(",") {
			break
		}
		p.next()
		if p.tok.kind != tLocal {
			p.failf(p.tok, "expected an argument %%name, found %v", p.tok)
		}
	}
	if p.isPunct("{") {
		p.attrs(v)
	}
	p.expectPunct(":")
	tt := p.tok
	v.Type = p.parseType()
	if p.isWord("loc") {
		v.Source = p.loc()
	}
	p.endLine()
	if err := op.checkArity(len(v.Args)); err != nil {
		p.failf(ot, "%s: %v", v.Where(), err)
	}
	if err := op.checkAttrs(v); err != nil {
		p.failf(ot, "%s: %v", v.Where(), err)
	}
	t, err := inferType(v)
	if err != nil {
		p.failf(ot, "%s: %v", v.Where(), err)
	}
	if !t.Equal(v.Type) {
		p.failf(tt, "%s: declared %v, inferred %v", v.Where(), v.Type, t)
	}
	v.Type = t
	return v
}

func (p *parser) attrs(v *Value) {
	p.next()
	for !p.isPunct("}") {
		kt := p.expect(tWord, "an attribute name or }")
		d := v.Op.attrDef(kt.text)
		if d == nil {
			p.failf(kt, "op %s has no attribute %q (it has %s)", v.Op.Name, kt.text, v.Op.attrNames())
		}
		if _, dup := v.Attrs[kt.text]; dup {
			p.failf(kt, "attribute %s given twice", kt.text)
		}
		p.expectPunct("=")
		var a Attr
		switch d.Kind {
		case AttrInt:
			a = Int(p.parseInt())
		case AttrFloat:
			a = Float(p.parseFloat())
		case AttrString:
			if p.tok.kind != tString && p.tok.kind != tWord {
				p.failf(p.tok, "attribute %s: expected a string, found %v", d.Name, p.tok)
			}
			a = Str(p.tok.text)
			p.next()
		case AttrInts:
			a = Attr{Kind: AttrInts, Ints: []int{}}
			p.list(func() { a.Ints = append(a.Ints, p.parseInt()) })
		case AttrFloats:
			a = Attr{Kind: AttrFloats, Floats: []float32{}}
			p.list(func() { a.Floats = append(a.Floats, p.parseFloat()) })
		default:
			p.failf(kt, "attribute %s has no text form", d.Name)
		}
		if d.Required || !attrIdentical(a, d.Default) {
			v.Attrs[kt.text] = a
		}
	}
	p.next()
}

func (p *parser) constant(nt token) *Value {
	typ := p.parseType()
	v := &Value{Name: nt.text, Op: OpConst, Type: typ, Source: nt.text}
	dt := p.tok
	switch {
	case p.isPunct("["):
		var elems []token
		p.list(func() {
			if p.tok.kind != tWord {
				p.failf(p.tok, "expected an element, found %v", p.tok)
			}
			elems = append(elems, p.tok)
			p.next()
		})
		if len(elems) != typ.NumElements() {
			p.failf(dt, "const %%%s: %d elements for %v", v.Name, len(elems), typ)
		}
		v.Const = p.elements(typ, elems)
	case p.isPunct("{"):
		v.Const = p.summary(v)
	case dt.kind == tWord:
		if len(typ.Shape) != 0 {
			p.failf(dt, "const %%%s: a bare scalar for %v (write a list [...])", v.Name, typ)
		}
		v.Const = p.elements(typ, []token{dt})
		p.next()
	default:
		p.failf(dt, "const %%%s: expected data ([...], a scalar or {sha=...}), found %v", v.Name, dt)
	}
	if p.isWord("loc") {
		v.Source = p.loc()
	}
	p.endLine()
	return v
}

// elements fills a tensor of type typ from len(elems) == typ.NumElements() tokens.
func (p *parser) elements(typ Type, elems []token) *Tensor {
	t := NewTensor(typ.DType, typ.Shape)
	lo, hi := typ.DType.Range()
	for i, e := range elems {
		switch typ.DType {
		case F32:
			t.F32[i] = p.float32Of(e)
		case Bool:
			switch e.text {
			case "true":
				t.Bool[i] = true
			case "false":
			default:
				p.failf(e, "expected true or false, found %v", e)
			}
		default:
			n := p.int64Of(e)
			if n < lo || n > hi {
				p.failf(e, "%d out of range for %v", n, typ.DType)
			}
			t.SetInt(i, n)
		}
	}
	return t
}

// summary parses {sha=HASH key=value ...} and finds the data in the weights;
// fields other than sha are informational.
func (p *parser) summary(v *Value) *Tensor {
	open := p.tok
	p.next()
	var sha token
	for !p.isPunct("}") {
		kt := p.expect(tWord, "a summary field or }")
		p.expectPunct("=")
		vt := p.expect(tWord, "a value")
		if kt.text != "sha" {
			continue
		}
		if sha.text != "" {
			p.failf(kt, "const %%%s: sha given twice", v.Name)
		}
		if !isHash(vt.text) {
			p.failf(vt, "const %%%s: bad hash %q (want 16 hex digits)", v.Name, vt.text)
		}
		sha = vt
	}
	p.next()
	if sha.text == "" {
		p.failf(open, "const %%%s: no sha= in the summary", v.Name)
	}
	t, ok := p.weights[sha.text]
	if !ok {
		p.failf(sha, "const %%%s: sha=%s: %w", v.Name, sha.text, ErrMissingWeight)
	}
	if err := checkTensor(t); err != nil {
		p.failf(sha, "const %%%s: sha=%s: %v", v.Name, sha.text, err)
	}
	if t.DType != v.Type.DType || !EqualShape(t.Shape, v.Type.Shape) {
		p.failf(sha, "const %%%s: sha=%s holds %v%s, the type is %v", v.Name, sha.text, t.DType, FormatShape(t.Shape), v.Type)
	}
	return t
}
