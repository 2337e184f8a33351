package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// An executor runs a graph on inputs; backends other than rt compile the graph first.
type executor func(inputs []*ir.Tensor) ([]*ir.Tensor, error)

// backends maps --backend names to their preparation step.
var backends = map[string]func(g *ir.Graph) (executor, error){
	"rt": func(g *ir.Graph) (executor, error) {
		p, err := rt.New(g)
		if err != nil {
			return nil, err
		}
		return p.Run, nil
	},
	"llvm": llvmBackend,
	"go":   goBackend,
}

func backendNames() string {
	var n []string
	for k := range backends {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

func prepare(name string, g *ir.Graph) (executor, error) {
	b := backends[name]
	if b == nil {
		return nil, fmt.Errorf("unknown backend %q (have %s)", name, backendNames())
	}
	return b(g)
}
