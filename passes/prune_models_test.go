package passes_test

import (
	"os"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

// TestPruneResNet50: structured pruning by 30 % keeps a residual network
// valid (channels joined by adds are left whole): it verifies and runs,
// with fewer MACs.
func TestPruneResNet50(t *testing.T) {
	const path = "../../shared/models/onnx/light/light_resnet50.onnx"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v", path, err)
	}
	if testing.Short() {
		t.Skip("slow")
	}
	g, err := onnx.Import(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reps, err := passes.RunSpec(g, "canonicalize,prune{ratio=0.3,structured}", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, a := reps[0].Before.MACs, reps[len(reps)-1].After.MACs
	t.Logf("MACs %d → %d, params %d → %d", b, a, reps[0].Before.Params, reps[len(reps)-1].After.Params)
	if a >= b*9/10 {
		t.Errorf("MACs %d → %d", b, a)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	in := ir.NewTensor(ir.F32, g.Params[0].Type.Shape)
	for i := range in.F32 {
		in.F32[i] = float32(i%17) / 17
	}
	if _, err := rt.Run(g, []*ir.Tensor{in}); err != nil {
		t.Fatal(err)
	}
}

// TestPruneMNIST7Structured: half the channels of mnist-7's conv layers go,
// the shapes shrink, and top-1 after refit stays close.
func TestPruneMNIST7Structured(t *testing.T) {
	g := loadMNIST7(t)
	calib := mnistData(t, "train", 500, 1)
	test := mnistData(t, "test", 1000, 1)
	before, err := passes.Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passes.RunSpec(g, "canonicalize,prune{ratio=0.5,structured}", &passes.Context{Data: calib}); err != nil {
		t.Fatal(err)
	}
	after, err := passes.Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("top-1 %.2f %% → %.2f %%", before.Top1Pct(), after.Top1Pct())
	if after.Top1Pct() < before.Top1Pct()-5 { // 8 → 4 and 16 → 8 filters, no fine-tuning
		t.Errorf("top-1 %.2f → %.2f", before.Top1Pct(), after.Top1Pct())
	}
}
