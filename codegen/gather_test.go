package codegen

import (
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/ir"
)

// TestGatherRuntimeIndices: gathers whose indices are graph inputs lower
// to KGather steps with the [Outer, N, Inner] geometry and K indices;
// constant indices stay strided copies.
func TestGatherRuntimeIndices(t *testing.T) {
	g, _, err := codegentest.IntOpsGraph(codegentest.GatherCases)
	if err != nil {
		t.Fatal(err)
	}
	x := g.AddParam("x", ir.TensorType(ir.F32, 3, 4))
	ix := g.AddConst("ix", &ir.Tensor{DType: ir.I64, Shape: []int{2}, I64: []int64{-1, 0}}, nil)
	c, err := g.Add("gather", []*ir.Value{x, ix}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "const_ix", "const_ix")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = append(g.Results, c)
	p, err := Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Gather{
		"gather_embedding": {Outer: 1, N: 50, Inner: 16, K: 14},
		"gather_axis1_i32": {Outer: 2, N: 5, Inner: 12, K: 6},
		"gather_i8_quant":  {Outer: 24, N: 5, Inner: 1, K: 3},
		"gather_u8_scalar": {Outer: 3, N: 7, Inner: 2, K: 1},
		"gather_i64_data":  {Outer: 1, N: 6, Inner: 4, K: 10},
		"gather_bool":      {Outer: 4, N: 3, Inner: 1, K: 5},
		"const":            {},
	}
	got := map[string]Gather{}
	for _, s := range p.Steps {
		switch {
		case s.Kernel == KGather:
			if s.Gather == nil || len(s.In) != 2 || !s.Fails() || s.FailReason() == "" || len(s.Epilogue) > 0 {
				t.Errorf("%s: gather step %+v", s.Where, s)
				continue
			}
			got[strings.SplitN(s.Out.Value, ".", 2)[0]] = *s.Gather // the case name, made unique
			if s.Out.DType != s.In[0].DType || s.Out.Quant != s.In[0].Quant {
				t.Errorf("%s: out %v %v, x %v %v", s.Where, s.Out.DType, s.Out.Quant, s.In[0].DType, s.In[0].Quant)
			}
		case s.Op == "gather":
			if s.Kernel != KCopy || s.Fails() {
				t.Errorf("%s: constant indices lowered to %s", s.Where, s.Kernel)
			}
			got["const"] = Gather{}
		}
	}
	for name, w := range want {
		if gt, ok := got[name]; !ok || gt != w {
			t.Errorf("%s: gather %+v (found %v), want %+v", name, gt, ok, w)
		}
	}
	var b strings.Builder
	p.Dump(&b)
	if !strings.Contains(b.String(), "gather[1×50×16, 14 indices]") {
		t.Errorf("dump does not show the embedding's geometry:\n%s", b.String())
	}
	checkPlan(t, g, p)
}
