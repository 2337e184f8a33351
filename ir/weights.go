package ir

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The weights sidecar holds the data of the constants the text form prints
// as {sha=...}. Layout (all integers little-endian):
//
//	header: magic "PAREWTS\x00", version u32 (1), record count u64
//	record: hash [8]byte (Tensor.Hash as bytes), dtype u8, rank u8,
//	        dims rank×u64, data length u64, data (Tensor.Bytes)
//
// Records are unique by hash and in first-use order. Readers check every
// field, that the data hashes to the record's hash, and that nothing
// follows the last record.
const (
	weightsMagic   = "PAREWTS\x00"
	weightsVersion = 1
)

// wireDTypes fixes the sidecar's dtype codes independently of DType's values.
var wireDTypes = []DType{1: F32, 2: I8, 3: U8, 4: I16, 5: I32, 6: I64, 7: Bool}

func wireCode(dt DType) (uint8, bool) {
	for i, d := range wireDTypes {
		if d == dt && d != Invalid {
			return uint8(i), true
		}
	}
	return 0, false
}

// WriteFile writes the text form of g to path and the data of its large
// constants to path+".weights" (removing a stale sidecar when there are none).
// Each file is written to a temporary file and renamed into place.
func WriteFile(path string, g *Graph) error {
	p := newPrinter(true)
	if err := p.check(g); err != nil {
		return err
	}
	var text bytes.Buffer
	bw := bufio.NewWriter(&text)
	p.graph(bw, g)
	bw.Flush()
	side := path + ".weights"
	if len(p.order) == 0 {
		if err := os.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		ts := make([]*Tensor, len(p.order))
		for i, h := range p.order {
			ts[i] = p.weights[h]
		}
		err := writeAtomic(side, func(w io.Writer) error { return writeRecords(w, p.order, ts) })
		if err != nil {
			return err
		}
	}
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(text.Bytes())
		return err
	})
}

func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ReadFile reads a graph written by WriteFile. A missing sidecar is fine
// when the graph has no large constants.
func ReadFile(path string) (*Graph, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	side := path + ".weights"
	var weights map[string]*Tensor
	f, err := os.Open(side)
	switch {
	case err == nil:
		weights, err = ReadWeights(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	g, err := Parse(path, text, weights)
	if err != nil && weights == nil && errors.Is(err, ErrMissingWeight) {
		return nil, fmt.Errorf("%w (there is no %s)", err, side)
	}
	return g, err
}

// WriteWeights writes the sidecar for g: the data of every constant the
// text form prints as a hash.
func WriteWeights(w io.Writer, g *Graph) error {
	p := newPrinter(true)
	if err := p.check(g); err != nil {
		return err
	}
	for _, v := range g.Values {
		if v.Op == OpConst && !inlineable(v.Const) {
			p.hash(v.Const)
		}
	}
	ts := make([]*Tensor, len(p.order))
	for i, h := range p.order {
		ts[i] = p.weights[h]
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := writeRecords(bw, p.order, ts); err != nil {
		return err
	}
	return bw.Flush()
}

func writeRecords(w io.Writer, hashes []string, ts []*Tensor) error {
	var hdr []byte
	hdr = append(hdr, weightsMagic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, weightsVersion)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(ts)))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for i, t := range ts {
		h, err := hex.DecodeString(hashes[i])
		code, ok := wireCode(t.DType)
		if err != nil || len(h) != 8 || !ok || len(t.Shape) > 255 {
			return fmt.Errorf("weights: cannot write tensor %s (%v%s)", hashes[i], t.DType, FormatShape(t.Shape))
		}
		data := t.Bytes()
		rec := append(h, code, uint8(len(t.Shape)))
		for _, d := range t.Shape {
			rec = binary.LittleEndian.AppendUint64(rec, uint64(d))
		}
		rec = binary.LittleEndian.AppendUint64(rec, uint64(len(data)))
		if _, err := w.Write(rec); err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// ReadWeights reads a sidecar written by WriteWeights, keyed by hash. The
// input is untrusted: every field is checked, memory grows only with the
// data actually read, and each tensor must hash to its record's hash.
func ReadWeights(r io.Reader) (map[string]*Tensor, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	hdr := make([]byte, len(weightsMagic)+12)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("weights: short header: %w", noEOF(err))
	}
	if string(hdr[:len(weightsMagic)]) != weightsMagic {
		return nil, errors.New("weights: not a pare weights file (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != weightsVersion {
		return nil, fmt.Errorf("weights: unsupported version %d (want %d)", v, weightsVersion)
	}
	count := binary.LittleEndian.Uint64(hdr[12:])
	m := map[string]*Tensor{}
	for i := uint64(0); i < count; i++ {
		h, t, err := readRecord(br)
		if err != nil {
			return nil, fmt.Errorf("weights: record %d of %d: %w", i, count, err)
		}
		if _, dup := m[h]; dup {
			return nil, fmt.Errorf("weights: record %d: hash %s appears twice", i, h)
		}
		m[h] = t
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		return nil, fmt.Errorf("weights: data after the last of %d records", count)
	}
	return m, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readRecord(r io.Reader) (string, *Tensor, error) {
	var fixed [10]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return "", nil, noEOF(err)
	}
	hash := hex.EncodeToString(fixed[:8])
	code, rank := int(fixed[8]), int(fixed[9])
	if code >= len(wireDTypes) || wireDTypes[code] == Invalid {
		return "", nil, fmt.Errorf("unknown dtype code %d", code)
	}
	dt := wireDTypes[code]
	dims := make([]byte, 8*rank+8)
	if _, err := io.ReadFull(r, dims); err != nil {
		return "", nil, noEOF(err)
	}
	shape := make([]int, rank)
	for i := range shape {
		d := binary.LittleEndian.Uint64(dims[8*i:])
		if d > MaxElements {
			return "", nil, fmt.Errorf("dimension %d too large", d)
		}
		shape[i] = int(d)
	}
	if err := CheckShape(shape); err != nil {
		return "", nil, err
	}
	n := binary.LittleEndian.Uint64(dims[8*rank:])
	if want := uint64(NumElements(shape)) * uint64(dt.Size()); n != want {
		return "", nil, fmt.Errorf("%v%s needs %d bytes, the record has %d", dt, FormatShape(shape), want, n)
	}
	data, err := readN(r, n)
	if err != nil {
		return "", nil, err
	}
	if dt == Bool {
		for _, c := range data {
			if c > 1 {
				return "", nil, fmt.Errorf("bool element %d (want 0 or 1)", c)
			}
		}
	}
	// data is then exactly t.Bytes(), so this is t.Hash() without a copy.
	sum := sha256.New()
	fmt.Fprintf(sum, "%v%v", dt, shape)
	sum.Write(data)
	if h := hex.EncodeToString(sum.Sum(nil)[:8]); h != hash {
		return "", nil, fmt.Errorf("data of %s hashes to %s (corrupt file)", hash, h)
	}
	t, err := TensorFromBytes(dt, shape, data)
	if err != nil {
		return "", nil, err
	}
	return hash, t, nil
}

// readN reads exactly n bytes, growing the buffer only as data arrives so a
// forged length cannot allocate more than the input holds.
func readN(r io.Reader, n uint64) ([]byte, error) {
	const first = 1 << 16
	buf := make([]byte, 0, min(n, first))
	for uint64(len(buf)) < n {
		k := int(min(n-uint64(len(buf)), uint64(max(len(buf), first))))
		start := len(buf)
		if cap(buf)-start < k {
			nb := make([]byte, start, start+k)
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:start+k]
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return nil, noEOF(err)
		}
	}
	return buf, nil
}

func isHash(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
