package passes

import (
	"fmt"
	"math"
	"sort"

	"github.com/pare-ml/pare/ir"
)

// Structured pruning: a layer's output channels (conv filters, dense
// neurons) with the smallest L1 / L2 weight norm are removed and every
// tensor they flow into shrinks: the layer's weight rows and bias, then,
// following the activation through elementwise activations, per-channel
// constants (bias adds, batchnorm), pooling, transposes and a flatten, the
// input channels (or flattened columns) of the conv / gemm / matmul layers
// that consume it. A layer whose channels reach anything else — a residual
// add of two activations, a concat, a graph result — is left whole, so
// residual networks stay valid. With calibration data each consumer is
// then re-fitted by least squares against the original network.

// chanFlow is how one value of the chain carries the pruned channels:
// along axis, or, once flattened to [N, K], through cols (column → channel).
type chanFlow struct {
	v    *ir.Value
	axis int
	cols []int
}

// channelChain follows the output of layer p to the layers that consume it.
// It returns the chain (p's output first), the consumers, the per-channel
// constants to slice (with their axis), or ok=false.
func channelChain(p *ir.Value, u map[*ir.Value][]*ir.Value) (chain []chanFlow, consumers []chanFlow, consts map[*ir.Value]int, ok bool) {
	consts = map[*ir.Value]int{}
	if p.Type.Rank() != 2 && p.Type.Rank() != 4 {
		return nil, nil, nil, false
	}
	work := []chanFlow{{v: p, axis: 1}}
	seen := map[*ir.Value]bool{p: true}
	for len(work) > 0 {
		f := work[0]
		work = work[1:]
		chain = append(chain, f)
		for _, x := range u[f.v] {
			if x == nil || seen[x] {
				return nil, nil, nil, false // a graph result, or reached twice
			}
			next := chanFlow{v: x, axis: f.axis, cols: f.cols}
			switch name := x.Op.Name; {
			case weightOp[name] && x.Args[0] == f.v && x.Args[1] != f.v && (len(x.Args) < 3 || x.Args[2] != f.v):
				if constF32(x.Args[1]) == nil {
					return nil, nil, nil, false
				}
				switch {
				case name == "conv" && f.cols == nil && f.axis == 1 && x.Int("group") == 1:
				case name != "conv" && x.Args[0].Type.Rank() == 2 && (f.cols != nil || f.axis == 1) && (name != "gemm" || x.Int("trans_a") == 0):
				default:
					return nil, nil, nil, false
				}
				seen[x] = true
				consumers = append(consumers, next)
				continue
			case name == "relu" || name == "clip" || name == "leaky_relu" || name == "sigmoid" || name == "tanh" ||
				name == "hardswish" || name == "hardsigmoid":
			case (name == "maxpool" || name == "avgpool") && f.cols == nil && f.axis == 1:
			case name == "batchnorm" && x.Args[0] == f.v && f.cols == nil:
				for _, a := range x.Args[1:] {
					if !a.IsConst() || a.Type.Rank() != 1 {
						return nil, nil, nil, false
					}
					consts[a] = 0
				}
			case (name == "add" || name == "mul" || name == "sub") && f.cols == nil:
				other := x.Args[1]
				if other == f.v {
					other = x.Args[0]
				}
				if other == f.v || !other.IsConst() || !x.Type.Equal(f.v.Type) {
					return nil, nil, nil, false
				}
				ax := f.axis - (f.v.Type.Rank() - other.Type.Rank())
				if ax >= 0 && other.Type.Shape[ax] != 1 {
					if other.Type.Shape[ax] != f.v.Type.Shape[f.axis] {
						return nil, nil, nil, false
					}
					if prev, dup := consts[other]; dup && prev != ax {
						return nil, nil, nil, false
					}
					consts[other] = ax
				}
			case name == "transpose" && f.cols == nil:
				perm := x.IntList("perm")
				for i, a := range perm {
					if a == f.axis {
						next.axis = i
					}
				}
			case name == "reshape" && f.cols == nil && x.Type.Rank() == 2 && f.axis >= 1 && x.Type.Shape[0] == f.v.Type.Shape[0]:
				s := f.v.Type.Shape
				st := ir.Strides(s[1:])
				cols := make([]int, ir.NumElements(s[1:]))
				for j := range cols {
					cols[j] = j / st[f.axis-1] % s[f.axis]
				}
				next.cols, next.axis = cols, 1
			default:
				return nil, nil, nil, false
			}
			seen[x] = true
			work = append(work, next)
		}
	}
	return chain, consumers, consts, len(consumers) > 0
}

func pruneStructured(g *ir.Graph, ctx *Context, rep *Report, c *pruneConfig, ratio float64) error {
	var ref *ir.Graph
	refit := c.refit && ctx.Data.Len() > 0
	if refit {
		ref = g.Clone()
	}
	pruned := 0
	for _, l0 := range prunableLayers(g, c.skip, c.min) {
		l := weightLayer(l0.v) // earlier layers may have replaced its weight
		if !l.outMajor && l.v.Op.Name != "gemm" && l.v.Op.Name != "matmul" {
			continue
		}
		if l.v.Op.Name == "conv" && l.v.Int("group") != 1 {
			continue
		}
		chain, consumers, consts, ok := channelChain(l.v, users(g))
		if !ok {
			continue
		}
		keep := rankChannels(l, c.l2, ratio)
		if len(keep) == l.out {
			continue
		}
		if err := shrinkChannels(g, l, keep, chain, consumers, consts); err != nil {
			return err
		}
		pruned++
		note := ""
		if refit {
			for _, cf := range consumers {
				cl := weightLayer(cf.v)
				lo := weightLayer(ref.Lookup(cf.v.Name))
				if cl == nil || lo == nil || lo.out != cl.out {
					continue
				}
				n, err := refitLayer(g, ref, cl, lo, nil, ctx.Data, c.samples)
				if err != nil {
					return err
				}
				note += "; " + layerKey(cf.v) + n
			}
		}
		rep.Notef("%s: %d of %d channels kept%s", layerKey(l.v), len(keep), l.out, note)
	}
	if pruned == 0 {
		rep.Notef("no layer could be pruned structurally")
	}
	g.RemoveDead()
	topoSort(g)
	return nil
}

// rankChannels returns the output channels of l to keep, in order.
func rankChannels(l *layerW, l2 bool, ratio float64) []int {
	norms := make([]float64, l.out)
	w := l.w.Const.F32
	for o := 0; o < l.out; o++ {
		for j := 0; j < l.fanin; j++ {
			x := float64(w[l.at(o, j)])
			if l2 {
				norms[o] += x * x
			} else {
				norms[o] += math.Abs(x)
			}
		}
	}
	idx := make([]int, l.out)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return norms[idx[a]] > norms[idx[b]] })
	n := max(1, int(math.Round(float64(l.out)*(1-ratio))))
	keep := append([]int{}, idx[:n]...)
	sort.Ints(keep)
	return keep
}

// sliceAxis returns the elements of t at the given indices of axis.
func sliceAxis(t *ir.Tensor, axis int, keep []int) *ir.Tensor {
	shape := append([]int{}, t.Shape...)
	shape[axis] = len(keep)
	out := ir.NewTensor(t.DType, shape)
	outer := ir.NumElements(t.Shape[:axis])
	inner := ir.NumElements(t.Shape[axis+1:])
	k := 0
	for o := 0; o < outer; o++ {
		for _, c := range keep {
			base := (o*t.Shape[axis] + c) * inner
			for i := 0; i < inner; i++ {
				out.Set(k, t.At(base+i))
				k++
			}
		}
	}
	return out
}

func replaceConst(g *ir.Graph, user *ir.Value, old *ir.Value, t *ir.Tensor) {
	nv := g.AddConst(old.Name, t, old.Type.Quant)
	nv.Source = old.Source
	for i, a := range user.Args {
		if a == old {
			user.Args[i] = nv
		}
	}
}

// shrinkChannels keeps channels keep of layer l and rewrites the chain.
func shrinkChannels(g *ir.Graph, l *layerW, keep []int, chain, consumers []chanFlow, consts map[*ir.Value]int) error {
	kept := map[int]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	waxis := 0
	if !l.outMajor {
		waxis = 1
	}
	replaceConst(g, l.v, l.w, sliceAxis(l.w.Const, waxis, keep))
	if len(l.v.Args) == 3 && l.v.Args[2].IsConst() {
		b := l.v.Args[2]
		if b.Type.NumElements() == l.out && b.Type.Shape[b.Type.Rank()-1] == l.out {
			replaceConst(g, l.v, b, sliceAxis(b.Const, b.Type.Rank()-1, keep))
		}
	}
	for _, f := range chain[1:] {
		for _, a := range f.v.Args {
			if ax, ok := consts[a]; ok {
				replaceConst(g, f.v, a, sliceAxis(a.Const, ax, keep))
			}
		}
	}
	// New shapes along the chain (reshape needs its declared one).
	for _, f := range chain {
		s := append([]int{}, f.v.Type.Shape...)
		if f.cols != nil {
			n := 0
			for _, ch := range f.cols {
				if kept[ch] {
					n++
				}
			}
			s[1] = n
		} else {
			s[f.axis] = len(keep)
		}
		f.v.Type = f.v.Type.WithShape(s)
	}
	for _, cf := range consumers {
		cl := weightLayer(cf.v)
		var idx []int
		if cf.cols != nil {
			for j, ch := range cf.cols {
				if kept[ch] {
					idx = append(idx, j)
				}
			}
		} else {
			idx = keep
		}
		axis := 1 // conv [M, C, k...], gemm trans_b [N, K]
		if !cl.outMajor {
			axis = 0 // matmul / gemm [K, N]
		}
		replaceConst(g, cf.v, cl.w, sliceAxis(cl.w.Const, axis, idx))
	}
	topoSort(g)
	for _, v := range g.Values {
		if v.IsConst() {
			continue
		}
		if err := retype(v); err != nil {
			return fmt.Errorf("structured pruning of %s: %v", l.v.Where(), err)
		}
	}
	return nil
}
