// Package gosrc compiles a codegen.Program to a standalone Go package with
// github.com/dave/jennifer: one function per step, specialized to its shapes
// (loop bounds, strides and constants are literals), a preallocated arena
// per element type, and the packed weights in a //go:embed'ed file decoded
// into typed slices at init (portable: no unsafe, no alignment assumption,
// any GOARCH and byte order). The generated code imports the standard
// library only.
//
// Every identifier in the generated code is made here or by codegen.CName;
// model names reach the output only as quoted string literals or as
// comments reduced to printable ASCII with no comment terminator, so a
// model cannot inject code.
package gosrc

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Options select what Generate writes.
type Options struct {
	// Package is the Go package name (sanitized; default: the program name).
	Package string
	// Main adds a command (DIR/cmd/PKG/main.go) and a go.mod so that
	// `go build ./cmd/PKG` makes an executable like the LLVM backend's.
	Main bool
	// Module is the module path written to go.mod with Main (default: the
	// package name).
	Module string
}

// WeightsFile is the name of the embedded weights file in the package dir.
const WeightsFile = "weights.bin"

// Files is the generated package: relative slash paths → contents.
type Files map[string][]byte

// PackageName turns any string into a valid, lower-case Go package name.
func PackageName(s string) string {
	n := strings.ToLower(codegen.CName(s))
	if n == "main" || isKeyword(n) {
		n = "m_" + n
	}
	return n
}

func isKeyword(s string) bool {
	switch s {
	case "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func", "go",
		"goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct", "switch", "type", "var":
		return true
	}
	return false
}

// validModule reports whether m is a plain module path (letters, digits,
// ".-_~/", no leading or trailing slash, no "..").
func validModule(m string) bool {
	if m == "" || strings.HasPrefix(m, "/") || strings.HasSuffix(m, "/") || strings.Contains(m, "..") || strings.Contains(m, "//") {
		return false
	}
	for _, r := range m {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_~/", r)) {
			return false
		}
	}
	return true
}

// Generate returns the files of the Go package for p.
func Generate(p *codegen.Program, opt Options) (Files, error) {
	pkg := opt.Package
	if pkg == "" {
		pkg = p.Name
	}
	pkg = PackageName(pkg)
	g := &gen{p: p, pkg: pkg, f: jen.NewFile(pkg), weights: map[wkey]string{}, arena: map[ir.DType]int64{}}
	src, err := g.file()
	if err != nil {
		return nil, err
	}
	files := Files{pkg + ".go": src, WeightsFile: p.Weights}
	if opt.Main {
		mod := opt.Module
		if mod == "" {
			mod = pkg
		}
		if !validModule(mod) {
			return nil, fmt.Errorf("module path %q: want letters, digits and .-_~/", mod)
		}
		files["go.mod"] = []byte("module " + mod + "\n\ngo 1.22\n")
		m, err := mainFile(mod)
		if err != nil {
			return nil, err
		}
		files[path.Join("cmd", pkg, "main.go")] = m
	}
	return files, nil
}

// comment reduces untrusted text to a safe one-line comment body: printable
// ASCII only, no comment terminator, at most 200 bytes.
func comment(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 200 {
			b.WriteString("...")
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	t := strings.ReplaceAll(b.String(), "*/", "*?")
	t = strings.ReplaceAll(t, "/*", "?*")
	return strings.TrimLeft(t, "/")
}

// goType is the Go element type of a dtype.
func goType(dt ir.DType) (string, error) {
	switch dt {
	case ir.F32:
		return "float32", nil
	case ir.I8:
		return "int8", nil
	case ir.U8:
		return "uint8", nil
	case ir.I16:
		return "int16", nil
	case ir.I32:
		return "int32", nil
	case ir.I64:
		return "int64", nil
	case ir.Bool:
		return "bool", nil
	}
	return "", fmt.Errorf("dtype %v", dt)
}

// suffix names per-dtype helpers and arenas.
func suffix(dt ir.DType) string {
	switch dt {
	case ir.F32:
		return "F32"
	case ir.I8:
		return "I8"
	case ir.U8:
		return "U8"
	case ir.I16:
		return "I16"
	case ir.I32:
		return "I32"
	case ir.I64:
		return "I64"
	case ir.Bool:
		return "Bool"
	}
	return "X"
}

// flit is a float32 constant as Go source.
func flit(f float32) string {
	switch {
	case math.IsInf(float64(f), 1):
		return "float32(math.Inf(1))"
	case math.IsInf(float64(f), -1):
		return "float32(math.Inf(-1))"
	case f != f:
		return "float32(math.NaN())"
	}
	s := strconv.FormatFloat(float64(f), 'g', -1, 32)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return "float32(" + s + ")"
}

// L is a line or expression of generated code built from trusted text
// (numbers and names made here).
func L(format string, a ...any) *jen.Statement { return jen.Id(fmt.Sprintf(format, a...)) }

// For is `for v := lo; v < hi; v++ { body }`.
func For(v string, lo, hi any, body ...jen.Code) *jen.Statement {
	return jen.For(L("%s := %v", v, lo), L("%s < %v", v, hi), L("%s++", v)).Block(body...)
}

func formatSource(b []byte) ([]byte, error) {
	out, err := format.Source(b)
	if err != nil {
		return nil, fmt.Errorf("gosrc: generated code does not parse: %v", err)
	}
	return out, nil
}

func render(f *jen.File) ([]byte, error) {
	var b bytes.Buffer
	if err := f.Render(&b); err != nil {
		return nil, fmt.Errorf("gosrc: %v", err)
	}
	return b.Bytes(), nil
}
