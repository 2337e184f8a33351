package passes

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pare-ml/pare/ir"
)

// RunOptions control what a pipeline run writes besides the graph.
type RunOptions struct {
	// PrintAfterAll, when set, is a folder that receives the IR after every
	// pass as <model>.<seq>.<pass>.ir (seq 00 is the input graph).
	PrintAfterAll string
	// PrintChanged is the same, but only for passes that changed the graph.
	PrintChanged string
	// Model names the files (default: the graph's name).
	Model string
}

// Run runs the pipeline on g in place: each pass, then ir.Verify, then its
// report. It returns the reports of the passes that ran.
func (pl *Pipeline) Run(g *ir.Graph, ctx *Context, ro RunOptions) ([]*Report, error) {
	if ctx == nil {
		ctx = &Context{}
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("input graph: %v", err)
	}
	model := ro.Model
	if model == "" {
		model = g.Name
	}
	model = ir.SanitizeName(model)
	for _, dir := range []string{ro.PrintAfterAll, ro.PrintChanged} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
	}
	if ro.PrintAfterAll != "" {
		if err := ir.WriteFile(filepath.Join(ro.PrintAfterAll, fmt.Sprintf("%s.00.input.ir", model)), g); err != nil {
			return nil, err
		}
	}
	if ctx.Teacher == nil {
		ctx.Teacher = g.Clone() // the distill pass's teacher: the pipeline's input
		defer func() { ctx.Teacher = nil }()
	}
	var reps []*Report
	for i, st := range pl.Steps {
		if st.Pass.NeedsData && ctx.Data.Len() == 0 {
			return reps, fmt.Errorf("pass %s needs calibration data (pare opt --calib DATA)", st.Pass.Name)
		}
		before := g.String()
		rep := &Report{Pass: st.Pass.Name, Spec: st.Spec}
		rep.beforeLayers, rep.Before = layerCosts(g), ir.GraphCost(g)
		t0 := time.Now()
		if err := st.run(g, ctx, rep); err != nil {
			return reps, fmt.Errorf("pass %s: %v", st.Pass.Name, err)
		}
		rep.Duration = time.Since(t0)
		if err := ir.Verify(g); err != nil {
			return reps, fmt.Errorf("after pass %s: %v", st.Pass.Name, err)
		}
		rep.After = ir.GraphCost(g)
		rep.finish(layerCosts(g))
		rep.Changed = g.String() != before
		reps = append(reps, rep)
		name := fmt.Sprintf("%s.%02d.%s.ir", model, i+1, st.Pass.Name)
		if ro.PrintAfterAll != "" {
			if err := ir.WriteFile(filepath.Join(ro.PrintAfterAll, name), g); err != nil {
				return reps, err
			}
		}
		if ro.PrintChanged != "" && rep.Changed {
			if err := ir.WriteFile(filepath.Join(ro.PrintChanged, name), g); err != nil {
				return reps, err
			}
		}
	}
	return reps, nil
}

// RunSpec parses spec and runs it on g.
func RunSpec(g *ir.Graph, spec string, ctx *Context) ([]*Report, error) {
	pl, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	return pl.Run(g, ctx, RunOptions{})
}
