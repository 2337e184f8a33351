package ir

import (
	"errors"
	"strings"
	"testing"
)

// verifyBase is x -> conv(x, w) -> relu, all valid.
func verifyBase(t *testing.T) (g *Graph, x, w, c, r *Value) {
	g = NewGraph("v")
	x = g.AddParam("x", TensorType(F32, 1, 1, 28, 28))
	w = g.AddConst("w", ramp(8, 1, 5, 5), nil)
	c, err := g.Add("conv", []*Value{x, w}, nil, Type{}, "c1", "Conv_0")
	if err != nil {
		t.Fatal(err)
	}
	r, err = g.Add("relu", []*Value{c}, nil, Type{}, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*Value{r}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
	return g, x, w, c, r
}

func TestVerifyErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(g *Graph, x, w, c, r *Value)
		want   string
	}{
		{"declared type", func(g *Graph, x, w, c, r *Value) { c.Type = TensorType(F32, 1, 8, 28, 28) },
			`verify: conv %c1 (node "Conv_0"): declared f32[1,8,28,28], inferred f32[1,8,24,24]`},
		{"declared quant", func(g *Graph, x, w, c, r *Value) { r.Type.DType, r.Type.Quant = I8, PerTensor(1, 0) },
			`verify: relu %r: declared i8[1,8,24,24] q(1.0,0), inferred f32[1,8,24,24]`},
		{"duplicate name", func(g *Graph, x, w, c, r *Value) { r.Name = "c1" }, `verify: relu %c1: name %c1 is used twice`},
		{"empty name", func(g *Graph, x, w, c, r *Value) { w.Name = "" }, `verify: a const value has an empty name`},
		{"bad name", func(g *Graph, x, w, c, r *Value) { w.Name = "a b" }, `verify: const %a b (node "w"): name "a b" has characters the text form cannot hold`},
		{"use before definition", func(g *Graph, x, w, c, r *Value) { g.Values[1], g.Values[2] = g.Values[2], g.Values[1] },
			`verify: relu %r: argument 0 %c1 is used before its definition`},
		{"self use", func(g *Graph, x, w, c, r *Value) { r.Args[0] = r }, `verify: relu %r: argument 0 %r is used before its definition`},
		{"foreign argument", func(g *Graph, x, w, c, r *Value) { r.Args[0] = &Value{Name: "alien", Op: OpParam, Type: c.Type} },
			`verify: relu %r: argument 0 %alien is not a value of the graph`},
		{"nil argument", func(g *Graph, x, w, c, r *Value) { c.Args[1] = nil }, `verify: conv %c1 (node "Conv_0"): argument 1 is nil`},
		{"arity", func(g *Graph, x, w, c, r *Value) { r.Args = append(r.Args, x) }, `verify: relu %r: takes x arguments, got 2`},
		{"unknown attribute", func(g *Graph, x, w, c, r *Value) { c.Attrs["foo"] = Int(1) }, `verify: conv %c1 (node "Conv_0"): unknown attribute "foo" (op conv has group`},
		{"attribute kind", func(g *Graph, x, w, c, r *Value) { c.Attrs["group"] = Float(1) }, `attribute group must be int, got float`},
		{"invalid attribute kind", func(g *Graph, x, w, c, r *Value) { c.Attrs["group"] = Attr{Kind: 77} }, `attribute group has invalid kind 77`},
		{"missing attribute", func(g *Graph, x, w, c, r *Value) {
			g.Values = append(g.Values, &Value{Name: "s", Op: LookupOp("softmax"), Args: []*Value{r}, Type: r.Type})
		}, `verify: softmax %s: missing required attribute axis`},
		{"type rule", func(g *Graph, x, w, c, r *Value) { c.Attrs["strides"] = Ints(1, 0) }, `kernel [5 5], strides [1 0] and dilations [1 1] must be positive`},
		{"const shape", func(g *Graph, x, w, c, r *Value) { w.Const = ramp(8, 1, 5, 4) }, `verify: const %w: data f32[8,1,5,4] does not match the type f32[8,1,5,5]`},
		{"const dtype", func(g *Graph, x, w, c, r *Value) { w.Const = NewTensor(I8, []int{8, 1, 5, 5}) }, `data i8[8,1,5,5] does not match the type f32[8,1,5,5]`},
		{"const without data", func(g *Graph, x, w, c, r *Value) { w.Const = nil }, `verify: const %w: constant without data`},
		{"const storage", func(g *Graph, x, w, c, r *Value) {
			w.Const = &Tensor{DType: F32, Shape: []int{8, 1, 5, 5}, F32: make([]float32, 3)}
		},
			`tensor f32[8,1,5,5] holds 3 elements, its shape 200`},
		{"const arguments", func(g *Graph, x, w, c, r *Value) { w.Args = []*Value{x} }, `verify: const %w has arguments`},
		{"quant count", func(g *Graph, x, w, c, r *Value) {
			w.Const = NewTensor(I8, []int{8, 1, 5, 5})
			w.Type = Type{DType: I8, Shape: w.Const.Shape, Quant: &Quant{Axis: 0, Scale: []float32{1, 2}, ZeroPoint: []int64{0, 0}}}
		}, `verify: const %w: type: 2 scales for axis 0 of size 8`},
		{"quant zero point", func(g *Graph, x, w, c, r *Value) {
			w.Const = NewTensor(I8, []int{8, 1, 5, 5})
			w.Type = Type{DType: I8, Shape: w.Const.Shape, Quant: PerTensor(0.5, 200)}
		}, `zero point 200 out of range for i8`},
		{"quant scale", func(g *Graph, x, w, c, r *Value) {
			w.Const = NewTensor(U8, []int{8, 1, 5, 5})
			w.Type = Type{DType: U8, Shape: w.Const.Shape, Quant: PerTensor(0, 0)}
		}, `scale 0 must be positive and finite`},
		{"quant on float", func(g *Graph, x, w, c, r *Value) { x.Type.Quant = PerTensor(1, 0) }, `verify: param %x: type: quantization on non-integer type f32`},
		{"bad shape", func(g *Graph, x, w, c, r *Value) { x.Type.Shape = []int{1, -1, 28, 28} }, `negative dimension`},
		{"bad dtype", func(g *Graph, x, w, c, r *Value) { x.Type.DType = Invalid }, `verify: param %x: type: invalid dtype invalid`},
		{"param op", func(g *Graph, x, w, c, r *Value) { x.Op = OpConst }, `verify: param %x has op const`},
		{"param in body", func(g *Graph, x, w, c, r *Value) {
			g.Values = append(g.Values, &Value{Name: "p", Op: OpParam, Type: x.Type})
		}, `verify: param %p is among the body values`},
		{"no op", func(g *Graph, x, w, c, r *Value) { r.Op = nil }, `verify: %r has no op`},
		{"nil value", func(g *Graph, x, w, c, r *Value) { g.Values = append(g.Values, nil) }, `verify: value 3 is nil`},
		{"graph name", func(g *Graph, x, w, c, r *Value) { g.Name = "my net" }, `verify: graph name "my net" has characters`},
		{"no results", func(g *Graph, x, w, c, r *Value) { g.Results = nil }, `verify: graph @v has no results`},
		{"nil result", func(g *Graph, x, w, c, r *Value) { g.Results = []*Value{nil} }, `verify: result 0 is nil`},
		{"foreign result", func(g *Graph, x, w, c, r *Value) { g.Results = []*Value{{Name: "z"}} }, `verify: result 0 %z is not a value of the graph`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, x, w, c, r := verifyBase(t)
			tc.mutate(g, x, w, c, r)
			err := Verify(g)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}

// TestVerifyNoCascade: a wrong type is reported once, not again at every user.
func TestVerifyNoCascade(t *testing.T) {
	g, _, _, c, _ := verifyBase(t)
	c.Type = TensorType(F32, 1, 8, 28, 28)
	err := Verify(g)
	if err == nil || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("want exactly one error, got %v", err)
	}
}

func TestVerifyErrorLimit(t *testing.T) {
	g, _, _, _, r := verifyBase(t)
	for i := 0; i < 16; i++ {
		g.Values = append(g.Values, &Value{Name: "bad", Op: LookupOp("relu"), Args: []*Value{r}, Type: r.Type})
	}
	err := Verify(g)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 11 || lines[10] != "verify: 5 more errors" {
		t.Fatalf("want 10 errors and a count of the rest, got:\n%v", err)
	}
	if Verify(nil) == nil {
		t.Error("nil graph verified")
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 11 {
		t.Errorf("errors are not joined: %T", err)
	}
}
