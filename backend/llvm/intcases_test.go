package llvm

import (
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// Helpers of the integer kernel tests that build a graph of cases.

// avx2 is the x86-64 target the kernel selection tests emit for.
var avx2 = Target{Triple: "x86_64-linux-gnu", Features: "+avx2,+fma"}

// casesGraph builds cases into one graph with its inputs.
func casesGraph(t *testing.T, cases []codegentest.IntCase) (*pir.Graph, []*pir.Tensor) {
	t.Helper()
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	return g, vals
}

// casesProgram builds cases into one graph with its inputs and lowers it.
func casesProgram(t *testing.T, cases []codegentest.IntCase) (*pir.Graph, []*pir.Tensor, *codegen.Program) {
	t.Helper()
	g, vals := casesGraph(t, cases)
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	return g, vals, p
}

// casesIR lowers cases and emits them for avx2: the program and the
// module's text.
func casesIR(t *testing.T, cases []codegentest.IntCase) (*codegen.Program, string) {
	t.Helper()
	g, _ := casesGraph(t, cases)
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Emit(p, avx2, filepath.Join(t.TempDir(), "w.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return p, m.String()
}

// checkCases compiles cases for the host (qemu: for AArch64 under
// qemu-aarch64) and checks that the results equal rt's.
func checkCases(t *testing.T, cases []codegentest.IntCase, qemu bool) {
	t.Helper()
	tgt, runner := aarch64, []string{"qemu-aarch64"}
	if qemu {
		needQemu(t)
	} else {
		needTools(t)
		host, err := HostTarget()
		if err != nil {
			t.Skip(err)
		}
		tgt, runner = host, nil
	}
	g, vals := casesGraph(t, cases)
	checkAgainstRT(t, g, tgt, runner, vals)
}
