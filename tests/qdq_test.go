package tests

import (
	"bytes"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

// TestQDQRoundTrip: mnist-7 quantized by pare, written as a QDQ ONNX model
// (DequantizeLinear → Conv → QuantizeLinear, the form other quantizers
// write), imported and folded by the qdq pass, is the integer graph again:
// integer convs and gemm, and outputs identical to the quantized graph's
// on MNIST test images.
func TestQDQRoundTrip(t *testing.T) {
	g := importONNX(t, sharedPath(t, "models/onnx/mnist-7/mnist-7.onnx"), onnx.Options{})
	train, err := dataset.MNIST("train")
	if err != nil {
		t.Skip(err)
	}
	image := func(s *dataset.Set, i int) *ir.Tensor {
		x := ir.NewTensor(ir.F32, []int{1, 1, 28, 28})
		for j, p := range s.Image(i) {
			x.F32[j] = float32(p) // mnist-7 reads raw pixels
		}
		return x
	}
	d := &passes.Dataset{Name: "mnist:train"}
	for i := 0; i < 100; i++ {
		d.Inputs = append(d.Inputs, []*ir.Tensor{image(train, i)})
	}
	if _, err := passes.RunSpec(g, "canonicalize,quantize,fuse", &passes.Context{Data: d}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := onnx.ExportWith(g, &buf, onnx.ExportOptions{Form: "qdq"}); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.ImportBytes("mnist7_qdq.onnx", buf.Bytes(), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passes.RunSpec(back, "qdq,canonicalize,fuse", nil); err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, v := range back.Values {
		ops[v.Op.Name]++
		if (v.Op.Name == "conv" || v.Op.Name == "gemm") && v.Type.DType == ir.F32 {
			t.Errorf("%s stayed float: %v", v.Name, v.Type)
		}
	}
	if ops["conv"] != 2 || ops["gemm"]+ops["matmul"] != 1 || ops["dequantize"] != 1 {
		t.Errorf("ops after qdq: %v", ops)
	}
	test, err := dataset.MNIST("test")
	if err != nil {
		t.Skip(err)
	}
	for i := 0; i < 50; i++ {
		x := image(test, i)
		a, b := runGraph(t, g, x)[0], runGraph(t, back, x)[0]
		for j := range a.F32 {
			if a.F32[j] != b.F32[j] {
				t.Fatalf("image %d: output %d is %v quantized, %v through QDQ", i, j, a.F32[j], b.F32[j])
			}
		}
	}
}
