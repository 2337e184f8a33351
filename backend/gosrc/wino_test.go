package gosrc

import (
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// TestWinoMatrices: Aᵀ((G·g) ⊙ (Bᵀ·d)) is the correlation of d with g.
func TestWinoMatrices(t *testing.T) {
	bt, g, at := winoMatrices(winoM, 5, winoPoints)
	r := rand.New(rand.NewSource(1))
	for trial := 0; trial < 100; trial++ {
		var w [5]float64
		d := make([]float64, winoM+4)
		for i := range w {
			w[i] = r.NormFloat64()
		}
		for i := range d {
			d[i] = r.NormFloat64()
		}
		prod := make([]float64, len(d))
		for i := range prod {
			var gw, bd float64
			for j := range w {
				gw += g[i][j] * w[j]
			}
			for j := range d {
				bd += bt[i][j] * d[j]
			}
			prod[i] = gw * bd
		}
		for o := 0; o < winoM; o++ {
			var got, want float64
			for i := range prod {
				got += at[o][i] * prod[i]
			}
			for k := range w {
				want += w[k] * d[o+k]
			}
			if math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
				t.Fatalf("output %d: %v, want %v", o, got, want)
			}
		}
	}
}

// winoCase is an f32 conv (then relu) of x with random weights w.
func winoCase(name string, x, w []int, attrs pir.Attrs, bias bool) codegentest.OpCase {
	return codegentest.OpCase{Name: name, Inputs: [][]int{x}, Build: func(g *pir.Graph, r *rand.Rand, in []*pir.Value) (*pir.Value, error) {
		args := []*pir.Value{in[0], g.AddConst("w", codegentest.RandTensor(r, w...), nil)}
		if bias {
			args = append(args, g.AddConst("b", codegentest.RandTensor(r, w[0]), nil))
		}
		c, err := g.Add("conv", args, attrs, pir.Type{}, "c", name)
		if err != nil {
			return nil, err
		}
		return g.Add("relu", []*pir.Value{c}, nil, pir.Type{}, "r", name)
	}}
}

// TestWinoConvs: f32 convs with rows of 5 taps (computed by F(4,5)) are
// within 1e-4 of rt: output widths of every remainder mod 4, asymmetric padding,
// groups, no bias, several output channel blocks.
func TestWinoConvs(t *testing.T) {
	needGo(t)
	cases := []codegentest.OpCase{
		winoCase("wino_mnist", []int{1, 8, 14, 14}, []int{16, 8, 5, 5}, pir.Attrs{"pads": pir.Ints(2, 2, 2, 2)}, true),
		winoCase("wino_odd", []int{2, 3, 9, 11}, []int{7, 3, 5, 5}, pir.Attrs{"pads": pir.Ints(1, 0, 2, 3)}, true),
		winoCase("wino_group", []int{1, 4, 8, 9}, []int{6, 2, 4, 5}, pir.Attrs{"group": pir.Int(2), "pads": pir.Ints(0, 2, 1, 2)}, false),
		winoCase("wino_rect", []int{1, 9, 5, 12}, []int{3, 9, 1, 5}, nil, true),
		winoCase("wino_dw_mult", []int{1, 2, 12, 13}, []int{8, 1, 5, 5}, pir.Attrs{"group": pir.Int(2), "pads": pir.Ints(2, 2, 2, 2)}, true),
		winoCase("wino_narrow", []int{1, 3, 6, 7}, []int{4, 3, 5, 5}, pir.Attrs{"pads": pir.Ints(2, 2, 2, 2)}, true),
		winoCase("wino_mnist_first", []int{1, 1, 28, 28}, []int{8, 1, 5, 5}, pir.Attrs{"pads": pir.Ints(2, 2, 2, 2)}, true),
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, nil, nil, vals)
}

// TestWinoPairs: the transforms at opposite points of F(4,5) split into
// shared and opposite terms (so the generated transforms take the
// shorter form), and u = e + o, v = e - o.
func TestWinoPairs(t *testing.T) {
	bt, _, at := winoMatrices(winoM, 5, winoPoints)
	pair := winoPairs(winoPoints)
	n := 0
	for a, b := range pair {
		if b < a {
			continue
		}
		n++
		e, o, ok := splitPair(bt[a], bt[b])
		if !ok {
			t.Fatalf("Bᵀ rows %d and %d do not split", a, b)
		}
		for j := range e {
			if math.Abs(e[j]+o[j]-bt[a][j]) > 1e-12 || math.Abs(e[j]-o[j]-bt[b][j]) > 1e-9 {
				t.Fatalf("Bᵀ rows %d, %d at %d: e %v o %v", a, b, j, e[j], o[j])
			}
		}
		u, v := make([]float64, winoM), make([]float64, winoM)
		for r := range at {
			u[r], v[r] = at[r][a], at[r][b]
		}
		if _, _, ok := splitPair(u, v); !ok {
			t.Fatalf("Aᵀ columns %d and %d do not split", a, b)
		}
	}
	if n != 3 {
		t.Fatalf("%d pairs of opposite points, want 3", n)
	}
}

// TestIntWino: integer 5×5 convs with enough input channels run convWino
// in float64 (intWinoOK) and equal rt exactly: int8 and uint8 inputs,
// float, TFLite and no requantization (the i32 sums, where an error of
// one shows), extreme inputs and weights, a pool fused after one of them.
func TestIntWino(t *testing.T) {
	needGo(t)
	r := rand.New(rand.NewSource(9))
	g := pir.NewGraph("intwino")
	var vals []*pir.Tensor
	for _, q := range []struct {
		name string
		dt   pir.DType
		zx   int64
		rq   string
		pool bool
	}{{"wi_i8", pir.I8, -128, "float", true}, {"wi_u8", pir.U8, 9, "tflite", false}, {"wi_i8_zx", pir.I8, 5, "float", false}, {"wi_i32", pir.I8, -3, "i32", false}} {
		xt := codegentest.QT(q.dt, 0.05, q.zx, 1, 4, 13, 11)
		x := codegentest.RandInt(r, xt)
		if q.name == "wi_i8_zx" {
			for i := 0; i < x.Len(); i++ { // the largest |x - zx|
				x.SetInt(i, -128)
			}
		}
		vals = append(vals, x)
		scales := make([]float32, 6)
		for i := range scales {
			scales[i] = 0.0002 + 0.0003*r.Float32()
		}
		wt := pir.Type{DType: pir.I8, Shape: []int{6, 4, 5, 5}, Quant: codegentest.QAxis(0, scales, make([]int64, 6))}
		w := codegentest.RandInt(r, wt)
		if q.name == "wi_i8_zx" {
			for i := 0; i < w.Len(); i++ {
				w.SetInt(i, 127)
			}
		}
		args := []*pir.Value{g.AddParam(q.name+"_x", xt), g.AddConst(q.name+"_w", w, wt.Quant), codegentest.I32Const(g, r, 6)}
		attrs, yt := pir.Attrs{"pads": pir.Ints(2, 2, 2, 2), "rq": pir.Str(q.rq)}, codegentest.QT(q.dt, 0.04, q.zx)
		if q.rq == "i32" { // the accumulators themselves
			attrs, yt = pir.Attrs{"pads": pir.Ints(2, 2, 2, 2)}, pir.Type{DType: pir.I32}
		}
		c, err := g.Add("conv", args, attrs, yt, q.name, q.name)
		if err == nil && q.pool {
			c, err = g.Add("maxpool", []*pir.Value{c}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(3, 3)}, c.Type, q.name+"_pool", q.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		g.Results = append(g.Results, c)
	}
	if err := pir.Verify(g); err != nil {
		t.Fatal(err)
	}
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.Steps {
		if s.Conv != nil && (&kfn{g: &gen{p: p}, s: s}).intWinoOK() {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d integer convs by convWino, want 4", n)
	}
	checkProgram(t, g, p, nil, nil, vals)
}
