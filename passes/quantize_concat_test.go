package passes

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestQuantizeConcat: a concat of quantized tensors stays in int8. Layers
// whose (relu'd) results are concatenated take the concat's parameters, so
// the concat copies their integers; an input with other parameters (a max
// pool of the graph input) is requantized first. Outputs stay close to f32.
func TestQuantizeConcat(t *testing.T) {
	rnd := uniformTensors(3)
	g := ir.NewGraph("concat")
	must := mustValue(t)
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 8, 8))
	conv := func(name string, in *ir.Value, m, c, k int) *ir.Value {
		pads := ir.Ints(k/2, k/2, k/2, k/2)
		v := must(g.Add("conv", []*ir.Value{in, g.AddConst(name+"_w", rnd(m, c, k, k), nil), g.AddConst(name+"_b", rnd(m), nil)},
			ir.Attrs{"pads": pads}, ir.Type{}, name, name))
		return must(g.Add("relu", []*ir.Value{v}, nil, ir.Type{}, name+"_relu", name))
	}
	a := conv("a", x, 4, 3, 3)
	b := conv("b", x, 6, 3, 1)
	cat := must(g.Add("concat", []*ir.Value{a, b}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "cat", "cat"))
	c := conv("c", cat, 5, 10, 1)
	pool := must(g.Add("maxpool", []*ir.Value{x}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(1, 1), "pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "pool", "pool"))
	cat2 := must(g.Add("concat", []*ir.Value{c, pool}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{}, "cat2", "cat2"))
	d := conv("d", cat2, 4, 8, 1)
	g.Results = []*ir.Value{d}
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
	concats, requants := 0, 0
	for _, v := range q.Values {
		switch v.Op.Name {
		case "concat":
			concats++
			if v.Type.DType != ir.I8 {
				t.Errorf("%s is %v, want i8", v.Where(), v.Type)
			}
			for _, a := range v.Args {
				if a.Op.Name == "dequantize" || !a.Type.Quant.Equal(v.Type.Quant) {
					t.Errorf("%s reads %s (%v), want integers of its own parameters %v", v.Where(), a.Where(), a.Type, v.Type.Quant)
				}
			}
		case "requantize":
			requants++
		}
	}
	if concats != 2 || requants != 1 {
		t.Errorf("%d integer concats and %d requantizes, want 2 and 1:\n%s", concats, requants, q)
	}
	// Close to f32: within a few quantization steps of the output range.
	for i := 0; i < 4; i++ {
		nearF32(t, fmt.Sprintf("input %d", i), g, q, []*ir.Tensor{rnd(1, 3, 8, 8)})
	}
}

// uniformTensors returns a maker of f32 tensors uniform in [-1, 1), seeded.
func uniformTensors(seed int64) func(shape ...int) *ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	return func(shape ...int) *ir.Tensor {
		x := ir.NewTensor(ir.F32, shape)
		for i := range x.F32 {
			x.F32[i] = r.Float32()*2 - 1
		}
		return x
	}
}

// nearF32 checks that q's first output is within 5 % of f's output range
// of f's on the inputs: an int8 model close to its float one.
func nearF32(t *testing.T, what string, f, q *ir.Graph, in []*ir.Tensor) {
	t.Helper()
	want, err := rt.Run(f, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rt.Run(q, in)
	if err != nil {
		t.Fatal(err)
	}
	hi, worst := 0.0, 0.0
	for j, w := range want[0].F32 {
		hi = math.Max(hi, math.Abs(float64(w)))
		worst = math.Max(worst, math.Abs(float64(got[0].F32[j]-w)))
	}
	if worst > 0.05*hi {
		t.Errorf("%s: int8 differs from f32 by up to %.4f (outputs up to %.4f)", what, worst, hi)
	}
}
