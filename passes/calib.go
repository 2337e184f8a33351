package passes

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Calibration: observers of activation ranges collected by running the
// float graph over a calibration set through rt (Interp.Trace), on all
// cores with one Interp.

const histBins = 2048

// observer accumulates what calibration learns about one f32 value.
type observer struct {
	min, max float64
	n        int64
	hist     []float64 // histBins bins over [min, max] (second pass)
	absHist  []float64 // histBins bins of |x| over [0, max(|min|, |max|)]
	chanAxis int       // axis of the per-channel means (-1: none)
	// widen: the quantized range holds at least [-widen, widen] (the
	// input of a sigmoid or tanh, see quantize).
	widen   float64
	chanSum []float64
	chanN   int64
}

func newObserver() *observer {
	return &observer{min: math.Inf(1), max: math.Inf(-1), chanAxis: -1}
}

func (o *observer) observeRange(t *ir.Tensor) {
	for _, x := range t.F32 {
		f := float64(x)
		if f < o.min {
			o.min = f
		}
		if f > o.max {
			o.max = f
		}
	}
	o.n += int64(len(t.F32))
	if o.chanAxis >= 0 && o.chanAxis < len(t.Shape) {
		dim := t.Shape[o.chanAxis]
		if o.chanSum == nil {
			o.chanSum = make([]float64, dim)
		}
		stride := ir.Strides(t.Shape)[o.chanAxis]
		for i, x := range t.F32 {
			o.chanSum[(i/stride)%dim] += float64(x)
		}
		o.chanN += int64(len(t.F32) / dim)
	}
}

func (o *observer) observeHist(t *ir.Tensor) {
	if o.hist == nil {
		o.hist = make([]float64, histBins)
		o.absHist = make([]float64, histBins)
	}
	w := (o.max - o.min) / histBins
	amax := math.Max(math.Abs(o.min), math.Abs(o.max))
	aw := amax / histBins
	for _, x := range t.F32 {
		f := float64(x)
		if w > 0 {
			o.hist[min(histBins-1, max(0, int((f-o.min)/w)))]++
		}
		if aw > 0 {
			o.absHist[min(histBins-1, int(math.Abs(f)/aw))]++
		}
	}
}

func (o *observer) merge(p *observer, hist bool) {
	if hist {
		for i := range p.hist {
			o.hist[i] += p.hist[i]
			o.absHist[i] += p.absHist[i]
		}
		return
	}
	o.min, o.max, o.n = math.Min(o.min, p.min), math.Max(o.max, p.max), o.n+p.n
	if p.chanSum != nil {
		if o.chanSum == nil {
			o.chanSum = make([]float64, len(p.chanSum))
		}
		for i := range p.chanSum {
			o.chanSum[i] += p.chanSum[i]
		}
		o.chanN += p.chanN
	}
}

// chanMean is the mean of each channel (nil when not collected).
func (o *observer) chanMean() []float64 {
	if o.chanSum == nil || o.chanN == 0 {
		return nil
	}
	m := make([]float64, len(o.chanSum))
	for i, s := range o.chanSum {
		m[i] = s / float64(o.chanN)
	}
	return m
}

// calibMethod is a parsed calib option.
type calibMethod struct {
	name string  // minmax, percentile, entropy
	pct  float64 // percentile P
}

func parseCalib(s string) (calibMethod, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	switch name {
	case "minmax", "entropy", "mse":
		if hasArg {
			return calibMethod{}, fmt.Errorf("calib=%s takes no argument", name)
		}
		return calibMethod{name: name}, nil
	case "percentile":
		p := 99.99
		if hasArg {
			var err error
			if p, err = strconv.ParseFloat(arg, 64); err != nil || p <= 50 || p > 100 {
				return calibMethod{}, fmt.Errorf("calib=percentile:%s: P must be in (50, 100]", arg)
			}
		}
		return calibMethod{name: name, pct: p}, nil
	}
	return calibMethod{}, fmt.Errorf("calib=%q (minmax, percentile:P, entropy, mse)", s)
}

// calibrate runs g over data and returns an observer for each value in want.
func calibrate(g *ir.Graph, data *Dataset, want map[*ir.Value]*observer, hist bool, ctx *Context) error {
	ip, err := rt.New(g)
	if err != nil {
		return err
	}
	for pass := 0; pass < 2; pass++ {
		if pass == 1 && !hist {
			break
		}
		workers := max(1, min(runtime.GOMAXPROCS(0), data.Len()))
		locals := make([]map[*ir.Value]*observer, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			local := map[*ir.Value]*observer{}
			for v, o := range want {
				l := newObserver()
				l.chanAxis = o.chanAxis
				if pass == 1 {
					l.min, l.max = o.min, o.max
				}
				local[v] = l
			}
			locals[w] = local
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < data.Len(); i += workers {
					err := ip.Trace(data.Inputs[i], func(v *ir.Value, t *ir.Tensor) {
						if o := local[v]; o != nil && t.DType == ir.F32 {
							if pass == 0 {
								o.observeRange(t)
							} else {
								o.observeHist(t)
							}
						}
					})
					if err != nil {
						errs[w] = err
						return
					}
				}
			}(w)
		}
		// Graph parameters are not visited by Trace: observe them here.
		for v, o := range want {
			if v.IsParam() {
				idx := paramIndex(g, v)
				for i := 0; i < data.Len(); i++ {
					if pass == 0 {
						o.observeRange(data.Inputs[i][idx])
					} else {
						if o.hist == nil {
							o.hist, o.absHist = make([]float64, histBins), make([]float64, histBins)
						}
						o.observeHist(data.Inputs[i][idx])
					}
				}
			}
		}
		wg.Wait()
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		for v, o := range want {
			if v.IsParam() {
				continue
			}
			if pass == 1 && o.hist == nil {
				o.hist, o.absHist = make([]float64, histBins), make([]float64, histBins)
			}
			for _, l := range locals {
				if pass == 1 && l[v].hist == nil {
					continue
				}
				o.merge(l[v], pass == 1)
			}
		}
	}
	ctx.logf("calibrated %d values on %d samples", len(want), data.Len())
	return nil
}

func paramIndex(g *ir.Graph, v *ir.Value) int {
	for i, p := range g.Params {
		if p == v {
			return i
		}
	}
	return -1
}

// rangeOf picks the clipping range of an observed value.
func (o *observer) rangeOf(m calibMethod, signedBins int) (lo, hi float64) {
	lo, hi = o.min, o.max
	if o.n == 0 || math.IsInf(lo, 0) {
		return 0, 1
	}
	switch m.name {
	case "percentile":
		if o.hist == nil {
			return
		}
		w := (o.max - o.min) / histBins
		total := 0.0
		for _, c := range o.hist {
			total += c
		}
		q := func(p float64) float64 {
			target, acc := p/100*total, 0.0
			for i, c := range o.hist {
				acc += c
				if acc >= target {
					return o.min + float64(i+1)*w
				}
			}
			return o.max
		}
		hi = math.Min(o.max, q(m.pct))
		if o.min < 0 {
			lo = math.Max(o.min, q(100-m.pct)-w)
		}
	case "mse":
		if o.hist == nil {
			return
		}
		lo, hi = o.mseRange(2 * signedBins)
	case "entropy":
		if o.absHist == nil {
			return
		}
		nq := signedBins
		if o.min >= 0 {
			nq = 2 * signedBins
		}
		t := klThreshold(o.absHist, nq) * math.Max(math.Abs(o.min), math.Abs(o.max)) / histBins
		lo, hi = math.Max(o.min, -t), math.Min(o.max, t)
	}
	return lo, hi
}

// mseRange is the range [a·min, a·max] (both ends including 0) whose
// quantization to levels steps makes the least expected squared error over
// the histogram: rounding (step²/12) inside, the distance to the end
// outside; a runs over 1, 0.99, ... 0.2.
func (o *observer) mseRange(levels int) (lo, hi float64) {
	w := (o.max - o.min) / histBins
	bestErr := math.Inf(1)
	lo, hi = o.min, o.max
	for k := 0; k <= 80; k++ {
		a := 1 - float64(k)*0.01
		l, h := math.Min(0, o.min*a), math.Max(0, o.max*a)
		step := (h - l) / float64(levels-1)
		if step <= 0 {
			continue
		}
		e := 0.0
		for i, c := range o.hist {
			if c == 0 {
				continue
			}
			x := o.min + (float64(i)+0.5)*w
			switch {
			case x < l:
				e += c * (l - x) * (l - x)
			case x > h:
				e += c * (x - h) * (x - h)
			default:
				e += c * step * step / 12
			}
		}
		if e < bestErr {
			bestErr, lo, hi = e, l, h
		}
	}
	return lo, hi
}

// klThreshold is TensorRT's entropy calibration: the histogram bin i (in
// bins of |x|) whose clipped distribution P = hist[:i] (outliers added to the
// last bin) loses the least information (KL divergence) when quantized to
// nq levels; it returns i + 0.5.
func klThreshold(hist []float64, nq int) float64 {
	n := len(hist)
	if nq >= n {
		return float64(n)
	}
	best, bestKL := float64(n), math.Inf(1)
	p := make([]float64, n)
	q := make([]float64, n)
	for i := nq; i <= n; i++ {
		copy(p, hist[:i])
		outliers := 0.0
		for _, c := range hist[i:] {
			outliers += c
		}
		p[i-1] += outliers
		merged := float64(i) / float64(nq)
		for j := 0; j < nq; j++ {
			start, stop := int(float64(j)*merged), int(float64(j+1)*merged)
			if j == nq-1 {
				stop = i
			}
			sum, nz := 0.0, 0
			for k := start; k < stop; k++ {
				sum += hist[k]
				if hist[k] != 0 {
					nz++
				}
			}
			for k := start; k < stop; k++ {
				q[k] = 0
				if hist[k] != 0 && nz > 0 {
					q[k] = sum / float64(nz)
				}
			}
		}
		kl := klDivergence(p[:i], q[:i])
		if kl < bestKL {
			bestKL, best = kl, float64(i)+0.5
		}
	}
	return best
}

func klDivergence(p, q []float64) float64 {
	sp, sq := 0.0, 0.0
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	kl := 0.0
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		qi := q[i] / sq
		if qi == 0 {
			qi = 1e-12 // smoothing: a bin P has and Q lost
		}
		kl += pi * math.Log(pi/qi)
	}
	return kl
}

// sortedValues orders a value set by graph position (deterministic output).
func sortedValues(g *ir.Graph, set map[*ir.Value]bool) []*ir.Value {
	pos := map[*ir.Value]int{}
	for i, v := range g.Values {
		pos[v] = i
	}
	var out []*ir.Value
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return pos[out[i]] < pos[out[j]] })
	return out
}
