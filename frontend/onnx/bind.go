package onnx

import (
	"fmt"
	"slices"
)

// scanConsts finds, before converting anything, every graph input that
// flows into an operand pare needs at compile time (a Reshape's shape, a
// Clip's bound, a quantization scale ...) and is not bound by
// Options.Bind, and reports them all in one *NeedConstError.
func (im *importer) scanConsts() error {
	producer := map[string]int{}
	nodes := im.graph.GetNode()
	for i, n := range nodes {
		for _, out := range n.GetOutput() {
			if out != "" {
				producer[out] = i
			}
		}
	}
	memo := map[string][]string{}
	visiting := map[string]bool{}
	// trace returns the unbound graph inputs a tensor's value depends on.
	var trace func(name string) []string
	trace = func(name string) []string {
		if r, ok := memo[name]; ok {
			return r
		}
		if visiting[name] {
			return nil
		}
		visiting[name] = true
		defer delete(visiting, name)
		var r []string
		if _, bound := im.opts.Bind[name]; bound {
			// constant
		} else if im.inputs[name] {
			r = []string{name}
		} else if _, isInit := im.inits[name]; isInit {
			// constant
		} else if i, ok := producer[name]; ok {
			switch nodes[i].GetOpType() {
			case "Shape", "Size", "Constant":
				// static: shapes are known at import
			default:
				for _, in := range nodes[i].GetInput() {
					if in != "" {
						for _, g := range trace(in) {
							if !slices.Contains(r, g) {
								r = append(r, g)
							}
						}
					}
				}
			}
		}
		memo[name] = r
		return r
	}

	need := map[string]bool{}
	var uses []string
	for i, n := range nodes {
		conv, _ := lookupConverter(n, im.opset)
		positions := conv.constInputs(im.opset)
		if conv.foldOnly {
			positions = nil
			for j := range n.GetInput() {
				positions = append(positions, j)
			}
		}
		for _, j := range positions {
			if j >= len(n.GetInput()) || n.GetInput()[j] == "" {
				continue
			}
			in := n.GetInput()[j]
			for _, g := range trace(in) {
				need[g] = true
				if g == in {
					uses = append(uses, fmt.Sprintf("node %q (%s): input %q must be a constant; bind it with --bind %s=FILE", nodeName(n, i), n.GetOpType(), in, g))
				} else {
					uses = append(uses, fmt.Sprintf("node %q (%s): input %q must be a constant, and it is computed from graph input %q; bind it with --bind %s=FILE", nodeName(n, i), n.GetOpType(), in, g, g))
				}
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	e := &NeedConstError{Model: im.model, Uses: uses}
	for _, in := range im.graph.GetInput() {
		if need[in.GetName()] {
			e.Inputs = append(e.Inputs, in.GetName())
		}
	}
	return e
}
