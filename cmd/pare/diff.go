package main

import (
	"flag"
	"fmt"

	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "diff", args: "A B",
		summary: "structural diff of two models or IR dumps: values added, removed, changed",
		detail: `Aligns the values of A and B by name, then by structure, and prints one line
per change: + added, - removed, ~ changed (type, attributes, arguments, and for
weights their shape, sparsity, distinct values and largest difference).
Exit status: 0 when the graphs are the same, 1 when they differ, 2 on error.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			return func(pos []string) error {
				if len(pos) != 2 {
					return statusError{2, fmt.Errorf("want two models A B, got %d arguments", len(pos))}
				}
				a, err := mf.load(pos[0])
				if err != nil {
					return statusError{2, err}
				}
				b, err := mf.load(pos[1])
				if err != nil {
					return statusError{2, err}
				}
				d := ir.Diff(a, b)
				d.Format(stdout)
				if !d.Empty() {
					return exitError{1}
				}
				return nil
			}
		},
	})
}
