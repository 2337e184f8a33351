package codegentest

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// CloseEnough compares a backend's output with rt's: integers exactly,
// floats within rtol relative to |want| (with a floor of 1e-3 of want's
// largest magnitude, plus 1e-6 absolute, for elements near zero).
func CloseEnough(t testing.TB, what string, got, want *ir.Tensor, rtol float64) {
	t.Helper()
	if got.DType != want.DType || !ir.EqualShape(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v%v, want %v%v", what, got.DType, got.Shape, want.DType, want.Shape)
	}
	scale := 0.0
	for i := 0; i < want.Len(); i++ {
		scale = math.Max(scale, math.Abs(want.At(i)))
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.At(i), want.At(i)
		if want.DType != ir.F32 {
			if g != w {
				t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
			}
			continue
		}
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > rtol*math.Max(math.Abs(w), 1e-3*scale)+1e-6 {
			t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
		}
	}
}
