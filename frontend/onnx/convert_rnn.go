package onnx

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// RNN, GRU and LSTM, unrolled over the static sequence length. Per
// direction, one matmul projects every time step's input at once
// (X·Wᵀ + biases, [seq, batch, gates·hidden]); each step then adds the
// recurrent matmul H·Rᵀ, slices the gates and applies the activations.
// W, R and B may be constants or computed: they are sliced and transposed
// in the graph (folded at import when constant).

// rnnKind describes one of the three ops.
type rnnKind struct {
	gates  int      // gate blocks in W and R: 1, 3 (z r h), 4 (i o f c)
	acts   []string // default activations per direction
	hasC   bool     // LSTM: a cell state, initial_c (input 6) and P (input 7)
	maxOut int
}

var (
	rnnRNN  = rnnKind{gates: 1, acts: []string{"tanh"}, maxOut: 2}
	rnnGRU  = rnnKind{gates: 3, acts: []string{"sigmoid", "tanh"}, maxOut: 2}
	rnnLSTM = rnnKind{gates: 4, acts: []string{"sigmoid", "tanh", "tanh"}, hasC: true, maxOut: 3}
)

// rnnAct is an activation with its alpha and beta.
type rnnAct struct {
	name        string
	alpha, beta float32
}

// rnnActDefaults gives the activations pare maps to IR ops, with the
// number of alpha/beta values each consumes and their defaults.
var rnnActDefaults = map[string]struct {
	n           int
	alpha, beta float32
}{
	"sigmoid": {}, "tanh": {}, "relu": {}, "softsign": {}, "softplus": {},
	"leakyrelu":   {n: 1, alpha: 0.01},
	"elu":         {n: 1, alpha: 1},
	"hardsigmoid": {n: 2, alpha: 0.2, beta: 0.5},
	"affine":      {n: 2, alpha: 1, beta: 0},
	"scaledtanh":  {n: 2, alpha: 1, beta: 1},
}

// sliceAxis is x[start:end] along axis.
func (b *builder) sliceAxis(name string, x *ir.Value, axis, start, end int) *ir.Value {
	if b.err != nil {
		return nil
	}
	r := x.Type.Rank()
	st, en := make([]int, r), slices.Clone(x.Type.Shape)
	st[axis], en[axis] = start, end
	return b.op("slice", name, ir.Attrs{"starts": ir.Ints(st...), "ends": ir.Ints(en...), "steps": ir.Ints(ones(r)...)}, x)
}

// act applies an RNN activation.
func (b *builder) act(name string, a rnnAct, x *ir.Value) *ir.Value {
	switch a.name {
	case "sigmoid", "tanh", "relu":
		return b.op(a.name, name, nil, x)
	case "leakyrelu":
		return b.op("leaky_relu", name, ir.Attrs{"alpha": ir.Float(a.alpha)}, x)
	case "hardsigmoid":
		return b.op("hardsigmoid", name, ir.Attrs{"alpha": ir.Float(a.alpha), "beta": ir.Float(a.beta)}, x)
	case "affine":
		return b.op("add", name, nil, b.op("mul", name+"_scaled", nil, x, b.k("alpha", float64(a.alpha))), b.k("beta", float64(a.beta)))
	case "scaledtanh":
		t := b.op("tanh", name+"_tanh", nil, b.op("mul", name+"_scaled", nil, x, b.k("beta", float64(a.beta))))
		return b.op("mul", name, nil, t, b.k("alpha", float64(a.alpha)))
	case "softsign":
		return b.op("div", name, nil, x, b.op("add", name+"_den", nil, b.op("abs", name+"_abs", nil, x), b.k("one", 1)))
	case "softplus":
		neg := b.op("neg", name+"_neg", nil, b.op("abs", name+"_abs", nil, x))
		l := b.op("log", name+"_log", nil, b.op("add", name+"_1p", nil, b.op("exp", name+"_exp", nil, neg), b.k("one", 1)))
		return b.op("add", name, nil, b.op("relu", name+"_relu", nil, x), l)
	case "elu":
		e := b.op("sub", name+"_em1", nil, b.op("exp", name+"_exp", nil, b.op("clip", name+"_neg", ir.Attrs{"max": ir.Float(0)}, x)), b.k("one", 1))
		return b.op("add", name, nil, b.op("relu", name+"_relu", nil, x), b.op("mul", name+"_scaled", nil, e, b.k("alpha", float64(a.alpha))))
	}
	b.err = fmt.Errorf("activation %q", a.name)
	return nil
}

// rnnActs reads activations, activation_alpha and activation_beta: n per
// direction, alpha and beta consumed in order by the activations that take
// them (as ONNX Runtime reads them).
func (c *nodeCtx) rnnActs(k rnnKind, dirs int) ([][]rnnAct, error) {
	names := k.acts
	if a := c.attr("activations"); a != nil {
		names = nil
		for _, s := range a.GetStrings() {
			names = append(names, strings.ToLower(string(s)))
		}
	}
	n := len(k.acts)
	if len(names) == n && dirs == 2 {
		names = append(slices.Clone(names), names...)
	}
	if len(names) != n*dirs {
		return nil, c.errf("activations %v: want %d (%d per direction)", names, n*dirs, n)
	}
	alphas, betas := c.floats("activation_alpha"), c.floats("activation_beta")
	out := make([][]rnnAct, dirs)
	for i, name := range names {
		d, ok := rnnActDefaults[name]
		if !ok {
			return nil, c.unsupported("activation %q is not supported (Sigmoid, Tanh, Relu, LeakyRelu, HardSigmoid, Affine, ScaledTanh, Elu, Softsign and Softplus are)", name)
		}
		a := rnnAct{name: name, alpha: d.alpha, beta: d.beta}
		if d.n >= 1 && len(alphas) > 0 {
			a.alpha, alphas = alphas[0], alphas[1:]
		}
		if d.n == 2 && len(betas) > 0 {
			a.beta, betas = betas[0], betas[1:]
		}
		out[i/n] = append(out[i/n], a)
	}
	return out, nil
}

// convRecurrent converts RNN, GRU or LSTM.
func convRecurrent(k rnnKind) func(*nodeCtx) error {
	return func(c *nodeCtx) error {
		x, err := c.floatIn(0)
		if err != nil {
			return err
		}
		for i := 1; i <= 2; i++ {
			if _, err := c.floatIn(i); err != nil {
				return err
			}
		}
		w, r := c.in(1), c.in(2)
		if len(c.n.GetOutput()) > k.maxOut {
			return c.errf("%d outputs, at most %d", len(c.n.GetOutput()), k.maxOut)
		}
		dirs := 1
		dir := c.str("direction", "forward")
		switch dir {
		case "forward", "reverse":
		case "bidirectional":
			dirs = 2
		default:
			return c.errf("direction %q (forward, reverse or bidirectional)", dir)
		}
		if !c.has("hidden_size") {
			return c.errf("the hidden_size attribute is missing")
		}
		hid := c.int("hidden_size", 0)
		layout := 0
		if c.opset >= 14 {
			layout = c.int("layout", 0)
		}
		if layout != 0 && layout != 1 {
			return c.errf("layout %d (0 or 1)", layout)
		}
		if x.Type.Rank() != 3 {
			return c.errf("X %v must be rank 3", x.Type.Shape)
		}
		seq, batch, in := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2]
		if layout == 1 {
			seq, batch = batch, seq
		}
		g := k.gates
		if hid < 1 || hid > 1<<20 || seq < 1 || batch < 1 {
			return c.errf("hidden_size %d, sequence length %d and batch %d must be positive", hid, seq, batch)
		}
		if seq > 4096 {
			return c.unsupported("sequence length %d: pare unrolls recurrences up to 4096 steps", seq)
		}
		want := map[string][]int{"W": {dirs, g * hid, in}, "R": {dirs, g * hid, hid}, "B": {dirs, 2 * g * hid},
			"initial_h": {dirs, batch, hid}, "initial_c": {dirs, batch, hid}, "P": {dirs, 3 * hid}}
		if layout == 1 {
			want["initial_h"], want["initial_c"] = []int{batch, dirs, hid}, []int{batch, dirs, hid}
		}
		names := []string{"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"}
		for i := 1; i < len(names); i++ {
			v := c.in(i)
			if v == nil || i == 4 {
				continue
			}
			if !k.hasC && i > 5 {
				return c.errf("input %d: %s takes 6 inputs at most", i, c.op)
			}
			if v.Type.DType != ir.F32 || !ir.EqualShape(v.Type.Shape, want[names[i]]) {
				return c.errf("%s is %v, want %v", names[i], v.Type, ir.Type{DType: ir.F32, Shape: want[names[i]]})
			}
		}
		if err := c.rnnSeqLens(seq, batch); err != nil {
			return err
		}
		acts, err := c.rnnActs(k, dirs)
		if err != nil {
			return err
		}
		clip := c.float("clip", 0)
		if c.has("clip") && clip <= 0 {
			return c.errf("clip %g must be positive", clip)
		}
		u := &unroll{b: c.build(), k: k, seq: seq, batch: batch, hid: hid, clip: clip, acts: acts,
			lbr: c.int("linear_before_reset", 0) != 0, coupled: k.hasC && c.int("input_forget", 0) != 0}
		b := u.b
		if layout == 1 {
			x = b.op("transpose", "x_seq_major", ir.Attrs{"perm": ir.Ints(1, 0, 2)}, x)
		}
		state := func(i int) *ir.Value {
			v := c.in(i)
			if v != nil && layout == 1 {
				v = b.op("transpose", names[i]+"_dir_major", ir.Attrs{"perm": ir.Ints(1, 0, 2)}, v)
			}
			return v
		}
		h0, c0 := state(5), state(6)
		var ys, hs, cs []*ir.Value
		for d := range dirs {
			u.d = d
			u.reverse = dir == "reverse" || d == 1
			y, h, cell := u.direction(x, w, r, c.in(3), h0, c0, c.in(7))
			ys, hs, cs = append(ys, y), append(hs, h), append(cs, cell)
		}
		if b.err != nil {
			return b.err
		}
		return c.rnnOutputs(b, layout, ys, hs, cs)
	}
}

// rnnSeqLens checks sequence_lens: absent, or constant and seq everywhere.
func (c *nodeCtx) rnnSeqLens(seq, batch int) error {
	if c.in(4) == nil {
		return nil
	}
	t, err := c.constIn(4)
	if err != nil {
		return c.unsupported("sequence_lens must be absent or constant (pare unrolls a static sequence length): %v", err)
	}
	if t.Len() != batch {
		return c.errf("sequence_lens has %d entries for batch %d", t.Len(), batch)
	}
	for i := range t.Len() {
		if int(t.At(i)) != seq {
			return c.unsupported("sequence_lens %v: pare supports only every sequence at the full length %d", t.Shape, seq)
		}
	}
	return nil
}

// rnnOutputs concatenates the directions into Y [seq, dirs, batch, hid],
// Y_h and Y_c [dirs, batch, hid] (layout 1: batch first) and sets them.
func (c *nodeCtx) rnnOutputs(b *builder, layout int, ys, hs, cs []*ir.Value) error {
	join := func(i int, vs []*ir.Value, perm []int) error {
		if c.outName(i) == "" {
			return nil
		}
		v := vs[0]
		if len(vs) > 1 {
			v = b.op("concat", fmt.Sprintf("out%d_dirs", i), ir.Attrs{"axis": ir.Int(len(perm) - 3)}, vs...)
		}
		if layout == 1 {
			v = b.op("transpose", fmt.Sprintf("out%d_batch_major", i), ir.Attrs{"perm": ir.Ints(perm...)}, v)
		}
		if b.err != nil {
			return b.err
		}
		c.set(i, v)
		return nil
	}
	if err := join(0, ys, []int{2, 0, 1, 3}); err != nil {
		return err
	}
	if err := join(1, hs, []int{1, 0, 2}); err != nil {
		return err
	}
	if c.outName(2) != "" && cs[0] != nil {
		return join(2, cs, []int{1, 0, 2})
	}
	return nil
}

// unroll builds one direction of a recurrence.
type unroll struct {
	b               *builder
	k               rnnKind
	seq, batch, hid int
	clip            float32
	acts            [][]rnnAct
	lbr, coupled    bool // GRU linear_before_reset, LSTM input_forget
	d               int  // the direction: 0, or 1 (bidirectional's reverse)
	reverse         bool
}

func (u *unroll) name(s string) string { return fmt.Sprintf("d%d_%s", u.d, s) }

// dir is v[d] of a [dirs, ...] tensor with the leading dim dropped (nil
// when v is absent).
func (u *unroll) dir(name string, v *ir.Value) *ir.Value {
	if v == nil || u.b.err != nil {
		return nil
	}
	return u.b.reshape(u.name(name), u.b.sliceAxis(u.name(name+"_dir"), v, 0, u.d, u.d+1), v.Type.Shape[1:])
}

// cols is v[:, lo:hi] of a 2-D v (v[lo:hi] of a 1-D v).
func (u *unroll) cols(name string, v *ir.Value, lo, hi int) *ir.Value {
	if v == nil || u.b.err != nil {
		return nil
	}
	return u.b.sliceAxis(name, v, v.Type.Rank()-1, lo*u.hid, hi*u.hid)
}

// gate clips x (when clip is set) and applies activation a.
func (u *unroll) gate(name string, a rnnAct, x *ir.Value) *ir.Value {
	if u.clip > 0 {
		x = u.b.op("clip", name+"_clip", ir.Attrs{"min": ir.Float(-u.clip), "max": ir.Float(u.clip)}, x)
	}
	return u.b.act(name, a, x)
}

// direction returns Y [seq, 1, batch, hid], Y_h and Y_c [1, batch, hid]
// (Y_c nil but for LSTM) of direction u.d.
func (u *unroll) direction(x, w, r, bias, h0, c0, p *ir.Value) (y, hLast, cLast *ir.Value) {
	b, hid, g := u.b, u.hid, u.k.gates
	t2 := ir.Attrs{"perm": ir.Ints(1, 0)}
	wT := b.op("transpose", u.name("w_t"), t2, u.dir("w", w)) // [in, g·hid]
	rT := b.op("transpose", u.name("r_t"), t2, u.dir("r", r)) // [hid, g·hid]
	proj := b.op("matmul", u.name("x_proj"), nil, x, wT)      // [seq, batch, g·hid]
	var rbh *ir.Value
	if bias != nil {
		bd := u.dir("b", bias)
		wb, rb := u.cols(u.name("wb"), bd, 0, g), u.cols(u.name("rb"), bd, g, 2*g)
		if g == 3 && u.lbr {
			// Rbh is added inside r ⊙ (H·Rhᵀ + Rbh): keep it out of the projection.
			rbh = u.cols(u.name("rbh"), rb, 2, 3)
			mask := ir.NewTensor(ir.F32, []int{3 * hid})
			for i := range 2 * hid {
				mask.F32[i] = 1
			}
			rb = b.op("mul", u.name("rb_zr"), nil, rb, b.c.constant(b.name(u.name("zr_mask")), mask, nil))
		}
		proj = b.op("add", u.name("x_proj_bias"), nil, proj, b.op("add", u.name("bias"), nil, wb, rb))
	}
	// An absent initial state is zero: the first step leaves out its terms.
	h, cell := u.dir("h0", h0), u.dir("c0", c0)
	var pi, po, pf, rzrT, rhT *ir.Value
	if u.k.hasC {
		pd := u.dir("p", p)
		pi, po, pf = u.cols(u.name("p_i"), pd, 0, 1), u.cols(u.name("p_o"), pd, 1, 2), u.cols(u.name("p_f"), pd, 2, 3)
	}
	if g == 3 {
		rzrT, rhT = u.cols(u.name("r_zr_t"), rT, 0, 2), u.cols(u.name("r_h_t"), rT, 2, 3)
	}
	f := u.acts[u.d]
	steps := make([]*ir.Value, u.seq)
	for s := range u.seq {
		t := s
		if u.reverse {
			t = u.seq - 1 - s
		}
		n := func(what string) string { return fmt.Sprintf("d%d_t%d_%s", u.d, t, what) }
		xt := b.reshape(n("x"), b.sliceAxis(n("x_step"), proj, 0, t, t+1), []int{u.batch, g * hid})
		// plusRec is x + h·w, or x while h is zero.
		plusRec := func(name string, x, w *ir.Value) *ir.Value {
			if h == nil {
				return x
			}
			return b.op("add", name, nil, x, b.op("matmul", name+"_rec", nil, h, w))
		}
		switch g {
		case 1: // Ht = f(Xt·Wᵀ + Ht-1·Rᵀ + Wb + Rb)
			h = u.gate(n("h"), f[0], plusRec(n("pre"), xt, rT))
		case 3: // GRU, gates z r h
			zr := plusRec(n("zr_pre"), u.cols(n("x_zr"), xt, 0, 2), rzrT)
			z, rg := u.gate(n("z"), f[0], u.cols(n("z_pre"), zr, 0, 1)), u.gate(n("r"), f[0], u.cols(n("r_pre"), zr, 1, 2))
			var rec *ir.Value // nil: zero
			switch {
			case u.lbr:
				if h != nil {
					rec = b.op("matmul", n("rec_h"), nil, h, rhT)
				}
				if rbh != nil && rec != nil {
					rec = b.op("add", n("rec_h_bias"), nil, rec, rbh)
				} else if rbh != nil {
					rec = rbh
				}
				if rec != nil {
					rec = b.op("mul", n("rec_h_reset"), nil, rg, rec)
				}
			case h != nil:
				rec = b.op("matmul", n("rec_h"), nil, b.op("mul", n("h_reset"), nil, rg, h), rhT)
			}
			hPre := u.cols(n("x_h"), xt, 2, 3)
			if rec != nil {
				hPre = b.op("add", n("h_pre"), nil, hPre, rec)
			}
			ht := u.gate(n("h_cand"), f[1], hPre)
			// Ht = (1 − z) ⊙ h̃ + z ⊙ Ht-1 = h̃ + z ⊙ (Ht-1 − h̃)
			if h == nil {
				h = b.op("sub", n("h"), nil, ht, b.op("mul", n("h_keep"), nil, z, ht))
			} else {
				h = b.op("add", n("h"), nil, ht, b.op("mul", n("h_keep"), nil, z, b.op("sub", n("h_diff"), nil, h, ht)))
			}
		case 4: // LSTM, gates i o f c
			gs := plusRec(n("pre"), xt, rT)
			gi, gop, gf := u.cols(n("i_pre"), gs, 0, 1), u.cols(n("o_pre"), gs, 1, 2), u.cols(n("f_pre"), gs, 2, 3)
			if pi != nil && cell != nil {
				gi = b.op("add", n("i_peep"), nil, gi, b.op("mul", n("i_pc"), nil, pi, cell))
				gf = b.op("add", n("f_peep"), nil, gf, b.op("mul", n("f_pc"), nil, pf, cell))
			}
			ig := u.gate(n("i"), f[0], gi)
			cc := u.gate(n("c_cand"), f[1], u.cols(n("c_pre"), gs, 3, 4))
			cNew := b.op("mul", n("c_new"), nil, ig, cc)
			if cell == nil { // Ct = it ⊙ ct while Ct-1 is zero
				cell = cNew
			} else {
				var fg *ir.Value
				if u.coupled {
					fg = b.op("sub", n("f"), nil, b.k(n("one"), 1), ig)
				} else {
					fg = u.gate(n("f"), f[0], gf)
				}
				cell = b.op("add", n("c"), nil, b.op("mul", n("c_keep"), nil, fg, cell), cNew)
			}
			if po != nil {
				gop = b.op("add", n("o_peep"), nil, gop, b.op("mul", n("o_pc"), nil, po, cell))
			}
			h = b.op("mul", n("h"), nil, u.gate(n("o"), f[0], gop), b.act(n("c_act"), f[2], cell))
		}
		steps[t] = b.reshape(n("y"), h, []int{1, 1, u.batch, hid})
	}
	y = steps[0]
	if u.seq > 1 {
		y = b.op("concat", u.name("y"), ir.Attrs{"axis": ir.Int(0)}, steps...)
	}
	hLast = b.reshape(u.name("h_last"), h, []int{1, u.batch, hid})
	if u.k.hasC {
		cLast = b.reshape(u.name("c_last"), cell, []int{1, u.batch, hid})
	}
	return y, hLast, cLast
}
