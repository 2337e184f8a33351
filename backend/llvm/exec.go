package llvm

import (
	"os"
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
	return codegen.RunExe(x.P, append(append([]string{}, x.Runner...), x.Path), x.dir, inputs)
}
