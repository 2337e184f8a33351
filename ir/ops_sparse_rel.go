package ir

import "fmt"

// sparse_rel_decode: Deep Compression's relative-index sparse encoding
// (written by the sparse and share passes when it is the smallest). The
// declared tensor is scanned in row-major order; stored element k sits
// gap_k + 1 positions after element k-1 (the first at gap_0), where gap_k
// is a bits-wide field of the packed gaps stream (little-endian bit fields
// in u8 bytes, as codebook_decode reads them). A gap wider than the field
// allows is bridged by filler elements whose value is zero. Elements not
// stored are zero.
func init() {
	register(&OpDef{Name: "sparse_rel_decode", Args: []string{"values", "gaps"}, Infer: sparseRelDecodeInfer,
		Attrs: []AttrDef{{Name: "bits", Kind: AttrInt, Required: true, Doc: "bits per relative index (gap), 1..8"}},
		Doc:   "relative-index sparse weights: element k of values sits gaps[k]+1 positions after element k-1 in the row-major declared shape; other elements are zero"})
}

func sparseRelDecodeInfer(v *Value) (Type, error) {
	vals, gaps := arg(v, 0), arg(v, 1)
	bits := v.Int("bits")
	if bits < 1 || bits > 8 {
		return Type{}, fmt.Errorf("bits %d (want 1..8)", bits)
	}
	if vals.Rank() != 1 || gaps.Rank() != 1 || gaps.DType != U8 {
		return Type{}, fmt.Errorf("values %v and gaps %v must be 1-D, gaps u8", vals, gaps)
	}
	if vals.DType != F32 && vals.DType != I8 && vals.DType != U8 {
		return Type{}, fmt.Errorf("values must be f32, i8 or u8, got %v", vals.DType)
	}
	t, err := decodedType(v, vals)
	if err != nil {
		return Type{}, err
	}
	if want := (vals.Shape[0]*bits + 7) / 8; gaps.Shape[0] != want {
		return Type{}, fmt.Errorf("gaps %v: %d values of %d-bit gaps need %d bytes", gaps.Shape, vals.Shape[0], bits, want)
	}
	if vals.Shape[0] > t.NumElements() {
		return Type{}, fmt.Errorf("values %v: more than the %d elements of %v", vals.Shape, t.NumElements(), t.Shape)
	}
	return t, nil
}
