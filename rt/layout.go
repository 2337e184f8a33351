package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Layout ops move or select elements; they work on every dtype (bool
// included) and on the stored integers of quantized tensors. concat with
// differing quantizations requantizes through f32; pad fills a quantized
// tensor with the quantized pad value (the zero point for 0).

// allTypes instantiates a generic builder for every dtype in ir.DTypes order.
func allTypes(v *ir.Value, dt ir.DType, f32, i8, u8, i16, i32, i64, b mkFn) (kernel, error) {
	return pick(v, dt, f32, i8, u8, i16, i32, i64, b)
}

// stridedCopy sets dst[o] = src[base + Σ idx_d*strides_d] for the row-major
// multi-index idx of o in shape.
func stridedCopy[T elem](dst, src []T, shape, strides []int, base int) {
	n := ir.NumElements(shape)
	if n == 0 {
		return
	}
	if len(shape) == 0 {
		dst[0] = src[base]
		return
	}
	last := len(shape) - 1
	inner, is := shape[last], strides[last]
	outer := shape[:last]
	idx := make([]int, len(outer))
	off := base
	for o := 0; o < n; o += inner {
		run := dst[o : o+inner]
		if is == 1 {
			copy(run, src[off:off+inner])
		} else {
			for j := range run {
				run[j] = src[off+j*is]
			}
		}
		for d := len(outer) - 1; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < outer[d] {
				break
			}
			off -= strides[d] * idx[d]
			idx[d] = 0
		}
	}
}

func reshapeKernel[T elem](v *ir.Value) (kernel, error) {
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		copy(data[T](out), data[T](args[0]))
		return out, nil
	}, nil
}

func transposeKernel[T elem](v *ir.Value) (kernel, error) {
	perm := v.IntList("perm")
	in := v.Args[0].Type.Shape
	if len(perm) != len(in) {
		return nil, fmt.Errorf("perm %v for rank %d", perm, len(in))
	}
	istr := ir.Strides(in)
	str := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(in) {
			return nil, fmt.Errorf("perm %v is not a permutation", perm)
		}
		str[i] = istr[p]
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		stridedCopy(data[T](out), data[T](args[0]), v.Type.Shape, str, 0)
		return out, nil
	}, nil
}

func sliceKernel[T elem](v *ir.Value) (kernel, error) {
	in := v.Args[0].Type.Shape
	st, en, sp := v.IntList("starts"), v.IntList("ends"), v.IntList("steps")
	if len(st) != len(in) || len(en) != len(in) || len(sp) != len(in) {
		return nil, fmt.Errorf("starts %v, ends %v, steps %v need %d entries", st, en, sp, len(in))
	}
	istr := ir.Strides(in)
	str := make([]int, len(in))
	base := 0
	for d := range in {
		n, err := ir.SliceLen(in[d], st[d], en[d], sp[d])
		if err != nil {
			return nil, fmt.Errorf("dim %d: %v", d, err)
		}
		if n != v.Type.Shape[d] {
			return nil, fmt.Errorf("dim %d: slice has %d elements, type says %d", d, n, v.Type.Shape[d])
		}
		if n > 0 {
			base += st[d] * istr[d]
		}
		str[d] = istr[d] * sp[d]
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		stridedCopy(data[T](out), data[T](args[0]), v.Type.Shape, str, base)
		return out, nil
	}, nil
}

func expandKernel[T elem](v *ir.Value) (kernel, error) {
	from, to := v.Args[0].Type.Shape, v.Type.Shape
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		broadcastTo(data[T](out), data[T](args[0]), from, to)
		return out, nil
	}, nil
}

func concatKernel[T elem](v *ir.Value) (kernel, error) {
	shape := v.Type.Shape
	ax := v.Int("axis")
	if ax < 0 || ax >= len(shape) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", ax, len(shape))
	}
	outer := ir.NumElements(shape[:ax])
	inner := ir.NumElements(shape[ax+1:])
	chunks := make([]int, len(v.Args))
	for i, a := range v.Args {
		chunks[i] = a.Type.Shape[ax] * inner
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		y := data[T](out)
		o := 0
		for i := 0; i < outer; i++ {
			for j, a := range args {
				c := chunks[j]
				copy(y[o:o+c], data[T](a)[i*c:(i+1)*c])
				o += c
			}
		}
		return out, nil
	}, nil
}

func gatherKernel[T elem](v *ir.Value) (kernel, error) {
	x := v.Args[0].Type.Shape
	ax := v.Int("axis")
	if ax < 0 || ax >= len(x) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", ax, len(x))
	}
	outer := ir.NumElements(x[:ax])
	n := x[ax]
	inner := ir.NumElements(x[ax+1:])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		src, y := data[T](args[0]), data[T](out)
		ix := args[1]
		m := ix.Len()
		idx := make([]int, m)
		for j := range idx {
			k := ix.IntAt(j)
			if k < 0 {
				k += int64(n)
			}
			if k < 0 || k >= int64(n) {
				return nil, fmt.Errorf("index %d out of range for axis %d of size %d", ix.IntAt(j), ax, n)
			}
			idx[j] = int(k)
		}
		o := 0
		for i := 0; i < outer; i++ {
			for _, k := range idx {
				copy(y[o:o+inner], src[(i*n+k)*inner:(i*n+k+1)*inner])
				o += inner
			}
		}
		return out, nil
	}, nil
}

// padKernel pads or crops. Per dim, src[d][o] is the input coordinate of
// output coordinate o, or -1 for a constant.
func padKernel[T elem](v *ir.Value) (kernel, error) {
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	pads := v.IntList("pads")
	r := len(in)
	if len(pads) != 2*r {
		return nil, fmt.Errorf("pads %v needs %d entries", pads, 2*r)
	}
	mode := v.Str("mode")
	src := make([][]int, r)
	for d := 0; d < r; d++ {
		if in[d] == 0 && out[d] > 0 && mode != "constant" {
			return nil, fmt.Errorf("%s padding of an empty dim", mode)
		}
		src[d] = make([]int, out[d])
		for o := range src[d] {
			i := o - pads[d]
			switch {
			case i >= 0 && i < in[d]:
			case mode == "edge":
				i = min(max(i, 0), in[d]-1)
			case mode == "reflect":
				i = ReflectIndex(i, in[d])
			default:
				i = -1
			}
			src[d][o] = i
		}
	}
	fill, err := padValues[T](v)
	if err != nil {
		return nil, err
	}
	ch := channelsOf(v.Type.Quant, out)
	istr := ir.Strides(in)
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		res := newResult(v)
		x, y := data[T](args[0]), data[T](res)
		n := len(y)
		if n == 0 {
			return res, nil
		}
		od := newOdometer(out)
		for o := 0; o < n; o++ {
			off := 0
			for d := 0; d < r; d++ {
				s := src[d][od.idx[d]]
				if s < 0 {
					off = -1
					break
				}
				off += s * istr[d]
			}
			if off < 0 {
				y[o] = fill[ch.at(o)]
			} else {
				y[o] = x[off]
			}
			od.next()
		}
		return res, nil
	}, nil
}

// ReflectIndex mirrors i into [0, n) without repeating the edge.
func ReflectIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}

// padValues is the constant fill of a pad, per quantization channel.
func padValues[T elem](v *ir.Value) ([]T, error) {
	t := PadFill(v)
	fill := make([]T, t.Len())
	copy(fill, data[T](t))
	return fill, nil
}

// PadFill is the stored fill of a constant pad, one element per
// quantization channel (one when per tensor): the value itself for f32 and
// bool, quantized (round half even, saturated) for quantized integers,
// saturated for plain ones.
func PadFill(v *ir.Value) *ir.Tensor {
	val := v.Float("value")
	dt := v.Type.DType
	q := v.Type.Quant
	n := 1
	if q != nil && q.Axis >= 0 {
		n = q.Channels()
	}
	t := ir.NewTensor(dt, []int{n})
	for c := 0; c < n; c++ {
		switch {
		case dt == ir.F32 || dt == ir.Bool:
			t.Set(c, float64(val))
		case q != nil:
			lo, hi := dt.Range()
			t.SetInt(c, saturate(roundHalfEven(val/q.ScaleAt(c))+float64(q.ZeroAt(c)), lo, hi))
		default:
			lo, hi := dt.Range()
			t.SetInt(c, saturate(float64(val), lo, hi))
		}
	}
	return t
}

func init() {
	register("reshape", func(v *ir.Value) (kernel, error) {
		return allTypes(v, v.Type.DType, reshapeKernel[float32], reshapeKernel[int8], reshapeKernel[uint8],
			reshapeKernel[int16], reshapeKernel[int32], reshapeKernel[int64], reshapeKernel[bool])
	})
	register("transpose", func(v *ir.Value) (kernel, error) {
		return allTypes(v, v.Type.DType, transposeKernel[float32], transposeKernel[int8], transposeKernel[uint8],
			transposeKernel[int16], transposeKernel[int32], transposeKernel[int64], transposeKernel[bool])
	})
	register("slice", func(v *ir.Value) (kernel, error) {
		return allTypes(v, v.Type.DType, sliceKernel[float32], sliceKernel[int8], sliceKernel[uint8],
			sliceKernel[int16], sliceKernel[int32], sliceKernel[int64], sliceKernel[bool])
	})
	register("expand", func(v *ir.Value) (kernel, error) {
		return allTypes(v, v.Type.DType, expandKernel[float32], expandKernel[int8], expandKernel[uint8],
			expandKernel[int16], expandKernel[int32], expandKernel[int64], expandKernel[bool])
	})
	register("gather", func(v *ir.Value) (kernel, error) {
		return allTypes(v, v.Type.DType, gatherKernel[float32], gatherKernel[int8], gatherKernel[uint8],
			gatherKernel[int16], gatherKernel[int32], gatherKernel[int64], gatherKernel[bool])
	})
	register("pad", func(v *ir.Value) (kernel, error) {
		return allTypes(v, v.Type.DType, padKernel[float32], padKernel[int8], padKernel[uint8],
			padKernel[int16], padKernel[int32], padKernel[int64], padKernel[bool])
	})
	var concat builder
	concat = func(v *ir.Value) (kernel, error) {
		if v.Type.DType.IsInt() && isQuantized(v) && !sameQuant(v) {
			return viaFloat(v, concat)
		}
		return allTypes(v, v.Type.DType, concatKernel[float32], concatKernel[int8], concatKernel[uint8],
			concatKernel[int16], concatKernel[int32], concatKernel[int64], concatKernel[bool])
	}
	register("concat", concat)
}
