package codegen

import (
	"testing"

	"github.com/pare-ml/pare/ir"
)

// An avgpool whose window is the whole plane, without pads, runs the
// global_avgpool kernel (which loops where the pool kernels unroll the
// window); a window one short of it, or padded, stays a pool.
func TestWholePlaneAvgPool(t *testing.T) {
	for _, c := range []struct {
		kernel, pads []int
		want         Kernel
	}{
		{[]int{6, 5}, []int{0, 0, 0, 0}, KGlobalAvgPool},
		{[]int{6, 4}, []int{0, 0, 0, 0}, KPool},
		{[]int{6, 5}, []int{1, 0, 0, 0}, KPool},
	} {
		g := ir.NewGraph("p")
		x := g.AddParam("x", ir.TensorType(ir.F32, 2, 3, 6, 5))
		v, err := g.Add("avgpool", []*ir.Value{x}, ir.Attrs{"kernel": ir.Ints(c.kernel...), "strides": ir.Ints(c.kernel...), "pads": ir.Ints(c.pads...)}, ir.Type{}, "a", "a")
		if err != nil {
			t.Fatal(err)
		}
		g.Results = []*ir.Value{v}
		p, err := Lower(g)
		if err != nil {
			t.Fatal(err)
		}
		var got []Kernel
		for _, s := range p.Steps {
			got = append(got, s.Kernel)
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("kernel %v pads %v: steps %v, want one %v", c.kernel, c.pads, got, c.want)
		}
	}
}
