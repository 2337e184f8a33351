package passes

import (
	"bytes"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// decoded evaluates a layer's (possibly encoded) weight.
func decoded(t *testing.T, w *ir.Value) *ir.Tensor {
	t.Helper()
	if w.IsConst() {
		return w.Const
	}
	d, err := rt.EvalOp(w, constTensors(w))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func distinct(t *ir.Tensor) int {
	m := map[float64]bool{}
	for i := 0; i < t.Len(); i++ {
		m[t.At(i)] = true
	}
	return len(m)
}

func TestShare(t *testing.T) {
	for _, init := range []string{"linear", "kmeans++"} {
		g0 := compressNet(t)
		g := g0.Clone()
		reps := mustRun(t, g, "share{bits=4,init="+init+"}", nil)
		for _, name := range []string{"conv2", "fc1", "fc2"} {
			w := g.Lookup(name).Args[1]
			if w.Op.Name != "codebook_decode" {
				t.Fatalf("%s: weight is %s", name, w.Op.Name)
			}
			if d := distinct(decoded(t, w)); d > 16 {
				t.Errorf("%s: %d distinct values", name, d)
			}
		}
		if b, a := reps[0].Before.Bytes, reps[0].After.Bytes; float64(b)/float64(a) < 4 {
			t.Errorf("%s: bytes %d → %d", init, b, a)
		}
		again := g0.Clone()
		mustRun(t, again, "share{bits=4,init="+init+"}", nil)
		if again.String() != g.String() {
			t.Errorf("%s: not deterministic", init)
		}
		roundTrip(t, g)
	}
}

// Pruned zeros stay zero, dense (fixed 0 centroid) or sparse (CSR of indices).
func TestSharePruned(t *testing.T) {
	for _, ratio := range []string{"0.3", "0.8"} {
		g := compressNet(t)
		mustRun(t, g, "prune{ratio="+ratio+",scope=layer}", nil)
		pruned := g.Clone()
		mustRun(t, g, "share{bits=3}", nil)
		for _, name := range []string{"conv2", "fc1", "fc2"} {
			a, b := pruned.Lookup(name).Args[1].Const, decoded(t, g.Lookup(name).Args[1])
			for i := range a.F32 {
				if (a.F32[i] == 0) != (b.F32[i] == 0) {
					t.Fatalf("ratio %s, %s: zero pattern changed at %d (%v → %v)", ratio, name, i, a.F32[i], b.F32[i])
				}
			}
		}
		roundTrip(t, g)
	}
}

// prune → quantize → share: an int8 codebook under the per-channel scales;
// rt runs the integer graph on decoded weights.
func TestShareAfterQuantize(t *testing.T) {
	g0 := compressNet(t)
	data := randomData(t, g0, 32)
	g := g0.Clone()
	mustRun(t, g, "prune{ratio=0.6,scope=layer},quantize,share{bits=4}", &Context{Data: data})
	q := g.Clone()
	if _, err := Decompress(q); err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, q, g, 0, 2)
	for _, v := range g.Values {
		if v.Op.Name == "codebook_decode" && v.Args[0].Type.DType != ir.I8 {
			t.Errorf("%s: codebook %v, want i8", v.Where(), v.Args[0].Type)
		}
	}
	roundTrip(t, g)
	if _, err := RunSpec(g0.Clone(), "share,quantize", &Context{Data: data}); err == nil {
		t.Errorf("share before quantize accepted")
	}
}

// ONNX has no codebook or CSR encoding: a compressed graph exports after
// Decompress, and the re-imported model computes the same outputs.
func TestCompressedONNXExport(t *testing.T) {
	g := compressNet(t)
	mustRun(t, g, "prune{ratio=0.8},lowrank{energy=0.9},share{bits=4},sparse", nil)
	if err := onnx.Export(g.Clone(), &bytes.Buffer{}); err == nil {
		t.Log("the exporter took codebook_decode / sparse_decode as they are")
	}
	d := g.Clone()
	if _, err := Decompress(d); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := onnx.Export(d, &buf); err != nil {
		t.Fatal(err)
	}
	h, err := onnx.ImportBytes("cnet.onnx", buf.Bytes(), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, g, h, 1e-4, 2)
}
