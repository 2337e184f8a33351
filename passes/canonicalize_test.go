package passes

import "testing"

var canonCases = []struct{ name, in, want string }{
	{"fold constants", `
graph @t(%x: f32[2]) -> (f32[2]) {
  %a = const f32[2] [1.0,2.0]
  %b = const f32[2] [0.5,0.25]
  %c = add %a, %b : f32[2]
  %d = mul %c, %b : f32[2]
  %y = add %x, %d : f32[2]
  return %y
}`, `
graph @t(%x: f32[2]) -> (f32[2]) {
  %d = const f32[2] [0.75,0.5625]
  %y = add %x, %d : f32[2]
  return %y
}`},
	{"dead code and cse", `
graph @t(%x: f32[1,4]) -> (f32[1,4]) {
  %r1 = relu %x : f32[1,4]
  %r2 = relu %x : f32[1,4]
  %dead = neg %x : f32[1,4]
  %y = add %r1, %r2 : f32[1,4]
  return %y
}`, `
graph @t(%x: f32[1,4]) -> (f32[1,4]) {
  %r1 = relu %x : f32[1,4]
  %y = add %r1, %r1 : f32[1,4]
  return %y
}`},
	{"no-op reshape, transpose and chains", `
graph @t(%x: f32[1,2,2]) -> (f32[4]) {
  %a = reshape %x : f32[1,2,2]
  %b = transpose %a {perm=[0,1,2]} : f32[1,2,2]
  %c = reshape %b : f32[2,2]
  %d = reshape %c : f32[4]
  %y = relu %d : f32[4]
  return %y
}`, `
graph @t(%x: f32[1,2,2]) -> (f32[4]) {
  %d = reshape %x : f32[4]
  %y = relu %d : f32[4]
  return %y
}`},
	{"batchnorm into conv", `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,2,3,3]) {
  %w = const f32[2,1,1,1] [1.0,2.0]
  %s = const f32[2] [2.0,1.0]
  %b = const f32[2] [0.5,-0.5]
  %m = const f32[2] [1.0,0.0]
  %v = const f32[2] [3.0,0.0]
  %c = conv %x, %w : f32[1,2,3,3]
  %n = batchnorm %c, %s, %b, %m, %v {epsilon=1.0} : f32[1,2,3,3]
  return %n
}`, `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,2,3,3]) {
  %w = const f32[2,1,1,1] [1.0,2.0]
  %c.bias = const f32[2] [-0.5,-0.5]
  %c = conv %x, %w, %c.bias : f32[1,2,3,3]
  return %c
}`},
	{"bias add into conv, matmul+add into gemm", `
graph @t(%x: f32[1,1,2,2]) -> (f32[1,3]) {
  %w = const f32[2,1,1,1] [1.0,-1.0]
  %b = const f32[2,1,1] [0.5,0.25]
  %c = conv %x, %w : f32[1,2,2,2]
  %a = add %c, %b : f32[1,2,2,2]
  %f = reshape %a : f32[1,8]
  %m = const f32[8,3] [1.0,0.0,0.0,0.0,1.0,0.0,0.0,0.0,1.0,1.0,1.0,1.0,0.0,0.0,0.0,0.5,0.5,0.5,0.0,0.0,0.0,2.0,0.0,0.0]
  %k = const f32[1,3] [0.1,0.2,0.3]
  %mm = matmul %f, %m : f32[1,3]
  %y = add %k, %mm : f32[1,3]
  return %y
}`, `
graph @t(%x: f32[1,1,2,2]) -> (f32[1,3]) {
  %w = const f32[2,1,1,1] [1.0,-1.0]
  %c.bias = const f32[2] [0.5,0.25]
  %c = conv %x, %w, %c.bias : f32[1,2,2,2]
  %f = reshape %c : f32[1,8]
  %m = const f32[8,3] {sha=2038ec0074f9e354 min=0 max=2 sparsity=0.58}
  %k = const f32[1,3] [0.1,0.2,0.3]
  %mm = gemm %f, %m, %k : f32[1,3]
  return %mm
}`},
	{"pad into conv", `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,1,3,3]) {
  %p = pad %x {pads=[0,0,1,1,0,0,1,1]} : f32[1,1,5,5]
  %w = const f32[1,1,3,3] [1.0,0.0,1.0,0.0,1.0,0.0,1.0,0.0,1.0]
  %c = conv %p, %w : f32[1,1,3,3]
  return %c
}`, `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,1,3,3]) {
  %w = const f32[1,1,3,3] {sha=aa06d7d07a59960a min=0 max=1 sparsity=0.44}
  %c = conv %x, %w {pads=[1,1,1,1]} : f32[1,1,3,3]
  return %c
}`},
	{"reflect pad stays", `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,1,3,3]) {
  %p = pad %x {pads=[0,0,1,1,0,0,1,1] mode=reflect} : f32[1,1,5,5]
  %w = const f32[1,1,3,3] [1.0,0.0,1.0,0.0,1.0,0.0,1.0,0.0,1.0]
  %c = conv %p, %w : f32[1,1,3,3]
  return %c
}`, `
graph @t(%x: f32[1,1,3,3]) -> (f32[1,1,3,3]) {
  %p = pad %x {pads=[0,0,1,1,0,0,1,1] mode=reflect} : f32[1,1,5,5]
  %w = const f32[1,1,3,3] {sha=aa06d7d07a59960a min=0 max=1 sparsity=0.44}
  %c = conv %p, %w : f32[1,1,3,3]
  return %c
}`},
	{"conv_transpose 2x2 stride 2 as 1x1 conv + depth-to-space, relu moved, pads cropped", `
graph @t(%x: f32[1,2,2,3]) -> (f32[1,1,3,6]) {
  %w = const f32[2,1,2,2] [1.0,2.0,3.0,4.0,5.0,6.0,7.0,8.0]
  %b = const f32[1] [0.5]
  %y = conv_transpose %x, %w, %b {strides=[2,2] pads=[1,0,0,0]} : f32[1,1,3,6]
  %r = relu %y : f32[1,1,3,6]
  return %r
}`, `
graph @t(%x: f32[1,2,2,3]) -> (f32[1,1,3,6]) {
  %w.1x1 = const f32[4,2,1,1] [1.0,5.0,2.0,6.0,3.0,7.0,4.0,8.0] loc("y")
  %b.1x1 = const f32[4] [0.5,0.5,0.5,0.5] loc("y")
  %y.1x1 = conv %x, %w.1x1, %b.1x1 : f32[1,4,2,3] loc("y")
  %r.1x1 = relu %y.1x1 : f32[1,4,2,3] loc("r")
  %y.d2s = reshape %r.1x1 : f32[1,2,2,2,3] loc("y")
  %y.d2s.t = transpose %y.d2s {perm=[0,3,1,4,2]} : f32[1,2,2,3,2] loc("y")
  %y.d2s.r = reshape %y.d2s.t : f32[1,1,4,6] loc("y")
  %r = slice %y.d2s.r {starts=[0,0,1,0] ends=[1,1,4,6] steps=[1,1,1,1]} : f32[1,1,3,6] loc("y")
  return %r
}`},
}

func TestCanonicalize(t *testing.T) {
	for _, c := range canonCases {
		t.Run(c.name, func(t *testing.T) { runText(t, "canonicalize", c.in, c.want, nil) })
	}
}
