package passes

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pare-ml/pare/ir"
)

// LayerCost is what one layer (a value with weights or MACs) costs.
type LayerCost struct {
	Present             bool
	Op                  string
	Params, Bytes, MACs int64
	DType               string // weight dtype / result dtype, e.g. i8/u8
}

// LayerRow compares one layer before and after a pass; layers are matched by
// their source node name.
type LayerRow struct {
	Name          string
	Before, After LayerCost
}

// Report is what one pass did.
type Report struct {
	Pass, Spec    string
	Layers        []LayerRow
	Before, After ir.Cost
	Notes         []string
	Changed       bool
	Duration      time.Duration

	beforeLayers []namedCost
}

// Notef adds a line to the report.
func (r *Report) Notef(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

type namedCost struct {
	name string
	c    LayerCost
}

func layerKey(v *ir.Value) string {
	if v.Source != "" {
		return v.Source
	}
	return v.Name
}

// layerCosts lists the layers of g in order.
func layerCosts(g *ir.Graph) []namedCost {
	var out []namedCost
	seen := map[string]int{}
	for _, v := range g.Values {
		if v.IsConst() {
			continue
		}
		var c LayerCost
		wdt := ""
		for _, w := range ir.Weights(v) {
			c.Params += int64(w.Type.NumElements())
			c.Bytes += int64(w.Type.Bytes())
			if wdt == "" {
				wdt = w.Type.DType.String()
			}
		}
		c.MACs = ir.MACs(v)
		if c.Params == 0 && c.MACs == 0 {
			continue
		}
		if wdt == "" {
			wdt = v.Args[1].Type.DType.String()
		}
		c.Present, c.Op, c.DType = true, v.Op.Name, wdt+"/"+v.Type.DType.String()
		k := layerKey(v)
		if n := seen[k]; n > 0 {
			k = fmt.Sprintf("%s#%d", k, n+1)
		}
		seen[layerKey(v)]++
		out = append(out, namedCost{k, c})
	}
	return out
}

func (r *Report) finish(after []namedCost) {
	idx := map[string]int{}
	for _, b := range r.beforeLayers {
		idx[b.name] = len(r.Layers)
		r.Layers = append(r.Layers, LayerRow{Name: b.name, Before: b.c})
	}
	for _, a := range after {
		if i, ok := idx[a.name]; ok {
			r.Layers[i].After = a.c
			continue
		}
		r.Layers = append(r.Layers, LayerRow{Name: a.name, After: a.c})
	}
	r.beforeLayers = nil
}

// Format prints the report as a table: per layer, params, bytes, MACs and
// dtype (weights/result) before → after, then the totals and the notes.
func (r *Report) Format(w io.Writer) {
	fmt.Fprintf(w, "== %s (%s)\n", r.Spec, r.Duration.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\top\tparams\tbytes\tMACs\tdtype\t")
	arrow := func(a, b int64, pa, pb bool) string {
		switch {
		case !pa:
			return fmt.Sprintf("+%d", b)
		case !pb:
			return fmt.Sprintf("%d → -", a)
		case a == b:
			return fmt.Sprint(a)
		}
		return fmt.Sprintf("%d → %d", a, b)
	}
	for _, l := range r.Layers {
		b, a := l.Before, l.After
		op := b.Op
		if !b.Present {
			op = a.Op
		} else if a.Present && a.Op != b.Op {
			op = b.Op + " → " + a.Op
		}
		dt := b.DType
		switch {
		case !b.Present:
			dt = a.DType
		case !a.Present:
			dt += " → removed"
		case a.DType != b.DType:
			dt += " → " + a.DType
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", l.Name, op,
			arrow(b.Params, a.Params, b.Present, a.Present), arrow(b.Bytes, a.Bytes, b.Present, a.Present),
			arrow(b.MACs, a.MACs, b.Present, a.Present), dt)
	}
	fmt.Fprintf(tw, "total\t\t%s\t%s\t%s\t\t\n", arrow(r.Before.Params, r.After.Params, true, true),
		arrow(r.Before.Bytes, r.After.Bytes, true, true), arrow(r.Before.MACs, r.After.MACs, true, true))
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	if !r.Changed {
		fmt.Fprintln(w, "  (graph unchanged)")
	}
}

// Totals summarizes a run: the first report's before against the last's after.
func Totals(reps []*Report) string {
	if len(reps) == 0 {
		return "no passes ran"
	}
	b, a := reps[0].Before, reps[len(reps)-1].After
	var s strings.Builder
	fmt.Fprintf(&s, "total: params %d → %d, weight bytes %d → %d", b.Params, a.Params, b.Bytes, a.Bytes)
	if a.Bytes > 0 {
		fmt.Fprintf(&s, " (%.2f× smaller)", float64(b.Bytes)/float64(a.Bytes))
	}
	fmt.Fprintf(&s, ", MACs %d → %d", b.MACs, a.MACs)
	return s.String()
}
