package ir

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
)

// MaxElements bounds the size of any one tensor pare allocates from a model's
// description (4 Gi elements); larger claims are malformed input.
const MaxElements = 1 << 32

// Tensor is a dense, row-major array. Exactly one of the storage slices,
// the one matching DType, is set.
type Tensor struct {
	DType DType
	Shape []int
	F32   []float32
	I8    []int8
	U8    []uint8
	I16   []int16
	I32   []int32
	I64   []int64
	Bool  []bool
}

// NumElements is the product of the dims (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// CheckShape reports an error when a shape has negative dims or too many elements.
func CheckShape(shape []int) error {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > 0 && n > MaxElements/int64(d) { // n*d would exceed MaxElements (or overflow)
			return fmt.Errorf("shape %v has more than %d elements", shape, int64(MaxElements))
		}
		n *= int64(d)
		if n > MaxElements {
			return fmt.Errorf("shape %v has more than %d elements", shape, int64(MaxElements))
		}
	}
	return nil
}

// NewTensor allocates a zero tensor. It panics on an invalid shape: callers
// check shapes that come from models with CheckShape first.
func NewTensor(dt DType, shape []int) *Tensor {
	if err := CheckShape(shape); err != nil {
		panic(err)
	}
	t := &Tensor{DType: dt, Shape: append([]int{}, shape...)}
	n := NumElements(shape)
	switch dt {
	case F32:
		t.F32 = make([]float32, n)
	case I8:
		t.I8 = make([]int8, n)
	case U8:
		t.U8 = make([]uint8, n)
	case I16:
		t.I16 = make([]int16, n)
	case I32:
		t.I32 = make([]int32, n)
	case I64:
		t.I64 = make([]int64, n)
	case Bool:
		t.Bool = make([]bool, n)
	default:
		panic(fmt.Sprintf("ir.NewTensor: invalid dtype %v", dt))
	}
	return t
}

// Scalar helpers.
func ScalarF32(v float32) *Tensor { return &Tensor{DType: F32, Shape: []int{}, F32: []float32{v}} }

// FromF32 wraps data (not copied) as an f32 tensor of the given shape.
func FromF32(shape []int, data []float32) *Tensor {
	return &Tensor{DType: F32, Shape: append([]int{}, shape...), F32: data}
}

// FromI64 wraps data (not copied) as an i64 tensor of the given shape.
func FromI64(shape []int, data []int64) *Tensor {
	return &Tensor{DType: I64, Shape: append([]int{}, shape...), I64: data}
}

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// At returns element i converted to float64.
func (t *Tensor) At(i int) float64 {
	switch t.DType {
	case F32:
		return float64(t.F32[i])
	case I8:
		return float64(t.I8[i])
	case U8:
		return float64(t.U8[i])
	case I16:
		return float64(t.I16[i])
	case I32:
		return float64(t.I32[i])
	case I64:
		return float64(t.I64[i])
	case Bool:
		if t.Bool[i] {
			return 1
		}
		return 0
	}
	return 0
}

// IntAt returns element i converted to int64 (floats truncate).
func (t *Tensor) IntAt(i int) int64 {
	switch t.DType {
	case I8:
		return int64(t.I8[i])
	case U8:
		return int64(t.U8[i])
	case I16:
		return int64(t.I16[i])
	case I32:
		return int64(t.I32[i])
	case I64:
		return t.I64[i]
	}
	return int64(t.At(i))
}

// Set stores v at element i, converting (integers wrap as Go conversions do;
// callers saturate first where the semantics ask for it).
func (t *Tensor) Set(i int, v float64) {
	switch t.DType {
	case F32:
		t.F32[i] = float32(v)
	case I8:
		t.I8[i] = int8(int64(v))
	case U8:
		t.U8[i] = uint8(int64(v))
	case I16:
		t.I16[i] = int16(int64(v))
	case I32:
		t.I32[i] = int32(int64(v))
	case I64:
		t.I64[i] = int64(v)
	case Bool:
		t.Bool[i] = v != 0
	}
}

// SetInt stores an integer at element i.
func (t *Tensor) SetInt(i int, v int64) {
	switch t.DType {
	case I8:
		t.I8[i] = int8(v)
	case U8:
		t.U8[i] = uint8(v)
	case I16:
		t.I16[i] = int16(v)
	case I32:
		t.I32[i] = int32(v)
	case I64:
		t.I64[i] = v
	default:
		t.Set(i, float64(v))
	}
}

// Clone deep-copies the tensor.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int{}, t.Shape...)}
	c.F32 = cloneSlice(t.F32)
	c.I8 = cloneSlice(t.I8)
	c.U8 = cloneSlice(t.U8)
	c.I16 = cloneSlice(t.I16)
	c.I32 = cloneSlice(t.I32)
	c.I64 = cloneSlice(t.I64)
	c.Bool = cloneSlice(t.Bool)
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// Reshaped returns a tensor sharing t's storage with a new shape.
func (t *Tensor) Reshaped(shape []int) *Tensor {
	c := *t
	c.Shape = append([]int{}, shape...)
	return &c
}

// Bytes encodes the elements little-endian (bool as one byte).
func (t *Tensor) Bytes() []byte {
	n := t.Len()
	b := make([]byte, n*t.DType.Size())
	switch t.DType {
	case F32:
		for i, v := range t.F32 {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case I8:
		for i, v := range t.I8 {
			b[i] = byte(v)
		}
	case U8:
		copy(b, t.U8)
	case I16:
		for i, v := range t.I16 {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
	case I32:
		for i, v := range t.I32 {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
	case I64:
		for i, v := range t.I64 {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
		}
	case Bool:
		for i, v := range t.Bool {
			if v {
				b[i] = 1
			}
		}
	}
	return b
}

// TensorFromBytes decodes little-endian element bytes.
func TensorFromBytes(dt DType, shape []int, b []byte) (*Tensor, error) {
	if err := CheckShape(shape); err != nil {
		return nil, err
	}
	if dt.Size() == 0 {
		return nil, fmt.Errorf("invalid dtype %v", dt)
	}
	n := NumElements(shape)
	if len(b) != n*dt.Size() {
		return nil, fmt.Errorf("%v%v needs %d bytes, have %d", dt, shape, n*dt.Size(), len(b))
	}
	t := NewTensor(dt, shape)
	switch dt {
	case F32:
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case I8:
		for i := range t.I8 {
			t.I8[i] = int8(b[i])
		}
	case U8:
		copy(t.U8, b)
	case I16:
		for i := range t.I16 {
			t.I16[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case I32:
		for i := range t.I32 {
			t.I32[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case I64:
		for i := range t.I64 {
			t.I64[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case Bool:
		for i := range t.Bool {
			t.Bool[i] = b[i] != 0
		}
	}
	return t, nil
}

// Hash is a content hash of dtype, shape and data: 16 hex digits of SHA-256.
func (t *Tensor) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%v%v", t.DType, t.Shape)
	h.Write(t.Bytes())
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Stats summarizes a tensor for the text form and the diff.
type Stats struct {
	Min, Max float64
	Sparsity float64 // fraction of exact zeros
	Distinct int     // number of distinct values, capped at DistinctCap+1
}

// DistinctCap bounds the distinct-value count the stats compute exactly.
const DistinctCap = 65536

// Stats computes summary statistics.
func (t *Tensor) Stats() Stats {
	n := t.Len()
	if n == 0 {
		return Stats{}
	}
	s := Stats{Min: math.Inf(1), Max: math.Inf(-1)}
	zeros := 0
	seen := map[float64]struct{}{}
	for i := 0; i < n; i++ {
		v := t.At(i)
		if v < s.Min {
			s.Min = v
		}
		if v > s.Max {
			s.Max = v
		}
		if v == 0 {
			zeros++
		}
		if len(seen) <= DistinctCap {
			seen[v] = struct{}{}
		}
	}
	s.Sparsity = float64(zeros) / float64(n)
	s.Distinct = len(seen)
	return s
}

// Equal reports whether two tensors have the same dtype, shape and bits.
func (t *Tensor) Equal(o *Tensor) bool {
	if t.DType != o.DType || !EqualShape(t.Shape, o.Shape) {
		return false
	}
	a, b := t.Bytes(), o.Bytes()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// EqualShape compares two shapes.
func EqualShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Strides returns row-major element strides for a shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	st := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = st
		st *= shape[i]
	}
	return s
}
