package codegentest

import (
	"fmt"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Runner runs a compiled program on one input set (a backend's
// executable).
type Runner interface {
	Run(inputs []*ir.Tensor) ([]*ir.Tensor, error)
}

// CompareRuns runs g in rt and x on every input set and calls same on each
// pair of outputs, named "GRAPH output I (VALUE) set N".
func CompareRuns(t testing.TB, g *ir.Graph, x Runner, same func(what string, got, want *ir.Tensor), inputs ...[]*ir.Tensor) {
	t.Helper()
	for n, in := range inputs {
		want, err := rt.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			same(fmt.Sprintf("%s output %d (%s) set %d", g.Name, i, g.Results[i].Where(), n), got[i], want[i])
		}
	}
}
