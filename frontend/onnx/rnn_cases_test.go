package onnx

import (
	"fmt"
	"math"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

func aFloats(name string, v ...float32) *attrProto {
	return &attrProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

// Cases of RNN, GRU and LSTM (convert_rnn.go): every output (Y, Y_h, Y_c)
// flattened and concatenated into y, against a float64 reference that
// steps through the ONNX equations element by element.

type rnnCase struct {
	op                 string // RNN, GRU, LSTM
	opset              int64
	seq, batch, in     int
	hid                int
	dir                string // "": forward (attribute left out)
	layout             int
	bias, h0, c0, peep bool
	seqLens            bool
	acts               []string
	alpha, beta        []float32
	clip               float32
	lbr, inputForget   int
	runtimeW           bool // the graph input is W (X a constant)
	outs               int  // outputs used: 0 all
}

func (rc rnnCase) dirs() int {
	if rc.dir == "bidirectional" {
		return 2
	}
	return 1
}

func (rc rnnCase) gates() int { return map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[rc.op] }

func (rc rnnCase) nOut() int {
	if rc.outs != 0 {
		return rc.outs
	}
	if rc.op == "LSTM" {
		return 3
	}
	return 2
}

// tensors makes the case's X, W, R and optional B, initial_h, initial_c, P.
func (rc rnnCase) tensors(seed int64) (x, w, r, b, h0, c0, p *ir.Tensor) {
	d, g, h := rc.dirs(), rc.gates(), rc.hid
	xs := []int{rc.seq, rc.batch, rc.in}
	hs := []int{d, rc.batch, h}
	if rc.layout == 1 {
		xs, hs = []int{rc.batch, rc.seq, rc.in}, []int{rc.batch, d, h}
	}
	x = randParam(seed, -2, 2, xs...)
	w, r = randParam(seed+1, -0.6, 0.6, d, g*h, rc.in), randParam(seed+2, -0.6, 0.6, d, g*h, h)
	if rc.bias {
		b = randParam(seed+3, -0.5, 0.5, d, 2*g*h)
	}
	if rc.h0 {
		h0 = randParam(seed+4, -1, 1, hs...)
	}
	if rc.c0 {
		c0 = randParam(seed+5, -1, 1, hs...)
	}
	if rc.peep {
		p = randParam(seed+6, -0.5, 0.5, d, 3*h)
	}
	return
}

func rnnAct64(name string, alpha, beta float64, v float64) float64 {
	switch name {
	case "sigmoid":
		return 1 / (1 + math.Exp(-v))
	case "tanh":
		return math.Tanh(v)
	case "relu":
		return math.Max(v, 0)
	case "leakyrelu":
		if v < 0 {
			return alpha * v
		}
		return v
	case "hardsigmoid":
		return math.Max(0, math.Min(1, alpha*v+beta))
	case "affine":
		return alpha*v + beta
	case "scaledtanh":
		return alpha * math.Tanh(beta*v)
	case "softsign":
		return v / (1 + math.Abs(v))
	case "softplus":
		return math.Log1p(math.Exp(v))
	case "elu":
		if v < 0 {
			return alpha * (math.Exp(v) - 1)
		}
		return v
	}
	panic(name)
}

// refActs are the activation functions per direction, alpha and beta
// consumed in order by the ones that take them.
func (rc rnnCase) refActs() [][]func(float64) float64 {
	def := map[string][]string{"RNN": {"tanh"}, "GRU": {"sigmoid", "tanh"}, "LSTM": {"sigmoid", "tanh", "tanh"}}[rc.op]
	names := rc.acts
	if names == nil {
		names = def
	}
	if len(names) == len(def) && rc.dirs() == 2 {
		names = append(append([]string{}, names...), names...)
	}
	type ab struct {
		n    int
		a, b float64
	}
	defs := map[string]ab{"leakyrelu": {1, 0.01, 0}, "elu": {1, 1, 0}, "hardsigmoid": {2, 0.2, 0.5}, "affine": {2, 1, 0}, "scaledtanh": {2, 1, 1}}
	al, be := rc.alpha, rc.beta
	out := make([][]func(float64) float64, rc.dirs())
	for i, n := range names {
		n = strings.ToLower(n)
		d := defs[n]
		a, b := d.a, d.b
		if d.n >= 1 && len(al) > 0 {
			a, al = float64(al[0]), al[1:]
		}
		if d.n == 2 && len(be) > 0 {
			b, be = float64(be[0]), be[1:]
		}
		out[i/len(def)] = append(out[i/len(def)], func(v float64) float64 { return rnnAct64(n, a, b, v) })
	}
	return out
}

// ref computes Y, Y_h (and Y_c) and returns them flattened one after another.
func (rc rnnCase) ref(x, w, r, b, h0, c0, p *ir.Tensor) *ir.Tensor {
	D, G, H, N, T := rc.dirs(), rc.gates(), rc.hid, rc.batch, rc.seq
	// Indexing in layout 0 terms.
	xAt := func(t, n, i int) float64 {
		if rc.layout == 1 {
			return x.At((n*T+t)*rc.in + i)
		}
		return x.At((t*N+n)*rc.in + i)
	}
	stAt := func(s *ir.Tensor, d, n, j int) float64 {
		if s == nil {
			return 0
		}
		if rc.layout == 1 {
			return s.At((n*D+d)*H + j)
		}
		return s.At((d*N+n)*H + j)
	}
	clip := func(v float64) float64 {
		if rc.clip > 0 {
			return math.Max(-float64(rc.clip), math.Min(float64(rc.clip), v))
		}
		return v
	}
	y := make([]float64, T*D*N*H) // [t, d, n, j]
	yh, yc := make([]float64, D*N*H), make([]float64, D*N*H)
	acts := rc.refActs()
	for d := 0; d < D; d++ {
		f := acts[d]
		bias := func(k int) float64 {
			if b == nil {
				return 0
			}
			return b.At(d*2*G*H + k)
		}
		// xw is Σ x·W of gate row k; hr Σ h·R of row k over hv.
		xw := func(t, n, k int) float64 {
			s := 0.0
			for i := 0; i < rc.in; i++ {
				s += xAt(t, n, i) * w.At((d*G*H+k)*rc.in+i)
			}
			return s
		}
		hr := func(hv []float64, k int) float64 {
			s := 0.0
			for i := 0; i < H; i++ {
				s += hv[i] * r.At((d*G*H+k)*H+i)
			}
			return s
		}
		peep := func(k, j int) float64 {
			if p == nil {
				return 0
			}
			return p.At(d*3*H + k*H + j)
		}
		for n := 0; n < N; n++ {
			h, c := make([]float64, H), make([]float64, H)
			for j := range h {
				h[j], c[j] = stAt(h0, d, n, j), stAt(c0, d, n, j)
			}
			for s := 0; s < T; s++ {
				t := s
				if rc.dir == "reverse" || d == 1 {
					t = T - 1 - s
				}
				hn, cn := make([]float64, H), make([]float64, H)
				pre := func(g, j int) float64 { k := g*H + j; return xw(t, n, k) + hr(h, k) + bias(k) + bias(G*H+k) }
				for j := 0; j < H; j++ {
					switch rc.op {
					case "RNN":
						hn[j] = f[0](clip(pre(0, j)))
					case "GRU":
						z := f[0](clip(pre(0, j)))
						k := 2*H + j
						var hh float64
						if rc.lbr == 0 {
							rh := make([]float64, H)
							for i := range rh {
								rh[i] = f[0](clip(pre(1, i))) * h[i]
							}
							hh = f[1](clip(xw(t, n, k) + hr(rh, k) + bias(G*H+k) + bias(k)))
						} else {
							rg := f[0](clip(pre(1, j)))
							hh = f[1](clip(xw(t, n, k) + bias(k) + rg*(hr(h, k)+bias(G*H+k))))
						}
						hn[j] = (1-z)*hh + z*h[j]
					case "LSTM":
						ig := f[0](clip(pre(0, j) + peep(0, j)*c[j]))
						fg := f[0](clip(pre(2, j) + peep(2, j)*c[j]))
						if rc.inputForget != 0 {
							fg = 1 - ig
						}
						cn[j] = fg*c[j] + ig*f[1](clip(pre(3, j)))
						og := f[0](clip(pre(1, j) + peep(1, j)*cn[j]))
						hn[j] = og * f[2](cn[j])
					}
				}
				h, c = hn, cn
				for j := 0; j < H; j++ {
					y[((t*D+d)*N+n)*H+j] = h[j]
				}
			}
			for j := 0; j < H; j++ {
				yh[(d*N+n)*H+j], yc[(d*N+n)*H+j] = h[j], c[j]
			}
		}
	}
	// Layout 1 permutes: Y [n, t, d, j], Y_h [n, d, j].
	perm := func(v []float64, dims []int, order []int) []float64 {
		out := make([]float64, 0, len(v))
		odims := make([]int, len(order))
		for i, o := range order {
			odims[i] = dims[o]
		}
		for i := 0; i < len(v); i++ {
			oi := unflat(i, odims)
			src := make([]int, len(dims))
			for k, o := range order {
				src[o] = oi[k]
			}
			out = append(out, v[flat(src, dims)])
		}
		return out
	}
	if rc.layout == 1 {
		y = perm(y, []int{T, D, N, H}, []int{2, 0, 1, 3})
		yh = perm(yh, []int{D, N, H}, []int{1, 0, 2})
		yc = perm(yc, []int{D, N, H}, []int{1, 0, 2})
	}
	all := [][]float64{y, yh, yc}[:rc.nOut()]
	var flatAll []float32
	for _, v := range all {
		for _, e := range v {
			flatAll = append(flatAll, float32(e))
		}
	}
	return ir.FromF32([]int{len(flatAll)}, flatAll)
}

// decomp makes the decompCase: the node's outputs reshaped to 1-D and
// concatenated into y.
func (rc rnnCase) decomp(i int) decompCase {
	seed := int64(1000 + 10*i)
	x, w, r, b, h0, c0, p := rc.tensors(seed)
	var attrs []*attrProto
	attrs = append(attrs, aInt("hidden_size", int64(rc.hid)))
	if rc.dir != "" {
		attrs = append(attrs, aStr("direction", rc.dir))
	}
	if rc.layout != 0 {
		attrs = append(attrs, aInt("layout", int64(rc.layout)))
	}
	if rc.acts != nil {
		var ss [][]byte
		for _, a := range rc.acts {
			ss = append(ss, []byte(a))
		}
		attrs = append(attrs, &attrProto{Name: ptr("activations"), Type: onnxpb.AttributeProto_STRINGS.Enum(), Strings: ss})
	}
	if rc.alpha != nil {
		attrs = append(attrs, aFloats("activation_alpha", rc.alpha...))
	}
	if rc.beta != nil {
		attrs = append(attrs, aFloats("activation_beta", rc.beta...))
	}
	if rc.clip != 0 {
		attrs = append(attrs, aFloat("clip", rc.clip))
	}
	if rc.lbr != 0 {
		attrs = append(attrs, aInt("linear_before_reset", int64(rc.lbr)))
	}
	if rc.inputForget != 0 {
		attrs = append(attrs, aInt("input_forget", int64(rc.inputForget)))
	}
	in := x.Shape
	if rc.runtimeW {
		in = w.Shape
	}
	name := fmt.Sprintf("%s/%d_%s_l%d_s%d_b%d_h%d", rc.op, i, map[string]string{"": "forward"}[rc.dir]+rc.dir, rc.layout, rc.seq, rc.batch, rc.hid)
	var ortBody func(*mb, string)
	if rc.layout == 1 {
		ortBody = rc.body(attrs, true, x, w, r, b, h0, c0, p)
	}
	return decompCase{name: name, ortBody: ortBody, opset: rc.opset, x: in, tol: 1e-4,
		body: rc.body(attrs, false, x, w, r, b, h0, c0, p),
		ref: func(in *ir.Tensor) *ir.Tensor {
			if rc.runtimeW {
				return rc.ref(x, in, r, b, h0, c0, p)
			}
			return rc.ref(in, w, r, b, h0, c0, p)
		},
		fixed: map[bool]*ir.Tensor{false: x, true: w}[rc.runtimeW],
	}
}

func rnnCases() []decompCase {
	var out []decompCase
	for i, rc := range []rnnCase{
		{op: "RNN", opset: 7, seq: 4, batch: 2, in: 3, hid: 5},
		{op: "RNN", opset: 14, seq: 3, batch: 2, in: 4, hid: 3, dir: "reverse", bias: true, h0: true, layout: 1},
		{op: "RNN", opset: 22, seq: 5, batch: 1, in: 2, hid: 4, dir: "bidirectional", bias: true, h0: true, seqLens: true},
		{op: "RNN", opset: 14, seq: 3, batch: 3, in: 2, hid: 3, dir: "bidirectional", layout: 1, acts: []string{"Relu", "LeakyRelu"}, alpha: []float32{0.3}},
		{op: "RNN", opset: 13, seq: 2, batch: 2, in: 3, hid: 2, acts: []string{"HardSigmoid"}, alpha: []float32{0.3}, beta: []float32{0.4}, clip: 0.8},
		{op: "RNN", opset: 13, seq: 3, batch: 2, in: 3, hid: 2, bias: true, runtimeW: true, outs: 1},
		{op: "GRU", opset: 7, seq: 4, batch: 2, in: 3, hid: 4},
		{op: "GRU", opset: 14, seq: 3, batch: 2, in: 3, hid: 3, bias: true, h0: true, lbr: 1},
		{op: "GRU", opset: 14, seq: 4, batch: 2, in: 2, hid: 3, dir: "reverse", bias: true, layout: 1, h0: true},
		{op: "GRU", opset: 22, seq: 3, batch: 1, in: 3, hid: 2, dir: "bidirectional", bias: true, h0: true, lbr: 1, seqLens: true},
		{op: "GRU", opset: 14, seq: 3, batch: 2, in: 3, hid: 3, dir: "bidirectional", layout: 1, bias: true, clip: 0.7,
			acts: []string{"Sigmoid", "Softsign", "HardSigmoid", "ScaledTanh"}, alpha: []float32{0.25, 0.8}, beta: []float32{0.55, 1.2}},
		{op: "GRU", opset: 13, seq: 3, batch: 2, in: 3, hid: 2, bias: true, runtimeW: true},
		{op: "GRU", opset: 13, seq: 3, batch: 2, in: 2, hid: 3, bias: true, lbr: 1, dir: "bidirectional"},
		{op: "GRU", opset: 13, seq: 2, batch: 2, in: 2, hid: 3, lbr: 1},
		{op: "LSTM", opset: 7, seq: 4, batch: 2, in: 3, hid: 3},
		{op: "LSTM", opset: 14, seq: 3, batch: 2, in: 3, hid: 4, bias: true, h0: true, c0: true, peep: true},
		{op: "LSTM", opset: 14, seq: 3, batch: 3, in: 2, hid: 2, dir: "reverse", bias: true, layout: 1, h0: true, c0: true},
		{op: "LSTM", opset: 22, seq: 4, batch: 2, in: 3, hid: 3, dir: "bidirectional", bias: true, h0: true, c0: true, peep: true, seqLens: true},
		{op: "LSTM", opset: 14, seq: 3, batch: 2, in: 2, hid: 3, dir: "bidirectional", layout: 1, bias: true, peep: true, clip: 0.9},
		{op: "LSTM", opset: 13, seq: 3, batch: 2, in: 3, hid: 2, bias: true, inputForget: 1},
		{op: "LSTM", opset: 13, seq: 3, batch: 2, in: 3, hid: 2, bias: true, inputForget: 1, h0: true, c0: true, peep: true},
		{op: "LSTM", opset: 13, seq: 2, batch: 2, in: 3, hid: 2, acts: []string{"HardSigmoid", "Affine", "Elu"}, alpha: []float32{0.3, 0.7, 0.9}, beta: []float32{0.45, 0.1}},
		{op: "LSTM", opset: 13, seq: 3, batch: 1, in: 3, hid: 2, bias: true, runtimeW: true, outs: 2},
		{op: "LSTM", opset: 13, seq: 2, batch: 2, in: 2, hid: 2, acts: []string{"Sigmoid", "Softplus", "Tanh"}},
	} {
		out = append(out, rc.decomp(i))
	}
	return out
}

// body adds the node and the reshapes and concat of its outputs;
// seqMajor writes a layout-1 case as transposes around layout 0.
func (rc rnnCase) body(attrs []*attrProto, seqMajor bool, x, w, r, b, h0, c0, p *ir.Tensor) func(*mb, string) {
	return func(m *mb, pf string) {
		names := []string{pf + "X", pf + "W", pf + "R", "", "", "", "", ""}
		if rc.runtimeW {
			names[1] = pf + "x"
			m.init(pf+"X", x)
		} else {
			names[0] = pf + "x"
			m.init(pf+"W", w)
		}
		m.init(pf+"R", r)
		for k, t := range []*ir.Tensor{3: b, 5: h0, 6: c0, 7: p} {
			if t != nil {
				names[k] = fmt.Sprintf("%sin%d", pf, k)
				m.init(names[k], t)
			}
		}
		if rc.seqLens {
			lens := make([]int32, rc.batch)
			for k := range lens {
				lens[k] = int32(rc.seq)
			}
			names[4] = pf + "lens"
			t := ir.NewTensor(ir.I32, []int{rc.batch})
			copy(t.I32, lens)
			m.init(names[4], t)
		}
		last := 0
		for k, n := range names {
			if n != "" {
				last = k
			}
		}
		var outs, flats []string
		for k := 0; k < rc.nOut(); k++ {
			outs = append(outs, fmt.Sprintf("%sout%d", pf, k))
			flats = append(flats, fmt.Sprintf("%sflat%d", pf, k))
		}
		m.init(pf+"minus1", i64s(-1))
		nodeAttrs, nodeOuts := attrs, outs
		if seqMajor {
			// ONNX Runtime runs layout 0 only: transpose X and the
			// states to sequence-major and the outputs back.
			nodeAttrs, nodeOuts = nil, nil
			for _, a := range attrs {
				if a.GetName() != "layout" {
					nodeAttrs = append(nodeAttrs, a)
				}
			}
			for _, k := range []int{0, 5, 6} {
				if names[k] != "" {
					m.node("Transpose", []string{names[k]}, []string{names[k] + "_t"}, aInts("perm", 1, 0, 2))
					names[k] += "_t"
				}
			}
			for _, o := range outs {
				nodeOuts = append(nodeOuts, o+"_t")
			}
		}
		m.node(rc.op, names[:last+1], nodeOuts, nodeAttrs...)
		if seqMajor {
			for k := range outs {
				perm := []int64{1, 0, 2}
				if k == 0 {
					perm = []int64{2, 0, 1, 3}
				}
				m.node("Transpose", []string{nodeOuts[k]}, []string{outs[k]}, aInts("perm", perm...))
			}
		}
		for k := range outs {
			m.node("Reshape", []string{outs[k], pf + "minus1"}, []string{flats[k]})
		}
		m.node("Concat", flats, []string{pf + "y"}, aInt("axis", 0))
	}
}
