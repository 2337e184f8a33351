package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// MaxFoldBytes bounds the bytes of constants the importer makes by folding
// (ConstantOfShape weights, folded Expand ...), so that a small malformed
// model cannot make it allocate without limit. Values over the budget stay
// ops in the graph, or, for ops that must fold, are an error.
var MaxFoldBytes int64 = 8 << 30

// noFold lists IR ops kept in the graph even on constant arguments:
// dequantize would turn quantized weights back into floats.
var noFold = map[string]bool{"dequantize": true}

// fold evaluates v when all its arguments are constants; it returns nil
// (and no error) when v is not foldable.
func (im *importer) fold(v *ir.Value) (*ir.Tensor, error) {
	if noFold[v.Op.Name] {
		return nil, nil
	}
	args := make([]*ir.Tensor, len(v.Args))
	for i, a := range v.Args {
		if !a.IsConst() {
			return nil, nil
		}
		args[i] = a.Const
	}
	if !im.budget(v.Type.Bytes()) {
		return nil, nil
	}
	t, ok, err := evalLocal(v, args)
	if !ok && err == nil && rt.Supported(v.Op.Name) {
		// rt may lack a kernel for some dtype: keep the op then, and say
		// why if a constant is needed later.
		if t, err = rt.EvalOp(v, args); err != nil {
			im.foldErr[v], err = err, nil
		} else {
			ok = true
		}
	}
	if err != nil || !ok {
		im.folded -= int64(v.Type.Bytes())
		return nil, err
	}
	if t.DType != v.Type.DType || !ir.EqualShape(t.Shape, v.Type.Shape) {
		return nil, fmt.Errorf("folding produced %v%v for %v", t.DType, t.Shape, v.Type)
	}
	return t, nil
}

// budget reserves n bytes of folded constants; false when over MaxFoldBytes.
func (im *importer) budget(n int) bool {
	if im.folded+int64(n) > MaxFoldBytes {
		return false
	}
	im.folded += int64(n)
	return true
}

// evalLocal evaluates the layout ops and integer arithmetic that shape
// computations use, independently of rt; ok is false for other ops.
func evalLocal(v *ir.Value, args []*ir.Tensor) (t *ir.Tensor, ok bool, err error) {
	x := args[0]
	out := func() *ir.Tensor { return ir.NewTensor(v.Type.DType, v.Type.Shape) }
	switch v.Op.Name {
	case "reshape":
		return x.Reshaped(v.Type.Shape), true, nil
	case "transpose":
		perm := v.IntList("perm")
		st := ir.Strides(x.Shape)
		src := make([]int, len(perm))
		for i, p := range perm {
			src[i] = st[p]
		}
		t = out()
		walk(t.Shape, src, 0, func(i, j int) { copyElem(t, i, x, j) })
	case "slice":
		starts, steps := v.IntList("starts"), v.IntList("steps")
		st := ir.Strides(x.Shape)
		src := make([]int, len(st))
		base := 0
		for i := range st {
			src[i] = st[i] * steps[i]
			base += st[i] * starts[i]
		}
		t = out()
		walk(t.Shape, src, base, func(i, j int) { copyElem(t, i, x, j) })
	case "expand":
		t = out()
		walk(t.Shape, broadcastStrides(x.Shape, t.Shape), 0, func(i, j int) { copyElem(t, i, x, j) })
	case "concat":
		t = out()
		axis := v.Int("axis")
		outer := ir.NumElements(t.Shape[:axis])
		inner := ir.NumElements(t.Shape[axis+1:])
		off := 0
		for _, a := range args {
			blk := a.Shape[axis] * inner
			for o := 0; o < outer; o++ {
				for k := 0; k < blk; k++ {
					copyElem(t, o*t.Shape[axis]*inner+off+k, a, o*blk+k)
				}
			}
			off += blk
		}
	case "gather":
		t = out()
		axis := v.Int("axis")
		ix := args[1]
		n := x.Shape[axis]
		outer := ir.NumElements(x.Shape[:axis])
		inner := ir.NumElements(x.Shape[axis+1:])
		m := ix.Len()
		for j := 0; j < m; j++ {
			k := ix.IntAt(j)
			if k < 0 {
				k += int64(n)
			}
			if k < 0 || k >= int64(n) {
				return nil, false, fmt.Errorf("gather index %d out of range for size %d", ix.IntAt(j), n)
			}
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					copyElem(t, (o*m+j)*inner+i, x, (o*n+int(k))*inner+i)
				}
			}
		}
	case "cast":
		t = out()
		for i := 0; i < t.Len(); i++ {
			switch {
			case x.DType.IsInt() && t.DType.IsInt():
				t.SetInt(i, x.IntAt(i))
			case x.DType == ir.F32 && t.DType.IsInt():
				t.SetInt(i, int64(x.F32[i]))
			default:
				t.Set(i, x.At(i))
			}
		}
	case "add", "sub", "mul", "div", "max", "min":
		if !x.DType.IsInt() || v.Type.Quant != nil || v.Args[0].Type.Quant != nil || v.Args[1].Type.Quant != nil {
			return nil, false, nil
		}
		t = out()
		a, b := args[0], args[1]
		sa, sb := broadcastStrides(a.Shape, t.Shape), broadcastStrides(b.Shape, t.Shape)
		walk2(t.Shape, sa, sb, func(i, ja, jb int) {
			p, q := a.IntAt(ja), b.IntAt(jb)
			var r int64
			switch v.Op.Name {
			case "add":
				r = p + q
			case "sub":
				r = p - q
			case "mul":
				r = p * q
			case "div":
				if q == 0 {
					err = fmt.Errorf("integer division by zero")
					return
				}
				r = p / q
			case "max":
				r = max(p, q)
			case "min":
				r = min(p, q)
			}
			t.SetInt(i, r)
		})
		if err != nil {
			return nil, false, err
		}
	default:
		return nil, false, nil
	}
	return t, true, nil
}

// broadcastStrides gives, per dim of out, the stride into a tensor of shape
// in broadcast to out (0 along broadcast dims).
func broadcastStrides(in, out []int) []int {
	st := ir.Strides(in)
	s := make([]int, len(out))
	for i := range out {
		j := i - (len(out) - len(in))
		if j >= 0 && in[j] != 1 {
			s[i] = st[j]
		}
	}
	return s
}

// walk visits every index of shape in row-major order with the flat index
// and the offset base + Σ index·strides.
func walk(shape, strides []int, base int, fn func(i, j int)) {
	n := ir.NumElements(shape)
	idx := make([]int, len(shape))
	j := base
	for i := 0; i < n; i++ {
		fn(i, j)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			j += strides[d]
			if idx[d] < shape[d] {
				break
			}
			j -= strides[d] * shape[d]
			idx[d] = 0
		}
	}
}

// walk2 is walk over two operands.
func walk2(shape, sa, sb []int, fn func(i, ja, jb int)) {
	n := ir.NumElements(shape)
	idx := make([]int, len(shape))
	ja, jb := 0, 0
	for i := 0; i < n; i++ {
		fn(i, ja, jb)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			ja += sa[d]
			jb += sb[d]
			if idx[d] < shape[d] {
				break
			}
			ja -= sa[d] * shape[d]
			jb -= sb[d] * shape[d]
			idx[d] = 0
		}
	}
}

// copyElem copies element j of src (same dtype) to element i of dst.
func copyElem(dst *ir.Tensor, i int, src *ir.Tensor, j int) {
	switch dst.DType {
	case ir.F32:
		dst.F32[i] = src.F32[j]
	case ir.I8:
		dst.I8[i] = src.I8[j]
	case ir.U8:
		dst.U8[i] = src.U8[j]
	case ir.I16:
		dst.I16[i] = src.I16[j]
	case ir.I32:
		dst.I32[i] = src.I32[j]
	case ir.I64:
		dst.I64[i] = src.I64[j]
	case ir.Bool:
		dst.Bool[i] = src.Bool[j]
	}
}
