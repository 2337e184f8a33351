package passes

import (
	"math"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// canonicalize: constant folding (through rt.EvalOp), dead-code and common
// subexpression elimination, batchnorm folded into the preceding conv /
// conv_transpose / gemm, per-channel constant adds folded into their
// biases (matmul + add becomes gemm), identity and no-op reshape /
// transpose / cast / pad removal, reshape chains collapsed, zero pads
// folded into conv / avgpool(count_include_pad), non-overlapping
// conv_transpose (kernel = stride) as a 1×1 conv + depth-to-space
// (canonicalize_convt.go). Runs its rules to a fixed point.
var canonicalizePass = &Pass{
	Name:    "canonicalize",
	Summary: "fold constants, remove dead code and duplicates, fold batchnorm, biases and pads, drop no-ops, conv_transpose (kernel = stride) as 1x1 conv",
	Options: []OptionDef{
		{Name: "fold", Kind: Bool, Default: "true", Doc: "constant folding"},
		{Name: "max-fold", Kind: Int, Default: "1048576", Doc: "largest constant (elements) folding may create"},
		{Name: "cse", Kind: Bool, Default: "true", Doc: "common subexpression elimination"},
		{Name: "bn", Kind: Bool, Default: "true", Doc: "fold batchnorm into the preceding conv / gemm"},
		{Name: "bias", Kind: Bool, Default: "true", Doc: "fold constant per-channel adds into conv / gemm biases"},
		{Name: "pad", Kind: Bool, Default: "true", Doc: "fold zero pads into conv / avgpool"},
		{Name: "upsample", Kind: Bool, Default: "true", Doc: "rewrite conv_transpose whose kernel equals its stride as a 1x1 conv + depth-to-space (reshape, transpose, reshape, slice), which quantizes as a conv"},
	},
	Before: []string{"quantize", "fuse"},
	New: func(o Options) (Func, error) {
		return func(g *ir.Graph, ctx *Context, rep *Report) error {
			return canonicalize(g, o, rep)
		}, nil
	},
}

type canonRule struct {
	name string
	opt  string
	f    func(g *ir.Graph, o Options) (int, error)
}

var canonRules = []canonRule{
	{"folded constants", "fold", foldConstants},
	{"removed no-ops", "", removeNoops},
	{"folded batchnorms", "bn", foldBatchNorm},
	{"folded biases", "bias", foldBias},
	{"folded pads", "pad", foldPads},
	{"conv_transpose (kernel = stride) as 1x1 conv + depth-to-space", "upsample", convTransposeToConv},
	{"merged duplicates", "cse", cse},
}

func canonicalize(g *ir.Graph, o Options, rep *Report) error {
	counts := map[string]int{}
	for iter := 0; iter < 20; iter++ {
		changed := 0
		for _, r := range canonRules {
			if r.opt != "" && !o.Bool(r.opt) {
				continue
			}
			n, err := r.f(g, o)
			if err != nil {
				return err
			}
			topoSort(g)
			changed += n
			counts[r.name] += n
			counts["removed dead values"] += g.RemoveDead()
		}
		if changed == 0 {
			break
		}
	}
	for _, r := range canonRules {
		if counts[r.name] > 0 {
			rep.Notef("%s: %d", r.name, counts[r.name])
		}
	}
	if n := counts["removed dead values"]; n > 0 {
		rep.Notef("removed dead values: %d", n)
	}
	return nil
}

// foldConstants evaluates ops whose arguments are all constants.
func foldConstants(g *ir.Graph, o Options) (int, error) {
	n := 0
	limit := o.Int("max-fold")
	for _, v := range g.Values {
		if v.IsConst() || v.IsParam() || len(v.Args) == 0 {
			continue
		}
		all := true
		for _, a := range v.Args {
			if !a.IsConst() {
				all = false
				break
			}
		}
		if !all || v.Type.NumElements() > limit {
			continue
		}
		args := make([]*ir.Tensor, len(v.Args))
		for i, a := range v.Args {
			args[i] = a.Const
		}
		t, err := rt.EvalOp(v, args)
		if err != nil {
			continue // leave what rt cannot evaluate to run time
		}
		v.Op, v.Const, v.Args, v.Attrs = ir.OpConst, t, nil, ir.Attrs{}
		n++
	}
	return n, nil
}

// removeNoops drops values that return their input unchanged.
func removeNoops(g *ir.Graph, o Options) (int, error) {
	n := 0
	for _, v := range g.Values {
		if len(v.Args) == 0 {
			continue
		}
		x := v.Args[0]
		same := v.Type.Equal(x.Type)
		drop := false
		switch v.Op.Name {
		case "reshape", "expand", "cast":
			drop = same
			if v.Op.Name == "reshape" && x.Op.Name == "reshape" && !same {
				v.Args[0] = x.Args[0] // reshape(reshape(x)) = reshape(x)
				n++
			}
		case "transpose":
			drop = same
			for i, p := range v.IntList("perm") {
				if p != i {
					drop = false
				}
			}
		case "pad":
			drop = same && v.Str("mode") == "constant"
			for _, p := range v.IntList("pads") {
				if p != 0 {
					drop = false
				}
			}
		case "clip":
			drop = same && math.IsInf(float64(v.Float("min")), -1) && math.IsInf(float64(v.Float("max")), 1)
		case "slice":
			drop = same
			for _, s := range v.IntList("steps") {
				if s != 1 {
					drop = false
				}
			}
		}
		if drop {
			g.ReplaceUses(v, x)
			n++
		}
	}
	return n, nil
}

// cse merges values with the same op, attributes, type and arguments, and
// constants with the same data.
func cse(g *ir.Graph, o Options) (int, error) {
	id := map[*ir.Value]int{}
	for i, p := range g.Params {
		id[p] = i
	}
	seen := map[string]*ir.Value{}
	n, next := 0, len(g.Params)
	results := map[*ir.Value]bool{}
	for _, r := range g.Results {
		results[r] = true
	}
	for _, v := range g.Values {
		k := valueKey(v, id)
		if w, ok := seen[k]; ok && !(results[v] && results[w]) {
			id[v] = id[w]
			g.ReplaceUses(v, w)
			n++
			continue
		}
		seen[k] = v
		id[v] = next
		next++
	}
	return n, nil
}
