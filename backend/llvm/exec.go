package llvm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Executable is a compiled program ready to run on inputs through its
// static executable, exchanging raw tensor files.
type Executable struct {
	P    *codegen.Program
	Path string
	// Runner, if set, prefixes the command (e.g. qemu-aarch64).
	Runner []string
	dir    string
}

// Build compiles g for t into a temporary directory.
func Build(g *pir.Graph, t Target) (*Executable, error) {
	p, err := codegen.Lower(g)
	if err != nil {
		return nil, err
	}
	return BuildProgram(p, t)
}

// BuildProgram compiles p for t into a temporary directory.
func BuildProgram(p *codegen.Program, t Target) (*Executable, error) {
	dir, err := os.MkdirTemp("", "pare-llvm-")
	if err != nil {
		return nil, err
	}
	exe := filepath.Join(dir, p.Name)
	if err := BuildExe(p, t, exe, dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Executable{P: p, Path: exe, dir: dir}, nil
}

// Close removes the executable and its build files.
func (x *Executable) Close() error { return os.RemoveAll(x.dir) }

// Run runs the executable once on inputs.
func (x *Executable) Run(inputs []*pir.Tensor) ([]*pir.Tensor, error) {
	if len(inputs) != len(x.P.Inputs) {
		return nil, fmt.Errorf("%d inputs, the model takes %d", len(inputs), len(x.P.Inputs))
	}
	work, err := os.MkdirTemp(x.dir, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	args := append([]string{}, x.Runner...)
	args = append(args, x.Path)
	for i, t := range inputs {
		want := x.P.Inputs[i]
		if t.DType != want.DType || !pir.EqualShape(t.Shape, want.Shape) {
			return nil, fmt.Errorf("input %d (%s): got %v%v, want %v%v", i, want.Value, t.DType, pir.FormatShape(t.Shape), want.DType, pir.FormatShape(want.Shape))
		}
		f := filepath.Join(work, fmt.Sprintf("in%d.bin", i))
		if err := os.WriteFile(f, t.Bytes(), 0o644); err != nil {
			return nil, err
		}
		args = append(args, f)
	}
	for i := range x.P.Outputs {
		args = append(args, filepath.Join(work, fmt.Sprintf("out%d.bin", i)))
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", filepath.Base(x.Path), err, stderr.String())
	}
	var outs []*pir.Tensor
	for i, o := range x.P.Outputs {
		b, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("out%d.bin", i)))
		if err != nil {
			return nil, err
		}
		t, err := pir.TensorFromBytes(o.DType, o.Shape, b)
		if err != nil {
			return nil, fmt.Errorf("output %d (%s): %v", i, o.Value, err)
		}
		outs = append(outs, t)
	}
	return outs, nil
}
