package passes

import (
	"fmt"
	"math"
	"math/rand"
	"sort"

	"github.com/pare-ml/pare/ir"
)

// share: k-means weight sharing per layer (Deep Compression's "trained
// quantization" without the retraining). Each conv / gemm / matmul weight
// becomes k = 2^bits shared values and a packed index per element:
//
//	%w.cb  = const f32[16] ...                       the codebook
//	%w.idx = const u8[N*bits/8] ...                  packed indices
//	%w     = codebook_decode %w.cb, %w.idx {bits=4} : f32[300,784]
//
// k-means is one-dimensional and deterministic (linear or seeded k-means++
// initialization). Pruned weights stay exactly zero: 0 is a fixed centroid,
// or, when at least half the weights are zero and it is smaller, only the
// non-zeros are indexed and a CSR sparse_decode places them. After
// quantize, the int8 weights are clustered into an int8 codebook (same
// per-channel scales). rt decodes constant codebooks once; codegen rejects
// codebook_decode as unsupported.
var sharePass = &Pass{
	Name:    "share",
	Summary: "k-means weight sharing per layer: codebook + packed indices (int8 codebook after quantize; zeros stay zero)",
	Options: []OptionDef{
		{Name: "bits", Kind: Int, Default: "4", Doc: "index bits; k = 2^bits shared values per layer"},
		{Name: "init", Kind: String, Default: "linear", Values: []string{"linear", "kmeans++"}, Doc: "centroid initialization"},
		{Name: "iters", Kind: Int, Default: "50", Doc: "k-means iterations (at most)"},
		{Name: "skip", Kind: List, Default: "", Doc: "layers (value or node names) left alone"},
		{Name: "min", Kind: Int, Default: "0", Doc: "layers with fewer weights are left alone"},
		{Name: "index", Kind: String, Default: "auto", Values: []string{"auto", "csr", "rel"}, Doc: "index encoding of sparse weights: CSR, relative (Deep Compression's gaps, zero fillers), or the smaller of the two (auto)"},
	},
	After:  []string{"canonicalize", "prune", "lowrank", "quantize"},
	Before: []string{"sparse"},
	New: func(o Options) (Func, error) {
		bits, iters := o.Int("bits"), o.Int("iters")
		if bits < 1 || bits > 8 {
			return nil, fmt.Errorf("bits %d (want 1..8)", bits)
		}
		pp := o.String("init") == "kmeans++"
		skip, minParams := o.List("skip"), o.Int("min")
		index := o.String("index")
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			n := 0
			for _, v := range append([]*ir.Value{}, g.Values...) {
				if !weightOp[v.Op.Name] || len(v.Args) < 2 || matchName(v, skip) {
					continue
				}
				w := v.Args[1]
				if !w.IsConst() || w.Const == nil || len(w.Const.Shape) < 2 || w.Const.Len() < minParams {
					continue
				}
				if t := w.Const.DType; t != ir.F32 && t != ir.I8 {
					continue
				}
				enc, note, err := shareWeight(g, w, bits, iters, pp, index)
				if err != nil {
					return fmt.Errorf("%s: %v", v.Where(), err)
				}
				if enc == nil {
					continue
				}
				v.Args[1] = enc
				n++
				rep.Notef("%s: %s", layerKey(v), note)
			}
			g.RemoveDead()
			topoSort(g)
			rep.Notef("%d weights shared with %d-bit indices", n, bits)
			return nil
		}, nil
	},
}

// shareWeight clusters constant w and returns the value that decodes it.
func shareWeight(g *ir.Graph, w *ir.Value, bits, iters int, pp bool, index string) (*ir.Value, string, error) {
	t := w.Const
	isInt := t.DType == ir.I8
	if q := w.Type.Quant; isInt && q == nil {
		return nil, "", nil
	}
	n := t.Len()
	vals := make([]float64, n)
	zeros := 0
	for i := range vals {
		vals[i] = t.At(i)
		if vals[i] == 0 {
			zeros++
		}
	}
	k := 1 << bits
	esize := t.DType.Size()
	rows := t.Shape[0]
	cols := n / rows
	idt := csrIndexType(cols)
	denseBytes := k*esize + (n*bits+7)/8
	nnz := n - zeros
	sparseBytes := k*esize + (nnz*bits+7)/8 + nnz*idt.Size() + 4*(rows+1)
	var pos []int
	for i, x := range vals {
		if x != 0 {
			pos = append(pos, i)
		}
	}
	relBits, relBytes := bestRelBits(pos, bits)
	relBytes += k * esize
	useRel := false
	switch index {
	case "csr":
		relBytes = math.MaxInt
	case "rel":
		sparseBytes = math.MaxInt
	}
	if relBytes < sparseBytes {
		sparseBytes, useRel = relBytes, true
	}
	useSparse := 2*zeros >= n && sparseBytes < denseBytes
	if min(denseBytes, sparseBytes) >= t.Len()*esize {
		return nil, "", nil
	}
	if useSparse && useRel {
		return shareRel(g, w, pos, bits, relBits, iters, pp, isInt)
	}
	// The elements the indices cover, and whether 0 is a fixed centroid.
	var xs []float64
	fixedZero := false
	if useSparse {
		for _, x := range vals {
			if x != 0 {
				xs = append(xs, x)
			}
		}
	} else {
		xs = vals
		fixedZero = zeros > 0
	}
	cents := kmeans1D(xs, k, iters, pp, fixedZero, isInt)
	cb := ir.NewTensor(t.DType, []int{len(cents)})
	for i, c := range cents {
		cb.Set(i, c)
	}
	packed := packIndices(assign1D(xs, cents), bits)
	var cq *ir.Quant
	if isInt {
		cq = ir.PerTensor(1, 0) // stored integers; the decoded weight carries the real scales
	}
	cbv := g.AddConst(w.Name+".codebook", cb, cq)
	ixv := g.AddConst(w.Name+".indices", packed, nil)
	cbv.Source, ixv.Source = w.Source, w.Source
	if !useSparse {
		dec, err := g.Add("codebook_decode", []*ir.Value{cbv, ixv}, ir.Attrs{"bits": ir.Int(bits)}, w.Type, w.Name+".shared", w.Source)
		if err != nil {
			return nil, "", err
		}
		return dec, fmt.Sprintf("%v: %d-entry codebook, %d → %d bytes", shortType(w.Type), len(cents), t.Len()*esize, denseBytes), nil
	}
	vt := ir.Type{DType: t.DType, Shape: []int{len(xs)}, Quant: cq}
	nzv, err := g.Add("codebook_decode", []*ir.Value{cbv, ixv}, ir.Attrs{"bits": ir.Int(bits)}, vt, w.Name+".nz", w.Source)
	if err != nil {
		return nil, "", err
	}
	col := ir.NewTensor(idt, []int{len(xs)})
	ptr := ir.NewTensor(ir.I32, []int{rows + 1})
	kk := 0
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if vals[r*cols+c] != 0 {
				col.SetInt(kk, int64(c))
				kk++
			}
		}
		ptr.I32[r+1] = int32(kk)
	}
	cv := g.AddConst(w.Name+".colidx", col, nil)
	pv := g.AddConst(w.Name+".rowptr", ptr, nil)
	cv.Source, pv.Source = w.Source, w.Source
	dec, err := g.Add("sparse_decode", []*ir.Value{nzv, cv, pv}, nil, w.Type, w.Name+".shared", w.Source)
	if err != nil {
		return nil, "", err
	}
	return dec, fmt.Sprintf("%v: %d-entry codebook over %d non-zeros (CSR), %d → %d bytes", shortType(w.Type), len(cents), nnz, t.Len()*esize, sparseBytes), nil
}

// shareRel clusters the non-zeros of w (at pos) and stores them with
// relative indices of relBits: sparse_rel_decode(codebook_decode(codebook,
// indices), gaps). Zero fillers index a fixed 0 centroid.
func shareRel(g *ir.Graph, w *ir.Value, pos []int, bits, relBits, iters int, pp, isInt bool) (*ir.Value, string, error) {
	t := w.Const
	gaps, at := relLayout(pos, relBits)
	var xs []float64
	fillers := 0
	for _, p := range at {
		if p >= 0 {
			xs = append(xs, t.At(p))
		} else {
			fillers++
		}
	}
	cents := kmeans1D(xs, 1<<bits, iters, pp, fillers > 0, isInt)
	cb := ir.NewTensor(t.DType, []int{len(cents)})
	for i, c := range cents {
		cb.Set(i, c)
	}
	stored := make([]float64, len(at))
	for k, p := range at {
		if p >= 0 {
			stored[k] = t.At(p)
		}
	}
	idx := assign1D(stored, cents)
	if fillers > 0 { // fillers must decode to exactly 0
		z := sort.SearchFloat64s(cents, 0)
		for k, p := range at {
			if p < 0 {
				idx[k] = z
			}
		}
	}
	var cq *ir.Quant
	if isInt {
		cq = ir.PerTensor(1, 0)
	}
	cbv := g.AddConst(w.Name+".codebook", cb, cq)
	ixv := g.AddConst(w.Name+".indices", packIndices(idx, bits), nil)
	gv := g.AddConst(w.Name+".gaps", packIndices(gaps, relBits), nil)
	cbv.Source, ixv.Source, gv.Source = w.Source, w.Source, w.Source
	vt := ir.Type{DType: t.DType, Shape: []int{len(at)}, Quant: cq}
	nzv, err := g.Add("codebook_decode", []*ir.Value{cbv, ixv}, ir.Attrs{"bits": ir.Int(bits)}, vt, w.Name+".nz", w.Source)
	if err != nil {
		return nil, "", err
	}
	dec, err := g.Add("sparse_rel_decode", []*ir.Value{nzv, gv}, ir.Attrs{"bits": ir.Int(relBits)}, w.Type, w.Name+".shared", w.Source)
	if err != nil {
		return nil, "", err
	}
	size := cb.Len()*t.DType.Size() + ixv.Const.Len() + gv.Const.Len()
	return dec, fmt.Sprintf("%v: %d-entry codebook over %d non-zeros, %d-bit relative indices (%d fillers), %d → %d bytes",
		shortType(w.Type), len(cents), len(pos), relBits, fillers, t.Len()*t.DType.Size(), size), nil
}

// kmeans1D clusters xs into at most k centroids (sorted; with fixedZero,
// 0 is one of them and never moves). Integer centroids are rounded.
func kmeans1D(xs []float64, k, iters int, pp, fixedZero, integer bool) []float64 {
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return []float64{0}
	}
	lo, hi := s[0], s[len(s)-1]
	free := k
	if fixedZero {
		free--
	}
	var c []float64
	if pp {
		r := rand.New(rand.NewSource(1))
		c = append(c, s[r.Intn(len(s))])
		d := make([]float64, len(s))
		for len(c) < free {
			tot := 0.0
			for i, x := range s {
				d[i] = math.Inf(1)
				for _, y := range c {
					d[i] = math.Min(d[i], (x-y)*(x-y))
				}
				tot += d[i]
			}
			if tot == 0 {
				break
			}
			u := r.Float64() * tot
			i := 0
			for ; i < len(s)-1 && u > d[i]; i++ {
				u -= d[i]
			}
			c = append(c, s[i])
		}
	} else {
		for i := 0; i < free; i++ {
			if free == 1 {
				c = append(c, (lo+hi)/2)
				continue
			}
			c = append(c, lo+(hi-lo)*float64(i)/float64(free-1))
		}
	}
	if fixedZero {
		c = append(c, 0)
	}
	c = dedupe(c)
	for it := 0; it < iters; it++ {
		sum := make([]float64, len(c))
		cnt := make([]int, len(c))
		for i, a := range assign1D(s, c) {
			sum[a] += s[i]
			cnt[a]++
		}
		moved := false
		for j := range c {
			if cnt[j] == 0 || fixedZero && c[j] == 0 {
				continue
			}
			m := sum[j] / float64(cnt[j])
			if integer {
				m = math.Round(m)
			}
			if m != c[j] {
				c[j], moved = m, true
			}
		}
		c = dedupe(c)
		if !moved {
			break
		}
	}
	if integer {
		for j := range c {
			c[j] = math.Round(c[j])
		}
		c = dedupe(c)
	}
	return c
}

// dedupe sorts c and drops repeated centroids.
func dedupe(c []float64) []float64 {
	sort.Float64s(c)
	out := c[:0]
	for i, x := range c {
		if i == 0 || x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// assign1D maps each x to its nearest centroid of the sorted list c.
func assign1D(xs, c []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		j := sort.SearchFloat64s(c, x)
		switch {
		case j == len(c):
			j--
		case j > 0 && x-c[j-1] <= c[j]-x:
			j--
		}
		out[i] = j
	}
	return out
}

// packIndices packs bits-wide indices little-endian into bytes, as
// rt.CodebookIndex reads them.
func packIndices(idx []int, bits int) *ir.Tensor {
	t := ir.NewTensor(ir.U8, []int{(len(idx)*bits + 7) / 8})
	for i, x := range idx {
		pos := i * bits
		for b := 0; b < bits; b++ {
			if x>>b&1 != 0 {
				t.U8[(pos+b)/8] |= 1 << ((pos + b) % 8)
			}
		}
	}
	return t
}
