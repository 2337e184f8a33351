package onnx

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"google.golang.org/protobuf/proto"
)

// TfIdfVectorizer (convert_tfidf.go) with X a graph input: TF, IDF and
// TFIDF, min_gram_length 1 and 2, max_skip_count 0 and 3, [C] and [N, C],
// int32 and int64, a pool of unigrams, bigrams and trigrams over a small
// vocabulary (so that n-grams repeat) with permuted ngram_indexes and
// unequal weights. Checked in rt against a float64 reference written per
// output element from ONNX's semantics, run in ONNX Runtime (without
// -short) and compiled (LLVM; the Go backend too without -short).

type tfidfCase struct {
	name         string
	x            []int // [C] or [N, C]
	i32          bool
	minN, maxN   int
	skip         int
	mode         string
	weights      bool
	counts, idxs []int64
	pool         []int64
	w            []float32
	seed         int64
}

// The pool: 4 unigrams, 4 bigrams, 3 trigrams (11 n-grams) over tokens 0-4.
var (
	tfidfPool   = []int64{0, 2, 3, 4, 0, 1, 2, 2, 1, 0, 3, 3, 0, 1, 2, 2, 2, 2, 1, 1, 0}
	tfidfCounts = []int64{0, 4, 12}
	tfidfIdxs   = []int64{3, 10, 0, 7, 1, 9, 4, 2, 8, 5, 6}
)

func tfidfCases() []tfidfCase {
	cs := []tfidfCase{
		{x: []int{12}, minN: 1, maxN: 1, skip: 0, mode: "TF"},
		{x: []int{12}, minN: 1, maxN: 2, skip: 0, mode: "TF", i32: true},
		{x: []int{3, 10}, minN: 1, maxN: 3, skip: 3, mode: "TF"},
		{x: []int{2, 9}, minN: 2, maxN: 2, skip: 3, mode: "TF", i32: true},
		{x: []int{14}, minN: 2, maxN: 3, skip: 0, mode: "IDF", weights: true},
		{x: []int{3, 8}, minN: 1, maxN: 2, skip: 3, mode: "IDF", i32: true},
		{x: []int{2, 11}, minN: 1, maxN: 3, skip: 3, mode: "IDF", weights: true, i32: true},
		{x: []int{13}, minN: 1, maxN: 3, skip: 3, mode: "TFIDF", weights: true},
		{x: []int{2, 7}, minN: 2, maxN: 3, skip: 0, mode: "TFIDF", weights: true, i32: true},
		{x: []int{4, 6}, minN: 1, maxN: 2, skip: 3, mode: "TFIDF"},
		{x: []int{2}, minN: 3, maxN: 3, skip: 3, mode: "TF"}, // no trigram fits: zeros
	}
	for i := range cs {
		tc := &cs[i]
		tc.seed = int64(i + 1)
		tc.counts, tc.idxs, tc.pool = tfidfCounts, tfidfIdxs, tfidfPool
		if tc.weights {
			tc.w = make([]float32, len(tc.idxs))
			for j := range tc.w {
				tc.w[j] = 0.25 + 0.5*float32(j)
			}
		}
		dt := "i64"
		if tc.i32 {
			dt = "i32"
		}
		tc.name = fmt.Sprintf("%s_x%v_%s_n%d-%d_skip%d_w%v", tc.mode, tc.x, dt, tc.minN, tc.maxN, tc.skip, tc.weights)
	}
	return cs
}

func (tc tfidfCase) dtype() (ir.DType, int32) {
	if tc.i32 {
		return ir.I32, dtInt32
	}
	return ir.I64, dtInt64
}

// data is X: tokens in [0, 5) (4 is in no pool n-gram but unigram 4).
func (tc tfidfCase) data() *ir.Tensor {
	r := rand.New(rand.NewSource(tc.seed))
	dt, _ := tc.dtype()
	x := ir.NewTensor(dt, tc.x)
	for i := range x.Len() {
		v := r.Intn(5)
		if dt == ir.I32 {
			x.I32[i] = int32(v)
		} else {
			x.I64[i] = int64(v)
		}
	}
	return x
}

func (tc tfidfCase) cols() int { return int(slices.Max(tc.idxs)) + 1 }

func (tc tfidfCase) attrs() []*attrProto {
	a := []*attrProto{
		aInt("min_gram_length", int64(tc.minN)), aInt("max_gram_length", int64(tc.maxN)),
		aInt("max_skip_count", int64(tc.skip)), aStr("mode", tc.mode),
		aInts("ngram_counts", tc.counts...), aInts("ngram_indexes", tc.idxs...), aInts("pool_int64s", tc.pool...),
	}
	if tc.w != nil {
		a = append(a, &onnxpb.AttributeProto{Name: proto.String("weights"), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: tc.w})
	}
	return a
}

func (tc tfidfCase) outShape() []int {
	return append(append([]int{}, tc.x[:len(tc.x)-1]...), tc.cols())
}

func (tc tfidfCase) addTo(m *mb, p string) *mb {
	_, dt := tc.dtype()
	m.input(p+"x", dt, dims64(tc.x)...)
	return m.node("TfIdfVectorizer", []string{p + "x"}, []string{p + "y"}, tc.attrs()...).output(p + "y")
}

// ref computes Y per output element in float64 from ONNX's semantics: in
// each row, for each n in [min, max] and skip s in [0, max_skip_count]
// (s = 0 only for n = 1), every start i with i + (n−1)(s+1) < C gives the
// n-gram x[i], x[i+s+1], ...; each equal pool n-gram k adds 1 to column
// ngram_indexes[k]. TF is that count f, IDF weights[k] where f > 0,
// TFIDF f·weights[k], k the pool n-gram of the column (weights 1 when
// absent; ONNX Runtime agrees: weights follow the pool, not the columns).
func (tc tfidfCase) ref() *ir.Tensor {
	x := tc.data()
	c := tc.x[len(tc.x)-1]
	rows := x.Len() / c
	d := tc.cols()
	y := ir.NewTensor(ir.F32, tc.outShape())
	for row := range rows {
		freq := make([]float64, d)
		k := 0 // global pool n-gram index of the run's first n-gram
		for ni, st := range tc.counts {
			n := ni + 1
			end := int64(len(tc.pool))
			if ni+1 < len(tc.counts) {
				end = tc.counts[ni+1]
			}
			kn := int(end-st) / n
			if n >= tc.minN && n <= tc.maxN {
				skips := tc.skip
				if n == 1 {
					skips = 0
				}
				for s := 0; s <= skips; s++ {
					for i := 0; i+(n-1)*(s+1) < c; i++ {
						for g := range kn {
							match := true
							for j := range n {
								if x.IntAt(row*c+i+j*(s+1)) != tc.pool[int(st)+g*n+j] {
									match = false
								}
							}
							if match {
								freq[tc.idxs[k+g]]++
							}
						}
					}
				}
			}
			k += kn
		}
		wcol := make([]float64, d) // pool n-gram k's weight at column ngram_indexes[k]
		for k, col := range tc.idxs {
			wcol[col] = 1
			if tc.w != nil {
				wcol[col] = float64(tc.w[k])
			}
		}
		for o := range d {
			w := wcol[o]
			v := freq[o]
			switch tc.mode {
			case "IDF":
				if v > 0 {
					v = w
				}
			case "TFIDF":
				v *= w
			}
			y.F32[row*d+o] = float32(v)
		}
	}
	return y
}

const tfidfTol = 1e-6

// TestTfIdfVectorizerOps runs every case in rt against the reference and
// lowers it with codegen.
func TestTfIdfVectorizerOps(t *testing.T) {
	for _, tc := range tfidfCases() {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.addTo(newModel(9), "").mustLoad(t, Options{})
			got, err := rt.Run(g, []*ir.Tensor{tc.data()})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.ref()
			if err := allClose(got[0], want, tfidfTol, tfidfTol); err != nil {
				t.Errorf("rt against the reference: %v", err)
			}
			if _, err := codegen.Lower(g); err != nil {
				t.Errorf("codegen.Lower: %v", err)
			}
		})
	}
}

// tfidfGroups: one opset-9 model of all the cases.
func tfidfGroups() []feedGroup {
	return feedGroups(tfidfCases(), func(tfidfCase) int64 { return 9 }, func(g *feedGroup, tc tfidfCase, p string) {
		tc.addTo(g.m, p)
		g.feeds = append(g.feeds, ortFeed{p + "x", tc.data()})
		g.outs = append(g.outs, p+"y")
		g.want = append(g.want, tc.ref())
	})
}

// TestTfIdfVectorizerORT runs the cases in ONNX Runtime and compares its
// outputs with the references and rt's.
func TestTfIdfVectorizerORT(t *testing.T) {
	node, dir := ortOrSkip(t)
	for _, fg := range tfidfGroups() {
		fg.checkORT(t, node, dir, tfidfTol)
	}
}

// TestTfIdfVectorizerCompiled builds the cases with the compiled backends.
func TestTfIdfVectorizerCompiled(t *testing.T) {
	for _, fg := range tfidfGroups() {
		fg.checkCompiled(t, tfidfTol)
	}
}

// TestTfIdfVectorizerErrors: unsupported or malformed nodes fail at import
// naming the node and the reason.
func TestTfIdfVectorizerErrors(t *testing.T) {
	base := tfidfCases()[0]
	node := func(dt int32, shape []int64, attrs ...*attrProto) *mb {
		return newModel(9).input("x", dt, shape...).node("TfIdfVectorizer", []string{"x"}, []string{"y"}, attrs...).output("y")
	}
	with := func(name string, a *attrProto) []*attrProto {
		var out []*attrProto
		for _, b := range base.attrs() {
			if b.GetName() != name {
				out = append(out, b)
			}
		}
		return append(out, a)
	}
	strs := &onnxpb.AttributeProto{Name: proto.String("pool_strings"), Type: onnxpb.AttributeProto_STRINGS.Enum(), Strings: [][]byte{[]byte("a")}}
	for _, tc := range []struct {
		name  string
		m     *mb
		want  string
		unsup bool
	}{
		{"pool_strings", node(dtInt64, []int64{4}, append(base.attrs(), strs)...), "pool_strings", true},
		{"float X", node(dtFloat, []int64{4}, base.attrs()...), "int32 or int64 X only", true},
		{"3-D X", node(dtInt64, []int64{2, 2, 4}, base.attrs()...), "want [C] or [N, C]", false},
		{"mode", node(dtInt64, []int64{4}, with("mode", aStr("mode", "BM25"))...), `mode "BM25"`, false},
		{"counts", node(dtInt64, []int64{4}, with("ngram_counts", aInts("ngram_counts", 0, 3, 12))...), "does not split", false},
		{"indexes", node(dtInt64, []int64{4}, with("ngram_indexes", aInts("ngram_indexes", 0, 1))...), "ngram_indexes has 2 entries", false},
		{"grams", node(dtInt64, []int64{4}, with("min_gram_length", aInt("min_gram_length", 3))...), "min_gram_length 3", false},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "node ") {
			t.Errorf("%s: err = %v, want one naming the node and %q", tc.name, err, tc.want)
		}
		var u *UnsupportedError
		if isU := errors.As(err, &u); isU != tc.unsup {
			t.Errorf("%s: err = %v (%T): an *UnsupportedError: %v", tc.name, err, err, isU)
		}
	}
}
