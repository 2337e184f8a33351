package onnx

import (
	"fmt"
	"math"
	"math/rand"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of Hardmax, RMSNormalization, ScatterElements, ScatterND,
// ReverseSequence, CenterCropPad and the window functions
// (convert_misc3.go), with references written from the operator
// definitions.

func misc3Cases() []decompCase {
	return slices.Concat(hardmaxCases(), rmsNormCases(), scatterCases(), reverseSequenceCases(), centerCropPadCases(), windowCases(), dftCases())
}

// hardmaxRef is 1 at the first maximum of each row of floor(x) and 0
// elsewhere; a row is the elements along axis (coerced: the elements of
// x viewed as [Π shape[:axis], Π shape[axis:]] sharing the first index).
func hardmaxRef(x *ir.Tensor, axis int, coerced bool) *ir.Tensor {
	s := x.Shape
	var outer, n, inner int
	if coerced {
		outer, n, inner = ir.NumElements(s[:axis]), ir.NumElements(s[axis:]), 1
	} else {
		outer, n, inner = ir.NumElements(s[:axis]), s[axis], ir.NumElements(s[axis+1:])
	}
	y := ir.NewTensor(ir.F32, s)
	for o := range outer {
		for j := range inner {
			at, best := -1, 0.0
			for i := range n {
				v := math.Floor(float64(x.F32[(o*n+i)*inner+j]))
				if at < 0 || v > best {
					at, best = i, v
				}
			}
			y.F32[(o*n+at)*inner+j] = 1
		}
	}
	return y
}

func hardmaxCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x     []int
		axis  int64 // 99: the attribute left out
		opset int64
	}{
		{[]int{3, 7}, 99, 13},
		{[]int{2, 5, 4}, 1, 13},
		{[]int{2, 5, 4}, 0, 18},
		{[]int{2, 3, 4}, -3, 13},
		{[]int{9}, 0, 13},
		{[]int{2, 3, 4}, 99, 11}, // coerced to [2, 12]
		{[]int{2, 3, 4}, 0, 11},  // [1, 24]
		{[]int{2, 3, 4}, -1, 7},  // [6, 4]
		{[]int{4, 6}, 1, 11},
	} {
		var attrs []*attrProto
		axis := tc.axis
		if tc.axis != 99 {
			attrs = append(attrs, aInt("axis", tc.axis))
		} else if axis = -1; tc.opset < 13 {
			axis = 1
		}
		ax := (int(axis) + len(tc.x)) % len(tc.x)
		coerced := tc.opset < 13
		out = append(out, decompCase{name: fmt.Sprintf("Hardmax/%d_opset%d_axis%d_%v", i, tc.opset, tc.axis, tc.x), opset: tc.opset, op: "Hardmax", x: tc.x,
			body: func(m *mb, p string) {
				m.node("Floor", []string{p + "x"}, []string{p + "f"}).node("Hardmax", []string{p + "f"}, []string{p + "y"}, attrs...)
			},
			ref: func(x *ir.Tensor) *ir.Tensor { return hardmaxRef(x, ax, coerced) }})
	}
	return out
}

func rmsNormCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x, scale []int
		axis     int64 // 99: left out (-1)
		eps      float32
	}{
		{[]int{2, 3, 8}, []int{8}, 99, 0},
		{[]int{2, 3, 4}, []int{3, 4}, 1, 0},
		{[]int{2, 3, 4}, []int{3, 1}, -2, 0.5},
		{[]int{4, 5}, []int{1}, 0, 0},
		{[]int{6}, []int{6}, -1, 2},
		{[]int{2, 2, 3, 3}, []int{2, 1, 1}, 1, 1e-3},
	} {
		var attrs []*attrProto
		axis := tc.axis
		if tc.axis == 99 {
			axis = -1
		} else {
			attrs = append(attrs, aInt("axis", tc.axis))
		}
		eps := 1e-5
		if tc.eps != 0 {
			attrs, eps = append(attrs, aFloat("epsilon", tc.eps)), float64(tc.eps)
		}
		ax := (int(axis) + len(tc.x)) % len(tc.x)
		var axes []int
		for d := ax; d < len(tc.x); d++ {
			axes = append(axes, d)
		}
		scale := randParam(int64(300+i), -2, 2, tc.scale...)
		out = append(out, decompCase{name: fmt.Sprintf("RMSNormalization/%d_axis%d_%v_scale%v", i, tc.axis, tc.x, tc.scale), opset: 23, op: "RMSNormalization",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{scale}, ref: func(x *ir.Tensor) *ir.Tensor {
				ms := map[int]float64{}
				for k, g := range groups(x.Shape, axes) {
					s := 0.0
					for _, j := range g {
						s += x.At(j) * x.At(j)
					}
					ms[k] = s / float64(len(g))
				}
				return refOut(x.Shape, func(idx []int) float64 {
					return x.At(flat(idx, x.Shape)) / math.Sqrt(ms[keyOf(idx, x.Shape, axes)]+float64(float32(eps))) * bcastAt(scale, idx)
				})
			}})
	}
	return out
}

// i32Param is a seeded random i32 constant in [lo, hi].
func i32Param(seed int64, lo, hi int, shape ...int) *ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	t := ir.NewTensor(ir.I32, shape)
	for i := range t.I32 {
		t.I32[i] = int32(lo + r.Intn(hi-lo+1))
	}
	return t
}

// scatterTargets lists, in the order ONNX's reference applies them, the
// flat element of data each element of updates goes to: ScatterElements
// replaces the index along axis by indices[u]; ScatterND's index tuple t
// selects data[t], a slice of data.shape[k:] that updates[t] fills.
func scatterTargets(op string, data []int, idx *ir.Tensor, axis int) []int {
	var dst []int
	if op == "ScatterElements" || op == "Scatter" {
		for u := range idx.Len() {
			pos := unflat(u, idx.Shape)
			v := int(idx.IntAt(u))
			if v < 0 {
				v += data[axis]
			}
			pos[axis] = v
			dst = append(dst, flat(pos, data))
		}
		return dst
	}
	k := idx.Shape[len(idx.Shape)-1]
	for t := range idx.Len() / k {
		at := make([]int, len(data))
		for j := range k {
			v := int(idx.IntAt(t*k + j))
			if v < 0 {
				v += data[j]
			}
			at[j] = v
		}
		for s := range ir.NumElements(data[k:]) {
			copy(at[k:], unflat(s, data[k:]))
			dst = append(dst, flat(at, data))
		}
	}
	return dst
}

// scatterRef writes (or reduces) updates into a copy of data, one update
// at a time in order; f32 results round to f32 after every step.
func scatterRef(data, upd *ir.Tensor, dst []int, red string) *ir.Tensor {
	out := data.Clone()
	for u, o := range dst {
		a, b := out.At(o), upd.At(u)
		var v float64
		switch red {
		case "none":
			v = b
		case "add":
			v = a + b
		case "mul":
			v = a * b
		case "max":
			v = math.Max(a, b)
		case "min":
			v = math.Min(a, b)
		}
		if out.DType == ir.I32 {
			out.I32[o] = int32(int64(v))
		} else {
			out.F32[o] = float32(v)
		}
	}
	return out
}

func scatterCases() []decompCase {
	i64 := func(shape []int, v ...int64) *ir.Tensor { return ir.FromI64(shape, v) }
	i32idx := ir.NewTensor(ir.I32, []int{2, 2, 3})
	copy(i32idx.I32, []int32{0, -1, 2, 4, 3, -5, -2, 0, 1, 1, 4, 0})
	dups := i64([]int{4, 3}, 0, 0, 0, 1, 2, 1, 2, 2, 2, 0, 1, 2)
	nd := i64([]int{4, 1}, 2, 2, 0, 2)
	var out []decompCase
	for i, tc := range []struct {
		op       string
		opset    int64
		x        []int // data (updX: updates)
		data     []int // updX: the constant data
		idx      *ir.Tensor
		axis     int64  // 99: left out (0)
		red      string // "": left out
		i32, upd bool   // data cast to INT32; updates are x (data a constant)
		lo, hi   float64
	}{
		{op: "ScatterElements", opset: 11, x: []int{3, 4}, idx: i64([]int{2, 4}, 1, 0, 2, 0, 2, 2, 0, 1), axis: 99},
		{op: "ScatterElements", opset: 13, x: []int{2, 5, 3}, idx: i32idx, axis: -2},
		{op: "ScatterElements", opset: 18, x: []int{4, 3}, idx: dups, axis: 1, red: "none"},
		{op: "ScatterElements", opset: 16, x: []int{4, 3}, idx: dups, axis: 1, red: "add"},
		{op: "ScatterElements", opset: 16, x: []int{4, 3}, idx: dups, axis: -1, red: "mul"},
		{op: "ScatterElements", opset: 18, x: []int{4, 3}, idx: dups, axis: 1, red: "max"},
		{op: "ScatterElements", opset: 18, x: []int{4, 3}, idx: dups, axis: 1, red: "min"},
		{op: "ScatterElements", opset: 18, x: []int{4, 3}, idx: dups, axis: 1, red: "add", i32: true, lo: -3e7, hi: 3e7},
		{op: "ScatterElements", opset: 18, x: []int{4, 3}, idx: dups, axis: 1, red: "max", i32: true, lo: -30, hi: 30},
		{op: "ScatterElements", opset: 13, x: []int{2, 4}, data: []int{5, 4}, idx: i64([]int{2, 4}, 4, 0, -1, 2, 1, 3, 0, 0), axis: 0, upd: true},
		{op: "ScatterElements", opset: 11, x: []int{6}, idx: i64([]int{3}, 5, 0, -3), axis: 0},
		{op: "Scatter", opset: 9, x: []int{3, 4}, idx: i64([]int{2, 4}, 1, 0, 2, 0, 2, 2, 0, 1), axis: 99},
		{op: "Scatter", opset: 10, x: []int{2, 5, 3}, idx: i32idx, axis: -2},
		{op: "Scatter", opset: 10, x: []int{4, 3}, idx: i64([]int{4, 2}, 0, 2, 1, 0, 2, 1, 0, 1), axis: 1},
		{op: "Scatter", opset: 9, x: []int{2, 4}, data: []int{5, 4}, idx: i64([]int{2, 4}, 4, 0, -1, 2, 1, 3, 0, 0), axis: 0, upd: true},
		{op: "ScatterND", opset: 11, x: []int{4, 3}, idx: i64([]int{2, 1}, 1, 3)},
		{op: "ScatterND", opset: 13, x: []int{2, 3, 4}, idx: i64([]int{2, 2}, 0, 1, -1, -1)},
		{op: "ScatterND", opset: 13, x: []int{2, 3}, idx: i64([]int{3, 2}, 0, 1, 1, 2, -1, 0)},
		{op: "ScatterND", opset: 13, x: []int{5, 3}, idx: i64([]int{2, 2, 1}, 4, 0, 2, 1)},
		{op: "ScatterND", opset: 16, x: []int{4, 2}, idx: nd, red: "add"},
		{op: "ScatterND", opset: 16, x: []int{4, 2}, idx: nd, red: "mul"},
		{op: "ScatterND", opset: 18, x: []int{4, 2}, idx: nd, red: "max"},
		{op: "ScatterND", opset: 18, x: []int{4, 2}, idx: nd, red: "min"},
		{op: "ScatterND", opset: 18, x: []int{4, 2}, idx: nd, red: "add", i32: true, lo: -3e7, hi: 3e7},
		{op: "ScatterND", opset: 13, x: []int{2, 3}, data: []int{3, 3}, idx: i64([]int{2, 1}, 2, 0), upd: true},
	} {
		data := tc.x
		if tc.upd {
			data = tc.data
		}
		ax := 0
		var attrs []*attrProto
		if tc.axis != 99 && tc.op != "ScatterND" {
			attrs, ax = append(attrs, aInt("axis", tc.axis)), (int(tc.axis)+len(data))%len(data)
		}
		red := "none"
		if tc.red != "" {
			attrs, red = append(attrs, aStr("reduction", tc.red)), tc.red
		}
		dst := scatterTargets(tc.op, data, tc.idx, ax)
		updShape := tc.idx.Shape
		if tc.op == "ScatterND" {
			k := tc.idx.Shape[len(tc.idx.Shape)-1]
			updShape = slices.Concat(tc.idx.Shape[:len(tc.idx.Shape)-1], data[k:])
		}
		seed := int64(400 + i)
		upd := randParam(seed, -5, 5, updShape...)
		dc := decompCase{name: fmt.Sprintf("%s/%d_opset%d_%s_axis%d_%v_indices%v", tc.op, i, tc.opset, red, tc.axis, data, tc.idx.Shape),
			opset: tc.opset, op: tc.op, x: tc.x, attrs: attrs, params: []*ir.Tensor{tc.idx, upd}, lo: tc.lo, hi: tc.hi,
			ref: func(x *ir.Tensor) *ir.Tensor { return scatterRef(x, upd, dst, red) }}
		switch {
		case tc.i32:
			upd = i32Param(seed, -1e7, 1e7, updShape...)
			if tc.hi < 1000 {
				upd = i32Param(seed, -40, 40, updShape...)
			}
			dc.tol = 1e-12
			dc.body = func(m *mb, p string) {
				m.init(p+"idx", tc.idx).init(p+"upd", upd).node("Cast", []string{p + "x"}, []string{p + "xi"}, aInt("to", int64(dtInt32))).
					node(tc.op, []string{p + "xi", p + "idx", p + "upd"}, []string{p + "y"}, attrs...)
			}
			dc.ref = func(x *ir.Tensor) *ir.Tensor {
				xi := ir.NewTensor(ir.I32, x.Shape)
				for j, v := range x.F32 {
					xi.I32[j] = int32(v) // Cast truncates
				}
				return scatterRef(xi, upd, dst, red)
			}
		case tc.upd:
			d := randParam(seed+50, -5, 5, data...)
			dc.body = func(m *mb, p string) {
				m.init(p+"data", d).init(p+"idx", tc.idx).node(tc.op, []string{p + "data", p + "idx", p + "x"}, []string{p + "y"}, attrs...)
			}
			dc.ref = func(x *ir.Tensor) *ir.Tensor { return scatterRef(d, x, dst, red) }
		}
		out = append(out, dc)
	}
	return out
}

func reverseSequenceCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x      []int
		ta, ba int64 // -1: left out (0 and 1)
		lens   []int64
	}{
		{[]int{4, 3, 2}, -1, -1, []int64{4, 1, 3}},
		{[]int{3, 5}, 1, 0, []int64{5, 2, 0}},
		{[]int{2, 6, 3, 2}, 1, 0, []int64{6, 3}},
		{[]int{5, 2}, 0, 1, []int64{2, 5}},
	} {
		var attrs []*attrProto
		ta, ba := 0, 1
		if tc.ta >= 0 {
			attrs, ta, ba = append(attrs, aInt("time_axis", tc.ta), aInt("batch_axis", tc.ba)), int(tc.ta), int(tc.ba)
		}
		out = append(out, decompCase{name: fmt.Sprintf("ReverseSequence/%d_time%d_batch%d_%v_lens%v", i, tc.ta, tc.ba, tc.x, tc.lens), opset: 10, op: "ReverseSequence",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{i64s(tc.lens...)}, ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(x.Shape, func(idx []int) float64 {
					src := slices.Clone(idx)
					if l := int(tc.lens[idx[ba]]); idx[ta] < l {
						src[ta] = l - 1 - idx[ta] // reversed within the sequence
					}
					return x.At(flat(src, x.Shape))
				})
			}})
	}
	return out
}

func centerCropPadCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x, shape []int
		axes     []int64 // nil: left out (all)
	}{
		{[]int{5, 7}, []int{3, 4}, nil},
		{[]int{3, 4}, []int{6, 7}, nil},
		{[]int{2, 5, 6}, []int{8, 3}, []int64{1, 2}},
		{[]int{2, 4, 5}, []int{2}, []int64{-1}},
		{[]int{3, 3, 4}, []int{7, 1}, []int64{2, 0}},
		{[]int{2, 3}, []int{2, 3}, nil},
	} {
		var attrs []*attrProto
		target := slices.Clone(tc.x) // the output shape
		for j, n := range tc.shape {
			a := j
			if tc.axes != nil {
				a = (int(tc.axes[j]) + len(tc.x)) % len(tc.x)
			}
			target[a] = n
		}
		if tc.axes != nil {
			attrs = append(attrs, aInts("axes", tc.axes...))
		}
		st := make([]int64, len(tc.shape))
		for j, n := range tc.shape {
			st[j] = int64(n)
		}
		out = append(out, decompCase{name: fmt.Sprintf("CenterCropPad/%d_%v_to%v_axes%v", i, tc.x, tc.shape, tc.axes), opset: 18, op: "CenterCropPad",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{i64s(st...)}, ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(target, func(idx []int) float64 {
					src := make([]int, len(idx))
					for d, o := range idx {
						in := x.Shape[d]
						if target[d] <= in {
							src[d] = o + (in-target[d])/2 // the window starts rounded down
						} else {
							src[d] = o - (target[d]-in)/2 // the smaller half of the padding first
						}
						if src[d] < 0 || src[d] >= in {
							return 0
						}
					}
					return x.At(flat(src, x.Shape))
				})
			}})
	}
	return out
}

// windowRef is element n of a window of size, from the definitions: Hann
// 0.5 − 0.5·cos(2πn/N), Hamming α − (1 − α)·cos(2πn/N) with α = 25/46,
// Blackman 0.42 − 0.5·cos(2πn/N) + 0.08·cos(4πn/N); N = size when
// periodic, else size − 1.
func windowRef(op string, n, size int, periodic bool) float64 {
	den := float64(size - 1)
	if periodic {
		den = float64(size)
	}
	x := float64(n) / den
	switch op {
	case "HannWindow":
		return 0.5 - 0.5*math.Cos(2*math.Pi*x)
	case "HammingWindow":
		alpha := 25.0 / 46.0
		return alpha - (1-alpha)*math.Cos(2*math.Pi*x)
	}
	return 0.42 - 0.5*math.Cos(2*math.Pi*x) + 0.08*math.Cos(4*math.Pi*x)
}

// windowCases add the window (a constant) to x so that x flows through.
func windowCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		op       string
		size     int
		periodic int64 // -1: left out (1)
		i32      bool  // output_datatype INT32, cast back to FLOAT
		size32   bool  // size is an INT32
	}{
		{"HannWindow", 8, -1, false, false},
		{"HannWindow", 7, 0, false, true},
		{"HammingWindow", 10, 1, false, false},
		{"HammingWindow", 5, 0, false, false},
		{"BlackmanWindow", 9, -1, false, true},
		{"BlackmanWindow", 6, 0, false, false},
		{"HannWindow", 5, 0, true, false},
		{"BlackmanWindow", 1, 1, false, false},
	} {
		var attrs []*attrProto
		periodic := tc.periodic != 0
		if tc.periodic >= 0 {
			attrs = append(attrs, aInt("periodic", tc.periodic))
		}
		if tc.i32 {
			attrs = append(attrs, aInt("output_datatype", int64(dtInt32)))
		}
		size := ir.FromI64([]int{}, []int64{int64(tc.size)})
		if tc.size32 {
			size = ir.NewTensor(ir.I32, []int{})
			size.I32[0] = int32(tc.size)
		}
		out = append(out, decompCase{name: fmt.Sprintf("%s/%d_size%d_periodic%d_i32%v", tc.op, i, tc.size, tc.periodic, tc.i32), opset: 17, op: tc.op, x: []int{tc.size},
			body: func(m *mb, p string) {
				w := p + "w"
				m.init(p+"size", size).node(tc.op, []string{p + "size"}, []string{w}, attrs...)
				if tc.i32 {
					m.node("Cast", []string{w}, []string{p + "wf"}, aInt("to", int64(dtFloat)))
					w = p + "wf"
				}
				m.node("Add", []string{p + "x", w}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(x.Shape, func(idx []int) float64 {
					w := windowRef(tc.op, idx[0], tc.size, periodic)
					if tc.i32 {
						w = math.Trunc(w)
					}
					return x.At(idx[0]) + w
				})
			}})
	}
	return out
}
