package passes

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Least-squares refit: after a layer (or the layer feeding it) was pruned,
// choose its surviving weights so that, on calibration inputs of the pruned
// network, it reproduces the original network's output at that layer:
// w_S = argmin ‖X_p[:,S]·w_S − X_o·w_orig‖², solved per output from the
// normal equations (X_pᵀX_p)[S,S]·w_S = (X_pᵀX_o)[S,:]·w_orig with a small
// ridge term.

const (
	maxRefitRows  = 8192 // patch rows used per layer (conv positions are subsampled)
	maxRefitFanin = 4096 // wider layers are not refitted (the Gram matrix would be too large)
)

// captureInput runs g on the first n samples and returns the tensors that
// value x took (x may be a graph parameter).
func captureInput(g *ir.Graph, x *ir.Value, data *Dataset, n int) ([]*ir.Tensor, error) {
	n = min(n, data.Len())
	out := make([]*ir.Tensor, 0, n)
	for pi, p := range g.Params {
		if p == x {
			for i := 0; i < n; i++ {
				out = append(out, data.Inputs[i][pi])
			}
			return out, nil
		}
	}
	ip, err := rt.New(g)
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		var got *ir.Tensor
		if err := ip.Trace(data.Inputs[i], func(v *ir.Value, t *ir.Tensor) {
			if v == x {
				got = t
			}
		}); err != nil {
			return nil, err
		}
		if got == nil {
			return nil, fmt.Errorf("%s was not computed", x.Where())
		}
		out = append(out, got)
	}
	return out, nil
}

// patchRows turns a layer's input tensors into the rows its weight matrix
// multiplies: im2col patches for a conv (group 1), rows of the last axis
// (or of the first, transposed, for gemm with trans_a) otherwise. Conv
// positions are subsampled by stride to at most maxRefitRows rows.
func patchRows(v *ir.Value, xs []*ir.Tensor, fanin int) (*mat.Dense, error) {
	var rows [][]float64
	switch v.Op.Name {
	case "conv":
		if v.Int("group") != 1 || v.Args[0].Type.Rank() != 4 {
			return nil, fmt.Errorf("refit takes 2-D convolutions of group 1")
		}
		w := v.Args[1].Type.Shape
		win, err := ir.WindowOf(v, 2, w[2:])
		if err != nil {
			return nil, err
		}
		x := v.Args[0].Type.Shape
		c, h, wd, kh, kw := x[1], x[2], x[3], w[2], w[3]
		oh, ow := v.Type.Shape[2], v.Type.Shape[3]
		total := len(xs) * x[0] * oh * ow
		step := max(1, total/maxRefitRows)
		idx := 0
		for _, t := range xs {
			for b := 0; b < x[0]; b++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						idx++
						if idx%step != 0 {
							continue
						}
						r := make([]float64, 0, fanin)
						for ci := 0; ci < c; ci++ {
							for ky := 0; ky < kh; ky++ {
								iy := oy*win.Strides[0] - win.PadsBegin[0] + ky*win.Dilations[0]
								for kx := 0; kx < kw; kx++ {
									ix := ox*win.Strides[1] - win.PadsBegin[1] + kx*win.Dilations[1]
									val := 0.0
									if iy >= 0 && iy < h && ix >= 0 && ix < wd {
										val = float64(t.F32[((b*c+ci)*h+iy)*wd+ix])
									}
									r = append(r, val)
								}
							}
						}
						rows = append(rows, r)
					}
				}
			}
		}
	default:
		if v.Op.Name == "gemm" && v.Int("trans_a") != 0 {
			return nil, fmt.Errorf("refit takes gemm with trans_a=0")
		}
		for _, t := range xs {
			for i := 0; i+fanin <= t.Len(); i += fanin {
				r := make([]float64, fanin)
				for j := range r {
					r[j] = float64(t.F32[i+j])
				}
				rows = append(rows, r)
			}
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no calibration rows")
	}
	m := mat.NewDense(len(rows), fanin, nil)
	for i, r := range rows {
		if len(r) != fanin {
			return nil, fmt.Errorf("patch of %d values for fan-in %d", len(r), fanin)
		}
		m.SetRow(i, r)
	}
	return m, nil
}

// refitLayer re-fits layer l of g (on the pruned network's inputs) against
// layer lo of the original graph ref: output o of l is output outMap[o] of
// lo (nil: the identity), and only weights that are non-zero in l are
// free. It returns a note for the report.
func refitLayer(g, ref *ir.Graph, l, lo *layerW, outMap []int, data *Dataset, samples int) (string, error) {
	if l.fanin > maxRefitFanin || lo.fanin > maxRefitFanin {
		return fmt.Sprintf(", not refitted (fan-in %d > %d)", max(l.fanin, lo.fanin), maxRefitFanin), nil
	}
	xp, err := captureInput(g, l.v.Args[0], data, samples)
	if err != nil {
		return "", err
	}
	xo, err := captureInput(ref, lo.v.Args[0], data, samples)
	if err != nil {
		return "", err
	}
	Xp, err := patchRows(l.v, xp, l.fanin)
	if err != nil {
		return fmt.Sprintf(", not refitted (%v)", err), nil
	}
	Xo, err := patchRows(lo.v, xo, lo.fanin)
	if err != nil {
		return fmt.Sprintf(", not refitted (%v)", err), nil
	}
	var H, G mat.Dense
	H.Mul(Xp.T(), Xp)
	G.Mul(Xp.T(), Xo)
	ridge := 0.0
	for i := 0; i < l.fanin; i++ {
		ridge += H.At(i, i)
	}
	ridge = 1e-3*ridge/float64(l.fanin) + 1e-8
	wt := l.w.Const.Clone()
	wo := lo.w.Const.F32
	worig := make([]float64, lo.fanin)
	failed := 0
	for o := 0; o < l.out; o++ {
		om := o
		if outMap != nil {
			om = outMap[o]
		}
		for j := range worig {
			worig[j] = float64(wo[lo.at(om, j)])
		}
		var S []int
		for j := 0; j < l.fanin; j++ {
			if wt.F32[l.at(o, j)] != 0 {
				S = append(S, j)
			}
		}
		if len(S) == 0 {
			continue
		}
		A := mat.NewSymDense(len(S), nil)
		b := mat.NewVecDense(len(S), nil)
		for a, ja := range S {
			for c := a; c < len(S); c++ {
				A.SetSym(a, c, H.At(ja, S[c]))
			}
			A.SetSym(a, a, A.At(a, a)+ridge)
			s := 0.0
			for j, w := range worig {
				s += G.At(ja, j) * w
			}
			b.SetVec(a, s)
		}
		var ch mat.Cholesky
		if !ch.Factorize(A) {
			failed++
			continue
		}
		var x mat.VecDense
		if err := ch.SolveVecTo(&x, b); err != nil {
			failed++
			continue
		}
		for a, ja := range S {
			wt.F32[l.at(o, ja)] = float32(x.AtVec(a))
		}
	}
	setWeight(g, l, wt)
	note := fmt.Sprintf(", refitted on %d rows", Xp.RawMatrix().Rows)
	if failed > 0 {
		note += fmt.Sprintf(" (%d outputs kept as pruned)", failed)
	}
	return note, nil
}

// refitMasked refits the surviving weights of layer l of g against the
// same layer (same value name) of the unpruned graph ref.
func refitMasked(g, ref *ir.Graph, l *layerW, ctx *Context, samples int) (string, error) {
	rv := ref.Lookup(l.v.Name)
	lo := weightLayer(rv)
	if rv == nil || lo == nil {
		return ", not refitted (no original layer)", nil
	}
	return refitLayer(g, ref, l, lo, nil, ctx.Data, samples)
}
