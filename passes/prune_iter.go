package passes

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// runIterative prunes in c.steps steps towards c.ratio (the fraction removed
// grows geometrically in the kept fraction: 1-(1-ratio)^(i/steps)), with
// refit after every step and, when c.distill is set, distillation from the
// pipeline's input model, evaluating top-1 on the calibration samples after
// each. With distillation those samples are the last c.samples of the data,
// held out from training. With a budget it stops at the last step whose
// accuracy loss stays within it.
func runIterative(g *ir.Graph, ctx *Context, rep *Report, c *pruneConfig) error {
	var eval *Dataset
	base := -1.0
	train := ctx
	if c.distill != nil {
		if ctx.Data.Len() < c.samples+64 {
			return fmt.Errorf("distill after every step needs data: at least %d samples (%d held out to evaluate, a batch to train), have %d", c.samples+64, c.samples, ctx.Data.Len())
		}
		if ctx.Teacher == nil {
			return fmt.Errorf("distill after every step needs a teacher (the pipeline's input model)")
		}
		n := ctx.Data.Len() - c.samples
		eval = &Dataset{Name: ctx.Data.Name + " (held out)", Inputs: ctx.Data.Inputs[n:]}
		fit := &Dataset{Name: ctx.Data.Name, Inputs: ctx.Data.Inputs[:n]}
		if ctx.Data.Labels != nil {
			eval.Labels, fit.Labels = ctx.Data.Labels[n:], ctx.Data.Labels[:n]
		}
		cc := *ctx
		cc.Data = fit
		train = &cc
	}
	if eval != nil {
		a, err := Evaluate(g, eval, nil)
		if err != nil {
			return err
		}
		base = a.Top1Pct()
	} else if ctx.Data.Len() > 0 {
		eval = subset(ctx.Data, c.samples)
		a, err := Evaluate(g, eval, nil)
		if err != nil {
			return err
		}
		base = a.Top1Pct()
	} else if c.budget >= 0 {
		return fmt.Errorf("budget needs calibration data")
	}
	for i := 1; i <= c.steps; i++ {
		r := 1 - math.Pow(1-c.ratio, float64(i)/float64(c.steps))
		saved := g.Clone()
		step := &Report{}
		var err error
		if c.structured {
			err = pruneStructured(g, train, step, c, r)
		} else {
			err = pruneUnstructured(g, train, step, c, r)
		}
		if err != nil {
			return err
		}
		if c.distill != nil {
			if err := c.distill(g, train, step); err != nil {
				return fmt.Errorf("step %d: distill: %v", i, err)
			}
		}
		acc := -1.0
		if eval != nil {
			a, err := Evaluate(g, eval, nil)
			if err != nil {
				return err
			}
			acc = a.Top1Pct()
		}
		if c.budget >= 0 && base-acc > c.budget {
			*g = *saved
			rep.Notef("step %d/%d: ratio %.3f loses %.2f points (> budget %.2f): stopped, kept step %d", i, c.steps, r, base-acc, c.budget, i-1)
			return nil
		}
		rep.Notes = append(rep.Notes, step.Notes...)
		rep.Notef("step %d/%d: ratio %.3f, calibration top-1 %.2f %% (was %.2f %%)", i, c.steps, r, acc, base)
	}
	return nil
}

// subset is the first n samples of d.
func subset(d *Dataset, n int) *Dataset {
	n = min(n, d.Len())
	return &Dataset{Name: d.Name, Inputs: d.Inputs[:n], Labels: d.Labels[:n]}
}
