package ir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func writeWeights(t testing.TB, g *Graph) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteWeights(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWeightsRoundTrip(t *testing.T) {
	g := everyOpGraph(t)
	// A second constant with the same data shares the record.
	g.AddConst("w_again", g.Lookup("w").Const.Clone(), nil)
	// Large constants of every dtype.
	for _, dt := range DTypes {
		c := NewTensor(dt, []int{3, 4})
		for i := 0; i < c.Len(); i++ {
			c.Set(i, float64(i%3))
		}
		g.AddConst("big_"+dt.String(), c, nil)
	}
	data := writeWeights(t, g)
	m, err := ReadWeights(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := WeightsOf(g)
	if len(m) != len(want) || binary.LittleEndian.Uint64(data[12:]) != uint64(len(want)) {
		t.Fatalf("read %d tensors, header says %d, want %d", len(m), binary.LittleEndian.Uint64(data[12:]), len(want))
	}
	for h, w := range want {
		if got := m[h]; got == nil || !got.Equal(w) {
			t.Errorf("tensor %s differs", h)
		}
	}
	g2, err := Parse("t.ir", []byte(g.String()), m)
	if err != nil {
		t.Fatal(err)
	}
	sameGraph(t, g, g2)
}

func TestWriteReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.ir")
	g := everyOpGraph(t)
	if err := WriteFile(path, g); err != nil {
		t.Fatal(err)
	}
	g2, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameGraph(t, g, g2)
	if g.String() != g2.String() {
		t.Fatal("print differs after WriteFile/ReadFile")
	}

	// Without the sidecar the error names it.
	os.Rename(path+".weights", path+".w")
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "there is no "+path+".weights") || !errors.Is(err, ErrMissingWeight) {
		t.Fatalf("missing sidecar: %v", err)
	}
	os.Rename(path+".w", path+".weights")

	// A graph without large constants needs no sidecar; a stale one goes.
	small := NewGraph("small")
	x := small.AddParam("x", TensorType(F32, 2))
	y, _ := small.Add("add", []*Value{x, small.AddConst("one", ScalarF32(1), nil)}, nil, Type{}, "y", "")
	small.Results = []*Value{y}
	if err := WriteFile(path, small); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".weights"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale sidecar kept: %v", err)
	}
	g3, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameGraph(t, small, g3)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.ir"), small); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// record builds one raw sidecar record.
func record(hash []byte, code, rank uint8, dims []uint64, n uint64, data []byte) []byte {
	b := append(append([]byte{}, hash...), code, rank)
	for _, d := range dims {
		b = binary.LittleEndian.AppendUint64(b, d)
	}
	b = binary.LittleEndian.AppendUint64(b, n)
	return append(b, data...)
}

func header(version uint32, count uint64) []byte {
	b := append([]byte{}, weightsMagic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	return binary.LittleEndian.AppendUint64(b, count)
}

func TestReadWeightsCorrupt(t *testing.T) {
	g := everyOpGraph(t)
	valid := writeWeights(t, g)
	flipped := append([]byte{}, valid...)
	flipped[len(flipped)-1] ^= 1
	h8 := make([]byte, 8)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "short header"},
		{"bad magic", append([]byte("PAREWTS\x01"), valid[8:]...), "bad magic"},
		{"version", append(header(2, 0), 0), "unsupported version 2"},
		{"flipped data", flipped, "corrupt file"},
		{"trailing data", append(append([]byte{}, valid...), 0), "data after the last of"},
		{"count too high", append(header(1, 1<<60), valid[20:]...), "unexpected EOF"},
		{"dtype code", append(header(1, 1), record(h8, 9, 0, nil, 0, nil)...), "unknown dtype code 9"},
		{"dtype zero", append(header(1, 1), record(h8, 0, 0, nil, 0, nil)...), "unknown dtype code 0"},
		{"huge dim", append(header(1, 1), record(h8, 1, 1, []uint64{1 << 63}, 0, nil)...), "too large"},
		{"huge shape", append(header(1, 1), record(h8, 1, 2, []uint64{1 << 32, 1 << 32}, 0, nil)...), "more than"},
		{"length mismatch", append(header(1, 1), record(h8, 1, 1, []uint64{2}, 7, make([]byte, 7))...), "needs 8 bytes, the record has 7"},
		{"forged length", append(header(1, 1), record(h8, 3, 1, []uint64{1 << 32}, 1<<32, []byte{1, 2, 3})...), "unexpected EOF"},
		{"bool byte", append(header(1, 1), record(h8, 7, 1, []uint64{2}, 2, []byte{1, 2})...), "bool element 2"},
		{"short dims", append(header(1, 1), h8[:8]...), "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := ReadWeights(bytes.NewReader(tc.data))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) || m != nil {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
				t.Errorf("allocated %d bytes for %d bytes of input", a, len(tc.data))
			}
		})
	}
	// Every truncation fails cleanly.
	for n := 0; n < len(valid); n++ {
		if _, err := ReadWeights(bytes.NewReader(valid[:n])); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(valid))
		}
	}
	// A duplicated record.
	one := NewGraph("one")
	one.Results = []*Value{one.AddConst("w", ramp(3, 3), nil)}
	rec := writeWeights(t, one)[20:]
	dup := append(append(header(1, 2), rec...), rec...)
	if _, err := ReadWeights(bytes.NewReader(dup)); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate record: %v", err)
	}
}

func FuzzReadWeights(f *testing.F) {
	f.Add(writeWeights(f, everyOpGraph(f)))
	f.Add(header(1, 0))
	f.Add(append(header(1, 1), record(make([]byte, 8), 3, 1, []uint64{1 << 32}, 1<<32, []byte{1})...))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadWeights(bytes.NewReader(data))
		if err != nil {
			return
		}
		for h, w := range m {
			if w.Hash() != h {
				t.Fatalf("tensor under %s hashes to %s", h, w.Hash())
			}
		}
	})
}
