package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

func init() {
	register(&command{
		name: "eval", args: "MODEL --data SPEC [--limit N] [--scale S] [--mean M] [--std S]",
		summary: "top-1 and top-5 accuracy of a classifier on a labelled data set",
		detail: `Data SPEC: mnist (the 10,000 test images), mnist:train, fashion-mnist[:train]
(Debian's dataset-fashion-mnist), DIR (images listed in DIR/labels.txt as "FILE
LABEL" lines, or one subfolder per class; decoded and resized bilinearly to the
input), or INPUTS.npy:LABELS.npy (N samples stacked on axis 0; labels integers).
Images become inputs as (pixel*scale - mean) / std. The default scale is the
model's ONNX metadata entry pare.input_scale (or a doc_string line
pare.input_scale=S, or "(pixel/255)" as pare's LeNets write) when it has one,
else 1: raw 0..255 pixels, which is what mnist-7 takes. A u8 / i8 model input
(mnist.tflite) takes the values rounded, or quantized with the input's scale
and zero point when it has them.
Runs on every core with one interpreter; a progress bar on a terminal.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			var df dataFlags
			df.register(fs, "data", "mnist")
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				data, err := df.load(pos[0], g, df.limit)
				if err != nil {
					return err
				}
				return evalReport(g, data)
			}
		},
	})
}

// dataFlags select a labelled data set and its preprocessing.
type dataFlags struct {
	spec             string
	limit            int
	scale, mean, std float64
}

func (d *dataFlags) register(fs *flag.FlagSet, name, def string) {
	fs.StringVar(&d.spec, name, def, "data `SPEC`: mnist, mnist:train, fashion-mnist[:train], DIR (labels.txt or a folder per class), INPUTS.npy:LABELS.npy, NAME=FILE.npy,... (one per input)")
	fs.IntVar(&d.limit, "limit", 0, "use the first `N` samples (0: all)")
	fs.Float64Var(&d.scale, "scale", -1, "pixel scale (default: the model's pare.input_scale, else 1)")
	fs.Float64Var(&d.mean, "mean", 0, "subtracted after scaling")
	fs.Float64Var(&d.std, "std", 1, "divides after subtracting the mean")
}

// modelInputScale reads pare.input_scale from an ONNX model's metadata
// (or a doc_string line `pare.input_scale=S`); 0 when absent.
func modelInputScale(path string) float64 {
	if !strings.EqualFold(filepath.Ext(path), ".onnx") {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var m onnxpb.ModelProto
	if proto.Unmarshal(b, &m) != nil {
		return 0
	}
	for _, p := range m.GetMetadataProps() {
		if p.GetKey() == "pare.input_scale" {
			return parseScale(p.GetValue())
		}
	}
	doc := m.GetDocString()
	for _, line := range strings.Split(doc, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "pare.input_scale="); ok {
			return parseScale(v)
		}
	}
	// pare's LeNets (tests/zoo) describe their input as "(pixel/255)".
	if _, v, ok := strings.Cut(doc, "(pixel/"); ok {
		if n, _, ok := strings.Cut(v, ")"); ok {
			return parseScale("1/" + n)
		}
	}
	return 0
}

// parseScale reads 0.00392 or 1/255.
func parseScale(s string) float64 {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "/"); ok {
		x, err1 := strconv.ParseFloat(a, 64)
		y, err2 := strconv.ParseFloat(b, 64)
		if err1 == nil && err2 == nil && y != 0 {
			return x / y
		}
		return 0
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// load reads the data set as inputs of g's first parameter.
func (d *dataFlags) load(modelPath string, g *ir.Graph, limit int) (*passes.Dataset, error) {
	if isNamedNPY(d.spec) {
		return loadNamedNPY(d.spec, g, limit)
	}
	if len(g.Params) != 1 {
		return nil, fmt.Errorf("%s has %d inputs (%s): give their samples as NAME=FILE.npy,NAME=FILE.npy (one .npy per input, stacked on axis 0)", g.Name, len(g.Params), paramNames(g))
	}
	pt := g.Params[0].Type
	if pt.DType != ir.F32 && pt.DType != ir.U8 && pt.DType != ir.I8 {
		return nil, fmt.Errorf("evaluation needs an f32, u8 or i8 input, %s takes %v", g.Name, pt)
	}
	shape := g.Params[0].Type.Shape
	scale := d.scale
	if scale < 0 {
		if scale = modelInputScale(modelPath); scale == 0 {
			scale = 1
		}
	}
	pp := dataset.Preprocess{Scale: float32(scale), Mean: float32(d.mean), Std: float32(d.std)}
	var set *dataset.Set
	var err error
	switch spec := d.spec; {
	case spec == "mnist" || spec == "mnist:test":
		set, err = dataset.MNIST("test")
	case spec == "mnist:train":
		set, err = dataset.MNIST("train")
	case spec == "fashion-mnist" || spec == "fashion-mnist:test":
		set, err = dataset.FashionMNIST("test")
	case spec == "fashion-mnist:train":
		set, err = dataset.FashionMNIST("train")
	case isDir(spec):
		in, labels, err := dataset.FolderTensors(spec, pt, dataset.Raw, pp, limit)
		if err != nil {
			return nil, err
		}
		ds := &passes.Dataset{Name: filepath.Base(filepath.Clean(spec)), Labels: labels}
		for _, x := range in {
			ds.Inputs = append(ds.Inputs, []*ir.Tensor{x})
		}
		return ds, nil
	case strings.Contains(spec, ".npy"):
		ds, err := loadNPY(spec, shape, limit)
		if err != nil {
			return nil, err
		}
		return ds, toInputType(ds, pt)
	default:
		return nil, fmt.Errorf("unknown data %q (mnist, mnist:train, fashion-mnist[:train], DIR, INPUTS.npy:LABELS.npy)", spec)
	}
	if err != nil {
		return nil, err
	}
	set = set.Limit(limit)
	in, labels, err := set.Tensors(shape, pp)
	if err != nil {
		return nil, err
	}
	ds := &passes.Dataset{Name: set.Name, Labels: labels}
	for _, x := range in {
		ds.Inputs = append(ds.Inputs, []*ir.Tensor{x})
	}
	return ds, toInputType(ds, pt)
}

// toInputType converts preprocessed f32 inputs to an integer model input:
// a quantized one takes round(x/scale)+zero point, a plain u8 / i8 one the
// rounded values (raw 0..255 pixels with the default scale 1: a u8 image
// input such as mnist.tflite's); both saturate.
func toInputType(ds *passes.Dataset, t ir.Type) error {
	if t.DType == ir.F32 {
		return nil
	}
	q := t.Quant
	if q != nil && q.Axis >= 0 {
		return fmt.Errorf("input %v is quantized per axis", t)
	}
	lo, hi := t.DType.Range()
	for _, in := range ds.Inputs {
		x := in[0]
		y := ir.NewTensor(t.DType, x.Shape)
		for i, f := range x.F32 {
			r := math.RoundToEven(float64(f))
			if q != nil {
				r = math.RoundToEven(float64(f/q.Scale[0])) + float64(q.ZeroPoint[0])
			}
			y.SetInt(i, int64(math.Max(float64(lo), math.Min(float64(hi), r))))
		}
		in[0] = y
	}
	return nil
}

// loadNPY reads INPUTS.npy[:LABELS.npy]: f32 samples stacked on axis 0.
func loadNPY(spec string, shape []int, limit int) (*passes.Dataset, error) {
	xs, ls, _ := strings.Cut(spec, ".npy:")
	if ls != "" {
		xs += ".npy"
	}
	x, err := tensorfile.Read(xs, nil)
	if err != nil {
		return nil, err
	}
	per := ir.NumElements(shape)
	if x.DType != ir.F32 || per == 0 || x.Len()%per != 0 {
		return nil, fmt.Errorf("%s: %v%v does not hold samples of %v f32", xs, x.DType, x.Shape, shape)
	}
	n := x.Len() / per
	ds := &passes.Dataset{Name: filepath.Base(xs)}
	var labels *ir.Tensor
	if ls != "" {
		if labels, err = tensorfile.Read(ls, nil); err != nil {
			return nil, err
		}
		if labels.Len() != n {
			return nil, fmt.Errorf("%s: %d labels for %d samples", ls, labels.Len(), n)
		}
	}
	if limit > 0 && limit < n {
		n = limit
	}
	for i := 0; i < n; i++ {
		ds.Inputs = append(ds.Inputs, []*ir.Tensor{ir.FromF32(shape, x.F32[i*per:(i+1)*per])})
		l := -1
		if labels != nil {
			l = int(labels.IntAt(i))
		}
		ds.Labels = append(ds.Labels, l)
	}
	return ds, nil
}

// evalReport evaluates with a progress bar on a terminal, then prints a summary.
func evalReport(g *ir.Graph, data *passes.Dataset) error {
	n := data.Len()
	var progress func(int)
	if isTerminal(stderr) {
		progress = func(done int) {
			if done%50 == 0 || done == n {
				w := 40 * done / n
				fmt.Fprintf(stderr, "\r[%s%s] %d/%d", strings.Repeat("=", w), strings.Repeat(" ", 40-w), done, n)
				if done == n {
					fmt.Fprintln(stderr)
				}
			}
		}
	}
	acc, err := passes.Evaluate(g, data, progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %s: top-1 %.2f %% (%d/%d), top-5 %.2f %%\n", g.Name, data.Name, acc.Top1Pct(), acc.Top1, acc.N, acc.Top5Pct())
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
