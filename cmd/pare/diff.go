package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

func isONNX(path string) bool { return strings.ToLower(filepath.Ext(path)) == ".onnx" }

func init() {
	register(&command{
		name: "diff", args: "A B [--input NAME=FILE]...",
		summary: "structural diff of two models or IR dumps: values added, removed, changed",
		detail: `Aligns the values of A and B by name, then by structure, and prints one line
per change: + added, - removed, ~ changed (type, attributes, arguments, and for
weights their shape, sparsity, distinct values and largest difference).
With --input (as pare run takes them), both also run in rt on those inputs,
and every value of B that A has by name is compared with A's: the
signal-to-noise ratio of B's values (dequantized) against A's in dB and the
largest absolute difference, in B's order. Diffing a float model against its
quantized form shows where the quantization loses accuracy, layer by layer.
Exit status: 0 when the graphs are the same, 1 when they differ, 2 on error.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			var inputs multiFlag
			fs.Var(&inputs, "input", "run both on this input and compare their values, `NAME=FILE` (repeatable; FILE alone for one input)")
			return func(pos []string) error {
				if len(pos) != 2 {
					return statusError{2, fmt.Errorf("want two models A B, got %d arguments", len(pos))}
				}
				// --shape and --bind go to the ONNX models of the two (an IR
				// dump of one has its shapes fixed).
				load := func(path string) (*ir.Graph, error) {
					if isONNX(path) || !isONNX(pos[0]) && !isONNX(pos[1]) {
						return mf.load(path)
					}
					return loadModel(path, onnx.Options{})
				}
				a, err := load(pos[0])
				if err != nil {
					return statusError{2, err}
				}
				b, err := load(pos[1])
				if err != nil {
					return statusError{2, err}
				}
				d := ir.Diff(a, b)
				d.Format(stdout)
				if len(inputs) > 0 {
					in, err := readInputs(a, inputs)
					if err != nil {
						return statusError{2, err}
					}
					if err := numericDiff(stdout, a, b, in); err != nil {
						return statusError{2, err}
					}
				}
				if !d.Empty() {
					return exitError{1}
				}
				return nil
			}
		},
	})
}
