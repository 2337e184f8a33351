package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Quant holds affine quantization parameters: real = Scale * (q - ZeroPoint).
// Axis is -1 for per-tensor parameters (one scale, one zero point), or the
// dimension along which Scale and ZeroPoint vary (per channel).
type Quant struct {
	Axis      int
	Scale     []float32
	ZeroPoint []int64
}

// PerTensor builds per-tensor parameters.
func PerTensor(scale float32, zp int64) *Quant {
	return &Quant{Axis: -1, Scale: []float32{scale}, ZeroPoint: []int64{zp}}
}

// Channels is the number of (scale, zero point) pairs.
func (q *Quant) Channels() int { return len(q.Scale) }

// ScaleAt and ZeroAt return the parameters for channel c (per-tensor ignores c).
func (q *Quant) ScaleAt(c int) float32 {
	if q.Axis < 0 {
		return q.Scale[0]
	}
	return q.Scale[c]
}

// ZeroAt returns the zero point for channel c.
func (q *Quant) ZeroAt(c int) int64 {
	if q.Axis < 0 {
		return q.ZeroPoint[0]
	}
	return q.ZeroPoint[c]
}

// Equal compares two (possibly nil) parameter sets exactly.
func (q *Quant) Equal(o *Quant) bool {
	if q == nil || o == nil {
		return q == o
	}
	if q.Axis != o.Axis || len(q.Scale) != len(o.Scale) || len(q.ZeroPoint) != len(o.ZeroPoint) {
		return false
	}
	for i := range q.Scale {
		if q.Scale[i] != o.Scale[i] {
			return false
		}
	}
	for i := range q.ZeroPoint {
		if q.ZeroPoint[i] != o.ZeroPoint[i] {
			return false
		}
	}
	return true
}

func (q *Quant) String() string {
	var b strings.Builder
	if q.Axis < 0 {
		fmt.Fprintf(&b, "q(%s,%d)", FormatFloat(q.Scale[0]), q.ZeroPoint[0])
		return b.String()
	}
	fmt.Fprintf(&b, "q(axis=%d [", q.Axis)
	for i, s := range q.Scale {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(FormatFloat(s))
	}
	b.WriteString("] [")
	for i, z := range q.ZeroPoint {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(z, 10))
	}
	b.WriteString("])")
	return b.String()
}

// Type is a value's type: dtype, static shape, and optional quantization.
type Type struct {
	DType DType
	Shape []int
	Quant *Quant
}

// TensorType builds a type without quantization.
func TensorType(dt DType, shape ...int) Type {
	return Type{DType: dt, Shape: append([]int{}, shape...)}
}

// Rank is the number of dimensions.
func (t Type) Rank() int { return len(t.Shape) }

// NumElements is the element count.
func (t Type) NumElements() int { return NumElements(t.Shape) }

// Bytes is the storage size of a tensor of this type.
func (t Type) Bytes() int { return t.NumElements() * t.DType.Size() }

// Equal compares dtype, shape and quantization.
func (t Type) Equal(o Type) bool {
	return t.DType == o.DType && EqualShape(t.Shape, o.Shape) && t.Quant.Equal(o.Quant)
}

// WithShape returns a copy of t with another shape (quantization kept).
func (t Type) WithShape(shape []int) Type {
	return Type{DType: t.DType, Shape: append([]int{}, shape...), Quant: t.Quant}
}

func (t Type) String() string {
	s := t.DType.String() + FormatShape(t.Shape)
	if t.Quant != nil {
		s += " " + t.Quant.String()
	}
	return s
}

// FormatShape prints [1,3,224,224] ([] for a scalar).
func FormatShape(shape []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// FormatFloat prints a float32 with the fewest digits that read back exactly.
func FormatFloat(f float32) string {
	s := strconv.FormatFloat(float64(f), 'g', -1, 32)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}
