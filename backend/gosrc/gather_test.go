package gosrc

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// TestGatherCases: the gathers at runtime indices alone equal rt (TestIntOps
// has them too, with the rest), and their package is gofmt'd and vet clean.
func TestGatherCases(t *testing.T) {
	needGo(t)
	g, vals, err := codegentest.IntOpsGraph(codegentest.GatherCases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, nil, nil, vals)
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, p)
}

// TestGatherOutOfRange: an index outside [-n, n) makes RunInto (and so
// Run and the command) return an error naming the gather's node and the
// index; in-range indices still run.
func TestGatherOutOfRange(t *testing.T) {
	needGo(t)
	c := codegentest.IntCase{Name: "relu_gather", Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		x := add(pir.TensorType(pir.F32, 5, 3))
		ids := add(pir.TensorType(pir.I32, 2, 7))
		y, err := g.Add("relu", []*pir.Value{x}, nil, pir.Type{}, "relu", "relu")
		if err != nil {
			return nil, err
		}
		return g.Add("gather", []*pir.Value{y, ids}, pir.Attrs{"axis": pir.Int(0)}, pir.Type{}, "lookup", "lookup")
	}}
	g, vals, err := codegentest.IntOpsGraph([]codegentest.IntCase{c})
	if err != nil {
		t.Fatal(err)
	}
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Generate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for name, b := range fs {
		if strings.HasSuffix(name, ".go") {
			src += string(b)
		}
	}
	if !strings.Contains(src, "err := k_lookup(") || !strings.Contains(src, "return err") {
		t.Errorf("RunInto does not return the gather's error:\n%s", src)
	}
	x, err := BuildProgram(p)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	codegentest.CompareRuns(t, g, x, func(what string, got, want *pir.Tensor) {
		codegentest.CloseEnough(t, what, got, want, 1e-6)
	}, vals)
	for j, v := range []int32{5, -6, 1<<31 - 1, -1 << 31} {
		bad := append([]*pir.Tensor{}, vals...)
		ix := pir.NewTensor(pir.I32, vals[1].Shape)
		copy(ix.I32, vals[1].I32)
		ix.I32[j*4] = v
		bad[1] = ix
		_, err := x.Run(bad)
		want := "gather %lookup: gather index " + strconv.Itoa(int(v)) + " out of range for an axis of size 5"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("index %d: err = %v, want %q", v, err, want)
		}
	}
}
