package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A reader of the FlexBuffers maps that custom ops (TFLite_Detection_PostProcess)
// keep their options in: the root must be a map whose values are scalars
// (null, int, uint, float, bool, inline or indirect); other values (strings,
// vectors) are skipped. The format (flatbuffers' flexbuffers.h): the last
// byte is the root's width, the byte before it the root's packed type
// (type << 2 | log2 of the width of what it refers to), the root before
// them. An offset points back: target = position - unsigned value. A map's
// values sit at its data position, one per width, after a prefix of (keys
// vector offset, keys width, size) and before one packed type byte per
// value; the keys vector holds offsets to NUL-terminated strings.

// FlexBuffers types (flexbuffers::Type) that option maps use.
const (
	flexNull          = 0
	flexInt           = 1
	flexUInt          = 2
	flexFloat         = 3
	flexKey           = 4
	flexIndirectInt   = 6
	flexIndirectUInt  = 7
	flexIndirectFloat = 8
	flexMap           = 9
	flexBool          = 26
)

// flexValue is one scalar of a map; num holds its value (bools 0 or 1).
type flexValue struct {
	typ int
	num float64
}

type flexReader struct{ b []byte }

// uint reads an unsigned little-endian value of width w at pos.
func (r flexReader) uint(pos, w int) (uint64, error) {
	if pos < 0 || w <= 0 || pos+w > len(r.b) {
		return 0, fmt.Errorf("%d bytes at %d: outside the %d bytes of the options", w, pos, len(r.b))
	}
	switch w {
	case 1:
		return uint64(r.b[pos]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(r.b[pos:])), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(r.b[pos:])), nil
	case 8:
		return binary.LittleEndian.Uint64(r.b[pos:]), nil
	}
	return 0, fmt.Errorf("width %d", w)
}

func (r flexReader) int(pos, w int) (int64, error) {
	u, err := r.uint(pos, w)
	if err != nil {
		return 0, err
	}
	shift := 64 - 8*uint(w)
	return int64(u<<shift) >> shift, nil
}

func (r flexReader) float(pos, w int) (float64, error) {
	u, err := r.uint(pos, w)
	switch {
	case err != nil:
		return 0, err
	case w == 4:
		return float64(math.Float32frombits(uint32(u))), nil
	case w == 8:
		return math.Float64frombits(u), nil
	}
	return 0, fmt.Errorf("a float of %d bytes", w)
}

// indirect follows the offset stored at pos (width w).
func (r flexReader) indirect(pos, w int) (int, error) {
	off, err := r.uint(pos, w)
	if err != nil {
		return 0, err
	}
	if off > uint64(pos) {
		return 0, fmt.Errorf("offset %d at %d points before the options", off, pos)
	}
	return pos - int(off), nil
}

// scalar reads the value at pos of a vector of width w with packed type pt.
func (r flexReader) scalar(pos, w int, pt byte) (flexValue, bool, error) {
	typ, cw := int(pt>>2), 1<<(pt&3)
	v := flexValue{typ: typ}
	var err error
	switch typ {
	case flexNull:
	case flexInt:
		var i int64
		i, err = r.int(pos, w)
		v.num = float64(i)
	case flexUInt, flexBool:
		var u uint64
		u, err = r.uint(pos, w)
		v.num = float64(u)
		if typ == flexBool && u != 0 {
			v.num = 1
		}
	case flexFloat:
		v.num, err = r.float(pos, w)
	case flexIndirectInt, flexIndirectUInt, flexIndirectFloat:
		var at int
		if at, err = r.indirect(pos, w); err != nil {
			break
		}
		switch typ {
		case flexIndirectInt:
			var i int64
			i, err = r.int(at, cw)
			v.num = float64(i)
		case flexIndirectUInt:
			var u uint64
			u, err = r.uint(at, cw)
			v.num = float64(u)
		default:
			v.num, err = r.float(at, cw)
		}
	default:
		return v, false, nil
	}
	return v, err == nil, err
}

// key reads the NUL-terminated key string that the offset at pos points to.
func (r flexReader) key(pos, w int) (string, error) {
	at, err := r.indirect(pos, w)
	if err != nil {
		return "", err
	}
	for end := at; end < len(r.b); end++ {
		if r.b[end] == 0 {
			return string(r.b[at:end]), nil
		}
	}
	return "", fmt.Errorf("key at %d has no end", at)
}

// flexMapOf reads the scalars of the FlexBuffers map in b, by key.
func flexMapOf(b []byte) (map[string]flexValue, error) {
	r := flexReader{b}
	n := len(b)
	if n < 3 {
		return nil, fmt.Errorf("%d bytes of options: too short for FlexBuffers", n)
	}
	rootW, pt := int(b[n-1]), b[n-2]
	if rootW != 1 && rootW != 2 && rootW != 4 && rootW != 8 {
		return nil, fmt.Errorf("FlexBuffers root width %d", rootW)
	}
	if int(pt>>2) != flexMap {
		return nil, fmt.Errorf("FlexBuffers root of type %d, not a map (%d)", pt>>2, flexMap)
	}
	data, err := r.indirect(n-2-rootW, rootW)
	if err != nil {
		return nil, err
	}
	w := 1 << (pt & 3)
	size, err := r.uint(data-w, w)
	if err != nil {
		return nil, err
	}
	if size > uint64(n) {
		return nil, fmt.Errorf("map of %d entries in %d bytes", size, n)
	}
	keysAt := data - 3*w
	keys, err := r.indirect(keysAt, w)
	if err != nil {
		return nil, err
	}
	kw, err := r.uint(keysAt+w, w)
	if err != nil {
		return nil, err
	}
	if kw != 1 && kw != 2 && kw != 4 && kw != 8 {
		return nil, fmt.Errorf("FlexBuffers keys width %d", kw)
	}
	if ks, err := r.uint(keys-int(kw), int(kw)); err != nil || ks != size {
		return nil, fmt.Errorf("map of %d values has %d keys (%v)", size, ks, err)
	}
	out := map[string]flexValue{}
	for i := 0; i < int(size); i++ {
		k, err := r.key(keys+i*int(kw), int(kw))
		if err != nil {
			return nil, err
		}
		tpos := data + int(size)*w + i
		if tpos >= n {
			return nil, fmt.Errorf("value types outside the options")
		}
		v, ok, err := r.scalar(data+i*w, w, b[tpos])
		if err != nil {
			return nil, fmt.Errorf("%q: %v", k, err)
		}
		if ok {
			out[k] = v
		}
	}
	return out, nil
}
