// Command onnxgo turns the ONNX operator conformance tests that the Go
// module github.com/owulveryck/onnx-go v0.5.0 carries (its
// backend/testbackend/onnx package: ONNX 1.5's node tests, opsets 1 to 10,
// generated as Go source) back into ONNX backend-test folders —
// model.onnx and test_data_set_0/{input,output}_N.pb — that `pare check`
// runs. `make onnx-go-node` fetches the module and runs this into
// .cache/onnx-go-node; cmd/pare's TestConformanceOnnxGo checks rt and the
// compiled backends on them.
//
// The generated source keeps each model's bytes exactly, but writes every
// tensor as a Go slice of float32, float64, int, int32 or int64 and loses
// rank-0 shapes; the tensors are converted to the dtype and shape the model
// declares for its inputs and outputs.
//
// Usage: go run ./tests/onnxgo SRC_DIR OUT_DIR
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: onnxgo SRC_DIR OUT_DIR (SRC_DIR: onnx-go's backend/testbackend/onnx)")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(os.Args[1], "onnx_test_*.go"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no onnx_test_*.go files in %s", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "onnxgo:", err)
		os.Exit(1)
	}
	n, bad := 0, 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if err := convert(f, os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "onnxgo: %s: %v\n", filepath.Base(f), err)
			bad++
			continue
		}
		n++
	}
	fmt.Printf("onnxgo: %d tests written to %s\n", n, os.Args[2])
	if bad > 0 {
		os.Exit(1)
	}
}

// testCase is one parsed TestCase literal.
type testCase struct {
	model     []byte
	ins, outs []*ir.Tensor
}

func convert(path, dst string) error {
	tc, err := parse(path)
	if err != nil {
		return err
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(tc.model, &m); err != nil {
		return fmt.Errorf("model: %v", err)
	}
	g := m.GetGraph()
	name := g.GetName()
	if !strings.HasPrefix(name, "test_") {
		return fmt.Errorf("graph name %q is not a test name", name)
	}
	init := map[string]bool{}
	for _, t := range g.GetInitializer() {
		init[t.GetName()] = true
	}
	var ins []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if !init[in.GetName()] {
			ins = append(ins, in)
		}
	}
	if len(ins) != len(tc.ins) || len(g.GetOutput()) != len(tc.outs) {
		return fmt.Errorf("%d inputs and %d outputs for a graph of %d and %d", len(tc.ins), len(tc.outs), len(ins), len(g.GetOutput()))
	}
	dir := filepath.Join(dst, name)
	data := filepath.Join(dir, "test_data_set_0")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), tc.model, 0o644); err != nil {
		return err
	}
	write := func(kind string, i int, vi *onnxpb.ValueInfoProto, t *ir.Tensor) error {
		t, err := declared(vi, t)
		if err != nil {
			return fmt.Errorf("%s %q: %v", kind, vi.GetName(), err)
		}
		b, err := proto.Marshal(onnx.EncodeTensor(vi.GetName(), t))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(data, fmt.Sprintf("%s_%d.pb", kind, i)), b, 0o644)
	}
	for i, vi := range ins {
		if err := write("input", i, vi, tc.ins[i]); err != nil {
			return err
		}
	}
	for i, vi := range g.GetOutput() {
		if err := write("output", i, vi, tc.outs[i]); err != nil {
			return err
		}
	}
	return nil
}

// elemTypes maps ONNX element types to the dtypes tensors are written in
// (DOUBLE stays f32 here: pare reports the model's DOUBLE itself).
var elemTypes = map[int32]ir.DType{1: ir.F32, 2: ir.U8, 3: ir.I8, 5: ir.I16, 6: ir.I32, 7: ir.I64, 9: ir.Bool, 11: ir.F32}

// declared converts t to the dtype the model declares and, when every dim
// is declared and the element count agrees, to its shape.
func declared(vi *onnxpb.ValueInfoProto, t *ir.Tensor) (*ir.Tensor, error) {
	tt := vi.GetType().GetTensorType()
	dt, ok := elemTypes[tt.GetElemType()]
	if !ok {
		dt = t.DType
	}
	out := ir.NewTensor(dt, t.Shape)
	for j := 0; j < t.Len(); j++ {
		out.Set(j, t.At(j))
	}
	if tt.GetShape() == nil {
		return out, nil
	}
	shape := []int{}
	for _, d := range tt.GetShape().GetDim() {
		if d.GetDimParam() != "" || d.GetDimValue() <= 0 {
			return out, nil
		}
		shape = append(shape, int(d.GetDimValue()))
	}
	if ir.NumElements(shape) != out.Len() {
		return nil, fmt.Errorf("%d elements for the declared shape %v", out.Len(), shape)
	}
	out.Shape = shape
	return out, nil
}

// parse reads the TestCase composite literal of one generated file.
func parse(path string) (*testCase, error) {
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	var lit *ast.CompositeLit
	ast.Inspect(file, func(n ast.Node) bool {
		if c, ok := n.(*ast.CompositeLit); ok && lit == nil {
			if s, ok := c.Type.(*ast.SelectorExpr); ok && s.Sel.Name == "TestCase" {
				lit = c
				return false
			}
		}
		return true
	})
	if lit == nil {
		return nil, fmt.Errorf("no testbackend.TestCase literal")
	}
	tc := &testCase{}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, _ := kv.Key.(*ast.Ident)
		if key == nil {
			continue
		}
		var err error
		switch key.Name {
		case "ModelB":
			tc.model, err = bytesOf(kv.Value)
		case "Input":
			tc.ins, err = tensorsOf(kv.Value)
		case "ExpectedOutput":
			tc.outs, err = tensorsOf(kv.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", key.Name, err)
		}
	}
	if tc.model == nil {
		return nil, fmt.Errorf("no ModelB")
	}
	return tc, nil
}

func bytesOf(e ast.Expr) ([]byte, error) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, fmt.Errorf("not a []byte literal")
	}
	b := make([]byte, 0, len(cl.Elts))
	for _, x := range cl.Elts {
		s, err := number(x)
		if err != nil {
			return nil, err
		}
		v, err := strconv.ParseUint(s, 0, 8)
		if err != nil {
			return nil, err
		}
		b = append(b, byte(v))
	}
	return b, nil
}

func tensorsOf(e ast.Expr) ([]*ir.Tensor, error) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, fmt.Errorf("not a []tensor.Tensor literal")
	}
	var ts []*ir.Tensor
	for _, x := range cl.Elts {
		call, ok := x.(*ast.CallExpr)
		if !ok {
			return nil, fmt.Errorf("element %d is not a tensor.New call", len(ts))
		}
		t, err := tensorOf(call)
		if err != nil {
			return nil, fmt.Errorf("element %d: %v", len(ts), err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// tensorOf reads tensor.New(tensor.WithShape(dims...), tensor.WithBacking([]T{...})).
func tensorOf(c *ast.CallExpr) (*ir.Tensor, error) {
	shape := []int{}
	var t *ir.Tensor
	for _, a := range c.Args {
		call, ok := a.(*ast.CallExpr)
		if !ok {
			return nil, fmt.Errorf("unexpected argument")
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return nil, fmt.Errorf("unexpected call")
		}
		switch sel.Sel.Name {
		case "WithShape":
			for _, d := range call.Args {
				s, err := number(d)
				if err != nil {
					return nil, err
				}
				v, err := strconv.Atoi(s)
				if err != nil {
					return nil, err
				}
				shape = append(shape, v)
			}
		case "WithBacking":
			cl, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				return nil, fmt.Errorf("backing is not a slice literal")
			}
			at, _ := cl.Type.(*ast.ArrayType)
			var et string
			if at != nil {
				if id, ok := at.Elt.(*ast.Ident); ok {
					et = id.Name
				}
			}
			dt, ok := map[string]ir.DType{"float32": ir.F32, "float64": ir.F32, "int": ir.I64, "int32": ir.I32, "int64": ir.I64}[et]
			if !ok {
				return nil, fmt.Errorf("backing of []%s", et)
			}
			t = ir.NewTensor(dt, []int{len(cl.Elts)})
			for i, x := range cl.Elts {
				s, err := number(x)
				if err != nil {
					return nil, err
				}
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return nil, err
				}
				t.Set(i, v)
			}
		}
	}
	if t == nil {
		return nil, fmt.Errorf("no WithBacking")
	}
	if ir.NumElements(shape) != t.Len() {
		return nil, fmt.Errorf("shape %v for %d elements", shape, t.Len())
	}
	t.Shape = shape
	return t, nil
}

// number is the literal text of a possibly negated number.
func number(e ast.Expr) (string, error) {
	switch x := e.(type) {
	case *ast.BasicLit:
		return x.Value, nil
	case *ast.UnaryExpr:
		s, err := number(x.X)
		return x.Op.String() + s, err
	case *ast.ParenExpr:
		return number(x.X)
	}
	return "", fmt.Errorf("value %T is not a number literal", e)
}
