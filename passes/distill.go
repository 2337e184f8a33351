package passes

import (
	"fmt"
	"strings"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// distill: fine-tune the graph against a teacher's soft labels (Hinton's
// knowledge distillation), the recovery step of iterative compression:
//
//	prune{ratio=0.5},distill{epochs=1},prune{ratio=0.75},distill{epochs=1}
//
// The teacher is the pipeline's input graph (Context.Teacher), the data
// Context.Data. Whatever the graph's compression, its encodings are kept:
// pruned weights stay zero, shared weights train their codebook entries,
// quantized graphs train through fake quantization and are re-encoded with
// their scales (rt.Lift, rt.FineTune).
var distillPass = &Pass{
	Name:    "distill",
	Summary: "knowledge distillation from the pipeline's input model (soft labels, T²·KL + cross-entropy), keeping masks, codebooks and quantization",
	Options: []OptionDef{
		{Name: "epochs", Kind: Int, Default: "1", Doc: "passes over the data"},
		{Name: "temperature", Kind: Float, Default: "4", Doc: "softmax temperature of the soft labels"},
		{Name: "alpha", Kind: Float, Default: "0.7", Doc: "weight of the soft term (1 - alpha: cross-entropy on the labels)"},
		{Name: "lr", Kind: Float, Default: "0.0002", Doc: "Adam learning rate, cosine-decayed to 0"},
		{Name: "batch", Kind: Int, Default: "64", Doc: "examples per step (in 4 shards)"},
		{Name: "seed", Kind: Int, Default: "1", Doc: "shuffling seed"},
		{Name: "no-labels", Kind: Bool, Default: "false", Doc: "learn from the teacher alone, ignoring the data's labels"},
		{Name: "samples", Kind: Int, Default: "0", Doc: "use the first N samples of the data (0: all)"},
	},
	After:     []string{"canonicalize"},
	NeedsData: true,
	New:       newDistill,
}

func newDistill(o Options) (Func, error) {
	cfg := rt.FineTuneConfig{Epochs: o.Int("epochs"), Temperature: float32(o.Float("temperature")), Alpha: float32(o.Float("alpha")),
		LR: float32(o.Float("lr")), Batch: o.Int("batch"), Seed: uint64(o.Int("seed")), NoLabels: o.Bool("no-labels")}
	if cfg.Epochs < 1 || cfg.Batch < 4 || cfg.Batch%4 != 0 {
		return nil, fmt.Errorf("epochs must be positive and batch a positive multiple of 4")
	}
	if !(cfg.Temperature > 0) || cfg.Alpha < 0 || cfg.Alpha > 1 || !(cfg.LR > 0) {
		return nil, fmt.Errorf("temperature and lr must be positive and alpha in [0, 1]")
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 1e-9 // FineTune reads 0 as the default
	}
	samples := o.Int("samples")
	return func(g *ir.Graph, ctx *Context, rep *Report) error {
		if ctx.Teacher == nil {
			return fmt.Errorf("no teacher (Context.Teacher)")
		}
		data := DatasetExamples(ctx.Data)
		if samples > 0 && samples < data.Len() {
			data.N = samples
		}
		if data.Len() < cfg.Batch {
			return fmt.Errorf("%d samples make no batch of %d", data.Len(), cfg.Batch)
		}
		s, err := rt.Lift(g)
		if err != nil {
			return err
		}
		c := cfg
		c.Teacher = ctx.Teacher
		var log strings.Builder
		c.Log = &log
		stats, err := rt.FineTune(s, data, c)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			ctx.logf("distill: %s", l)
		}
		last := stats[len(stats)-1]
		rep.Notef("%d epochs on %d samples (T=%g, alpha=%g): loss %.4f, train top-1 %.2f %%, %d trainable tensors",
			len(stats), data.Len(), c.Temperature, c.Alpha, last.Loss, 100*last.TrainAcc, len(s.Params))
		return nil
	}, nil
}

// Examples adapts a Dataset of single-input f32 samples to rt.Examples.
type Examples struct {
	D *Dataset
	N int
}

// DatasetExamples wraps d (all of its samples).
func DatasetExamples(d *Dataset) *Examples { return &Examples{D: d, N: d.Len()} }

// Len implements rt.Examples.
func (e *Examples) Len() int { return e.N }

// Example implements rt.Examples.
func (e *Examples) Example(i int, dst []float32) int {
	copy(dst, e.D.Inputs[i][0].F32)
	if e.D.Labels == nil {
		return -1
	}
	return e.D.Labels[i]
}
