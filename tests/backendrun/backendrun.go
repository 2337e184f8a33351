// Package backendrun builds a graph with pare's compiled backends inside a
// test and runs it, for the tests that compare the backends with rt.
package backendrun

import (
	"os/exec"
	"testing"

	"github.com/pare-ml/pare/backend/gosrc"
	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/ir"
)

// LLVM builds g for the host with the LLVM backend and runs it on xs; it
// skips t where opt-14, llc-14 or gcc is missing or the host has no target.
func LLVM(t *testing.T, g *ir.Graph, xs []*ir.Tensor) []*ir.Tensor {
	t.Helper()
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
	return got
}

// Go builds g with the Go backend and runs it on xs.
func Go(t *testing.T, g *ir.Graph, xs []*ir.Tensor) []*ir.Tensor {
	t.Helper()
	x, err := gosrc.Build(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := x.Run(xs)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Both runs g on xs with the Go backend (subtest name+"/go", skipped in
// -short unless goShort) and the LLVM backend (name+"/llvm") and hands
// each backend's outputs to check with its name ("the Go backend", "the
// LLVM backend").
func Both(t *testing.T, name string, g *ir.Graph, xs []*ir.Tensor, goShort bool, check func(t *testing.T, backend string, got []*ir.Tensor)) {
	t.Helper()
	t.Run(name+"/go", func(t *testing.T) {
		if testing.Short() && !goShort {
			t.Skip("builds Go executables; skipped in -short")
		}
		check(t, "the Go backend", Go(t, g, xs))
	})
	t.Run(name+"/llvm", func(t *testing.T) {
		check(t, "the LLVM backend", LLVM(t, g, xs))
	})
}
