package onnx

import (
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Direct float64 references of the decomposed ONNX ops, written from the
// operator definitions (element by element, no shared code with the
// converters) for the decomposition tests.

// unflat is the index of flat element i of shape.
func unflat(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

// flat is the flat element of idx in shape.
func flat(idx, shape []int) int {
	i := 0
	for d, n := range shape {
		i = i*n + idx[d]
	}
	return i
}

// bcastAt reads t at idx of a shape t broadcasts to (trailing-aligned).
func bcastAt(t *ir.Tensor, idx []int) float64 {
	off := len(idx) - len(t.Shape)
	j := make([]int, len(t.Shape))
	for d := range j {
		j[d] = idx[off+d] % t.Shape[d]
	}
	return t.At(flat(j, t.Shape))
}

// refOut makes an f32 tensor of shape from f at each output index.
func refOut(shape []int, f func(idx []int) float64) *ir.Tensor {
	out := ir.NewTensor(ir.F32, shape)
	for i := range out.F32 {
		out.F32[i] = float32(f(unflat(i, shape)))
	}
	return out
}

// mapRef applies f to every element.
func mapRef(f func(float64) float64) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		return refOut(x.Shape, func(idx []int) float64 { return f(x.At(flat(idx, x.Shape))) })
	}
}

// groups maps each element of shape to the elements that share its
// coordinates off axes (the set one reduction over axes reads).
func groups(shape, axes []int) map[int][]int {
	g := map[int][]int{}
	for i := 0; i < ir.NumElements(shape); i++ {
		k := keyOf(unflat(i, shape), shape, axes)
		g[k] = append(g[k], i)
	}
	return g
}

// keyOf is the group key of element idx.
func keyOf(idx, shape, axes []int) int {
	k := slices.Clone(idx)
	for _, a := range axes {
		k[a] = 0
	}
	return flat(k, shape)
}

// reduceRef reduces x over axes (none: each element alone): pre maps each
// element, fold combines, post finishes.
func reduceRef(axes []int, keep bool, pre func(float64) float64, fold func(acc, v float64) float64, post func(float64) float64) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		var shape []int
		for d, n := range x.Shape {
			switch {
			case !slices.Contains(axes, d):
				shape = append(shape, n)
			case keep:
				shape = append(shape, 1)
			}
		}
		if shape == nil {
			shape = []int{}
		}
		gs := groups(x.Shape, axes)
		return refOut(shape, func(oidx []int) float64 {
			idx := make([]int, 0, len(x.Shape))
			j := 0
			for d := range x.Shape {
				switch {
				case !slices.Contains(axes, d):
					idx = append(idx, oidx[j])
					j++
				case keep:
					idx = append(idx, 0)
					j++
				default:
					idx = append(idx, 0)
				}
			}
			var acc float64
			for n, i := range gs[flat(idx, x.Shape)] {
				v := pre(x.At(i))
				if n == 0 {
					acc = v
				} else {
					acc = fold(acc, v)
				}
			}
			return post(acc)
		})
	}
}

// normRef is (x − mean) / sqrt(var + eps) over axes, then · scale + bias
// read at the element's index.
func normRef(axes []int, eps float64, affine func(idx []int) (scale, bias float64)) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		mean, vr := map[int]float64{}, map[int]float64{}
		for k, g := range groups(x.Shape, axes) {
			s := 0.0
			for _, i := range g {
				s += x.At(i)
			}
			m := s / float64(len(g))
			v := 0.0
			for _, i := range g {
				v += (x.At(i) - m) * (x.At(i) - m)
			}
			mean[k], vr[k] = m, v/float64(len(g))
		}
		return refOut(x.Shape, func(idx []int) float64 {
			k := keyOf(idx, x.Shape, axes)
			s, b := affine(idx)
			return (x.At(flat(idx, x.Shape))-mean[k])/math.Sqrt(vr[k]+eps)*s + b
		})
	}
}

// lrnRef follows the LRN definition: the channel window
// [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉] clipped to the channels.
func lrnRef(size int, alpha, beta, bias float64) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		ch := x.Shape[1]
		return refOut(x.Shape, func(idx []int) float64 {
			c := idx[1]
			lo, hi := max(0, c-int(math.Floor(float64(size-1)/2))), min(ch-1, c+int(math.Ceil(float64(size-1)/2)))
			sum := 0.0
			j := slices.Clone(idx)
			for k := lo; k <= hi; k++ {
				j[1] = k
				v := x.At(flat(j, x.Shape))
				sum += v * v
			}
			return x.At(flat(idx, x.Shape)) / math.Pow(bias+alpha/float64(size)*sum, beta)
		})
	}
}

// depthToSpaceRef: y[n, c, h·b+i, w·b+j] = x[n, (i·b+j)·C/b² + c, h, w]
// (DCR) or x[n, c·b² + i·b + j, h, w] (CRD).
func depthToSpaceRef(b int, crd bool) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		oc := x.Shape[1] / (b * b)
		shape := []int{x.Shape[0], oc, x.Shape[2] * b, x.Shape[3] * b}
		return refOut(shape, func(o []int) float64 {
			i, j := o[2]%b, o[3]%b
			src := (i*b+j)*oc + o[1]
			if crd {
				src = o[1]*b*b + i*b + j
			}
			return x.At(flat([]int{o[0], src, o[2] / b, o[3] / b}, x.Shape))
		})
	}
}

// spaceToDepthRef: y[n, (i·b+j)·C + c, h, w] = x[n, c, h·b+i, w·b+j].
func spaceToDepthRef(b int) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		ch := x.Shape[1]
		shape := []int{x.Shape[0], ch * b * b, x.Shape[2] / b, x.Shape[3] / b}
		return refOut(shape, func(o []int) float64 {
			q, c := o[1]/ch, o[1]%ch
			return x.At(flat([]int{o[0], c, o[2]*b + q/b, o[3]*b + q%b}, x.Shape))
		})
	}
}

// tileRef: y[idx] = x[idx mod shape].
func tileRef(reps []int) func(*ir.Tensor) *ir.Tensor {
	return func(x *ir.Tensor) *ir.Tensor {
		shape := make([]int, len(reps))
		for d := range shape {
			shape[d] = x.Shape[d] * reps[d]
		}
		return refOut(shape, func(o []int) float64 {
			j := make([]int, len(o))
			for d := range o {
				j[d] = o[d] % x.Shape[d]
			}
			return x.At(flat(j, x.Shape))
		})
	}
}
