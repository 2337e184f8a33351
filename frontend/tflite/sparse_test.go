package tflite

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// sdim is one level of a test tensor's sparsity: DENSE of size dense, or
// SPARSE_CSR (seg != nil) with its index vectors stored as typ.
type sdim struct {
	dense    int32
	seg, idx []int32
	typ      fb.SparseIndexVector
}

func sparsityOf(order, blockMap []int32, dims []sdim) func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
	return func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		ivec := func(typ fb.SparseIndexVector, v []int32) flatbuffers.UOffsetT {
			var vals flatbuffers.UOffsetT
			switch typ {
			case fb.SparseIndexVectorUint8Vector:
				fb.Uint8VectorStartValuesVector(b, len(v))
				for i := len(v) - 1; i >= 0; i-- {
					b.PrependByte(byte(v[i]))
				}
				vals = b.EndVector(len(v))
				fb.Uint8VectorStart(b)
				fb.Uint8VectorAddValues(b, vals)
				return fb.Uint8VectorEnd(b)
			case fb.SparseIndexVectorUint16Vector:
				fb.Uint16VectorStartValuesVector(b, len(v))
				for i := len(v) - 1; i >= 0; i-- {
					b.PrependUint16(uint16(v[i]))
				}
				vals = b.EndVector(len(v))
				fb.Uint16VectorStart(b)
				fb.Uint16VectorAddValues(b, vals)
				return fb.Uint16VectorEnd(b)
			}
			fb.Int32VectorStartValuesVector(b, len(v))
			for i := len(v) - 1; i >= 0; i-- {
				b.PrependInt32(v[i])
			}
			vals = b.EndVector(len(v))
			fb.Int32VectorStart(b)
			fb.Int32VectorAddValues(b, vals)
			return fb.Int32VectorEnd(b)
		}
		var mds []flatbuffers.UOffsetT
		for _, d := range dims {
			var seg, idx flatbuffers.UOffsetT
			typ := d.typ
			if typ == fb.SparseIndexVectorNONE {
				typ = fb.SparseIndexVectorInt32Vector
			}
			if d.seg != nil {
				seg, idx = ivec(typ, d.seg), ivec(typ, d.idx)
			}
			fb.DimensionMetadataStart(b)
			if d.seg != nil {
				fb.DimensionMetadataAddFormat(b, fb.DimensionTypeSPARSE_CSR)
				fb.DimensionMetadataAddArraySegmentsType(b, typ)
				fb.DimensionMetadataAddArraySegments(b, seg)
				fb.DimensionMetadataAddArrayIndicesType(b, typ)
				fb.DimensionMetadataAddArrayIndices(b, idx)
			} else {
				fb.DimensionMetadataAddDenseSize(b, d.dense)
			}
			mds = append(mds, fb.DimensionMetadataEnd(b))
		}
		ints := func(v []int32) flatbuffers.UOffsetT {
			b.StartVector(4, len(v), 4)
			for i := len(v) - 1; i >= 0; i-- {
				b.PrependInt32(v[i])
			}
			return b.EndVector(len(v))
		}
		ov := ints(order)
		var bm flatbuffers.UOffsetT
		if blockMap != nil {
			bm = ints(blockMap)
		}
		fb.SparsityParametersStartDimMetadataVector(b, len(mds))
		for i := len(mds) - 1; i >= 0; i-- {
			b.PrependUOffsetT(mds[i])
		}
		mv := b.EndVector(len(mds))
		fb.SparsityParametersStart(b)
		fb.SparsityParametersAddTraversalOrder(b, ov)
		if bm != 0 {
			fb.SparsityParametersAddBlockMap(b, bm)
		}
		fb.SparsityParametersAddDimMetadata(b, mv)
		return fb.SparsityParametersEnd(b)
	}
}

// sparseModel is DENSIFY of a sparse [r, c] constant (when densify), then
// FULLY_CONNECTED of input x [2, c] by it (else FULLY_CONNECTED reads the
// sparse weights directly).
func sparseModel(r, c int32, typ fb.TensorType, vals []byte, sp func(b *flatbuffers.Builder) flatbuffers.UOffsetT, densify bool) *tModel {
	m := &tModel{tensors: []tTensor{
		{name: "x", shape: []int32{2, c}, typ: fb.TensorTypeFLOAT32},
		{name: "w_sparse", shape: []int32{r, c}, typ: typ, data: vals, sparsity: sp},
		{name: "y", shape: []int32{2, r}, typ: fb.TensorTypeFLOAT32},
	}, inputs: []int32{0}, outputs: []int32{2}}
	w := int32(1)
	if densify {
		m.tensors = append(m.tensors, tTensor{name: "w", shape: []int32{r, c}, typ: typ})
		m.ops = append(m.ops, tOp{code: fb.BuiltinOperatorDENSIFY, in: []int32{1}, out: []int32{3}})
		w = 3
	}
	m.ops = append(m.ops, tOp{code: fb.BuiltinOperatorFULLY_CONNECTED, in: []int32{0, w}, out: []int32{2}})
	return m
}

// checkDense imports m, whose FULLY_CONNECTED weights must densify to
// dense [r][c], and compares its output with x·denseᵀ.
func checkDense(t *testing.T, what string, m *tModel, dense [][]float64) {
	t.Helper()
	g, err := ImportBytes("sparse.tflite", m.build(), Options{})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	c := len(dense[0])
	x := ir.NewTensor(ir.F32, []int{2, c})
	for i := range x.F32 {
		x.F32[i] = float32(i%5) - 1.5
	}
	out, err := interp(t, g).Run([]*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	want := newND(2, len(dense)).fill(func(i []int) float64 {
		s := 0.0
		for k := 0; k < c; k++ {
			s += float64(x.F32[i[0]*c+k]) * dense[i[1]][k]
		}
		return s
	})
	near(t, what, out[0], want, 1e-6)
}

var handDense = [][]float64{{1, 0, 2, 3}, {0, 4, 0, 0}, {0, 0, 5, 0}, {0, 0, 0, 6}}

func TestSparseHand(t *testing.T) {
	f := func(v ...float32) []byte { return f32Bytes(v...) }
	for _, c := range []struct {
		name      string
		order, bm []int32
		dims      []sdim
		vals      []byte
	}{
		{"csr rows", []int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 3}}}, f(1, 2, 3, 4, 5, 6)},
		{"csr rows uint8", []int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 3}, typ: fb.SparseIndexVectorUint8Vector}}, f(1, 2, 3, 4, 5, 6)},
		{"csr columns uint16", []int32{1, 0}, nil, []sdim{{dense: 4}, {seg: []int32{0, 1, 2, 4, 6}, idx: []int32{0, 1, 0, 2, 0, 3}, typ: fb.SparseIndexVectorUint16Vector}}, f(1, 4, 2, 5, 3, 6)},
		{"dense columns", []int32{1, 0}, nil, []sdim{{dense: 4}, {dense: 4}}, f(1, 0, 0, 0, 0, 4, 0, 0, 2, 0, 5, 0, 3, 0, 0, 6)},
		{"2x2 blocks", []int32{0, 1, 2, 3}, []int32{0, 1}, []sdim{{dense: 2}, {seg: []int32{0, 2, 3}, idx: []int32{0, 1, 1}}, {dense: 2}, {dense: 2}},
			f(1, 0, 0, 4, 2, 3, 0, 0, 5, 0, 0, 6)},
		{"1x2 blocks", []int32{0, 1, 2}, []int32{1}, []sdim{{dense: 4}, {seg: []int32{0, 2, 3, 4, 5}, idx: []int32{0, 1, 0, 1, 1}}, {dense: 2}},
			f(1, 0, 2, 3, 0, 4, 5, 0, 0, 6)},
	} {
		for _, densify := range []bool{false, true} {
			m := sparseModel(4, 4, fb.TensorTypeFLOAT32, c.vals, sparsityOf(c.order, c.bm, c.dims), densify)
			checkDense(t, fmt.Sprintf("%s densify=%v", c.name, densify), m, handDense)
		}
	}
}

// encodeBlocked is an independent encoder: dense [r][c] with br×bc blocks
// (1×1: plain CSR) stored row-major, block rows DENSE, block columns
// SPARSE_CSR (a block is stored when any element is non-zero).
func encodeBlocked(dense [][]float64, br, bc int) ([]int32, []int32, []sdim, []float32) {
	r, c := len(dense), len(dense[0])
	seg, idx := []int32{0}, []int32{}
	var vals []float32
	for i := 0; i < r/br; i++ {
		for j := 0; j < c/bc; j++ {
			nz := false
			for a := 0; a < br; a++ {
				for b := 0; b < bc; b++ {
					nz = nz || dense[i*br+a][j*bc+b] != 0
				}
			}
			if !nz {
				continue
			}
			idx = append(idx, int32(j))
			for a := 0; a < br; a++ {
				for b := 0; b < bc; b++ {
					vals = append(vals, float32(dense[i*br+a][j*bc+b]))
				}
			}
		}
		seg = append(seg, int32(len(idx)))
	}
	dims := []sdim{{dense: int32(r / br)}, {seg: seg, idx: idx}}
	if br == 1 && bc == 1 {
		return []int32{0, 1}, nil, dims, vals
	}
	return []int32{0, 1, 2, 3}, []int32{0, 1}, append(dims, sdim{dense: int32(br)}, sdim{dense: int32(bc)}), vals
}

func TestSparseRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	for _, bs := range [][2]int{{1, 1}, {2, 2}, {1, 4}, {4, 1}} {
		r, c := 8, 12
		dense := make([][]float64, r)
		for i := range dense {
			dense[i] = make([]float64, c)
			for j := range dense[i] {
				if rng.Float64() < 0.3 {
					dense[i][j] = float64(float32(rng.NormFloat64()))
				}
			}
		}
		order, bm, dims, vals := encodeBlocked(dense, bs[0], bs[1])
		m := sparseModel(int32(r), int32(c), fb.TensorTypeFLOAT32, f32Bytes(vals...), sparsityOf(order, bm, dims), false)
		checkDense(t, fmt.Sprintf("blocks %v", bs), m, dense)
	}
}

// TestSparseInt8 densifies int8 weights per channel: the stored integers
// and the parameters come through.
func TestSparseInt8(t *testing.T) {
	m := &tModel{tensors: []tTensor{
		{name: "x", shape: []int32{1}, typ: fb.TensorTypeFLOAT32},
		{name: "w_sparse", shape: []int32{4, 4}, typ: fb.TensorTypeINT8, data: []byte{1, 0xfe, 3, 4, 0x80, 127},
			scale: []float32{0.1, 0.2, 0.3, 0.4}, zp: []int64{0, 0, 0, 0}, qdim: 0,
			sparsity: sparsityOf([]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 3}}})},
		{name: "w", shape: []int32{4, 4}, typ: fb.TensorTypeINT8, scale: []float32{0.1, 0.2, 0.3, 0.4}, zp: []int64{0, 0, 0, 0}},
	}, inputs: []int32{0}, outputs: []int32{2},
		ops: []tOp{{code: fb.BuiltinOperatorDENSIFY, in: []int32{1}, out: []int32{2}}}}
	g, err := ImportBytes("sparse.tflite", m.build(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := g.Results[0]
	if !r.IsConst() || r.Type.Quant == nil || r.Type.Quant.Axis != 0 || r.Type.Quant.Scale[3] != 0.4 {
		t.Fatalf("DENSIFY result %v", r.Type)
	}
	want := []int64{1, 0, -2, 3, 0, 4, 0, 0, 0, 0, -128, 0, 0, 0, 0, 127}
	for i, w := range want {
		if got := r.Const.IntAt(i); got != w {
			t.Fatalf("element %d = %d, want %d", i, got, w)
		}
	}
}

func TestSparseMalformed(t *testing.T) {
	f := f32Bytes(1, 2, 3, 4, 5, 6)
	for _, c := range []struct {
		order, bm []int32
		dims      []sdim
		vals      []byte
		want      string
	}{
		{[]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 4}}}, f, "index 4 out of range"},
		{[]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5}, idx: []int32{0, 2, 3, 1, 2, 3}}}, f, "array_segments has 4 entries"},
		{[]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 9}, idx: []int32{0, 2, 3, 1, 2, 3}}}, f, "outside the 6 array_indices"},
		{[]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 3}}}, f32Bytes(1, 2, 3), "more than the 3 stored values"},
		{[]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 3}}}, f32Bytes(1, 2, 3, 4, 5, 6, 7), "address 6 of the 7"},
		{[]int32{0, 0}, nil, []sdim{{dense: 4}, {dense: 4}}, f, "not a permutation"},
		{[]int32{0, 1}, nil, []sdim{{dense: 3}, {dense: 4}}, f, "dense_size 3 of level 0, want 4"},
		{[]int32{0, 1, 2}, []int32{1}, []sdim{{dense: 4}, {dense: 4}, {dense: 3}}, f, "block size 3 does not divide"},
	} {
		m := sparseModel(4, 4, fb.TensorTypeFLOAT32, c.vals, sparsityOf(c.order, c.bm, c.dims), true)
		_, err := ImportBytes("sparse.tflite", m.build(), Options{})
		if err == nil {
			t.Errorf("%q: imported", c.want)
			continue
		}
		for _, s := range []string{"sparse.tflite", "w_sparse", c.want} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	}
}

// TestSparseFloat16 reads sparse float16 weights, through DENSIFY and
// DEQUANTIZE (the TF converter's form) or DEQUANTIZE alone.
func TestSparseFloat16(t *testing.T) {
	var half []byte
	for _, h := range []uint16{0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600} { // 1 … 6
		half = append(half, byte(h), byte(h>>8))
	}
	sp := sparsityOf([]int32{0, 1}, nil, []sdim{{dense: 4}, {seg: []int32{0, 3, 4, 5, 6}, idx: []int32{0, 2, 3, 1, 2, 3}}})
	for _, densify := range []bool{false, true} {
		m := &tModel{tensors: []tTensor{
			{name: "x", shape: []int32{2, 4}, typ: fb.TensorTypeFLOAT32},
			{name: "w_sparse", shape: []int32{4, 4}, typ: fb.TensorTypeFLOAT16, data: half, sparsity: sp},
			{name: "y", shape: []int32{2, 4}, typ: fb.TensorTypeFLOAT32},
			{name: "w_f16", shape: []int32{4, 4}, typ: fb.TensorTypeFLOAT16},
			{name: "w", shape: []int32{4, 4}, typ: fb.TensorTypeFLOAT32},
		}, inputs: []int32{0}, outputs: []int32{2}}
		src := int32(1)
		if densify {
			m.ops = append(m.ops, tOp{code: fb.BuiltinOperatorDENSIFY, in: []int32{1}, out: []int32{3}})
			src = 3
		}
		m.ops = append(m.ops, tOp{code: fb.BuiltinOperatorDEQUANTIZE, in: []int32{src}, out: []int32{4}},
			tOp{code: fb.BuiltinOperatorFULLY_CONNECTED, in: []int32{0, 4}, out: []int32{2}})
		checkDense(t, fmt.Sprintf("float16 densify=%v", densify), m, handDense)
	}
}

// sparseSeed is a block-sparse model for the corruption test and the fuzzer.
func sparseSeed() []byte {
	return sparseModel(4, 4, fb.TensorTypeFLOAT32, f32Bytes(1, 0, 0, 4, 2, 3, 0, 0, 5, 0, 0, 6),
		sparsityOf([]int32{0, 1, 2, 3}, []int32{0, 1}, []sdim{{dense: 2}, {seg: []int32{0, 2, 3}, idx: []int32{0, 1, 1}, typ: fb.SparseIndexVectorUint8Vector}, {dense: 2}, {dense: 2}}), true).build()
}

// Corrupted sparsity metadata is an error (or a valid graph), never a panic.
func TestSparseCorrupted(t *testing.T) {
	data := sparseSeed()
	mut := make([]byte, len(data))
	for i := range data {
		for _, x := range []byte{0xff, 0x80, 0x01} {
			copy(mut, data)
			mut[i] ^= x
			if g, err := ImportBytes("m.tflite", mut, Options{}); err == nil {
				if err := ir.Verify(g); err != nil {
					t.Errorf("byte %d ^ %#x: imported graph does not verify: %v", i, x, err)
				}
			}
		}
	}
}
