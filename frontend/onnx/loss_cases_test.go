package onnx

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (convert_loss.go)
// with the target a graph input (known at run time only): every
// reduction (and the attribute absent), weight absent, constant or an
// input, ignore_index absent, a class, negative or past the classes (some
// targets equal to it), INT64 and INT32 targets, [N, C], [N, C, d1] and
// [N, C, d1, d2]; SoftmaxCrossEntropyLoss with and without its log_prob
// output. Checked in rt against a float64 reference of the spec, lowered
// by codegen, and (without -short) run in ONNX Runtime and both compiled
// backends.

const (
	opNLL = "NegativeLogLikelihoodLoss"
	opSCE = "SoftmaxCrossEntropyLoss"
)

type lossCase struct {
	name     string
	op       string
	opset    int64
	x        []int  // [N, C, d…]
	red      string // "": the attribute absent (mean)
	weight   bool
	weightIn bool   // the weight is a graph input (else an initializer)
	ii       *int64 // ignore_index; nil: absent
	allIgn   bool   // every target is ignore_index
	logProb  bool   // SoftmaxCrossEntropyLoss's output 1 is used
	t32      bool   // INT32 targets (else INT64)
	seed     int64
}

func lossCases() []lossCase {
	var out []lossCase
	shapes := [][]int{{3, 4}, {2, 4, 3}, {2, 3, 2, 2}}
	iis := []int64{1, -1, 10}
	k := 0
	for _, o := range []struct {
		op    string
		opset int64
	}{{opNLL, 12}, {opNLL, 13}, {opNLL, 22}, {opSCE, 12}, {opSCE, 13}} {
		for _, shape := range shapes {
			for _, red := range []string{"none", "sum", "mean", ""} {
				for _, w := range []bool{false, true} {
					for _, withII := range []bool{false, true} {
						k++
						tc := lossCase{op: o.op, opset: o.opset, x: shape, red: red, weight: w, seed: int64(k),
							weightIn: w && k%3 == 0, logProb: o.op == opSCE && k%2 == 0, t32: k%5 == 0}
						if withII {
							ii := iis[k%len(iis)]
							tc.ii = &ii
						}
						out = append(out, tc)
					}
				}
			}
		}
	}
	// Every target ignored: mean is 0/0 (NaN, as ONNX's reference gives).
	for _, op := range []string{opNLL, opSCE} {
		for _, w := range []bool{false, true} {
			k++
			ii := int64(-100)
			out = append(out, lossCase{op: op, opset: 13, x: []int{2, 3, 2}, red: "mean", weight: w, ii: &ii, allIgn: true, seed: int64(k)})
			k++
			out = append(out, lossCase{op: op, opset: 13, x: []int{2, 3, 2}, red: "sum", weight: w, ii: &ii, allIgn: true, seed: int64(k)})
		}
	}
	for i := range out {
		tc := &out[i]
		short := map[string]string{opNLL: "nll", opSCE: "sce"}[tc.op]
		red := tc.red
		if red == "" {
			red = "default"
		}
		tc.name = fmt.Sprintf("%s%d_%v_%s", short, tc.opset, tc.x, red)
		if tc.weight {
			tc.name += "_weight"
			if tc.weightIn {
				tc.name += "_input"
			}
		}
		if tc.ii != nil {
			tc.name += fmt.Sprintf("_ii%d", *tc.ii)
		}
		if tc.allIgn {
			tc.name += "_all_ignored"
		}
		if tc.logProb {
			tc.name += "_logprob"
		}
		if tc.t32 {
			tc.name += "_i32"
		}
	}
	return out
}

func dims64(s []int) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

// targetShape is x's shape without dim 1.
func (tc lossCase) targetShape() []int { return slices.Delete(slices.Clone(tc.x), 1, 2) }

// data returns the case's x, target and weight (nil when absent).
func (tc lossCase) data() (x, t, w *ir.Tensor) {
	r := rand.New(rand.NewSource(tc.seed))
	x = ir.NewTensor(ir.F32, tc.x)
	for i := range x.F32 {
		x.F32[i] = float32(6*r.Float64() - 3)
	}
	c := tc.x[1]
	ts := tc.targetShape()
	tv := make([]int64, ir.NumElements(ts))
	for i := range tv {
		tv[i] = int64(r.Intn(c))
		if tc.ii != nil && (tc.allIgn || i%3 == 1) {
			tv[i] = *tc.ii
		}
	}
	if tc.t32 {
		t = ir.NewTensor(ir.I32, ts)
		for i, v := range tv {
			t.I32[i] = int32(v)
		}
	} else {
		t = ir.FromI64(ts, tv)
	}
	if tc.weight {
		w = ir.NewTensor(ir.F32, []int{c})
		for i := range w.F32 {
			w.F32[i] = float32(0.25 + 2*r.Float64())
		}
	}
	return x, t, w
}

// addTo adds the case to m with names prefixed by p: inputs p+"x",
// p+"t" (and p+"w" when the weight is an input), outputs p+"y" (and
// p+"lp").
func (tc lossCase) addTo(m *mb, p string) *mb {
	_, _, w := tc.data()
	tdt := int32(dtInt64)
	if tc.t32 {
		tdt = dtInt32
	}
	m.input(p+"x", dtFloat, dims64(tc.x)...).input(p+"t", tdt, dims64(tc.targetShape())...)
	in := []string{p + "x", p + "t"}
	if tc.weight {
		if tc.weightIn {
			m.input(p+"w", dtFloat, int64(tc.x[1]))
		} else {
			m.init(p+"w", w)
		}
		in = append(in, p+"w")
	}
	var attrs []*attrProto
	if tc.red != "" {
		attrs = append(attrs, aStr("reduction", tc.red))
	}
	if tc.ii != nil {
		attrs = append(attrs, aInt("ignore_index", *tc.ii))
	}
	outs := []string{p + "y"}
	if tc.logProb {
		outs = append(outs, p+"lp")
	}
	return m.node(tc.op, in, outs, attrs...).output(outs...)
}

// feeds are the case's graph inputs, named with prefix p.
func (tc lossCase) feeds(p string) []ortFeed {
	x, t, w := tc.data()
	f := []ortFeed{{p + "x", x}, {p + "t", t}}
	if tc.weightIn {
		f = append(f, ortFeed{p + "w", w})
	}
	return f
}

// ref computes the case's outputs in float64 from the spec: log_softmax
// along axis 1 for SoftmaxCrossEntropyLoss, loss = −in[n, t, d…]·weight[t]
// (0 where t = ignore_index), reduced; mean divides by the sum of the
// weights of the elements not ignored (1 each without a weight).
func (tc lossCase) ref() []*ir.Tensor {
	x, t, w := tc.data()
	n, c := tc.x[0], tc.x[1]
	d := ir.NumElements(tc.x[2:])
	in := make([]float64, x.Len())
	for i, v := range x.F32 {
		in[i] = float64(v)
	}
	if tc.op == opSCE {
		lp := make([]float64, len(in))
		for b := range n {
			for j := range d {
				m := math.Inf(-1)
				for k := range c {
					m = max(m, in[(b*c+k)*d+j])
				}
				s := 0.0
				for k := range c {
					s += math.Exp(in[(b*c+k)*d+j] - m)
				}
				for k := range c {
					lp[(b*c+k)*d+j] = in[(b*c+k)*d+j] - m - math.Log(s)
				}
			}
		}
		in = lp
	}
	ts := tc.targetShape()
	loss := ir.NewTensor(ir.F32, ts)
	var sum, wsum float64
	for b := range n {
		for j := range d {
			cls := t.IntAt(b*d + j)
			if tc.ii != nil && cls == *tc.ii {
				continue
			}
			wt := 1.0
			if w != nil {
				wt = float64(w.F32[cls])
			}
			l := -in[(b*c+int(cls))*d+j] * wt
			loss.F32[b*d+j] = float32(l)
			sum += l
			wsum += wt
		}
	}
	var y *ir.Tensor
	switch tc.red {
	case "none":
		y = loss
	case "sum":
		y = ir.ScalarF32(float32(sum))
	default:
		y = ir.ScalarF32(float32(sum / wsum))
	}
	out := []*ir.Tensor{y}
	if tc.logProb {
		lp := ir.NewTensor(ir.F32, tc.x)
		for i, v := range in {
			lp.F32[i] = float32(v)
		}
		out = append(out, lp)
	}
	return out
}

func tensorsOf(f []ortFeed) []*ir.Tensor {
	var out []*ir.Tensor
	for _, x := range f {
		out = append(out, x.x)
	}
	return out
}

const lossTol = 2e-5

// TestLossOps runs every case in rt against the float64 reference and
// lowers it with codegen.
func TestLossOps(t *testing.T) {
	for _, tc := range lossCases() {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.addTo(newModel(tc.opset), "").mustLoad(t, Options{})
			if !slices.Contains(ops(g), "gather") {
				t.Fatalf("ops %v: no gather", ops(g))
			}
			got, err := rt.Run(g, tensorsOf(tc.feeds("")))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.ref()
			if len(got) != len(want) {
				t.Fatalf("%d outputs, want %d", len(got), len(want))
			}
			for i := range want {
				if err := allClose(got[i], want[i], lossTol, lossTol); err != nil {
					t.Errorf("output %d: rt against the reference: %v", i, err)
				}
			}
			if _, err := codegen.Lower(g); err != nil {
				t.Errorf("codegen.Lower: %v", err)
			}
		})
	}
}

// lossGroups: one model per opset of all the loss cases of that opset.
func lossGroups() []feedGroup {
	return feedGroups(lossCases(), func(tc lossCase) int64 { return tc.opset }, func(g *feedGroup, tc lossCase, p string) {
		tc.addTo(g.m, p)
		g.feeds = append(g.feeds, tc.feeds(p)...)
		g.outs = append(g.outs, p+"y")
		if tc.logProb {
			g.outs = append(g.outs, p+"lp")
		}
		g.want = append(g.want, tc.ref()...)
	})
}

// TestLossOpsORT runs the cases in ONNX Runtime (one model per opset) and
// compares its outputs with the references and rt's.
func TestLossOpsORT(t *testing.T) {
	node, dir := ortOrSkip(t)
	for _, lg := range lossGroups() {
		t.Run(fmt.Sprintf("opset%d", lg.opset), func(t *testing.T) {
			lg.checkORT(t, node, dir, 10*lossTol)
		})
	}
}

// TestLossOpsCompiled builds the cases with the Go and LLVM backends (one
// model per opset) and compares the executables' outputs with rt's and the
// references (ignored targets past the classes or negative run without
// tripping the gathers' range checks). -short runs the LLVM backend only.
func TestLossOpsCompiled(t *testing.T) {
	for _, lg := range lossGroups() {
		lg.checkCompiled(t, 10*lossTol)
	}
}

// TestLossOpsErrors: a target outside [0, C) that is not ignore_index
// makes the run fail at the gather (rt); malformed nodes fail at import
// naming the node and the reason.
func TestLossOpsErrors(t *testing.T) {
	for _, op := range []string{opNLL, opSCE} {
		for _, bad := range []int64{4, -1, 100} {
			ii := int64(2)
			tc := lossCase{op: op, opset: 13, x: []int{3, 4}, red: "none", ii: &ii, seed: 1}
			g := tc.addTo(newModel(13), "").mustLoad(t, Options{})
			f := tc.feeds("")
			f[1].x.I64[0] = bad
			if _, err := rt.Run(g, tensorsOf(f)); err == nil || !strings.Contains(err.Error(), "gather") || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("%s: target %d: err = %v, want a gather out of range", op, bad, err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		// DOUBLE fails at the graph input, before the node.
		{"double input", newModel(13).input("x", 11, 3, 4).input("t", dtInt64, 3).
			node(opNLL, []string{"x", "t"}, []string{"y"}).output("y"), `graph input "x": data type DOUBLE is not supported`},
		{"float target", newModel(13).input("x", dtFloat, 3, 4).input("t", dtFloat, 3).
			node(opNLL, []string{"x", "t"}, []string{"y"}).output("y"), "target is f32"},
		{"target shape", newModel(13).input("x", dtFloat, 3, 4, 2).input("t", dtInt64, 3, 4).
			node(opNLL, []string{"x", "t"}, []string{"y"}).output("y"), "target [3 4] must be [3 2]"},
		{"weight shape", newModel(13).input("x", dtFloat, 3, 4).input("t", dtInt64, 3).init("w", f32s([]int{3})).
			node(opSCE, []string{"x", "t", "w"}, []string{"y"}).output("y"), "weight [3] must be [4]"},
		{"reduction", newModel(13).input("x", dtFloat, 3, 4).input("t", dtInt64, 3).
			node(opNLL, []string{"x", "t"}, []string{"y"}, aStr("reduction", "max")).output("y"), `reduction "max"`},
		{"int input", newModel(13).input("x", dtInt32, 3, 4).input("t", dtInt64, 3).
			node(opSCE, []string{"x", "t"}, []string{"y"}).output("y"), "FLOAT tensors only"},
		{"rank 1", newModel(13).input("x", dtFloat, 4).input("t", dtInt64).
			node(opSCE, []string{"x", "t"}, []string{"y"}).output("y"), "rank >= 2"},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.name != "double input" && !strings.Contains(err.Error(), "node ") {
			t.Errorf("%s: err = %v, want one naming the node and %q", tc.name, err, tc.want)
		}
	}
}
