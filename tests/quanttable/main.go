// Command quanttable compares pare's post-training int8 quantization
// settings on mnist-7: calibration methods, per-channel vs per-tensor
// weights, bias correction. It prints one table: top-1 on the MNIST test
// images and weight bytes.
//
//	go run ./tests/quanttable [-model PATH] [-calib 1000] [-limit 10000]
package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

func load(split string, n int) (*passes.Dataset, error) {
	s, err := dataset.MNIST(split)
	if err != nil {
		return nil, err
	}
	in, labels, err := s.Limit(n).Tensors([]int{1, 1, 28, 28}, dataset.Preprocess{Scale: 1})
	if err != nil {
		return nil, err
	}
	d := &passes.Dataset{Name: s.Name, Labels: labels}
	for _, x := range in {
		d.Inputs = append(d.Inputs, []*ir.Tensor{x})
	}
	return d, nil
}

func main() {
	model := flag.String("model", "../shared/models/onnx/mnist-7/mnist-7.onnx", "ONNX model taking raw MNIST pixels")
	nCalib := flag.Int("calib", 1000, "calibration images from MNIST train")
	limit := flag.Int("limit", 10000, "test images")
	flag.Parse()
	if err := run(*model, *nCalib, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "quanttable:", err)
		os.Exit(1)
	}
}

func run(model string, nCalib, limit int) error {
	calib, err := load("train", nCalib)
	if err != nil {
		return err
	}
	test, err := load("test", limit)
	if err != nil {
		return err
	}
	base, err := onnx.Import(model, onnx.Options{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\ttop-1 %\tΔ points\tweight bytes\tratio\t")
	fa, err := passes.Evaluate(base, test, nil)
	if err != nil {
		return err
	}
	fb := ir.GraphCost(base).Bytes
	fmt.Fprintf(tw, "f32\t%.2f\t\t%d\t1.00×\t\n", fa.Top1Pct(), fb)
	specs := []string{
		"quantize{calib=minmax}",
		"quantize{calib=percentile:99.99}",
		"quantize{calib=percentile:99.9}",
		"quantize{calib=entropy}",
		"quantize{calib=mse}",
		"quantize{calib=minmax,per-tensor}",
		"quantize{calib=entropy,per-tensor}",
		"quantize{calib=minmax,per-tensor,bias-correction}",
		"quantize{calib=minmax,bias-correction}",
		"quantize{calib=minmax,a=uint8}",
		"quantize{calib=minmax,scheme=sym}",
		"quantize{calib=minmax,rq=fixed}",
		"quantize{calib=minmax,pair-bound}",
		"quantize{calib=minmax,per-tensor,pair-bound}",
	}
	for _, s := range specs {
		g := base.Clone()
		if _, err := passes.RunSpec(g, "canonicalize,"+s+",fuse", &passes.Context{Data: calib}); err != nil {
			return fmt.Errorf("%s: %v", s, err)
		}
		a, err := passes.Evaluate(g, test, nil)
		if err != nil {
			return err
		}
		b := ir.GraphCost(g).Bytes
		fmt.Fprintf(tw, "%s\t%.2f\t%+.2f\t%d\t%.2f×\t\n", s, a.Top1Pct(), a.Top1Pct()-fa.Top1Pct(), b, float64(fb)/float64(b))
	}
	tw.Flush()
	fmt.Printf("mnist-7, %d calibration images (MNIST train), %d test images; pipeline canonicalize,<row>,fuse\n", calib.Len(), test.Len())
	return nil
}
