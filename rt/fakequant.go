package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Fine-tuning of compressed graphs. Lift turns a graph compressed by
// pare's passes (prune, share, sparse, lowrank, quantize) into a float
// training graph with the same arithmetic, and a Student that knows how to
// write the trained weights back into the compressed encodings (Commit):
//
//   - every weight of a conv / gemm / matmul, whatever its encoding (f32 or
//     integer constant, codebook_decode, sparse_decode, both), becomes a dense
//     f32 constant the optimizer updates;
//   - weights stored as CSR, and dense weights with exact zeros (pruned), get a
//     mask: pruned weights get no gradient and stay zero;
//   - weights stored as a codebook are tied: the optimizer updates the
//     codebook entries, each by the sum of the gradients of the weights that
//     use it (Deep Compression's centroid fine-tuning), and the dense weights
//     are rewritten from the codebook after every step; a zero entry stays zero;
//   - integer (quantized) weights and activations become fake quantization:
//     quantize → dequantize pairs in the float graph, with the scales and zero
//     points of the quantized graph, whose straight-through gradients
//     (grad_quant.go) train the float weights; int32 biases become f32.
//
// Commit re-encodes: new codebook entries, new CSR values, new integer
// weights and biases with the same scales; indices, sparsity patterns and
// quantization parameters are kept.

// Student is a compressed graph prepared for fine-tuning.
type Student struct {
	// Orig is the compressed graph; Commit rewrites its weights.
	Orig *ir.Graph
	// Float is the batch-1 float training form of Orig. Its weights are the
	// Params' tensors; Rebatch copies share them.
	Float *ir.Graph
	// Params are the trainable tensors, to pass to Train with the optimizer
	// from Optimizer.
	Params []*Param
	ws     []*liftedWeight
	biases []*liftedBias
}

// liftedWeight is one weight of Orig in its dense float form.
type liftedWeight struct {
	p     *Param
	w     *ir.Value // the weight of Orig (const or decode)
	dense *ir.Tensor
	scale []float32 // per dense element: float = (stored - zero) × scale
	zero  []float32
	// slot maps a dense element to its stored element (CSR value index, or
	// the element itself), -1 for a structural zero.
	slot []int
	// Codebook ties: cluster of each dense element (-1: none), the entries
	// in stored units, and the trainable entries.
	cluster []int
	cb      *Param
	cbFixed []bool
	cbUnit  float32 // cb holds entries × cbUnit
}

// liftedBias is a bias (f32, or int32 trained in f32).
type liftedBias struct {
	p     *Param
	b     *ir.Value
	scale []float32
}

var weightOps = map[string]bool{"conv": true, "gemm": true, "matmul": true, "conv_transpose": true}

// passThrough are ops that run on quantized tensors without changing their grid.
var passThrough = map[string]bool{"relu": true, "maxpool": true, "reshape": true, "transpose": true, "flatten": true,
	"squeeze": true, "unsqueeze": true, "concat": true}

// Lift prepares a (possibly compressed) graph for fine-tuning. The graph's
// first input must be f32 (an integer model input is not differentiable).
func Lift(g *ir.Graph) (*Student, error) {
	s := &Student{Orig: g}
	f := ir.NewGraph(g.Name)
	m := map[*ir.Value]*ir.Value{}
	for _, p := range g.Params {
		m[p] = f.AddParam(p.Name, p.Type)
	}
	weights := map[*ir.Value]*ir.Value{}
	fq := func(x *ir.Value, t ir.Type, name string) (*ir.Value, error) {
		if t.Quant == nil || !t.DType.IsInt() || t.DType == ir.I32 {
			return x, nil
		}
		q, err := f.Add("quantize", []*ir.Value{x}, nil, ir.Type{DType: t.DType, Quant: t.Quant}, name+".fq", name)
		if err != nil {
			return nil, err
		}
		return f.Add("dequantize", []*ir.Value{q}, nil, ir.Type{}, name+".fdq", name)
	}
	for _, v := range g.Values {
		if v.IsConst() || v.Op.Name == "codebook_decode" || v.Op.Name == "sparse_decode" || v.Op.Name == "sparse_rel_decode" {
			continue // weights are lifted where a layer uses them; others below
		}
		args := make([]*ir.Value, len(v.Args))
		for i, a := range v.Args {
			switch {
			case m[a] != nil:
				args[i] = m[a]
			case weightOps[v.Op.Name] && i == 1:
				w := weights[a]
				if w == nil {
					lw, err := s.liftWeight(f, a)
					if err != nil {
						return nil, fmt.Errorf("%s: %v", v.Where(), err)
					}
					if w, err = fq(lw, a.Type, a.Name); err != nil {
						return nil, err
					}
					weights[a] = w
				}
				args[i] = w
			case weightOps[v.Op.Name] && i == 2 && a.IsConst() && (a.Type.DType == ir.F32 || a.Type.DType == ir.I32 && a.Type.Quant != nil):
				args[i] = s.liftBias(f, a)
			default:
				c, err := constF32(a)
				if err != nil {
					return nil, fmt.Errorf("%s: argument %d: %v", v.Where(), i, err)
				}
				args[i] = f.AddConst(a.Name, c, nil)
			}
		}
		var nv *ir.Value
		var err error
		intOut := v.Type.DType.IsInt() && v.Type.Quant != nil
		switch {
		case v.Op.Name == "dequantize":
			nv = args[0]
		case v.Op.Name == "quantize" || v.Op.Name == "requantize":
			nv, err = fq(args[0], v.Type, v.Name)
		default:
			attrs := v.Attrs.Clone()
			delete(attrs, "rq")
			if intOut {
				floatBounds(attrs, v.Op.Name, v.Type.Quant)
			}
			hint := v.Type
			hint.DType, hint.Quant = ir.F32, nil
			if v.Type.DType.IsInt() && v.Type.Quant == nil {
				return nil, fmt.Errorf("%s: integer result %v without quantization cannot be trained", v.Where(), v.Type)
			}
			nv, err = f.Add(v.Op.Name, args, attrs, hint, v.Name, v.Source)
			if err == nil && intOut && !passThrough[v.Op.Name] {
				nv, err = fq(nv, v.Type, v.Name)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("lift %s: %v", v.Where(), err)
		}
		m[v] = nv
	}
	for _, r := range g.Results {
		nr := m[r]
		if nr == nil {
			return nil, fmt.Errorf("result %%%s is a constant", r.Name)
		}
		if nr.Type.DType != ir.F32 {
			return nil, fmt.Errorf("result %%%s is %v", r.Name, nr.Type)
		}
		f.Results = append(f.Results, nr)
	}
	if err := ir.Verify(f); err != nil {
		return nil, fmt.Errorf("lifted graph: %v", err)
	}
	s.Float = f
	return s, nil
}

// floatBounds rewrites integer clip bounds (of act=clip or a clip op on a
// quantized tensor) into real units.
func floatBounds(a ir.Attrs, op string, q *ir.Quant) {
	lo, hi := "act_min", "act_max"
	if op == "clip" {
		lo, hi = "min", "max"
	}
	for _, k := range []string{lo, hi} {
		if x, ok := a[k]; ok && x.Kind == ir.AttrFloat && !math.IsInf(float64(x.Float), 0) {
			a[k] = ir.Float((x.Float - float32(q.ZeroAt(0))) * q.ScaleAt(0))
		}
	}
}

// constF32 is the value of a constant (or decode of constants) in f32,
// dequantized when it is integer.
func constF32(a *ir.Value) (*ir.Tensor, error) {
	t := constTensor(a)
	if t == nil {
		return nil, fmt.Errorf("%s is neither computed nor constant", a.Where())
	}
	if t.DType == ir.F32 {
		return t.Clone(), nil
	}
	out := ir.NewTensor(ir.F32, t.Shape)
	q := a.Type.Quant
	var ch func(int) int
	if q != nil {
		ch = quantChannels(q, t.Shape)
	}
	for i := range out.F32 {
		x := t.At(i)
		if q != nil {
			c := ch(i)
			x = (x - float64(q.ZeroAt(c))) * float64(q.ScaleAt(c))
		}
		out.F32[i] = float32(x)
	}
	return out, nil
}

func (s *Student) liftBias(f *ir.Graph, b *ir.Value) *ir.Value {
	t, _ := constF32(b)
	lb := &liftedBias{b: b, scale: make([]float32, t.Len())}
	for i := range lb.scale {
		lb.scale[i] = 1
	}
	if q := b.Type.Quant; q != nil {
		ch := quantChannels(q, b.Type.Shape)
		for i := range lb.scale {
			lb.scale[i] = q.ScaleAt(ch(i))
		}
	}
	c := f.AddConst(b.Name, t, nil)
	lb.p = &Param{V: c, NoDecay: true}
	s.biases = append(s.biases, lb)
	s.Params = append(s.Params, lb.p)
	return c
}

// liftWeight adds the dense f32 form of weight w (in real units, before
// fake quantization) to f and records how it is encoded.
func (s *Student) liftWeight(f *ir.Graph, w *ir.Value) (*ir.Value, error) {
	n := w.Type.NumElements()
	lw := &liftedWeight{w: w, scale: make([]float32, n), zero: make([]float32, n), slot: make([]int, n)}
	q := w.Type.Quant
	if w.Type.DType.IsInt() && q == nil {
		return nil, fmt.Errorf("integer weight %s without quantization", w.Where())
	}
	ch := func(int) int { return 0 }
	if q != nil {
		ch = quantChannels(q, w.Type.Shape)
	}
	for i := range lw.scale {
		lw.scale[i], lw.slot[i] = 1, i
		if q != nil {
			lw.scale[i], lw.zero[i] = q.ScaleAt(ch(i)), float32(q.ZeroAt(ch(i)))
		}
	}
	stored := w // the value holding one entry per slot
	if w.Op.Name == "sparse_decode" {
		rows := w.Type.Shape[0]
		vals, col, ptr := constTensor(w.Args[0]), constTensor(w.Args[1]), constTensor(w.Args[2])
		if vals == nil || col == nil || ptr == nil {
			return nil, fmt.Errorf("%s: sparse encoding is not constant", w.Where())
		}
		mcsr, err := readCSR(w.Type.Shape, vals, col, ptr)
		if err != nil {
			return nil, err
		}
		for i := range lw.slot {
			lw.slot[i] = -1
		}
		for r := 0; r < rows; r++ {
			for k := mcsr.ptr[r]; k < mcsr.ptr[r+1]; k++ {
				lw.slot[r*mcsr.cols+int(mcsr.col[k])] = int(k)
			}
		}
		stored = w.Args[0]
	}
	if w.Op.Name == "sparse_rel_decode" {
		// Relative indices: value k sits gaps[k]+1 positions after value
		// k-1. Zero fillers get a slot too; being zero, they are masked (or
		// index the fixed zero centroid) and stay zero.
		vals, gaps := w.Args[0], constTensor(w.Args[1])
		if gaps == nil {
			return nil, fmt.Errorf("%s: relative indices are not constant", w.Where())
		}
		for i := range lw.slot {
			lw.slot[i] = -1
		}
		bits, pos := w.Int("bits"), -1
		for k := 0; k < vals.Type.NumElements(); k++ {
			pos += CodebookIndex(gaps.U8, bits, k) + 1
			if pos >= n {
				return nil, fmt.Errorf("%s: value %d lies past the %d elements", w.Where(), k, n)
			}
			lw.slot[pos] = k
		}
		stored = vals
	}
	dt, err := constF32(w)
	if err != nil {
		return nil, err
	}
	lw.dense = dt
	if stored.Op.Name == "codebook_decode" {
		cb := constTensor(stored.Args[0])
		ix := constTensor(stored.Args[1])
		if cb == nil || ix == nil {
			return nil, fmt.Errorf("%s: codebook is not constant", stored.Where())
		}
		bits := stored.Int("bits")
		lw.cluster = make([]int, n)
		for i, sl := range lw.slot {
			lw.cluster[i] = -1
			if sl >= 0 {
				lw.cluster[i] = CodebookIndex(ix.U8, bits, sl)
			}
		}
		// Entries train in real units of the mean scale, so that the
		// optimizer's steps mean the same for integer and float codebooks.
		var sum float64
		for _, sc := range lw.scale {
			sum += float64(sc)
		}
		lw.cbUnit = float32(sum / float64(n))
		c := ir.NewTensor(ir.F32, []int{cb.Len()})
		lw.cbFixed = make([]bool, cb.Len())
		for k := range c.F32 {
			c.F32[k] = float32(cb.At(k)) * lw.cbUnit
			lw.cbFixed[k] = c.F32[k] == 0
		}
		lw.cb = &Param{V: &ir.Value{Name: stored.Args[0].Name, Op: ir.OpConst, Const: c, Type: ir.Type{DType: ir.F32, Shape: c.Shape}}}
	} else if stored.Op.Name != "const" && !stored.IsConst() {
		return nil, fmt.Errorf("weight encoding %s is not supported", stored.Where())
	}
	v := f.AddConst(w.Name, dt, nil)
	lw.p = &Param{V: v}
	if lw.cluster == nil {
		var mask []float32
		for i, sl := range lw.slot {
			if sl < 0 || dt.F32[i] == 0 {
				if mask == nil {
					mask = make([]float32, n)
					for j := range mask {
						mask[j] = 1
					}
				}
				mask[i] = 0
			}
		}
		lw.p.Mask = mask
	}
	s.ws = append(s.ws, lw)
	s.Params = append(s.Params, lw.p)
	return v, nil
}
