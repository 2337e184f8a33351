package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Reductions over axes, softmax and inference batch normalization.

// reducePlan maps every input element to its output element.
type reducePlan struct {
	in     []int
	ostr   []int // per input dim: output stride (0 for a reduced dim)
	count  int   // elements reduced into each output
	outLen int
}

func newReducePlan(v *ir.Value) (*reducePlan, error) {
	in := v.Args[0].Type.Shape
	red := make([]bool, len(in))
	for _, a := range v.IntList("axes") {
		if a < 0 || a >= len(in) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", a, len(in))
		}
		red[a] = true
	}
	var kept []int
	for d, n := range in {
		if !red[d] {
			kept = append(kept, n)
		}
	}
	kstr := ir.Strides(kept)
	p := &reducePlan{in: in, ostr: make([]int, len(in)), count: 1, outLen: ir.NumElements(kept)}
	k := 0
	for d := range in {
		if red[d] {
			p.count *= in[d]
			continue
		}
		p.ostr[d] = kstr[k]
		k++
	}
	return p, nil
}

// each calls f(inputIndex, outputIndex) for every input element.
func (p *reducePlan) each(f func(i, o int)) {
	n := ir.NumElements(p.in)
	if n == 0 {
		return
	}
	idx := make([]int, len(p.in))
	o := 0
	for i := 0; i < n; i++ {
		f(i, o)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			o += p.ostr[d]
			if idx[d] < p.in[d] {
				break
			}
			o -= p.ostr[d] * idx[d]
			idx[d] = 0
		}
	}
}

func reduceMaxKernel[T number](v *ir.Value) (kernel, error) {
	p, err := newReducePlan(v)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, y := data[T](args[0]), data[T](out)
		low := lowest[T]()
		for i := range y {
			y[i] = low
		}
		p.each(func(i, o int) {
			if x[i] > y[o] {
				y[o] = x[i]
			}
		})
		return out, nil
	}, nil
}

// argmaxKernel: per output, the index along the axis of the first
// maximum (the last with select_last_index); the running best starts at the
// first element and is replaced by strictly greater ones (or, last, by
// greater or equal ones): a NaN never replaces the best.
func argmaxKernel[T number](v *ir.Value) (kernel, error) {
	shape := v.Args[0].Type.Shape
	ax := v.Int("axis")
	outer, n, inner := ir.NumElements(shape[:ax]), shape[ax], ir.NumElements(shape[ax+1:])
	last := v.Int("select_last_index") != 0
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x := data[T](args[0])
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				base := o*n*inner + j
				best, at := x[base], 0
				for i := 1; i < n; i++ {
					if e := x[base+i*inner]; e > best || last && e == best {
						best, at = e, i
					}
				}
				if n > 0 {
					out.SetInt(o*inner+j, int64(at))
				}
			}
		}
		return out, nil
	}, nil
}

func buildReduceSum(mean bool) builder {
	return func(v *ir.Value) (kernel, error) {
		if v.Args[0].Type.DType != ir.F32 {
			return nil, fmt.Errorf("%s takes f32", v.Op.Name)
		}
		p, err := newReducePlan(v)
		if err != nil {
			return nil, err
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			x, y := args[0].F32, out.F32
			p.each(func(i, o int) { y[o] += x[i] })
			if mean && p.count > 0 {
				for i := range y {
					y[i] /= float32(p.count)
				}
			}
			return out, nil
		}, nil
	}
}

func buildSoftmax(v *ir.Value) (kernel, error) {
	shape := v.Args[0].Type.Shape
	ax := v.Int("axis")
	if ax < 0 || ax >= len(shape) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", ax, len(shape))
	}
	outer := ir.NumElements(shape[:ax])
	n := shape[ax]
	inner := ir.NumElements(shape[ax+1:])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, y := args[0].F32, out.F32
		for o := 0; o < outer; o++ {
			for in := 0; in < inner; in++ {
				base := o*n*inner + in
				m := float32(math.Inf(-1))
				for j := 0; j < n; j++ {
					m = max(m, x[base+j*inner])
				}
				var s float32
				for j := 0; j < n; j++ {
					e := float32(math.Exp(float64(x[base+j*inner] - m)))
					y[base+j*inner] = e
					s += e
				}
				for j := 0; j < n; j++ {
					y[base+j*inner] /= s
				}
			}
		}
		return out, nil
	}, nil
}

// batchnorm: y = (x - mean) / sqrt(var + eps) * scale + bias, folded per
// channel into y = x*a + b as ONNX Runtime does.
func buildBatchNorm(v *ir.Value) (kernel, error) {
	shape := v.Args[0].Type.Shape
	if len(shape) < 2 {
		return nil, fmt.Errorf("input %v needs a channel dim", shape)
	}
	eps := v.Float("epsilon")
	c := shape[1]
	inner := ir.NumElements(shape[2:])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		scale, bias, mean, vr := args[1].F32, args[2].F32, args[3].F32, args[4].F32
		a := make([]float32, c)
		b := make([]float32, c)
		for i := range a {
			a[i] = scale[i] / float32(math.Sqrt(float64(vr[i]+eps)))
			b[i] = bias[i] - mean[i]*a[i]
		}
		x, y := args[0].F32, out.F32
		for i := 0; i < shape[0]*c; i++ {
			ch := i % c
			xs, ys := x[i*inner:(i+1)*inner], y[i*inner:(i+1)*inner]
			for j, xv := range xs {
				ys[j] = xv*a[ch] + b[ch]
			}
		}
		return out, nil
	}, nil
}

func init() {
	register("reduce_sum", buildReduceSum(false))
	register("reduce_mean", buildReduceSum(true))
	register("reduce_max", func(v *ir.Value) (kernel, error) {
		return pick(v, v.Args[0].Type.DType, reduceMaxKernel[float32], reduceMaxKernel[int8], reduceMaxKernel[uint8],
			reduceMaxKernel[int16], reduceMaxKernel[int32], reduceMaxKernel[int64])
	})
	register("argmax", func(v *ir.Value) (kernel, error) {
		return pick(v, v.Args[0].Type.DType, argmaxKernel[float32], argmaxKernel[int8], argmaxKernel[uint8],
			argmaxKernel[int16], argmaxKernel[int32], argmaxKernel[int64])
	})
	register("softmax", buildSoftmax)
	register("batchnorm", buildBatchNorm)
}
