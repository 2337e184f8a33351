package onnx

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestGatherRuntimeIndices: GatherElements and GatherND with indices fed
// as an input give, in rt, what the same models give with the indices
// bound as constants (the precomputed path), negatives included; an index
// out of range is an error naming the gather, not another element.
func TestGatherRuntimeIndices(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	draw := func(shape []int, n int) *ir.Tensor {
		ix := ir.NewTensor(ir.I64, shape)
		for i := range ix.I64 {
			ix.I64[i] = int64(r.Intn(2*n) - n)
		}
		return ix
	}
	for _, tc := range []struct {
		name   string
		op     string
		x, idx []int
		n      int // the size indices run over
		attrs  []*attrProto
	}{
		{"elements axis 1", "GatherElements", []int{3, 5, 4}, []int{3, 7, 2}, 5, []*attrProto{aInt("axis", 1)}},
		{"elements axis -1", "GatherElements", []int{2, 6}, []int{2, 3}, 6, []*attrProto{aInt("axis", -1)}},
		{"nd rows", "GatherND", []int{4, 5, 3}, []int{6, 2}, 4, nil},
		{"nd batch", "GatherND", []int{2, 4, 3, 5}, []int{2, 3, 1}, 4, []*attrProto{aInt("batch_dims", 1)}},
		{"nd scalar tuple", "GatherND", []int{4, 4}, []int{2}, 4, nil},
	} {
		dims := make([]int64, len(tc.idx))
		for i, d := range tc.idx {
			dims[i] = int64(d)
		}
		xdims := make([]int64, len(tc.x))
		for i, d := range tc.x {
			xdims[i] = int64(d)
		}
		m := newModel(13).input("x", dtFloat, xdims...).input("i", dtInt64, dims...).
			node(tc.op, []string{"x", "i"}, []string{"y"}, tc.attrs...).output("y")
		g := m.mustLoad(t, Options{})
		if !slices.Contains(ops(g), "gather") {
			t.Fatalf("%s: ops %v", tc.name, ops(g))
		}
		x := f32s(tc.x)
		for k := 0; k < 3; k++ {
			ix := draw(tc.idx, tc.n)
			got, err := rt.Run(g, []*ir.Tensor{x, ix})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			gb := m.mustLoad(t, Options{Bind: map[string]*ir.Tensor{"i": ix}})
			want, err := rt.Run(gb, []*ir.Tensor{x})
			if err != nil {
				t.Fatalf("%s bound: %v", tc.name, err)
			}
			if !ir.EqualShape(got[0].Shape, want[0].Shape) || !slices.Equal(got[0].F32, want[0].F32) {
				t.Errorf("%s: runtime indices %v give %v %v, constant ones %v %v", tc.name, ix.I64, got[0].Shape, got[0].F32, want[0].Shape, want[0].F32)
			}
		}
		for _, bad := range []int64{int64(tc.n), int64(-tc.n - 1)} {
			ix := draw(tc.idx, tc.n)
			ix.I64[0] = bad // column 0 of tuple 0 (GatherND), or along the axis (GatherElements): size n
			if _, err := rt.Run(g, []*ir.Tensor{x, ix}); err == nil || !strings.Contains(err.Error(), "gather") || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("%s: index %d: err = %v, want a gather out of range", tc.name, bad, err)
			}
		}
	}
}

// TestOneHotRuntime: OneHot of indices (and values) fed as inputs gives
// in rt what the same model gives with them bound as constants: integer
// and float indices, negatives, out of range (all off), any axis.
func TestOneHotRuntime(t *testing.T) {
	for _, tc := range []struct {
		name string
		dt   int32
		idx  *ir.Tensor
		axis int64
	}{
		{"i64 last axis", dtInt64, ir.FromI64([]int{2, 3}, []int64{0, 4, -1, -5, 9, 2}), -1},
		{"i64 axis 0", dtInt64, ir.FromI64([]int{2, 3}, []int64{3, 1, -2, 0, 5, -6}), 0},
		{"f32 axis 1", dtFloat, ir.FromF32([]int{2, 2}, []float32{1.7, 9, -1.2, 4}), 1},
	} {
		dims := make([]int64, len(tc.idx.Shape))
		for i, d := range tc.idx.Shape {
			dims[i] = int64(d)
		}
		vals := ir.FromF32([]int{2}, []float32{-1, 3})
		m := newModel(11).input("i", tc.dt, dims...).input("v", dtFloat, 2).init("d", i64s(5)).
			node("OneHot", []string{"i", "d", "v"}, []string{"y"}, aInt("axis", tc.axis)).output("y")
		g := m.mustLoad(t, Options{})
		got, err := rt.Run(g, []*ir.Tensor{tc.idx, vals})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		gb := m.mustLoad(t, Options{Bind: map[string]*ir.Tensor{"i": tc.idx, "v": vals}})
		want, err := rt.Run(gb, nil)
		if err != nil {
			t.Fatalf("%s bound: %v", tc.name, err)
		}
		if !ir.EqualShape(got[0].Shape, want[0].Shape) || !slices.Equal(got[0].F32, want[0].F32) {
			t.Errorf("%s: runtime %v %v, constant %v %v", tc.name, got[0].Shape, got[0].F32, want[0].Shape, want[0].F32)
		}
	}
}

// TestClipRuntimeBounds: Clip-11 with bounds fed as inputs gives in rt
// what the bound (constant) form gives, NaN kept, min > max giving max.
func TestClipRuntimeBounds(t *testing.T) {
	nan := float32(math.NaN())
	x := ir.FromF32([]int{6}, []float32{-3, -0.5, 0, 0.7, 5, nan})
	for _, b := range [][2]float32{{-1, 1}, {0.5, 0.2}, {-10, 10}} {
		m := newModel(13).input("x", dtFloat, 6).input("lo", dtFloat).input("hi", dtFloat).
			node("Clip", []string{"x", "lo", "hi"}, []string{"y"}).output("y")
		g := m.mustLoad(t, Options{})
		lo, hi := ir.ScalarF32(b[0]), ir.ScalarF32(b[1])
		got, err := rt.Run(g, []*ir.Tensor{x, lo, hi})
		if err != nil {
			t.Fatal(err)
		}
		gb := m.mustLoad(t, Options{Bind: map[string]*ir.Tensor{"lo": lo, "hi": hi}})
		want, err := rt.Run(gb, []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		for i := range want[0].F32 {
			w, g := want[0].F32[i], got[0].F32[i]
			if w != g && !(w != w && g != g) {
				t.Errorf("bounds %v: y = %v, want %v", b, got[0].F32, want[0].F32)
				break
			}
		}
	}
}
