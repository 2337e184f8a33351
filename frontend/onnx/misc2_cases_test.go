package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of CumSum, Trilu, EyeLike, CastLike, OneHot, GatherElements,
// GatherND, Compress, ReduceProd and Shrink (convert_misc2.go), with
// references written from the operator definitions.

func misc2Cases() []decompCase {
	return slices.Concat(cumSumCases(), triluCases(), constLikeCases(), gatherCases(), reduceProdCases(), shrinkCases())
}

// i32Ref makes an i32 tensor of shape from f at each index.
func i32Ref(shape []int, f func(idx []int) int64) *ir.Tensor {
	out := ir.NewTensor(ir.I32, shape)
	for i := range out.I32 {
		out.I32[i] = int32(f(unflat(i, shape)))
	}
	return out
}

// cumSumAt sums x along axis up to idx (from the end when rev), leaving
// idx itself out when excl; get reads x (as f32 or truncated to an int).
func cumSumAt(x *ir.Tensor, idx []int, axis int, excl, rev bool, get func(float64) float64) float64 {
	s := 0.0
	j := slices.Clone(idx)
	for k := 0; k < x.Shape[axis]; k++ {
		in := k < idx[axis] || k == idx[axis] && !excl
		if rev {
			in = k > idx[axis] || k == idx[axis] && !excl
		}
		if in {
			j[axis] = k
			s += get(x.At(flat(j, x.Shape)))
		}
	}
	return s
}

func cumSumCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x          []int
		axis       int64
		excl, rev  bool
		intType    int32 // 0: float
		axisType32 bool
	}{
		{[]int{10}, 0, false, false, 0, false},
		{[]int{3, 7}, 1, true, false, 0, true},
		{[]int{3, 7}, -2, false, true, 0, false},
		{[]int{2, 3, 9}, 2, true, true, 0, false},
		{[]int{5, 1}, 1, false, false, 0, false},
		{[]int{2, 33}, 1, false, false, dtInt32, false},
		{[]int{16, 3}, 0, true, true, dtInt32, false},
		{[]int{4, 17}, -1, false, true, dtInt32, true},
	} {
		var axisT *ir.Tensor = ir.FromI64([]int{}, []int64{tc.axis})
		if tc.axisType32 {
			axisT = ir.NewTensor(ir.I32, []int{1})
			axisT.I32[0] = int32(tc.axis)
		}
		var attrs []*attrProto
		if tc.excl {
			attrs = append(attrs, aInt("exclusive", 1))
		}
		if tc.rev {
			attrs = append(attrs, aInt("reverse", 1))
		}
		axis := (int(tc.axis) + len(tc.x)) % len(tc.x)
		dc := decompCase{name: fmt.Sprintf("CumSum/%d_axis%d_excl%v_rev%v_%v", i, tc.axis, tc.excl, tc.rev, tc.x), opset: []int64{11, 14}[i%2], op: "CumSum",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{axisT},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(x.Shape, func(idx []int) float64 {
					return cumSumAt(x, idx, axis, tc.excl, tc.rev, func(v float64) float64 { return float64(float32(v)) })
				})
			}}
		if tc.intType != 0 {
			// Large integers: a float scan would round (sums reach 2^30).
			dc.lo, dc.hi, dc.tol, dc.opset = -3e7, 3e7, 1e-12, 14
			dc.body = func(m *mb, p string) {
				m.init(p+"axis", axisT).node("Cast", []string{p + "x"}, []string{p + "xi"}, aInt("to", int64(tc.intType))).
					node("CumSum", []string{p + "xi", p + "axis"}, []string{p + "s"}, attrs...).
					node("Identity", []string{p + "s"}, []string{p + "y"})
			}
			dc.ref = func(x *ir.Tensor) *ir.Tensor {
				return i32Ref(x.Shape, func(idx []int) int64 {
					return int64(cumSumAt(x, idx, axis, tc.excl, tc.rev, func(v float64) float64 { return math.Trunc(float64(float32(v))) }))
				})
			}
		}
		out = append(out, dc)
	}
	return out
}

func triluCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x     []int
		k     int64 // 99: no k input
		upper int64 // -1: default (1)
	}{
		{[]int{4, 4}, 99, -1},
		{[]int{3, 5}, 1, 0},
		{[]int{2, 4, 3}, -1, 1},
		{[]int{2, 4, 3}, 2, 0},
		{[]int{3, 3}, -5, 1},
		{[]int{3, 6}, 7, 0},
	} {
		var params []*ir.Tensor
		k := 0
		if tc.k != 99 {
			params, k = append(params, ir.FromI64([]int{}, []int64{tc.k})), int(tc.k)
		}
		var attrs []*attrProto
		upper := tc.upper != 0
		if tc.upper >= 0 {
			attrs = append(attrs, aInt("upper", tc.upper))
		}
		out = append(out, decompCase{name: fmt.Sprintf("Trilu/%d_k%d_upper%d_%v", i, tc.k, tc.upper, tc.x), opset: []int64{14, 22}[i%2], op: "Trilu",
			x: tc.x, attrs: attrs, params: params, ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(x.Shape, func(idx []int) float64 {
					r, c := idx[len(idx)-2], idx[len(idx)-1]
					if upper && c-r >= k || !upper && c-r <= k {
						return x.At(flat(idx, x.Shape))
					}
					return 0
				})
			}})
	}
	return out
}

// constLikeCases: EyeLike, CastLike and OneHot (their results are
// constants or casts: added to x or cast to i64 so that x flows through).
func constLikeCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x  []int
		k  int64
		dt int64 // 0: x's dtype
	}{{[]int{3, 3}, 0, 0}, {[]int{3, 5}, 2, int64(dtInt32)}, {[]int{4, 2}, -1, int64(dtFloat)}} {
		attrs := []*attrProto{}
		if tc.k != 0 {
			attrs = append(attrs, aInt("k", tc.k))
		}
		if tc.dt != 0 {
			attrs = append(attrs, aInt("dtype", tc.dt))
		}
		k := int(tc.k)
		out = append(out, decompCase{name: fmt.Sprintf("EyeLike/%d_k%d_%v", i, k, tc.x), opset: 9 + int64(i)*6, x: tc.x,
			body: func(m *mb, p string) {
				m.node("EyeLike", []string{p + "x"}, []string{p + "e"}, attrs...).node("Cast", []string{p + "e"}, []string{p + "ef"}, aInt("to", int64(dtFloat))).
					node("Add", []string{p + "x", p + "ef"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(x.Shape, func(idx []int) float64 {
					v := x.At(flat(idx, x.Shape))
					if idx[1]-idx[0] == k {
						v++
					}
					return v
				})
			}})
	}
	i32 := ir.NewTensor(ir.I32, []int{1})
	for i, like := range []*ir.Tensor{i32, f32s([]int{2})} {
		isInt := like.DType == ir.I32
		out = append(out, decompCase{name: fmt.Sprintf("CastLike/%d_%v", i, like.DType), opset: 15, x: []int{3, 4}, tol: 1e-12, lo: -100, hi: 100,
			body: func(m *mb, p string) {
				m.init(p+"like", like).node("CastLike", []string{p + "x", p + "like"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				if isInt {
					return i32Ref(x.Shape, func(idx []int) int64 { return int64(x.F32[flat(idx, x.Shape)]) })
				}
				return x
			}})
	}
	for i, tc := range []struct {
		idx   *ir.Tensor
		depth int64
		axis  int64 // 99: default -1
	}{
		{ir.FromI64([]int{2, 3}, []int64{0, 2, -1, 3, 1, 9}), 4, 99},
		{ir.FromI64([]int{3}, []int64{1, 0, -3}), 3, 0},
		{ir.FromI64([]int{2, 2}, []int64{4, 0, 2, -5}), 5, 1},
	} {
		var attrs []*attrProto
		r := len(tc.idx.Shape) + 1
		axis := r - 1
		if tc.axis != 99 {
			attrs, axis = append(attrs, aInt("axis", tc.axis)), (int(tc.axis)+r)%r
		}
		shape := slices.Insert(slices.Clone(tc.idx.Shape), axis, int(tc.depth))
		values := f32s([]int{2}, -0.5, 2)
		idx, depth := tc.idx, int(tc.depth)
		out = append(out, decompCase{name: fmt.Sprintf("OneHot/%d_axis%d_%v", i, tc.axis, shape), opset: []int64{9, 11, 22}[i], x: shape,
			body: func(m *mb, p string) {
				m.init(p+"i", idx).init(p+"d", ir.FromI64([]int{}, []int64{tc.depth})).init(p+"v", values).
					node("OneHot", []string{p + "i", p + "d", p + "v"}, []string{p + "o"}, attrs...).node("Add", []string{p + "x", p + "o"}, []string{p + "y"})
			},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(x.Shape, func(o []int) float64 {
					pos := slices.Delete(slices.Clone(o), axis, axis+1)
					v := int(idx.At(flat(pos, idx.Shape)))
					if v < 0 {
						v += depth
					}
					hot := -0.5
					if v == o[axis] {
						hot = 2
					}
					return x.At(flat(o, x.Shape)) + hot
				})
			}})
	}
	return out
}

func gatherCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x    []int
		idx  *ir.Tensor
		axis int64
	}{
		{[]int{3, 4}, ir.FromI64([]int{2, 4}, []int64{0, 2, 1, -1, 2, 0, 0, 1}), 0},
		{[]int{3, 4}, ir.FromI64([]int{3, 2}, []int64{3, 0, 1, 1, -4, 2}), 1},
		{[]int{2, 3, 4}, ir.FromI64([]int{2, 2, 3}, []int64{0, 1, 2, 2, 1, 0, 1, 1, 1, 0, 0, 0}), -2},
	} {
		idx, axis := tc.idx, (int(tc.axis)+len(tc.x))%len(tc.x)
		out = append(out, decompCase{name: fmt.Sprintf("GatherElements/%d_axis%d_%v", i, tc.axis, tc.x), opset: []int64{11, 13}[i%2], op: "GatherElements",
			x: tc.x, attrs: []*attrProto{aInt("axis", tc.axis)}, params: []*ir.Tensor{idx},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(idx.Shape, func(o []int) float64 {
					j := slices.Clone(o)
					j[axis] = (int(idx.At(flat(o, idx.Shape))) + x.Shape[axis]) % x.Shape[axis]
					return x.At(flat(j, x.Shape))
				})
			}})
	}
	for i, tc := range []struct {
		x   []int
		idx *ir.Tensor
		bd  int
	}{
		{[]int{3, 4}, ir.FromI64([]int{3, 2}, []int64{0, 1, 2, 3, -1, 0}), 0},
		{[]int{3, 4, 2}, ir.FromI64([]int{2, 1}, []int64{2, 0}), 0},
		{[]int{2, 3, 4}, ir.FromI64([]int{2, 2, 1}, []int64{1, 2, 0, 0}), 1},
		{[]int{2, 3, 4}, ir.FromI64([]int{2, 2}, []int64{1, 3, 2, -2}), 1},
	} {
		idx, bd := tc.idx, tc.bd
		var attrs []*attrProto
		if bd != 0 {
			attrs = append(attrs, aInt("batch_dims", int64(bd)))
		}
		q, m := len(idx.Shape), idx.Shape[len(idx.Shape)-1]
		shape := slices.Concat(idx.Shape[:q-1], tc.x[bd+m:])
		out = append(out, decompCase{name: fmt.Sprintf("GatherND/%d_b%d_%v", i, bd, tc.x), opset: []int64{12, 13}[i%2], op: "GatherND",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{idx},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(shape, func(o []int) float64 {
					j := slices.Clone(o[:bd])
					for k := range m {
						pos := append(slices.Clone(o[:q-1]), k)
						j = append(j, (int(idx.At(flat(pos, idx.Shape)))+x.Shape[bd+k])%x.Shape[bd+k])
					}
					j = append(j, o[q-1:]...)
					return x.At(flat(j, x.Shape))
				})
			}})
	}
	for i, tc := range []struct {
		x    []int
		cond []bool
		axis int64 // 99: none
	}{
		{[]int{3, 4}, []bool{true, false, true}, 0},
		{[]int{3, 4}, []bool{false, true, true, false}, -1},
		{[]int{2, 3}, []bool{true, false, false, true, true}, 99},
		{[]int{2, 5}, []bool{false, true}, 1},
	} {
		cond := ir.NewTensor(ir.Bool, []int{len(tc.cond)})
		copy(cond.Bool, tc.cond)
		var attrs []*attrProto
		if tc.axis != 99 {
			attrs = append(attrs, aInt("axis", tc.axis))
		}
		out = append(out, decompCase{name: fmt.Sprintf("Compress/%d_axis%d_%v", i, tc.axis, tc.x), opset: []int64{9, 11}[i%2], op: "Compress",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{cond},
			ref: func(x *ir.Tensor) *ir.Tensor {
				src, axis := x.Reshaped([]int{x.Len()}), 0
				if tc.axis != 99 {
					src, axis = x, (int(tc.axis)+len(tc.x))%len(tc.x)
				}
				var pos []int
				for k, c := range tc.cond {
					if c && k < src.Shape[axis] {
						pos = append(pos, k)
					}
				}
				shape := slices.Clone(src.Shape)
				shape[axis] = len(pos)
				return refOut(shape, func(o []int) float64 {
					j := slices.Clone(o)
					j[axis] = pos[o[axis]]
					return src.At(flat(j, src.Shape))
				})
			}})
	}
	return out
}

func reduceProdCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		opset int64
		x     []int
		axes  []int64 // nil: all
		keep  int64   // -1: default (1)
		isInt bool
	}{
		{13, []int{3, 4}, []int64{1}, -1, false},
		{13, []int{2, 3, 4}, []int64{0, 2}, 0, false},
		{18, []int{2, 3, 5}, []int64{-1}, 1, false},
		{18, []int{4, 4}, nil, 0, false},
		{13, []int{2, 7, 3}, []int64{1}, 0, true},
		{18, []int{3, 2, 5}, []int64{0, 2}, 1, true},
	} {
		var attrs []*attrProto
		var params []*ir.Tensor
		axes := tc.axes
		if axes != nil {
			if tc.opset >= 18 {
				params = append(params, ir.FromI64([]int{len(axes)}, axes))
			} else {
				attrs = append(attrs, aInts("axes", axes...))
			}
		}
		keep := tc.keep != 0
		if tc.keep >= 0 {
			attrs = append(attrs, aInt("keepdims", tc.keep))
		}
		var norm []int
		for d := range tc.x {
			if axes == nil || slices.Contains(axes, int64(d)) || slices.Contains(axes, int64(d-len(tc.x))) {
				norm = append(norm, d)
			}
		}
		prod := reduceRef(norm, keep, func(v float64) float64 { return v }, func(a, v float64) float64 { return a * v }, func(v float64) float64 { return v })
		dc := decompCase{name: fmt.Sprintf("ReduceProd/%d_axes%v_keep%d_int%v_%v", i, axes, tc.keep, tc.isInt, tc.x), opset: tc.opset, op: "ReduceProd",
			x: tc.x, attrs: attrs, params: params, lo: 0.6, hi: 1.5, tol: 1e-5, ref: prod}
		if tc.isInt {
			dc.lo, dc.hi, dc.tol = -4, 5, 1e-12
			dc.body = func(m *mb, p string) {
				in := []string{p + "xi"}
				if params != nil {
					m.init(p+"axes", params[0])
					in = append(in, p+"axes")
				}
				m.node("Cast", []string{p + "x"}, []string{p + "xi"}, aInt("to", int64(dtInt32))).node("ReduceProd", in, []string{p + "y"}, attrs...)
			}
			dc.ref = func(x *ir.Tensor) *ir.Tensor {
				xi := ir.NewTensor(ir.F32, x.Shape)
				for k, v := range x.F32 {
					xi.F32[k] = float32(math.Trunc(float64(v)))
				}
				f := prod(xi)
				o := ir.NewTensor(ir.I32, f.Shape)
				for k, v := range f.F32 {
					o.I32[k] = int32(v)
				}
				return o
			}
		}
		out = append(out, dc)
	}
	return out
}

func shrinkCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct{ bias, lambd float32 }{{0.5, 0.5}, {0, 0.5}, {0.2, 1}, {1.5, 1.5}} {
		var attrs []*attrProto
		if i > 0 {
			attrs = append(attrs, aFloat("bias", tc.bias), aFloat("lambd", tc.lambd))
		}
		bias, lambd := float64(tc.bias), float64(tc.lambd)
		if i == 0 {
			bias, lambd = 0, 0.5 // the defaults
		}
		out = append(out, decompCase{name: fmt.Sprintf("Shrink/%d_bias%g_lambd%g", i, bias, lambd), opset: []int64{9, 13}[i%2], op: "Shrink",
			x: []int{4, 25}, attrs: attrs, ref: mapRef(func(v float64) float64 {
				switch {
				case v < -lambd:
					return v + bias
				case v > lambd:
					return v - bias
				}
				return 0
			})})
	}
	return out
}
