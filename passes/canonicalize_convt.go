package passes

import (
	"github.com/pare-ml/pare/ir"
)

// The upsampling rule of canonicalize: a conv_transpose whose kernel equals
// its stride becomes a 1×1 conv and a depth-to-space rearrangement.
//
// With kernel k == stride in every spatial dim (and dilation 1) the taps of
// a transposed conv do not overlap: output pixel h·k + a (per dim) takes
// exactly one kernel offset a of exactly one input pixel h. So
//
//	y[n, m, h·k+a, ...] = b[m] + Σ_c x[n, c, h, ...] · W[c, m, a, ...]
//
// is a 1×1 conv to M·K channels (K = Πk; channel m·K + a, in row-major
// order over the kernel offsets) whose result is rearranged:
//
//	conv 1×1 [N, M·K, H, W] → reshape [N·M, k1, k2, H, W]
//	  → transpose [N·M, H, k1, W, k2] → reshape [N, M, H·k1, W·k2]
//
// followed by a slice where pads crop the output. Output padding extends
// the output past the last tap; rt gives those positions the bias alone,
// which is what the 1×1 conv computes on zero input, so the conv pads its
// input at the end by enough pixels (ceil of the extension over k) and the
// slice keeps what the conv_transpose's output holds. Groups carry over:
// group g of the 1×1 conv produces the M/g·K channels of its M/g output
// channels, in the same order.
//
// Expressed so, the upsampling runs on the conv kernels (a GEMM rather than
// a scatter), and quantize makes it int8 like any conv: reshape, transpose
// and the spatial slice move the integers as they are. A relu or clip that
// is the conv_transpose's only user moves before the rearrangement (it is
// elementwise, and the conv's output holds every value the rearranged one
// does), where quantize gives the conv its range and fuse its activation.
//
// The rule waits while a bias add or batchnorm that foldBias / foldBatchNorm
// fold into the conv_transpose follows it (those fold first, since after the
// rewrite they would follow the rearrangement). Names: the final value takes
// the conv_transpose's name (or the moved relu's), so readers and `pare
// diff` find the same tensor under the same name; the conv is NAME.1x1, the
// rearrangement NAME.d2s*; every new value keeps the source node.

func convTransposeToConv(g *ir.Graph, o Options) (int, error) {
	u := users(g)
	n := 0
	for _, v := range g.Values {
		if v.Op.Name != "conv_transpose" {
			continue
		}
		geo, ok := upsampleGeometry(v)
		if !ok || foldPending(u, v) {
			continue
		}
		if err := rewriteUpsample(g, u, v, geo); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// upsample is what the rewrite needs of a conv_transpose.
type upsample struct {
	n, c, m, groups int
	in, out         []int // spatial dims of the input and of the result
	k, begin        []int // kernel (= stride) and crop at the start, per spatial dim
	extra           []int // input pixels the conv pads at the end, per spatial dim
}

// upsampleGeometry reports whether v is a conv_transpose the rule rewrites:
// f32, 1 or 2 spatial dims, constant weights (and bias), kernel equal to
// stride and dilation 1 wherever the kernel is larger than 1. 3-D ones
// stay: the rewrite holds for them too, but the backends compile 3-D
// convs in f32 only, so an int8 one would not compile where the f32
// conv_transpose does (codegen legalizes it into 2-D ones).
func upsampleGeometry(v *ir.Value) (*upsample, bool) {
	if v.Type.DType != ir.F32 || len(v.Args) < 2 || v.Args[0].Type.DType != ir.F32 || constF32(v.Args[1]) == nil {
		return nil, false
	}
	if len(v.Args) == 3 && constF32(v.Args[2]) == nil {
		return nil, false
	}
	x, w := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	nsp := len(x) - 2
	if nsp < 1 || nsp > 2 || len(w) != len(x) {
		return nil, false
	}
	win, err := ir.WindowOf(v, nsp, w[2:])
	if err != nil {
		return nil, false
	}
	geo := &upsample{n: x[0], c: x[1], m: v.Type.Shape[1], groups: max(1, v.Int("group")),
		in: x[2:], out: v.Type.Shape[2:], k: w[2:], begin: win.PadsBegin, extra: make([]int, nsp)}
	for i := 0; i < nsp; i++ {
		k := geo.k[i]
		if win.Strides[i] != k || (k > 1 && win.Dilations[i] != 1) {
			return nil, false
		}
		// The uncropped taps cover in·k pixels; the result needs begin+out.
		if need := geo.begin[i] + geo.out[i] - geo.in[i]*k; need > 0 {
			geo.extra[i] = (need + k - 1) / k
		}
	}
	return geo, true
}

// foldPending reports whether v's only user is a bias add or batchnorm that
// canonicalize folds into v.
func foldPending(u map[*ir.Value][]*ir.Value, v *ir.Value) bool {
	s := soleUser(u, v)
	if s == nil || s.Type.DType != ir.F32 {
		return false
	}
	nch := v.Type.Shape[1]
	switch s.Op.Name {
	case "batchnorm":
		for _, a := range s.Args[1:] {
			if t := constF32(a); t == nil || t.Len() != nch {
				return false
			}
		}
		return s.Args[0] == v
	case "add":
		if s.Str("act") != "none" || !ir.EqualShape(s.Type.Shape, v.Type.Shape) {
			return false
		}
		c := s.Args[1]
		if c == v {
			c = s.Args[0]
		}
		ct := constF32(c)
		return ct != nil && perChannelConst(ct.Shape, v.Type.Rank(), nch, false)
	}
	return false
}

// rewriteUpsample replaces v (and the relu / clip that is its only user)
// by the 1×1 conv and the rearrangement.
func rewriteUpsample(g *ir.Graph, u map[*ir.Value][]*ir.Value, v *ir.Value, geo *upsample) error {
	nsp := len(geo.k)
	K := ir.NumElements(geo.k)
	w := v.Args[1].Const
	mg, cg := geo.m/geo.groups, geo.c/geo.groups

	// Weight [C, M/g, K] → [M·K, C/g, 1...]: row m·K + a (m = gi·M/g + mo)
	// holds W[gi·C/g + ci, mo, a] over ci.
	wshape := []int{geo.m * K, cg}
	for i := 0; i < nsp; i++ {
		wshape = append(wshape, 1)
	}
	wt := ir.NewTensor(ir.F32, wshape)
	for m := 0; m < geo.m; m++ {
		gi, mo := m/mg, m%mg
		for a := 0; a < K; a++ {
			row := wt.F32[(m*K+a)*cg : (m*K+a+1)*cg]
			for ci := range row {
				row[ci] = w.F32[((gi*cg+ci)*mg+mo)*K+a]
			}
		}
	}
	args := []*ir.Value{v.Args[0], g.AddConst(v.Args[1].Name+".1x1", wt, nil)}
	if len(v.Args) == 3 {
		b := v.Args[2].Const
		bt := ir.NewTensor(ir.F32, []int{geo.m * K})
		for i := range bt.F32 {
			bt.F32[i] = b.F32[i/K]
		}
		args = append(args, g.AddConst(v.Args[2].Name+".1x1", bt, nil))
	}
	for _, a := range args[1:] {
		a.Source = v.Source
	}
	attrs := ir.Attrs{}
	if geo.groups > 1 {
		attrs["group"] = ir.Int(geo.groups)
	}
	extended := false
	pads := make([]int, 2*nsp)
	for i, e := range geo.extra {
		pads[nsp+i] = e
		extended = extended || e > 0
	}
	if extended {
		attrs["pads"] = ir.Ints(pads...)
	}
	name, src := v.Name, v.Source
	y, err := g.Add("conv", args, attrs, ir.Type{}, name+".1x1", src)
	if err != nil {
		return err
	}

	// A relu / clip that only v reads runs on the conv's result.
	last := v
	if a := soleUser(u, v); a != nil && (a.Op.Name == "relu" || a.Op.Name == "clip") && a.Type.DType == ir.F32 {
		if y, err = g.Add(a.Op.Name, []*ir.Value{y}, a.Attrs.Clone(), ir.Type{}, a.Name+".1x1", a.Source); err != nil {
			return err
		}
		last = a
	}

	// Depth-to-space: [N, M·K, H...] → [N·M, k..., H...] → [N·M, H1, k1, H2, k2, ...] → [N, M, H1·k1, ...].
	full := []int{geo.n, geo.m}
	crop := false
	for i := 0; i < nsp; i++ {
		h := geo.in[i] + geo.extra[i]
		full = append(full, h*geo.k[i])
		crop = crop || geo.begin[i] > 0 || full[2+i] != geo.out[i]
	}
	final := last.Name
	g.Rename(last, final+".convt") // frees the name for the result
	if K > 1 {
		split := []int{geo.n * geo.m}
		split = append(split, geo.k...)
		perm := []int{0}
		for i := 0; i < nsp; i++ {
			split = append(split, geo.in[i]+geo.extra[i])
			perm = append(perm, 1+nsp+i, 1+i)
		}
		if y, err = g.Add("reshape", []*ir.Value{y}, nil, ir.Type{Shape: split}, name+".d2s", src); err != nil {
			return err
		}
		if y, err = g.Add("transpose", []*ir.Value{y}, ir.Attrs{"perm": ir.Ints(perm...)}, ir.Type{}, name+".d2s.t", src); err != nil {
			return err
		}
		rn := final
		if crop {
			rn = name + ".d2s.r"
		}
		if y, err = g.Add("reshape", []*ir.Value{y}, nil, ir.Type{Shape: full}, rn, src); err != nil {
			return err
		}
	}
	if crop {
		starts, ends, steps := []int{0, 0}, []int{geo.n, geo.m}, []int{1, 1}
		for i := 0; i < nsp; i++ {
			starts = append(starts, geo.begin[i])
			ends = append(ends, geo.begin[i]+geo.out[i])
			steps = append(steps, 1)
		}
		if y, err = g.Add("slice", []*ir.Value{y}, ir.Attrs{"starts": ir.Ints(starts...), "ends": ir.Ints(ends...), "steps": ir.Ints(steps...)},
			ir.Type{}, final, src); err != nil {
			return err
		}
	}
	if y.Name != final {
		g.Rename(y, final)
	}
	g.ReplaceUses(last, y)
	return nil
}
