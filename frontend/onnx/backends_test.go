package onnx

import (
	"os/exec"
	"testing"

	"github.com/pare-ml/pare/backend/gosrc"
	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/ir"
)

// runBackends runs g on xs compiled by the Go backend (subtest name+"/go",
// skipped in -short unless goShort) and the LLVM backend for the host
// (name+"/llvm", skipped where its tools are missing), and hands each
// backend's outputs to check with the backend's name ("the Go backend",
// "the LLVM backend").
func runBackends(t *testing.T, name string, g *ir.Graph, xs []*ir.Tensor, goShort bool, check func(t *testing.T, backend string, got []*ir.Tensor)) {
	t.Helper()
	t.Run(name+"/go", func(t *testing.T) {
		if testing.Short() && !goShort {
			t.Skip("builds Go executables; skipped in -short")
		}
		x, err := gosrc.Build(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Run(xs)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "the Go backend", got)
	})
	t.Run(name+"/llvm", func(t *testing.T) {
		for _, tool := range []string{"opt-14", "llc-14", "gcc"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s not found: skipping the LLVM backend (make toolchain)", tool)
			}
		}
		tgt, err := llvm.HostTarget()
		if err != nil {
			t.Skip(err)
		}
		x, err := llvm.Build(g, tgt)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		got, err := x.Run(xs)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "the LLVM backend", got)
	})
}
