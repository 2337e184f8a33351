package gosrc

import (
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
)

// goUnsupportedOps lists the shared f32 cases the Go backend does not
// compile yet; every other case must compile and match rt.
var goUnsupportedOps = map[string]bool{
	"resize_nearest_asym": true, "resize_nearest_down": true, "resize_nearest_tf": true, "resize_linear_half": true,
	"resize_linear_align": true, "resize_linear_pytorch": true, "resize_linear_scales": true, "resize_linear_3d": true,
	"conv_transpose_s2": true, "conv_transpose_pad": true, "conv_transpose_1d": true,
}

// TestOps compiles the shared f32 cases (codegen/codegentest) into one graph
// (one package, one build, one output per case) and compares with rt.
func TestOps(t *testing.T) {
	needGo(t)
	var cases []codegentest.OpCase
	for _, c := range codegentest.OpCases {
		if !goUnsupportedOps[c.Name] {
			cases = append(cases, c)
		}
	}
	g, vals, err := codegentest.OpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRT(t, g, nil, nil, vals)
}
