package rt

import (
	"testing"

	"github.com/pare-ml/pare/ir"
)

// Every op of the table has a kernel.
func TestEveryOpHasKernel(t *testing.T) {
	for _, op := range ir.Ops() {
		if !Supported(op.Name) {
			t.Errorf("op %s has no kernel", op.Name)
		}
	}
}
