// Package ir is pare's intermediate representation: an SSA graph of tensor
// operations with static shapes and dtypes, a declarative op table, a text
// form that round-trips, a verifier and a structural diff.
//
// ir imports nothing else of the project.
package ir

import "fmt"

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
