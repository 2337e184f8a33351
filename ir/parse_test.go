package ir

import (
	"errors"
	"strings"
	"testing"
)

const smallText = `graph @g(%x: f32[1,4]) -> (f32[1,4]) {
  %r = relu %x : f32[1,4]
  return %r
}
`

func TestParseErrors(t *testing.T) {
	big := ramp(3, 3)
	weights := map[string]*Tensor{big.Hash(): big, "00000000000000ff": ScalarF32(1)}
	for _, tc := range []struct {
		name, body string // body replaces line 2 of smallText
		want       string
	}{
		{"unknown op", "%r = relux %x : f32[1,4]", `t.ir:2:8: unknown op "relux"`},
		{"bad dtype", "%r = relu %x : f33[1,4]", `t.ir:2:18: unknown dtype "f33"`},
		{"bad shape", "%r = relu %x : f32[1,x]", `t.ir:2:24: bad integer "x"`},
		{"negative dim", "%r = relu %x : f32[1,-4]", `t.ir:2:24: dimension -4 out of range`},
		{"huge shape", "%r = relu %x : f32[4294967296,4294967296]", `t.ir:2:18: shape [4294967296 4294967296] has more than`},
		{"use before def", "%r = relu %y : f32[1,4]", `t.ir:2:13: %y used before its definition`},
		{"use of a later value", "%r = relu %s : f32[1,4]\n  %s = relu %x : f32[1,4]", `t.ir:2:13: %s used before its definition`},
		{"self use", "%r = add %x, %r : f32[1,4]", `t.ir:2:16: %r used before its definition`},
		{"type mismatch", "%r = relu %x : f32[1,5]", `t.ir:2:18: relu %r: declared f32[1,5], inferred f32[1,4]`},
		{"dtype mismatch", "%r = relu %x : i8[1,4]", `declared i8[1,4], inferred f32[1,4]`},
		{"quant mismatch", "%q = quantize %x : u8[1,4] q(0.5,3)\n  %r = relu %q : u8[1,4]", `t.ir:3:18: relu %r: declared u8[1,4], inferred u8[1,4] q(0.5,3)`},
		{"redefinition", "%x = relu %x : f32[1,4]", `t.ir:2:3: %x redefined (first defined on line 1)`},
		{"arity", "%r = add %x : f32[1,4]", `t.ir:2:8: add %r: takes a, b arguments, got 1`},
		{"unknown attribute", "%r = relu %x {alpha=1.0} : f32[1,4]", `t.ir:2:17: op relu has no attribute "alpha" (it has none)`},
		{"missing attribute", "%r = softmax %x : f32[1,4]", `softmax %r: missing required attribute axis`},
		{"attribute twice", "%r = softmax %x {axis=1 axis=1} : f32[1,4]", `t.ir:2:27: attribute axis given twice`},
		{"attribute kind", "%r = softmax %x {axis=1.5} : f32[1,4]", `t.ir:2:25: bad integer "1.5"`},
		{"type rule", "%r = softmax %x {axis=3} : f32[1,4]", `softmax %r: axis 3 out of range for rank 2`},
		{"unterminated string", `%r = relu %x : f32[1,4] loc("abc`, `t.ir:2:31: unterminated string`},
		{"unexpected character", "%r = relu %x ; f32[1,4]", `t.ir:2:16: unexpected character ';'`},
		{"missing colon", "%r = relu %x f32[1,4]", `t.ir:2:16: expected ":", found "f32"`},
		{"junk after type", "%r = relu %x : f32[1,4] junk", `t.ir:2:27: expected end of line, found "junk"`},
		{"missing weight", "%w = const f32[3,4] {sha=0123456789abcdef min=0 max=1}\n  %r = relu %x : f32[1,4]", `t.ir:2:28: const %w: sha=0123456789abcdef: weight not found`},
		{"weight of another type", "%w = const f32[9] {sha=" + big.Hash() + "}\n  %r = relu %x : f32[1,4]", `holds f32[3,3], the type is f32[9]`},
		{"bad hash", "%w = const f32[3,3] {sha=xyz}\n  %r = relu %x : f32[1,4]", `bad hash "xyz"`},
		{"no hash", "%w = const f32[3,3] {min=0}\n  %r = relu %x : f32[1,4]", `t.ir:2:23: const %w: no sha= in the summary`},
		{"element count", "%w = const f32[3] [1.0,2.0]\n  %r = relu %x : f32[1,4]", `t.ir:2:21: const %w: 2 elements for f32[3]`},
		{"element range", "%w = const i8[2] [1,300]\n  %r = relu %x : f32[1,4]", `t.ir:2:23: 300 out of range for i8`},
		{"bad bool", "%w = const bool[] 1\n  %r = relu %x : f32[1,4]", `expected true or false`},
		{"bare scalar", "%w = const f32[1] 1.0\n  %r = relu %x : f32[1,4]", `a bare scalar for f32[1]`},
		{"trailing comma", "%w = const f32[2] [1.0,]\n  %r = relu %x : f32[1,4]", `expected an element, found "]"`},
		{"bad quant", "%w = const u8[4] q(axis=0 [1.0] [0]) [1,2,3,4]\n  %r = relu %x : f32[1,4]", `t.ir:2:20: u8[4]: 1 scales for axis 0 of size 4`},
		{"quant on float", "%r = relu %x : f32[1,4] q(1.0,0)", `quantization on non-integer type f32`},
		{"zero point range", "%q = quantize %x : u8[1,4] q(0.5,300)\n  %r = relu %x : f32[1,4]", `zero point 300 out of range for u8`},
		{"bad scale", "%q = quantize %x : u8[1,4] q(-0.5,3)\n  %r = relu %x : f32[1,4]", `scale -0.5 must be positive`},
		{"param in body", "%r = param %x : f32[1,4]", `unknown op "param"`},
		{"no op", "%r = : f32[1,4]", `t.ir:2:8: expected an op name, found ":"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(smallText, "%r = relu %x : f32[1,4]", tc.body, 1)
			_, err := Parse("t.ir", []byte(text), weights)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v\nwant %q\n%s", err, tc.want, text)
			}
		})
	}
}

func TestParseStructureErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", `t.ir:1:1: expected "graph", found end of input`},
		{"graf @g() -> () {\n}\n", `t.ir:1:1: expected "graph", found "graf"`},
		{"graph g() -> () {\n}\n", `t.ir:1:7: expected @name, found "g"`},
		{"graph @g() -> () {\n}\n", `t.ir:2:1: expected a value definition %name = ... or return, found "}"`},
		{"graph @g() -> () {\n  return\n", `t.ir:3:1: expected "}", found end of input`},
		{"graph @g() -> (f32[1]) {\n  return\n}\n", `t.ir:2:3: return has 0 values, the header declares 1 results`},
		{"graph @g(%x: f32[2]) -> (f32[1]) {\n  return %x\n}\n", `t.ir:2:10: result 0 %x has type f32[2], the header declares f32[1]`},
		{"graph @g(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n}\n", `t.ir:4:1: unexpected "}" after the graph`},
		{"graph @g(%x: f32[2], %x: f32[2]) -> () {\n  return\n}\n", `t.ir:1:22: %x redefined`},
		{"graph @g(%x f32[2]) -> () {\n  return\n}\n", `t.ir:1:13: expected ":", found "f32"`},
		{"graph @g(%: f32[2]) -> () {\n  return\n}\n", `t.ir:1:10: expected a value name after %`},
		{"graph @g() -> () { return\n}\n", `t.ir:1:20: expected end of line, found "return"`},
	} {
		_, err := Parse("t.ir", []byte(tc.text), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got error %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestParseMissingWeightIs(t *testing.T) {
	text := "graph @g() -> (f32[3,3]) {\n  %w = const f32[3,3] {sha=0123456789abcdef}\n  return %w\n}\n"
	if _, err := Parse("t.ir", []byte(text), nil); !errors.Is(err, ErrMissingWeight) {
		t.Fatalf("want ErrMissingWeight, got %v", err)
	}
}

// TestParseLenient: comments, blank lines, spacing, quoted bare strings,
// explicit defaults and inline large constants are accepted and print canonically.
func TestParseLenient(t *testing.T) {
	text := `// a comment
graph @g( %x : f32[1,2,4,4] loc("in put") )->( f32[1,2,4,4] ) {

  %w = const f32[2,1,1,1] [1.0, 2]   // trailing comment
  %c = conv %x,%w { group=2  strides=[] } : f32[1,2,4,4]
  %big = const i8[9] [1,2,3,4,5,6,7,8,9]
  %p = pad %x {pads=[0,0,0,0,0,0,0,0] mode="edge"} : f32[1,2,4,4]
  return %c
}`
	g, err := Parse("t.ir", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	big := g.Lookup("big").Const
	want := `graph @g(%x: f32[1,2,4,4] loc("in put")) -> (f32[1,2,4,4]) {
  %w = const f32[2,1,1,1] [1.0,2.0]
  %c = conv %x, %w {group=2} : f32[1,2,4,4]
  %big = const i8[9] {sha=` + big.Hash() + ` min=1 max=9 sparsity=0.00}
  %p = pad %x {pads=[0,0,0,0,0,0,0,0] mode=edge} : f32[1,2,4,4]
  return %c
}
`
	if got := g.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if _, ok := g.Lookup("c").Attrs["strides"]; ok {
		t.Error("default attribute stored")
	}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	g := everyOpGraph(f)
	weights := WeightsOf(g)
	f.Add(g.String())
	f.Add(smallText)
	f.Add(`graph @g(%x: u8[1,4] q(0.5,3)) -> (i32[1,4]) {
  %s = const u8[] q(0.25,1) 7
  %y = sub %x, %s {rq=tflite} : u8[1,4] q(0.5,3) loc("n\t\"1\"")
  %z = cast %y : i32[1,4]
  return %z
}
`)
	f.Add("graph @() -> () {\n  %a = const f32[0] []\n  return\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		g, err := Parse("fuzz.ir", []byte(text), weights)
		if err != nil {
			if strings.Contains(err.Error(), "panicked") {
				t.Fatalf("type rule panic: %v", err)
			}
			return
		}
		if len(g.Results) > 0 {
			if err := Verify(g); err != nil {
				t.Fatalf("a parsed graph does not verify: %v\n%s", err, text)
			}
		}
		s1 := g.String()
		g2, err := Parse("fuzz.ir", []byte(s1), WeightsOf(g))
		if err != nil {
			t.Fatalf("the print of a parsed graph does not parse: %v\n%s", err, s1)
		}
		if s2 := g2.String(); s2 != s1 {
			t.Fatalf("print → parse → print differs:\n%s\n---\n%s", s1, s2)
		}
		if d := Diff(g, g2); !d.Empty() {
			t.Fatalf("diff of a graph and its reparse: %v", d.Lines)
		}
	})
}
