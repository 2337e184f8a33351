package passes_test

import (
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// layerDType is the result dtype of the conv / gemm named name (node or value).
func layerDType(t *testing.T, g *ir.Graph, name string) ir.DType {
	t.Helper()
	for _, v := range g.Values {
		if v.Source == name || v.Name == name {
			if v.Op.Name == "conv" || v.Op.Name == "gemm" || v.Op.Name == "matmul" {
				return v.Args[1].Type.DType
			}
		}
	}
	t.Fatalf("no layer %s", name)
	return 0
}

// TestQuantizeKeep: keep= leaves the named layers (node or value names) in
// f32 and quantizes the rest; a name that matches no layer is an error.
func TestQuantizeKeep(t *testing.T) {
	calib := mnistData(t, "train", 100, 1)
	for _, keep := range []string{"Convolution110", "Convolution110_Output_0,Times212"} {
		g := loadMNIST7(t)
		reps, err := passes.RunSpec(g, "canonicalize,quantize{keep="+keep+"},fuse", &passes.Context{Data: calib})
		if err != nil {
			t.Fatal(err)
		}
		kept := map[string]bool{"Convolution110": true, "Times212": strings.Contains(keep, "Times212")}
		for _, l := range []string{"Convolution28", "Convolution110", "Times212"} {
			want := ir.I8
			if kept[l] {
				want = ir.F32
			}
			if dt := layerDType(t, g, l); dt != want {
				t.Errorf("keep=%s: %s weights are %v, want %v", keep, l, dt, want)
			}
		}
		if notes := strings.Join(reps[1].Notes, "\n"); !strings.Contains(notes, "left in f32: [Convolution110_Output_0") {
			t.Errorf("keep=%s: report notes:\n%s", keep, notes)
		}
		test := mnistData(t, "test", 200, 1)
		if a, err := passes.Evaluate(g, test, nil); err != nil || a.Top1Pct() < 95 {
			t.Errorf("keep=%s: top-1 %.2f %% on 200 test images (%v)", keep, a.Top1Pct(), err)
		}
	}
	g := loadMNIST7(t)
	if _, err := passes.RunSpec(g, "canonicalize,quantize{keep=NoSuchLayer}", &passes.Context{Data: calib}); err == nil || !strings.Contains(err.Error(), "NoSuchLayer") {
		t.Errorf("keep=NoSuchLayer: err %v", err)
	}
}

// TestQuantizeBudget: with a range observer that clips hard (percentile:90)
// int8 loses points on the calibration set; budget=0.5 returns layers to
// f32, most sensitive first, until the drop is within half a point.
func TestQuantizeBudget(t *testing.T) {
	calib := mnistData(t, "train", 250, 1)
	g := loadMNIST7(t)
	f, err := passes.Evaluate(g, calib, nil)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := passes.RunSpec(g, "canonicalize,quantize{calib=percentile:90,budget=0.5},fuse", &passes.Context{Data: calib})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(reps[1].Notes, "\n")
	t.Log(notes)
	if !strings.Contains(notes, "sensitivity") || !strings.Contains(notes, "left in f32") {
		t.Errorf("no sensitivities / layers left in f32 in the report")
	}
	q, err := passes.Evaluate(g, calib, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Top1Pct()-q.Top1Pct() > 0.5 {
		t.Errorf("calibration top-1 %.2f %% after the budget, f32 %.2f %%", q.Top1Pct(), f.Top1Pct())
	}
	quantized := 0
	for _, l := range []string{"Convolution28", "Convolution110", "Times212"} {
		if layerDType(t, g, l) == ir.I8 {
			quantized++
		}
	}
	if quantized == 0 || quantized == 3 {
		t.Errorf("%d of 3 layers quantized: the budget should keep some in f32 and quantize others", quantized)
	}
}
