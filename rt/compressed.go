package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// Compressed weight encodings: sparse_decode (CSR) and codebook_decode
// (shared weights). Constant encodings are decoded once, when the kernel is
// built; conv, gemm and matmul whose f32 weight is a constant CSR encoding
// sparse enough to win run a sparse kernel instead (compressedBuilder).

func init() {
	register("sparse_decode", decoder(decodeSparse))
	register("codebook_decode", decoder(decodeCodebook))
	register("sparse_rel_decode", decoder(decodeSparseRel))
}

// decoder builds the kernel of a decode op: constant arguments are decoded
// once at build time (and the result shared: tensors are immutable).
func decoder(dec func(v *ir.Value, args []*ir.Tensor) (*ir.Tensor, error)) builder {
	return func(v *ir.Value) (kernel, error) {
		if consts := constArgs(v); consts != nil {
			t, err := dec(v, consts)
			if err != nil {
				return nil, err
			}
			return func([]*ir.Tensor) (*ir.Tensor, error) { return t, nil }, nil
		}
		return func(args []*ir.Tensor) (*ir.Tensor, error) { return dec(v, args) }, nil
	}
}

// constArgs returns the tensors of v's arguments when all are constants
// (or constant decodes), else nil.
func constArgs(v *ir.Value) []*ir.Tensor {
	var out []*ir.Tensor
	for _, a := range v.Args {
		t := constTensor(a)
		if t == nil {
			return nil
		}
		out = append(out, t)
	}
	return out
}

// constTensor is the value of a constant or of a decode of constants.
func constTensor(a *ir.Value) *ir.Tensor {
	switch {
	case a.IsConst():
		return a.Const
	case a.Op.Name == "codebook_decode":
		if args := constArgs(a); args != nil {
			if t, err := decodeCodebook(a, args); err == nil {
				return t
			}
		}
	case a.Op.Name == "sparse_decode":
		if args := constArgs(a); args != nil {
			if t, err := decodeSparse(a, args); err == nil {
				return t
			}
		}
	case a.Op.Name == "sparse_rel_decode":
		if args := constArgs(a); args != nil {
			if t, err := decodeSparseRel(a, args); err == nil {
				return t
			}
		}
	}
	return nil
}

// csr is a row-compressed matrix of rows × cols.
type csr struct {
	rows, cols int
	ptr        []int32
	col        []int32
	val        []float32
}

func (m *csr) density() float64 { return float64(len(m.val)) / float64(max(1, m.rows*m.cols)) }

// readCSR validates CSR tensors for a matrix of shape [shape[0], rest].
func readCSR(shape []int, vals, colidx, rowptr *ir.Tensor) (*csr, error) {
	rows := shape[0]
	cols := ir.NumElements(shape[1:])
	nnz := vals.Len()
	if rowptr.Len() != rows+1 || colidx.Len() != nnz {
		return nil, fmt.Errorf("CSR of %d rows: rowptr has %d entries, colidx %d for %d values", rows, rowptr.Len(), colidx.Len(), nnz)
	}
	m := &csr{rows: rows, cols: cols, ptr: rowptr.I32, col: make([]int32, nnz)}
	if m.ptr[0] != 0 || int(m.ptr[rows]) != nnz {
		return nil, fmt.Errorf("rowptr runs from %d to %d, want 0 to %d", m.ptr[0], m.ptr[rows], nnz)
	}
	for r := 0; r < rows; r++ {
		if m.ptr[r+1] < m.ptr[r] {
			return nil, fmt.Errorf("rowptr decreases at row %d", r)
		}
	}
	for i := range m.col {
		c := colidx.IntAt(i)
		if colidx.DType == ir.I16 {
			c &= 0xffff // i16 column indices are read unsigned (up to 65535 columns)
		}
		if c < 0 || c >= int64(cols) {
			return nil, fmt.Errorf("column index %d out of range [0,%d)", c, cols)
		}
		m.col[i] = int32(c)
	}
	if vals.DType == ir.F32 {
		m.val = vals.F32
	}
	return m, nil
}

func decodeSparse(v *ir.Value, args []*ir.Tensor) (*ir.Tensor, error) {
	m, err := readCSR(v.Type.Shape, args[0], args[1], args[2])
	if err != nil {
		return nil, err
	}
	out := newResult(v)
	for r := 0; r < m.rows; r++ {
		for i := m.ptr[r]; i < m.ptr[r+1]; i++ {
			j := r*m.cols + int(m.col[i])
			switch out.DType {
			case ir.F32:
				out.F32[j] = args[0].F32[i]
			case ir.I8:
				out.I8[j] = args[0].I8[i]
			case ir.U8:
				out.U8[j] = args[0].U8[i]
			}
		}
	}
	return out, nil
}

// decodeSparseRel decodes the relative-index encoding (sparse_rel_decode):
// value k sits gaps[k]+1 positions after value k-1, the first at gaps[0].
func decodeSparseRel(v *ir.Value, args []*ir.Tensor) (*ir.Tensor, error) {
	vals, gaps := args[0], args[1]
	bits := v.Int("bits")
	out := newResult(v)
	pos := -1
	for k := 0; k < vals.Len(); k++ {
		pos += CodebookIndex(gaps.U8, bits, k) + 1
		if pos >= out.Len() {
			return nil, fmt.Errorf("value %d at position %d, past the %d elements of %v", k, pos, out.Len(), v.Type.Shape)
		}
		switch out.DType {
		case ir.F32:
			out.F32[pos] = vals.F32[k]
		case ir.I8:
			out.I8[pos] = vals.I8[k]
		case ir.U8:
			out.U8[pos] = vals.U8[k]
		}
	}
	return out, nil
}

// csrOfDense is the CSR form of an f32 tensor viewed as [shape[0], rest].
func csrOfDense(t *ir.Tensor) *csr {
	rows := t.Shape[0]
	cols := t.Len() / max(1, rows)
	m := &csr{rows: rows, cols: cols, ptr: make([]int32, rows+1), val: []float32{}}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if x := t.F32[r*cols+c]; x != 0 {
				m.col = append(m.col, int32(c))
				m.val = append(m.val, x)
			}
		}
		m.ptr[r+1] = int32(len(m.val))
	}
	return m
}

// CodebookIndex returns index i of a packed index stream of bits-wide fields.
func CodebookIndex(packed []uint8, bits, i int) int {
	pos := i * bits
	w := uint(packed[pos/8])
	if pos/8+1 < len(packed) {
		w |= uint(packed[pos/8+1]) << 8
	}
	return int(w>>(pos%8)) & (1<<bits - 1)
}

func decodeCodebook(v *ir.Value, args []*ir.Tensor) (*ir.Tensor, error) {
	cb, ix := args[0], args[1]
	bits := v.Int("bits")
	out := newResult(v)
	k := cb.Len()
	for i := 0; i < out.Len(); i++ {
		c := CodebookIndex(ix.U8, bits, i)
		if c >= k {
			return nil, fmt.Errorf("index %d of element %d is outside the codebook of %d entries", c, i, k)
		}
		switch out.DType {
		case ir.F32:
			out.F32[i] = cb.F32[c]
		case ir.I8:
			out.I8[i] = cb.I8[c]
		case ir.U8:
			out.U8[i] = cb.U8[c]
		}
	}
	return out, nil
}

// SparseWinDensity is the density (fraction of non-zeros) under which rt's
// conv / gemm / matmul use a CSR weight directly instead of decoding it.
const SparseWinDensity = 0.35

// compressedBuilder returns a sparse kernel for an f32 conv / gemm / matmul
// whose weight is a constant sparse_decode at most SparseWinDensity dense,
// else nil (the op's ordinary kernel runs on the decoded weight).
func compressedBuilder(v *ir.Value) builder {
	if len(v.Args) < 2 || v.Type.DType != ir.F32 || v.Args[0].Type.DType != ir.F32 {
		return nil
	}
	w := v.Args[1]
	if w.Op == nil || w.Type.DType != ir.F32 {
		return nil
	}
	var m *csr
	switch w.Op.Name {
	case "sparse_decode":
		args := constArgs(w)
		if args == nil {
			return nil
		}
		var err error
		if m, err = readCSR(w.Type.Shape, args[0], args[1], args[2]); err != nil {
			return nil
		}
	case "sparse_rel_decode":
		t := constTensor(w)
		if t == nil {
			return nil
		}
		m = csrOfDense(t)
	default:
		return nil
	}
	if m.val == nil || m.density() > SparseWinDensity {
		return nil
	}
	var b builder
	switch v.Op.Name {
	case "conv":
		b = sparseConv(m)
	case "gemm":
		b = sparseGemm(m)
	case "matmul":
		b = sparseMatmul(m)
	}
	if b == nil {
		return nil
	}
	sparse := withAct(b)
	return func(v *ir.Value) (kernel, error) {
		if k, err := sparse(v); err == nil {
			return k, nil
		}
		return builders[v.Op.Name](v) // a geometry the sparse kernels do not cover
	}
}
