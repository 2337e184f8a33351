package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "export", args: "MODEL -o OUT.onnx [--form float|qdq|qoperator]",
		summary: "write a model as ONNX: float, or quantized in QDQ or QOperator form",
		detail: `Fused activations (act=relu / act=clip from the fuse pass) are written as
separate Relu / Clip nodes. Quantized graphs (pare opt ... quantize) need
--form qdq (QuantizeLinear / DequantizeLinear around float ops) or --form
qoperator (QLinearConv / QLinearMatMul, ConvInteger / MatMulInteger; other
quantized ops in QDQ form). ONNX requantizes in float32 as pare's rq=float;
rq=tflite layers are written the same way, with a warning. The model's
pare.input_scale metadata (read by pare eval) is kept when MODEL is ONNX.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			out := fs.String("o", "", "output `OUT.onnx`")
			form := fs.String("form", "float", "float, qdq or qoperator")
			return func(pos []string) error {
				if len(pos) != 1 || *out == "" {
					return fmt.Errorf("want one MODEL and -o OUT.onnx")
				}
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				quant := *form == onnx.FormQDQ || *form == onnx.FormQOperator
				if !quant && *form != onnx.FormFloat {
					return fmt.Errorf("--form %q (float, qdq, qoperator)", *form)
				}
				if quant {
					for _, w := range onnx.QuantWarnings(g) {
						fmt.Fprintln(stderr, "warning:", w)
					}
				}
				// The quantized forms write the activations of integer ops themselves.
				if err := unfuseActs(g, func(v *ir.Value) bool { return !quant || v.Type.DType == ir.F32 }); err != nil {
					return err
				}
				opts := onnx.ExportOptions{Form: *form}
				if s := modelInputScale(pos[0]); s != 0 {
					opts.Metadata = map[string]string{"pare.input_scale": strconv.FormatFloat(s, 'g', -1, 64)}
				}
				return onnx.ExportFileWith(g, *out, opts)
			}
		},
	})
}

// unfuseActs turns the act attributes of the values sel picks back into
// relu / clip values, for writers that map ops one to one.
func unfuseActs(g *ir.Graph, sel func(*ir.Value) bool) error {
	var out []*ir.Value
	for _, v := range g.Values {
		out = append(out, v)
		if v.Op == nil || v.Op.AttrDef("act") == nil || v.Str("act") == "none" || !sel(v) {
			continue
		}
		act := v.Str("act")
		attrs := ir.Attrs{}
		if act == "clip" {
			attrs["min"], attrs["max"] = ir.Float(v.Float("act_min")), ir.Float(v.Float("act_max"))
		}
		for _, k := range []string{"act", "act_min", "act_max"} {
			delete(v.Attrs, k)
		}
		a, err := ir.NewValue(act, []*ir.Value{v}, attrs, ir.Type{})
		if err != nil {
			return fmt.Errorf("%s: %v", v.Where(), err)
		}
		g.ReplaceUses(v, a)
		a.Args[0] = v
		a.Source = v.Source
		a.Name = v.Name + "." + act
		out = append(out, a)
	}
	g.Values = out
	g.Rename(g.Values[0], g.Values[0].Name) // rebuild the name index
	return ir.Verify(g)
}
