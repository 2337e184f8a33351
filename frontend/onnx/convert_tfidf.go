package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// convTfIdfVectorizer: the pool and the attributes are constants, so the
// n-gram counts are equality tests. For each gram length n in
// [min_gram_length, max_gram_length] and skip s in [0, max_skip_count]
// (one pass for n = 1: a unigram has no gaps), the n shifted views
// x[..., j(s+1) : j(s+1)+L] (L = C − (n−1)(s+1)) are compared with the
// pool's K n-grams' j-th tokens (a constant [K, 1]), anded, cast to f32 and
// summed over the positions: counts [..., K]. A matmul by a constant 0/1
// [K, D] matrix places them at their ngram_indexes columns (duplicate
// columns add), summed over n and s. TF is the result, IDF weights[k]
// where it is > 0, TFIDF it times weights[k], for the pool n-gram k whose
// ngram_indexes entry is the column (default 1; with duplicate entries the
// last n-gram's weight).
func convTfIdfVectorizer(c *nodeCtx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if c.has("pool_strings") {
		return c.unsupported("pool_strings: pare has no string tensors; only pool_int64s with int32/int64 input is supported")
	}
	if dt := x.Type.DType; (dt != ir.I32 && dt != ir.I64) || x.Type.Quant != nil {
		return c.unsupported("input X is %v; pare supports int32 or int64 X only (no string tensors)", x.Type)
	}
	shape := x.Type.Shape
	if len(shape) != 1 && len(shape) != 2 {
		return c.errf("input X has shape %v; want [C] or [N, C]", shape)
	}
	minN, maxN, maxSkip := c.int("min_gram_length", 0), c.int("max_gram_length", 0), c.int("max_skip_count", 0)
	if minN < 1 || maxN < minN || maxSkip < 0 {
		return c.errf("min_gram_length %d, max_gram_length %d and max_skip_count %d must satisfy 1 <= min <= max and skip >= 0", minN, maxN, maxSkip)
	}
	mode := c.str("mode", "")
	if mode != "TF" && mode != "IDF" && mode != "TFIDF" {
		return c.errf("mode %q must be TF, IDF or TFIDF", mode)
	}
	var pool []int64
	if a := c.attr("pool_int64s"); a != nil && c.kindOK(a, onnxpb.AttributeProto_INTS) {
		pool = a.GetInts()
	}
	counts, idxs := c.ints("ngram_counts"), c.ints("ngram_indexes")
	if len(pool) == 0 || len(counts) == 0 || len(idxs) == 0 {
		return c.errf("pool_int64s, ngram_counts and ngram_indexes must be non-empty")
	}
	// Pool n-grams of length n are pool[counts[n-1] : counts[n]] (the last
	// run ends at the pool's end).
	type run struct{ start, k, first int } // first: the global n-gram index
	runs := make([]run, len(counts))
	total := 0
	for i, st := range counts {
		end := len(pool)
		if i+1 < len(counts) {
			end = counts[i+1]
		}
		n := i + 1
		if st < 0 || end < st || end > len(pool) || (end-st)%n != 0 {
			return c.errf("ngram_counts %v does not split the %d pool_int64s into runs of %d-grams", counts, len(pool), n)
		}
		runs[i] = run{st, (end - st) / n, total}
		total += (end - st) / n
	}
	if len(idxs) != total {
		return c.errf("ngram_indexes has %d entries for the %d pool n-grams", len(idxs), total)
	}
	d := 0
	for _, v := range idxs {
		if v < 0 {
			return c.errf("ngram_indexes has a negative entry %d", v)
		}
		d = max(d, v+1)
	}
	if d > 1<<20 {
		return c.errf("max(ngram_indexes)+1 = %d output columns is too large", d)
	}
	w := c.floats("weights")
	if len(w) > 0 && len(w) != total {
		return c.errf("weights has %d entries for the %d pool n-grams", len(w), total)
	}
	lead := shape[:len(shape)-1]
	cLen := shape[len(shape)-1]
	outShape := append(append([]int{}, lead...), d)
	b := c.build()
	var sum *ir.Value
	for n := minN; n <= min(maxN, len(runs)); n++ {
		r := runs[n-1]
		if r.k == 0 {
			continue
		}
		place := ir.NewTensor(ir.F32, []int{r.k, d})
		for j := range r.k {
			place.F32[j*d+idxs[r.first+j]] = 1
		}
		placeV := c.constant(c.tmpName(fmt.Sprintf("place%d", n)), place, nil)
		skips := maxSkip
		if n == 1 {
			skips = 0
		}
		for s := 0; s <= skips; s++ {
			l := cLen - (n-1)*(s+1)
			if l <= 0 {
				break
			}
			var all *ir.Value
			for j := range n {
				tok := ir.NewTensor(x.Type.DType, []int{r.k, 1})
				for g := range r.k {
					v := pool[r.start+g*n+j]
					if x.Type.DType == ir.I32 {
						tok.I32[g] = int32(v)
					} else {
						tok.I64[g] = v
					}
				}
				tag := fmt.Sprintf("n%d_s%d_t%d", n, s, j)
				tokV := c.constant(c.tmpName(tag+"_pool"), tok, nil)
				st := make([]int, len(shape))
				en := append([]int{}, shape...)
				sp := ones(len(shape))
				st[len(shape)-1] = j * (s + 1)
				en[len(shape)-1] = j*(s+1) + l
				view := b.op("slice", tag+"_view", ir.Attrs{"starts": ir.Ints(st...), "ends": ir.Ints(en...), "steps": ir.Ints(sp...)}, x)
				view = b.reshape(tag+"_row", view, append(append([]int{}, lead...), 1, l))
				eq := b.op("equal", tag+"_eq", nil, view, tokV)
				if all == nil {
					all = eq
				} else {
					all = b.op("and", tag+"_and", nil, all, eq)
				}
			}
			tag := fmt.Sprintf("n%d_s%d", n, s)
			hits := b.typed("cast", tag+"_hits", nil, ir.Type{DType: ir.F32}, all)
			cnt := b.reduce("reduce_sum", tag+"_count", hits, []int{len(shape)}, false)
			cols := b.op("matmul", tag+"_cols", nil, cnt, placeV)
			if sum == nil {
				sum = cols
			} else {
				sum = b.op("add", tag+"_sum", nil, sum, cols)
			}
		}
	}
	if b.err != nil {
		return b.err
	}
	if sum == nil { // no n-gram fits in C: all zeros
		return b.finish(c.constant(c.tmpName("zeros"), ir.NewTensor(ir.F32, outShape), nil))
	}
	if mode == "TF" {
		return b.finish(sum)
	}
	wt := ir.NewTensor(ir.F32, []int{d})
	for i := range wt.F32 {
		wt.F32[i] = 1
	}
	for k, col := range idxs { // pool n-gram k's weight at its column
		if len(w) > 0 {
			wt.F32[col] = w[k]
		}
	}
	wv := c.constant(c.tmpName("weights"), wt, nil)
	if mode == "IDF" {
		pos := b.op("greater", "present", nil, sum, b.k("zero", 0))
		return b.finish(b.op("where", "", nil, pos, wv, b.k("zero_w", 0)))
	}
	return b.finish(b.op("mul", "", nil, sum, wv))
}
