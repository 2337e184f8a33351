package llvm

import (
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// TestIntUnseen compiles the int8 forms of the patterns of real models
// pare's int8 path first met in 2026-11 (codegentest.UnseenCases, quantized
// by canonicalize,quantize,fuse) and checks them against rt bit for bit:
// the results are the integers before the closing dequantizes.
func TestIntUnseen(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	for _, c := range codegentest.UnseenCases {
		t.Run(c.Name, func(t *testing.T) {
			g, err := c.Build(rand.New(rand.NewSource(1)))
			if err != nil {
				t.Fatal(err)
			}
			data := &passes.Dataset{Name: "smooth"}
			for _, in := range codegentest.UnseenInputs(g, 16, 1) {
				data.Inputs = append(data.Inputs, in)
				data.Labels = append(data.Labels, -1)
			}
			if _, err := passes.RunSpec(g, "canonicalize,quantize,fuse", &passes.Context{Data: data}); err != nil {
				t.Fatal(err)
			}
			for i, r := range g.Results {
				if r.Op.Name == "dequantize" {
					g.Results[i] = r.Args[0]
				}
			}
			g.RemoveDead()
			if err := pir.Verify(g); err != nil {
				t.Fatal(err)
			}
			checkAgainstRT(t, g, host, nil, codegentest.UnseenInputs(g, 3, 2)...)
		})
	}
}
