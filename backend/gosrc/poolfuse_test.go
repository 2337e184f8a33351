package gosrc

import (
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// poolFuseGraph: convs followed by max pools that the Go backend fuses
// (f32 with relu and clip; int8 and uint8 with float and TFLite
// requantization, dense and sparse weights), one whose conv output is
// also a result (not fused), and an integer conv with mixed words and a
// rest word.
func poolFuseGraph(t *testing.T) (*pir.Graph, []*pir.Tensor) {
	r := rand.New(rand.NewSource(3))
	g := pir.NewGraph("poolfuse")
	var vals []*pir.Tensor
	add := func(name string, ty pir.Type) *pir.Value {
		if ty.DType == pir.F32 {
			vals = append(vals, codegentest.RandTensor(r, ty.Shape...))
		} else {
			vals = append(vals, codegentest.RandInt(r, ty))
		}
		return g.AddParam(name, ty)
	}
	must := func(v *pir.Value, err error) *pir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	pool := func(name string, x *pir.Value, k, s int) *pir.Value {
		return must(g.Add("maxpool", []*pir.Value{x}, pir.Attrs{"kernel": pir.Ints(k, k), "strides": pir.Ints(s, s)}, x.Type, name, name))
	}
	// f32: conv + relu, conv + clip (with a second reader of the conv).
	x := add("xf", pir.TensorType(pir.F32, 1, 3, 12, 12))
	c := must(g.Add("conv", []*pir.Value{x, g.AddConst("w1", codegentest.RandTensor(r, 6, 3, 3, 3), nil), g.AddConst("b1", codegentest.RandTensor(r, 6), nil)},
		pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}, pir.Type{}, "f_conv", "f_conv"))
	c = must(g.Add("relu", []*pir.Value{c}, nil, pir.Type{}, "f_relu", "f_relu"))
	g.Results = append(g.Results, pool("f_pool", c, 2, 2))
	c2 := must(g.Add("conv", []*pir.Value{x, g.AddConst("w2", codegentest.RandTensor(r, 4, 3, 5, 5), nil)}, nil, pir.Type{}, "f_conv2", "f_conv2"))
	c2 = must(g.Add("clip", []*pir.Value{c2}, pir.Attrs{"min": pir.Float(-0.5), "max": pir.Float(0.5)}, pir.Type{}, "f_clip", "f_clip"))
	g.Results = append(g.Results, pool("f_pool2", c2, 3, 3), c2)
	// Integer: int8 float requantization with relu, uint8 TFLite.
	for _, q := range []struct {
		name string
		dt   pir.DType
		zx   int64
		rq   string
	}{{"q_i8", pir.I8, -128, "float"}, {"q_u8", pir.U8, 7, "tflite"}} {
		xq := add(q.name+"_x", codegentest.QT(q.dt, 0.05, q.zx, 1, 4, 11, 11))
		scales := make([]float32, 8)
		for i := range scales {
			scales[i] = 0.002 + 0.003*r.Float32()
		}
		wt := pir.Type{DType: pir.I8, Shape: []int{8, 4, 3, 3}, Quant: codegentest.QAxis(0, scales, make([]int64, 8))}
		args := []*pir.Value{xq, g.AddConst(q.name+"_w", codegentest.RandInt(r, wt), wt.Quant), codegentest.I32Const(g, r, 8)}
		cq := must(g.Add("conv", args, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1), "rq": pir.Str(q.rq), "act": pir.Str("relu")},
			codegentest.QT(q.dt, 0.04, q.zx/2), q.name, q.name))
		g.Results = append(g.Results, pool(q.name+"_pool", cq, 2, 2))
	}
	// A conv of mixed words whose last channels are too few columns for
	// pixel lanes: one word of integer lanes (intmixed.go).
	xm := add("m_x", codegentest.QT(pir.I8, 0.05, -3, 1, 4, 5, 2))
	wm := codegentest.QT(pir.I8, 0.02, 0, 6, 4, 3, 3)
	g.Results = append(g.Results, must(g.Add("conv", []*pir.Value{xm, g.AddConst("m_w", codegentest.RandInt(r, wm), wm.Quant), codegentest.I32Const(g, r, 6)},
		pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}, codegentest.QT(pir.I8, 0.04, 1), "m_conv", "m_conv")))
	if err := pir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g, vals
}

// TestPoolFuse: the fusable conv + max pool pairs are fused (the pool
// steps have no kernel of their own) and every result equals rt's.
func TestPoolFuse(t *testing.T) {
	needGo(t)
	g, vals := poolFuseGraph(t)
	for _, mode := range []string{codegen.WeightsDense, codegen.WeightsCompressed} {
		p, err := codegen.LowerWith(g, codegen.Options{Weights: mode, Backend: "go"})
		if err != nil {
			t.Fatal(err)
		}
		gg := &gen{p: p}
		if n := len(poolFusions(gg)); n != 3 {
			t.Errorf("%s: %d fused pools, want 3 (f_pool, q_i8_pool, q_u8_pool)", mode, n)
		}
		checkProgram(t, g, p, nil, nil, vals)
	}
}
