package passes

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// convTGraph is x → conv_transpose (random weights, bias when bias) → result.
func convTGraph(t *testing.T, rnd func(shape ...int) *ir.Tensor, x, w []int, attrs ir.Attrs, bias bool) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("convt")
	xv := g.AddParam("x", ir.TensorType(ir.F32, x...))
	args := []*ir.Value{xv, g.AddConst("w", rnd(w...), nil)}
	if bias {
		groups := 1
		if a, ok := attrs["group"]; ok {
			groups = a.Int
		}
		args = append(args, g.AddConst("b", rnd(w[1]*groups), nil))
	}
	y, err := g.Add("conv_transpose", args, attrs, ir.Type{}, "up", "ConvTranspose_7")
	if err != nil {
		t.Fatalf("conv_transpose %v %v %v: %v", x, w, attrs, err)
	}
	g.Results = []*ir.Value{y}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

func countOps(g *ir.Graph, op string) int {
	n := 0
	for _, v := range g.Values {
		if v.Op.Name == op {
			n++
		}
	}
	return n
}

// TestCanonicalizeUpsample: conv_transposes whose kernel equals their
// stride, over random channels, groups, kernels, pads and output padding,
// in 1 and 2 spatial dims, with and without bias, become a 1×1 conv and
// a depth-to-space that give rt's conv_transpose results within 1e-5; the
// result keeps the conv_transpose's name and every new value its source.
func TestCanonicalizeUpsample(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	rnd := uniformTensors(11)
	for i := 0; i < 60; i++ {
		nsp := 1 + i%2
		groups := 1 + r.Intn(3)
		c, m := groups*(1+r.Intn(3)), groups*(1+r.Intn(3))
		x := []int{1 + r.Intn(2), c}
		w := []int{c, m / groups}
		var k, pb, pe, op []int
		for d := 0; d < nsp; d++ {
			h := 2 + r.Intn(4)
			kd := 1 + r.Intn(3)
			x, w, k = append(x, h), append(w, kd), append(k, kd)
			var b, e, o int
			if r.Intn(2) == 0 { // half the cases crop or extend
				b, e, o = r.Intn(kd+1), r.Intn(kd+1), r.Intn(kd)
			}
			if h*kd-b-e+o < 1 {
				b, e = 0, 0
			}
			pb, pe, op = append(pb, b), append(pe, e), append(op, o)
		}
		attrs := ir.Attrs{"strides": ir.Ints(k...), "pads": ir.Ints(append(pb, pe...)...), "output_padding": ir.Ints(op...)}
		if groups > 1 {
			attrs["group"] = ir.Int(groups)
		}
		bias := r.Intn(2) == 0
		name := fmt.Sprintf("%d-D x%v w%v g%d pads%v%v op%v bias=%v", nsp, x, w, groups, pb, pe, op, bias)
		t.Run(name, func(t *testing.T) {
			g := convTGraph(t, rnd, x, w, attrs, bias)
			before := g.Clone()
			rep, err := RunSpec(g, "canonicalize", nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := countOps(g, "conv_transpose"); n != 0 {
				t.Fatalf("%d conv_transpose left:\n%s", n, g)
			}
			if countOps(g, "conv") != 1 {
				t.Fatalf("want one conv:\n%s", g)
			}
			sameOutputs(t, before, g, 1e-5, 3)
			if res := g.Results[0]; res.Name != "up" {
				t.Errorf("result is %%%s, want the conv_transpose's name %%up", res.Name)
			}
			for _, v := range g.Values {
				if !v.IsConst() && v.Source != "ConvTranspose_7" {
					t.Errorf("%s lost its source node", v.Where())
				}
			}
			if s := fmt.Sprint(rep[0].Notes); !strings.Contains(s, "conv_transpose (kernel = stride) as 1x1 conv + depth-to-space: 1") {
				t.Errorf("report notes %s do not say what the pass did", s)
			}
		})
	}
}

// TestCanonicalizeUpsampleKept: overlapping, dilated and 3-D conv_transposes stay.
func TestCanonicalizeUpsampleKept(t *testing.T) {
	rnd := uniformTensors(5)
	for _, c := range []struct {
		name  string
		w     []int
		attrs ir.Attrs
	}{
		{"kernel 3 stride 2", []int{4, 3, 3, 3}, ir.Attrs{"strides": ir.Ints(2, 2)}},
		{"kernel 2 stride 2 dilation 2", []int{4, 3, 2, 2}, ir.Attrs{"strides": ir.Ints(2, 2), "dilations": ir.Ints(2, 2)}},
		{"kernel 2x2 stride 2x1", []int{4, 3, 2, 2}, ir.Attrs{"strides": ir.Ints(2, 1)}},
		{"3-D kernel 2 stride 2", []int{4, 3, 2, 2, 2}, ir.Attrs{"strides": ir.Ints(2, 2, 2)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := []int{1, 4, 5, 5}
			if len(c.w) == 5 {
				x = append(x, 3)
			}
			g := convTGraph(t, rnd, x, c.w, c.attrs, true)
			if _, err := RunSpec(g, "canonicalize", nil); err != nil {
				t.Fatal(err)
			}
			if countOps(g, "conv_transpose") != 1 || countOps(g, "conv") != 0 {
				t.Errorf("rewritten:\n%s", g)
			}
		})
	}
	g := convTGraph(t, rnd, []int{1, 4, 5, 5}, []int{4, 3, 2, 2}, ir.Attrs{"strides": ir.Ints(2, 2)}, true)
	if _, err := RunSpec(g, "canonicalize{upsample=false}", nil); err != nil {
		t.Fatal(err)
	}
	if countOps(g, "conv_transpose") != 1 {
		t.Errorf("upsample=false rewrote:\n%s", g)
	}
}

// ppocrHead is PP-OCRv4 det's head at a small size: conv → relu →
// conv_transpose 2×2 s2 → add bias → batchnorm → relu → conv_transpose 2×2
// s2 → add bias → sigmoid.
func ppocrHead(t testing.TB, rnd func(shape ...int) *ir.Tensor, c, h int) *ir.Graph {
	must := mustValue(t)
	g := ir.NewGraph("head")
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, c, h, h))
	cv := must(g.Add("conv", []*ir.Value{x, g.AddConst("w0", rnd(c, c, 3, 3), nil), g.AddConst("b0", rnd(c), nil)},
		ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "conv0", "Conv_0"))
	r0 := must(g.Add("relu", []*ir.Value{cv}, nil, ir.Type{}, "relu0", "Relu_0"))
	s2 := ir.Attrs{"strides": ir.Ints(2, 2)}
	t1 := must(g.Add("conv_transpose", []*ir.Value{r0, g.AddConst("wt1", rnd(c, c, 2, 2), nil)}, s2.Clone(), ir.Type{}, "ct1", "ConvTranspose_0"))
	a1 := must(g.Add("add", []*ir.Value{t1, g.AddConst("bt1", rnd(1, c, 1, 1), nil)}, nil, ir.Type{}, "add1", "Add_1"))
	pos := rnd(c)
	for i := range pos.F32 {
		pos.F32[i] = 1.5 + pos.F32[i]
	}
	bn := must(g.Add("batchnorm", []*ir.Value{a1, g.AddConst("bn_s", rnd(c), nil), g.AddConst("bn_b", rnd(c), nil),
		g.AddConst("bn_m", rnd(c), nil), g.AddConst("bn_v", pos, nil)}, nil, ir.Type{}, "bn", "BatchNormalization_2"))
	r1 := must(g.Add("relu", []*ir.Value{bn}, nil, ir.Type{}, "relu1", "Relu_1"))
	t2 := must(g.Add("conv_transpose", []*ir.Value{r1, g.AddConst("wt2", rnd(c, 1, 2, 2), nil)}, s2.Clone(), ir.Type{}, "ct2", "ConvTranspose_2"))
	a2 := must(g.Add("add", []*ir.Value{t2, g.AddConst("bt2", rnd(1), nil)}, nil, ir.Type{}, "add2", "Add_3"))
	y := must(g.Add("sigmoid", []*ir.Value{a2}, nil, ir.Type{}, "prob", "Sigmoid_0"))
	g.Results = []*ir.Value{y}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestCanonicalizeUpsampleHead: on PP-OCRv4 det's head the bias adds and
// the batchnorm fold into the conv_transposes first, then each becomes a
// 1×1 conv, the relu between them moving onto the first conv.
func TestCanonicalizeUpsampleHead(t *testing.T) {
	g := ppocrHead(t, uniformTensors(3), 4, 5)
	before := g.Clone()
	if _, err := RunSpec(g, "canonicalize", nil); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"conv_transpose", "add", "batchnorm"} {
		if n := countOps(g, op); n != 0 {
			t.Errorf("%d %s left:\n%s", n, op, g)
		}
	}
	if n := countOps(g, "conv"); n != 3 {
		t.Errorf("%d convs, want 3:\n%s", n, g)
	}
	for _, v := range g.Values {
		if v.Op.Name == "relu" && v.Args[0].Op.Name != "conv" {
			t.Errorf("%s reads %s, want the conv", v.Where(), v.Args[0].Where())
		}
	}
	if g.Lookup("relu1") == nil || g.Lookup("relu1").Op.Name != "reshape" {
		t.Errorf("%%relu1 should name the upsampled tensor:\n%s", g)
	}
	sameOutputs(t, before, g, 1e-5, 3)
}

// TestCanonicalizeConvTransposeFolds: a bias add and a batchnorm after a
// conv_transpose fold into it (here an overlapping, grouped one that stays
// a conv_transpose: output channel m = gi·M/g + mo scales the weights
// [c, mo, ...] of group gi's input channels), with the same results.
func TestCanonicalizeConvTransposeFolds(t *testing.T) {
	rnd := uniformTensors(9)
	must := mustValue(t)
	g := ir.NewGraph("folds")
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, 6, 4, 4))
	ct := must(g.Add("conv_transpose", []*ir.Value{x, g.AddConst("w", rnd(6, 2, 3, 3), nil)},
		ir.Attrs{"strides": ir.Ints(2, 2), "group": ir.Int(3), "pads": ir.Ints(1, 1, 0, 0)}, ir.Type{}, "ct", "ConvTranspose_0"))
	a := must(g.Add("add", []*ir.Value{g.AddConst("k", rnd(1, 6, 1, 1), nil), ct}, nil, ir.Type{}, "a", "Add_1"))
	pos := rnd(6)
	for i := range pos.F32 {
		pos.F32[i] += 1.5
	}
	bn := must(g.Add("batchnorm", []*ir.Value{a, g.AddConst("s", rnd(6), nil), g.AddConst("b", rnd(6), nil),
		g.AddConst("m", rnd(6), nil), g.AddConst("v", pos, nil)}, nil, ir.Type{}, "bn", "BatchNormalization_2"))
	g.Results = []*ir.Value{bn}
	before := g.Clone()
	if _, err := RunSpec(g, "canonicalize", nil); err != nil {
		t.Fatal(err)
	}
	if countOps(g, "add") != 0 || countOps(g, "batchnorm") != 0 || countOps(g, "conv_transpose") != 1 {
		t.Errorf("not folded:\n%s", g)
	}
	sameOutputs(t, before, g, 1e-5, 3)
}
