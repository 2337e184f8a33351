package passes

import (
	"math"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// parseIR parses inline IR text (constants written inline).
func parseIR(t testing.TB, text string) *ir.Graph {
	t.Helper()
	g, err := ir.Parse("test", []byte(text), nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return g
}

// inputsFor builds deterministic inputs for g's parameters.
func inputsFor(g *ir.Graph, seed int) []*ir.Tensor {
	var in []*ir.Tensor
	for _, p := range g.Params {
		x := ir.NewTensor(ir.F32, p.Type.Shape)
		for i := range x.F32 {
			x.F32[i] = float32(math.Sin(float64(i*7+seed*13+1))) * 2
		}
		in = append(in, x)
	}
	return in
}

// sameOutputs checks that two graphs compute the same results: f32 within
// tol, integers identical.
func sameOutputs(t testing.TB, a, b *ir.Graph, tol float64, seeds int) {
	t.Helper()
	for s := 0; s < seeds; s++ {
		in := inputsFor(a, s)
		ra, err := rt.Run(a, in)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := rt.Run(b, in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ra {
			if ra[i].DType != rb[i].DType || ra[i].Len() != rb[i].Len() {
				t.Fatalf("result %d: %v%v vs %v%v", i, ra[i].DType, ra[i].Shape, rb[i].DType, rb[i].Shape)
			}
			for j := 0; j < ra[i].Len(); j++ {
				x, y := ra[i].At(j), rb[i].At(j)
				if ra[i].DType != ir.F32 && x != y || math.Abs(x-y) > tol*(1+math.Abs(x)) {
					t.Fatalf("result %d element %d: %v before, %v after", i, j, x, y)
				}
			}
		}
	}
}

// runText runs spec on the IR text and compares the printed result with want.
func runText(t *testing.T, spec, in, want string, ctx *Context) *ir.Graph {
	t.Helper()
	g := parseIR(t, in)
	before := g.Clone()
	if _, err := RunSpec(g, spec, ctx); err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	got := strings.TrimSpace(g.String())
	if want = strings.TrimSpace(want); got != want {
		t.Errorf("%s:\n--- in\n%s\n--- got\n%s\n--- want\n%s", spec, strings.TrimSpace(in), got, want)
	}
	sameOutputs(t, before, g, 1e-5, 3)
	return g
}

// mustValue returns must(v, err): v, or the test stops on err (graph
// building in tests).
func mustValue(t testing.TB) func(*ir.Value, error) *ir.Value {
	return func(v *ir.Value, err error) *ir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
