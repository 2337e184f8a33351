package passes_test

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

// TestQuantizeUnseen quantizes the patterns of real models pare's int8 path
// first met in 2026-11 (codegentest.UnseenCases): each must become integer
// from its first quantize to its last dequantize (no float op between, no
// dequantize / quantize pair around one, but for the ops the case lists as
// still without a quantized form), and stay within 30 dB of the f32 graph on
// held-out inputs.
func TestQuantizeUnseen(t *testing.T) {
	for _, c := range codegentest.UnseenCases {
		t.Run(c.Name, func(t *testing.T) {
			g, err := c.Build(rand.New(rand.NewSource(1)))
			if err != nil {
				t.Fatal(err)
			}
			f := g.Clone()
			data := &passes.Dataset{Name: "smooth"}
			for _, in := range codegentest.UnseenInputs(g, 16, 1) {
				data.Inputs = append(data.Inputs, in)
				data.Labels = append(data.Labels, -1)
			}
			if _, err := passes.RunSpec(g, "canonicalize,quantize,fuse", &passes.Context{Data: data}); err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{}
			for _, op := range c.Float {
				allowed[op] = true
			}
			var float []string
			for _, v := range g.Values {
				// A lookup of an 8-bit value into f32 ends the integers as a dequantize does.
				if !v.IsConst() && v.Type.DType == ir.F32 && v.Op.Name != "dequantize" && v.Op.Name != "lut" && !allowed[v.Op.Name] {
					float = append(float, v.Op.Name+" "+v.Name)
				}
				if v.Op.Name == "dequantize" && !isResult(g, v) && !allowed[v.Args[0].Op.Name] && !feedsAllowed(g, v, allowed) {
					float = append(float, "dequantize "+v.Name)
				}
			}
			if len(float) > 0 {
				t.Errorf("%s: float inside the int8 graph: %s\n%s", c.From, strings.Join(float, ", "), g)
			}
			if db := snr(t, f, g, codegentest.UnseenInputs(f, 4, 2)); db < 30 {
				t.Errorf("int8 against f32: %.1f dB", db)
			}
		})
	}
}

// feedsAllowed reports whether every user of v is an op allowed in f32.
func feedsAllowed(g *ir.Graph, v *ir.Value, allowed map[string]bool) bool {
	n := 0
	for _, u := range g.Values {
		for _, a := range u.Args {
			if a == v {
				if !allowed[u.Op.Name] {
					return false
				}
				n++
			}
		}
	}
	return n > 0
}

func isResult(g *ir.Graph, v *ir.Value) bool {
	for _, r := range g.Results {
		if r == v {
			return true
		}
	}
	return false
}

// snr is 10·log10(Σf² / Σ(q−f)²) over every result of both graphs on ins.
func snr(t *testing.T, f, q *ir.Graph, ins [][]*ir.Tensor) float64 {
	t.Helper()
	var sig, noise float64
	for _, in := range ins {
		a, err := rt.Run(f, in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := rt.Run(q, in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			for k, x := range a[i].F32 {
				d := float64(b[i].F32[k] - x)
				sig += float64(x) * float64(x)
				noise += d * d
			}
		}
	}
	return 10 * math.Log10(sig/noise)
}
