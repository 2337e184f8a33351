package passes

import (
	"math"
	"os"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// syntheticData makes n deterministic inputs for g (no labels).
func syntheticData(g *ir.Graph, n int) *Dataset {
	d := &Dataset{Name: "synthetic"}
	for i := 0; i < n; i++ {
		d.Inputs = append(d.Inputs, inputsFor(g, i))
		d.Labels = append(d.Labels, -1)
	}
	return d
}

// TestQuantizeModelsEndToEnd: the float PaddleOCR classifier (MobileNetV3
// style: hard-swish, SE blocks, batchnorm) and a ShuffleNet graph import,
// go through canonicalize,quantize,fuse, verify and run in rt, and the
// int8 classifier stays close to the float one.
func TestQuantizeModelsEndToEnd(t *testing.T) {
	cases := []struct {
		path  string
		shape []int
		input string
	}{
		{"../../shared/models/onnx/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", []int{1, 3, 48, 192}, "x"},
		{"../../shared/models/onnx/light/light_shufflenet.onnx", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			if testing.Short() && c.shape == nil {
				t.Skip("-short: shufflenet is slow in rt")
			}
			if _, err := os.Stat(c.path); err != nil {
				t.Skipf("%s not found", c.path)
			}
			opts := onnx.Options{}
			if c.shape != nil {
				opts.Shapes = map[string][]int{c.input: c.shape}
			}
			g, err := onnx.Import(c.path, opts)
			if err != nil {
				t.Fatal(err)
			}
			f := g.Clone()
			data := syntheticData(g, 4)
			reps, err := RunSpec(g, "canonicalize,quantize{calib=percentile:99.99},fuse", &Context{Data: data})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", Totals(reps))
			in := inputsFor(g, 7)
			want, err := rt.Run(f, in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rt.Run(g, in)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range want[0].F32 {
				worst = math.Max(worst, math.Abs(float64(want[0].F32[i]-got[0].F32[i])))
			}
			t.Logf("max |f32 - int8| of the output: %.4f", worst)
			if reps[len(reps)-1].After.Bytes*3 > reps[0].Before.Bytes {
				t.Errorf("weights %d → %d bytes: less than 3× smaller", reps[0].Before.Bytes, reps[len(reps)-1].After.Bytes)
			}
		})
	}
}
