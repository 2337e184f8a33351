package rt

import (
	"github.com/pare-ml/pare/ir"
)

// Gradient of the f32 convolution (any rank, groups, depthwise, strides,
// pads, dilations), through im2col / col2im and the blocked GEMM:
//
//	dW[g] += dY[n,g] · col(x[n,g])ᵀ      (per image, in image order)
//	dcol   = W[g]ᵀ · dY[n,g];  dx[n,g] = col2im(dcol)
//	db[m]  = Σ over images and positions of dY

func init() { RegisterGrad("conv", gradConv) }

func gradConv(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, len(v.Args)); err != nil {
		return nil, err
	}
	xs, ws := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	g, err := convGeomOf(v, xs, ws, false)
	if err != nil {
		return nil, err
	}
	K := g.cg * g.kk
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		gs := make([]*ir.Tensor, len(args))
		x, w, gy := args[0].F32, args[1].F32, dy.F32
		var dx, dw *ir.Tensor
		if need[0] {
			dx = ir.NewTensor(ir.F32, xs)
		}
		if need[1] {
			dw = ir.NewTensor(ir.F32, ws)
		}
		var col, dcol, tmp []float32
		if !g.pointwiseView {
			if dw != nil {
				colp := getF32(K * g.outSz)
				defer f32Pool.Put(colp)
				col = *colp
			}
			if dx != nil {
				dcolp := getF32(K * g.outSz)
				defer f32Pool.Put(dcolp)
				dcol = *dcolp
			}
		}
		if dw != nil {
			tmpp := getF32(g.mg * K)
			defer f32Pool.Put(tmpp)
			tmp = *tmpp
		}
		for n := 0; n < g.n; n++ {
			for gi := 0; gi < g.g; gi++ {
				xg := x[(n*g.c+gi*g.cg)*g.inSz : (n*g.c+(gi+1)*g.cg)*g.inSz]
				gyg := gy[(n*g.m+gi*g.mg)*g.outSz : (n*g.m+(gi+1)*g.mg)*g.outSz]
				dym := matrix{data: gyg, ld: g.outSz}
				if dw != nil {
					c := xg
					if !g.pointwiseView {
						c = col
						im2col(g, xg, c)
					}
					// tmp (mg × K) = dY (mg × outSz) · colᵀ (outSz × K)
					sgemm(g.mg, K, g.outSz, dym, matrix{data: c, ld: g.outSz, trans: true}, tmp, K)
					addTo(dw.F32[gi*g.mg*K:(gi+1)*g.mg*K], tmp)
				}
				if dx != nil {
					dxg := dx.F32[(n*g.c+gi*g.cg)*g.inSz : (n*g.c+(gi+1)*g.cg)*g.inSz]
					wg := w[gi*g.mg*K : (gi+1)*g.mg*K]
					dc := dxg
					if !g.pointwiseView {
						dc = dcol
					}
					// dcol (K × outSz) = Wᵀ (K × mg) · dY (mg × outSz)
					sgemm(K, g.outSz, g.mg, matrix{data: wg, ld: K, trans: true}, dym, dc, g.outSz)
					if !g.pointwiseView {
						convCol2im(g, dcol, dxg)
					}
				}
			}
		}
		gs[0], gs[1] = dx, dw
		if len(args) == 3 && need[2] {
			db := ir.NewTensor(ir.F32, []int{g.m})
			for i := 0; i < g.n*g.m; i++ {
				var s float32
				for _, e := range gy[i*g.outSz : (i+1)*g.outSz] {
					s += e
				}
				db.F32[i%g.m] += s
			}
			gs[2] = db
		}
		return gs, nil
	}, nil
}

// convCol2im adds the column matrix col (cg*kk × outSz, laid out as im2col
// writes it) back onto the input-shaped dx (cg × in): the adjoint of im2col.
func convCol2im(g *convGeom, col, dx []float32) {
	OW := g.out[len(g.out)-1]
	sw := g.win.Strides[len(g.in)-1]
	windowRuns(g, func(r, ci, o, base, off, lo, hi int, ok bool) {
		if !ok || lo >= hi {
			return
		}
		run := col[r*g.outSz+o*OW:][:OW]
		dst := dx[ci*g.inSz+base:]
		if sw == 1 {
			d := dst[lo+off : hi+off]
			for i, e := range run[lo:hi] {
				d[i] += e
			}
			return
		}
		for ow := lo; ow < hi; ow++ {
			dst[ow*sw+off] += run[ow]
		}
	})
}
