// Command int8unseen measures pare's int8 quantization on models it has not
// been tuned on. Two modes:
//
//	go run ./tests/int8unseen data -shape 1x3x48x192 -lo -1 -hi 1 -n 32 -images a.bmp,b.bmp -o calib.npy
//
// writes N random crops (position, size, mirror) of the images, resized to
// the input shape (NCHW or NHWC, 1 or 3 channels), pixels mapped linearly
// from 0..255 to lo..hi, stacked on axis 0 as f32 .npy (what `pare opt
// --calib X.npy` reads);
//
//	go run ./tests/int8unseen snr -f32 m.ir -int8 q.ir -data test.npy [-layers 10]
//
// runs both graphs in rt on every sample of the data and prints, per output,
// the SNR of the int8 result against the f32 one (10·log10 Σf²/Σ(q−f)²) and
// its relative L2 error, then the activations the two graphs share by name
// (each quantized value against its f32 original), worst first: where the
// error enters.
package main

import (
	"flag"
	"fmt"
	"image"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: int8unseen data|snr [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "data":
		err = dataMain(os.Args[2:])
	case "snr":
		err = snrMain(os.Args[2:])
	case "audio":
		err = audioMain(os.Args[2:])
	case "seq":
		err = seqMain(os.Args[2:])
	case "frontier":
		err = frontierMain(os.Args[2:])
	case "split":
		err = splitMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (data, snr)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "int8unseen:", err)
		os.Exit(1)
	}
}

func parseShape(s string) ([]int, error) {
	var shape []int
	for _, p := range strings.Split(s, "x") {
		var d int
		if _, err := fmt.Sscan(p, &d); err != nil || d <= 0 {
			return nil, fmt.Errorf("bad shape %q", s)
		}
		shape = append(shape, d)
	}
	return shape, nil
}

// splitMain writes each sample of a stacked .npy to DIR/NNN.npy with the
// model input's shape: split -data X.npy -shape 1x3x48x192 -o DIR [-n N].
func splitMain(args []string) error {
	fs := flag.NewFlagSet("split", flag.ExitOnError)
	dp := fs.String("data", "", "samples .npy")
	shapeS := fs.String("shape", "", "one sample's shape")
	n := fs.Int("n", 0, "first N samples (0: all)")
	out := fs.String("o", ".", "folder")
	fs.Parse(args)
	shape, err := parseShape(*shapeS)
	if err != nil {
		return err
	}
	x, err := tensorfile.Read(*dp, nil)
	if err != nil {
		return err
	}
	per := ir.NumElements(shape)
	if x.DType != ir.F32 || x.Len()%per != 0 {
		return fmt.Errorf("%s: %v%v does not hold samples of %v f32", *dp, x.DType, x.Shape, shape)
	}
	ns := x.Len() / per
	if *n > 0 {
		ns = min(ns, *n)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for i := 0; i < ns; i++ {
		if err := tensorfile.Write(fmt.Sprintf("%s/%03d.npy", *out, i), ir.FromF32(shape, x.F32[i*per:(i+1)*per])); err != nil {
			return err
		}
	}
	return nil
}

// audioMain writes N chunks of synthetic 16 kHz audio in [-1, 1] as an
// N×L f32 .npy: voiced frames (a glottal-like harmonic series on a random
// pitch of 90–260 Hz, two formant resonances, amplitude envelope), noise
// frames and near-silence, a third each: audio -n 64 -len 512 -o x.npy.
func audioMain(args []string) error {
	fs := flag.NewFlagSet("audio", flag.ExitOnError)
	n := fs.Int("n", 32, "chunks")
	ln := fs.Int("len", 512, "samples per chunk")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("o", "", "output .npy")
	fs.Parse(args)
	r := rng(*seed)
	x := ir.NewTensor(ir.F32, []int{*n, *ln})
	const sr = 16000.0
	for s := 0; s < *n; s++ {
		amp := 0.05 + 0.6*r.float()
		row := x.F32[s*(*ln) : (s+1)*(*ln)]
		switch s % 3 {
		case 0: // voiced
			f0 := 90 + 170*r.float()
			f1, f2 := 300+600*r.float(), 900+1600*r.float()
			ph := r.float() * 2 * math.Pi
			for i := range row {
				t := float64(i) / sr
				v := 0.0
				for h := 1; float64(h)*f0 < 4000; h++ {
					f := float64(h) * f0
					g := 1/(1+math.Pow((f-f1)/150, 2)) + 0.5/(1+math.Pow((f-f2)/250, 2))
					v += g / float64(h) * math.Sin(2*math.Pi*f*t+ph*float64(h))
				}
				env := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(row)))
				row[i] = float32(amp * v * (0.3 + 0.7*env) / 2)
			}
		case 1: // noise
			for i := range row {
				row[i] = float32(amp * 0.3 * (2*r.float() - 1))
			}
		default: // near-silence
			for i := range row {
				row[i] = float32(0.002 * (2*r.float() - 1))
			}
		}
		for i := range row {
			row[i] = float32(math.Max(-1, math.Min(1, float64(row[i]))))
		}
	}
	return tensorfile.Write(*out, x)
}

// seqMain runs a streaming model (inputs: a chunk and a recurrent state;
// outputs: a result and the next state) over the chunks of -data in order,
// carrying the state from zeros: seq -f32 m.ir [-int8 q.ir] -data x.npy
// [-states states.npy]. -states writes the f32 model's state before each
// chunk (calibration data for the state input); with -int8 the quantized
// model runs its own stream (its own states) and the SNR of its first
// output against the f32 one is printed.
func seqMain(args []string) error {
	fs := flag.NewFlagSet("seq", flag.ExitOnError)
	fp := fs.String("f32", "", "float model (.ir)")
	qp := fs.String("int8", "", "quantized model (.ir)")
	dp := fs.String("data", "", "chunks .npy, stacked on axis 0")
	sp := fs.String("states", "", "write the f32 model's state before each chunk here")
	fs.Parse(args)
	fg, err := ir.ReadFile(*fp)
	if err != nil {
		return err
	}
	if len(fg.Params) != 2 || len(fg.Results) != 2 {
		return fmt.Errorf("%s: want inputs (chunk, state) and results (out, next state)", fg.Name)
	}
	x, err := tensorfile.Read(*dp, nil)
	if err != nil {
		return err
	}
	cs, ss := fg.Params[0].Type.Shape, fg.Params[1].Type.Shape
	per := ir.NumElements(cs)
	n := x.Len() / per
	run := func(g *ir.Graph) ([]float32, []float32, error) {
		st := ir.NewTensor(ir.F32, ss)
		var outs, states []float32
		for i := 0; i < n; i++ {
			states = append(states, st.F32...)
			o, err := rt.Run(g, []*ir.Tensor{ir.FromF32(cs, x.F32[i*per:(i+1)*per]), st})
			if err != nil {
				return nil, nil, fmt.Errorf("%s: chunk %d: %v", g.Name, i, err)
			}
			outs = append(outs, o[0].F32...)
			st = o[1]
		}
		return outs, states, nil
	}
	fo, fst, err := run(fg)
	if err != nil {
		return err
	}
	if *sp != "" {
		if err := tensorfile.Write(*sp, ir.FromF32(append([]int{n}, ss...), fst)); err != nil {
			return err
		}
	}
	if *qp == "" {
		return nil
	}
	qg, err := ir.ReadFile(*qp)
	if err != nil {
		return err
	}
	qo, _, err := run(qg)
	if err != nil {
		return err
	}
	var sig, noise, maxd float64
	for i := range fo {
		d := float64(qo[i] - fo[i])
		sig += float64(fo[i]) * float64(fo[i])
		noise += d * d
		maxd = math.Max(maxd, math.Abs(d))
	}
	fmt.Printf("%s: %d chunks streamed; output %s: SNR %.2f dB, rel L2 %.4f, max |int8-f32| %.4f\n",
		fg.Name, n, fg.Results[0].Name, 10*math.Log10(sig/noise), math.Sqrt(noise/sig), maxd)
	for i := 0; i < min(n, 12); i++ {
		fmt.Printf("  chunk %2d: f32 %.4f int8 %.4f\n", i, fo[i], qo[i])
	}
	return nil
}

// frontierMain writes a copy of an int8 graph whose results are, besides
// its own, the integer values its dequantizes read (the edge of every
// integer region), so that backends can be compared with rt on integers
// alone where the float ops between the regions differ in the last bit:
// frontier -int8 q.ir -o cut.ir.
func frontierMain(args []string) error {
	fs := flag.NewFlagSet("frontier", flag.ExitOnError)
	qp := fs.String("int8", "", "quantized model (.ir)")
	out := fs.String("o", "", "output .ir")
	fs.Parse(args)
	g, err := ir.ReadFile(*qp)
	if err != nil {
		return err
	}
	seen := map[*ir.Value]bool{}
	for _, r := range g.Results {
		seen[r] = true
	}
	for _, v := range g.Values {
		if v.Op.Name == "dequantize" && !v.Args[0].IsConst() && !v.Args[0].IsParam() && !seen[v.Args[0]] {
			seen[v.Args[0]] = true
			g.Results = append(g.Results, v.Args[0])
		}
	}
	if err := ir.Verify(g); err != nil {
		return err
	}
	fmt.Printf("%s: %d results\n", g.Name, len(g.Results))
	return ir.WriteFile(*out, g)
}

// rng is a small deterministic generator (splitmix64).
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func dataMain(args []string) error {
	fs := flag.NewFlagSet("data", flag.ExitOnError)
	shapeS := fs.String("shape", "", "input shape, e.g. 1x3x48x192 or 1x128x128x3")
	lo := fs.Float64("lo", 0, "value of pixel 0")
	hi := fs.Float64("hi", 1, "value of pixel 255")
	n := fs.Int("n", 16, "samples")
	images := fs.String("images", "", "comma-separated image files (PNG, JPEG, BMP)")
	seed := fs.Uint64("seed", 1, "crop seed")
	out := fs.String("o", "", "output .npy")
	fs.Parse(args)
	shape, err := parseShape(*shapeS)
	if err != nil {
		return err
	}
	h, w, c, nhwc, err := dataset.ImageLayout(shape)
	if err != nil {
		return err
	}
	files := strings.Split(*images, ",")
	r := rng(*seed)
	per := ir.NumElements(shape)
	all := ir.NewTensor(ir.F32, append([]int{*n}, shape[1:]...))
	for s := 0; s < *n; s++ {
		f := files[s%len(files)]
		img, err := dataset.LoadImage(f)
		if err != nil {
			return err
		}
		b := img.Bounds()
		// A crop of 40–100 % of the image's shorter side, with the input's
		// aspect ratio where it fits, at a random position.
		frac := 0.4 + 0.6*r.float()
		cw := int(frac * float64(b.Dx()))
		ch := int(float64(cw) * float64(h) / float64(w))
		if ch > b.Dy() {
			ch = int(frac * float64(b.Dy()))
			cw = min(b.Dx(), int(float64(ch)*float64(w)/float64(h)))
		}
		cw, ch = max(cw, 1), max(ch, 1)
		x0 := b.Min.X + int(r.float()*float64(b.Dx()-cw+1))
		y0 := b.Min.Y + int(r.float()*float64(b.Dy()-ch+1))
		mirror := r.next()&1 == 1
		crop := subImage(img, x0, y0, cw, ch)
		pix := dataset.ResizeBilinear(crop, w, h, c)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				sx := x
				if mirror {
					sx = w - 1 - x
				}
				for k := 0; k < c; k++ {
					p := float64(pix[(y*w+sx)*c+k])
					i := (y*w+x)*c + k
					if !nhwc {
						i = (k*h+y)*w + x
					}
					all.F32[s*per+i] = float32(*lo + p/255*(*hi-*lo))
				}
			}
		}
	}
	return tensorfile.Write(*out, all)
}

func snrMain(args []string) error {
	fs := flag.NewFlagSet("snr", flag.ExitOnError)
	fp := fs.String("f32", "", "float model (.ir)")
	qp := fs.String("int8", "", "quantized model (.ir)")
	dp := fs.String("data", "", "samples .npy (stacked on axis 0)")
	layers := fs.Int("layers", 10, "activations to list, worst first (0: none)")
	inOrder := fs.Bool("order", false, "list every shared activation in graph order instead")
	fs.Parse(args)
	fg, err := ir.ReadFile(*fp)
	if err != nil {
		return err
	}
	qg, err := ir.ReadFile(*qp)
	if err != nil {
		return err
	}
	data, err := tensorfile.Read(*dp, nil)
	if err != nil {
		return err
	}
	inShape := fg.Params[0].Type.Shape
	per := ir.NumElements(inShape)
	if data.DType != ir.F32 || data.Len()%per != 0 {
		return fmt.Errorf("%s: %v%v does not hold samples of %v", *dp, data.DType, data.Shape, inShape)
	}
	// Activations the two graphs share by name: the f32 value and its
	// quantized namesake (dequantized for the comparison).
	fb := map[string]*ir.Value{}
	for _, v := range fg.Values {
		fb[v.Name] = v
	}
	type pair struct{ f, q *ir.Value }
	var pairs []pair
	for _, v := range qg.Values {
		if v.IsConst() || v.Type.Quant == nil || v.Type.DType == ir.I32 {
			continue
		}
		if f := fb[strings.TrimSuffix(v.Name, ".q")]; f != nil && f.Type.DType == ir.F32 && ir.EqualShape(f.Type.Shape, v.Type.Shape) {
			pairs = append(pairs, pair{f, v})
		}
	}
	watch := func(g *ir.Graph, vs []*ir.Value) *ir.Graph {
		c := g.Clone()
		for _, v := range vs {
			c.Results = append(c.Results, c.Lookup(v.Name))
		}
		return c
	}
	var fw, qw []*ir.Value
	for _, p := range pairs {
		fw, qw = append(fw, p.f), append(qw, p.q)
	}
	fgw, qgw := watch(fg, fw), watch(qg, qw)
	loc := newLocal(fg, qg)
	var all []*ir.Value
	for _, v := range fg.Values {
		if !v.IsConst() {
			all = append(all, v)
		}
	}
	fga := watch(fg, all)
	nout := len(fg.Results)
	sig := make([]float64, nout+len(pairs))
	noise := make([]float64, nout+len(pairs))
	maxd, maxf := make([]float64, nout), make([]float64, nout)
	ns := data.Len() / per
	for s := 0; s < ns; s++ {
		in := ir.FromF32(inShape, data.F32[s*per:(s+1)*per])
		fo, err := rt.Run(fgw, []*ir.Tensor{in})
		if err != nil {
			return fmt.Errorf("%s: %v", fg.Name, err)
		}
		fa, err := rt.Run(fga, []*ir.Tensor{in})
		if err != nil {
			return fmt.Errorf("%s: %v", fg.Name, err)
		}
		byName := map[string]*ir.Tensor{fg.Params[0].Name: in}
		for i, v := range all {
			byName[v.Name] = fa[len(fg.Results)+i]
		}
		if err := loc.sample(byName); err != nil {
			return err
		}
		qo, err := rt.Run(qgw, []*ir.Tensor{in})
		if err != nil {
			return fmt.Errorf("%s: %v", qg.Name, err)
		}
		for i := range fo {
			a, b := fo[i], qo[i]
			for k := 0; k < a.Len(); k++ {
				x := float64(a.F32[k])
				var y float64
				if b.DType == ir.F32 {
					y = float64(b.F32[k])
				} else {
					q := qgw.Results[i].Type.Quant
					c := 0
					if q != nil && q.Axis >= 0 {
						c = (k / ir.Strides(b.Shape)[q.Axis]) % b.Shape[q.Axis]
					}
					y = float64(b.IntAt(k))
					if q != nil {
						y = (y - float64(q.ZeroPoint[c])) * float64(q.Scale[c])
					}
				}
				sig[i] += x * x
				noise[i] += (y - x) * (y - x)
				if i < nout {
					maxd[i] = math.Max(maxd[i], math.Abs(y-x))
					maxf[i] = math.Max(maxf[i], math.Abs(x))
				}
			}
		}
	}
	db := func(s, n float64) float64 {
		if n == 0 {
			return math.Inf(1)
		}
		return 10 * math.Log10(s/n)
	}
	fmt.Printf("%s: %d samples\n", fg.Name, ns)
	for i := 0; i < nout; i++ {
		fmt.Printf("output %-28s SNR %6.2f dB  rel L2 %.4f  max |int8-f32| %.4g of max |f32| %.4g\n", fg.Results[i].Name, db(sig[i], noise[i]),
			math.Sqrt(noise[i]/sig[i]), maxd[i], maxf[i])
	}
	if *layers == 0 {
		return nil
	}
	idx := make([]int, len(pairs))
	for i := range idx {
		idx[i] = i
	}
	local := map[*ir.Value]string{}
	for _, v := range loc.layers {
		local[v] = fmt.Sprintf("local %6.2f dB", db(loc.sig[v], loc.noise[v]))
		if c := loc.clipped[v]; c > 0 {
			local[v] += fmt.Sprintf(" (%2.0f %% of its error from clipping)", 100*c/loc.noise[v])
		}
	}
	if *inOrder {
		for i, p := range pairs {
			fmt.Printf("  %-40s %-14s SNR %6.2f dB  %s\n", p.q.Name, p.q.Op.Name, db(sig[nout+i], noise[nout+i]), local[p.q])
		}
		return nil
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return db(sig[nout+idx[a]], noise[nout+idx[a]]) < db(sig[nout+idx[b]], noise[nout+idx[b]])
	})
	fmt.Printf("%d shared activations; the %d worst (SNR of the int8 value against f32):\n", len(pairs), min(*layers, len(idx)))
	for _, i := range idx[:min(*layers, len(idx))] {
		p := pairs[i]
		fmt.Printf("  %-40s %-14s SNR %6.2f dB  %s\n", p.q.Name, p.q.Op.Name, db(sig[nout+i], noise[nout+i]), local[p.q])
	}
	sort.SliceStable(loc.layers, func(a, b int) bool {
		return db(loc.sig[loc.layers[a]], loc.noise[loc.layers[a]]) < db(loc.sig[loc.layers[b]], loc.noise[loc.layers[b]])
	})
	fmt.Printf("the %d layers with the largest own error (run on the f32 model's input to them):\n", min(*layers, len(loc.layers)))
	for _, v := range loc.layers[:min(*layers, len(loc.layers))] {
		fmt.Printf("  %-40s %-14s %s\n", v.Name, v.Op.Name, local[v])
	}
	return nil
}

func subImage(img image.Image, x, y, w, h int) image.Image {
	if s, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		return s.SubImage(image.Rect(x, y, x+w, y+h))
	}
	return img
}

// localSNR is each quantized layer's own error: its integer op run on the
// f32 model's exact input (quantized with the layer's input parameters),
// against the f32 model's output of that layer, summed over the samples.
type localSNR struct {
	fg, qg  *ir.Graph
	fbyName map[string]*ir.Value
	layers  []*ir.Value // quantized values whose arguments all have f32 namesakes
	sig     map[*ir.Value]float64
	noise   map[*ir.Value]float64
	clipped map[*ir.Value]float64 // noise from f32 values outside the int8 range
}

func newLocal(fg, qg *ir.Graph) *localSNR {
	l := &localSNR{fg: fg, qg: qg, fbyName: map[string]*ir.Value{}, sig: map[*ir.Value]float64{}, noise: map[*ir.Value]float64{}, clipped: map[*ir.Value]float64{}}
	for _, v := range fg.Values {
		l.fbyName[v.Name] = v
	}
	for _, p := range fg.Params {
		l.fbyName[p.Name] = p
	}
	for _, v := range qg.Values {
		if v.IsConst() || v.Type.Quant == nil || v.Type.DType == ir.I32 || v.Op.Name == "quantize" {
			continue
		}
		if l.namesake(v) == nil {
			continue
		}
		ok := true
		for _, a := range v.Args {
			ok = ok && (a.IsConst() || l.namesake(a) != nil)
		}
		if ok {
			l.layers = append(l.layers, v)
		}
	}
	return l
}

func (l *localSNR) namesake(v *ir.Value) *ir.Value {
	f := l.fbyName[strings.TrimSuffix(strings.TrimSuffix(v.Name, ".q"), ".dq")]
	if f == nil || f.Type.DType != ir.F32 || !ir.EqualShape(f.Type.Shape, v.Type.Shape) {
		return nil
	}
	return f
}

// quantizeAs quantizes f32 x to t's dtype and parameters (ties to even).
func quantizeAs(x *ir.Tensor, t ir.Type) *ir.Tensor {
	if t.DType == ir.F32 {
		return x
	}
	y := ir.NewTensor(t.DType, x.Shape)
	lo, hi := t.DType.Range()
	q := t.Quant
	for i, f := range x.F32 {
		c := 0
		if q.Axis >= 0 {
			c = (i / ir.Strides(x.Shape)[q.Axis]) % x.Shape[q.Axis]
		}
		r := math.RoundToEven(float64(f)/float64(q.Scale[c])) + float64(q.ZeroPoint[c])
		y.SetInt(i, int64(math.Max(float64(lo), math.Min(float64(hi), r))))
	}
	return y
}

// sample adds one input's errors; f32 holds the f32 model's value of every
// name (from a run that returned them all).
func (l *localSNR) sample(f32 map[string]*ir.Tensor) error {
	for _, v := range l.layers {
		args := make([]*ir.Tensor, len(v.Args))
		for i, a := range v.Args {
			if a.IsConst() {
				args[i] = a.Const
				continue
			}
			args[i] = quantizeAs(f32[l.namesake(a).Name], a.Type)
		}
		out, err := rt.EvalOp(v, args)
		if err != nil {
			return err
		}
		ref := f32[l.namesake(v).Name]
		q := v.Type.Quant
		for k, x := range ref.F32 {
			c := 0
			if q.Axis >= 0 {
				c = (k / ir.Strides(out.Shape)[q.Axis]) % out.Shape[q.Axis]
			}
			y := (float64(out.IntAt(k)) - float64(q.ZeroPoint[c])) * float64(q.Scale[c])
			l.sig[v] += float64(x) * float64(x)
			l.noise[v] += (y - float64(x)) * (y - float64(x))
			lo, hi := v.Type.DType.Range()
			if f := float64(x)/float64(q.Scale[c]) + float64(q.ZeroPoint[c]); f < float64(lo)-0.5 || f > float64(hi)+0.5 {
				l.clipped[v] += (y - float64(x)) * (y - float64(x))
			}
		}
	}
	return nil
}
