package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// Data movement, resize, transposed convolution and cast in the writer
// (opset 14: Slice, Pad, Expand and Resize take their parameters as
// inputs, written as initializers).
func init() {
	exportOps["slice"] = exportSlice
	exportOps["pad"] = exportPad
	exportOps["gather"] = func(e *exporter, v *ir.Value) error {
		return e.emit(v, "Gather", e.args(v), attrInt("axis", int(v.Int("axis"))))
	}
	exportOps["expand"] = func(e *exporter, v *ir.Value) error {
		shape, err := e.i64Const(v.Name+".shape", v.Type.Shape)
		if err != nil {
			return err
		}
		return e.emit(v, "Expand", []string{v.Args[0].Name, shape})
	}
	exportOps["resize"] = exportResize
	exportOps["conv_transpose"] = exportConvTranspose
	exportOps["cast"] = func(e *exporter, v *ir.Value) error {
		if v.Type.Quant != nil {
			return fmt.Errorf("cast to a quantized type has no ONNX form")
		}
		return e.emit(v, "Cast", e.args(v), attrInt("to", int(onnxDType(v.Type.DType))))
	}
}

// i64Const adds an int64 initializer of the values.
func (e *exporter) i64Const(base string, vals []int) (string, error) {
	t := ir.NewTensor(ir.I64, []int{len(vals)})
	for i, x := range vals {
		t.I64[i] = int64(x)
	}
	return e.constant(base, t)
}

// exportSlice: the IR's normalized bounds as ONNX's. A negative step's end
// of -1 (before the first element) would count from the end in ONNX: it is
// written as -(dim+1), which ONNX clamps to "before the first".
func exportSlice(e *exporter, v *ir.Value) error {
	x := v.Args[0].Type
	st, en, sp := v.IntList("starts"), v.IntList("ends"), v.IntList("steps")
	ends := append([]int(nil), en...)
	axes := make([]int, len(st))
	for i := range axes {
		axes[i] = i
		if ends[i] < 0 {
			ends[i] = -(x.Shape[i] + 1)
		}
	}
	var in []string
	for _, c := range []struct {
		name string
		vals []int
	}{{"starts", st}, {"ends", ends}, {"axes", axes}, {"steps", sp}} {
		n, err := e.i64Const(v.Name+"."+c.name, c.vals)
		if err != nil {
			return err
		}
		in = append(in, n)
	}
	return e.emit(v, "Slice", append([]string{v.Args[0].Name}, in...))
}

func exportPad(e *exporter, v *ir.Value) error {
	pads, err := e.i64Const(v.Name+".pads", v.IntList("pads"))
	if err != nil {
		return err
	}
	in := []string{v.Args[0].Name, pads}
	mode := v.Str("mode")
	if mode == "constant" {
		c, err := e.constant(v.Name+".value", &ir.Tensor{DType: ir.F32, Shape: []int{}, F32: []float32{v.Float("value")}})
		if err != nil {
			return err
		}
		in = append(in, c)
	}
	return e.emit(v, "Pad", in, attrStr("mode", mode))
}

// exportResize writes Resize with the model's scales when it gave them,
// else the output sizes.
func exportResize(e *exporter, v *ir.Value) error {
	in := []string{v.Args[0].Name, ""}
	if sc := v.FloatList("scales"); len(sc) > 0 {
		t := ir.NewTensor(ir.F32, []int{len(sc)})
		copy(t.F32, sc)
		n, err := e.constant(v.Name+".scales", t)
		if err != nil {
			return err
		}
		in = append(in, n)
	} else {
		n, err := e.i64Const(v.Name+".sizes", v.Type.Shape)
		if err != nil {
			return err
		}
		in = append(in, "", n)
	}
	return e.emit(v, "Resize", in, attrStr("mode", v.Str("mode")),
		attrStr("coordinate_transformation_mode", v.Str("coord")), attrStr("nearest_mode", v.Str("nearest_mode")))
}

func exportConvTranspose(e *exporter, v *ir.Value) error {
	nsp := len(v.Type.Shape) - 2
	win, err := ir.WindowOf(v, nsp, v.Args[1].Type.Shape[2:])
	if err != nil {
		return err
	}
	as := append(windowAttrs(win, true), attrInt("group", int(v.Int("group"))))
	if op := v.IntList("output_padding"); len(op) > 0 {
		as = append(as, attrInts("output_padding", op))
	}
	return e.emit(v, "ConvTranspose", e.args(v), as...)
}

func attrStr(name, s string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(s)}
}
