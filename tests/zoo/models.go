package main

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// The two networks of Deep Compression's Table 1, as IR graphs over
// weights shared by every batch size: training, evaluation and the batch-1
// inference graph all read (and training writes) the same tensors.

// weight is one trainable tensor of a model.
type weight struct {
	name    string
	t       *ir.Tensor
	fanIn   int
	noDecay bool // biases
}

// model is a network: its weights and a builder of its graph for a batch size.
type model struct {
	name    string
	title   string
	weights []*weight
	build   func(n int) (*ir.Graph, error)
}

// Params counts the model's parameters.
func (m *model) Params() int {
	n := 0
	for _, w := range m.weights {
		n += w.t.Len()
	}
	return n
}

// init fills the weights: uniform in ±sqrt(3/fan_in) (Caffe's "xavier"
// filler, which LeNet's Caffe model uses), biases zero; from the seed alone.
func (m *model) init(seed uint64) {
	r := rt.NewRand(seed)
	for _, w := range m.weights {
		if w.noDecay {
			clear(w.t.F32)
			continue
		}
		r.Uniform(w.t.F32, float32(math.Sqrt(3/float64(w.fanIn))))
	}
}

// trainParams lists the weights as training parameters of g (the consts
// of g holding them).
func (m *model) trainParams(g *ir.Graph) ([]*rt.Param, error) {
	var ps []*rt.Param
	for _, w := range m.weights {
		var v *ir.Value
		for _, c := range g.Values {
			if c.IsConst() && c.Const == w.t {
				v = c
			}
		}
		if v == nil {
			return nil, fmt.Errorf("%s: weight %s is not in the graph", m.name, w.name)
		}
		ps = append(ps, &rt.Param{V: v, NoDecay: w.noDecay})
	}
	return ps, nil
}

func newWeight(name string, fanIn int, noDecay bool, shape ...int) *weight {
	return &weight{name: name, t: ir.NewTensor(ir.F32, shape), fanIn: fanIn, noDecay: noDecay}
}

// gb builds a graph, keeping the first error.
type gb struct {
	g   *ir.Graph
	err error
}

func (b *gb) op(name string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, vname string) *ir.Value {
	if b.err != nil {
		return nil
	}
	v, err := b.g.Add(name, args, attrs, hint, vname, vname)
	if err != nil {
		b.err = err
	}
	return v
}

func (b *gb) w(w *weight) *ir.Value { return b.g.AddConst(w.name, w.t, nil) }

func (b *gb) dense(x *ir.Value, w, bias *weight, name string) *ir.Value {
	return b.op("gemm", []*ir.Value{x, b.w(w), b.w(bias)}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{}, name)
}

// inputType is the shape every zoo model takes: MNIST images, NCHW, pixel/255.
func inputType(n int) ir.Type { return ir.Type{DType: ir.F32, Shape: []int{n, 1, 28, 28}} }

// lenet300 is LeNet-300-100: dense 784-300-100-10 with ReLU, 266,610 parameters.
func lenet300() *model {
	m := &model{name: "lenet300", title: "LeNet-300-100"}
	w1, b1 := newWeight("ip1.w", 784, false, 300, 784), newWeight("ip1.b", 784, true, 300)
	w2, b2 := newWeight("ip2.w", 300, false, 100, 300), newWeight("ip2.b", 300, true, 100)
	w3, b3 := newWeight("ip3.w", 100, false, 10, 100), newWeight("ip3.b", 100, true, 10)
	m.weights = []*weight{w1, b1, w2, b2, w3, b3}
	m.build = func(n int) (*ir.Graph, error) {
		b := &gb{g: ir.NewGraph("lenet300")}
		x := b.g.AddParam("input", inputType(n))
		f := b.op("reshape", []*ir.Value{x}, nil, ir.Type{DType: ir.F32, Shape: []int{n, 784}}, "flatten")
		h := b.op("relu", []*ir.Value{b.dense(f, w1, b1, "ip1")}, nil, ir.Type{}, "relu1")
		h = b.op("relu", []*ir.Value{b.dense(h, w2, b2, "ip2")}, nil, ir.Type{}, "relu2")
		y := b.dense(h, w3, b3, "logits")
		if b.err != nil {
			return nil, b.err
		}
		b.g.Results = []*ir.Value{y}
		return b.g, ir.Verify(b.g)
	}
	return m
}

// lenet5 is Caffe's LeNet-5: conv 5×5×20, max-pool 2, conv 5×5×50,
// max-pool 2, dense 800-500, ReLU, dense 500-10; 431,080 parameters.
func lenet5() *model {
	m := &model{name: "lenet5", title: "LeNet-5"}
	c1, cb1 := newWeight("conv1.w", 25, false, 20, 1, 5, 5), newWeight("conv1.b", 25, true, 20)
	c2, cb2 := newWeight("conv2.w", 500, false, 50, 20, 5, 5), newWeight("conv2.b", 500, true, 50)
	w1, b1 := newWeight("ip1.w", 800, false, 500, 800), newWeight("ip1.b", 800, true, 500)
	w2, b2 := newWeight("ip2.w", 500, false, 10, 500), newWeight("ip2.b", 500, true, 10)
	m.weights = []*weight{c1, cb1, c2, cb2, w1, b1, w2, b2}
	pool := ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}
	m.build = func(n int) (*ir.Graph, error) {
		b := &gb{g: ir.NewGraph("lenet5")}
		x := b.g.AddParam("input", inputType(n))
		h := b.op("conv", []*ir.Value{x, b.w(c1), b.w(cb1)}, nil, ir.Type{}, "conv1")
		h = b.op("maxpool", []*ir.Value{h}, pool, ir.Type{}, "pool1")
		h = b.op("conv", []*ir.Value{h, b.w(c2), b.w(cb2)}, nil, ir.Type{}, "conv2")
		h = b.op("maxpool", []*ir.Value{h}, pool, ir.Type{}, "pool2")
		h = b.op("reshape", []*ir.Value{h}, nil, ir.Type{DType: ir.F32, Shape: []int{n, 800}}, "flatten")
		h = b.op("relu", []*ir.Value{b.dense(h, w1, b1, "ip1")}, nil, ir.Type{}, "relu1")
		y := b.dense(h, w2, b2, "logits")
		if b.err != nil {
			return nil, b.err
		}
		b.g.Results = []*ir.Value{y}
		return b.g, ir.Verify(b.g)
	}
	return m
}

// mnist adapts a dataset.Set to rt.Examples: pixels scaled to [0, 1] (pixel/255).
type mnist struct{ s *dataset.Set }

func (m mnist) Len() int { return m.s.N }

func (m mnist) Example(i int, dst []float32) int {
	for j, p := range m.s.Image(i) {
		dst[j] = float32(p) / 255
	}
	return int(m.s.Labels[i])
}
