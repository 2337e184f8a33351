package rt

import (
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// gb builds small test graphs.
type gb struct {
	t *testing.T
	g *ir.Graph
}

func newGB(t *testing.T) *gb { t.Helper(); return &gb{t: t, g: ir.NewGraph("test")} }

func (b *gb) param(name string, typ ir.Type) *ir.Value { return b.g.AddParam(name, typ) }

func (b *gb) cnst(name string, t *ir.Tensor, q *ir.Quant) *ir.Value { return b.g.AddConst(name, t, q) }

func (b *gb) op(name string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) *ir.Value {
	b.t.Helper()
	v, err := b.g.Add(name, args, attrs, hint, name, "")
	if err != nil {
		b.t.Fatalf("building %s: %v", name, err)
	}
	return v
}

// run sets the results and runs the graph.
func (b *gb) run(results []*ir.Value, inputs ...*ir.Tensor) []*ir.Tensor {
	b.t.Helper()
	b.g.Results = results
	out, err := Run(b.g, inputs)
	if err != nil {
		b.t.Fatalf("run: %v", err)
	}
	return out
}

// eval1 builds op over constant args and evaluates it through Run.
func eval1(t *testing.T, name string, args []*ir.Tensor, quants []*ir.Quant, attrs ir.Attrs, hint ir.Type) *ir.Tensor {
	t.Helper()
	b := newGB(t)
	var vals []*ir.Value
	var ins []*ir.Tensor
	for i, a := range args {
		var q *ir.Quant
		if i < len(quants) {
			q = quants[i]
		}
		typ := ir.Type{DType: a.DType, Shape: a.Shape, Quant: q}
		vals = append(vals, b.param("x", typ))
		ins = append(ins, a)
	}
	v := b.op(name, vals, attrs, hint)
	return b.run([]*ir.Value{v}, ins...)[0]
}

func f32t(shape []int, vals ...float32) *ir.Tensor {
	if len(vals) == 0 {
		vals = make([]float32, ir.NumElements(shape))
	}
	return ir.FromF32(shape, vals)
}

func i64t(shape []int, vals ...int64) *ir.Tensor { return ir.FromI64(shape, vals) }

func intTensor(dt ir.DType, shape []int, vals ...int64) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	for i, v := range vals {
		t.SetInt(i, v)
	}
	return t
}

func randF32(rng *rand.Rand, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.F32, shape)
	for i := range t.F32 {
		t.F32[i] = float32(rng.NormFloat64())
	}
	return t
}

func randInt(rng *rand.Rand, dt ir.DType, shape ...int) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	lo, hi := dt.Range()
	for i := 0; i < t.Len(); i++ {
		t.SetInt(i, lo+rng.Int63n(hi-lo+1))
	}
	return t
}

func shp(d ...int) []int { return d }

// closeF32 compares within rtol/atol.
func closeF32(t *testing.T, what string, got, want []float32, rtol, atol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.Abs(g-w) > atol+rtol*math.Abs(w) || math.IsNaN(g) != math.IsNaN(w) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ", what, bad, len(got))
	}
}

func equalInts(t *testing.T, what string, got *ir.Tensor, want []int64) {
	t.Helper()
	if got.Len() != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, got.Len(), len(want))
	}
	bad := 0
	for i, w := range want {
		if g := got.IntAt(i); g != w {
			if bad < 5 {
				t.Errorf("%s[%d] = %d, want %d", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ", what, bad, len(want))
	}
}
