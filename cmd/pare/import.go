package main

import (
	"flag"
	"fmt"

	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "import", args: "MODEL [-o OUT.ir]",
		summary: "import a model and print its IR (or write it with its weights sidecar)",
		detail: `Prints the graph in pare's text form: one SSA value per line with its type.
Large constants print as a hash and summary; with -o, the text goes to OUT.ir
and the weights to OUT.ir.weights, and 'pare run OUT.ir' reads both back.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			out := fs.String("o", "", "write the IR to `OUT.ir` (weights to OUT.ir.weights) instead of printing it")
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				if *out != "" {
					return ir.WriteFile(*out, g)
				}
				return ir.Print(stdout, g)
			}
		},
	})
}
