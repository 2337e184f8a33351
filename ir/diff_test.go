package ir

import (
	"bytes"
	"testing"
)

// twoConvs is x -> conv(w1, b1) -> relu -> conv(w2) with `mid` channels in between.
func twoConvs(t *testing.T, mid int) *Graph {
	b := newBuilder(t, "net")
	g := b.g
	x := g.AddParam("x", TensorType(F32, 1, 1, 28, 28))
	c1, err := g.Add("conv", []*Value{x, b.cf("w1", mid, 1, 5, 5), b.cf("b1", mid)}, Attrs{"strides": Ints(2, 2)}, Type{}, "c1", "Conv_0")
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := g.Add("relu", []*Value{c1}, nil, Type{}, "r1", "Relu_1")
	c2, err := g.Add("conv", []*Value{r1, b.cf("w2", 8, mid, 3, 3)}, nil, Type{}, "c2", "Conv_2")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*Value{c2}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

func diffText(d *GraphDiff) string {
	var b bytes.Buffer
	d.Format(&b)
	return b.String()
}

func checkDiff(t *testing.T, a, b *Graph, want string) *GraphDiff {
	t.Helper()
	d := Diff(a, b)
	if got := diffText(d); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	return d
}

func TestDiffIdentity(t *testing.T) {
	g := everyOpGraph(t)
	checkDiff(t, g, g, "no changes\n")
	checkDiff(t, g, g.Clone(), "no changes\n")
	checkDiff(t, g, parseText(t, g, g.String()), "no changes\n")
	if d := Diff(g, g); !d.Empty() || d.Added+d.Removed+d.Changed != 0 {
		t.Errorf("identity diff: %+v", d)
	}
}

func TestDiffOneWeight(t *testing.T) {
	a := twoConvs(t, 16)
	b := a.Clone()
	w := b.Lookup("w2")
	c := w.Const.Clone()
	c.F32[17] += 0.25
	w.Const = c
	d := checkDiff(t, a, b, `~ %w2: weight changed: sparsity 0.14->0.14 distinct 7->7 max|Δ| 0.25 (1/1152 elements)
0 added, 0 removed, 1 changed
`)
	if len(d.Lines) != 1 || d.Lines[0].Kind != '~' || d.Lines[0].Name != "w2" {
		t.Errorf("lines: %+v", d.Lines)
	}
}

// TestDiffPrunedChannel: removing half of the channels between the convs
// changes both weights and the bias, and the shapes of the conv and its consumer.
func TestDiffPrunedChannel(t *testing.T) {
	checkDiff(t, twoConvs(t, 16), twoConvs(t, 8), `~ %w1: weight changed: shape [16,1,5,5]->[8,1,5,5] sparsity 0.14->0.14 distinct 7->7
~ %b1: weight changed: shape [16]->[8] sparsity 0.12->0.12 distinct 7->7
~ %c1: f32[1,16,12,12] -> f32[1,8,12,12]
~ %r1: f32[1,16,12,12] -> f32[1,8,12,12]
~ %w2: weight changed: shape [8,16,3,3]->[8,8,3,3] sparsity 0.14->0.14 distinct 7->7
0 added, 0 removed, 5 changed
`)
}

func TestDiffEdits(t *testing.T) {
	a := twoConvs(t, 8)

	// An inserted value and the argument it rewires.
	b := a.Clone()
	c1, r1 := b.Lookup("c1"), b.Lookup("r1")
	v, err := NewValue("clip", []*Value{c1}, Attrs{"min": Float(0), "max": Float(6)}, Type{})
	if err != nil {
		t.Fatal(err)
	}
	v.Name, v.Source = "six", "Clip_9"
	b.Values = append(b.Values[:3], append([]*Value{v}, b.Values[3:]...)...)
	r1.Args[0] = v
	checkDiff(t, a, b, `~ %r1: arg 0 %c1 -> %six
+ %six = clip %c1 {min=0.0 max=6.0} : f32[1,8,12,12] loc("Clip_9")
1 added, 0 removed, 1 changed
`)
	checkDiff(t, b, a, `- %six = clip %c1 {min=0.0 max=6.0} : f32[1,8,12,12] loc("Clip_9")
~ %r1: arg 0 %six -> %c1
0 added, 1 removed, 1 changed
`)

	// Attribute, op and result changes.
	b = a.Clone()
	b.Lookup("c1").Attrs["pads"] = Ints(1, 1, 1, 1)
	b.Lookup("c1").Type.Shape = []int{1, 8, 13, 13}
	b.Lookup("r1").Op = LookupOp("sigmoid")
	b.Results = append(b.Results, b.Lookup("r1"))
	checkDiff(t, a, b, `~ %c1: f32[1,8,12,12] -> f32[1,8,13,13]
~ %c1: attr pads [] -> [1,1,1,1]
~ %r1: op relu -> sigmoid
~ return %c2 -> %c2, %r1
0 added, 0 removed, 3 changed
`)
}

// TestDiffStructuralAlignment: renamed values are aligned by structure and
// reported as renamed, not as removed and added.
func TestDiffStructuralAlignment(t *testing.T) {
	a := twoConvs(t, 8)
	b := a.Clone()
	for _, v := range append(b.Params, b.Values...) {
		b.Rename(v, "n_"+v.Name)
	}
	b.Lookup("n_c2").Attrs["dilations"] = Ints(1, 1)
	checkDiff(t, a, b, `~ %x: renamed %n_x
~ %w1: renamed %n_w1
~ %b1: renamed %n_b1
~ %c1: renamed %n_c1
~ %r1: renamed %n_r1
~ %w2: renamed %n_w2
~ %c2: renamed %n_c2
~ %c2: attr dilations [] -> [1,1]
0 added, 0 removed, 7 changed
`)

	// Unmatched by name and structure: removed and added.
	b = a.Clone()
	b.Rename(b.Lookup("w2"), "k")
	b.Lookup("k").Const = ramp(8, 8, 3, 3).Reshaped([]int{8, 8, 3, 3})
	b.Lookup("k").Const.F32 = append([]float32{}, b.Lookup("k").Const.F32...)
	b.Lookup("k").Const.F32[0] = 9
	d := Diff(a, b)
	if d.Added != 1 || d.Removed != 1 || d.Changed != 1 {
		t.Fatalf("want w2 removed, k added, c2 rewired:\n%s", diffText(d))
	}
}
