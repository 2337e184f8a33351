package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// conv_transpose: per group, col = Wᵀ·X by the GEMM (rows: output channel
// and kernel offset, columns: input positions), then col2im scatters and
// adds col into the output. Output padding only enlarges the output (those
// positions receive the bias alone).

func buildConvTranspose(v *ir.Value) (kernel, error) {
	xt, wt := v.Args[0].Type, v.Args[1].Type
	if xt.DType != ir.F32 || wt.DType != ir.F32 {
		return nil, fmt.Errorf("conv_transpose takes f32, got %v and %v", xt.DType, wt.DType)
	}
	g, err := convGeomOf(v, xt.Shape, wt.Shape, true)
	if err != nil {
		return nil, err
	}
	if wt.Shape[0] != g.c {
		return nil, fmt.Errorf("weight %v does not match %d input channels", wt.Shape, g.c)
	}
	hasBias := len(v.Args) == 3
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, w, y := args[0].F32, args[1].F32, out.F32
		rows := g.mg * g.kk
		colp := getF32(rows * g.inSz)
		defer f32Pool.Put(colp)
		col := *colp
		for n := 0; n < g.n; n++ {
			for gi := 0; gi < g.g; gi++ {
				xg := x[(n*g.c+gi*g.cg)*g.inSz : (n*g.c+(gi+1)*g.cg)*g.inSz]
				wg := w[gi*g.cg*rows : (gi+1)*g.cg*rows]
				yg := y[(n*g.m+gi*g.mg)*g.outSz : (n*g.m+(gi+1)*g.mg)*g.outSz]
				sgemm(rows, g.inSz, g.cg, matrix{data: wg, ld: rows, trans: true}, matrix{data: xg, ld: g.inSz}, col, g.inSz)
				col2im(g, col, yg)
			}
		}
		if hasBias {
			addChannelBias(y, args[2].F32, g.n, g.m, g.outSz)
		}
		return out, nil
	}, nil
}

// col2im adds col (mg*kk × inSz) into y (mg × out): input position i with
// kernel offset k lands on i*stride - pad + k*dilation.
func col2im(g *convGeom, col, y []float32) {
	nsp := len(g.in)
	last := nsp - 1
	W, OW := g.in[last], g.out[last]
	sw, dw, pw := g.win.Strides[last], g.win.Dilations[last], g.win.PadsBegin[last]
	outStr := ir.Strides(g.out)
	outer := g.in[:last]
	nOuter := ir.NumElements(outer)
	kidx := make([]int, nsp)
	iidx := make([]int, len(outer))
	row := 0
	for m := 0; m < g.mg; m++ {
		ym := y[m*g.outSz : (m+1)*g.outSz]
		for i := range kidx {
			kidx[i] = 0
		}
		for kk := 0; kk < g.kk; kk++ {
			src := col[row*g.inSz : (row+1)*g.inSz]
			row++
			off := kidx[last]*dw - pw
			lo, hi := validRange(off, sw, OW, W)
			for i := range iidx {
				iidx[i] = 0
			}
			for o := 0; o < nOuter; o++ {
				base, ok := 0, true
				for d := 0; d < last; d++ {
					p := iidx[d]*g.win.Strides[d] - g.win.PadsBegin[d] + kidx[d]*g.win.Dilations[d]
					if p < 0 || p >= g.out[d] {
						ok = false
						break
					}
					base += p * outStr[d]
				}
				if ok {
					run := src[o*W : (o+1)*W]
					dst := ym[base:]
					for iw := lo; iw < hi; iw++ {
						dst[iw*sw+off] += run[iw]
					}
				}
				for d := len(iidx) - 1; d >= 0; d-- {
					iidx[d]++
					if iidx[d] < outer[d] {
						break
					}
					iidx[d] = 0
				}
			}
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
