package passes

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// prune: magnitude pruning. Unstructured (default): the smallest weights of
// conv / gemm / matmul layers become exact zeros, by one global ratio or
// the same ratio in every layer (scope=layer); with calibration data the
// surviving weights of each layer are re-fitted by least squares so that the
// layer reproduces the original network's output (refit). Structured
// (`structured`): whole output channels / neurons go, ranked by L1 or L2
// norm, and the tensors shrink (prune_structured.go). steps > 1 prunes
// iteratively towards the ratio, refitting and evaluating after every step,
// and stops early when the accuracy budget would be exceeded (prune_iter.go).
// Zeros stay dense tensors here; the sparse pass stores them as CSR.
var prunePass = &Pass{
	Name:    "prune",
	Summary: "magnitude pruning (global or per layer), structured channel pruning, least-squares refit, iterative schedule with distillation after each step",
	Options: []OptionDef{
		{Name: "ratio", Kind: Float, Default: "0.5", Doc: "fraction of weights (or channels, when structured) removed"},
		{Name: "scope", Kind: String, Default: "global", Values: []string{"global", "layer"}, Doc: "one magnitude threshold over all layers, or the ratio in every layer"},
		{Name: "structured", Kind: Bool, Default: "false", Doc: "remove whole output channels / neurons and shrink the tensors"},
		{Name: "criterion", Kind: String, Default: "l1", Values: []string{"l1", "l2"}, Doc: "channel ranking of structured pruning"},
		{Name: "refit", Kind: Bool, Default: "true", Doc: "re-fit weights by least squares on calibration activations (when data is given)"},
		{Name: "samples", Kind: Int, Default: "256", Doc: "calibration samples used by refit and evaluation"},
		{Name: "steps", Kind: Int, Default: "1", Doc: "iterative schedule: prune in this many steps, refit and evaluate after each"},
		{Name: "budget", Kind: Float, Default: "-1", Doc: "top-1 points the calibration set may lose; iterative pruning stops before exceeding it (-1: off)"},
		{Name: "distill", Kind: Int, Default: "0", Doc: "epochs of distillation from the pipeline's input model after every step (prune → distill → prune → …; the last `samples` examples of the data are held out to evaluate each step; 0: off)"},
		{Name: "lr", Kind: Float, Default: "0.001", Doc: "learning rate of the distillation steps"},
		{Name: "skip", Kind: List, Default: "", Doc: "layers (value or node names) left alone"},
		{Name: "min", Kind: Int, Default: "0", Doc: "layers with fewer weights are left alone"},
		{Name: "layers", Kind: List, Default: "", Doc: "per-layer ratios name:ratio (value or node names; unstructured), overriding ratio and scope for those layers"},
	},
	After:  []string{"canonicalize"},
	Before: []string{"quantize", "share", "sparse", "fuse"},
	New:    newPrune,
}

type pruneConfig struct {
	ratio      float64
	layerScope bool
	structured bool
	l2         bool
	refit      bool
	samples    int
	steps      int
	budget     float64
	skip       []string
	min        int
	layers     map[string]float64 // per-layer ratios
	distill    Func               // recovery after every step (nil: none)
}

// layerRatio returns the ratio layer l gets at overall progress ratio (of
// c.ratio) and whether l has its own.
func (c *pruneConfig) layerRatio(l *layerW, ratio float64) (float64, bool) {
	for name, r := range c.layers {
		if !matchName(l.v, []string{name}) && !matchName(l.w, []string{name}) {
			continue
		}
		if ratio < c.ratio && c.ratio > 0 { // an iterative step: the same fraction of the way, geometrically
			return 1 - math.Pow(1-r, math.Log(1-ratio)/math.Log(1-c.ratio)), true
		}
		return r, true
	}
	return 0, false
}

func newPrune(o Options) (Func, error) {
	c := &pruneConfig{ratio: o.Float("ratio"), layerScope: o.String("scope") == "layer", structured: o.Bool("structured"),
		l2: o.String("criterion") == "l2", refit: o.Bool("refit"), samples: o.Int("samples"), steps: o.Int("steps"),
		budget: o.Float("budget"), skip: o.List("skip"), min: o.Int("min")}
	if !(c.ratio >= 0 && c.ratio < 1) {
		return nil, fmt.Errorf("ratio %v must be in [0, 1)", c.ratio)
	}
	if c.steps < 1 || c.samples < 1 {
		return nil, fmt.Errorf("steps and samples must be positive")
	}
	if e := o.Int("distill"); e > 0 {
		do := Options{pass: "distill", vals: map[string]string{}}
		for _, d := range distillPass.Options {
			do.vals[d.Name] = d.Default
		}
		do.vals["epochs"], do.vals["lr"] = strconv.Itoa(e), strconv.FormatFloat(o.Float("lr"), 'g', -1, 64)
		f, err := newDistill(do)
		if err != nil {
			return nil, fmt.Errorf("distill: %v", err)
		}
		c.distill = f
	} else if e < 0 {
		return nil, fmt.Errorf("distill %d: want epochs ≥ 0", e)
	}
	c.layers = map[string]float64{}
	for _, e := range o.List("layers") {
		name, r, ok := strings.Cut(e, ":")
		f, err := strconv.ParseFloat(r, 64)
		if !ok || err != nil || !(f >= 0 && f < 1) {
			return nil, fmt.Errorf("layers: %q is not name:ratio with a ratio in [0, 1)", e)
		}
		c.layers[name] = f
	}
	return func(g *ir.Graph, ctx *Context, rep *Report) error { return runPrune(g, ctx, rep, c) }, nil
}

// layerW describes the weight of a prunable layer as a matrix
// [out, fanin]: element (o, j) is at o*fanin+j when outMajor, else j*out+o.
type layerW struct {
	v          *ir.Value // the layer
	w          *ir.Value // its const f32 weight
	out, fanin int
	outMajor   bool
}

func (l *layerW) at(o, j int) int {
	if l.outMajor {
		return o*l.fanin + j
	}
	return j*l.out + o
}

// weightLayer returns the weight matrix view of a conv / gemm / matmul
// with a constant f32 weight, or nil.
func weightLayer(v *ir.Value) *layerW {
	if v.IsConst() || len(v.Args) < 2 || v.Type.DType != ir.F32 {
		return nil
	}
	w := v.Args[1]
	t := constF32(w)
	if t == nil || len(t.Shape) < 2 {
		return nil
	}
	switch v.Op.Name {
	case "conv":
		return &layerW{v: v, w: w, out: t.Shape[0], fanin: ir.NumElements(t.Shape[1:]), outMajor: true}
	case "gemm":
		if v.Int("trans_b") != 0 {
			return &layerW{v: v, w: w, out: t.Shape[0], fanin: t.Shape[1], outMajor: true}
		}
		return &layerW{v: v, w: w, out: t.Shape[1], fanin: t.Shape[0]}
	case "matmul":
		if len(t.Shape) == 2 {
			return &layerW{v: v, w: w, out: t.Shape[1], fanin: t.Shape[0]}
		}
	}
	return nil
}

// prunableLayers lists the layers a pass may compress, in graph order.
func prunableLayers(g *ir.Graph, skip []string, minParams int) []*layerW {
	var out []*layerW
	for _, v := range g.Values {
		l := weightLayer(v)
		if l == nil || matchName(v, skip) || matchName(l.w, skip) || l.out*l.fanin < minParams {
			continue
		}
		out = append(out, l)
	}
	return out
}

func runPrune(g *ir.Graph, ctx *Context, rep *Report, c *pruneConfig) error {
	if c.steps > 1 || c.budget >= 0 || c.distill != nil {
		return runIterative(g, ctx, rep, c)
	}
	if c.structured {
		return pruneStructured(g, ctx, rep, c, c.ratio)
	}
	return pruneUnstructured(g, ctx, rep, c, c.ratio)
}

// pruneUnstructured zeroes the smallest weights so that a fraction ratio of
// all prunable weights (already-zero ones included) is zero.
func pruneUnstructured(g *ir.Graph, ctx *Context, rep *Report, c *pruneConfig, ratio float64) error {
	layers := prunableLayers(g, c.skip, c.min)
	if len(layers) == 0 {
		rep.Notef("no prunable layers")
		return nil
	}
	thr := make([]float32, len(layers))
	own := make([]bool, len(layers))
	for i, l := range layers {
		if r, ok := c.layerRatio(l, ratio); ok {
			thr[i], own[i] = magnitudeThreshold([][]float32{l.w.Const.F32}, r), true
		}
	}
	if c.layerScope {
		for i, l := range layers {
			if !own[i] {
				thr[i] = magnitudeThreshold([][]float32{l.w.Const.F32}, ratio)
			}
		}
	} else {
		var all [][]float32
		for i, l := range layers {
			if !own[i] {
				all = append(all, l.w.Const.F32)
			}
		}
		t := magnitudeThreshold(all, ratio)
		for i := range thr {
			if !own[i] {
				thr[i] = t
			}
		}
	}
	var ref *ir.Graph
	refit := c.refit && ctx.Data.Len() > 0
	if refit {
		ref = g.Clone()
	}
	for i, l := range layers {
		src := l.w.Const.F32
		wt := ir.NewTensor(ir.F32, l.w.Const.Shape)
		kept := 0
		for j, x := range src {
			if abs32(x) > thr[i] {
				wt.F32[j] = x
				kept++
			}
		}
		if kept == 0 { // never empty a layer: keep its largest weight
			j := argmaxAbs(src)
			wt.F32[j] = src[j]
			kept = 1
		}
		setWeight(g, l, wt)
		note := ""
		if refit {
			n, err := refitMasked(g, ref, l, ctx, c.samples)
			if err != nil {
				return err
			}
			note = n
		}
		rep.Notef("%s: %d of %d weights kept (%.1f %% zeros)%s", layerKey(l.v), kept, len(src), 100*(1-float64(kept)/float64(len(src))), note)
	}
	return nil
}

// setWeight gives layer l a new weight constant (constants are immutable and
// may be shared).
func setWeight(g *ir.Graph, l *layerW, t *ir.Tensor) {
	nw := g.AddConst(l.w.Name, t, l.w.Type.Quant)
	nw.Source = l.w.Source
	l.v.Args[1] = nw
	l.w = nw
	g.RemoveDead()
	topoSort(g)
}

// magnitudeThreshold returns t such that a fraction ratio of the values has
// |x| <= t (values equal to t are pruned; ratio 0 prunes nothing but zeros).
func magnitudeThreshold(ws [][]float32, ratio float64) float32 {
	var mags []float32
	for _, w := range ws {
		for _, x := range w {
			mags = append(mags, abs32(x))
		}
	}
	if len(mags) == 0 {
		return 0
	}
	sort.Slice(mags, func(i, j int) bool { return mags[i] < mags[j] })
	k := int(math.Round(ratio * float64(len(mags))))
	if k <= 0 {
		return 0
	}
	return mags[min(k, len(mags))-1]
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func argmaxAbs(x []float32) int {
	b := 0
	for i, v := range x {
		if abs32(v) > abs32(x[b]) {
			b = i
		}
	}
	return b
}
