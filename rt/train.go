package rt

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/pare-ml/pare/ir"
)

// Training: minibatch gradient descent over an IR graph.
//
// The training graph takes one input whose dim 0 is the shard size and
// returns the logits (or whatever the Loss scores) first. A batch of
// Batch examples splits into Shards equal shards; each shard runs forward
// and backward on its own goroutine (at most GOMAXPROCS at once) into its own
// gradient buffers, and the buffers are summed in shard order. Neither the
// number of cores nor scheduling changes the arithmetic: a seed gives the
// same weights bit for bit.

// Examples is a training or evaluation set.
type Examples interface {
	Len() int
	// Example writes example i's input (one row of the graph's input along
	// dim 0) into dst and returns its label (-1 when it has none).
	Example(i int, dst []float32) int
}

// TrainConfig configures Train.
type TrainConfig struct {
	Epochs int
	Batch  int // examples per optimizer step
	// Shards is how many equal parts a batch splits into, run in parallel;
	// the training graph's batch dim must be Batch/Shards. It fixes the
	// order of the gradient sums, so it is part of what a seed reproduces.
	Shards    int
	Seed      uint64 // shuffles the training set every epoch
	Optimizer Optimizer
	Schedule  Schedule
	Loss      Loss // nil: CrossEntropy
	// Test, when set, is evaluated after every epoch with Eval (nil: the
	// training graph) on its first result.
	Test Examples
	Eval *ir.Graph
	// Log receives a progress line per epoch (nil: none).
	Log io.Writer
	// MaxSteps, when positive, stops each epoch after that many steps.
	MaxSteps int
}

// EpochStats is the record of one epoch.
type EpochStats struct {
	Epoch        int
	Loss         float64 // mean training loss over the epoch
	TrainAcc     float64 // top-1 of the training forward passes, in [0, 1]
	TestAcc      float64 // top-1 on Test after the epoch (-1 without Test)
	TestCorrect  int
	LR           float32 // at the epoch's last step
	ImagesPerSec float64 // training throughput (forward, backward, update)
	Train        time.Duration
}

// Train trains params of g on data.
func Train(g *ir.Graph, params []*Param, data Examples, cfg TrainConfig) ([]EpochStats, error) {
	if cfg.Batch <= 0 || cfg.Epochs <= 0 {
		return nil, fmt.Errorf("rt: train: batch %d and epochs %d must be positive", cfg.Batch, cfg.Epochs)
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 1
	}
	if cfg.Batch%cfg.Shards != 0 {
		return nil, fmt.Errorf("rt: train: batch %d does not split into %d shards", cfg.Batch, cfg.Shards)
	}
	if cfg.Optimizer == nil || cfg.Schedule == nil {
		return nil, fmt.Errorf("rt: train: an optimizer and a schedule are needed")
	}
	if cfg.Loss == nil {
		cfg.Loss = CrossEntropy{}
	}
	if len(g.Params) != 1 || len(g.Results) == 0 {
		return nil, fmt.Errorf("rt: train: graph %s must have one input and a result", g.Name)
	}
	shard := cfg.Batch / cfg.Shards
	in := g.Params[0].Type
	if in.DType != ir.F32 || len(in.Shape) == 0 || in.Shape[0] != shard {
		return nil, fmt.Errorf("rt: train: graph %s input %v must be f32 with batch dim %d (batch %d in %d shards)", g.Name, in, shard, cfg.Batch, cfg.Shards)
	}
	steps := data.Len() / cfg.Batch
	if cfg.MaxSteps > 0 && steps > cfg.MaxSteps {
		steps = cfg.MaxSteps
	}
	if steps == 0 {
		return nil, fmt.Errorf("rt: train: %d examples make no batch of %d", data.Len(), cfg.Batch)
	}
	wrt := make([]*ir.Value, len(params))
	for i, p := range params {
		if !p.V.IsConst() || p.V.Const == nil || p.V.Const.DType != ir.F32 {
			return nil, fmt.Errorf("rt: train: parameter %s is not an f32 constant", p.V.Where())
		}
		if p.Mask != nil && len(p.Mask) != len(p.Data()) {
			return nil, fmt.Errorf("rt: train: mask of %s has %d entries for %d weights", p.V.Where(), len(p.Mask), len(p.Data()))
		}
		wrt[i] = p.V
	}
	d, err := NewGrad(g, wrt)
	if err != nil {
		return nil, err
	}
	applyMasks(params)
	rowLen := in.NumElements() / shard
	type shardState struct {
		x       *ir.Tensor
		labels  []int
		index   []int
		grads   [][]float32
		loss    float64
		correct int
		err     error
	}
	states := make([]*shardState, cfg.Shards)
	for s := range states {
		st := &shardState{x: ir.NewTensor(ir.F32, in.Shape), labels: make([]int, shard), index: make([]int, shard)}
		st.grads = make([][]float32, len(params))
		for i, p := range params {
			st.grads[i] = make([]float32, len(p.Data()))
		}
		states[s] = st
	}
	total := make([][]float32, len(params))
	for i, p := range params {
		total[i] = make([]float32, len(p.Data()))
	}
	workers := min(runtime.GOMAXPROCS(0), cfg.Shards)
	rng := NewRand(cfg.Seed)
	scale := 1 / float32(cfg.Batch)
	runShard := func(st *shardState) {
		st.err = nil
		b := &Batch{Inputs: []*ir.Tensor{st.x}, Labels: st.labels, Index: st.index}
		for _, l := range st.labels {
			if l < 0 {
				b.Labels = nil
			}
		}
		tape, err := d.Forward(b.Inputs)
		if err != nil {
			st.err = err
			return
		}
		res := tape.Results()
		loss, dres, err := cfg.Loss.Eval(b, res, scale)
		if err != nil {
			st.err = err
			return
		}
		grads, err := tape.Backward(dres)
		if err != nil {
			st.err = err
			return
		}
		for i, gr := range grads {
			copy(st.grads[i], gr.F32)
		}
		st.loss = loss
		st.correct = 0
		if b.Labels != nil {
			st.correct = countCorrect(res[0], b.Labels)
		}
	}
	var stats []EpochStats
	totalSteps := steps * cfg.Epochs
	for ep := 0; ep < cfg.Epochs; ep++ {
		perm := rng.Perm(data.Len())
		start := time.Now()
		var sumLoss float64
		correct := 0
		var lr float32
		for step := 0; step < steps; step++ {
			for s, st := range states {
				for r := 0; r < shard; r++ {
					i := perm[step*cfg.Batch+s*shard+r]
					st.index[r] = i
					st.labels[r] = data.Example(i, st.x.F32[r*rowLen:(r+1)*rowLen])
				}
			}
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for s := w; s < cfg.Shards; s += workers {
						runShard(states[s])
					}
				}(w)
			}
			wg.Wait()
			for i := range total {
				copy(total[i], states[0].grads[i])
			}
			for _, st := range states {
				if st.err != nil {
					return stats, st.err
				}
			}
			for _, st := range states[1:] {
				for i := range total {
					addTo(total[i], st.grads[i])
				}
			}
			for _, st := range states {
				sumLoss += st.loss
				correct += st.correct
			}
			for i, p := range params {
				if p.Mask != nil {
					for j, m := range p.Mask {
						total[i][j] *= m
					}
				}
			}
			lr = cfg.Schedule.LR(ep*steps+step, totalSteps)
			cfg.Optimizer.Step(params, total, lr)
			applyMasks(params)
		}
		el := time.Since(start)
		es := EpochStats{Epoch: ep + 1, Loss: sumLoss / float64(steps), TrainAcc: float64(correct) / float64(steps*cfg.Batch),
			TestAcc: -1, LR: lr, ImagesPerSec: float64(steps*cfg.Batch) / el.Seconds(), Train: el}
		if cfg.Test != nil {
			eg := cfg.Eval
			if eg == nil {
				eg = g
			}
			c, err := Evaluate(eg, cfg.Test)
			if err != nil {
				return stats, err
			}
			es.TestCorrect = c
			es.TestAcc = float64(c) / float64(cfg.Test.Len())
		}
		stats = append(stats, es)
		if cfg.Log != nil {
			fmt.Fprintln(cfg.Log, es)
		}
	}
	return stats, nil
}

func (e EpochStats) String() string {
	s := fmt.Sprintf("epoch %d  loss %.4f  train %.2f%%", e.Epoch, e.Loss, 100*e.TrainAcc)
	if e.TestAcc >= 0 {
		s += fmt.Sprintf("  test %.2f%%", 100*e.TestAcc)
	}
	return s + fmt.Sprintf("  lr %.3g  %.0f images/s  %.1fs", e.LR, e.ImagesPerSec, e.Train.Seconds())
}

func applyMasks(params []*Param) {
	for _, p := range params {
		if p.Mask == nil {
			continue
		}
		w := p.Data()
		for j, m := range p.Mask {
			w[j] *= m
		}
	}
}

// countCorrect counts the rows of logits [N, classes] whose first maximum
// is the label.
func countCorrect(logits *ir.Tensor, labels []int) int {
	cols := logits.Shape[len(logits.Shape)-1]
	n := 0
	for r, lab := range labels {
		if argmax(logits.F32[r*cols:(r+1)*cols]) == lab {
			n++
		}
	}
	return n
}

func argmax(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}

// Evaluate runs g (one f32 input with batch dim 0, first result logits
// [N, classes]) over every example and returns how many it classifies
// right. Batches run in parallel on GOMAXPROCS goroutines; the last batch is
// padded with zeros.
func Evaluate(g *ir.Graph, data Examples) (int, error) {
	ip, err := New(g)
	if err != nil {
		return 0, err
	}
	if len(g.Params) != 1 || len(g.Results) == 0 {
		return 0, fmt.Errorf("rt: evaluate: graph %s must have one input and a result", g.Name)
	}
	in := g.Params[0].Type
	if in.DType != ir.F32 || len(in.Shape) == 0 || in.Shape[0] == 0 {
		return 0, fmt.Errorf("rt: evaluate: graph %s input %v must be f32 with a batch dim", g.Name, in)
	}
	nb := in.Shape[0]
	rowLen := in.NumElements() / nb
	batches := (data.Len() + nb - 1) / nb
	workers := min(runtime.GOMAXPROCS(0), batches)
	counts := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			x := ir.NewTensor(ir.F32, in.Shape)
			labels := make([]int, 0, nb)
			for b := w; b < batches; b += workers {
				clear(x.F32)
				labels = labels[:0]
				for r := 0; r < nb && b*nb+r < data.Len(); r++ {
					labels = append(labels, data.Example(b*nb+r, x.F32[r*rowLen:(r+1)*rowLen]))
				}
				out, err := ip.Run([]*ir.Tensor{x})
				if err != nil {
					errs[w] = err
					return
				}
				counts[w] += countCorrect(out[0], labels)
			}
		}(w)
	}
	wg.Wait()
	n := 0
	for w := range counts {
		if errs[w] != nil {
			return 0, errs[w]
		}
		n += counts[w]
	}
	return n, nil
}
