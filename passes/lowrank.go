package passes

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/pare-ml/pare/ir"
)

// lowrank: the weight of a layer, viewed as W [out, fanin], is factored by
// SVD (gonum) as W ≈ (U_r √S_r)(√S_r V_rᵀ). A dense layer becomes a matmul
// by V_r√S_r [fanin, r] followed by the original layer with weight
// U_r√S_r; a k×k conv becomes a k×k conv of r filters (the original
// strides, pads and dilations) followed by a 1×1 conv of the original
// outputs, bias and activation. r is the smallest rank whose singular
// values keep `energy` of the squared sum, or the rank that keeps `ratio`
// of the parameters; a layer is split only when that saves parameters.
var lowrankPass = &Pass{
	Name:    "lowrank",
	Summary: "SVD: a dense layer into two of rank r, a k×k conv into a k×k conv of r filters and a 1×1 conv",
	Options: []OptionDef{
		{Name: "energy", Kind: Float, Default: "0.95", Doc: "keep the smallest rank whose singular values hold this fraction of the energy"},
		{Name: "ratio", Kind: Float, Default: "0", Doc: "instead, the rank that keeps this fraction of each layer's parameters (0: use energy)"},
		{Name: "skip", Kind: List, Default: "", Doc: "layers (value or node names) left alone"},
		{Name: "min", Kind: Int, Default: "0", Doc: "layers with fewer weights are left alone"},
	},
	After:  []string{"canonicalize", "prune"},
	Before: []string{"quantize", "share", "sparse"},
	New: func(o Options) (Func, error) {
		energy, ratio := o.Float("energy"), o.Float("ratio")
		if !(energy > 0 && energy <= 1) || ratio < 0 || ratio >= 1 {
			return nil, fmt.Errorf("energy must be in (0, 1] and ratio in [0, 1)")
		}
		skip, minParams := o.List("skip"), o.Int("min")
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			n := 0
			for _, l := range prunableLayers(g, skip, minParams) {
				ok, note, err := lowrankLayer(g, l, energy, ratio)
				if err != nil {
					return err
				}
				if ok {
					n++
				}
				rep.Notef("%s: %s", layerKey(l.v), note)
			}
			g.RemoveDead()
			topoSort(g)
			rep.Notef("%d layers split", n)
			return nil
		}, nil
	},
}

func lowrankLayer(g *ir.Graph, l *layerW, energy, ratio float64) (bool, string, error) {
	v := l.v
	switch {
	case v.Op.Name == "conv" && (v.Int("group") != 1 || v.Type.Rank() != 4):
		return false, "not split (grouped or not 2-D)", nil
	case v.Op.Name == "gemm" && v.Int("trans_a") != 0:
		return false, "not split (trans_a)", nil
	}
	w := l.w.Const.F32
	m := mat.NewDense(l.out, l.fanin, nil)
	for o := 0; o < l.out; o++ {
		for j := 0; j < l.fanin; j++ {
			m.Set(o, j, float64(w[l.at(o, j)]))
		}
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThin) {
		return false, "", fmt.Errorf("%s: SVD did not converge", v.Where())
	}
	s := svd.Values(nil)
	r := len(s)
	if ratio > 0 {
		r = int(ratio * float64(l.out*l.fanin) / float64(l.out+l.fanin))
	} else {
		tot, acc := 0.0, 0.0
		for _, x := range s {
			tot += x * x
		}
		for i, x := range s {
			acc += x * x
			if acc >= energy*tot {
				r = i + 1
				break
			}
		}
	}
	r = max(1, min(r, len(s)))
	if r*(l.out+l.fanin) >= l.out*l.fanin {
		return false, fmt.Sprintf("not split (rank %d of %d saves nothing)", r, len(s)), nil
	}
	var U, V mat.Dense
	svd.UTo(&U)
	svd.VTo(&V)
	// First factor F [r, fanin] = √S Vᵀ, second S2 [out, r] = U √S.
	first := make([]float32, r*l.fanin)
	second := make([]float32, l.out*r)
	for i := 0; i < r; i++ {
		rs := math.Sqrt(s[i])
		for j := 0; j < l.fanin; j++ {
			first[i*l.fanin+j] = float32(rs * V.At(j, i))
		}
		for o := 0; o < l.out; o++ {
			second[o*r+i] = float32(rs * U.At(o, i))
		}
	}
	x := v.Args[0]
	var h *ir.Value
	var err error
	var w2 *ir.Tensor
	if v.Op.Name == "conv" {
		ws := l.w.Const.Shape
		wf := g.AddConst(l.w.Name+".lr1", ir.FromF32([]int{r, ws[1], ws[2], ws[3]}, first), nil)
		attrs := ir.Attrs{}
		for _, k := range []string{"strides", "pads", "dilations"} {
			if a, ok := v.Attrs[k]; ok {
				attrs[k] = a
			}
		}
		h, err = g.Add("conv", []*ir.Value{x, wf}, attrs, ir.Type{}, v.Name+".lr", v.Source)
		if err != nil {
			return false, "", err
		}
		for _, k := range []string{"strides", "pads", "dilations"} {
			delete(v.Attrs, k)
		}
		w2 = ir.FromF32([]int{l.out, r, 1, 1}, second)
	} else {
		ft := ir.NewTensor(ir.F32, []int{l.fanin, r}) // [fanin, r] = Fᵀ
		for i := 0; i < r; i++ {
			for j := 0; j < l.fanin; j++ {
				ft.F32[j*r+i] = first[i*l.fanin+j]
			}
		}
		wf := g.AddConst(l.w.Name+".lr1", ft, nil)
		h, err = g.Add("matmul", []*ir.Value{x, wf}, nil, ir.Type{}, v.Name+".lr", v.Source)
		if err != nil {
			return false, "", err
		}
		if l.outMajor { // gemm trans_b: [out, r]
			w2 = ir.FromF32([]int{l.out, r}, second)
		} else { // [r, out]
			w2 = ir.NewTensor(ir.F32, []int{r, l.out})
			for o := 0; o < l.out; o++ {
				for i := 0; i < r; i++ {
					w2.F32[i*l.out+o] = second[o*r+i]
				}
			}
		}
	}
	nw := g.AddConst(l.w.Name+".lr2", w2, nil)
	nw.Source = l.w.Source
	v.Args[0], v.Args[1] = h, nw
	topoSort(g)
	if err := retype(v); err != nil {
		return false, "", err
	}
	return true, fmt.Sprintf("rank %d of %d, %d → %d weights", r, len(s), l.out*l.fanin, r*(l.out+l.fanin)), nil
}
