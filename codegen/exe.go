package codegen

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pare-ml/pare/ir"
)

// RunExe runs once an executable built from p by a backend (a static LLVM
// executable, a Go command): both take the raw input files, then the raw
// output files, as arguments. argv is the command (an emulator such as
// qemu-aarch64 first when cross-compiled, then the executable); the files
// live in a temporary directory under dir (os.TempDir() when empty). The
// inputs must have p's input types.
func RunExe(p *Program, argv []string, dir string, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	if len(inputs) != len(p.Inputs) {
		return nil, fmt.Errorf("%d inputs, the model takes %d", len(inputs), len(p.Inputs))
	}
	work, err := os.MkdirTemp(dir, "pare-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	args := append([]string{}, argv...)
	for i, t := range inputs {
		want := p.Inputs[i]
		if t.DType != want.DType || !ir.EqualShape(t.Shape, want.Shape) {
			return nil, fmt.Errorf("input %d (%s): got %v%v, want %v%v", i, want.Value, t.DType, ir.FormatShape(t.Shape), want.DType, ir.FormatShape(want.Shape))
		}
		f := filepath.Join(work, fmt.Sprintf("in%d.bin", i))
		if err := os.WriteFile(f, t.Bytes(), 0o644); err != nil {
			return nil, err
		}
		args = append(args, f)
	}
	for i := range p.Outputs {
		args = append(args, filepath.Join(work, fmt.Sprintf("out%d.bin", i)))
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s (%s): %v: %s", p.Name, filepath.Base(argv[len(argv)-1]), err, stderr.String())
	}
	var outs []*ir.Tensor
	for i, o := range p.Outputs {
		b, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("out%d.bin", i)))
		if err != nil {
			return nil, err
		}
		t, err := ir.TensorFromBytes(o.DType, o.Shape, b)
		if err != nil {
			return nil, fmt.Errorf("output %d (%s): %v", i, o.Value, err)
		}
		outs = append(outs, t)
	}
	return outs, nil
}
