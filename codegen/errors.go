package codegen

import (
	"fmt"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// UnsupportedError reports a graph feature a backend cannot compile (an op,
// a dtype, a geometry). It is distinct from a malformed graph: `pare check`
// counts it as unsupported, not as a failure.
type UnsupportedError struct {
	Where  string // the ir value and its source node
	Op     string
	Reason string
}

func (e *UnsupportedError) Error() string {
	if e.Where == "" {
		return "unsupported: " + e.Reason
	}
	return fmt.Sprintf("%s: unsupported: %s", e.Where, e.Reason)
}

// Unsupported builds an UnsupportedError for value v.
func Unsupported(v *ir.Value, format string, args ...any) *UnsupportedError {
	e := &UnsupportedError{Reason: fmt.Sprintf(format, args...)}
	if v != nil {
		e.Where = v.Where()
		if v.Op != nil {
			e.Op = v.Op.Name
		}
	}
	return e
}

// CName maps any string to a C identifier: letters, digits and '_', not
// starting with a digit, at most 64 bytes. Model names are untrusted; this is
// the only way they enter generated code.
func CName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s = b.String()
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "m_" + s
	}
	return s
}
