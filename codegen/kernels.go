package codegen

import (
	"strings"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// maxScratch bounds the im2col buffer of one conv (bytes).
const maxScratch = 512 << 20

// PanelCols is the width of the column panels an f32 KConvGemm step's
// Scratch has room for (its columns are rounded up to a multiple).
const PanelCols = 16

// lowerConv lowers a 1-D or 2-D f32 convolution, folding a following
// per-channel scale, bias or batchnorm into its weights when they are
// constant.
func (l *lowerer) lowerConv(v *ir.Value) (*Step, *ir.Value, error) {
	if !isF32(v) {
		return l.lowerIntConv(v)
	}
	w := v.Args[1].Type
	c, err := convOf(v)
	if err != nil {
		return nil, nil, err
	}

	st := &Step{Kernel: KConvGemm, Op: "conv", Where: v.Where(), Conv: c}
	wt := constOf(v.Args[1])
	var bias []float32
	if len(v.Args) == 3 {
		if b := constOf(v.Args[2]); b != nil {
			bias = append([]float32{}, b.F32...)
		}
	}
	last := v
	// Fold following per-channel affine ops into the weights.
	if wt != nil && (len(v.Args) == 2 || bias != nil) {
		wf := append([]float32{}, wt.F32...)
		folded := false
		per := len(wf) / c.M
		for {
			u := l.next(last)
			if u == nil {
				break
			}
			sc, sh := l.channelAffine(u, last)
			if sc == nil && sh == nil {
				break
			}
			if bias == nil {
				bias = make([]float32, c.M)
			}
			for m := 0; m < c.M; m++ {
				if sc != nil {
					for i := m * per; i < (m+1)*per; i++ {
						wf[i] *= sc[m]
					}
					bias[m] *= sc[m]
				}
				if sh != nil {
					bias[m] += sh[m]
				}
			}
			l.fused[u] = true
			last, folded = u, true
		}
		if folded {
			wt = ir.FromF32(w.Shape, wf)
		}
	}
	var xo, wo Operand
	xo = l.operand(v.Args[0])
	var sparseW []int64
	if wt != nil {
		if w, nnz := f32Bits(wt.F32); l.wantSparse(st, v.Args[1], nnz, c.M, c.Cg*c.KH*c.KW, false) {
			sparseW = w // packed by sparseConv
		} else {
			wo = l.packed(wt)
		}
	} else {
		wo = l.operand(v.Args[1])
	}
	st.In = []Operand{xo, wo}
	switch {
	case bias != nil:
		st.In = append(st.In, l.packed(ir.FromF32([]int{c.M}, bias)))
		c.Bias = true
	case len(v.Args) == 3:
		st.In = append(st.In, l.operand(v.Args[2]))
		c.Bias = true
	}
	if sparseW != nil {
		l.sparseConv(st, sparseW, true)
		return st, last, nil
	}
	switch {
	case c.Cg == 1:
		st.Kernel = KConvDepthwise
	default:
		// Scratch holds the GEMM's B: the im2col matrix (or, for pointwise
		// convs, the input) [Cg*KH*KW][OH*OW], with room for the columns
		// rounded up to PanelCols (the LLVM backend packs B into column
		// panels of that width; the Go backend reads the first
		// Cg*KH*KW × OH*OW elements as the plain matrix).
		cols := (c.OH*c.OW + PanelCols - 1) / PanelCols * PanelCols
		n := int64(c.Cg*c.KH*c.KW) * int64(cols) * 4
		if n > maxScratch {
			return nil, nil, Unsupported(v, "im2col buffer of %d bytes", n)
		}
		b := l.newBuffer(n)
		b.first, b.last = l.cur(), l.cur()
		st.Scratch = &Operand{DType: ir.F32, Shape: []int{c.Cg * c.KH * c.KW, cols}, buf: b}
	}
	return st, last, nil
}

// convOf is the geometry of a 1-D or 2-D conv.
func convOf(v *ir.Value) (*Conv, error) {
	x, w := v.Args[0].Type, v.Args[1].Type
	if x.Rank() != 3 && x.Rank() != 4 {
		return nil, Unsupported(v, "%d-D conv (1-D and 2-D are compiled)", x.Rank()-2)
	}
	win, err := ir.WindowOf(v, x.Rank()-2, w.Shape[2:])
	if err != nil {
		return nil, err
	}
	c := &Conv{N: x.Shape[0], C: x.Shape[1], H: 1, W: x.Shape[2], M: w.Shape[0], OH: 1, OW: v.Type.Shape[2],
		KH: 1, KW: w.Shape[2], SH: 1, SW: win.Strides[0], DH: 1, DW: win.Dilations[0], PL: win.PadsBegin[0],
		Group: v.Int("group")}
	if x.Rank() == 4 {
		c.H, c.W, c.OH, c.OW = x.Shape[2], x.Shape[3], v.Type.Shape[2], v.Type.Shape[3]
		c.KH, c.KW = w.Shape[2], w.Shape[3]
		c.SH, c.SW, c.DH, c.DW = win.Strides[0], win.Strides[1], win.Dilations[0], win.Dilations[1]
		c.PT, c.PL = win.PadsBegin[0], win.PadsBegin[1]
	}
	c.Cg, c.Mg = c.C/c.Group, c.M/c.Group
	c.Pointwise = c.KH == 1 && c.KW == 1 && c.SH == 1 && c.SW == 1 && c.PT == 0 && c.PL == 0 && c.H == c.OH && c.W == c.OW
	return c, nil
}

// channelAffine returns the per-channel scale and shift that u applies to
// cur when u is a constant per-channel mul/add/sub/div or a batchnorm.
func (l *lowerer) channelAffine(u, cur *ir.Value) (scale, shift []float32) {
	out := cur.Type.Shape
	switch u.Op.Name {
	case "batchnorm":
		if u.Args[0] != cur {
			return nil, nil
		}
		return batchnormAB(u)
	case "add", "sub", "mul", "div":
		other, swapped := u.Args[1], false
		if u.Args[0] != cur {
			other, swapped = u.Args[0], true
		}
		if other == cur {
			return nil, nil
		}
		vec := channelVector(constOf(other), out)
		if vec == nil {
			return nil, nil
		}
		switch {
		case u.Op.Name == "add":
			return nil, vec
		case u.Op.Name == "sub" && !swapped:
			for i := range vec {
				vec[i] = -vec[i]
			}
			return nil, vec
		case u.Op.Name == "mul":
			return vec, nil
		case u.Op.Name == "div" && !swapped:
			for i := range vec {
				vec[i] = 1 / vec[i]
			}
			return vec, nil
		}
	}
	return nil, nil
}

// lowerGemm lowers gemm and matmul on f32; a constant B is packed to [K, N],
// and a following constant row bias is folded in.
func (l *lowerer) lowerGemm(v *ir.Value) (*Step, *ir.Value, error) {
	if !isF32(v) {
		return l.lowerIntGemm(v)
	}
	a, b := v.Args[0], v.Args[1]
	gm := &Gemm{Alpha: 1}
	st := &Step{Kernel: KGemm, Op: v.Op.Name, Where: v.Where(), Gemm: gm}
	bt := constOf(b)
	var bias []float32
	var cArg *ir.Value
	var cConst *ir.Tensor // a constant full C, beta folded in
	var cScale float32 = 1
	if v.Op.Name == "gemm" {
		gm.TransA, gm.TransB = v.Int("trans_a") != 0, v.Int("trans_b") != 0
		gm.M, gm.K = a.Type.Shape[0], a.Type.Shape[1]
		if gm.TransA {
			gm.M, gm.K = gm.K, gm.M
		}
		gm.N = v.Type.Shape[1]
		gm.Alpha = v.Float("alpha")
		gm.Batch = [][3]int{{0, 0, 0}}
		if len(v.Args) == 3 && v.Float("beta") != 0 {
			c := v.Args[2]
			cScale = v.Float("beta")
			if ct := constOf(c); ct != nil {
				if r := rowVector(ct, gm.N); r != nil {
					for i := range r {
						r[i] *= cScale
					}
					bias = r
				} else if cScale != 1 && ct.DType == ir.F32 {
					cConst = ir.FromF32(ct.Shape, make([]float32, len(ct.F32)))
					for i, x := range ct.F32 {
						cConst.F32[i] = x * cScale
					}
				} else {
					cArg = c
				}
			} else {
				cArg = c
			}
		}
	} else {
		as, bs := a.Type.Shape, b.Type.Shape
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		gm.M, gm.K, gm.N = as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
		batch, err := ir.Broadcast(as[:len(as)-2], bs[:len(bs)-2])
		if err != nil {
			return nil, nil, err
		}
		gm.Batch = matmulBatch(as, bs, batch, gm.M, gm.N, gm.K)
	}
	if bt != nil && gm.TransB {
		tt := make([]float32, len(bt.F32))
		for i := 0; i < gm.N; i++ {
			for j := 0; j < gm.K; j++ {
				tt[j*gm.N+i] = bt.F32[i*gm.K+j]
			}
		}
		bt = ir.FromF32([]int{gm.K, gm.N}, tt)
		gm.TransB = false
	}
	last := v
	if len(v.Type.Shape) >= 1 && len(gm.Batch) == 1 {
		for {
			u := l.next(last)
			if u == nil || u.Op.Name != "add" {
				break
			}
			other := u.Args[1]
			if other == last {
				other = u.Args[0]
			}
			r := rowVector(constOf(other), gm.N)
			if r == nil || cArg != nil || cConst != nil {
				break
			}
			if bias == nil {
				bias = make([]float32, gm.N)
			}
			for i := range r {
				bias[i] += r[i]
			}
			l.fused[u] = true
			last = u
		}
	}
	st.In = []Operand{l.operand(a)}
	var sparseB []int64
	if bt != nil && sharedB(gm) {
		if w, nnz := f32Bits(transposeKN(bt.F32, gm.K, gm.N)); l.wantSparse(st, b, nnz, gm.N, gm.K, false) {
			sparseB = w
		}
	}
	switch {
	case sparseB != nil:
		st.In = append(st.In, Operand{}) // packed by sparseGemm
	case bt != nil:
		st.In = append(st.In, l.packed(bt))
	default:
		st.In = append(st.In, l.operand(b))
	}
	if bias != nil {
		st.In = append(st.In, l.packed(ir.FromF32([]int{gm.N}, bias)))
		gm.Bias = true
	}
	switch {
	case cConst != nil:
		out := v.Type.Shape
		st.Loop = &Loop{Shape: out, Strides: [][]int{ir.Strides(out)}}
		l.appendEpi(st, epiArg{e: Epi{Op: EpiAdd}, t: cConst})
	case cArg != nil:
		out := v.Type.Shape
		st.Loop = &Loop{Shape: out, Strides: [][]int{ir.Strides(out)}}
		if cScale != 1 {
			// alpha·AB + beta·C as beta·((alpha/beta)·AB + C): the
			// epilogue reads C as it is.
			gm.Alpha /= cScale
		}
		l.appendEpi(st, epiArg{e: Epi{Op: EpiAdd}, v: cArg})
		if cScale != 1 {
			l.appendEpi(st, epiArg{e: Epi{Op: EpiMul}, t: ir.ScalarF32(cScale)})
		}
	}
	if sparseB != nil {
		l.sparseGemm(st, sparseB, true)
	}
	return st, last, nil
}

// sharedB reports whether every batch entry of gm reads the one B.
func sharedB(gm *Gemm) bool {
	for _, b := range gm.Batch {
		if b[1] != 0 {
			return false
		}
	}
	return true
}

// matmulBatch lists the (A, B, C) element offsets of every batch entry.
func matmulBatch(as, bs, batch []int, m, n, k int) [][3]int {
	astr := batchStrides(as[:len(as)-2], batch, m*k)
	bstr := batchStrides(bs[:len(bs)-2], batch, k*n)
	nb := ir.NumElements(batch)
	out := make([][3]int, 0, nb)
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		ao, bo := 0, 0
		for d := range idx {
			ao += idx[d] * astr[d]
			bo += idx[d] * bstr[d]
		}
		out = append(out, [3]int{ao, bo, i * m * n})
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

func batchStrides(s, batch []int, mat int) []int {
	st := make([]int, len(batch))
	full := ir.Strides(s)
	for d := range batch {
		j := d - (len(batch) - len(s))
		if j >= 0 && s[j] != 1 {
			st[d] = full[j] * mat
		}
	}
	return st
}

// lowerPool lowers 1-D and 2-D f32 max and average pooling.
func (l *lowerer) lowerPool(v *ir.Value) (*Step, error) {
	x := v.Args[0].Type
	if !isF32(v) {
		return nil, Unsupported(v, "%s on %v (compiled pooling takes f32)", v.Op.Name, x)
	}
	if x.Rank() != 3 && x.Rank() != 4 {
		return l.lowerPoolTable(v, false)
	}
	nsp := x.Rank() - 2
	win, err := ir.WindowOf(v, nsp, nil)
	if err != nil {
		return nil, err
	}
	if v.Op.Name == "avgpool" && wholePlane(x.Shape[2:], v.Type.Shape[2:], win) {
		// The mean of every plane: the global_avgpool kernels loop over
		// the plane, where the pool kernels unroll the window (the
		// 128×128 windows of MediaPipe's selfie segmentation took opt-14
		// minutes).
		return &Step{Kernel: KGlobalAvgPool, Op: v.Op.Name, Where: v.Where(), In: []Operand{l.operand(v.Args[0])}}, nil
	}
	p := &Pool{Max: v.Op.Name == "maxpool", Planes: x.Shape[0] * x.Shape[1], H: 1, OH: 1, KH: 1, SH: 1, DH: 1}
	d := nsp - 1
	p.W, p.OW, p.KW, p.SW, p.DW = x.Shape[2+d], v.Type.Shape[2+d], win.Kernel[d], win.Strides[d], win.Dilations[d]
	p.PL, p.PR = win.PadsBegin[d], win.PadsEnd[d]
	if nsp == 2 {
		p.H, p.OH, p.KH, p.SH, p.DH = x.Shape[2], v.Type.Shape[2], win.Kernel[0], win.Strides[0], win.Dilations[0]
		p.PT, p.PB = win.PadsBegin[0], win.PadsEnd[0]
	}
	if !p.Max {
		p.IncludePad = v.Int("count_include_pad") != 0
	}
	st := &Step{Kernel: KPool, Op: v.Op.Name, Where: v.Where(), Pool: p}
	st.In = []Operand{l.operand(v.Args[0])}
	return st, nil
}

// wholePlane reports whether a pooling window covers each input plane
// exactly once: kernel = input size, no pads, no dilation, one output.
func wholePlane(in, out []int, win ir.Window) bool {
	for d := range in {
		if win.Kernel[d] != in[d] || win.PadsBegin[d] != 0 || win.PadsEnd[d] != 0 || (win.Dilations[d] != 1 && in[d] > 1) || out[d] != 1 {
			return false
		}
	}
	return true
}

// lowerReduce lowers global_avgpool, softmax and reduce_{mean,sum,max} on f32.
func (l *lowerer) lowerReduce(v *ir.Value) (*Step, error) {
	var mean *rt.TFLiteMean
	switch {
	case v.Op.Name == "argmax":
		if dt := v.Args[0].Type.DType; dt != ir.F32 && dt != ir.I8 && dt != ir.U8 && dt != ir.I16 && dt != ir.I32 {
			return nil, Unsupported(v, "argmax of %v (f32 and integers of up to 32 bits are compiled)", dt)
		}
	case !isF32(v):
		if v.Op.Name != "reduce_mean" || rqMode(v) != "tflite" {
			return nil, Unsupported(v, "%s on %v (compiled reductions take f32, and 8-bit reduce_mean with rq=tflite)", v.Op.Name, v.Args[0].Type)
		}
		f, err := rt.TFLiteMeanOf(v)
		if err != nil {
			return nil, Unsupported(v, "%v", err)
		}
		mean = &f
	}
	x := v.Args[0].Type.Shape
	st := &Step{Op: v.Op.Name, Where: v.Where()}
	st.In = []Operand{l.operand(v.Args[0])}
	switch v.Op.Name {
	case "global_avgpool":
		st.Kernel = KGlobalAvgPool
	case "softmax":
		ax := v.Int("axis")
		st.Kernel = KSoftmax
		st.Softmax = [3]int{ir.NumElements(x[:ax]), x[ax], ir.NumElements(x[ax+1:])}
	default:
		st.Kernel = KReduce
		r := &Reduce{Op: strings.TrimPrefix(v.Op.Name, "reduce_")}
		red := map[int]bool{}
		if v.Op.Name == "argmax" {
			red[v.Int("axis")] = true
			r.Last = v.Int("select_last_index") != 0
		} else {
			for _, a := range v.IntList("axes") {
				red[a] = true
			}
		}
		str := ir.Strides(x)
		for d, n := range x {
			if red[d] {
				r.Inner = append(r.Inner, n)
				r.IStride = append(r.IStride, str[d])
			} else {
				r.Outer = append(r.Outer, n)
				r.OStride = append(r.OStride, str[d])
			}
		}
		r.Mean = mean
		st.Reduce = r
	}
	return st, nil
}

// lowerTopK lowers topk and topk_index (f32 or integer input) as a KReduce
// step over the one axis.
func (l *lowerer) lowerTopK(v *ir.Value) (*Step, error) {
	x := v.Args[0].Type.Shape
	if dt := v.Args[0].Type.DType; dt != ir.F32 && dt != ir.I8 && dt != ir.U8 && dt != ir.I16 && dt != ir.I32 {
		return nil, Unsupported(v, "%s of %v (f32 and integers of up to 32 bits are compiled)", v.Op.Name, dt)
	}
	ax := v.Int("axis")
	r := &Reduce{Op: v.Op.Name, K: v.Int("k"), Largest: v.Int("largest") != 0}
	str, ostr := ir.Strides(x), ir.Strides(v.Type.Shape)
	for d, n := range x {
		if d == ax {
			r.Inner, r.IStride, r.KStride = []int{n}, []int{str[d]}, ostr[d]
			continue
		}
		r.Outer = append(r.Outer, n)
		r.OStride = append(r.OStride, str[d])
		r.OutStride = append(r.OutStride, ostr[d])
	}
	st := &Step{Op: v.Op.Name, Where: v.Where(), Kernel: KReduce, Reduce: r}
	st.In = []Operand{l.operand(v.Args[0])}
	return st, nil
}
