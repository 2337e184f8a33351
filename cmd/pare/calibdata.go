package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pare-ml/pare/frontend/tensorfile"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// isNamedNPY reports whether a data spec names its inputs:
// NAME=FILE.npy[,NAME=FILE.npy]..., for models with several inputs.
func isNamedNPY(spec string) bool {
	first, _, _ := strings.Cut(spec, ",")
	k, v, ok := strings.Cut(first, "=")
	return ok && k != "" && strings.HasSuffix(strings.ToLower(v), ".npy")
}

// loadNamedNPY reads one .npy per model input, each holding that input's
// samples stacked on axis 0 (all with the same number of samples, or one
// sample, which every sample then shares: a recurrent state's zeros). The
// inputs are f32; samples carry no labels.
func loadNamedNPY(spec string, g *ir.Graph, limit int) (*passes.Dataset, error) {
	files := map[string]string{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("data %q: want NAME=FILE.npy,NAME=FILE.npy,...", spec)
		}
		p := paramNamed(g, k)
		if p == nil {
			return nil, fmt.Errorf("data %q: %s is not an input of %s (inputs: %s)", spec, k, g.Name, paramNames(g))
		}
		files[p.Name] = v
	}
	n := -1
	per := make([]*ir.Tensor, len(g.Params))
	counts := make([]int, len(g.Params))
	for i, p := range g.Params {
		f, ok := files[p.Name]
		if !ok {
			return nil, fmt.Errorf("data %q gives no samples for input %s of %s (inputs: %s)", spec, p.Name, g.Name, paramNames(g))
		}
		x, err := tensorfile.Read(f, nil)
		if err != nil {
			return nil, err
		}
		sz := ir.NumElements(p.Type.Shape)
		if p.Type.DType != ir.F32 || x.DType != ir.F32 || sz == 0 || x.Len()%sz != 0 {
			return nil, fmt.Errorf("%s: %v%v does not hold f32 samples of input %s %v", f, x.DType, x.Shape, p.Name, p.Type)
		}
		per[i], counts[i] = x, x.Len()/sz
		if counts[i] > 1 {
			if n > 1 && counts[i] != n {
				return nil, fmt.Errorf("%s: %d samples of %s, another input has %d", f, counts[i], p.Name, n)
			}
			n = counts[i]
		}
	}
	n = max(n, 1)
	if limit > 0 && limit < n {
		n = limit
	}
	ds := &passes.Dataset{Name: filepath.Base(files[g.Params[0].Name])}
	for s := 0; s < n; s++ {
		var in []*ir.Tensor
		for i, p := range g.Params {
			sz := ir.NumElements(p.Type.Shape)
			k := s
			if counts[i] == 1 {
				k = 0
			}
			in = append(in, ir.FromF32(p.Type.Shape, per[i].F32[k*sz:(k+1)*sz]))
		}
		ds.Inputs = append(ds.Inputs, in)
		ds.Labels = append(ds.Labels, -1)
	}
	return ds, nil
}

func paramNames(g *ir.Graph) string {
	var s []string
	for _, p := range g.Params {
		s = append(s, p.Name)
	}
	return strings.Join(s, ", ")
}

// paramNamed is g's input called name in the IR or in the source model.
func paramNamed(g *ir.Graph, name string) *ir.Value {
	for _, p := range g.Params {
		if p.Name == name || p.Source == name {
			return p
		}
	}
	return nil
}
