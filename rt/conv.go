package rt

import (
	"fmt"
	"sync"

	"github.com/pare-ml/pare/ir"
)

// N-d convolution: im2col (skipped for 1×1 kernels with unit strides and no
// padding) and the blocked GEMM; 2-D depthwise convolutions run directly.
// Integer operands (ConvInteger / QLinearConv) use the same im2col on
// int32 values with the zero points subtracted and an int32 GEMM.

// convGeom is the geometry of a conv over nsp spatial dims.
type convGeom struct {
	n, c, m, g    int // batch, input channels, output channels, groups
	cg, mg        int // channels and filters per group
	in, out, k    []int
	win           ir.Window
	inSz, outSz   int  // spatial element counts
	kk            int  // kernel element count
	pointwiseView bool // col is the input itself
}

func convGeomOf(v *ir.Value, x, w []int, weightIsTransposed bool) (*convGeom, error) {
	if len(x) < 3 || len(w) != len(x) {
		return nil, fmt.Errorf("input %v and weight %v must have the same rank >= 3", x, w)
	}
	nsp := len(x) - 2
	win, err := ir.WindowOf(v, nsp, w[2:])
	if err != nil {
		return nil, err
	}
	g := &convGeom{n: x[0], c: x[1], g: v.Int("group"), in: x[2:], k: w[2:], win: win}
	if g.g < 1 || g.c%g.g != 0 {
		return nil, fmt.Errorf("group %d does not divide %d input channels", g.g, g.c)
	}
	g.cg = g.c / g.g
	if weightIsTransposed {
		g.mg = w[1]
		g.m = g.mg * g.g
	} else {
		g.m = w[0]
		g.mg = g.m / g.g
		if w[1] != g.cg || g.m%g.g != 0 {
			return nil, fmt.Errorf("weight %v does not match %d input channels in %d groups", w, g.c, g.g)
		}
	}
	g.inSz = ir.NumElements(g.in)
	g.kk = ir.NumElements(g.k)
	g.out = v.Type.Shape[2:]
	g.outSz = ir.NumElements(g.out)
	g.pointwiseView = true
	for i := 0; i < nsp; i++ {
		if g.k[i] != 1 || win.Strides[i] != 1 || win.PadsBegin[i] != 0 || win.PadsEnd[i] != 0 {
			g.pointwiseView = false
		}
	}
	return g, nil
}

// windowRuns walks the column matrix of one group (cg*kk rows × outSz
// columns, row = (input channel, kernel offset), column = output position)
// one run of the last output dim at a time: for row r and outer output
// position o, run(r, ci, o, base, off, lo, hi, ok) says that columns
// o*OW+lo .. o*OW+hi-1 read input elements base + ow*sw + off of channel ci;
// with ok false, or lo >= hi, the whole run reads padding. im2col and its
// adjoint (col2im, for gradients) share it.
func windowRuns(g *convGeom, run func(r, ci, o, base, off, lo, hi int, ok bool)) {
	nsp := len(g.in)
	last := nsp - 1
	W, OW := g.in[last], g.out[last]
	sw, dw, pw := g.win.Strides[last], g.win.Dilations[last], g.win.PadsBegin[last]
	inStr := ir.Strides(g.in)
	outer := g.out[:last]
	nOuter := ir.NumElements(outer)
	kidx := make([]int, nsp)
	oidx := make([]int, len(outer))
	row := 0
	for ci := 0; ci < g.cg; ci++ {
		for i := range kidx {
			kidx[i] = 0
		}
		for kk := 0; kk < g.kk; kk++ {
			// Valid output range of the last dim for this kernel offset.
			off := kidx[last]*dw - pw
			lo, hi := validRange(off, sw, W, OW)
			for i := range oidx {
				oidx[i] = 0
			}
			for o := 0; o < nOuter; o++ {
				base, ok := 0, true
				for d := 0; d < last; d++ {
					p := oidx[d]*g.win.Strides[d] - g.win.PadsBegin[d] + kidx[d]*g.win.Dilations[d]
					if p < 0 || p >= g.in[d] {
						ok = false
						break
					}
					base += p * inStr[d]
				}
				run(row, ci, o, base, off, lo, hi, ok)
				for d := len(oidx) - 1; d >= 0; d-- {
					oidx[d]++
					if oidx[d] < outer[d] {
						break
					}
					oidx[d] = 0
				}
			}
			row++
			for d := nsp - 1; d >= 0; d-- {
				kidx[d]++
				if kidx[d] < g.k[d] {
					break
				}
				kidx[d] = 0
			}
		}
	}
}

// im2col writes the column matrix of one group's input x (cg × in) into
// col (cg*kk × outSz): row (ci, kernel offset), column output position;
// padding reads as zero.
func im2col[T number](g *convGeom, x, col []T) {
	OW := g.out[len(g.out)-1]
	sw := g.win.Strides[len(g.in)-1]
	windowRuns(g, func(r, ci, o, base, off, lo, hi int, ok bool) {
		run := col[r*g.outSz+o*OW:][:OW]
		if !ok || lo >= hi {
			clear(run)
			return
		}
		clear(run[:lo])
		clear(run[hi:])
		src := x[ci*g.inSz+base:]
		if sw == 1 {
			copy(run[lo:hi], src[lo+off:hi+off])
			return
		}
		for ow := lo; ow < hi; ow++ {
			run[ow] = src[ow*sw+off]
		}
	})
}

// validRange is the range [lo, hi) of output positions o in [0, n) for
// which o*stride + off lies in [0, size).
func validRange(off, stride, size, n int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = n
	if last := size - 1 - off; last < 0 {
		hi = 0
	} else if h := last/stride + 1; h < hi {
		hi = h
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

var f32Pool, i32Pool sync.Pool

func getF32(n int) *[]float32 {
	if p, ok := f32Pool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

func getI32(n int) *[]int32 {
	if p, ok := i32Pool.Get().(*[]int32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]int32, n)
	return &b
}

func init() {
	register("conv", withAct(buildConv))
	register("conv_transpose", buildConvTranspose)
}

func buildConv(v *ir.Value) (kernel, error) {
	xt, wt := v.Args[0].Type, v.Args[1].Type
	g, err := convGeomOf(v, xt.Shape, wt.Shape, false)
	if err != nil {
		return nil, err
	}
	if xt.DType != ir.F32 {
		return buildIntConv(v, g)
	}
	if wt.DType != ir.F32 || v.Type.DType != ir.F32 {
		return nil, fmt.Errorf("f32 conv with %v weight and %v result", wt.DType, v.Type.DType)
	}
	hasBias := len(v.Args) == 3
	depthwise := g.cg == 1 && len(g.in) == 2
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, w, y := args[0].F32, args[1].F32, out.F32
		K := g.cg * g.kk
		var colp *[]float32
		if !g.pointwiseView && !depthwise {
			colp = getF32(K * g.outSz)
			defer f32Pool.Put(colp)
		}
		for n := 0; n < g.n; n++ {
			for gi := 0; gi < g.g; gi++ {
				xg := x[(n*g.c+gi*g.cg)*g.inSz : (n*g.c+(gi+1)*g.cg)*g.inSz]
				yg := y[(n*g.m+gi*g.mg)*g.outSz : (n*g.m+(gi+1)*g.mg)*g.outSz]
				wg := w[gi*g.mg*K : (gi+1)*g.mg*K]
				if depthwise {
					depthwise2D(g, xg, wg, yg)
					continue
				}
				col := xg
				if !g.pointwiseView {
					col = *colp
					im2col(g, xg, col)
				}
				sgemm(g.mg, g.outSz, K, matrix{data: wg, ld: K}, matrix{data: col, ld: g.outSz}, yg, g.outSz)
			}
		}
		if hasBias {
			addChannelBias(y, args[2].F32, g.n, g.m, g.outSz)
		}
		return out, nil
	}, nil
}

func addChannelBias(y, bias []float32, n, m, sz int) {
	for i := 0; i < n*m; i++ {
		b := bias[i%m]
		row := y[i*sz : (i+1)*sz]
		for j := range row {
			row[j] += b
		}
	}
}

// depthwise2D convolves one input channel (in H×W) with mg filters.
func depthwise2D(g *convGeom, x, w, y []float32) {
	H, W := g.in[0], g.in[1]
	OH, OW := g.out[0], g.out[1]
	KH, KW := g.k[0], g.k[1]
	sh, sw := g.win.Strides[0], g.win.Strides[1]
	dh, dw := g.win.Dilations[0], g.win.Dilations[1]
	ph, pw := g.win.PadsBegin[0], g.win.PadsBegin[1]
	clear(y)
	for m := 0; m < g.mg; m++ {
		ym := y[m*OH*OW : (m+1)*OH*OW]
		wm := w[m*KH*KW : (m+1)*KH*KW]
		for kh := 0; kh < KH; kh++ {
			ohLo, ohHi := validRange(kh*dh-ph, sh, H, OH)
			for kw := 0; kw < KW; kw++ {
				wv := wm[kh*KW+kw]
				off := kw*dw - pw
				lo, hi := validRange(off, sw, W, OW)
				if lo >= hi {
					continue
				}
				for oh := ohLo; oh < ohHi; oh++ {
					ih := oh*sh + kh*dh - ph
					src := x[ih*W : (ih+1)*W]
					dst := ym[oh*OW : (oh+1)*OW]
					if sw == 1 {
						s := src[lo+off : hi+off]
						d := dst[lo:hi]
						for i, xv := range s {
							d[i] += wv * xv
						}
					} else {
						for ow := lo; ow < hi; ow++ {
							dst[ow] += wv * src[ow*sw+off]
						}
					}
				}
			}
		}
	}
}

// buildIntConv is ConvInteger (i32 result) and QLinearConv (quantized
// result): acc = Σ (x - zx)(w - zw[m]) + bias, in int32 (wrapping).
func buildIntConv(v *ir.Value, g *convGeom) (kernel, error) {
	xt, wt := v.Args[0].Type, v.Args[1].Type
	if xt.Quant == nil || wt.Quant == nil || xt.Quant.Axis >= 0 {
		return nil, fmt.Errorf("integer conv needs a per-tensor quantized input and a quantized weight, got %v and %v", xt, wt)
	}
	if wt.Quant.Axis > 0 {
		return nil, fmt.Errorf("weight quantization along axis %d (only per tensor or per output channel, axis 0)", wt.Quant.Axis)
	}
	req, err := intResult(v, xt.Quant.Scale[0], wt.Quant, g.m)
	if err != nil {
		return nil, err
	}
	hasBias := len(v.Args) == 3
	K := g.cg * g.kk
	constW := constZeroCentered(v.Args[1])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		xs := zeroCentered(args[0], xt.Quant)
		ws := constW
		if ws == nil {
			ws = zeroCentered(args[1], wt.Quant)
		}
		accp := getI32(g.n * g.m * g.outSz)
		defer i32Pool.Put(accp)
		acc := *accp
		var colp *[]int32
		if !g.pointwiseView {
			colp = getI32(K * g.outSz)
			defer i32Pool.Put(colp)
		}
		for n := 0; n < g.n; n++ {
			for gi := 0; gi < g.g; gi++ {
				xg := xs[(n*g.c+gi*g.cg)*g.inSz : (n*g.c+(gi+1)*g.cg)*g.inSz]
				col := xg
				if !g.pointwiseView {
					col = *colp
					im2col(g, xg, col)
				}
				gemm(g.mg, g.outSz, K, mat[int32]{data: ws[gi*g.mg*K:], ld: K}, mat[int32]{data: col, ld: g.outSz},
					acc[(n*g.m+gi*g.mg)*g.outSz:], g.outSz)
			}
		}
		if hasBias {
			b := args[2].I32
			for i := 0; i < g.n*g.m; i++ {
				row := acc[i*g.outSz : (i+1)*g.outSz]
				for j := range row {
					row[j] += b[i%g.m]
				}
			}
		}
		req.store(out, acc, g.m, g.outSz)
		return out, nil
	}, nil
}

// zeroCentered returns the stored integers of t minus their zero points
// (per tensor or per axis) as int32.
func zeroCentered(t *ir.Tensor, q *ir.Quant) []int32 {
	n := t.Len()
	out := make([]int32, n)
	ch := channelsOf(q, t.Shape)
	if ch.dim == 1 {
		z := int32(q.ZeroPoint[0])
		switch t.DType {
		case ir.I8:
			for i, x := range t.I8 {
				out[i] = int32(x) - z
			}
			return out
		case ir.U8:
			for i, x := range t.U8 {
				out[i] = int32(x) - z
			}
			return out
		}
	}
	for i := 0; i < n; i++ {
		out[i] = int32(t.IntAt(i) - q.ZeroAt(ch.at(i)))
	}
	return out
}

// constZeroCentered precomputes zeroCentered for a constant operand (nil
// for other values); kernels share the result read-only.
func constZeroCentered(v *ir.Value) []int32 {
	if !v.IsConst() || v.Const == nil || v.Type.Quant == nil {
		return nil
	}
	return zeroCentered(v.Const, v.Type.Quant)
}

// intOut stores int32 accumulators into the result of an integer conv,
// matmul or gemm: as they are for an i32 result, else requantized.
type intOut struct {
	req *requantizer // nil for an i32 result
}

// intResult prepares the result stage of an integer op with nch output
// channels (the weight quantization is per tensor or per output channel).
func intResult(v *ir.Value, sx float32, qw *ir.Quant, nch int) (*intOut, error) {
	if v.Type.DType == ir.I32 && v.Type.Quant == nil {
		return &intOut{}, nil
	}
	q := v.Type.Quant
	if q == nil || q.Axis >= 0 || (v.Type.DType != ir.I8 && v.Type.DType != ir.U8) {
		return nil, fmt.Errorf("integer result must be i32 or per-tensor quantized i8/u8, got %v", v.Type)
	}
	if qw.Axis >= 0 && qw.Channels() != nch {
		return nil, fmt.Errorf("weight has %d scales for %d output channels", qw.Channels(), nch)
	}
	// TFLite forms its multiplier from the float32 product sx*sw for fully
	// connected layers and uint8 convolutions (GetQuantizedConvolutionMultipler),
	// and from the double product for int8 convolutions (per-channel path).
	f32Product := v.Op.Name != "conv" || v.Args[0].Type.DType == ir.U8
	rq, err := newRequantizer(rqOf(v), sx, qw, nch, q, v.Type.DType, f32Product)
	if err != nil {
		return nil, err
	}
	return &intOut{req: rq}, nil
}

// store writes acc, laid out as blocks of `inner` elements cycling over nch
// channels, into out.
func (o *intOut) store(out *ir.Tensor, acc []int32, nch, inner int) {
	n := out.Len()
	if o.req == nil {
		copy(out.I32, acc[:n])
		return
	}
	for i := 0; i < n; i++ {
		c := (i / inner) % nch
		out.SetInt(i, o.req.apply(acc[i], c))
	}
}
