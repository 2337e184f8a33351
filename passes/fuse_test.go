package passes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

var fuseCases = []struct{ name, in, want string }{
	{"conv bias relu, gemm relu6", `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,2]) {
  %w = const f32[2,1,1,1] [1.0,-1.0]
  %b = const f32[2] [0.5,0.25]
  %c = conv %x, %w, %b : f32[1,2,3,3]
  %r = relu %c : f32[1,2,3,3]
  %f = reshape %r : f32[1,18]
  %m = const f32[18,2] {sha=0 min=0 max=0 sparsity=0}
  %g = gemm %f, %m : f32[1,2]
  %y = clip %g {min=0.0 max=6.0} : f32[1,2]
  return %y
}`, `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,2]) {
  %w = const f32[2,1,1,1] [1.0,-1.0]
  %b = const f32[2] [0.5,0.25]
  %c = conv %x, %w, %b {act=relu} : f32[1,2,3,3]
  %f = reshape %c : f32[1,18]
  %m = const f32[18,2] {sha=0 min=0 max=0 sparsity=0}
  %g = gemm %f, %m {act=clip act_min=0.0 act_max=6.0} : f32[1,2]
  return %g
}`},
	{"relu with two users stays", `
graph @t(%x: f32[1,2]) -> (f32[1,2], f32[1,2]) {
  %a = add %x, %x : f32[1,2]
  %r = relu %a : f32[1,2]
  return %a, %r
}`, `
graph @t(%x: f32[1,2]) -> (f32[1,2], f32[1,2]) {
  %a = add %x, %x : f32[1,2]
  %r = relu %a : f32[1,2]
  return %a, %r
}`},
	{"dequantize-quantize pairs", `
graph @t(%x: f32[4]) -> (f32[4], f32[4]) {
  %q = quantize %x : i8[4] q(0.5,3)
  %d = dequantize %q : f32[4]
  %q2 = quantize %d : i8[4] q(0.5,3)
  %q3 = quantize %d : u8[4] q(0.25,128)
  %d2 = dequantize %q2 : f32[4]
  %d3 = dequantize %q3 : f32[4]
  return %d2, %d3
}`, `
graph @t(%x: f32[4]) -> (f32[4], f32[4]) {
  %q = quantize %x : i8[4] q(0.5,3)
  %q3 = requantize %q : u8[4] q(0.25,128)
  %d2 = dequantize %q : f32[4]
  %d3 = dequantize %q3 : f32[4]
  return %d2, %d3
}`},
}

func TestFuse(t *testing.T) {
	for _, c := range fuseCases {
		in := c.in
		if strings.Contains(in, "sha=0") { // a constant written inline in the test
			in = strings.Replace(in, "{sha=0 min=0 max=0 sparsity=0}", "["+strings.Repeat("0.5,-0.25,", 17)+"0.5,-0.25]", 1)
			g := parseIR(t, in)
			c.want = strings.Replace(c.want, "{sha=0 min=0 max=0 sparsity=0}", strings.SplitN(strings.SplitN(g.String(), "%m = const f32[18,2] ", 2)[1], "\n", 2)[0], 1)
		}
		t.Run(c.name, func(t *testing.T) { runText(t, "fuse{lut=false}", in, c.want, nil) }) // lookups: TestFuseLUT
	}
}

// TestFuseQuantizedIdentical: fusing a quantized mnist-7 leaves rt's
// outputs bit-identical, and --print-after-all writes one file per pass
// whose diff names exactly the values the pass changed.
func TestFuseQuantizedIdentical(t *testing.T) {
	g, calib := mnistForTest(t, 64)
	dir := t.TempDir()
	pl, err := Parse("canonicalize,quantize,fuse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Run(g, &Context{Data: calib}, RunOptions{PrintAfterAll: dir, Model: "m"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ir"))
	if len(files) != 4 {
		t.Fatalf("print-after-all wrote %v, want input + 3 passes", files)
	}
	q, err := ir.ReadFile(filepath.Join(dir, "m.02.quantize.ir"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ir.ReadFile(filepath.Join(dir, "m.03.fuse.ir"))
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, q, f, 0, 3)
	var b strings.Builder
	ir.Diff(q, f).Format(&b)
	d := b.String()
	for _, want := range []string{"~ %Convolution28_Output_0: attr act none -> relu", "- %ReLU32_Output_0 = relu", "- %ReLU114_Output_0 = relu", "0 added, 2 removed, 4 changed"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "m.00.input.ir")); err != nil {
		t.Error(err)
	}
}
