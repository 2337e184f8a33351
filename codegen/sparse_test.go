package codegen

import (
	"math"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/ir"
)

// TestSparseLowering: the sparse cases lower to sparse steps whose encoded
// weights decode (DecodeSparse, the format's reference reading) to exactly
// the dense weights, with plain zeros (auto), with the IR's relative and
// codebook encodings (compressed), and not at all with dense.
func TestSparseLowering(t *testing.T) {
	for _, tc := range []struct{ encode, mode string }{
		{"", WeightsAuto},
		{"sparse{min=0.5}", WeightsCompressed},
		{"share{bits=4},sparse{min=0.5}", WeightsCompressed},
		{"share{bits=4}", WeightsAuto},
		{"share{bits=3}", WeightsDense},
	} {
		g, _, err := codegentest.SparseGraph(tc.encode)
		if err != nil {
			t.Fatal(err)
		}
		p, err := LowerWith(g, Options{Weights: tc.mode})
		if err != nil {
			t.Fatalf("%s: %v", tc.encode, err)
		}
		dg, _, err := decodeConstants(g)
		if err != nil {
			t.Fatal(err)
		}
		nsparse, coded := 0, 0
		for _, st := range p.Steps {
			if st.Sparse == nil {
				continue
			}
			nsparse++
			if st.Sparse.IdxBits > 0 {
				coded++
			}
			got, err := DecodeSparse(p, st)
			if err != nil {
				t.Fatal(err)
			}
			want := denseOf(t, dg, st)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %s: weight %d decodes to %#x, want %#x", tc.encode, st.Where, i, got[i], want[i])
				}
			}
		}
		t.Logf("%q %s: %d sparse steps (%d with codebooks), weights %d bytes", tc.encode, tc.mode, nsparse, coded, len(p.Weights))
		switch {
		case tc.mode == WeightsDense && nsparse != 0:
			t.Errorf("dense mode made %d sparse steps", nsparse)
		case tc.mode != WeightsDense && nsparse < 10:
			t.Errorf("%q %s: only %d sparse steps", tc.encode, tc.mode, nsparse)
		case tc.encode != "" && tc.encode[:5] == "share" && tc.mode != WeightsDense && coded < nsparse/2:
			t.Errorf("shared weights: only %d of %d sparse steps use codebooks", coded, nsparse)
		}
	}
}

// denseOf returns the expected [Rows, Cols] weights of a sparse step, from
// the graph whose encodings were decoded.
func denseOf(t *testing.T, g *ir.Graph, st *Step) []int64 {
	t.Helper()
	var v *ir.Value
	for _, u := range g.Values {
		if u.Where() == st.Where {
			v = u
		}
	}
	if v == nil {
		t.Fatalf("no value %s", st.Where)
	}
	w := v.Args[1]
	for w.Op.Name == "reshape" {
		w = w.Args[0]
	}
	wt := w.Const
	s := st.Sparse
	out := make([]int64, s.Rows*s.Cols)
	get := func(i int) int64 {
		if wt.DType == ir.F32 {
			if wt.F32[i] == 0 {
				return 0
			}
			return int64(math.Float32bits(wt.F32[i]))
		}
		return wt.IntAt(i)
	}
	switch {
	case st.Kernel == KSparseConv:
		for i := range out {
			out[i] = get(i)
		}
	case v.Op.Name == "gemm" && v.Int("trans_b") != 0:
		for i := range out {
			out[i] = get(i)
		}
	default: // B [K, N] → Bᵀ
		for n := 0; n < s.Rows; n++ {
			for k := 0; k < s.Cols; k++ {
				out[n*s.Cols+k] = get(k*s.Rows + n)
			}
		}
	}
	return out
}
