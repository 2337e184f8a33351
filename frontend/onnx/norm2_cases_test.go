package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of LogSoftmax, GroupNormalization, MeanVarianceNormalization,
// LpNormalization, GlobalLpPool and LpPool (convert_norm2.go), with float64
// references written from the operator definitions.

func norm2Cases() []decompCase {
	return slices.Concat(logSoftmaxCases(), groupNormCases(), mvnCases(), lpNormCases(), lpPoolCases())
}

// groupRef applies f to each group of elements sharing their coordinates
// off axes: f gets the group's values and returns its outputs.
func groupRef(axes []int, f func(vs []float64) []float64) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		y := ir.NewTensor(ir.F32, x.Shape)
		for _, g := range groups(x.Shape, axes) {
			vs := make([]float64, len(g))
			for j, i := range g {
				vs[j] = x.At(i)
			}
			for j, v := range f(vs) {
				y.F32[g[j]] = float32(v)
			}
		}
		return y
	}
}

func logSoftmaxRef(axes []int) func(*ir.Tensor) *ir.Tensor {
	return groupRef(axes, func(vs []float64) []float64 {
		s := 0.0
		for _, v := range vs {
			s += math.Exp(v)
		}
		out := make([]float64, len(vs))
		for j, v := range vs {
			out[j] = v - math.Log(s)
		}
		return out
	})
}

func logSoftmaxCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		opset int64
		x     []int
		axis  int // 99: default
		axes  []int
	}{
		{13, []int{2, 5}, 99, []int{1}},
		{13, []int{2, 3, 4}, 1, []int{1}},
		{13, []int{3, 4, 5}, 0, []int{0}},
		{11, []int{2, 3, 4}, 99, []int{1, 2}}, // default axis 1, coerced to 2-D
		{11, []int{2, 3, 4}, 2, []int{2}},
		{11, []int{2, 3, 4}, 0, []int{0, 1, 2}},
		{9, []int{4, 6}, -1, []int{1}},
		{13, []int{1, 7}, -1, []int{1}},
	} {
		var attrs []*attrProto
		if tc.axis != 99 {
			attrs = append(attrs, aInt("axis", int64(tc.axis)))
		}
		// A wide range checks the max shift: exp(60) overflows nothing in f32 after it.
		out = append(out, decompCase{name: fmt.Sprintf("LogSoftmax/%d_opset%d_axis%d_%v", i, tc.opset, tc.axis, tc.x), opset: tc.opset, op: "LogSoftmax",
			x: tc.x, attrs: attrs, lo: -60 + 50*float64(i%2), hi: 60, tol: 1e-4, ref: logSoftmaxRef(tc.axes)})
	}
	return out
}

// groupNormRef: per sample and group of C/G channels, (x − mean) /
// sqrt(var + eps), then · scale + bias at the group (perGroup) or channel.
func groupNormRef(g int, eps float64, scale, bias *ir.Tensor, perGroup bool) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		cpg := x.Shape[1] / g
		sp := ir.NumElements(x.Shape[2:])
		y := ir.NewTensor(ir.F32, x.Shape)
		for n := 0; n < x.Shape[0]; n++ {
			for k := 0; k < g; k++ {
				base := (n*x.Shape[1] + k*cpg) * sp
				m, v := 0.0, 0.0
				for i := 0; i < cpg*sp; i++ {
					m += x.At(base + i)
				}
				m /= float64(cpg * sp)
				for i := 0; i < cpg*sp; i++ {
					v += (x.At(base+i) - m) * (x.At(base+i) - m)
				}
				v /= float64(cpg * sp)
				for i := 0; i < cpg*sp; i++ {
					j := k
					if !perGroup {
						j = k*cpg + i/sp
					}
					y.F32[base+i] = float32((x.At(base+i)-m)/math.Sqrt(v+eps)*scale.At(j) + bias.At(j))
				}
			}
		}
		return y
	}
}

func groupNormCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		opset int64
		x     []int
		g     int
		eps   float32
	}{
		{18, []int{2, 6, 3, 3}, 3, 0},
		{18, []int{1, 4, 5}, 4, 1e-3},
		{21, []int{2, 6, 3, 3}, 2, 0},
		{21, []int{1, 8, 2, 2, 2}, 4, 1e-2},
		{21, []int{3, 5, 4}, 1, 0},
	} {
		attrs := []*attrProto{aInt("num_groups", int64(tc.g))}
		eps := float32(1e-5)
		if tc.eps != 0 {
			eps = tc.eps
			attrs = append(attrs, aFloat("epsilon", eps))
		}
		n := tc.x[1]
		if tc.opset < 21 {
			n = tc.g
		}
		scale, bias := randParam(int64(500+i), -2, 2, n), randParam(int64(600+i), -1, 1, n)
		out = append(out, decompCase{name: fmt.Sprintf("GroupNormalization/%d_opset%d_g%d_%v", i, tc.opset, tc.g, tc.x), opset: tc.opset, op: "GroupNormalization",
			x: tc.x, attrs: attrs, params: []*ir.Tensor{scale, bias}, tol: 1e-4, ref: groupNormRef(tc.g, float64(eps), scale, bias, tc.opset < 21)})
	}
	return out
}

func mvnCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		opset int64
		x     []int
		axes  []int // nil: default [0, 2, 3]
	}{
		{9, []int{2, 3, 4, 5}, nil},
		{13, []int{2, 3, 4, 5}, []int{1}},
		{13, []int{3, 4, 5}, []int{-1, 0}},
		{13, []int{2, 3, 4, 2}, []int{2, 3}},
	} {
		var attrs []*attrProto
		axes := []int{0, 2, 3}
		if tc.axes != nil {
			var a64 []int64
			axes = nil
			for _, a := range tc.axes {
				a64 = append(a64, int64(a))
				axes = append(axes, (a+len(tc.x))%len(tc.x))
			}
			attrs = append(attrs, aInts("axes", a64...))
		}
		out = append(out, decompCase{name: fmt.Sprintf("MeanVarianceNormalization/%d_%v_%v", i, tc.x, tc.axes), opset: tc.opset, op: "MeanVarianceNormalization",
			x: tc.x, attrs: attrs, tol: 1e-4, ref: groupRef(axes, func(vs []float64) []float64 {
				m, v := 0.0, 0.0
				for _, x := range vs {
					m += x
				}
				m /= float64(len(vs))
				for _, x := range vs {
					v += (x - m) * (x - m)
				}
				sd := math.Sqrt(v / float64(len(vs)))
				out := make([]float64, len(vs))
				for j, x := range vs {
					out[j] = (x - m) / (sd + 1e-9)
				}
				return out
			})})
	}
	return out
}

// lpNormOf is (Σ|v|^p)^(1/p).
func lpNormOf(vs []float64, p int) float64 {
	s := 0.0
	for _, v := range vs {
		s += math.Pow(math.Abs(v), float64(p))
	}
	return math.Pow(s, 1/float64(p))
}

func lpNormCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		x    []int
		axis int // 99: default -1
		p    int // 0: default 2
	}{
		{[]int{3, 8}, 99, 0},
		{[]int{2, 5, 4}, 1, 1},
		{[]int{2, 5, 4}, 0, 2},
		{[]int{4, 3, 2}, -2, 1},
	} {
		var attrs []*attrProto
		axis, p := (tc.axis+len(tc.x))%len(tc.x), 2
		if tc.axis == 99 {
			axis = len(tc.x) - 1
		} else {
			attrs = append(attrs, aInt("axis", int64(tc.axis)))
		}
		if tc.p != 0 {
			p = tc.p
			attrs = append(attrs, aInt("p", int64(p)))
		}
		out = append(out, decompCase{name: fmt.Sprintf("LpNormalization/%d_p%d_%v", i, p, tc.x), opset: []int64{6, 22}[i%2], op: "LpNormalization",
			x: tc.x, attrs: attrs, tol: 1e-5, ref: groupRef([]int{axis}, func(vs []float64) []float64 {
				n := lpNormOf(vs, p)
				out := make([]float64, len(vs))
				for j, v := range vs {
					out[j] = v / n
				}
				return out
			})})
	}
	return out
}

// lpPoolRef: each output is (Σ|x|^p)^(1/p) over the input positions its
// window reads (padding adds zeros); x is [N, C, spatial...].
func lpPoolRef(kernel, strides, pads, dil []int, ceil bool, p int) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		n := len(kernel)
		shape := slices.Clone(x.Shape[:2])
		for d := range n {
			span := x.Shape[2+d] + pads[d] + pads[d+n] - (kernel[d]-1)*dil[d] - 1
			o := span/strides[d] + 1
			if ceil && span%strides[d] != 0 {
				o++
				if (o-1)*strides[d] >= x.Shape[2+d]+pads[d] {
					o--
				}
			}
			shape = append(shape, o)
		}
		return refOut(shape, func(oi []int) float64 {
			var vs []float64
			for k := 0; k < ir.NumElements(kernel); k++ {
				ki := unflat(k, kernel)
				idx := slices.Clone(oi[:2])
				in := true
				for d := range n {
					q := oi[2+d]*strides[d] - pads[d] + ki[d]*dil[d]
					in = in && q >= 0 && q < x.Shape[2+d]
					idx = append(idx, q)
				}
				if in {
					vs = append(vs, x.At(flat(idx, x.Shape)))
				}
			}
			return lpNormOf(vs, p)
		})
	}
}

func lpPoolCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		opset                       int64
		x, kernel, strides, pads, d []int
		ceil                        bool
		p                           int
	}{
		{11, []int{1, 2, 6, 6}, []int{2, 2}, []int{2, 2}, nil, nil, false, 2},
		{11, []int{2, 3, 5, 5}, []int{3, 3}, nil, []int{1, 1, 1, 1}, nil, false, 1},
		{18, []int{1, 2, 7, 6}, []int{3, 2}, []int{2, 2}, []int{1, 0, 0, 1}, nil, true, 2},
		{18, []int{1, 1, 9}, []int{3}, []int{2}, []int{1, 2}, []int{2}, false, 3},
		{22, []int{1, 2, 5, 5}, []int{2, 3}, []int{1, 2}, nil, []int{2, 1}, true, 2},
	} {
		n := len(tc.kernel)
		fill := func(l []int, m, v int) []int {
			if l != nil {
				return l
			}
			return slices.Repeat([]int{v}, m)
		}
		i64 := func(l []int) []int64 {
			var o []int64
			for _, v := range l {
				o = append(o, int64(v))
			}
			return o
		}
		attrs := []*attrProto{aInts("kernel_shape", i64(tc.kernel)...), aInt("p", int64(tc.p))}
		if tc.strides != nil {
			attrs = append(attrs, aInts("strides", i64(tc.strides)...))
		}
		if tc.pads != nil {
			attrs = append(attrs, aInts("pads", i64(tc.pads)...))
		}
		if tc.d != nil {
			attrs = append(attrs, aInts("dilations", i64(tc.d)...))
		}
		if tc.ceil {
			attrs = append(attrs, aInt("ceil_mode", 1))
		}
		out = append(out, decompCase{name: fmt.Sprintf("LpPool/%d_p%d_k%v_%v", i, tc.p, tc.kernel, tc.x), opset: tc.opset, op: "LpPool",
			x: tc.x, attrs: attrs, tol: 1e-4, ref: lpPoolRef(tc.kernel, fill(tc.strides, n, 1), fill(tc.pads, 2*n, 0), fill(tc.d, n, 1), tc.ceil, tc.p)})
	}
	for i, tc := range []struct {
		x []int
		p int
	}{{[]int{2, 3, 4, 5}, 0}, {[]int{1, 4, 6}, 1}, {[]int{1, 2, 3, 2, 2}, 3}} {
		var attrs []*attrProto
		p := 2
		if tc.p != 0 {
			p = tc.p
			attrs = append(attrs, aInt("p", int64(p)))
		}
		sp := tc.x[2:]
		out = append(out, decompCase{name: fmt.Sprintf("GlobalLpPool/%d_p%d_%v", i, p, tc.x), opset: []int64{6, 13, 18}[i], op: "GlobalLpPool",
			x: tc.x, attrs: attrs, tol: 1e-4, ref: lpPoolRef(sp, ones(len(sp)), make([]int, 2*len(sp)), ones(len(sp)), false, p)})
	}
	return out
}
