package passes

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

var lowrankPass = &Pass{
	Name:    "lowrank",
	Summary: "SVD: a dense layer into two of rank r, a k×k conv into a k×k conv of r filters and a 1×1 conv",
	Options: []OptionDef{
		{Name: "energy", Kind: Float, Default: "0.95", Doc: "keep the smallest rank whose singular values hold this fraction of the energy"},
	},
	After:  []string{"canonicalize", "prune"},
	Before: []string{"quantize", "share", "sparse"},
	New: func(o Options) (Func, error) {
		return func(g *ir.Graph, ctx *Context, rep *Report) error { return fmt.Errorf("lowrank: not implemented yet") }, nil
	},
}
