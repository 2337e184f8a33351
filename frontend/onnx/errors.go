package onnx

import (
	"errors"
	"fmt"
	"strings"
)

// UnsupportedError reports a model feature pare does not support: an
// operator, an opset, a data type, an attribute value. The reason says what
// is supported instead.
type UnsupportedError struct {
	Model  string // model file name
	Node   string // node name (or op_type_index), empty for model-level problems
	Op     string // ONNX op_type of the node
	Reason string
}

func (e *UnsupportedError) Error() string {
	var b strings.Builder
	if e.Model != "" {
		b.WriteString(e.Model)
		b.WriteString(": ")
	}
	if e.Node != "" || e.Op != "" {
		fmt.Fprintf(&b, "node %q (%s): ", e.Node, e.Op)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// NeedConstError reports graph inputs that the model uses where pare needs a
// value known at compile time (a Reshape's shape, a Clip's bounds, a
// quantization scale ...). Import again with Options.Bind holding a tensor
// for each of Inputs.
type NeedConstError struct {
	Model  string
	Inputs []string // the ONNX names of the graph inputs to bind, in model order
	Uses   []string // one line per use: node "X" (Reshape): input "shape" ...
}

func (e *NeedConstError) Error() string {
	var b strings.Builder
	for i, u := range e.Uses {
		if i > 0 {
			b.WriteString("\n")
		}
		if e.Model != "" {
			b.WriteString(e.Model)
			b.WriteString(": ")
		}
		b.WriteString(u)
	}
	if len(e.Uses) == 0 {
		fmt.Fprintf(&b, "%s: inputs %s must be constants", e.Model, strings.Join(e.Inputs, ", "))
	}
	return b.String()
}

// nodeError is an error about one node: model, node name, op type, reason.
type nodeError struct {
	model, node, op string
	err             error
	hint            string // what the user may do about it, if anything
}

func (e *nodeError) Error() string {
	s := fmt.Sprintf("%s: node %q (%s): %v", e.model, e.node, e.op, e.err)
	if e.hint != "" {
		s += "; " + e.hint
	}
	return s
}

func (e *nodeError) Unwrap() error { return e.err }

// modelError prefixes an error with the model name.
func modelError(model string, err error) error {
	var ue *UnsupportedError
	if errors.As(err, &ue) {
		if ue.Model == "" {
			ue.Model = model
		}
		return ue
	}
	var ne *nodeError
	var ce *NeedConstError
	if errors.As(err, &ne) || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w", model, err)
}

func unsupportedf(format string, args ...any) error {
	return &UnsupportedError{Reason: fmt.Sprintf(format, args...)}
}
