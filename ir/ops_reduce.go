package ir

import "fmt"

// Reductions: reduce_mean, reduce_sum, reduce_max and argmax.

func reduceOp(name, doc string) *OpDef {
	d := &OpDef{Name: name, Args: []string{"x"},
		Attrs: []AttrDef{{Name: "axes", Kind: AttrInts, Required: true}, {Name: "keepdims", Kind: AttrInt, Default: Int(1)}},
		Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if x.DType != F32 && name == "reduce_sum" {
				return Type{}, fmt.Errorf("%s takes f32, got %v", name, x.DType)
			}
			red := make([]bool, x.Rank())
			for _, a := range v.IntList("axes") {
				if _, err := normAxis(a, x.Rank()); err != nil {
					return Type{}, err
				}
				red[a] = true
			}
			var s []int
			for i, d := range x.Shape {
				switch {
				case !red[i]:
					s = append(s, d)
				case v.Int("keepdims") != 0:
					s = append(s, 1)
				}
			}
			if s == nil {
				s = []int{}
			}
			if name == "reduce_mean" {
				return floatOrQuantized(v, s)
			}
			return Type{DType: x.DType, Shape: s}, nil
		}, Doc: doc}
	if name == "reduce_mean" {
		d.Attrs = append(d.Attrs, rqAttr)
		d.Flags = Quantizable
		d.Doc += "; " + quantFormDoc
	}
	return d
}

func argmaxOp() *OpDef {
	return &OpDef{Name: "argmax", Args: []string{"x"},
		Attrs: []AttrDef{{Name: "axis", Kind: AttrInt, Required: true}, {Name: "keepdims", Kind: AttrInt, Default: Int(1)},
			{Name: "select_last_index", Kind: AttrInt, Default: Int(0)}},
		Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if x.DType == Bool || x.DType.Size() == 0 {
				return Type{}, fmt.Errorf("argmax of %v", x.DType)
			}
			a, err := normAxis(v.Int("axis"), x.Rank())
			if err != nil {
				return Type{}, err
			}
			if a != v.Int("axis") {
				return Type{}, fmt.Errorf("axis %d: give it normalized (%d)", v.Int("axis"), a)
			}
			dt := v.Type.DType
			if dt == 0 {
				dt = I64
			}
			if dt != I32 && dt != I64 {
				return Type{}, fmt.Errorf("argmax gives i32 or i64, not %v", dt)
			}
			var s []int
			for i, d := range x.Shape {
				switch {
				case i != a:
					s = append(s, d)
				case v.Int("keepdims") != 0:
					s = append(s, 1)
				}
			}
			if s == nil {
				s = []int{}
			}
			return Type{DType: dt, Shape: s}, nil
		}, Doc: "index along axis of the first maximum (select_last_index: the last), as i64 (or a declared i32): from the first element on, an element replaces the best when greater (last: greater or equal); stored integers compare as they are"}
}

// topkOp is topk (the values) or topk_index (their indices along axis):
// the k largest elements (largest=0: smallest) along axis, best first.
func topkOp(index bool) *OpDef {
	name, doc := "topk", "the k largest (largest=0: the smallest) elements along axis, best first"
	if index {
		name, doc = "topk_index", "the indices along axis (i64, or a declared i32) of topk's elements"
	}
	doc += ": each element in index order is inserted after the kept ones it does not beat (beat: greater, largest=0 less, or equal with a lower index; stored integers compare as they are), so ties keep index order; a NaN beats nothing and nothing beats it"
	return &OpDef{Name: name, Args: []string{"x"},
		Attrs: []AttrDef{{Name: "k", Kind: AttrInt, Required: true}, {Name: "axis", Kind: AttrInt, Required: true},
			{Name: "largest", Kind: AttrInt, Default: Int(1)}},
		Infer: func(v *Value) (Type, error) {
			x := arg(v, 0)
			if x.DType == Bool || x.DType.Size() == 0 {
				return Type{}, fmt.Errorf("%s of %v", name, x.DType)
			}
			a, err := normAxis(v.Int("axis"), x.Rank())
			if err != nil {
				return Type{}, err
			}
			if a != v.Int("axis") {
				return Type{}, fmt.Errorf("axis %d: give it normalized (%d)", v.Int("axis"), a)
			}
			k := v.Int("k")
			if k < 1 || k > x.Shape[a] {
				return Type{}, fmt.Errorf("k %d must be in [1, %d]", k, x.Shape[a])
			}
			s := append([]int{}, x.Shape...)
			s[a] = k
			if !index {
				return Type{DType: x.DType, Shape: s, Quant: x.Quant}, nil
			}
			dt := v.Type.DType
			if dt == 0 {
				dt = I64
			}
			if dt != I32 && dt != I64 {
				return Type{}, fmt.Errorf("topk_index gives i32 or i64, not %v", dt)
			}
			return Type{DType: dt, Shape: s}, nil
		}, Doc: doc}
}
