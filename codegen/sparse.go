package codegen

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Compressed weights. The prune, sparse and share passes leave weights as
// decode ops of constants (sparse_decode, sparse_rel_decode,
// codebook_decode). Lowering decodes them, then re-encodes the weights of a
// conv or gemm that is sparse enough (or, with Options.Weights
// "compressed", every encoded one) into the one format the backends'
// sparse kernels read: per output channel a run of entries, each a gap and
// a value (a codebook index when the weights have few distinct values).
// The compiled weights then stay about as small as the IR's encoding, and
// the kernel does work in proportion to the non-zeros.

// Weight modes of Options.Weights.
const (
	WeightsAuto       = "auto"       // sparse kernels where they are faster than dense ones
	WeightsDense      = "dense"      // decode every encoding to dense weights
	WeightsCompressed = "compressed" // sparse kernels for every encoded weight, and where auto picks them
)

// sparseLimit is the densest weights for which a backend's sparse kernel
// beats its dense one (WeightsAuto picks sparse kernels below it): a
// sparse kernel decodes each entry once, then does W multiply-adds with it
// (W: the output pixels of a conv, N·OH·OW; the rows of A of a gemm), so
// against a dense kernel that does W per weight it breaks even at density
// base · W / (W + decode), decode being the cost of decoding an entry in
// multiply-adds. Depthwise convs (one input channel per group) use dw
// when it is set. Fitted to the side-by-side benchmarks BenchmarkSparseConv
// and BenchmarkSparseGemm of backend/llvm and backend/gosrc (go test -run
// '^$' -bench 'Sparse(Conv|Gemm)' -benchtime 1x) and BenchmarkCompressed of
// tests/compiled:
//   - LLVM: a 32→32 3×3 conv at 28×28 breaks even at density ≈0.53 (f32)
//     and ≈0.65 (int8); a 3×3 depthwise conv at 56×56 is faster sparse up
//     to 0.8 at least; a gemm 784×300 at ≈0.15 (f32) and ≈0.07 (int8) with
//     one row of A, ≈0.42 and ≈0.35 with 64; LeNet-5's int8 conv2 (8×8
//     outputs) ran slower sparse at density 0.3.
//   - Go: the 3×3 conv at above 0.6 (f32) and ≈0.4 (int8), but the dense
//     5-tap rows run Winograd F(4,5), which halves the f32 break-even of
//     5-wide kernels; LeNet-300-100's batch-1 gemms ran 7× slower sparse
//     (f32, densities 0.2–0.7) and 3.4× slower (int8, once its dense
//     gemm started from a table of bias − zx·Σb).
type sparseLimit struct{ base, decode float64 }

type sparseLimits struct {
	conv, convInt, gemm, gemmInt sparseLimit
	dw                           float64 // depthwise convs (0: as conv)
}

var sparseLimitsOf = map[string]sparseLimits{
	"llvm": {conv: sparseLimit{0.55, 16}, convInt: sparseLimit{0.75, 120}, gemm: sparseLimit{0.43, 1.9}, gemmInt: sparseLimit{0.37, 4.3}, dw: 0.8},
	"go":   {conv: sparseLimit{0.6, 16}, convInt: sparseLimit{0.4, 32}, gemm: sparseLimit{0.5, 9}, gemmInt: sparseLimit{0.5, 9}},
}

// sparseMinWeights: smaller weights stay dense (nothing to gain).
const sparseMinWeights = 256

// Options tune lowering.
type Options struct {
	// Weights chooses dense or sparse kernels for compressed or sparse
	// weights: WeightsAuto (""), WeightsDense or WeightsCompressed.
	Weights string
	// Backend is the backend the program is for, "llvm" ("") or "go":
	// WeightsAuto weighs sparse against dense kernels by its measurements.
	Backend string
}

// Sparse is the compressed weight of a KSparseConv or KSparseGemm step,
// seen as a [Rows, Cols] matrix: a conv's [M, Cg·KH·KW] (row-major
// [M][Cg][KH][KW] as stored) or a gemm's Bᵀ, [N, K].
//
// Row r's entries are RowPtr[r] ≤ e < RowPtr[r+1]. Walking them, the
// column starts at -1 and entry e moves it on by gap(e)+1; the entry's
// weight sits at that column. gap(e) is the GapBits-wide little-endian
// bit field at bit e·GapBits of the Gaps bytes (GapBits 0: every gap is
// 0). The weight is value(e): In[1][e] when IdxBits is 0, else
// Codebook[idx(e)], idx(e) the IdxBits-wide field at bit e·IdxBits of the
// In[1] bytes. Entries whose weight is 0 are fillers that bridge gaps wider
// than GapBits allows. Columns after a row's last entry are zero. Both bit
// streams have a spare byte at the end, so a field can be read with a
// 16-bit load at byte ⌊bit/8⌋ shifted right by bit mod 8.
//
// Values and codebook are f32 for f32 steps and i8 or i16 (the zero-centred
// weights) for integer ones; integer sparse steps need weight zero points
// of 0, so an absent entry is a zero weight.
type Sparse struct {
	Rows, Cols int
	Entries    int // stored entries, fillers included
	NonZeros   int
	GapBits    int // 0..8
	IdxBits    int // 0 (In[1] holds the values) or 1..8
	RowPtr     Operand
	Gaps       Operand
	Codebook   *Operand
	// Hp, Wp: the padded input plane of a KSparseConv step (Scratch):
	// (OH-1)·SH + (KH-1)·DH + 1 rows of (OW-1)·SW + (KW-1)·DW + 1.
	Hp, Wp int
}

// Bytes is the size of the encoded weight (entries, row pointers, codebook).
func (s *Sparse) Bytes(vals Operand) int64 {
	n := s.RowPtr.Bytes() + s.Gaps.Bytes() + vals.Bytes()
	if s.Codebook != nil {
		n += s.Codebook.Bytes()
	}
	return n
}

// decodeConstants returns g with every decode op of constants replaced by
// the dense constant it decodes to (in a clone; g is left as it is), and
// the set of those constants.
func decodeConstants(g *ir.Graph) (*ir.Graph, map[*ir.Value]bool, error) {
	isDecode := func(v *ir.Value) bool {
		switch v.Op.Name {
		case "sparse_decode", "sparse_rel_decode", "codebook_decode":
			return true
		}
		return false
	}
	found := false
	for _, v := range g.Values {
		if isDecode(v) {
			found = true
			break
		}
	}
	enc := map[*ir.Value]bool{}
	if !found {
		return g, enc, nil
	}
	g = g.Clone()
	for _, v := range g.Values { // in order: arguments first
		if !isDecode(v) {
			continue
		}
		args := make([]*ir.Tensor, len(v.Args))
		for i, a := range v.Args {
			if !a.IsConst() {
				return nil, nil, Unsupported(v, "%s of a runtime tensor", v.Op.Name)
			}
			args[i] = a.Const
		}
		t, err := rt.EvalOp(v, args)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", v.Where(), err)
		}
		v.Op, v.Const, v.Args, v.Attrs = ir.OpConst, t, nil, nil
		enc[v] = true
	}
	return g, enc, nil
}

// encoded reports whether the constant weight w (or the constant a reshape
// of it reads) came from a compressed encoding.
func (l *lowerer) encoded(w *ir.Value) bool {
	for w.Op.Name == "reshape" {
		w = w.Args[0]
	}
	return l.enc[w]
}

// wantSparse decides whether the conv (st.Conv) or gemm (st.Gemm) step
// st with weight value w, whose [rows, cols] weights have nnz non-zeros,
// runs a sparse kernel.
func (l *lowerer) wantSparse(st *Step, w *ir.Value, nnz, rows, cols int, integer bool) bool {
	n := rows * cols
	density := float64(nnz) / float64(max(n, 1))
	lim := sparseLimitsOf[l.opts.Backend]
	var sl sparseLimit
	var work int
	switch {
	case st.Conv != nil:
		c := st.Conv
		work, sl = c.N*c.OH*c.OW, lim.conv
		if integer {
			sl = lim.convInt
		} else if l.opts.Backend == "go" && c.KW == 5 {
			sl.base /= 2 // the dense kernel's Winograd rows
		}
	default:
		work, sl = st.Gemm.M*len(st.Gemm.Batch), lim.gemm
		if integer {
			sl = lim.gemmInt
		}
	}
	limit := sl.base * float64(work) / (float64(work) + sl.decode)
	if st.Conv != nil && st.Conv.Cg == 1 && lim.dw > 0 {
		limit = lim.dw
	}
	switch l.opts.Weights {
	case WeightsDense:
		return false
	case WeightsCompressed:
		if l.encoded(w) {
			return true
		}
	}
	return n >= sparseMinWeights && density <= limit
}

// sparseCode is an encoding of one weight matrix before packing.
type sparseCode struct {
	rowptr  []int32
	cols    []int32 // the column of every entry
	vals    []int64 // f32 bits or integers, per entry (fillers 0)
	gapBits int
	nnz     int
}

// encodeRows encodes the [rows, cols] weights w (0 is zero) per row as
// entries of a gap width chosen to minimise the encoding, fillers included.
func encodeRows(w []int64, rows, cols int) *sparseCode {
	// Choose the gap width that minimises entries·(gap bits + 8), a
	// stand-in for the value bits, which do not depend on it much.
	var gaps []int
	nnz := 0
	for r := 0; r < rows; r++ {
		prev := -1
		for c := 0; c < cols; c++ {
			if w[r*cols+c] != 0 {
				gaps = append(gaps, c-prev-1)
				prev = c
				nnz++
			}
		}
	}
	best, bestBits := -1, int64(math.MaxInt64)
	for b := 0; b <= 8; b++ {
		e := int64(0)
		for _, g := range gaps {
			e += 1 + int64(g>>b)
		}
		if cost := e * int64(b+8); cost < bestBits {
			best, bestBits = b, cost
		}
	}
	sc := &sparseCode{gapBits: best, nnz: nnz, rowptr: make([]int32, rows+1)}
	span := 1 << best
	for r := 0; r < rows; r++ {
		prev := -1
		for c := 0; c < cols; c++ {
			x := w[r*cols+c]
			if x == 0 {
				continue
			}
			for c-prev-1 >= span { // fillers, each span columns on
				prev += span
				sc.cols = append(sc.cols, int32(prev))
				sc.vals = append(sc.vals, 0)
			}
			sc.cols = append(sc.cols, int32(c))
			sc.vals = append(sc.vals, x)
			prev = c
		}
		sc.rowptr[r+1] = int32(len(sc.cols))
	}
	return sc
}

// packBits packs fields of width b, little-endian, with a spare byte.
func packBits(x []int64, b int) []uint8 {
	out := make([]uint8, (len(x)*b+7)/8+1)
	for i, v := range x {
		bit := i * b
		w := uint16(v) << (bit % 8)
		out[bit/8] |= uint8(w)
		out[bit/8+1] |= uint8(w >> 8)
	}
	return out
}

// sparseWeights encodes the [rows, cols] weights w (f32 bits when f32,
// else zero-centred integers) for a sparse step: it returns the Sparse
// descriptor and the values operand (In[1]).
func (l *lowerer) sparseWeights(w []int64, rows, cols int, f32 bool) (*Sparse, Operand) {
	sc := encodeRows(w, rows, cols)
	s := &Sparse{Rows: rows, Cols: cols, Entries: len(sc.cols), NonZeros: sc.nnz, GapBits: sc.gapBits}
	gaps := make([]int64, len(sc.cols))
	for r := 0; r < rows; r++ {
		prev := int32(-1)
		for e := sc.rowptr[r]; e < sc.rowptr[r+1]; e++ {
			gaps[e] = int64(sc.cols[e] - prev - 1)
			prev = sc.cols[e]
		}
	}
	s.RowPtr = l.packed(i32Tensor([]int{rows + 1}, sc.rowptr))
	if s.GapBits > 0 {
		g := packBits(gaps, s.GapBits)
		s.Gaps = l.packed(u8Tensor(g))
	} else {
		s.Gaps = l.packed(u8Tensor([]uint8{0}))
	}
	// The values: raw, or indices into a codebook of the distinct ones
	// when that is smaller.
	index := map[int64]int{}
	var book []int64
	for _, v := range sc.vals {
		if _, ok := index[v]; !ok {
			index[v] = len(book)
			book = append(book, v)
			if len(book) > 256 {
				break
			}
		}
	}
	elem := int64(4)
	var raw *ir.Tensor
	if f32 {
		raw = ir.NewTensor(ir.F32, []int{len(sc.vals)})
		for i, v := range sc.vals {
			raw.F32[i] = math.Float32frombits(uint32(v))
		}
	} else {
		x := make([]int32, len(sc.vals))
		for i, v := range sc.vals {
			x[i] = int32(v)
		}
		raw = narrow([]int{len(x)}, x)
		elem = int64(raw.DType.Size())
	}
	if len(book) <= 256 && len(book) > 0 {
		ib := max(bits.Len(uint(len(book)-1)), 1)
		coded := int64(len(sc.vals)*ib+7)/8 + 1 + int64(len(book))*elem
		if coded < int64(len(sc.vals))*elem {
			idx := make([]int64, len(sc.vals))
			for i, v := range sc.vals {
				idx[i] = int64(index[v])
			}
			var cb *ir.Tensor
			if f32 {
				cb = ir.NewTensor(ir.F32, []int{len(book)})
				for i, v := range book {
					cb.F32[i] = math.Float32frombits(uint32(v))
				}
			} else {
				x := make([]int32, len(book))
				for i, v := range book {
					x[i] = int32(v)
				}
				cb = narrow([]int{len(x)}, x)
			}
			s.IdxBits = ib
			o := l.packed(cb)
			s.Codebook = &o
			return s, l.packed(u8Tensor(packBits(idx, ib)))
		}
	}
	return s, l.packed(raw)
}

func u8Tensor(b []uint8) *ir.Tensor {
	t := ir.NewTensor(ir.U8, []int{len(b)})
	for i, x := range b {
		t.SetInt(i, int64(x))
	}
	return t
}

// f32Bits returns w as f32 bit patterns, -0 made +0 (a zero either way).
func f32Bits(w []float32) ([]int64, int) {
	out := make([]int64, len(w))
	nnz := 0
	for i, x := range w {
		if x != 0 {
			out[i] = int64(math.Float32bits(x))
			nnz++
		}
	}
	return out, nnz
}

func i32Bits(w []int32) ([]int64, int) {
	out := make([]int64, len(w))
	nnz := 0
	for i, x := range w {
		out[i] = int64(x)
		if x != 0 {
			nnz++
		}
	}
	return out, nnz
}

// sparseConv turns a conv step (f32 or integer, constant weights w as f32
// bits or zero-centred integers, [M, Cg·KH·KW]) into a KSparseConv step.
func (l *lowerer) sparseConv(st *Step, w []int64, f32 bool) {
	c := st.Conv
	cols := c.Cg * c.KH * c.KW
	sp, vals := l.sparseWeights(w, c.M, cols, f32)
	sp.Hp = (c.OH-1)*c.SH + (c.KH-1)*c.DH + 1
	sp.Wp = (c.OW-1)*c.SW + (c.KW-1)*c.DW + 1
	st.Kernel, st.Sparse = KSparseConv, sp
	st.In[1] = vals
	n := int64(2*cols) + int64(c.C)*int64(sp.Hp)*int64(sp.Wp)
	dt := ir.F32
	if !f32 {
		n += int64(c.OH * c.OW)
		dt = ir.I32
	}
	b := l.newBuffer(n * 4)
	b.first, b.last = l.cur(), l.cur()
	st.Scratch = &Operand{DType: dt, Shape: []int{int(n)}, buf: b}
}

// sparseGemm turns a gemm step with constant B (w: Bᵀ as [N, K], f32 bits
// or zero-centred integers) into a KSparseGemm step.
func (l *lowerer) sparseGemm(st *Step, w []int64, f32 bool) {
	gm := st.Gemm
	sp, vals := l.sparseWeights(w, gm.N, gm.K, f32)
	st.Kernel, st.Sparse = KSparseGemm, sp
	st.In[1] = vals
}

// transposeKN returns the [K, N] matrix b as [N, K].
func transposeKN[T any](b []T, k, n int) []T {
	out := make([]T, len(b))
	for i := 0; i < k; i++ {
		for j := 0; j < n; j++ {
			out[j*k+i] = b[i*n+j]
		}
	}
	return out
}

// DecodeSparse expands the weight of a sparse step to the dense [Rows,
// Cols] matrix (f32 steps: float32 bits), reading the program's weights:
// the reference the backends' kernels follow.
func DecodeSparse(p *Program, st *Step) ([]int64, error) {
	s := st.Sparse
	if s == nil {
		return nil, fmt.Errorf("step %s has no sparse weight", st.Name)
	}
	blob := p.Weights
	field := func(base int64, e, b int) int64 {
		if b == 0 {
			return 0
		}
		bit := e * b
		w := uint16(blob[base+int64(bit/8)]) | uint16(blob[base+int64(bit/8)+1])<<8
		return int64(w>>(bit%8)) & (1<<b - 1)
	}
	elem := func(o Operand, i int64) int64 {
		switch o.DType {
		case ir.F32:
			return int64(uint32(blob[o.Offset+4*i]) | uint32(blob[o.Offset+4*i+1])<<8 | uint32(blob[o.Offset+4*i+2])<<16 | uint32(blob[o.Offset+4*i+3])<<24)
		case ir.I8:
			return int64(int8(blob[o.Offset+i]))
		case ir.I16:
			return int64(int16(uint16(blob[o.Offset+2*i]) | uint16(blob[o.Offset+2*i+1])<<8))
		}
		panic("codegen: sparse values of " + o.DType.String())
	}
	out := make([]int64, s.Rows*s.Cols)
	for r := 0; r < s.Rows; r++ {
		lo, hi := elem32(blob, s.RowPtr.Offset, r), elem32(blob, s.RowPtr.Offset, r+1)
		col := -1
		for e := lo; e < hi; e++ {
			col += int(field(s.Gaps.Offset, int(e), s.GapBits)) + 1
			if col >= s.Cols {
				return nil, fmt.Errorf("step %s: row %d runs past column %d", st.Name, r, s.Cols)
			}
			var v int64
			if s.IdxBits == 0 {
				v = elem(st.In[1], int64(e))
			} else {
				v = elem(*s.Codebook, field(st.In[1].Offset, int(e), s.IdxBits))
			}
			out[r*s.Cols+col] = v
		}
	}
	return out, nil
}

func elem32(blob []byte, off int64, i int) int32 {
	o := off + 4*int64(i)
	return int32(uint32(blob[o]) | uint32(blob[o+1])<<8 | uint32(blob[o+2])<<16 | uint32(blob[o+3])<<24)
}
