package passes

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// sparse: store weights that have enough exact zeros in CSR form —
// %w = sparse_decode %values, %colidx, %rowptr — when that is smaller than
// the dense tensor: values, column indices (u8 / i16 / i32, as narrow as the
// row length allows) and i32 row pointers, over the weight viewed as
// [shape[0], rest]. f32 and quantized i8 / u8 weights are encoded. rt
// runs f32 conv / gemm / matmul directly on the CSR form when it is sparse
// enough (rt.SparseWinDensity); codegen rejects sparse_decode as unsupported.
var sparsePass = &Pass{
	Name:    "sparse",
	Summary: "store pruned weights sparse, as CSR (values, column indices, row pointers) or relative indices (gaps), where smaller than dense",
	Options: []OptionDef{
		{Name: "min", Kind: Float, Default: "0.5", Doc: "minimum fraction of zeros for a weight to be encoded"},
		{Name: "index", Kind: String, Default: "auto", Values: []string{"auto", "csr", "rel"}, Doc: "index encoding: CSR (u8/i16 column indices, i32 row pointers), relative (Deep Compression's gaps of 1..8 bits, zero fillers), or the smaller of the two (auto)"},
		{Name: "skip", Kind: List, Default: "", Doc: "layers (value or node names) left dense"},
	},
	After: []string{"canonicalize", "prune", "quantize", "share"},
	New: func(o Options) (Func, error) {
		minZeros := o.Float("min")
		skip := o.List("skip")
		index := o.String("index")
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			n := 0
			for _, v := range append([]*ir.Value{}, g.Values...) {
				if !weightOp[v.Op.Name] || len(v.Args) < 2 || matchName(v, skip) {
					continue
				}
				w := v.Args[1]
				if !w.IsConst() || w.Const == nil || len(w.Const.Shape) < 2 {
					continue
				}
				enc, err := encodeSparse(g, w, minZeros, index)
				if err != nil {
					return err
				}
				if enc == nil {
					continue
				}
				v.Args[1] = enc
				n++
				form := "CSR"
				if enc.Op.Name == "sparse_rel_decode" {
					form = fmt.Sprintf("%d-bit relative indices", enc.Int("bits"))
				}
				rep.Notef("%s: %v stored with %s, %d values, %d → %d bytes", layerKey(v), shortType(w.Type), form, enc.Args[0].Type.NumElements(),
					w.Type.Bytes(), csrBytes(enc))
			}
			g.RemoveDead()
			topoSort(g)
			rep.Notef("%d weights stored sparse", n)
			return nil
		}, nil
	},
}

var weightOp = map[string]bool{"conv": true, "gemm": true, "matmul": true}

func csrBytes(v *ir.Value) int {
	b := 0
	for _, a := range v.Args {
		b += a.Type.Bytes()
	}
	return b
}

// csrIndexType is the narrowest column index type for rows of n columns.
func csrIndexType(n int) ir.DType {
	switch {
	case n <= 256:
		return ir.U8
	case n <= 65536:
		return ir.I16 // read unsigned by rt
	}
	return ir.I32
}

// relLayout places the non-zero positions pos (increasing, in a row-major
// tensor) in a relative-index stream of bits-wide gaps: it returns, per
// stored element, its gap and its position, -1 for a zero filler (inserted
// when a gap exceeds 2^bits-1).
func relLayout(pos []int, bits int) (gaps, at []int) {
	maxGap := 1<<bits - 1
	prev := -1
	for _, p := range pos {
		for p-prev-1 > maxGap {
			gaps = append(gaps, maxGap)
			at = append(at, -1)
			prev += maxGap + 1
		}
		gaps = append(gaps, p-prev-1)
		at = append(at, p)
		prev = p
	}
	return gaps, at
}

// relStored is the number of elements (values and fillers) the relative
// encoding of pos with bits-wide gaps stores.
func relStored(pos []int, bits int) int {
	maxGap := 1<<bits - 1
	n, prev := 0, -1
	for _, p := range pos {
		n += (p-prev-1)/(maxGap+1) + 1
		prev = p
	}
	return n
}

// bestRelBits returns the gap width (1..8) minimizing the bytes of a
// relative encoding whose stored elements cost valueBits each (plus
// fixed bytes), and those bytes.
func bestRelBits(pos []int, valueBits int) (int, int) {
	best, bestBytes := 0, -1
	for b := 1; b <= 8; b++ {
		n := relStored(pos, b)
		bytes := (n*valueBits+7)/8 + (n*b+7)/8
		if bestBytes < 0 || bytes < bestBytes {
			best, bestBytes = b, bytes
		}
	}
	return best, bestBytes
}

// encodeSparse encodes constant w as CSR or with relative indices (index:
// "csr", "rel" or "auto", the smaller), or returns nil when w has fewer
// than minZeros zeros or no encoding is smaller than dense.
func encodeSparse(g *ir.Graph, w *ir.Value, minZeros float64, index string) (*ir.Value, error) {
	var csr *ir.Value
	var err error
	if index != "rel" {
		if csr, err = encodeCSR(g, w, minZeros); err != nil {
			return nil, err
		}
		if index == "csr" {
			return csr, nil
		}
	}
	rel, err := encodeRel(g, w, minZeros)
	if err != nil {
		return nil, err
	}
	if rel == nil || csr != nil && csrBytes(csr) <= csrBytes(rel) {
		return csr, nil
	}
	return rel, nil
}

// encodeRel builds the relative-index encoding of constant w (appended to
// g, not yet used), or nil as encodeCSR.
func encodeRel(g *ir.Graph, w *ir.Value, minZeros float64) (*ir.Value, error) {
	t := w.Const
	if t.DType != ir.F32 && t.DType != ir.I8 && t.DType != ir.U8 {
		return nil, nil
	}
	if q := w.Type.Quant; q != nil {
		for _, z := range q.ZeroPoint {
			if z != 0 {
				return nil, nil
			}
		}
	}
	var pos []int
	for i := 0; i < t.Len(); i++ {
		if t.At(i) != 0 {
			pos = append(pos, i)
		}
	}
	if float64(t.Len()-len(pos)) < minZeros*float64(t.Len()) {
		return nil, nil
	}
	bits, size := bestRelBits(pos, 8*t.DType.Size())
	if size >= t.Len()*t.DType.Size() {
		return nil, nil
	}
	gaps, at := relLayout(pos, bits)
	vals := ir.NewTensor(t.DType, []int{len(at)})
	for k, p := range at {
		if p >= 0 {
			vals.Set(k, t.At(p))
		}
	}
	var vq *ir.Quant
	if q := w.Type.Quant; q != nil && q.Axis < 0 {
		vq = q
	}
	vv := g.AddConst(w.Name+".values", vals, vq)
	gv := g.AddConst(w.Name+".gaps", packIndices(gaps, bits), nil)
	vv.Source, gv.Source = w.Source, w.Source
	dec, err := g.Add("sparse_rel_decode", []*ir.Value{vv, gv}, ir.Attrs{"bits": ir.Int(bits)}, w.Type, w.Name+".rel", w.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", w.Where(), err)
	}
	return dec, nil
}

// encodeCSR builds the CSR encoding of constant w (appended to g, not yet
// used), or nil when w has fewer than minZeros zeros or CSR is not smaller.
func encodeCSR(g *ir.Graph, w *ir.Value, minZeros float64) (*ir.Value, error) {
	t := w.Const
	if t.DType != ir.F32 && t.DType != ir.I8 && t.DType != ir.U8 {
		return nil, nil
	}
	zero := 0.0
	if q := w.Type.Quant; q != nil {
		for _, z := range q.ZeroPoint {
			if z != 0 {
				return nil, nil // zero is not the stored 0
			}
		}
	}
	n := t.Len()
	rows := t.Shape[0]
	cols := n / rows
	nnz := 0
	for i := 0; i < n; i++ {
		if t.At(i) != zero {
			nnz++
		}
	}
	if float64(n-nnz) < minZeros*float64(n) {
		return nil, nil
	}
	idt := csrIndexType(cols)
	size := nnz*(t.DType.Size()+idt.Size()) + 4*(rows+1)
	if size >= t.Len()*t.DType.Size() {
		return nil, nil
	}
	vals := ir.NewTensor(t.DType, []int{nnz})
	col := ir.NewTensor(idt, []int{nnz})
	ptr := ir.NewTensor(ir.I32, []int{rows + 1})
	k := 0
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			i := r*cols + c
			if t.At(i) == zero {
				continue
			}
			switch t.DType {
			case ir.F32:
				vals.F32[k] = t.F32[i]
			case ir.I8:
				vals.I8[k] = t.I8[i]
			case ir.U8:
				vals.U8[k] = t.U8[i]
			}
			col.SetInt(k, int64(c))
			k++
		}
		ptr.I32[r+1] = int32(k)
	}
	var vq *ir.Quant
	if q := w.Type.Quant; q != nil && q.Axis < 0 {
		vq = q
	}
	vv := g.AddConst(w.Name+".values", vals, vq)
	cv := g.AddConst(w.Name+".colidx", col, nil)
	pv := g.AddConst(w.Name+".rowptr", ptr, nil)
	for _, c := range []*ir.Value{vv, cv, pv} {
		c.Source = w.Source
	}
	dec, err := g.Add("sparse_decode", []*ir.Value{vv, cv, pv}, nil, w.Type, w.Name+".csr", w.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", w.Where(), err)
	}
	return dec, nil
}

// Decompress replaces every constant sparse_decode / codebook_decode by the
// dense constant it decodes to (for formats that have no such encodings,
// such as ONNX export). It returns how many it replaced.
func Decompress(g *ir.Graph) (int, error) {
	n := 0
	for _, v := range append([]*ir.Value{}, g.Values...) {
		if v.Op.Name != "sparse_decode" && v.Op.Name != "codebook_decode" && v.Op.Name != "sparse_rel_decode" {
			continue
		}
		t, err := rt.EvalOp(v, constTensors(v))
		if err != nil {
			return n, err
		}
		c := g.AddConst(v.Name+".dense", t, v.Type.Quant)
		c.Source = v.Source
		g.ReplaceUses(v, c)
		n++
	}
	g.RemoveDead()
	topoSort(g)
	return n, nil
}

// constTensors evaluates the (constant or decoded) arguments of v.
func constTensors(v *ir.Value) []*ir.Tensor {
	var out []*ir.Tensor
	for _, a := range v.Args {
		if a.IsConst() {
			out = append(out, a.Const)
			continue
		}
		t, err := rt.EvalOp(a, constTensors(a))
		if err != nil {
			return nil
		}
		out = append(out, t)
	}
	return out
}
