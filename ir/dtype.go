// Package ir is pare's intermediate representation: an SSA graph of tensor
// operations with static shapes and dtypes, a declarative op table, a text
// form that round-trips, a verifier and a structural diff.
//
// ir imports nothing else of the project.
package ir

import (
	"fmt"
	"math"
)

// DType is the element type of a tensor.
type DType uint8

// The element types pare supports.
const (
	Invalid DType = iota
	F32
	I8
	U8
	I16
	I32
	I64
	Bool
)

var dtypeNames = [...]string{Invalid: "invalid", F32: "f32", I8: "i8", U8: "u8", I16: "i16", I32: "i32", I64: "i64", Bool: "bool"}

// DTypes lists every supported dtype, in a fixed order.
var DTypes = []DType{F32, I8, U8, I16, I32, I64, Bool}

func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the size of one element in bytes.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case I8, U8, Bool:
		return 1
	case I16:
		return 2
	case I64:
		return 8
	}
	return 0
}

// IsInt reports whether d is an integer type (not bool).
func (d DType) IsInt() bool { return d == I8 || d == U8 || d == I16 || d == I32 || d == I64 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == F32 }

// Range is the representable range of an integer dtype.
func (d DType) Range() (lo, hi int64) {
	switch d {
	case I8:
		return -128, 127
	case U8:
		return 0, 255
	case I16:
		return -32768, 32767
	case I32:
		return -1 << 31, 1<<31 - 1
	case I64:
		return -1 << 63, 1<<63 - 1
	case Bool:
		return 0, 1
	}
	return 0, 0
}

// ParseDType parses a dtype name such as "f32".
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if n == s && DType(i) != Invalid {
			return DType(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown dtype %q (supported: f32 i8 u8 i16 i32 i64 bool)", s)
}

// HalfToFloat converts an IEEE 754 binary16 value to float32 (exactly:
// every half is a float32).
func HalfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp, frac := uint32(h>>10)&0x1f, uint32(h)&0x3ff
	switch {
	case exp == 0: // zero and subnormals: frac · 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f: // infinities and NaNs
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// BFloat16ToFloat converts a bfloat16 value (the top half of a float32).
func BFloat16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
