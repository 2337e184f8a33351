package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Generic access to the typed storage of a tensor.

type number interface {
	float32 | int8 | uint8 | int16 | int32 | int64
}

type integer interface {
	int8 | uint8 | int16 | int32 | int64
}

type elem interface {
	number | bool
}

// data returns the storage slice of t for the element type T (which must
// match t.DType).
func data[T elem](t *ir.Tensor) []T {
	var z T
	switch any(z).(type) {
	case float32:
		return any(t.F32).([]T)
	case int8:
		return any(t.I8).([]T)
	case uint8:
		return any(t.U8).([]T)
	case int16:
		return any(t.I16).([]T)
	case int32:
		return any(t.I32).([]T)
	case int64:
		return any(t.I64).([]T)
	case bool:
		return any(t.Bool).([]T)
	}
	panic("rt: unreachable element type")
}

// lowest and highest are the extreme values of T (infinities for float32).
func lowest[T number]() T {
	var z T
	switch any(z).(type) {
	case float32:
		return T(any(float32(math.Inf(-1))).(float32))
	case int8:
		return T(any(int8(math.MinInt8)).(int8))
	case uint8:
		return 0
	case int16:
		return T(any(int16(math.MinInt16)).(int16))
	case int32:
		return T(any(int32(math.MinInt32)).(int32))
	case int64:
		return T(any(int64(math.MinInt64)).(int64))
	}
	panic("rt: unreachable element type")
}

// mkFn builds a kernel for one element type; generic builders are
// instantiated per type and chosen with pick.
type mkFn func(v *ir.Value) (kernel, error)

// pick calls fs[i] for dt = ir.DTypes[i] (f32, i8, u8, i16, i32, i64, bool);
// a missing or nil entry means the op does not take that dtype.
func pick(v *ir.Value, dt ir.DType, fs ...mkFn) (kernel, error) {
	i := int(dt) - 1
	if i < 0 || i >= len(fs) || fs[i] == nil {
		return nil, fmt.Errorf("%s does not support dtype %v", v.Op.Name, dt)
	}
	return fs[i](v)
}

// odometer iterates the multi-index of a shape in row-major order.
type odometer struct {
	shape []int
	idx   []int
}

func newOdometer(shape []int) *odometer {
	return &odometer{shape: shape, idx: make([]int, len(shape))}
}

// next advances the index; it returns false after the last element.
func (o *odometer) next() bool {
	for d := len(o.shape) - 1; d >= 0; d-- {
		o.idx[d]++
		if o.idx[d] < o.shape[d] {
			return true
		}
		o.idx[d] = 0
	}
	return false
}

// bcastPlan walks an output shape while tracking the offsets of operands
// broadcast to it. Adjacent dims are merged where every operand allows, so
// the inner loop is as long as possible.
type bcastPlan struct {
	outer   []int   // sizes of the outer dims (after merging), inner dim excluded
	strides [][]int // per operand, per outer dim
	inner   int     // length of the innermost run
	istride []int   // per operand: stride of the inner run (0 or 1 ... or merged)
	n       int     // total elements
}

// newBcastPlan plans the broadcast of operand shapes ins to out.
func newBcastPlan(out []int, ins ...[]int) *bcastPlan {
	r := len(out)
	st := make([][]int, len(ins))
	for k, s := range ins {
		full := ir.Strides(s)
		st[k] = make([]int, r)
		for d := 0; d < r; d++ {
			j := d - (r - len(s))
			if j >= 0 && s[j] != 1 {
				st[k][d] = full[j]
			}
		}
	}
	// Drop size-1 dims and merge mergeable neighbours.
	var dims []int
	mst := make([][]int, len(ins))
	for d := 0; d < r; d++ {
		if out[d] == 1 {
			continue
		}
		if len(dims) > 0 {
			last := len(dims) - 1
			ok := true
			for k := range ins {
				if mst[k][last] != st[k][d]*out[d] {
					ok = false
					break
				}
			}
			if ok {
				dims[last] *= out[d]
				for k := range ins {
					mst[k][last] = st[k][d]
				}
				continue
			}
		}
		dims = append(dims, out[d])
		for k := range ins {
			mst[k] = append(mst[k], st[k][d])
		}
	}
	p := &bcastPlan{n: ir.NumElements(out), inner: 1, istride: make([]int, len(ins)), strides: make([][]int, len(ins))}
	if len(dims) == 0 {
		return p
	}
	last := len(dims) - 1
	p.inner = dims[last]
	p.outer = dims[:last]
	for k := range ins {
		p.istride[k] = mst[k][last]
		p.strides[k] = mst[k][:last]
	}
	return p
}

// each calls f for every inner run with the run's output offset and the
// operands' offsets.
func (p *bcastPlan) each(f func(o int, offs []int)) {
	if p.n == 0 {
		return
	}
	offs := make([]int, len(p.strides))
	idx := make([]int, len(p.outer))
	for o := 0; o < p.n; o += p.inner {
		f(o, offs)
		for d := len(p.outer) - 1; d >= 0; d-- {
			idx[d]++
			for k := range offs {
				offs[k] += p.strides[k][d]
			}
			if idx[d] < p.outer[d] {
				break
			}
			for k := range offs {
				offs[k] -= p.strides[k][d] * idx[d]
			}
			idx[d] = 0
		}
	}
}

// broadcastTo copies src (shape from) broadcast to shape to into dst.
func broadcastTo[T elem](dst, src []T, from, to []int) {
	p := newBcastPlan(to, from)
	p.each(func(o int, offs []int) {
		d := dst[o : o+p.inner]
		if p.istride[0] == 0 {
			v := src[offs[0]]
			for i := range d {
				d[i] = v
			}
			return
		}
		copy(d, src[offs[0]:offs[0]+p.inner])
	})
}
