package passes

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/rt"
)

// fuseElemCases: elementwise chains. runText checks the printed IR and that
// rt's outputs stay within 1e-5.
var fuseElemCases = []struct{ name, in, want string }{
	{"x * hardsigmoid(x), both orders", `
graph @t(%x: f32[1,4], %y: f32[1,4]) -> (f32[1,4], f32[1,4]) {
  %h = hardsigmoid %x {alpha=0.16666667} : f32[1,4]
  %m = mul %x, %h : f32[1,4]
  %h2 = hardsigmoid %y {alpha=0.16666667} : f32[1,4]
  %m2 = mul %h2, %y : f32[1,4]
  return %m, %m2
}`, `
graph @t(%x: f32[1,4], %y: f32[1,4]) -> (f32[1,4], f32[1,4]) {
  %m = hardswish %x : f32[1,4]
  %m2 = hardswish %y : f32[1,4]
  return %m, %m2
}`},
	{"hardsigmoid alpha=0.2, another operand, two users: stay", `
graph @t(%x: f32[1,4], %y: f32[1,4]) -> (f32[1,4], f32[1,4], f32[1,4]) {
  %h = hardsigmoid %x : f32[1,4]
  %m = mul %x, %h : f32[1,4]
  %h2 = hardsigmoid %x {alpha=0.16666667} : f32[1,4]
  %m2 = mul %y, %h2 : f32[1,4]
  %h3 = hardsigmoid %y {alpha=0.16666667} : f32[1,4]
  %m3 = mul %y, %h3 : f32[1,4]
  %s = add %m3, %h3 : f32[1,4]
  return %m, %m2, %s
}`, `
graph @t(%x: f32[1,4], %y: f32[1,4]) -> (f32[1,4], f32[1,4], f32[1,4]) {
  %h = hardsigmoid %x : f32[1,4]
  %m = mul %x, %h : f32[1,4]
  %h2 = hardsigmoid %x {alpha=0.16666667} : f32[1,4]
  %m2 = mul %y, %h2 : f32[1,4]
  %h3 = hardsigmoid %y {alpha=0.16666667} : f32[1,4]
  %m3 = mul %y, %h3 : f32[1,4]
  %s = add %m3, %h3 : f32[1,4]
  return %m, %m2, %s
}`},
	{"x * clip(x+3, 0, 6) / 6 (PaddleOCR), * (1/6), x * (clip(x+3, 0, 6) / 6)", `
graph @t(%x: f32[1,2,3,3]) -> (f32[1,2,3,3], f32[1,2,3,3], f32[1,2,3,3]) {
  %six = const f32[] 6.0
  %three = const f32[] 3.0
  %sixth = const f32[] 0.16666667
  %a = add %x, %three : f32[1,2,3,3]
  %c = clip %a {min=0.0 max=6.0} : f32[1,2,3,3]
  %m = mul %x, %c : f32[1,2,3,3]
  %d = div %m, %six : f32[1,2,3,3]
  %e = neg %d : f32[1,2,3,3]
  %a2 = add %three, %e : f32[1,2,3,3]
  %c2 = clip %a2 {min=0.0 max=6.0} : f32[1,2,3,3]
  %m2 = mul %c2, %e : f32[1,2,3,3]
  %d2 = mul %sixth, %m2 : f32[1,2,3,3]
  %a3 = add %d2, %three : f32[1,2,3,3]
  %c3 = clip %a3 {min=0.0 max=6.0} : f32[1,2,3,3]
  %s3 = div %c3, %six : f32[1,2,3,3]
  %m3 = mul %d2, %s3 : f32[1,2,3,3]
  return %d, %d2, %m3
}`, `
graph @t(%x: f32[1,2,3,3]) -> (f32[1,2,3,3], f32[1,2,3,3], f32[1,2,3,3]) {
  %d = hardswish %x : f32[1,2,3,3]
  %e = neg %d : f32[1,2,3,3]
  %d2 = hardswish %e : f32[1,2,3,3]
  %m3 = hardswish %d2 : f32[1,2,3,3]
  return %d, %d2, %m3
}`},
	{"clamp chains", `
graph @t(%x: f32[1,4]) -> (f32[1,4], f32[1,4], f32[1,4], f32[1,4], f32[1,4]) {
  %n = neg %x : f32[1,4]
  %r1 = relu %x : f32[1,4]
  %r2 = relu %r1 : f32[1,4]
  %c1 = clip %n {min=-1.0 max=0.5} : f32[1,4]
  %r3 = relu %c1 : f32[1,4]
  %r4 = relu %n : f32[1,4]
  %c2 = clip %r4 {min=-2.0 max=6.0} : f32[1,4]
  %c3 = clip %n {min=-1.0 max=1.0} : f32[1,4]
  %c4 = clip %c3 {min=-0.5 max=3.0} : f32[1,4]
  %c5 = clip %x {min=0.0 max=0.5} : f32[1,4]
  %c6 = clip %c5 {min=1.0 max=2.0} : f32[1,4]
  return %r2, %r3, %c2, %c4, %c6
}`, `
graph @t(%x: f32[1,4]) -> (f32[1,4], f32[1,4], f32[1,4], f32[1,4], f32[1,4]) {
  %n = neg %x : f32[1,4]
  %r2 = relu %x : f32[1,4]
  %r3 = clip %n {min=0.0 max=0.5} : f32[1,4]
  %c2 = clip %n {min=0.0 max=6.0} : f32[1,4]
  %c4 = clip %n {min=-0.5 max=1.0} : f32[1,4]
  %c6 = clip %x {min=1.0 max=1.0} : f32[1,4]
  return %r2, %r3, %c2, %c4, %c6
}`},
	{"clamp chain after conv: one act", `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,2,3,3], f32[1,2,3,3]) {
  %w = const f32[2,1,1,1] [1.0,-1.0]
  %c = conv %x, %w : f32[1,2,3,3]
  %r = relu %c : f32[1,2,3,3]
  %y = clip %r {min=-1.0 max=1.5} : f32[1,2,3,3]
  %c2 = conv %x, %w {act=clip act_min=-1.0 act_max=1.0} : f32[1,2,3,3]
  %y2 = relu %c2 : f32[1,2,3,3]
  return %y, %y2
}`, `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,2,3,3], f32[1,2,3,3]) {
  %w = const f32[2,1,1,1] [1.0,-1.0]
  %c = conv %x, %w {act=clip act_min=0.0 act_max=1.5} : f32[1,2,3,3]
  %c2 = conv %x, %w {act=clip act_min=0.0 act_max=1.0} : f32[1,2,3,3]
  return %c, %c2
}`},
	{"constant chains", `
graph @t(%x: f32[1,2,2]) -> (f32[1,2,2], f32[1,2,2], f32[1,2,2]) {
  %c1 = const f32[2,1] [0.5,-1.5]
  %c2 = const f32[] 0.25
  %c3 = const f32[2] [2.0,-0.5]
  %a = add %x, %c1 : f32[1,2,2]
  %b = add %c2, %a {act=relu} : f32[1,2,2]
  %m = mul %c3, %x : f32[1,2,2]
  %n = mul %m, %c1 : f32[1,2,2]
  %s = add %x, %c2 : f32[1,2,2]
  %t = add %s, %c2 : f32[1,2,2]
  %u = add %t, %s : f32[1,2,2]
  return %b, %n, %u
}`, `
graph @t(%x: f32[1,2,2]) -> (f32[1,2,2], f32[1,2,2], f32[1,2,2]) {
  %c2 = const f32[] 0.25
  %b.c = const f32[2,1] [0.75,-1.25]
  %b = add %x, %b.c {act=relu} : f32[1,2,2]
  %n.c = const f32[2,2] [1.0,-0.25,-3.0,0.75]
  %n = mul %x, %n.c : f32[1,2,2]
  %s = add %x, %c2 : f32[1,2,2]
  %t = add %s, %c2 : f32[1,2,2]
  %u = add %t, %s : f32[1,2,2]
  return %b, %n, %u
}`},
}

func TestFuseElementwise(t *testing.T) {
	for _, c := range fuseElemCases {
		t.Run(c.name, func(t *testing.T) { runText(t, "fuse", c.in, c.want, nil) })
	}
}

// TestFuseElementwiseOptions: each chain rewrite is behind an option.
func TestFuseElementwiseOptions(t *testing.T) {
	for _, c := range fuseElemCases[:1] {
		runText(t, "fuse{hardswish=false,act=false}", c.in, c.in, nil)
	}
	runText(t, "fuse{clamps=false,act=false}", fuseElemCases[3].in, fuseElemCases[3].in, nil)
	runText(t, "fuse{consts=false}", fuseElemCases[5].in, fuseElemCases[5].in, nil)
}

// TestComposeClamps: clamp[l2,h2](clamp[l1,h1](x)) == clamp of the composed
// bounds, on a grid of bounds (overlapping, disjoint, empty) and inputs.
func TestComposeClamps(t *testing.T) {
	inf := float32(math.Inf(1))
	vals := []float32{-inf, -3, -1, 0, 0.5, 1, 2, inf}
	for _, l1 := range vals {
		for _, h1 := range vals {
			for _, l2 := range vals {
				for _, h2 := range vals {
					lo, hi := composeClamps(l1, h1, l2, h2)
					for _, x := range []float32{-inf, -5, -2, -1, -0.5, 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 4, inf} {
						if want, got := clampF(clampF(x, l1, h1), l2, h2), clampF(x, lo, hi); want != got {
							t.Fatalf("[%v,%v] then [%v,%v] of %v: %v, composed [%v,%v] gives %v", l1, h1, l2, h2, x, want, lo, hi, got)
						}
					}
				}
			}
		}
	}
}

// TestFuseHardSwishPPOCR: the PaddleOCR classifier writes hard-swish as
// x * clip(x+3, 0, 6) / 6 (18 times); after canonicalize, fuse makes each
// one a hardswish and rt's output stays within 1e-5. Its nine hardsigmoids
// (alpha 0.2) gate SE blocks, multiply another tensor, and stay.
func TestFuseHardSwishPPOCR(t *testing.T) {
	path := "../../shared/models/onnx/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found", path)
	}
	g, err := onnx.Import(path, onnx.Options{Shapes: map[string][]int{"x": {1, 3, 48, 192}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunSpec(g, "canonicalize", nil); err != nil {
		t.Fatal(err)
	}
	before := g.Clone()
	reps, err := RunSpec(g, "fuse", nil)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(reps[0].Notes, "\n")
	t.Log(notes)
	if !strings.Contains(notes, "hard-swish: 18,") {
		t.Errorf("want 18 hard-swish fused: %s", notes)
	}
	count := map[string]int{}
	for _, v := range g.Values {
		count[v.Op.Name]++
	}
	if count["hardswish"] != 18 || count["div"] != 0 || count["clip"] != 0 || count["hardsigmoid"] != 9 {
		t.Errorf("after fuse: %v", count)
	}
	sameOutputs(t, before, g, 1e-5, 2)
	in := inputsFor(g, 5)
	a, err := rt.Run(before, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rt.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range a[0].F32 {
		worst = math.Max(worst, math.Abs(float64(a[0].F32[i]-b[0].F32[i])))
	}
	t.Logf("max |before - after| of the output: %g", worst)
}
