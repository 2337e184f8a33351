package llvm

import (
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
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
