package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
)

// modelFlags are the import options every command that reads a model takes.
type modelFlags struct {
	shapes multiFlag
	binds  multiFlag
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.Var(&m.shapes, "shape", "bind an input's shape, `NAME=1x3x224x224` (repeatable); symbolic dims default to 1")
	fs.Var(&m.binds, "bind", "treat input NAME as the constant in FILE (.npy, .pb, .bin), `NAME=FILE` (repeatable)")
}

func parseShape(s string) ([]int, error) {
	var shape []int
	for _, p := range strings.Split(s, "x") {
		d, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad shape %q (want e.g. 1x3x224x224)", s)
		}
		shape = append(shape, d)
	}
	return shape, nil
}

func splitKV(s, flagName string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return "", "", fmt.Errorf("--%s %q: want NAME=VALUE", flagName, s)
	}
	return k, v, nil
}

func (m *modelFlags) options() (onnx.Options, error) {
	o := onnx.Options{Shapes: map[string][]int{}, Bind: map[string]*ir.Tensor{}}
	for _, s := range m.shapes {
		k, v, err := splitKV(s, "shape")
		if err != nil {
			return o, err
		}
		if o.Shapes[k], err = parseShape(v); err != nil {
			return o, err
		}
	}
	for _, s := range m.binds {
		k, v, err := splitKV(s, "bind")
		if err != nil {
			return o, err
		}
		t, err := tensorfile.Read(v, nil)
		if err != nil {
			return o, fmt.Errorf("--bind %s: %v", k, err)
		}
		o.Bind[k] = t
	}
	return o, nil
}

// load reads a model in any supported format and verifies it.
func (m *modelFlags) load(path string) (*ir.Graph, error) {
	opts, err := m.options()
	if err != nil {
		return nil, err
	}
	return loadModel(path, opts)
}

func loadModel(path string, opts onnx.Options) (*ir.Graph, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	var g *ir.Graph
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".onnx":
		g, err = onnx.Import(path, opts)
	case ".ir", ".tflite":
		if len(opts.Shapes) > 0 || len(opts.Bind) > 0 {
			return nil, fmt.Errorf("%s: --shape and --bind apply to ONNX models; %s models have their input shapes fixed (a TFLite model's dynamic dims, -1 in its shape signature, are taken as 1)", filepath.Base(path), ext)
		}
		if ext == ".ir" {
			g, err = ir.ReadFile(path)
		} else {
			g, err = tflite.Import(path, tflite.Options{})
		}
	default:
		return nil, fmt.Errorf("%s: unknown model format %q (want .onnx, .tflite or .ir)", path, ext)
	}
	if err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return g, nil
}
