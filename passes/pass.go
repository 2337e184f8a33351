// Package passes holds pare's graph passes and the pipeline that runs them.
//
// As in Go's SSA backend (cmd/compile/internal/ssa/compile.go), there is one
// ordered table of passes, each with a stable name and one file. A pipeline
// is a spec string, like LLVM's `opt -passes=`:
//
//	canonicalize,quantize{w=int8,a=int8,calib=percentile:99.99},fuse
//
// Adding a pass is one file (its run function and options) plus one row in
// the table below. The pipeline runs ir.Verify after every pass, measures a
// per-layer report (params, bytes, MACs, dtype before → after) and can write
// the IR after each pass (<model>.<seq>.<pass>.ir).
package passes

import (
	"fmt"
	"io"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// Func runs a configured pass on g, in place. It may add notes to the
// report (what it folded, what it cost).
type Func func(g *ir.Graph, ctx *Context, rep *Report) error

// Pass is one row of the pass table.
type Pass struct {
	Name    string
	Summary string
	Options []OptionDef
	// After lists passes that, when both are in a pipeline, must run before
	// this one (quantize after canonicalize); Before, passes that must run
	// after it. Checked when a pipeline is built.
	After, Before []string
	// NeedsData marks passes that read calibration data (Context.Data).
	NeedsData bool
	// New configures the pass from its (validated, defaulted) options.
	New func(o Options) (Func, error)
}

// passes is the ordered pass table. Its order is the recommended order;
// ordering constraints are the After / Before lists.
var passes = []*Pass{
	qdqPass,
	canonicalizePass,
	prunePass,
	lowrankPass,
	quantizePass,
	sharePass,
	sparsePass,
	distillPass,
	fusePass,
}

// Lookup returns the pass named name, or nil.
func Lookup(name string) *Pass {
	for _, p := range passes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// All lists the pass table in order.
func All() []*Pass { return append([]*Pass{}, passes...) }

func knownPasses() string {
	var s []string
	for _, p := range passes {
		s = append(s, p.Name)
	}
	return strings.Join(s, ", ")
}

// Context is what passes may read besides the graph.
type Context struct {
	// Data is the calibration / validation set (nil when none was given).
	Data *Dataset
	// Log receives progress lines (may be nil).
	Log io.Writer
	// Teacher is the model the distill pass learns from; Pipeline.Run sets
	// it to (a copy of) its input graph when it is nil.
	Teacher *ir.Graph
}

func (c *Context) logf(format string, args ...any) {
	if c != nil && c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Dataset is a labelled set of model inputs for calibration and for
// measuring what a pass costs. Inputs[i] holds the graph inputs of sample
// i; Labels[i] is its class (or -1 when unknown).
type Dataset struct {
	Name   string
	Inputs [][]*ir.Tensor
	Labels []int
}

// Len is the number of samples.
func (d *Dataset) Len() int {
	if d == nil {
		return 0
	}
	return len(d.Inputs)
}
