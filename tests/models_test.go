package tests

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// TestMNIST7Reference checks mnist-7 against its three reference outputs.
func TestMNIST7Reference(t *testing.T) {
	dir := sharedPath(t, "models/onnx/mnist-7")
	g := importONNX(t, filepath.Join(dir, "mnist-7.onnx"), onnx.Options{})
	for i := 0; i < 3; i++ {
		set := filepath.Join(dir, fmt.Sprintf("test_data_set_%d", i))
		out := runGraph(t, g, readPB(t, filepath.Join(set, "input_0.pb")))
		allClose(t, set, out[0], readPB(t, filepath.Join(set, "output_0.pb")), 1e-3, 1e-5)
	}
}

// TestLightModels runs the light zoo models on the ONNX runner's ramp input.
func TestLightModels(t *testing.T) {
	for _, name := range []string{"squeezenet", "resnet50", "shufflenet", "vgg19"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && (name == "resnet50" || name == "vgg19") {
				t.Skip("-short: large model")
			}
			dir := sharedPath(t, "models/onnx/light")
			g := importONNX(t, filepath.Join(dir, "light_"+name+".onnx"), onnx.Options{})
			out := runGraph(t, g, rampInput(g.Params[0].Type))
			// Tolerances from light_*_data.json: rtol 1e-3, atol 1e-7.
			allClose(t, name, out[0], readPB(t, filepath.Join(dir, "light_"+name+"_output_0.pb")), 1e-3, 1e-7)
		})
	}
}

// ppocrInput is the synthetic "text page" image the stored ONNX Runtime
// outputs were computed on (tests/testdata/*_ort_output.bin, made with
// node bench.mjs MODEL --threads 1 --input in.bin --out out.bin): a white
// page with dark glyph strokes on every other 16-pixel line.
func ppocrInput(h, w int) *ir.Tensor {
	x := ir.NewTensor(ir.F32, []int{1, 3, h, w})
	i := 0
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				line := (y/16)%2 == 1 && y%16 >= 4 && y%16 <= 12
				glyph := (xx/6)%3 != 2 && xx >= 8 && xx < w-8
				stroke := (xx*7+y*3)%5 < 3
				val := 1.0
				if line && glyph && stroke {
					val = -1.0
				}
				x.F32[i] = float32(val*0.9 + 0.05*float64((xx+y+c)%3-1))
				i++
			}
		}
	}
	return x
}

func readBinF32(t *testing.T, path string, shape []int) *ir.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := ir.NewTensor(ir.F32, shape)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, x.F32); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return x
}

// TestPPOCR compares the PaddleOCR classifier and detector with ONNX Runtime.
func TestPPOCR(t *testing.T) {
	dir := sharedPath(t, "models/onnx/ppocr")
	t.Run("cls", func(t *testing.T) {
		g := importONNX(t, filepath.Join(dir, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), onnx.Options{Shapes: map[string][]int{"x": {1, 3, 48, 192}}})
		out := runGraph(t, g, ppocrInput(48, 192))
		allClose(t, "cls", out[0], readBinF32(t, "testdata/ppocr_cls_ort_output.bin", []int{1, 2}), 1e-3, 1e-5)
	})
	t.Run("det", func(t *testing.T) {
		g := importONNX(t, filepath.Join(dir, "ch_PP-OCRv4_det_infer.onnx"), onnx.Options{Shapes: map[string][]int{"x": {1, 3, 96, 96}}})
		out := runGraph(t, g, ppocrInput(96, 96))
		allClose(t, "det", out[0], readBinF32(t, "testdata/ppocr_det96_ort_output.bin", []int{1, 1, 96, 96}), 1e-3, 1e-4)
	})
}

// TestMNIST7Accuracy scores mnist-7 on the 10,000 MNIST test images: ONNX
// Runtime gets 9891 right (98.91 %).
func TestMNIST7Accuracy(t *testing.T) {
	g := importONNX(t, sharedPath(t, "models/onnx/mnist-7/mnist-7.onnx"), onnx.Options{})
	test, err := dataset.MNIST("test")
	if err != nil {
		t.Skip(err)
	}
	p, err := rt.New(g)
	if err != nil {
		t.Fatal(err)
	}
	var correct, failed atomic.Int64
	parallelEach(test.N, func(i int) {
		x := ir.NewTensor(ir.F32, []int{1, 1, 28, 28})
		for j, px := range test.Image(i) {
			x.F32[j] = float32(px) // mnist-7 takes raw 0..255 pixels
		}
		out, err := p.Run([]*ir.Tensor{x})
		if err != nil {
			failed.Add(1)
			return
		}
		best := 0
		for k, v := range out[0].F32 {
			if v > out[0].F32[best] {
				best = k
			}
		}
		if best == int(test.Labels[i]) {
			correct.Add(1)
		}
	})
	if failed.Load() > 0 {
		t.Fatalf("%d runs failed", failed.Load())
	}
	acc := float64(correct.Load()) / float64(test.N)
	t.Logf("mnist-7: %d/%d = %.2f %%", correct.Load(), test.N, 100*acc)
	if correct.Load() != 9891 {
		t.Errorf("mnist-7 top-1 %d/10000, ONNX Runtime gets 9891", correct.Load())
	}
}

// allModels lists every shared ONNX model with the import options it needs.
func allModels(t *testing.T) map[string]onnx.Options {
	m := map[string]onnx.Options{
		"models/onnx/mnist-7/mnist-7.onnx":                      {},
		"models/onnx/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx": {Shapes: map[string][]int{"x": {1, 3, 48, 192}}},
		"models/onnx/ppocr/ch_PP-OCRv4_det_infer.onnx":          {Shapes: map[string][]int{"x": {1, 3, 64, 64}}},
	}
	for _, n := range []string{"squeezenet", "resnet50", "shufflenet", "vgg19"} {
		m["models/onnx/light/light_"+n+".onnx"] = onnx.Options{}
	}
	return m
}

// TestRoundTrip: import → print → parse → print is identical, and rt gives
// identical outputs on the parsed graph.
func TestRoundTrip(t *testing.T) {
	for rel, opts := range allModels(t) {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			if testing.Short() && (filepath.Base(rel) == "light_resnet50.onnx" || filepath.Base(rel) == "light_vgg19.onnx") {
				t.Skip("-short: large model")
			}
			g := importONNX(t, sharedPath(t, rel), opts)
			path := filepath.Join(t.TempDir(), "m.ir")
			if err := ir.WriteFile(path, g); err != nil {
				t.Fatal(err)
			}
			g2, err := ir.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := g.String(), g2.String(); a != b {
				t.Fatalf("print → parse → print differs:\n%s", firstDiff(a, b))
			}
			if d := ir.Diff(g, g2); !d.Empty() {
				var b bytes.Buffer
				d.Format(&b)
				t.Errorf("diff of a model and its parsed copy:\n%s", b.String())
			}
			var in []*ir.Tensor
			for _, p := range g.Params {
				in = append(in, rampInput(p.Type))
			}
			o1, o2 := runGraph(t, g, in...), runGraph(t, g2, in...)
			for i := range o1 {
				if !o1[i].Equal(o2[i]) {
					t.Errorf("output %d differs between the imported and the parsed graph", i)
				}
			}
		})
	}
}

// TestDiffNamesChangedWeight: a copy with one weight element changed is
// reported as exactly that constant.
func TestDiffNamesChangedWeight(t *testing.T) {
	g := importONNX(t, sharedPath(t, "models/onnx/mnist-7/mnist-7.onnx"), onnx.Options{})
	g2 := g.Clone()
	var changed *ir.Value
	for _, v := range g2.Values {
		if v.IsConst() && v.Type.DType == ir.F32 && v.Type.NumElements() > 100 {
			c := v.Const.Clone()
			c.F32[17] += 0.25
			v.Const = c
			changed = v
			break
		}
	}
	if changed == nil {
		t.Fatal("no weight to change")
	}
	d := ir.Diff(g, g2)
	var b bytes.Buffer
	d.Format(&b)
	out := b.String()
	t.Logf("\n%s", out)
	if d.Empty() || !bytes.Contains(b.Bytes(), []byte("%"+changed.Name)) {
		t.Fatalf("diff does not name %%%s:\n%s", changed.Name, out)
	}
	if n := bytes.Count(b.Bytes(), []byte("\n~ ")) + boolInt(bytes.HasPrefix(b.Bytes(), []byte("~ "))); n != 1 {
		t.Errorf("want exactly one changed value, got %d:\n%s", n, out)
	}
	if !bytes.Contains(b.Bytes(), []byte("0.25")) {
		t.Errorf("diff does not give the max |Δ| 0.25:\n%s", out)
	}
	var same bytes.Buffer
	if d := ir.Diff(g, g.Clone()); !d.Empty() {
		d.Format(&same)
		t.Errorf("a model diffed with its clone reports changes:\n%s", same.String())
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func firstDiff(a, b string) string {
	la, lb := bytes.Split([]byte(a), []byte("\n")), bytes.Split([]byte(b), []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(la), len(lb))
}
