package tflite

import (
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// Sparse constant tensors: TFLite stores pruned weights (the TF Model
// Optimization toolkit's) as the non-zero values in a traversal order,
// with per-dimension metadata (DENSE: a size; SPARSE_CSR: segments and
// indices, as CSR's row pointers and column indices) and optionally
// blocks. pare densifies them at import: constTensor returns the dense
// tensor, so every op (and DENSIFY) reads them as ordinary constants.

// tsparse is a tensor's SparsityParameters.
type tsparse struct {
	order, blockMap []int32
	dims            []tdim // in traversal order
}

type tdim struct {
	sparse             bool
	denseSize          int32
	segments, indices  []int32
	segType, indexType fb.SparseIndexVector
}

// maxSparseRank bounds traversal_order (the dense rank plus block dims).
const maxSparseRank = 16

// decodeSparsity verifies and reads the SparsityParameters table t of a tensor.
func decodeSparsity(v *fbv, t ftab, sp *fb.SparsityParameters, what string) (*tsparse, error) {
	if err := v.fields(t, what, vec(0, 4), vec(1, 4)); err != nil {
		return nil, err
	}
	mts, err := v.tables(t, 2, what+".dim_metadata")
	if err != nil {
		return nil, err
	}
	s := &tsparse{order: int32s(sp.TraversalOrderLength(), sp.TraversalOrder), blockMap: int32s(sp.BlockMapLength(), sp.BlockMap)}
	if len(s.order) > maxSparseRank {
		return nil, fmt.Errorf("%s: traversal_order has %d dims (at most %d)", what, len(s.order), maxSparseRank)
	}
	var dm fb.DimensionMetadata
	for i, mt := range mts {
		w := fmt.Sprintf("%s.dim_metadata[%d]", what, i)
		if err := v.fields(mt, w, sc(0, 1), sc(1, 4), sc(2, 1), sc(4, 1)); err != nil {
			return nil, err
		}
		sp.DimMetadata(&dm, i)
		d := tdim{sparse: dm.Format() == fb.DimensionTypeSPARSE_CSR, denseSize: dm.DenseSize(), segType: dm.ArraySegmentsType(), indexType: dm.ArrayIndicesType()}
		if f := dm.Format(); f != fb.DimensionTypeDENSE && f != fb.DimensionTypeSPARSE_CSR {
			return nil, fmt.Errorf("%s: unknown format %d", w, f)
		}
		if d.sparse {
			var u flatbuffers.Table
			if d.segments, err = indexVector(v, mt, 3, d.segType, w+".array_segments", dm.ArraySegments, &u); err != nil {
				return nil, err
			}
			if d.indices, err = indexVector(v, mt, 5, d.indexType, w+".array_indices", dm.ArrayIndices, &u); err != nil {
				return nil, err
			}
		}
		s.dims = append(s.dims, d)
	}
	return s, nil
}

// indexVector verifies and reads the SparseIndexVector union in field id of t.
func indexVector(v *fbv, t ftab, id int, typ fb.SparseIndexVector, what string, get func(*flatbuffers.Table) bool, u *flatbuffers.Table) ([]int32, error) {
	st, ok, err := v.sub(t, id, what)
	if err != nil {
		return nil, err
	}
	if !ok || !get(u) {
		return nil, fmt.Errorf("%s is missing", what)
	}
	size := map[fb.SparseIndexVector]int64{fb.SparseIndexVectorInt32Vector: 4, fb.SparseIndexVectorUint16Vector: 2, fb.SparseIndexVectorUint8Vector: 1}[typ]
	if size == 0 {
		return nil, fmt.Errorf("%s: unknown index vector type %d", what, typ)
	}
	if _, err := v.vector(st, 0, size, what); err != nil {
		return nil, err
	}
	switch typ {
	case fb.SparseIndexVectorInt32Vector:
		x := as[fb.Int32Vector](*u)
		return int32s(x.ValuesLength(), x.Values), nil
	case fb.SparseIndexVectorUint16Vector:
		x := as[fb.Uint16Vector](*u)
		return int32s(x.ValuesLength(), func(j int) int32 { return int32(x.Values(j)) }), nil
	default:
		x := as[fb.Uint8Vector](*u)
		return int32s(x.ValuesLength(), func(j int) int32 { return int32(x.Values(j)) }), nil
	}
}

// densify expands the stored values of a sparse tensor of dense shape
// into a dense tensor, as TFLite's FormatConverter::SparseToDense: levels
// in traversal order, DENSE levels over their size, SPARSE_CSR levels over
// array_indices[array_segments[p] : array_segments[p+1]] where p is the
// position in the previous level; a block dim b adds to the index of dim
// block_map[b] scaled by the block size. Everything is checked: the
// metadata must describe shape and use each stored value exactly once.
func densify(name string, shape []int, sp *tsparse, vals *ir.Tensor) (*ir.Tensor, error) {
	n, k := len(shape), len(sp.blockMap)
	levels := len(sp.order)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tensor %q: sparsity: %s", name, fmt.Sprintf(format, args...))
	}
	if levels != n+k || len(sp.dims) != levels {
		return nil, bad("traversal_order %v and %d dim_metadata for a rank-%d tensor with %d block dims", sp.order, len(sp.dims), n, k)
	}
	seen := make([]bool, levels)
	for i, t := range sp.order {
		if t < 0 || int(t) >= levels || seen[t] || (i < n) != (int(t) < n) {
			return nil, bad("traversal_order %v is not a permutation of the dims, then of the block dims", sp.order)
		}
		seen[t] = true
	}
	// Block sizes (the DENSE size of the block dim's level) and the
	// blocked shape.
	block := make([]int, k)
	blocked := append([]int{}, shape...)
	for b, d := range sp.blockMap {
		if d < 0 || int(d) >= n || (b > 0 && d <= sp.blockMap[b-1]) {
			return nil, bad("block_map %v must be increasing dims of %v", sp.blockMap, shape)
		}
		for i, t := range sp.order {
			if int(t) == n+b {
				block[b] = int(sp.dims[i].denseSize)
			}
		}
		if block[b] < 1 || shape[d]%block[b] != 0 {
			return nil, bad("block size %d does not divide dim %d of %v", block[b], d, shape)
		}
		blocked[d] /= block[b]
	}
	size := make([]int, levels) // the extent of each level
	for i, t := range sp.order {
		if int(t) < n {
			size[i] = blocked[t]
		} else {
			size[i] = block[int(t)-n]
		}
		if d := sp.dims[i]; !d.sparse && int(d.denseSize) != size[i] {
			return nil, bad("dense_size %d of level %d, want %d", d.denseSize, i, size[i])
		}
	}
	out := ir.NewTensor(vals.DType, shape)
	st := ir.Strides(shape)
	idx := make([]int, levels)
	next, visits, maxVisits := 0, 0, levels*(out.Len()+1)+vals.Len()
	var walk func(level, prev int) error
	walk = func(level, prev int) error {
		if visits++; visits > maxVisits {
			return bad("the metadata visit more than %d positions for %d elements", maxVisits, out.Len())
		}
		if level == levels {
			if next >= vals.Len() {
				return bad("the metadata address more than the %d stored values", vals.Len())
			}
			orig := make([]int, n)
			for i := 0; i < n; i++ {
				orig[sp.order[i]] = idx[i]
			}
			for i := n; i < levels; i++ {
				b := int(sp.order[i]) - n
				d := sp.blockMap[b]
				orig[d] = orig[d]*block[b] + idx[i]
			}
			f := 0
			for d, j := range orig {
				f += j * st[d]
			}
			copyElem(out, f, vals, next)
			next++
			return nil
		}
		d := sp.dims[level]
		if !d.sparse {
			for i := 0; i < size[level]; i++ {
				idx[level] = i
				if err := walk(level+1, prev*size[level]+i); err != nil {
					return err
				}
			}
			return nil
		}
		if prev+1 >= len(d.segments) {
			return bad("level %d: array_segments has %d entries, position %d needs %d", level, len(d.segments), prev, prev+2)
		}
		lo, hi := int(d.segments[prev]), int(d.segments[prev+1])
		if lo < 0 || hi < lo || hi > len(d.indices) {
			return bad("level %d: segment %d:%d outside the %d array_indices", level, lo, hi, len(d.indices))
		}
		for i := lo; i < hi; i++ {
			j := int(d.indices[i])
			if j < 0 || j >= size[level] {
				return bad("level %d: index %d out of range for size %d", level, j, size[level])
			}
			idx[level] = j
			if err := walk(level+1, i); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(0, 0); err != nil {
		return nil, err
	}
	if next != vals.Len() {
		return nil, fmt.Errorf("tensor %q: sparsity: the metadata address %d of the %d stored values", name, next, vals.Len())
	}
	return out, nil
}

// sparseHalf reads sparse constant FLOAT16 tensor t (of dense shape) as
// a dense f32 tensor (every half is a float32).
func (im *importer) sparseHalf(t *tensor, shape []int) (*ir.Tensor, error) {
	b := im.m.buffers[t.buffer]
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes of sparse FLOAT16 values", t.name, len(b))
	}
	vals := ir.NewTensor(ir.F32, []int{len(b) / 2})
	for i := range vals.F32 {
		vals.F32[i] = ir.HalfToFloat(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return densify(t.name, shape, t.sparse, vals)
}

// convDensify imports DENSIFY: its input, a sparse constant, densified at
// import (constTensor does it) is the output, a constant. A FLOAT16 one
// (float16 weights, which a DEQUANTIZE reads next) becomes an f32
// constant that the DEQUANTIZE passes on.
func convDensify(o *opctx) error {
	if t, err := o.im.tensor(o.in(0)); err == nil && t.typ == fb.TensorTypeFLOAT16 && t.sparse != nil {
		shape, err := shapeOf(t)
		if err != nil {
			return err
		}
		if t.buffer == 0 || int(t.buffer) >= len(o.im.m.buffers) || len(o.im.m.buffers[t.buffer]) == 0 {
			return fmt.Errorf("input must be a constant")
		}
		f, err := o.im.sparseHalf(t, shape)
		if err != nil {
			return err
		}
		if o.out.typ != fb.TensorTypeFLOAT16 || !ir.EqualShape(shapeOfOr(o.out), shape) {
			return fmt.Errorf("FLOAT16 input %v gives an output of type %v %v", shape, o.out.typ, o.out.shape)
		}
		o.im.vals[o.op.outputs[0]].plain = o.im.addConst(o.out.name, "", f, nil)
		return nil
	}
	c, q, err := o.im.constTensor(o.in(0))
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("input must be a constant")
	}
	want, err := o.outType()
	if err != nil {
		return err
	}
	if c.DType != want.DType || !ir.EqualShape(c.Shape, want.Shape) || !q.Equal(want.Quant) {
		return fmt.Errorf("input %v%v (%v) differs from the output %v", c.DType, c.Shape, q, want)
	}
	return o.setConst(c, q)
}

// sparseConst reads sparse constant tensor t (of type typ) densified.
func (im *importer) sparseConst(t *tensor, typ ir.Type) (*ir.Tensor, *ir.Quant, error) {
	b := im.m.buffers[t.buffer]
	es := typ.DType.Size()
	if es == 0 || len(b)%es != 0 {
		return nil, nil, fmt.Errorf("tensor %q: %d bytes of sparse %v values", t.name, len(b), typ.DType)
	}
	vals, err := ir.TensorFromBytes(typ.DType, []int{len(b) / es}, b)
	if err != nil {
		return nil, nil, fmt.Errorf("tensor %q: %v", t.name, err)
	}
	d, err := densify(t.name, typ.Shape, t.sparse, vals)
	return d, typ.Quant, err
}

// shapeOfOr is t's shape, nil when it is not a valid static shape.
func shapeOfOr(t *tensor) []int {
	s, err := shapeOf(t)
	if err != nil {
		return nil
	}
	return s
}
