package onnx

import (
	"fmt"
	"math"
	"math/rand"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/backendrun"
	"github.com/pare-ml/pare/tests/ortpath"
)

// Scan (convert_scan.go), unrolled at import: cumulative sums along axis
// 0 and 1, two scan inputs, reverse scan inputs and outputs, scan outputs
// stacked along axis 1 (and -1), several state variables, an RNN-like
// body with MatMuls of outer-scope weights, and opset 8's form with a
// batch axis and sequence_lens. Checked in rt against a float64 reference
// of the spec, in ONNX Runtime outside -short, and compiled (the LLVM
// backend in -short too, the Go backend outside it).

// f64t is a float64 tensor of the reference.
type f64t struct {
	shape []int
	v     []float64
}

func (x f64t) strides() (outer, n, inner func(axis int) int) {
	prod := func(s []int) int {
		p := 1
		for _, d := range s {
			p *= d
		}
		return p
	}
	return func(a int) int { return prod(x.shape[:a]) }, func(a int) int { return x.shape[a] }, func(a int) int { return prod(x.shape[a+1:]) }
}

// at is x's element i along axis (the axis removed).
func (x f64t) at(axis, i int) f64t {
	outer, n, inner := x.strides()
	o, k, in := outer(axis), n(axis), inner(axis)
	y := f64t{shape: slices.Delete(slices.Clone(x.shape), axis, axis+1)}
	for a := 0; a < o; a++ {
		y.v = append(y.v, x.v[(a*k+i)*in:(a*k+i+1)*in]...)
	}
	return y
}

// stackF64 stacks vs along a new axis.
func stackF64(vs []f64t, axis int) f64t {
	sh := slices.Insert(slices.Clone(vs[0].shape), axis, len(vs))
	y := f64t{shape: sh}
	outer, _, inner := y.strides()
	o, in := outer(axis), inner(axis)
	for a := 0; a < o; a++ {
		for _, v := range vs {
			y.v = append(y.v, v.v[a*in:(a+1)*in]...)
		}
	}
	return y
}

func mapF64(x f64t, f func(i int, a float64) float64) f64t {
	y := f64t{shape: slices.Clone(x.shape), v: make([]float64, len(x.v))}
	for i, a := range x.v {
		y.v[i] = f(i, a)
	}
	return y
}

// vecMat is the vector x times the matrix w ([len(x), n]).
func vecMat(x []float64, w f64t) f64t {
	n := w.shape[1]
	y := f64t{shape: []int{n}, v: make([]float64, n)}
	for j := 0; j < n; j++ {
		for i := range x {
			y.v[j] += x[i] * w.v[i*n+j]
		}
	}
	return y
}

type scanCase struct {
	name   string
	opset  int64
	states [][]int // state shapes (opset 8: with the batch axis)
	xs     [][]int // scan input shapes
	consts []f64t  // outer-scope constants w0, w1 ... the body reads
	// body's nodes read s0.., x0.. (the state variables and scan input
	// elements) and w0.. (outer scope) and define o0..; ref is the same
	// in float64.
	nodes                            []*onnxpb.NodeProto
	ref                              func(ws, ss, xs []f64t) []f64t
	inAxes, inDirs, outAxes, outDirs []int
	seqLens                          []int64 // opset 8; nil: absent
	noORT                            bool    // scalar inputs: the ONNX Runtime runner feeds none
}

func nd(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: []string{out}, Attribute: attrs}
}

func toI64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func zerosF64(shape []int) f64t {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return f64t{shape: slices.Clone(shape), v: make([]float64, n)}
}

// elemShapes are the body's input shapes: the states' and the scan
// inputs' elements.
func (tc scanCase) elemShapes() (ss, xs [][]int) {
	for _, s := range tc.states {
		if tc.opset < 9 {
			s = s[1:]
		}
		ss = append(ss, s)
	}
	for i, x := range tc.xs {
		ax := 0
		if tc.opset < 9 {
			x = x[1:]
		} else if tc.inAxes != nil {
			ax = (tc.inAxes[i] + len(x)) % len(x)
		}
		xs = append(xs, slices.Delete(slices.Clone(x), ax, ax+1))
	}
	return ss, xs
}

func f64sOf(shapes [][]int) []f64t {
	var out []f64t
	for _, s := range shapes {
		out = append(out, zerosF64(s))
	}
	return out
}

// body is the case's body graph, its outer-scope names prefixed by p.
func (tc scanCase) body(p string) *onnxpb.GraphProto {
	ss, xs := tc.elemShapes()
	outs := tc.ref(tc.consts, f64sOf(ss), f64sOf(xs))
	g := &onnxpb.GraphProto{Name: proto.String("body")}
	for i, s := range ss {
		g.Input = append(g.Input, vinfo(fmt.Sprintf("s%d", i), dtFloat, toI64(s)...))
	}
	for i, s := range xs {
		g.Input = append(g.Input, vinfo(fmt.Sprintf("x%d", i), dtFloat, toI64(s)...))
	}
	for i, o := range outs {
		g.Output = append(g.Output, vinfo(fmt.Sprintf("o%d", i), dtFloat, toI64(o.shape)...))
	}
	for _, n := range tc.nodes {
		n = proto.Clone(n).(*onnxpb.NodeProto)
		for j, in := range n.Input {
			if strings.HasPrefix(in, "w") {
				n.Input[j] = p + in
			}
		}
		g.Node = append(g.Node, n)
	}
	return g
}

func (tc scanCase) nOut() int {
	ss, xs := tc.elemShapes()
	return len(tc.ref(tc.consts, f64sOf(ss), f64sOf(xs)))
}

// addTo adds the case's Scan to m, its names prefixed by p: inputs
// p+"s0".., p+"x0..", outputs p+"y0"...
func (tc scanCase) addTo(m *mb, p string) (ins, outs []string) {
	for i, s := range tc.states {
		ins = append(ins, fmt.Sprintf("%ss%d", p, i))
		m.input(ins[len(ins)-1], dtFloat, toI64(s)...)
	}
	for i, s := range tc.xs {
		ins = append(ins, fmt.Sprintf("%sx%d", p, i))
		m.input(ins[len(ins)-1], dtFloat, toI64(s)...)
	}
	for i, w := range tc.consts {
		m.init(fmt.Sprintf("%sw%d", p, i), tensorOfF64(w))
	}
	for i := 0; i < tc.nOut(); i++ {
		outs = append(outs, fmt.Sprintf("%sy%d", p, i))
	}
	attrs := []*onnxpb.AttributeProto{{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: tc.body(p)},
		aInt("num_scan_inputs", int64(len(tc.xs)))}
	nodeIns := ins
	if tc.opset < 9 {
		lens := ""
		if tc.seqLens != nil {
			lens = p + "lens"
			m.init(lens, ir.FromI64([]int{len(tc.seqLens)}, tc.seqLens))
		}
		nodeIns = append([]string{lens}, ins...)
		if tc.inDirs != nil {
			attrs = append(attrs, aInts("directions", toI64(tc.inDirs)...))
		}
	} else {
		for _, a := range []struct {
			name string
			v    []int
		}{{"scan_input_axes", tc.inAxes}, {"scan_input_directions", tc.inDirs}, {"scan_output_axes", tc.outAxes}, {"scan_output_directions", tc.outDirs}} {
			if a.v != nil {
				attrs = append(attrs, aInts(a.name, toI64(a.v)...))
			}
		}
	}
	m.node("Scan", nodeIns, outs, attrs...)
	m.output(outs...)
	return ins, outs
}

func tensorOfF64(x f64t) *ir.Tensor {
	v := make([]float32, len(x.v))
	for i, a := range x.v {
		v[i] = float32(a)
	}
	return ir.FromF32(slices.Clone(x.shape), v)
}

// feeds are the case's random inputs.
func (tc scanCase) feeds(seed int64) []f64t {
	r := rand.New(rand.NewSource(seed))
	var out []f64t
	for _, s := range append(slices.Clone(tc.states), tc.xs...) {
		x := zerosF64(s)
		for i := range x.v {
			x.v[i] = float64(float32(r.Float64()*2 - 1))
		}
		out = append(out, x)
	}
	return out
}

func orZeros(v []int, n int) []int {
	if v == nil {
		return make([]int, n)
	}
	return v
}

// want is the reference: the spec's Scan in float64.
func (tc scanCase) want(in []f64t) []f64t {
	ns := len(tc.states)
	states, xs := in[:ns], in[ns:]
	run := func(states, xs []f64t, inAxes, inDirs, outAxes, outDirs []int) []f64t {
		states = slices.Clone(states)
		for i := range inAxes {
			inAxes[i] = (inAxes[i] + len(xs[i].shape)) % len(xs[i].shape)
		}
		t := xs[0].shape[inAxes[0]]
		var elems [][]f64t
		for it := 0; it < t; it++ {
			var xe []f64t
			for i, x := range xs {
				at := it
				if inDirs[i] == 1 {
					at = t - 1 - it
				}
				xe = append(xe, x.at(inAxes[i], at))
			}
			o := tc.ref(tc.consts, states, xe)
			copy(states, o[:ns])
			if elems == nil {
				elems = make([][]f64t, len(o)-ns)
			}
			for k := range elems {
				elems[k] = append(elems[k], o[ns+k])
			}
		}
		out := states
		for k, vs := range elems {
			if outDirs[k] == 1 {
				vs = slices.Clone(vs)
				slices.Reverse(vs)
			}
			ax := (outAxes[k] + len(vs[0].shape) + 1) % (len(vs[0].shape) + 1)
			out = append(out, stackF64(vs, ax))
		}
		return out
	}
	nso := tc.nOut() - ns
	if tc.opset >= 9 {
		return run(states, xs, slices.Clone(orZeros(tc.inAxes, len(xs))), orZeros(tc.inDirs, len(xs)), orZeros(tc.outAxes, nso), orZeros(tc.outDirs, nso))
	}
	batch := in[0].shape[0]
	per := make([][]f64t, tc.nOut())
	for b := 0; b < batch; b++ {
		var sb, xb []f64t
		for _, s := range states {
			sb = append(sb, s.at(0, b))
		}
		for _, x := range xs {
			xb = append(xb, x.at(0, b))
		}
		o := run(sb, xb, make([]int, len(xs)), orZeros(tc.inDirs, len(xs)), make([]int, nso), make([]int, nso))
		for k := range o {
			per[k] = append(per[k], o[k])
		}
	}
	var out []f64t
	for _, vs := range per {
		out = append(out, stackF64(vs, 0))
	}
	return out
}

func scanCases() []scanCase {
	add := func(a, b f64t) f64t {
		return mapF64(a, func(i int, x float64) float64 { return x + float64(float32(b.v[i])) })
	}
	cumsum := func(_, ss, xs []f64t) []f64t { s := add(ss[0], xs[0]); return []f64t{s, s} }
	cumsumNodes := []*onnxpb.NodeProto{nd("Add", []string{"s0", "x0"}, "o0"), nd("Identity", []string{"o0"}, "o1")}
	r := rand.New(rand.NewSource(7))
	randF64 := func(shape ...int) f64t {
		x := zerosF64(shape)
		for i := range x.v {
			x.v[i] = float64(float32(r.Float64() - 0.5))
		}
		return x
	}
	return []scanCase{
		{name: "cumsum_axis0", opset: 16, states: [][]int{{3}}, xs: [][]int{{4, 3}}, nodes: cumsumNodes, ref: cumsum},
		{name: "cumsum_axis1", opset: 16, states: [][]int{{3}}, xs: [][]int{{3, 4}}, inAxes: []int{1}, nodes: cumsumNodes, ref: cumsum},
		{name: "cumsum_axis-1_opset11", opset: 11, states: [][]int{{2, 3}}, xs: [][]int{{2, 3, 5}}, inAxes: []int{-1}, outAxes: []int{-1}, nodes: cumsumNodes, ref: cumsum},
		{name: "cumsum_opset9", opset: 9, states: [][]int{{2}}, xs: [][]int{{5, 2}}, nodes: cumsumNodes, ref: cumsum},
		{name: "reverse_input", opset: 16, states: [][]int{{3}}, xs: [][]int{{4, 3}}, inDirs: []int{1}, nodes: cumsumNodes, ref: cumsum},
		{name: "reverse_output", opset: 16, states: [][]int{{3}}, xs: [][]int{{4, 3}}, outDirs: []int{1}, nodes: cumsumNodes, ref: cumsum},
		{name: "reverse_both_axis1", opset: 16, states: [][]int{{3}}, xs: [][]int{{3, 4}}, inAxes: []int{1}, inDirs: []int{1}, outDirs: []int{1}, outAxes: []int{1}, nodes: cumsumNodes, ref: cumsum},
		{name: "output_axis1", opset: 16, states: [][]int{{3}}, xs: [][]int{{4, 3}}, outAxes: []int{1}, nodes: cumsumNodes, ref: cumsum},
		{name: "two_inputs", opset: 16, states: [][]int{{2}}, xs: [][]int{{4, 2}, {2, 4}}, inAxes: []int{0, 1}, inDirs: []int{0, 1}, outAxes: []int{0, 1},
			nodes: []*onnxpb.NodeProto{nd("Mul", []string{"x0", "x1"}, "p"), nd("Add", []string{"s0", "p"}, "o0"), nd("Sub", []string{"x0", "x1"}, "o1"), nd("Identity", []string{"o0"}, "o2")},
			ref: func(_, ss, xs []f64t) []f64t {
				p := mapF64(xs[0], func(i int, a float64) float64 { return float64(float32(a) * float32(xs[1].v[i])) })
				s := add(ss[0], p)
				return []f64t{s, mapF64(xs[0], func(i int, a float64) float64 { return a - xs[1].v[i] }), s}
			}},
		{name: "three_states", opset: 16, states: [][]int{{3}, {3}, {1}}, xs: [][]int{{5, 3}},
			nodes: []*onnxpb.NodeProto{nd("Add", []string{"s0", "x0"}, "o0"), nd("Max", []string{"s1", "x0"}, "o1"),
				nd("ReduceSum", []string{"x0"}, "r"), nd("Add", []string{"s2", "r"}, "o2"), nd("Mul", []string{"o0", "o1"}, "o3")},
			ref: func(_, ss, xs []f64t) []f64t {
				s0 := add(ss[0], xs[0])
				s1 := mapF64(ss[1], func(i int, a float64) float64 { return math.Max(a, xs[0].v[i]) })
				sum := 0.0
				for _, a := range xs[0].v {
					sum += a
				}
				s2 := mapF64(ss[2], func(_ int, a float64) float64 { return a + sum })
				return []f64t{s0, s1, s2, mapF64(s0, func(i int, a float64) float64 { return a * s1.v[i] })}
			}},
		{name: "scalar_state", opset: 13, states: [][]int{{}}, xs: [][]int{{4, 3}}, noORT: true,
			nodes: []*onnxpb.NodeProto{nd("ReduceSum", []string{"x0"}, "r", aInt("keepdims", 0)), nd("Add", []string{"s0", "r"}, "o0"), nd("Mul", []string{"x0", "o0"}, "o1")},
			ref: func(_, ss, xs []f64t) []f64t {
				sum := float32(0)
				for _, a := range xs[0].v {
					sum += float32(a)
				}
				s := mapF64(ss[0], func(_ int, a float64) float64 { return float64(float32(a) + sum) })
				return []f64t{s, mapF64(xs[0], func(_ int, a float64) float64 { return a * s.v[0] })}
			}},
		{name: "rnn", opset: 16, states: [][]int{{4}}, xs: [][]int{{6, 3}}, consts: []f64t{randF64(3, 4), randF64(4, 4)},
			nodes: []*onnxpb.NodeProto{nd("MatMul", []string{"x0", "w0"}, "a"), nd("MatMul", []string{"s0", "w1"}, "b"), nd("Add", []string{"a", "b"}, "c"),
				nd("Tanh", []string{"c"}, "o0"), nd("Identity", []string{"o0"}, "o1")},
			ref: func(ws, ss, xs []f64t) []f64t {
				a, b := vecMat(xs[0].v, ws[0]), vecMat(ss[0].v, ws[1])
				h := mapF64(a, func(i int, x float64) float64 { return math.Tanh(x + b.v[i]) })
				return []f64t{h, h}
			}},
		{name: "opset8_batch", opset: 8, states: [][]int{{2, 3}}, xs: [][]int{{2, 4, 3}}, nodes: cumsumNodes, ref: cumsum},
		{name: "opset8_seqlens_reverse", opset: 8, states: [][]int{{3, 2}}, xs: [][]int{{3, 5, 2}, {3, 5, 2}}, inDirs: []int{1, 0}, seqLens: []int64{5, 5, 5},
			nodes: []*onnxpb.NodeProto{nd("Add", []string{"s0", "x0"}, "o0"), nd("Sub", []string{"o0", "x1"}, "o1")},
			ref: func(_, ss, xs []f64t) []f64t {
				s := add(ss[0], xs[0])
				return []f64t{s, mapF64(s, func(i int, a float64) float64 { return float64(float32(a) - float32(xs[1].v[i])) })}
			}},
	}
}

// scanTol compares in float32 precision: the bodies' few float32 steps.
const scanTol = 1e-5

func checkScan(t *testing.T, what string, got []*ir.Tensor, want []f64t) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for k := range want {
		g := got[k]
		if len(g.F32) != len(want[k].v) || (g.Shape != nil && !slices.Equal(g.Shape, want[k].shape) && len(g.Shape) > 1) {
			t.Errorf("%s: output %d: shape %v (%d values), want %v", what, k, g.Shape, len(g.F32), want[k].shape)
			continue
		}
		for i, w := range want[k].v {
			if d := math.Abs(float64(g.F32[i]) - w); !(d <= scanTol*(1+math.Abs(w))) {
				t.Errorf("%s: output %d[%d] = %v, want %v", what, k, i, g.F32[i], w)
				break
			}
		}
	}
}

// TestScanCases runs every case alone in rt against the reference, and
// in ONNX Runtime outside -short.
func TestScanCases(t *testing.T) {
	ortDir, err := filepath.Abs(ortpath.Dir(filepath.Join("..", "..")))
	node, nerr := exec.LookPath("node")
	haveORT := ortpath.Dir(filepath.Join("..", "..")) != "" && err == nil && nerr == nil
	for k, tc := range scanCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(tc.opset)
			ins, outs := tc.addTo(m, "")
			g := m.mustLoad(t, Options{})
			if n := len(g.Results); n != len(outs) {
				t.Fatalf("%d outputs, want %d", n, len(outs))
			}
			in := tc.feeds(int64(k + 1))
			var xs []*ir.Tensor
			var feeds []ortFeed
			for i, x := range in {
				xs = append(xs, tensorOfF64(x))
				feeds = append(feeds, ortFeed{ins[i], xs[i]})
			}
			got, err := rt.Run(g, xs)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(in)
			checkScan(t, "rt against the reference", got, want)
			for i, o := range got {
				if !slices.Equal(o.Shape, want[i].shape) {
					t.Errorf("output %d: shape %v, want %v", i, o.Shape, want[i].shape)
				}
			}
			if testing.Short() || !haveORT || tc.noORT {
				return
			}
			o := runORTModel(t, node, ortDir, m.bytes(t), feeds, outs, got)
			checkScan(t, "ONNX Runtime against the reference", o, want)
		})
	}
}

// scanGroups puts the cases in one model per opset.
func scanGroups() map[int64]struct {
	m    *mb
	xs   []*ir.Tensor
	want []f64t
} {
	type group = struct {
		m    *mb
		xs   []*ir.Tensor
		want []f64t
	}
	out := map[int64]group{}
	for k, tc := range scanCases() {
		gr, ok := out[tc.opset]
		if !ok {
			gr.m = newModel(tc.opset)
		}
		tc.addTo(gr.m, fmt.Sprintf("c%d_", k))
		in := tc.feeds(int64(k + 1))
		for _, x := range in {
			gr.xs = append(gr.xs, tensorOfF64(x))
		}
		gr.want = append(gr.want, tc.want(in)...)
		out[tc.opset] = gr
	}
	return out
}

// TestScanCompiled builds the cases with the LLVM backend (in -short
// too) and the Go backend (outside -short), one model per opset, against
// rt and the reference.
func TestScanCompiled(t *testing.T) {
	for opset, gr := range scanGroups() {
		g := gr.m.mustLoad(t, Options{})
		want, err := rt.Run(g, gr.xs)
		if err != nil {
			t.Fatal(err)
		}
		checkScan(t, "rt against the reference", want, gr.want)
		backendrun.Both(t, fmt.Sprintf("opset%d", opset), g, gr.xs, false, func(t *testing.T, backend string, got []*ir.Tensor) {
			checkScan(t, backend+" against the reference", got, gr.want)
		})
	}
}

// TestScanErrors: what Scan cannot unroll is an unsupported error naming
// the node and the reason; malformed nodes are errors.
func TestScanErrors(t *testing.T) {
	cumsum := scanCases()[0]
	for _, tc := range []struct {
		name string
		mod  func(tc *scanCase)
		want string
	}{
		{"seqlens_short", func(tc *scanCase) {
			*tc = scanCases()[len(scanCases())-1]
			tc.seqLens = []int64{5, 4, 5}
		}, "sequence_lens[1] is 4"},
		{"too_long", func(tc *scanCase) { tc.xs = [][]int{{5000, 3}} }, "5000 iterations"},
		{"lengths_differ", func(tc *scanCase) {
			*tc = scanCases()[8]
			tc.xs = [][]int{{4, 2}, {2, 3}}
		}, "scan input 1 has 3 elements"},
		{"bad_direction", func(tc *scanCase) { tc.inDirs = []int{2} }, "scan_input_directions[0] is 2"},
		{"bad_axis", func(tc *scanCase) { tc.inAxes = []int{2} }, "scan_input_axes[0]"},
		{"axes_count", func(tc *scanCase) { tc.outAxes = []int{0, 0} }, "scan_output_axes has 2 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cumsum
			tc.mod(&c)
			m := newModel(c.opset)
			func() {
				defer func() {
					if r := recover(); r != nil { // the reference cannot shape a malformed case
						t.Skipf("case not buildable: %v", r)
					}
				}()
				c.addTo(m, "")
			}()
			_, err := m.load(t, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Scan") {
				t.Errorf("err = %v, want it to name Scan and %q", err, tc.want)
			}
		})
	}
	// sequence_lens as a graph input (not a constant).
	c := scanCases()[len(scanCases())-2]
	m := newModel(8).input("lens", dtInt64, 2)
	ins, outs := []string{"lens", "s0", "x0"}, []string{"y0", "y1"}
	m.input("s0", dtFloat, 2, 3).input("x0", dtFloat, 2, 4, 3)
	m.node("Scan", ins, outs, &onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: c.body("")}, aInt("num_scan_inputs", 1)).output(outs...)
	if _, err := m.load(t, Options{}); err == nil || !strings.Contains(err.Error(), "must be a constant") {
		t.Errorf("runtime sequence_lens: %v", err)
	}
}
