package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "ops", args: "[--markdown]",
		summary: "list the IR ops and the ops each frontend imports",
		detail:  `The README's op tables are this command's --markdown output (make readme updates them).`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			md := fs.Bool("markdown", false, "print Markdown tables")
			return func(pos []string) error {
				if len(pos) != 0 {
					return fmt.Errorf("takes no arguments")
				}
				if *md {
					writeOpsMarkdown(stdout)
					return nil
				}
				for _, op := range ir.Ops() {
					fmt.Fprintf(stdout, "%-16s %s\n", op.Name, op.Doc)
				}
				fmt.Fprintln(stdout)
				for _, s := range onnx.SupportedOps() {
					fmt.Fprintf(stdout, "onnx %-22s opsets %-6s %s\n", s.Op, s.Opsets, s.Notes)
				}
				fmt.Fprintln(stdout)
				for _, s := range tflite.SupportedOps() {
					fmt.Fprintf(stdout, "tflite %-22s %s\n", s.Op, s.Notes)
				}
				return nil
			}
		},
	})
}

func writeOpsMarkdown(w io.Writer) {
	fmt.Fprintln(w, "### IR ops")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| op | arguments | attributes | meaning |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, op := range ir.Ops() {
		var attrs []string
		for _, a := range op.Attrs {
			attrs = append(attrs, a.Name)
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", op.Name, strings.Join(op.Args, ", "), strings.Join(attrs, ", "), strings.ReplaceAll(op.Doc, "|", "\\|"))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### ONNX frontend")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| ONNX op | opsets | notes |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, s := range onnx.SupportedOps() {
		fmt.Fprintf(w, "| %s | %s | %s |\n", s.Op, s.Opsets, strings.ReplaceAll(s.Notes, "|", "\\|"))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### TFLite frontend")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| TFLite op | notes |")
	fmt.Fprintln(w, "|---|---|")
	for _, s := range tflite.SupportedOps() {
		fmt.Fprintf(w, "| %s | %s |\n", s.Op, strings.ReplaceAll(s.Notes, "|", "\\|"))
	}
}
