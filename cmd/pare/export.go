package main

import (
	"flag"
	"fmt"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "export", args: "MODEL -o OUT.onnx [--form float|qdq|qoperator]",
		summary: "write a model as ONNX (float now; quantized QDQ / QOperator forms to come)",
		detail: `Fused activations (act=relu / act=clip from the fuse pass) are written as
separate Relu / Clip nodes. Quantized graphs (pare opt ... quantize) cannot be
written yet: --form qdq and qoperator report what is missing.`,
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
				switch *form {
				case "float":
				case "qdq", "qoperator":
					return fmt.Errorf("--form %s: quantized ONNX export is not implemented yet (frontend/onnx/export_quant.go)", *form)
				default:
					return fmt.Errorf("--form %q (float, qdq, qoperator)", *form)
				}
				if err := unfuseActs(g); err != nil {
					return err
				}
				return onnx.ExportFile(g, *out)
			}
		},
	})
}

// unfuseActs turns act attributes back into relu / clip values, for writers
// that map ops one to one.
func unfuseActs(g *ir.Graph) error {
	var out []*ir.Value
	for _, v := range g.Values {
		out = append(out, v)
		if v.Op.AttrDef("act") == nil || v.Str("act") == "none" {
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
