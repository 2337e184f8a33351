package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "check", args: "[--backend rt] [--rtol R] [--atol A] DIR...",
		summary: "run ONNX backend-test folders (model.onnx + test_data_set_N) and compare outputs",
		detail: `A DIR is one test (it holds model.onnx) or a folder of tests. Symbolic input
dimensions are bound from each test's own input tensors, and inputs the
compiler needs as constants (shapes, quantization parameters, clip bounds) are
bound from them too. Outputs compare as numpy's allclose:
|got - want| <= atol + rtol * |want|.
Prints one line per test (pass, FAIL with the worst difference, or unsupported
with the reason) and a summary line; exits 1 when any test failed.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			rtol := fs.Float64("rtol", 1e-3, "relative tolerance")
			atol := fs.Float64("atol", 1e-7, "absolute tolerance")
			backend := fs.String("backend", "rt", "execution backend: "+backendNames())
			verbose := fs.Bool("v", false, "print the reason of every result")
			return func(pos []string) error {
				if len(pos) == 0 {
					return fmt.Errorf("want at least one DIR")
				}
				var tests []string
				for _, d := range pos {
					t, err := findTests(d)
					if err != nil {
						return err
					}
					tests = append(tests, t...)
				}
				c := checker{rtol: *rtol, atol: *atol, backend: *backend}
				sum := c.runAll(stdout, tests, *verbose)
				if sum.failed > 0 {
					return exitError{1}
				}
				return nil
			}
		},
	})
}

// findTests returns DIR if it holds model.onnx, else its subfolders that do.
func findTests(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err == nil {
		return []string{dir}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "model.onnx")); e.IsDir() && err == nil {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no model.onnx in it or its subfolders", dir)
	}
	sort.Strings(out)
	return out, nil
}

type checker struct {
	rtol, atol float64
	backend    string
}

type checkSummary struct{ passed, failed, unsupported int }

// result of one test: status is "pass", "FAIL" or "unsupported".
type checkResult struct {
	status, detail string
}

func (c checker) runAll(w io.Writer, tests []string, verbose bool) checkSummary {
	var s checkSummary
	for _, t := range tests {
		r := c.runTest(t)
		switch r.status {
		case "pass":
			s.passed++
		case "FAIL":
			s.failed++
		default:
			s.unsupported++
		}
		line := fmt.Sprintf("%-11s %s", r.status, filepath.Base(t))
		if r.detail != "" && (r.status != "pass" || verbose) {
			line += ": " + r.detail
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d unsupported\n", s.passed, s.failed, s.unsupported)
	return s
}

func isUnsupported(err error) bool {
	var u *onnx.UnsupportedError
	return errors.As(err, &u)
}

func (c checker) runTest(dir string) (res checkResult) {
	defer func() {
		if p := recover(); p != nil {
			res = checkResult{"FAIL", fmt.Sprintf("panic: %v", p)}
		}
	}()
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return checkResult{"FAIL", "no test_data_set_N folders"}
	}
	sort.Strings(sets)
	fail := func(err error) checkResult {
		if isUnsupported(err) {
			return checkResult{"unsupported", err.Error()}
		}
		return checkResult{"FAIL", err.Error()}
	}
	for _, set := range sets {
		inputs, err := readPBs(set, "input_")
		if err != nil {
			return fail(err)
		}
		wants, err := readPBs(set, "output_")
		if err != nil {
			return fail(err)
		}
		if err := nameInputs(filepath.Join(dir, "model.onnx"), inputs); err != nil {
			return fail(err)
		}
		g, err := importForTest(filepath.Join(dir, "model.onnx"), inputs)
		if err != nil {
			return fail(err)
		}
		var in []*ir.Tensor
		for _, p := range g.Params {
			t := findNamed(inputs, p.Source)
			if t == nil {
				return checkResult{"FAIL", fmt.Sprintf("no test input for parameter %s", p.Source)}
			}
			in = append(in, t.t)
		}
		exec, err := prepare(c.backend, g)
		if err != nil {
			return fail(err)
		}
		outs, err := exec(in)
		if err != nil {
			return fail(err)
		}
		if len(outs) != len(wants) {
			return checkResult{"FAIL", fmt.Sprintf("%d outputs, test expects %d", len(outs), len(wants))}
		}
		for i, want := range wants {
			if msg := c.compare(outs[i], want.t); msg != "" {
				return checkResult{"FAIL", fmt.Sprintf("%s: output %d %q: %s", filepath.Base(set), i, want.name, msg)}
			}
		}
	}
	return checkResult{"pass", ""}
}

type namedTensor struct {
	name string
	t    *ir.Tensor
}

func findNamed(ts []namedTensor, name string) *namedTensor {
	for i := range ts {
		if ts[i].name == name {
			return &ts[i]
		}
	}
	return nil
}

// readPBs reads PREFIX0.pb, PREFIX1.pb ... in order.
func readPBs(dir, prefix string) ([]namedTensor, error) {
	var out []namedTensor
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%s%d.pb", prefix, i))
		if _, err := os.Stat(p); err != nil {
			return out, nil
		}
		name, t, err := onnx.ReadTensorFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, namedTensor{name, t})
	}
}

// nameInputs names test inputs whose TensorProto has no name after the
// model's graph inputs, by position (initializers excluded).
func nameInputs(model string, inputs []namedTensor) error {
	names, err := onnx.InputNames(model)
	if err != nil {
		return err
	}
	for i := range inputs {
		if inputs[i].name == "" && i < len(names) {
			inputs[i].name = names[i]
		}
	}
	return nil
}

// importForTest imports a test model with its input shapes bound from the
// test data, binding as constants the inputs the importer needs that way.
func importForTest(path string, inputs []namedTensor) (*ir.Graph, error) {
	opts := onnx.Options{Shapes: map[string][]int{}, Bind: map[string]*ir.Tensor{}}
	for _, in := range inputs {
		opts.Shapes[in.name] = in.t.Shape
	}
	g, err := onnx.Import(path, opts)
	var need *onnx.NeedConstError
	if errors.As(err, &need) {
		for _, n := range need.Inputs {
			t := findNamed(inputs, n)
			if t == nil {
				return nil, err
			}
			opts.Bind[n] = t.t
		}
		g, err = onnx.Import(path, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	return g, nil
}

// compare returns "" when got matches want within the tolerances, else the
// worst mismatch.
func (c checker) compare(got, want *ir.Tensor) string {
	if got.DType != want.DType {
		return fmt.Sprintf("dtype %v, want %v", got.DType, want.DType)
	}
	if !ir.EqualShape(got.Shape, want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	worst, at, bad := 0.0, -1, 0
	for i := 0; i < got.Len(); i++ {
		g, w := got.At(i), want.At(i)
		if math.IsNaN(g) && math.IsNaN(w) || g == w {
			continue
		}
		d := math.Abs(g - w)
		if math.IsNaN(d) || d > c.atol+c.rtol*math.Abs(w) {
			bad++
			if math.IsNaN(d) || d > worst || at < 0 {
				worst, at = d, i
			}
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements differ; worst |Δ| %.3g at %d (got %.6g, want %.6g)",
		bad, got.Len(), worst, at, got.At(at), want.At(at))
}
