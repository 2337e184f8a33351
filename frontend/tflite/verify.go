package tflite

import (
	"encoding/binary"
	"fmt"
)

// The flatbuffers Go runtime reads offsets without checking them: a
// malformed model makes the generated accessors index out of range. fbv
// checks, before decode reads anything through an accessor, that every
// table, vtable, field, vector and string it will touch lies inside the
// buffer. Positions are int64, so no sum here wraps around.
type fbv struct {
	b []byte
}

// ftab is a verified table: its position, its vtable and their sizes.
type ftab struct {
	pos, vt, vtsize, tsize int64
}

// maxFlatbuffer bounds the flatbuffer part of a model: the Go runtime keeps
// table positions in 31 bits.
const maxFlatbuffer = 1<<31 - 1

func (v *fbv) n() int64 { return int64(len(v.b)) }

func (v *fbv) u16(p int64) int64 { return int64(binary.LittleEndian.Uint16(v.b[p:])) }
func (v *fbv) u32(p int64) int64 { return int64(binary.LittleEndian.Uint32(v.b[p:])) }
func (v *fbv) i32(p int64) int64 { return int64(int32(binary.LittleEndian.Uint32(v.b[p:]))) }

func (v *fbv) in(p, size int64) bool { return p >= 0 && size >= 0 && p+size <= v.n() }

// table verifies the table at pos: its soffset to a vtable that fits, a
// vtable of even size >= 4, and a table body that fits.
func (v *fbv) table(pos int64, what string) (ftab, error) {
	if !v.in(pos, 4) {
		return ftab{}, fmt.Errorf("%s: table at %d outside the %d-byte buffer", what, pos, v.n())
	}
	t := ftab{pos: pos, vt: pos - v.i32(pos)}
	if !v.in(t.vt, 4) {
		return ftab{}, fmt.Errorf("%s: vtable at %d outside the buffer", what, t.vt)
	}
	t.vtsize, t.tsize = v.u16(t.vt), v.u16(t.vt+2)
	if t.vtsize < 4 || t.vtsize%2 != 0 || !v.in(t.vt, t.vtsize) {
		return ftab{}, fmt.Errorf("%s: bad vtable size %d", what, t.vtsize)
	}
	if t.tsize < 4 || !v.in(pos, t.tsize) {
		return ftab{}, fmt.Errorf("%s: bad table size %d", what, t.tsize)
	}
	return t, nil
}

// field is the offset of field id inside table t (0: absent).
func (v *fbv) field(t ftab, id int) int64 {
	slot := 4 + 2*int64(id)
	if slot+2 > t.vtsize {
		return 0
	}
	return v.u16(t.vt + slot)
}

// scalar checks that field id, if present, holds size bytes inside the table.
func (v *fbv) scalar(t ftab, id int, size int64, what string) error {
	if off := v.field(t, id); off != 0 && off+size > t.tsize {
		return fmt.Errorf("%s: field %d (%d bytes at %d) overruns its %d-byte table", what, id, size, off, t.tsize)
	}
	return nil
}

// ref follows the uoffset in field id: the position it points to, or ok=false when absent.
func (v *fbv) ref(t ftab, id int, what string) (pos int64, ok bool, err error) {
	off := v.field(t, id)
	if off == 0 {
		return 0, false, nil
	}
	if off+4 > t.tsize {
		return 0, false, fmt.Errorf("%s: offset field %d overruns its table", what, id)
	}
	p := t.pos + off
	target := p + v.u32(p)
	if !v.in(target, 4) {
		return 0, false, fmt.Errorf("%s: field %d points outside the buffer", what, id)
	}
	return target, true, nil
}

// vector checks the vector (or string, elem 1) in field id and returns its length.
func (v *fbv) vector(t ftab, id int, elem int64, what string) (int, error) {
	p, ok, err := v.ref(t, id, what)
	if err != nil || !ok {
		return 0, err
	}
	n := v.u32(p)
	if !v.in(p+4, n*elem) {
		return 0, fmt.Errorf("%s: vector of %d × %d bytes overruns the buffer", what, n, elem)
	}
	return int(n), nil
}

// sub verifies the table referenced by field id.
func (v *fbv) sub(t ftab, id int, what string) (ftab, bool, error) {
	p, ok, err := v.ref(t, id, what)
	if err != nil || !ok {
		return ftab{}, false, err
	}
	s, err := v.table(p, what)
	return s, err == nil, err
}

// tables verifies a vector of tables in field id and each of its elements.
func (v *fbv) tables(t ftab, id int, what string) ([]ftab, error) {
	n, err := v.vector(t, id, 4, what)
	if err != nil || n == 0 {
		return nil, err
	}
	p, _, _ := v.ref(t, id, what)
	out := make([]ftab, n)
	for i := range out {
		e := p + 4 + 4*int64(i)
		if out[i], err = v.table(e+v.u32(e), fmt.Sprintf("%s[%d]", what, i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// field is one field of a table as the checks below see it: a scalar of
// Size bytes, or (Vec) a vector of Size-byte elements or a string (Size 1).
type fieldSpec struct {
	ID   int
	Size int64
	Vec  bool
}

// fields checks a list of scalar and vector fields of t.
func (v *fbv) fields(t ftab, what string, specs ...fieldSpec) error {
	for _, f := range specs {
		var err error
		if f.Vec {
			_, err = v.vector(t, f.ID, f.Size, what)
		} else {
			err = v.scalar(t, f.ID, f.Size, what)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func sc(id int, size int64) fieldSpec  { return fieldSpec{ID: id, Size: size} }
func vec(id int, size int64) fieldSpec { return fieldSpec{ID: id, Size: size, Vec: true} }
