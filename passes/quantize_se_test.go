package passes

import (
	"fmt"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestQuantizeSqueezeExcite: a squeeze-and-excitation gate (conv →
// global_avgpool → conv → hardsigmoid, broadcast-multiplied into the conv's
// result) quantizes the gate and multiplies the integers (a quantized mul
// with broadcasting), and the outputs stay close to f32.
func TestQuantizeSqueezeExcite(t *testing.T) {
	rnd := uniformTensors(5)
	g := ir.NewGraph("se")
	must := mustValue(t)
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 8, 8))
	conv := func(name string, in *ir.Value, m, c int) *ir.Value {
		return must(g.Add("conv", []*ir.Value{in, g.AddConst(name+"_w", rnd(m, c, 1, 1), nil), g.AddConst(name+"_b", rnd(m), nil)},
			nil, ir.Type{}, name, name))
	}
	a := conv("a", x, 8, 3)
	s := must(g.Add("global_avgpool", []*ir.Value{a}, nil, ir.Type{}, "s", "s"))
	e := must(g.Add("hardsigmoid", []*ir.Value{conv("e", s, 8, 8)}, ir.Attrs{"alpha": ir.Float(1.0 / 6), "beta": ir.Float(0.5)}, ir.Type{}, "e_hs", "e"))
	m := must(g.Add("mul", []*ir.Value{a, e}, nil, ir.Type{}, "m", "m"))
	g.Results = []*ir.Value{conv("d", m, 4, 8)}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	data := &Dataset{Name: "random"}
	for i := 0; i < 16; i++ {
		data.Inputs = append(data.Inputs, []*ir.Tensor{rnd(1, 3, 8, 8)})
	}
	q := g.Clone()
	if _, err := RunSpec(q, "quantize", &Context{Data: data}); err != nil {
		t.Fatal(err)
	}
	muls := 0
	for _, v := range q.Values {
		if v.Op.Name == "mul" {
			muls++
			if v.Type.DType != ir.I8 || v.Args[0].Type.DType != ir.I8 || v.Args[1].Type.DType != ir.I8 {
				t.Errorf("%s is %v of %v and %v, want i8 of i8", v.Where(), v.Type, v.Args[0].Type, v.Args[1].Type)
			}
		}
	}
	if muls != 1 {
		t.Errorf("%d muls, want 1:\n%s", muls, q)
	}
	for i := 0; i < 4; i++ {
		nearF32(t, fmt.Sprintf("input %d", i), g, q, []*ir.Tensor{rnd(1, 3, 8, 8)})
	}
}

// TestQuantizeResizeNearest: a nearest resize between quantized layers
// moves the integers (keeping their parameters); a linear one runs in f32.
func TestQuantizeResizeNearest(t *testing.T) {
	rnd := uniformTensors(9)
	for _, mode := range []string{"nearest", "linear"} {
		g := ir.NewGraph("rs")
		must := mustValue(t)
		x := g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 4, 4))
		a := must(g.Add("conv", []*ir.Value{x, g.AddConst("w", rnd(4, 3, 1, 1), nil)}, nil, ir.Type{}, "a", "a"))
		rs := must(g.Add("resize", []*ir.Value{a}, ir.Attrs{"mode": ir.Str(mode)}, ir.Type{Shape: []int{1, 4, 8, 8}}, "rs", "rs"))
		g.Results = []*ir.Value{must(g.Add("conv", []*ir.Value{rs, g.AddConst("w2", rnd(2, 4, 1, 1), nil)}, nil, ir.Type{}, "b", "b"))}
		data := &Dataset{Name: "random"}
		for i := 0; i < 8; i++ {
			data.Inputs = append(data.Inputs, []*ir.Tensor{rnd(1, 3, 4, 4)})
		}
		q := g.Clone()
		if _, err := RunSpec(q, "quantize", &Context{Data: data}); err != nil {
			t.Fatal(err)
		}
		for _, v := range q.Values {
			if v.Op.Name != "resize" {
				continue
			}
			if wantInt := mode == "nearest"; (v.Type.DType == ir.I8) != wantInt || wantInt && !v.Type.Quant.Equal(v.Args[0].Type.Quant) {
				t.Errorf("%s resize: %v of %v", mode, v.Type, v.Args[0].Type)
			}
		}
		nearF32(t, mode, g, q, []*ir.Tensor{rnd(1, 3, 4, 4)})
	}
}
