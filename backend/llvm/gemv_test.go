package llvm

import (
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/ir"
)

func gemvCase(name, opn string, shapes [][]int, b []int, attrs ir.Attrs, bias int, post func(g *ir.Graph, y *ir.Value, in []*ir.Value) (*ir.Value, error)) codegentest.OpCase {
	return codegentest.OpCase{Name: name, Inputs: shapes, Build: func(g *ir.Graph, r *rand.Rand, in []*ir.Value) (*ir.Value, error) {
		args := []*ir.Value{in[0], g.AddConst(name+"_b", codegentest.RandTensor(r, b...), nil)}
		if bias > 0 {
			args = append(args, g.AddConst(name+"_c", codegentest.RandTensor(r, bias), nil))
		}
		y, err := g.Add(opn, args, attrs, ir.Type{}, name, name)
		if err != nil || post == nil {
			return y, err
		}
		return post(g, y, in)
	}}
}

func reluOf(g *ir.Graph, y *ir.Value, _ []*ir.Value) (*ir.Value, error) {
	return g.Add("relu", []*ir.Value{y}, nil, ir.Type{}, "", "relu")
}

// TestGemvShapes: the few-row gemms over column panels of B (gemv.go) in
// every panel width, with partial panels and vectors, trans_b, alpha, bias,
// batches and fused epilogues, against rt.
func TestGemvShapes(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	cases := []codegentest.OpCase{
		gemvCase("gv_relu", "gemm", [][]int{{1, 300}}, []int{300, 150}, nil, 150, reluOf),
		gemvCase("gv_transb_alpha", "gemm", [][]int{{2, 77}}, []int{45, 77}, ir.Attrs{"trans_b": ir.Int(1), "alpha": ir.Float(0.7)}, 45, nil),
		gemvCase("gv_m3", "gemm", [][]int{{3, 50}}, []int{50, 20}, nil, 0, reluOf),
		gemvCase("gv_narrow", "gemm", [][]int{{1, 33}}, []int{33, 5}, nil, 5, nil),
		gemvCase("gv_batch", "matmul", [][]int{{2, 1, 64}}, []int{64, 70}, nil, 0, nil),
		gemvCase("gv_add", "gemm", [][]int{{1, 40}, {1, 128}}, []int{40, 128}, nil, 128, func(g *ir.Graph, y *ir.Value, in []*ir.Value) (*ir.Value, error) {
			s, err := g.Add("add", []*ir.Value{y, in[1]}, nil, ir.Type{}, "", "add")
			if err != nil {
				return nil, err
			}
			return reluOf(g, s, nil)
		}),
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codegen.LowerWith(g, codegen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, packed := repackWeights(p); len(packed) < len(cases) {
		t.Errorf("%d steps on panels of B, want %d", len(packed), len(cases))
	}
	checkAgainstRT(t, g, host, nil, vals)
}
