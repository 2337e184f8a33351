package gosrc

import (
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// TestOps compiles the shared f32 cases (codegen/codegentest) into one graph
// (one package, one build, one output per case) and compares with rt.
func TestOps(t *testing.T) {
	needGo(t)
	g, vals, err := codegentest.OpsGraph(codegentest.OpCases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, nil, nil, vals)
}

// TestMaxPoolInside: f32 max pools whose windows all lie inside the input
// (unrolled taps) match rt, after a relu (ties of zeros) and without:
// mnist's two pools, uncovered last rows and columns, dilation, 1-D.
func TestMaxPoolInside(t *testing.T) {
	needGo(t)
	pool := func(name string, x []int, attrs pir.Attrs, relu bool) codegentest.OpCase {
		return codegentest.OpCase{Name: name, Inputs: [][]int{x}, Build: func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
			v := in[0]
			if relu {
				var err error
				if v, err = g.Add("relu", []*pir.Value{v}, nil, pir.Type{}, "r", name); err != nil {
					return nil, err
				}
			}
			return g.Add("maxpool", []*pir.Value{v}, attrs, pir.Type{}, "p", name)
		}}
	}
	cases := []codegentest.OpCase{
		pool("pool_2x2", []int{1, 3, 8, 8}, pir.Attrs{"kernel": pir.Ints(2, 2), "strides": pir.Ints(2, 2)}, true),
		pool("pool_3x3_s3", []int{1, 4, 14, 14}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(3, 3)}, true),
		pool("pool_rect_odd", []int{2, 2, 7, 9}, pir.Attrs{"kernel": pir.Ints(2, 3), "strides": pir.Ints(2, 2)}, false),
		pool("pool_dil", []int{1, 2, 9, 8}, pir.Attrs{"kernel": pir.Ints(2, 2), "strides": pir.Ints(1, 2), "dilations": pir.Ints(2, 3)}, false),
		pool("pool_1d", []int{2, 3, 11}, pir.Attrs{"kernel": pir.Ints(3), "strides": pir.Ints(2)}, true),
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, nil, nil, vals)
}

// TestLogicOps compiles the comparison, logic, where, mod and float
// function cases and compares with rt: bools and integers exactly, floats
// within 1e-5 relative.
func TestLogicOps(t *testing.T) {
	needGo(t)
	g, vals, err := codegentest.OpsGraph(codegentest.LogicCases)
	if err != nil {
		t.Fatal(err)
	}
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	checkProgramBy(t, g, p, nil, nil, func(what string, got, want *pir.Tensor) {
		codegentest.CloseEnough(t, what, got, want, 1e-5)
	}, vals)
}
