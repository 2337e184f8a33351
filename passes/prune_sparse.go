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
	Summary: "store pruned weights as CSR (values + column indices + row pointers) where smaller than dense",
	Options: []OptionDef{
		{Name: "min", Kind: Float, Default: "0.5", Doc: "minimum fraction of zeros for a weight to be encoded"},
		{Name: "skip", Kind: List, Default: "", Doc: "layers (value or node names) left dense"},
	},
	After: []string{"canonicalize", "prune", "quantize", "share"},
	New: func(o Options) (Func, error) {
		minZeros := o.Float("min")
		skip := o.List("skip")
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
				enc, err := encodeCSR(g, w, minZeros)
				if err != nil {
					return err
				}
				if enc == nil {
					continue
				}
				v.Args[1] = enc
				n++
				rep.Notef("%s: %v stored as CSR, %d non-zeros, %d → %d bytes", layerKey(v), w.Type, enc.Args[0].Type.NumElements(),
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
		if v.Op.Name != "sparse_decode" && v.Op.Name != "codebook_decode" {
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
