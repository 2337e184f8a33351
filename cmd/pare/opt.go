package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
)

func init() {
	register(&command{
		name: "opt", args: "MODEL -passes SPEC [-o OUT.ir] [--print-after-all DIR] [--print-changed DIR] [--calib DATA]",
		summary: "run a pass pipeline (canonicalize, quantize, fuse, ...) and print what each pass did",
		detail: `SPEC is a comma-separated list of passes with options in braces, e.g.
  canonicalize,quantize{w=int8,a=int8,calib=percentile:99.99},fuse
Passes:
` + passList() + `
Each pass prints a per-layer table (params, bytes, MACs, dtype weights/result
before → after); the run ends with the totals. --print-after-all DIR writes
DIR/<model>.<seq>.<pass>.ir after every pass (00 is the input), so that
` + "`pare diff`" + ` shows what one pass changed. --calib takes the data specs of pare eval
(default mnist:train) with its --scale/--mean/--std preprocessing.
--compare-accuracy DATA evaluates the input and the output on DATA.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			spec := fs.String("passes", "canonicalize", "pipeline `SPEC`")
			out := fs.String("o", "", "write the result to `OUT.ir`")
			pa := fs.String("print-after-all", "", "write the IR after every pass into `DIR`")
			pc := fs.String("print-changed", "", "write the IR after every pass that changed it into `DIR`")
			var df dataFlags
			df.register(fs, "calib", "mnist:train")
			climit := fs.Int("calib-limit", 1000, "calibration samples (`N`)")
			cmp := fs.String("compare-accuracy", "", "evaluate the model before and after on `DATA` (e.g. mnist)")
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				pl, err := passes.Parse(*spec)
				if err != nil {
					return err
				}
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				ctx := &passes.Context{Log: stderr}
				for _, st := range pl.Steps {
					if st.Pass.NeedsData && ctx.Data == nil {
						if ctx.Data, err = df.load(pos[0], g, *climit); err != nil {
							return fmt.Errorf("--calib: %v", err)
						}
					}
				}
				var before *ir.Graph
				if *cmp != "" {
					before = g.Clone()
				}
				model := strings.TrimSuffix(filepath.Base(pos[0]), filepath.Ext(pos[0]))
				reps, err := pl.Run(g, ctx, passes.RunOptions{PrintAfterAll: *pa, PrintChanged: *pc, Model: model})
				for _, r := range reps {
					r.Format(stdout)
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, passes.Totals(reps))
				if *cmp != "" {
					ef := df
					ef.spec, ef.limit = *cmp, 0
					data, err := ef.load(pos[0], g, df.limit)
					if err != nil {
						return err
					}
					fmt.Fprint(stdout, "before: ")
					if err := evalReport(before, data); err != nil {
						return err
					}
					fmt.Fprint(stdout, "after:  ")
					if err := evalReport(g, data); err != nil {
						return err
					}
				}
				if *out != "" {
					return ir.WriteFile(*out, g)
				}
				return nil
			}
		},
	})
}

func passList() string {
	var b strings.Builder
	for _, p := range passes.All() {
		fmt.Fprintf(&b, "  %-13s %s\n", p.Name, p.Summary)
		for _, o := range p.Options {
			fmt.Fprintf(&b, "      %s=%s  %s\n", o.Name, o.Default, o.Doc)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
