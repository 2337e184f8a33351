package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "run", args: "MODEL [--input NAME=FILE]... [--image FILE] [--out FILE] [--top K [--labels FILE]]",
		summary: "run a model on inputs and print its outputs (or the top K classes)",
		detail: `Input files are .npy, ONNX TensorProto .pb, or raw little-endian .bin shaped as
the input. A model with one input takes --input FILE without a name.
--out writes the outputs as .npy (or raw .bin); with several outputs, one file
per output named OUT.<output>.npy.

--image feeds a PNG, JPEG or BMP to a single image input: resized bilinearly
to the input's height and width (NHWC or NCHW, 1 or 3 channels). u8 inputs take
the pixel bytes; i8 inputs take them reinterpreted as int8 (--pixels raw, as
tflite-micro's own tests feed person_detect) or shifted by -128 (--pixels
shift); f32 inputs take (pixel*scale - mean) / std.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			var inputs multiFlag
			fs.Var(&inputs, "input", "input tensor, `NAME=FILE` (repeatable; FILE alone for a single-input model)")
			out := fs.String("out", "", "write outputs to `FILE` (.npy or .bin)")
			top := fs.Int("top", 0, "print the top `K` classes of each output instead of its values")
			backend := fs.String("backend", "rt", "execution backend: "+backendNames())
			imageFile := fs.String("image", "", "feed the image in `FILE` (PNG, JPEG, BMP) to the model's image input")
			labels := fs.String("labels", "", "with --top, name classes by the lines of `FILE` (line i is class i)")
			pixels := fs.String("pixels", "raw", "how image bytes feed an i8 input: raw (reinterpret) or shift (byte-128)")
			var pp dataset.Preprocess
			fs.Func("scale", "f32 image inputs: multiply pixels (0..255) by `S` (default 1/255)", floatSetter(&pp.Scale))
			fs.Func("mean", "f32 image inputs: subtract `M` after scaling", floatSetter(&pp.Mean))
			fs.Func("std", "f32 image inputs: divide by `S` after subtracting the mean (default 1)", floatSetter(&pp.Std))
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				opts, err := mf.options()
				if err != nil {
					return err
				}
				if err := shapesFromInputs(pos[0], inputs, opts); err != nil {
					return err
				}
				g, err := loadModel(pos[0], opts)
				if err != nil {
					return err
				}
				var in []*ir.Tensor
				if *imageFile != "" {
					if len(inputs) > 0 || len(g.Params) != 1 {
						return fmt.Errorf("--image feeds a model with one input and no --input (the model takes %s)", paramList(g))
					}
					if pp.Scale == 0 {
						pp.Scale = 1.0 / 255
					}
					if *pixels != string(dataset.Raw) && *pixels != string(dataset.Shift) {
						return fmt.Errorf("--pixels %q: want raw or shift", *pixels)
					}
					img, err := dataset.LoadImage(*imageFile)
					if err != nil {
						return err
					}
					x, err := dataset.ImageTensor(img, g.Params[0].Type, dataset.PixelMap(*pixels), pp)
					if err != nil {
						return fmt.Errorf("input %s: %v", g.Params[0].Name, err)
					}
					in = []*ir.Tensor{x}
				} else if in, err = readInputs(g, inputs); err != nil {
					return err
				}
				var names []string
				if *labels != "" {
					b, err := os.ReadFile(*labels)
					if err != nil {
						return err
					}
					names = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
				}
				exec, err := prepare(*backend, g)
				if err != nil {
					return err
				}
				outs, err := exec(in)
				if err != nil {
					return err
				}
				for i, t := range outs {
					name := g.Results[i].Name
					if *top > 0 {
						printTop(stdout, name, t, *top, names)
					} else {
						printTensor(stdout, name, t)
					}
				}
				if *out != "" {
					return writeOutputs(*out, g, outs)
				}
				return nil
			}
		},
	})
}

// shapesFromInputs binds the shape of each ONNX input that --input feeds
// from a file carrying its shape (.npy, .pb), unless --shape gave one: the
// model's symbolic dims then take the values the data has, as they would in
// ONNX Runtime. A fixed dim the file contradicts stays an import error.
func shapesFromInputs(model string, flags []string, opts onnx.Options) error {
	if strings.ToLower(filepath.Ext(model)) != ".onnx" || len(flags) == 0 {
		return nil
	}
	names, err := onnx.InputNames(model)
	if err != nil {
		return err
	}
	var free []string
	for _, n := range names {
		if _, bound := opts.Bind[n]; !bound {
			free = append(free, n)
		}
	}
	files := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok && len(free) == 1 {
			k, v = free[0], f
		}
		if slices.Contains(free, k) {
			files[k] = v
		}
	}
	for name, path := range files {
		if _, given := opts.Shapes[name]; given {
			continue
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".npy", ".pb":
			t, err := tensorfile.Read(path, nil)
			if err != nil {
				return fmt.Errorf("input %s: %v", name, err)
			}
			opts.Shapes[name] = t.Shape
		}
	}
	return nil
}

// readInputs maps NAME=FILE flags onto the graph's parameters.
func readInputs(g *ir.Graph, flags []string) ([]*ir.Tensor, error) {
	files := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			if len(g.Params) != 1 {
				return nil, fmt.Errorf("--input %q: the model has %d inputs, name them: %s", f, len(g.Params), paramList(g))
			}
			k, v = g.Params[0].Name, f
		}
		files[k] = v
	}
	var in []*ir.Tensor
	for _, p := range g.Params {
		path, ok := files[p.Name]
		if !ok {
			path, ok = files[p.Source]
		}
		if !ok {
			return nil, fmt.Errorf("missing input %q; the model takes %s", p.Name, paramList(g))
		}
		delete(files, p.Name)
		delete(files, p.Source)
		t, err := tensorfile.Read(path, &p.Type)
		if err != nil {
			return nil, fmt.Errorf("input %s: %v", p.Name, err)
		}
		in = append(in, t)
	}
	for k := range files {
		return nil, fmt.Errorf("--input %s: the model has no such input; it takes %s", k, paramList(g))
	}
	return in, nil
}

func paramList(g *ir.Graph) string {
	var s []string
	for _, p := range g.Params {
		s = append(s, fmt.Sprintf("%s: %v", p.Name, p.Type))
	}
	return strings.Join(s, ", ")
}

func writeOutputs(out string, g *ir.Graph, outs []*ir.Tensor) error {
	if len(outs) == 1 {
		return tensorfile.Write(out, outs[0])
	}
	ext := filepath.Ext(out)
	base := strings.TrimSuffix(out, ext)
	for i, t := range outs {
		if err := tensorfile.Write(base+"."+g.Results[i].Name+ext, t); err != nil {
			return err
		}
	}
	return nil
}

// printTensor prints a tensor's values (the first 64, then a summary).
func printTensor(w io.Writer, name string, t *ir.Tensor) {
	n := t.Len()
	fmt.Fprintf(w, "%s: %v%v\n", name, t.DType, ir.FormatShape(t.Shape))
	const show = 64
	var b strings.Builder
	for i := 0; i < n && i < show; i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		if t.DType == ir.F32 {
			fmt.Fprintf(&b, "%.6g", t.F32[i])
		} else {
			fmt.Fprintf(&b, "%d", t.IntAt(i))
		}
	}
	if n > show {
		s := t.Stats()
		fmt.Fprintf(&b, " ... (%d more; min %.6g max %.6g)", n-show, s.Min, s.Max)
	}
	fmt.Fprintf(w, "  [%s]\n", b.String())
}

// printTop prints the K largest entries of the last axis of the first row.
func printTop(w io.Writer, name string, t *ir.Tensor, k int, labels []string) {
	n := t.Len()
	if len(t.Shape) > 0 {
		n = t.Shape[len(t.Shape)-1]
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return t.At(idx[a]) > t.At(idx[b]) })
	if k > n {
		k = n
	}
	fmt.Fprintf(w, "%s: top %d of %d\n", name, k, n)
	for r := 0; r < k; r++ {
		v := t.At(idx[r])
		label := ""
		if idx[r] < len(labels) {
			label = "  " + strings.TrimSpace(labels[idx[r]])
		}
		if t.DType != ir.F32 {
			fmt.Fprintf(w, "  %4d  %d%s\n", idx[r], int64(v), label)
		} else {
			fmt.Fprintf(w, "  %4d  %.6g%s\n", idx[r], v, label)
		}
	}
}

func floatSetter(p *float32) func(string) error {
	return func(s string) error {
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return err
		}
		*p = float32(f)
		return nil
	}
}
