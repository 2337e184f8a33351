package llvm

import (
	"os/exec"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// TestOps compiles every shared f32 case (codegen/codegentest) into one
// graph (one executable, one output per case) and compares with rt.
func TestOps(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	g, vals, err := codegentest.OpsGraph(codegentest.OpCases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, host, nil, vals)
}

// TestLogicOps compiles the comparison, logic, where, mod and float
// function cases and compares with rt: bools and integers exactly, floats
// within 1e-5 relative.
func TestLogicOps(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	checkLogicOps(t, host, nil)
}

// TestLogicOpsAArch64 is TestLogicOps for aarch64 under qemu-aarch64.
func TestLogicOpsAArch64(t *testing.T) {
	if testing.Short() {
		t.Skip("runs under qemu; skipped in -short")
	}
	needTools(t)
	for _, n := range []string{"aarch64-linux-gnu-gcc", "qemu-aarch64"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not found (make toolchain installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user)", n)
		}
	}
	checkLogicOps(t, Target{Triple: "aarch64-linux-gnu", Features: "+neon"}, []string{"qemu-aarch64"})
}

func checkLogicOps(t *testing.T, tgt Target, runner []string) {
	g, vals, err := codegentest.OpsGraph(codegentest.LogicCases)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	x, err := BuildProgram(p, tgt)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.Runner = runner
	codegentest.CompareRuns(t, g, x, func(what string, got, want *pir.Tensor) {
		codegentest.CloseEnough(t, what, got, want, 1e-5)
	}, vals)
}
