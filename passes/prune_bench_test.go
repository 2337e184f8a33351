package passes_test

import (
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

// BenchmarkPrunedMNIST7 times one rt inference of mnist-7 dense, with 50 %
// of its channels pruned (smaller tensors), and with 90 % of its weights
// pruned and stored as CSR (rt's sparse kernels).
//
//	go test ./passes -run - -bench PrunedMNIST7
func BenchmarkPrunedMNIST7(b *testing.B) {
	for _, c := range []struct{ name, spec string }{
		{"dense", "canonicalize"},
		{"structured50", "canonicalize,prune{ratio=0.5,structured,refit=false}"},
		{"csr90", "canonicalize,prune{ratio=0.9,refit=false},sparse{min=0.5}"},
	} {
		b.Run(c.name, func(b *testing.B) {
			g := loadMNIST7(b)
			if _, err := passes.RunSpec(g, c.spec, nil); err != nil {
				b.Fatal(err)
			}
			ip, err := rt.New(g)
			if err != nil {
				b.Fatal(err)
			}
			in := []*ir.Tensor{ir.NewTensor(ir.F32, g.Params[0].Type.Shape)}
			for i := range in[0].F32 {
				in[0].F32[i] = float32(i % 255)
			}
			b.ReportMetric(float64(ir.GraphCost(g).MACs), "MACs")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := ip.Run(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
