package rt

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Gradient checks: every differentiable op against central finite
// differences of L = Σ r·y (r fixed random weights), in float64 over rt's
// float32 forward pass.

type gradGraph struct {
	t      *testing.T
	g      *ir.Graph
	rng    *rand.Rand
	inputs []*ir.Tensor
	wrt    []*ir.Value
}

func newGradGraph(t *testing.T, seed int64) *gradGraph {
	return &gradGraph{t: t, g: ir.NewGraph("grad"), rng: rand.New(rand.NewSource(seed))}
}

// values fills a tensor with uniform values in [lo, hi), kept at least gap
// away from each of the kinks.
func (b *gradGraph) values(shape []int, lo, hi, gap float64, kinks ...float64) *ir.Tensor {
	t := ir.NewTensor(ir.F32, shape)
	for i := range t.F32 {
	again:
		x := lo + (hi-lo)*b.rng.Float64()
		for _, k := range kinks {
			if math.Abs(x-k) < gap {
				goto again
			}
		}
		t.F32[i] = float32(x)
	}
	return t
}

// distinct fills a tensor with a permutation of well-separated values (for max pooling).
func (b *gradGraph) distinct(shape []int) *ir.Tensor {
	t := ir.NewTensor(ir.F32, shape)
	for i, p := range b.rng.Perm(t.Len()) {
		t.F32[i] = float32(p)*0.1 - float32(t.Len())*0.05
	}
	return t
}

// in adds an input the gradient is taken by.
func (b *gradGraph) in(t *ir.Tensor) *ir.Value {
	v := b.g.AddParam(fmt.Sprintf("x%d", len(b.g.Params)), ir.Type{DType: t.DType, Shape: t.Shape})
	b.inputs = append(b.inputs, t)
	if t.DType == ir.F32 {
		b.wrt = append(b.wrt, v)
	}
	return v
}

// w adds a constant the gradient is taken by.
func (b *gradGraph) w(t *ir.Tensor) *ir.Value {
	v := b.g.AddConst("w", t, nil)
	b.wrt = append(b.wrt, v)
	return v
}

// k adds a constant the gradient is not taken by.
func (b *gradGraph) k(t *ir.Tensor) *ir.Value { return b.g.AddConst("k", t, nil) }

func (b *gradGraph) op(name string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) *ir.Value {
	b.t.Helper()
	v, err := b.g.Add(name, args, attrs, hint, name, "")
	if err != nil {
		b.t.Fatalf("building %s: %v", name, err)
	}
	return v
}

// check compares the gradients of L = Σ r·result with finite differences.
func (b *gradGraph) check(res *ir.Value) {
	t := b.t
	t.Helper()
	b.g.Results = []*ir.Value{res}
	if err := ir.Verify(b.g); err != nil {
		t.Fatalf("verify: %v", err)
	}
	d, err := NewGrad(b.g, b.wrt)
	if err != nil {
		t.Fatal(err)
	}
	r := ir.NewTensor(ir.F32, res.Type.Shape)
	for i := range r.F32 {
		r.F32[i] = float32(b.rng.Float64()*2 - 1)
	}
	tape, err := d.Forward(b.inputs)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := tape.Backward([]*ir.Tensor{r})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := New(b.g)
	if err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		out, err := ip.Run(b.inputs)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, y := range out[0].F32 {
			s += float64(r.F32[i]) * float64(y)
		}
		return s
	}
	const eps = 1e-2
	for wi, w := range b.wrt {
		var data []float32
		if w.IsConst() {
			data = w.Const.F32
		} else {
			for pi, p := range b.g.Params {
				if p == w {
					data = b.inputs[pi].F32
				}
			}
		}
		g := grads[wi]
		if !ir.EqualShape(g.Shape, w.Type.Shape) {
			t.Fatalf("gradient of %%%s has shape %v, want %v", w.Name, g.Shape, w.Type.Shape)
		}
		// Up to 64 elements per tensor, spread over it.
		step := max(1, len(data)/64)
		bad := 0
		for i := 0; i < len(data); i += step {
			x0 := data[i]
			data[i] = x0 + eps
			lp := loss()
			data[i] = x0 - eps
			lm := loss()
			data[i] = x0
			num := (lp - lm) / (2 * eps)
			got := float64(g.F32[i])
			if math.Abs(got-num) > 2e-3+2e-2*math.Abs(num) {
				if bad < 4 {
					t.Errorf("d/d%%%s[%d] = %.6g, finite difference %.6g", w.Name, i, got, num)
				}
				bad++
			}
		}
	}
}

func f32s(shape ...int) ir.Type { return ir.Type{DType: ir.F32, Shape: shape} }

func TestGradOps(t *testing.T) {
	type tc struct {
		name  string
		build func(b *gradGraph) *ir.Value
	}
	unary := func(op string, attrs ir.Attrs, lo, hi float64, kinks ...float64) tc {
		return tc{op, func(b *gradGraph) *ir.Value {
			return b.op(op, []*ir.Value{b.in(b.values([]int{2, 3, 4}, lo, hi, 0.03, kinks...))}, attrs, ir.Type{})
		}}
	}
	binary := func(op string, as, bs []int, lo, hi float64) tc {
		return tc{fmt.Sprintf("%s%v%v", op, as, bs), func(b *gradGraph) *ir.Value {
			x := b.in(b.values(as, -1, 1, 0))
			y := b.w(b.values(bs, lo, hi, 0))
			return b.op(op, []*ir.Value{x, y}, nil, ir.Type{})
		}}
	}
	conv := func(name string, xs, ws []int, bias bool, attrs ir.Attrs) tc {
		return tc{"conv/" + name, func(b *gradGraph) *ir.Value {
			args := []*ir.Value{b.in(b.values(xs, -1, 1, 0)), b.w(b.values(ws, -1, 1, 0))}
			if bias {
				args = append(args, b.w(b.values([]int{ws[0]}, -1, 1, 0)))
			}
			return b.op("conv", args, attrs, ir.Type{})
		}}
	}
	pool := func(op string, xs []int, attrs ir.Attrs) tc {
		return tc{fmt.Sprintf("%s%v", op, attrs), func(b *gradGraph) *ir.Value {
			return b.op(op, []*ir.Value{b.in(b.distinct(xs))}, attrs, ir.Type{})
		}}
	}
	gemm := func(ta, tb int, alpha, beta float32, cs []int) tc {
		return tc{fmt.Sprintf("gemm/ta%d,tb%d,c%v", ta, tb, cs), func(b *gradGraph) *ir.Value {
			as, bs := []int{3, 5}, []int{5, 4}
			if ta != 0 {
				as = []int{5, 3}
			}
			if tb != 0 {
				bs = []int{4, 5}
			}
			args := []*ir.Value{b.in(b.values(as, -1, 1, 0)), b.w(b.values(bs, -1, 1, 0))}
			if cs != nil {
				args = append(args, b.w(b.values(cs, -1, 1, 0)))
			}
			return b.op("gemm", args, ir.Attrs{"trans_a": ir.Int(ta), "trans_b": ir.Int(tb), "alpha": ir.Float(alpha), "beta": ir.Float(beta)}, ir.Type{})
		}}
	}
	cases := []tc{
		gemm(0, 0, 1, 1, nil), gemm(0, 1, 1, 1, []int{4}), gemm(1, 0, 0.5, 2, []int{3, 4}), gemm(1, 1, 1, 1, []int{3, 1}),
		// Dense layers as LeNet builds them, big enough for the packed GEMM.
		{"gemm/dense", func(b *gradGraph) *ir.Value {
			return b.op("gemm", []*ir.Value{b.in(b.values([]int{9, 37}, -1, 1, 0)), b.w(b.values([]int{21, 37}, -1, 1, 0)),
				b.w(b.values([]int{21}, -1, 1, 0))}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{})
		}},
		{"matmul/2d", func(b *gradGraph) *ir.Value {
			return b.op("matmul", []*ir.Value{b.in(b.values([]int{6, 7}, -1, 1, 0)), b.w(b.values([]int{7, 9}, -1, 1, 0))}, nil, ir.Type{})
		}},
		{"matmul/batch-broadcast", func(b *gradGraph) *ir.Value {
			return b.op("matmul", []*ir.Value{b.in(b.values([]int{2, 1, 3, 4}, -1, 1, 0)), b.w(b.values([]int{3, 4, 2}, -1, 1, 0))}, nil, ir.Type{})
		}},
		{"matmul/vector", func(b *gradGraph) *ir.Value {
			return b.op("matmul", []*ir.Value{b.in(b.values([]int{4}, -1, 1, 0)), b.w(b.values([]int{2, 4, 3}, -1, 1, 0))}, nil, ir.Type{})
		}},
		conv("basic", []int{2, 3, 6, 6}, []int{4, 3, 3, 3}, true, nil),
		conv("stride-pad-dilation", []int{2, 2, 9, 8}, []int{3, 2, 3, 2}, true,
			ir.Attrs{"strides": ir.Ints(2, 1), "pads": ir.Ints(1, 0, 2, 1), "dilations": ir.Ints(2, 1)}),
		conv("groups", []int{1, 4, 5, 5}, []int{6, 2, 3, 3}, true, ir.Attrs{"group": ir.Int(2), "pads": ir.Ints(1, 1, 1, 1)}),
		conv("depthwise", []int{2, 3, 6, 6}, []int{6, 1, 3, 3}, true, ir.Attrs{"group": ir.Int(3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1)}),
		conv("pointwise", []int{2, 5, 3, 4}, []int{3, 5, 1, 1}, false, nil),
		conv("1d", []int{2, 2, 9}, []int{3, 2, 3}, true, ir.Attrs{"strides": ir.Ints(2), "pads": ir.Ints(1, 1)}),
		conv("3d", []int{1, 2, 4, 4, 3}, []int{2, 2, 2, 3, 2}, true, ir.Attrs{"pads": ir.Ints(0, 1, 0, 1, 0, 1)}),
		conv("lenet", []int{2, 1, 12, 12}, []int{5, 1, 5, 5}, true, nil),
		unary("relu", nil, -1, 1, 0),
		unary("clip", ir.Attrs{"min": ir.Float(0), "max": ir.Float(0.5)}, -1, 1, 0, 0.5),
		unary("sigmoid", nil, -3, 3),
		unary("tanh", nil, -2, 2),
		unary("hardswish", nil, -5, 5, -3, 3),
		unary("leaky_relu", ir.Attrs{"alpha": ir.Float(0.1)}, -1, 1, 0),
		unary("neg", nil, -1, 1),
		unary("exp", nil, -1, 1),
		unary("log", nil, 0.5, 2),
		binary("add", []int{2, 3, 4}, []int{2, 3, 4}, -1, 1),
		binary("add", []int{2, 3, 4}, []int{3, 1}, -1, 1),
		binary("sub", []int{2, 3, 4}, []int{4}, -1, 1),
		binary("sub", []int{3, 1}, []int{2, 3, 4}, -1, 1),
		binary("mul", []int{2, 3, 4}, []int{1, 3, 1}, -1, 1),
		binary("mul", []int{4}, []int{2, 3, 4}, -1, 1),
		binary("div", []int{2, 3, 4}, []int{3, 4}, 0.5, 1.5),
		pool("maxpool", []int{2, 2, 6, 7}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}),
		pool("maxpool", []int{1, 2, 7, 7}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "ceil_mode": ir.Int(1)}),
		pool("avgpool", []int{2, 2, 6, 6}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}),
		pool("avgpool", []int{1, 2, 7, 7}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "count_include_pad": ir.Int(1)}),
		pool("avgpool", []int{1, 2, 7, 7}, ir.Attrs{"kernel": ir.Ints(3, 3), "strides": ir.Ints(2, 2), "pads": ir.Ints(1, 1, 1, 1), "ceil_mode": ir.Int(1)}),
		pool("global_avgpool", []int{2, 3, 4, 5}, nil),
		{"reshape", func(b *gradGraph) *ir.Value {
			x := b.op("tanh", []*ir.Value{b.in(b.values([]int{2, 3, 4}, -1, 1, 0))}, nil, ir.Type{})
			return b.op("reshape", []*ir.Value{x}, nil, f32s(6, 4))
		}},
		{"transpose", func(b *gradGraph) *ir.Value {
			return b.op("transpose", []*ir.Value{b.in(b.values([]int{2, 3, 4}, -1, 1, 0))}, ir.Attrs{"perm": ir.Ints(2, 0, 1)}, ir.Type{})
		}},
		{"concat", func(b *gradGraph) *ir.Value {
			return b.op("concat", []*ir.Value{b.in(b.values([]int{2, 3, 4}, -1, 1, 0)), b.w(b.values([]int{2, 1, 4}, -1, 1, 0)),
				b.in(b.values([]int{2, 2, 4}, -1, 1, 0))}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
		}},
		{"gather/shared-weights", func(b *gradGraph) *ir.Value {
			idx := ir.NewTensor(ir.I64, []int{3, 4})
			for i := range idx.I64 {
				idx.I64[i] = int64(b.rng.Intn(5))
			}
			idx.I64[0] = -1
			code := b.w(b.values([]int{5}, -1, 1, 0))
			return b.op("gather", []*ir.Value{code, b.k(idx)}, ir.Attrs{"axis": ir.Int(0)}, ir.Type{})
		}},
		{"batchnorm", func(b *gradGraph) *ir.Value {
			return b.op("batchnorm", []*ir.Value{b.in(b.values([]int{2, 3, 2, 2}, -1, 1, 0)), b.w(b.values([]int{3}, 0.5, 1.5, 0)),
				b.w(b.values([]int{3}, -1, 1, 0)), b.w(b.values([]int{3}, -0.5, 0.5, 0)), b.w(b.values([]int{3}, 0.5, 1.5, 0))},
				ir.Attrs{"epsilon": ir.Float(1e-3)}, ir.Type{})
		}},
		{"softmax/last", func(b *gradGraph) *ir.Value {
			return b.op("softmax", []*ir.Value{b.in(b.values([]int{3, 5}, -2, 2, 0))}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
		}},
		{"softmax/middle", func(b *gradGraph) *ir.Value {
			return b.op("softmax", []*ir.Value{b.in(b.values([]int{2, 4, 3}, -2, 2, 0))}, ir.Attrs{"axis": ir.Int(1)}, ir.Type{})
		}},
		{"chain/convnet", func(b *gradGraph) *ir.Value {
			// conv → tanh → maxpool → reshape → gemm → sigmoid·x (a small net, every weight checked)
			x := b.in(b.values([]int{2, 1, 8, 8}, -1, 1, 0))
			c := b.op("conv", []*ir.Value{x, b.w(b.values([]int{3, 1, 3, 3}, -1, 1, 0)), b.w(b.values([]int{3}, -1, 1, 0))}, nil, ir.Type{})
			a := b.op("tanh", []*ir.Value{c}, nil, ir.Type{})
			p := b.op("avgpool", []*ir.Value{a}, ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}, ir.Type{})
			f := b.op("reshape", []*ir.Value{p}, nil, f32s(2, 27))
			d := b.op("gemm", []*ir.Value{f, b.w(b.values([]int{4, 27}, -1, 1, 0)), b.w(b.values([]int{4}, -1, 1, 0))}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{})
			s := b.op("sigmoid", []*ir.Value{d}, nil, ir.Type{})
			return b.op("mul", []*ir.Value{s, d}, nil, ir.Type{})
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newGradGraph(t, int64(i+1))
			b.check(c.build(b))
		})
	}
}

// TestGradCoverage lists the ops of the training set that must have gradients.
func TestGradCoverage(t *testing.T) {
	for _, op := range []string{"gemm", "matmul", "conv", "relu", "clip", "sigmoid", "tanh", "hardswish", "maxpool", "avgpool",
		"global_avgpool", "add", "sub", "mul", "div", "reshape", "transpose", "concat", "batchnorm", "softmax", "gather"} {
		if !Differentiable(op) {
			t.Errorf("op %s has no gradient", op)
		}
	}
}

func TestGradLosses(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	logits := ir.NewTensor(ir.F32, []int{4, 6})
	teacher := ir.NewTensor(ir.F32, []int{4, 6})
	for i := range logits.F32 {
		logits.F32[i] = float32(rng.NormFloat64() * 2)
		teacher.F32[i] = float32(rng.NormFloat64() * 3)
	}
	labels := []int{0, 5, 2, 2}
	fns := map[string]func() (float64, *ir.Tensor, error){
		"cross-entropy": func() (float64, *ir.Tensor, error) { return SoftmaxCrossEntropy(logits, labels) },
		"kl/T=1":        func() (float64, *ir.Tensor, error) { return KLDivergence(logits, teacher, 1, 0.25) },
		"kl/T=4":        func() (float64, *ir.Tensor, error) { return KLDivergence(logits, teacher, 4, 0.25) },
		"distill": func() (float64, *ir.Tensor, error) {
			d := Distill{Teacher: func(*Batch) (*ir.Tensor, error) { return teacher, nil }, Temperature: 3, Alpha: 0.7}
			l, g, err := d.Eval(&Batch{Labels: labels}, []*ir.Tensor{logits}, 0.25)
			if err != nil {
				return 0, nil, err
			}
			return l, g[0], nil
		},
	}
	for name, f := range fns {
		_, g, err := f()
		if err != nil {
			t.Fatal(err)
		}
		const eps = 1e-3
		for i := range logits.F32 {
			x0 := logits.F32[i]
			logits.F32[i] = x0 + eps
			lp, _, _ := f()
			logits.F32[i] = x0 - eps
			lm, _, _ := f()
			logits.F32[i] = x0
			num := (lp - lm) / (2 * eps)
			if math.Abs(float64(g.F32[i])-num) > 1e-3+1e-2*math.Abs(num) {
				t.Errorf("%s: d/dlogit[%d] = %v, finite difference %v", name, i, g.F32[i], num)
			}
		}
	}
	// Cross-entropy of uniform logits is log(classes).
	l, _, _ := SoftmaxCrossEntropy(ir.NewTensor(ir.F32, []int{2, 10}), []int{3, 4})
	if math.Abs(l-math.Log(10)) > 1e-9 {
		t.Errorf("uniform cross-entropy = %v, want log 10", l)
	}
	if kl, _, _ := KLDivergence(teacher, teacher, 2, 1); math.Abs(kl) > 1e-9 {
		t.Errorf("KL of equal logits = %v, want 0", kl)
	}
}

func TestGradErrors(t *testing.T) {
	g := ir.NewGraph("e")
	x := g.AddParam("x", f32s(2, 3))
	y, _ := g.Add("erf", []*ir.Value{x}, nil, ir.Type{}, "y", "")
	g.Results = []*ir.Value{y}
	if _, err := NewGrad(g, []*ir.Value{x}); err == nil {
		t.Error("NewGrad through erf: no error")
	}
	if _, err := NewGrad(g, []*ir.Value{y}); err == nil {
		t.Error("NewGrad by a computed value: no error")
	}
	// A wrt value the results do not depend on gets zeros.
	w := g.AddConst("w", ir.NewTensor(ir.F32, []int{3}), nil)
	r, _ := g.Add("relu", []*ir.Value{x}, nil, ir.Type{}, "r", "")
	g.Results = []*ir.Value{r}
	d, err := NewGrad(g, []*ir.Value{x, w})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := d.Forward([]*ir.Tensor{ir.FromF32([]int{2, 3}, []float32{1, -1, 2, -2, 3, -3})})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := tp.Backward([]*ir.Tensor{ir.FromF32([]int{2, 3}, []float32{1, 1, 1, 1, 1, 1})})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 0, 1, 0, 1, 0}
	for i, v := range gs[0].F32 {
		if v != want[i] {
			t.Errorf("relu grad = %v, want %v", gs[0].F32, want)
			break
		}
	}
	if len(gs[1].F32) != 3 || gs[1].F32[0] != 0 {
		t.Errorf("unused weight grad = %v", gs[1].F32)
	}
}

// TestGradFakeQuant checks the straight-through estimator: a quantize →
// dequantize pair passes the gradient unchanged inside the quantized range
// and stops it where quantize saturates.
func TestGradFakeQuant(t *testing.T) {
	g := ir.NewGraph("fq")
	x := g.AddParam("x", f32s(3, 4))
	wt := ir.FromF32([]int{2, 4}, []float32{0.1, -0.2, 0.3, 50, -0.4, 0.05, -60, 0.2})
	w := g.AddConst("w", wt, nil)
	q := &ir.Quant{Axis: 0, Scale: []float32{0.01, 0.02}, ZeroPoint: []int64{0, 0}}
	qw, err := g.Add("quantize", []*ir.Value{w}, nil, ir.Type{DType: ir.I8, Quant: q}, "qw", "")
	if err != nil {
		t.Fatal(err)
	}
	dw, err := g.Add("dequantize", []*ir.Value{qw}, nil, ir.Type{}, "dw", "")
	if err != nil {
		t.Fatal(err)
	}
	y, err := g.Add("gemm", []*ir.Value{x, dw}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{}, "y", "")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*ir.Value{y}
	d, err := NewGrad(g, []*ir.Value{w})
	if err != nil {
		t.Fatal(err)
	}
	xin := ir.FromF32([]int{3, 4}, []float32{1, 2, 3, 4, -1, 0, 1, 2, 0.5, 0.5, 0.5, 0.5})
	tp, err := d.Forward([]*ir.Tensor{xin})
	if err != nil {
		t.Fatal(err)
	}
	ones := ir.NewTensor(ir.F32, []int{3, 2})
	for i := range ones.F32 {
		ones.F32[i] = 1
	}
	gs, err := tp.Backward([]*ir.Tensor{ones})
	if err != nil {
		t.Fatal(err)
	}
	// dL/dw[m][k] = Σ_n x[n][k] inside the range; 50 and -60 saturate (±1.27, ±2.54).
	col := []float32{0.5, 2.5, 4.5, 6.5}
	want := []float32{col[0], col[1], col[2], 0, col[0], col[1], 0, col[3]}
	for i := range want {
		if math.Abs(float64(gs[0].F32[i]-want[i])) > 1e-5 {
			t.Fatalf("fake-quant grad = %v, want %v", gs[0].F32, want)
		}
	}
}
