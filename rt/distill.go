package rt

import (
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/pare-ml/pare/ir"
)

// Fine-tuning and knowledge distillation of a Student (fakequant.go):
// FineTune trains the student's float form on data, against hard labels
// or, with a teacher, against the teacher's soft labels (Distill loss:
// T²·KL blended with cross-entropy), keeping masks, codebooks and fake
// quantization, and re-encodes the compressed graph at the end.

// Rebatch returns a copy of g whose inputs have batch dim n (dim 0 of the
// first input, wherever it appears first in the other inputs); reshapes
// that keep the batch dim follow. Constant tensors are shared with g.
func Rebatch(g *ir.Graph, n int) (*ir.Graph, error) {
	c := g.Clone()
	if len(c.Params) == 0 || len(c.Params[0].Type.Shape) == 0 {
		return nil, fmt.Errorf("rt: rebatch: graph %s has no batched input", g.Name)
	}
	old := c.Params[0].Type.Shape[0]
	if old == n {
		return c, nil
	}
	oldShape := map[*ir.Value][]int{}
	for _, p := range c.Params {
		oldShape[p] = p.Type.Shape
		if len(p.Type.Shape) > 0 && p.Type.Shape[0] == old {
			p.Type.Shape = append([]int{n}, p.Type.Shape[1:]...)
		}
	}
	for _, v := range c.Values {
		oldShape[v] = v.Type.Shape
		if v.IsConst() {
			continue
		}
		hint := v.Type
		hint.Shape = append([]int{}, v.Type.Shape...)
		if v.Op.Name == "reshape" && len(hint.Shape) > 0 && hint.Shape[0] == old {
			a := v.Args[0]
			if os := oldShape[a]; len(os) > 0 && os[0] == old && a.Type.Shape[0] == n {
				hint.Shape[0] = n
			}
		}
		v.Type = hint
		t, err := v.Op.Infer(v)
		if err != nil {
			return nil, fmt.Errorf("rt: rebatch %s to %d: %s: %v", g.Name, n, v.Where(), err)
		}
		v.Type = t
	}
	return c, ir.Verify(c)
}

// ParamsFor returns the student's parameters as values of g, a Rebatch
// copy of Float (matched by their shared tensors).
func (s *Student) ParamsFor(g *ir.Graph) ([]*Param, error) {
	byT := map[*ir.Tensor]*ir.Value{}
	for _, v := range g.Values {
		if v.IsConst() {
			byT[v.Const] = v
		}
	}
	out := make([]*Param, len(s.Params))
	for i, p := range s.Params {
		v := byT[p.V.Const]
		if v == nil {
			return nil, fmt.Errorf("rt: parameter %s is not in graph %s", p.V.Name, g.Name)
		}
		out[i] = &Param{V: v, Mask: p.Mask, NoDecay: p.NoDecay}
	}
	return out, nil
}

// Optimizer wraps inner so that tied (codebook) weights train their
// codebook entries: each entry moves by the sum of the gradients of the
// weights using it, zero entries stay zero, and the dense weights are
// rewritten from the codebook after every step. Other parameters pass
// through unchanged.
func (s *Student) Optimizer(inner Optimizer) Optimizer {
	o := &tiedOptimizer{inner: inner, tied: map[*ir.Tensor]*liftedWeight{}}
	for _, lw := range s.ws {
		if lw.cluster != nil {
			o.tied[lw.dense] = lw
		}
	}
	return o
}

type tiedOptimizer struct {
	inner Optimizer
	tied  map[*ir.Tensor]*liftedWeight
}

func (o *tiedOptimizer) Step(params []*Param, grads [][]float32, lr float32) {
	ps := make([]*Param, len(params))
	gs := make([][]float32, len(params))
	for i, p := range params {
		ps[i], gs[i] = p, grads[i]
		if lw := o.tied[p.V.Const]; lw != nil {
			ps[i], gs[i] = lw.cb, lw.CentroidGrads(grads[i])
		}
	}
	o.inner.Step(ps, gs, lr)
	for i, p := range params {
		if lw := o.tied[p.V.Const]; lw != nil {
			_ = i
			lw.refresh()
		}
	}
}

// CentroidGrads turns the gradient of a tied weight's dense elements into
// the gradient of its codebook entries (in units of the mean scale): entry
// k gets the sum over the elements using it of gradient × scale / unit. Fixed (zero) entries
// get none.
func (lw *liftedWeight) CentroidGrads(g []float32) []float32 {
	out := make([]float32, len(lw.cbFixed))
	for j, c := range lw.cluster {
		if c >= 0 {
			out[c] += g[j] * lw.scale[j] / lw.cbUnit
		}
	}
	for k, fixed := range lw.cbFixed {
		if fixed {
			out[k] = 0
		}
	}
	return out
}

// refresh rewrites the dense weight from the codebook.
func (lw *liftedWeight) refresh() {
	cb := lw.cb.Data()
	for k, fixed := range lw.cbFixed {
		if fixed {
			cb[k] = 0
		}
	}
	d := lw.dense.F32
	for j, c := range lw.cluster {
		d[j] = 0
		if c >= 0 {
			d[j] = (cb[c]/lw.cbUnit - lw.zero[j]) * lw.scale[j]
		}
	}
}

// Tied reports, for a parameter of the student, its codebook: the
// trainable entries and the gradient mapping (nil when not tied).
func (s *Student) Tied(p *Param) (codebook *Param, centroidGrads func([]float32) []float32) {
	for _, lw := range s.ws {
		if lw.dense == p.V.Const && lw.cluster != nil {
			return lw.cb, lw.CentroidGrads
		}
	}
	return nil, nil
}

// Commit writes the trained weights back into Orig's encodings: new f32
// tensors for f32 weights and codebooks, integers rounded with the
// original scales and zero points (saturated) for quantized ones. Indices,
// sparsity patterns and quantization parameters are unchanged.
func (s *Student) Commit() error {
	for _, lw := range s.ws {
		if lw.cluster != nil {
			cbv := lw.w
			if cbv.Op.Name == "sparse_decode" || cbv.Op.Name == "sparse_rel_decode" {
				cbv = cbv.Args[0]
			}
			c := cbv.Args[0]
			if !c.IsConst() {
				return fmt.Errorf("rt: commit: codebook of %s is not a constant", lw.w.Where())
			}
			t := c.Const.Clone()
			for k, x := range lw.cb.Data() {
				storeAt(t, k, float64(x/lw.cbUnit))
			}
			c.Const = t
			continue
		}
		target := lw.w
		if target.Op.Name == "sparse_decode" || target.Op.Name == "sparse_rel_decode" {
			target = target.Args[0]
		}
		if !target.IsConst() {
			return fmt.Errorf("rt: commit: %s is not a constant", target.Where())
		}
		t := target.Const.Clone()
		for j, sl := range lw.slot {
			if sl < 0 {
				continue
			}
			x := float64(lw.dense.F32[j])
			if t.DType != ir.F32 {
				x = x/float64(lw.scale[j]) + float64(lw.zero[j])
			}
			storeAt(t, sl, x)
		}
		target.Const = t
	}
	for _, lb := range s.biases {
		t := lb.b.Const.Clone()
		for j, x := range lb.p.Data() {
			storeAt(t, j, float64(x)/float64(lb.scale[j]))
		}
		lb.b.Const = t
	}
	return ir.Verify(s.Orig)
}

// storeAt stores x in element i of t, rounded (half to even) and saturated
// when t is integer.
func storeAt(t *ir.Tensor, i int, x float64) {
	if t.DType == ir.F32 {
		t.F32[i] = float32(x)
		return
	}
	lo, hi := t.DType.Range()
	r := math.RoundToEven(x)
	t.SetInt(i, int64(math.Max(float64(lo), math.Min(float64(hi), r))))
}

// FineTuneConfig configures FineTune.
type FineTuneConfig struct {
	// Teacher, when set, makes the loss distillation against its logits
	// (the teacher graph takes the student's inputs; any batch size).
	Teacher     *ir.Graph
	Temperature float32 // default 4
	Alpha       float32 // weight of the soft term when labels exist (default 0.7; 1 = teacher only)
	NoLabels    bool    // ignore the data's labels: learn from the teacher alone
	Epochs      int     // default 1
	Batch       int     // default 64
	Shards      int     // default 4 (Batch/Shards is the training graph's batch)
	LR          float32 // Adam's learning rate, cosine-decayed to 0 (default 1e-4)
	Seed        uint64
	MaxSteps    int
	Test        Examples // evaluated after every epoch when set
	Log         io.Writer
}

// FineTune trains the student on data and commits the result into
// s.Orig. Without a teacher the loss is cross-entropy on the labels.
func FineTune(s *Student, data Examples, cfg FineTuneConfig) ([]EpochStats, error) {
	if cfg.Temperature == 0 {
		cfg.Temperature = 4
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.7
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = 1
	}
	if cfg.Batch == 0 {
		cfg.Batch = 64
	}
	if cfg.Shards == 0 {
		cfg.Shards = 4
	}
	if cfg.LR == 0 {
		cfg.LR = 1e-4
	}
	if cfg.Batch%cfg.Shards != 0 {
		return nil, fmt.Errorf("rt: fine-tune: batch %d does not split into %d shards", cfg.Batch, cfg.Shards)
	}
	shard := cfg.Batch / cfg.Shards
	tg, err := Rebatch(s.Float, shard)
	if err != nil {
		return nil, err
	}
	params, err := s.ParamsFor(tg)
	if err != nil {
		return nil, err
	}
	if cfg.NoLabels {
		data = unlabelled{data}
		if cfg.Teacher == nil {
			return nil, fmt.Errorf("rt: fine-tune: without labels a teacher is needed")
		}
	}
	tc := TrainConfig{Epochs: cfg.Epochs, Batch: cfg.Batch, Shards: cfg.Shards, Seed: cfg.Seed,
		Optimizer: s.Optimizer(&Adam{}), Schedule: CosineLR{Base: cfg.LR}, Log: cfg.Log, MaxSteps: cfg.MaxSteps, Test: cfg.Test}
	if cfg.Test != nil {
		if tc.Eval, err = Rebatch(s.Float, 100); err != nil {
			return nil, err
		}
	}
	if cfg.Teacher != nil {
		teach, err := NewTeacher(cfg.Teacher, shard, data.Len())
		if err != nil {
			return nil, err
		}
		tc.Loss = Distill{Teacher: teach, Temperature: cfg.Temperature, Alpha: cfg.Alpha}
	}
	stats, err := Train(tg, params, data, tc)
	if err != nil {
		return stats, err
	}
	return stats, s.Commit()
}

// NewTeacher returns the Teacher function of a Distill loss: teacher's
// logits (first result) for a batch of n examples, computed once per
// example of a data set of size examples and cached by example index.
func NewTeacher(teacher *ir.Graph, n, examples int) (func(b *Batch) (*ir.Tensor, error), error) {
	tg, err := Rebatch(teacher, n)
	if err != nil {
		return nil, err
	}
	ip, err := New(tg)
	if err != nil {
		return nil, err
	}
	if len(tg.Params) != 1 {
		return nil, fmt.Errorf("rt: teacher %s must have one input", teacher.Name)
	}
	var mu sync.Mutex
	cache := make([][]float32, examples)
	return func(b *Batch) (*ir.Tensor, error) {
		mu.Lock()
		hit := b.Index != nil
		for _, i := range b.Index {
			if i < 0 || i >= len(cache) || cache[i] == nil {
				hit = false
			}
		}
		mu.Unlock()
		if hit {
			cols := len(cache[b.Index[0]])
			t := ir.NewTensor(ir.F32, []int{len(b.Index), cols})
			for r, i := range b.Index {
				copy(t.F32[r*cols:], cache[i])
			}
			return t, nil
		}
		x := b.Inputs[0]
		if in := tg.Params[0].Type; in.DType != x.DType {
			return nil, fmt.Errorf("rt: teacher takes %v, the data is %v", in, x.DType)
		}
		out, err := ip.Run([]*ir.Tensor{x})
		if err != nil {
			return nil, err
		}
		l := out[0]
		if len(b.Index) > 0 && l.Len()%len(b.Index) == 0 {
			cols := l.Len() / len(b.Index)
			mu.Lock()
			for r, i := range b.Index {
				if i >= 0 && i < len(cache) {
					cache[i] = append([]float32(nil), l.F32[r*cols:(r+1)*cols]...)
				}
			}
			mu.Unlock()
		}
		return l, nil
	}, nil
}

// unlabelled hides the labels of a data set.
type unlabelled struct{ Examples }

func (u unlabelled) Example(i int, dst []float32) int {
	u.Examples.Example(i, dst)
	return -1
}
