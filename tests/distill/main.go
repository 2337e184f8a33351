// Command distill prints pare's knowledge-distillation tables (issue 9):
//
//		go run ./tests/distill [-part table|qat|cross|all] [-train N] [-test N] [-epochs E] [-seed S] [flags]
//
//	  - table: for LeNet-300-100 and LeNet-5 (tests/zoo/*.onnx; mnist-7 when
//	    they are absent), Deep Compression's pipeline without fine-tuning
//	    (prune to the target in one step, share 4 bits; and the same with
//	    int8 quantization before sharing), and with distillation from the
//	    float model: prune 50 %, 75 %, 87.5 %, then the target, distilling
//	    after each, (quantize,) share, distill again (codebook entries and
//	    fake quantization train; pruned weights stay zero): weight bytes,
//	    ratio to f32 and top-1 on the MNIST test images;
//	  - qat: mnist-7 quantized post-training to int8 with the entropy
//	    observer (per channel and per tensor), which loses two points, then
//	    fine-tuned with fake quantization (quantization-aware, straight-through
//	    estimator, the f32 model as teacher): the points int8 loses and how
//	    many QAT recovers (-qatmodel fashion: a 784-100-10 MLP trained here
//	    on Fashion-MNIST instead);
//	  - cross: LeNet-5 as teacher and a student CNN of under a quarter of its
//	    parameters, trained on hard labels (at each -hardlr) vs distilled from
//	    the teacher with no labels (at each -softlr, temperature -temp), same
//	    initialization, seed, data (-ctrain images) and epochs (-cepochs).
//
// Each part runs alone; -train bounds the training images of the table's
// distillation steps (all 60,000 by default), -qattrain those of qat.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

var (
	part     = flag.String("part", "all", "table, qat, cross or all")
	nTrain   = flag.Int("train", 0, "training images of the table's distillation steps (0: per model, 60,000 for LeNet-300-100, 20,000 for LeNet-5)")
	int8     = flag.String("int8", "", "table part: run the int8 pipelines for every model (all), for none (none), or only them (only); default: LeNet-300-100 only (LeNet-5 trains 8× slower in rt)")
	qatTrain = flag.Int("qattrain", 10000, "training images of the qat part")
	nTest    = flag.Int("test", 10000, "test images")
	epochs   = flag.Int("epochs", 1, "epochs per fine-tuning step (the qat part's Fashion-MNIST MLP trains for 2× that)")
	seed     = flag.Uint64("seed", 1, "seed of initializations and shuffling")
	ratio    = flag.Float64("ratio", 0, "prune ratio of the table's pipelines (0: per model, 92.5 % for both LeNets)")
	lr       = flag.Float64("lr", 1e-3, "learning rate of the distillation steps of the table")
	scope    = flag.String("scope", "global", "prune scope of the table's pipelines: global or layer")
	qatLR    = flag.Float64("qatlr", 1e-4, "learning rate of the QAT fine-tuning")
	qatModel = flag.String("qatmodel", "mnist-7", "model of the qat part: mnist-7, fashion or all")
	only     = flag.String("model", "", "table part: only the zoo model whose name contains this (LeNet-300-100 or LeNet-5)")
	cTrain   = flag.Int("ctrain", 60000, "training images of the cross part")
	cEpochs  = flag.Int("cepochs", 1, "training epochs of the cross part's students")
	temp     = flag.Float64("temp", 4, "distillation temperature of the cross part")
	hardLR   = flag.String("hardlr", "2e-3,6e-3", "comma-separated learning rates of the cross part's hard-label students")
	softLR   = flag.String("softlr", "6e-3", "comma-separated learning rates of the cross part's distilled students")
)

func main() {
	flag.Parse()
	if *int8 != "" && *int8 != "all" && *int8 != "none" && *int8 != "only" {
		fmt.Fprintf(os.Stderr, "-int8 %q: want all, none or only\n", *int8)
		os.Exit(2)
	}
	t0 := time.Now()
	run := func(name string, f func() error) {
		if *part != "all" && *part != name {
			return
		}
		if err := f(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
	}
	run("table", table)
	run("qat", qat)
	run("cross", cross)
	fmt.Fprintf(os.Stderr, "done in %s\n", time.Since(t0).Round(time.Second))
}

// model is a trained classifier and the input scale it expects.
type model struct {
	name, path string
	scale      float32
	ratio      float64 // the table's prune ratio
	train      int     // training images of the table's distillation steps
	int8       bool    // the table has the int8 pipelines (-int8 all: every model)
}

func zoo() []model {
	var ms []model
	for _, z := range []model{{"LeNet-300-100", "tests/zoo/lenet300.onnx", 1.0 / 255, 0.925, 60000, true}, {"LeNet-5", "tests/zoo/lenet5.onnx", 1.0 / 255, 0.925, 20000, false}} {
		if _, err := os.Stat(z.path); err == nil {
			ms = append(ms, z)
		} else {
			fmt.Fprintf(os.Stderr, "%s is absent\n", z.path)
		}
	}
	if len(ms) == 0 {
		ms = append(ms, model{"mnist-7 (stand-in: tests/zoo has no LeNet yet)", "../shared/models/onnx/mnist-7/mnist-7.onnx", 1, 0.9, 12000, false})
	}
	return ms
}

// images loads split of MNIST (or Fashion-MNIST) as batch-1 inputs of shape.
func images(fashion bool, split string, limit int, shape []int, scale float32) (*passes.Dataset, error) {
	var s *dataset.Set
	var err error
	if fashion {
		s, err = dataset.FashionMNIST(split)
	} else {
		s, err = dataset.MNIST(split)
	}
	if err != nil {
		return nil, err
	}
	s = s.Limit(limit)
	in, labels, err := s.Tensors(shape, dataset.Preprocess{Scale: scale})
	if err != nil {
		return nil, err
	}
	d := &passes.Dataset{Name: s.Name, Labels: labels}
	for _, x := range in {
		d.Inputs = append(d.Inputs, []*ir.Tensor{x})
	}
	return d, nil
}

func top1(g *ir.Graph, d *passes.Dataset) (float64, error) {
	a, err := passes.Evaluate(g, d, nil)
	return a.Top1Pct(), err
}

// schedule is the table's pipeline with distillation: prune in steps
// (50 %, 75 %, 87.5 %, then the target), distilling from the float model
// after each, then share (after quantize when int8), and distill again,
// training the codebooks (and, when int8, through fake quantization).
func schedule(target float64, int8 bool) []string {
	d := func(e int, lr float64) string { return fmt.Sprintf("distill{epochs=%d,lr=%g,seed=%d}", e, lr, *seed) }
	p := func(r float64) string { return fmt.Sprintf("prune{ratio=%g,scope=%s,min=1000}", r, *scope) }
	steps := []string{"canonicalize"}
	for _, r := range []float64{0.5, 0.75, 0.875} {
		if r < target {
			steps = append(steps, p(r), d(*epochs, *lr))
		}
	}
	steps = append(steps, p(target), d(3**epochs, *lr))
	if int8 {
		steps = append(steps, "quantize")
	}
	return append(steps, "share{bits=4}", d(2**epochs, *lr*0.3))
}

func table() error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\tpipeline\tweight bytes\tratio\ttop-1 %%\tΔ points\t\n")
	for _, m := range zoo() {
		if !strings.Contains(m.name, *only) {
			continue
		}
		g0, err := onnx.Import(m.path, onnx.Options{})
		if err != nil {
			return err
		}
		target := m.ratio
		if *ratio > 0 {
			target = *ratio
		}
		shape := g0.Params[0].Type.Shape
		nt := m.train
		if *nTrain > 0 {
			nt = *nTrain
		}
		train, err := images(false, "train", nt, shape, m.scale)
		if err != nil {
			return err
		}
		test, err := images(false, "test", *nTest, shape, m.scale)
		if err != nil {
			return err
		}
		p := fmt.Sprintf("prune{ratio=%g,scope=%s,min=1000}", target, *scope)
		pct := 100 * target
		rows := []struct {
			name  string
			steps []string
		}{
			{"f32", []string{"canonicalize"}},
			{fmt.Sprintf("prune %g %% → share 4 bits", pct), []string{"canonicalize", p, "share{bits=4}"}},
			{fmt.Sprintf("  prune 50 → … → %g %%, share 4 bits, distilling after each", pct), schedule(target, false)},
		}
		if *int8 == "only" {
			rows = rows[:1]
		}
		if *int8 == "all" || *int8 == "only" || *int8 == "" && m.int8 {
			rows = append(rows, []struct {
				name  string
				steps []string
			}{
				{fmt.Sprintf("prune %g %% → quantize → share 4 bits", pct), []string{"canonicalize", p, "quantize", "share{bits=4}"}},
				{fmt.Sprintf("  prune 50 → … → %g %%, quantize, share 4 bits, distilling after each", pct), schedule(target, true)},
			}...)
		}
		var fb int64
		var ft float64
		for i, r := range rows {
			t0 := time.Now()
			g := g0.Clone()
			ctx := &passes.Context{Data: train, Teacher: g0}
			for _, st := range r.steps {
				if _, err := passes.RunSpec(g, st, ctx); err != nil {
					return fmt.Errorf("%s: %s: %v", m.name, st, err)
				}
				if strings.HasPrefix(st, "distill") || strings.HasPrefix(st, "share") {
					acc, err := top1(g, test)
					if err != nil {
						return err
					}
					fmt.Fprintf(os.Stderr, "%s: %s: %.2f %% (%s)\n", m.name, st, acc, time.Since(t0).Round(time.Second))
				}
			}
			acc, err := top1(g, test)
			if err != nil {
				return err
			}
			b := ir.GraphCost(g).Bytes
			if i == 0 {
				fb, ft = b, acc
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f×\t%.2f\t%+.2f\t\n", m.name, r.name, b, float64(fb)/float64(b), acc, acc-ft)
			if i == len(rows)-1 {
				fmt.Fprintf(tw, "%s\t(distillation on %d training images)\t\t\t\t\t\n", m.name, nt)
			}
			fmt.Fprintf(os.Stderr, "%s: %s\n  → %.2f %%, %d bytes (%s)\n", m.name, strings.Join(r.steps, ","), acc, b, time.Since(t0).Round(time.Second))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("(prune scope %s; distillation: %d epoch(s) per step (3× after the last prune, 2× after share), Adam %g cosine-decayed (×0.3 after share), T = 4, alpha 0.7, seed %d; top-1 on %d test images)\n\n", *scope, *epochs, *lr, *seed, *nTest)
	return nil
}

// net builds small classifiers as IR graphs over weights shared by every
// batch size.
type net struct {
	g   *ir.Graph
	err error
	r   *rt.Rand
}

func newNet(name string, r *rt.Rand) (*net, *ir.Value) {
	n := &net{g: ir.NewGraph(name), r: r}
	return n, n.g.AddParam("input", ir.Type{DType: ir.F32, Shape: []int{1, 1, 28, 28}})
}

func (n *net) op(name string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) *ir.Value {
	if n.err != nil {
		return nil
	}
	v, err := n.g.Add(name, args, attrs, hint, name, name)
	n.err = err
	return v
}

// weight is uniform in ±sqrt(3/fan_in) (Caffe's xavier); biases are zero.
func (n *net) weight(name string, fanIn int, shape ...int) *ir.Value {
	t := ir.NewTensor(ir.F32, shape)
	n.r.Uniform(t.F32, float32(math.Sqrt(3/float64(fanIn))))
	return n.g.AddConst(name, t, nil)
}

func (n *net) bias(name string, k int) *ir.Value {
	return n.g.AddConst(name, ir.NewTensor(ir.F32, []int{k}), nil)
}

func (n *net) dense(x *ir.Value, in, out int, name string) *ir.Value {
	return n.op("gemm", []*ir.Value{x, n.weight(name+".w", in, out, in), n.bias(name+".b", out)}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{})
}

func (n *net) conv(x *ir.Value, in, out, k int, name string) *ir.Value {
	return n.op("conv", []*ir.Value{x, n.weight(name+".w", in*k*k, out, in, k, k), n.bias(name+".b", out)}, nil, ir.Type{})
}

func (n *net) done(y *ir.Value) (*ir.Graph, error) {
	if n.err != nil {
		return nil, n.err
	}
	n.g.Results = []*ir.Value{y}
	return n.g, ir.Verify(n.g)
}

// mlp is dense 784-hidden-10 with ReLU.
func mlp(hidden int, seed uint64) (*ir.Graph, error) {
	n, x := newNet("mlp", rt.NewRand(seed))
	h := n.op("reshape", []*ir.Value{x}, nil, ir.Type{DType: ir.F32, Shape: []int{1, 784}})
	h = n.op("relu", []*ir.Value{n.dense(h, 784, hidden, "fc1")}, nil, ir.Type{})
	return n.done(n.dense(h, hidden, 10, "fc2"))
}

// smallCNN is conv 5×5×6, max-pool 2, conv 5×5×12, max-pool 2, dense
// 192-64, ReLU, dense 64-10: 14,970 parameters (LeNet-5 has 431,080).
func smallCNN(seed uint64) (*ir.Graph, error) {
	n, x := newNet("cnn", rt.NewRand(seed))
	pool := ir.Attrs{"kernel": ir.Ints(2, 2), "strides": ir.Ints(2, 2)}
	h := n.op("relu", []*ir.Value{n.conv(x, 1, 6, 5, "conv1")}, nil, ir.Type{})
	h = n.op("maxpool", []*ir.Value{h}, pool, ir.Type{})
	h = n.op("relu", []*ir.Value{n.conv(h, 6, 12, 5, "conv2")}, nil, ir.Type{})
	h = n.op("maxpool", []*ir.Value{h}, pool, ir.Type{})
	h = n.op("reshape", []*ir.Value{h}, nil, ir.Type{DType: ir.F32, Shape: []int{1, 192}})
	h = n.op("relu", []*ir.Value{n.dense(h, 192, 64, "fc1")}, nil, ir.Type{})
	return n.done(n.dense(h, 64, 10, "fc2"))
}

func params(g *ir.Graph) int {
	n := 0
	for _, v := range g.Values {
		if v.IsConst() {
			n += v.Const.Len()
		}
	}
	return n
}

// fit trains g in place (through rt.Lift / rt.FineTune, which also serve
// plain float graphs).
func fit(g *ir.Graph, data *passes.Dataset, cfg rt.FineTuneConfig) error {
	s, err := rt.Lift(g)
	if err != nil {
		return err
	}
	cfg.Log = os.Stderr
	_, err = rt.FineTune(s, passes.DatasetExamples(data), cfg)
	return err
}

// qatCase is a float model, its data and the post-training quantizations
// QAT starts from.
type qatCase struct {
	name    string
	fashion bool
	scale   float32
	float   func(train *passes.Dataset) (*ir.Graph, error)
	specs   []string
}

func qatCases() []qatCase {
	var cs []qatCase
	if *qatModel == "mnist-7" || *qatModel == "all" {
		cs = append(cs, qatCase{"mnist-7 (ONNX zoo), MNIST", false, 1, func(*passes.Dataset) (*ir.Graph, error) {
			return onnx.Import("../shared/models/onnx/mnist-7/mnist-7.onnx", onnx.Options{})
		}, []string{"canonicalize,quantize{calib=entropy}", "canonicalize,quantize{calib=entropy,per-tensor}"}})
	}
	if *qatModel == "fashion" || *qatModel == "all" {
		cs = append(cs, qatCase{"MLP 784-100-10, Fashion-MNIST", true, 1.0 / 255, func(train *passes.Dataset) (*ir.Graph, error) {
			f, err := mlp(100, *seed)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "qat: training a 784-100-10 MLP on %d Fashion-MNIST images\n", train.Len())
			return f, fit(f, train, rt.FineTuneConfig{Epochs: 2 * *epochs, LR: 2e-3, Seed: *seed})
		}, []string{"canonicalize,quantize", "canonicalize,quantize{per-tensor}"}})
	}
	return cs
}

func qat() error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\tint8 pipeline\ttop-1 %%\tΔ points\trecovered\t\n")
	for _, c := range qatCases() {
		shape := []int{1, 1, 28, 28}
		train, err := images(c.fashion, "train", *qatTrain, shape, c.scale)
		if err != nil {
			return err
		}
		test, err := images(c.fashion, "test", *nTest, shape, c.scale)
		if err != nil {
			return err
		}
		calib := &passes.Dataset{Inputs: train.Inputs[:min(1000, train.Len())], Labels: train.Labels[:min(1000, train.Len())]}
		f, err := c.float(train)
		if err != nil {
			return err
		}
		if _, err := passes.RunSpec(f, "canonicalize", &passes.Context{}); err != nil {
			return err
		}
		ft, err := top1(f, test)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\tf32\t%.2f\t\t\t\n", c.name, ft)
		for _, spec := range c.specs {
			t0 := time.Now()
			g := f.Clone()
			if _, err := passes.RunSpec(g, spec, &passes.Context{Data: calib}); err != nil {
				return err
			}
			pt, err := top1(g, test)
			if err != nil {
				return err
			}
			s, err := rt.Lift(g)
			if err != nil {
				return err
			}
			_, err = rt.FineTune(s, passes.DatasetExamples(train), rt.FineTuneConfig{Teacher: f, Epochs: *epochs, LR: float32(*qatLR), Seed: *seed, Log: os.Stderr})
			if err != nil {
				return err
			}
			qt, err := top1(g, test)
			if err != nil {
				return err
			}
			rec := "-"
			if lost := ft - pt; lost > 0 {
				rec = fmt.Sprintf("%.0f %%", 100*(qt-pt)/lost)
			}
			fmt.Fprintf(os.Stderr, "qat: %s: %s: %.2f → %.2f %% (%s)\n", c.name, spec, pt, qt, time.Since(t0).Round(time.Second))
			fmt.Fprintf(tw, "\t%s (post-training)\t%.2f\t%+.2f\t\t\n", spec, pt, pt-ft)
			fmt.Fprintf(tw, "\t  + QAT (fake quant, STE, teacher = f32)\t%.2f\t%+.2f\t%s\t\n", qt, qt-ft, rec)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("(QAT: %d training images, %d epoch(s), Adam %g cosine-decayed, seed %d; calibration on 1,000 training images; %d test images)\n\n", min(*qatTrain, 60000), *epochs, *qatLR, *seed, *nTest)
	return nil
}

func cross() error {
	ms := zoo()
	t := ms[len(ms)-1] // LeNet-5 when present
	teacher, err := onnx.Import(t.path, onnx.Options{})
	if err != nil {
		return err
	}
	shape := teacher.Params[0].Type.Shape
	train, err := images(false, "train", *cTrain, shape, t.scale)
	if err != nil {
		return err
	}
	test, err := images(false, "test", *nTest, shape, t.scale)
	if err != nil {
		return err
	}
	tt, err := top1(teacher, test)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\tparameters\ttraining\ttop-1 %%\t\n")
	fmt.Fprintf(tw, "%s (teacher)\t%d\t\t%.2f\t\n", t.name, params(teacher), tt)
	type run struct {
		distill bool
		lr      float64
	}
	var runs []run
	for _, d := range []struct {
		distill bool
		lrs     string
	}{{false, *hardLR}, {true, *softLR}} {
		for _, f := range strings.Split(d.lrs, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return fmt.Errorf("learning rate %q: %v", f, err)
			}
			runs = append(runs, run{d.distill, x})
		}
	}
	for _, r := range runs {
		s, err := smallCNN(*seed)
		if err != nil {
			return err
		}
		cfg := rt.FineTuneConfig{Epochs: *cEpochs, LR: float32(r.lr), Seed: *seed}
		how := fmt.Sprintf("hard labels (cross-entropy), lr %g", r.lr)
		if r.distill {
			cfg.Teacher, cfg.NoLabels, cfg.Temperature = teacher, true, float32(*temp)
			how = fmt.Sprintf("distilled, no labels (T=%g, T²·KL), lr %g", *temp, r.lr)
		}
		fmt.Fprintf(os.Stderr, "cross: student %s\n", how)
		t0 := time.Now()
		if err := fit(s, train, cfg); err != nil {
			return err
		}
		st, err := top1(s, test)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "cross: %s: %.2f %% (%s)\n", how, st, time.Since(t0).Round(time.Second))
		fmt.Fprintf(tw, "student CNN (%.1f%% of the teacher)\t%d\t%s\t%.2f\t\n", 100*float64(params(s))/float64(params(teacher)), params(s), how, st)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("(%d training images, %d epochs, Adam cosine-decayed, batch 64, seed %d; %d test images)\n\n", train.Len(), *cEpochs, *seed, test.Len())
	return nil
}
