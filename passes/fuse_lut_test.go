package passes

import (
	"strings"
	"testing"

	"github.com/pare-ml/pare/rt"
)

// TestFuseLUT: the elementwise f32 chains between an 8-bit dequantize and a
// quantize (branching ones too), one ending in a graph output, one read by
// an op outside (a per-axis quantize) and a run of quantized integer ops
// (mul and add by a scalar, hard-swish) become table lookups; a chain with
// a per-channel constant and a bare dequantize → quantize do not; rt's
// results stay the same bit for bit, and the graph outputs keep their
// names.
func TestFuseLUT(t *testing.T) {
	g := parseIR(t, `
graph @t(%x: f32[2,3,4,5]) -> (i8[2,3,4,5] q(0.02,-20), u8[2,3,4,5] q(0.01,30), f32[2,3,4,5], i8[2,3,4,5] q(0.05,0), i8[2,3,4,5] q(axis=1 [0.02,0.03,0.04] [0,1,2]), i8[2,3,4,5] q(0.05,1), i8[2,3,4,5] q(0.03,-2)) {
  %q = quantize %x : i8[2,3,4,5] q(0.03,-5)
  %d = dequantize %q : f32[2,3,4,5]
  %a = const f32[1] [0.75]
  %b = const f32[1] [-0.125]
  %m = mul %d, %a : f32[2,3,4,5]
  %s = add %m, %b : f32[2,3,4,5]
  %h = hardswish %s : f32[2,3,4,5]
  %y1 = quantize %h : i8[2,3,4,5] q(0.02,-20)
  %sg = sigmoid %d : f32[2,3,4,5]
  %sw = mul %d, %sg : f32[2,3,4,5]
  %y2 = quantize %sw : u8[2,3,4,5] q(0.01,30)
  %y3 = tanh %s : f32[2,3,4,5]
  %pc = const f32[1,3,1,1] [0.5,1.0,2.0]
  %mc = mul %d, %pc : f32[2,3,4,5]
  %y4 = quantize %mc : i8[2,3,4,5] q(0.05,0)
  %y5 = quantize %h : i8[2,3,4,5] q(axis=1 [0.02,0.03,0.04] [0,1,2])
  %y6 = quantize %d : i8[2,3,4,5] q(0.05,1)
  %c8 = const i8[1] q(0.01,0) [75]
  %im = mul %q, %c8 : i8[2,3,4,5] q(0.02,3)
  %ia = add %im, %c8 : i8[2,3,4,5] q(0.025,-4)
  %y7 = hardswish %ia : i8[2,3,4,5] q(0.03,-2)
  return %y1, %y2, %y3, %y4, %y5, %y6, %y7
}`)
	before := g.Clone()
	reps, err := RunSpec(g, "fuse", nil)
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(reps[0].Notes, "\n"); !strings.Contains(notes, "table lookups: 5") {
		t.Errorf("want 5 table lookups: %s", notes)
	}
	luts := map[string]bool{}
	for _, v := range g.Values {
		if v.Op.Name == "lut" {
			luts[v.Name] = true
		}
	}
	for _, n := range []string{"y1", "y2", "y3", "h", "y7"} {
		if !luts[n] {
			t.Errorf("%%%s is not a lookup:\n%s", n, g)
		}
	}
	if len(luts) != 5 {
		t.Errorf("lookups %v, want y1, y2, y3, h, y7:\n%s", luts, g)
	}
	for i, r := range g.Results {
		if want := before.Results[i].Name; r.Name != want {
			t.Errorf("result %d is named %s, want %s", i, r.Name, want)
		}
	}
	for seed := 0; seed < 3; seed++ {
		in := inputsFor(before, seed)
		for i := range in[0].F32 {
			in[0].F32[i] *= 2 // past the i8 range at both ends
		}
		want, err := rt.Run(before, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rt.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			for j := 0; j < want[i].Len(); j++ {
				if w, g := want[i].At(j), got[i].At(j); w != g {
					t.Fatalf("result %d element %d: %v after fuse, %v before", i, j, g, w)
				}
			}
		}
	}
}
