package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "stats", args: "MODEL",
		summary: "per-layer table of op, output shape, parameters, bytes and MACs, with totals",
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			all := fs.Bool("all", false, "list every value, not only layers with weights or MACs")
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				printStats(stdout, g, *all)
				return nil
			}
		},
	})
}

func printStats(w io.Writer, g *ir.Graph, all bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "value\top\toutput\tparams\tbytes\tMACs\t")
	for _, v := range g.Values {
		if v.IsConst() {
			continue
		}
		var params, bytes int64
		for _, wv := range ir.Weights(v) {
			params += int64(wv.Type.NumElements())
			bytes += int64(wv.Type.Bytes())
		}
		macs := ir.MACs(v)
		if !all && params == 0 && macs == 0 {
			continue
		}
		fmt.Fprintf(tw, "%%%s\t%s\t%s\t%d\t%d\t%d\t\n", v.Name, v.Op.Name, v.Type, params, bytes, macs)
	}
	c := ir.GraphCost(g)
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t\n", c.Params, c.Bytes, c.MACs)
	tw.Flush()
	fmt.Fprintf(w, "%d values, %d params (%s), %s MACs\n", len(g.Values), c.Params, humanBytes(c.Bytes), humanCount(c.MACs))
}

func humanBytes(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f G", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f K", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}
