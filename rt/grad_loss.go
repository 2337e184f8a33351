package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Losses over a graph's results. They run outside the graph, on the
// forward results of a Tape, and give the gradients Backward starts from.
// Losses are summed per example and multiplied by a scale: 1/batch gives the
// batch mean, and shards of one batch each use 1/(whole batch) so their
// gradients add up to the mean's.

// Batch is what a Loss sees of one (shard of a) batch.
type Batch struct {
	Inputs []*ir.Tensor // the graph's inputs
	Labels []int        // one label per example; nil when the data has none
	Index  []int        // the examples' positions in the data set
}

// Loss scores a batch of results.
type Loss interface {
	// Eval returns scale × Σ over the examples of the per-example loss, and
	// its gradient with respect to each result of the graph (nil for
	// results it does not use).
	Eval(b *Batch, results []*ir.Tensor, scale float32) (float64, []*ir.Tensor, error)
}

// CrossEntropy is softmax cross-entropy of the first result (logits
// [N, classes]) against the labels.
type CrossEntropy struct{}

// Eval implements Loss.
func (CrossEntropy) Eval(b *Batch, results []*ir.Tensor, scale float32) (float64, []*ir.Tensor, error) {
	l, g, err := softmaxCE(results[0], b.Labels, scale)
	if err != nil {
		return 0, nil, err
	}
	gs := make([]*ir.Tensor, len(results))
	gs[0] = g
	return l, gs, nil
}

// SoftmaxCrossEntropy is the mean over the batch (dim 0) of the
// cross-entropy of softmax(logits) along the last dim against labels, and
// its gradient with respect to the logits.
func SoftmaxCrossEntropy(logits *ir.Tensor, labels []int) (float64, *ir.Tensor, error) {
	rows, _, err := rowsOf(logits)
	if err != nil {
		return 0, nil, err
	}
	return softmaxCE(logits, labels, 1/float32(rows))
}

func rowsOf(t *ir.Tensor) (rows, cols int, err error) {
	if t == nil || t.DType != ir.F32 || len(t.Shape) < 1 || t.Shape[len(t.Shape)-1] == 0 {
		return 0, 0, fmt.Errorf("logits must be f32 with a class dim")
	}
	cols = t.Shape[len(t.Shape)-1]
	return t.Len() / cols, cols, nil
}

func softmaxCE(logits *ir.Tensor, labels []int, scale float32) (float64, *ir.Tensor, error) {
	rows, cols, err := rowsOf(logits)
	if err != nil {
		return 0, nil, err
	}
	if len(labels) != rows {
		return 0, nil, fmt.Errorf("cross-entropy: %d labels for %d rows of logits", len(labels), rows)
	}
	g := ir.NewTensor(ir.F32, logits.Shape)
	var total float64
	for r := 0; r < rows; r++ {
		lab := labels[r]
		if lab < 0 || lab >= cols {
			return 0, nil, fmt.Errorf("cross-entropy: label %d out of range [0, %d)", lab, cols)
		}
		x := logits.F32[r*cols : (r+1)*cols]
		dx := g.F32[r*cols : (r+1)*cols]
		lse := logSumExp(x, 1)
		total += lse - float64(x[lab])
		for j, xv := range x {
			p := math.Exp(float64(xv) - lse)
			if j == lab {
				p--
			}
			dx[j] = float32(p) * scale
		}
	}
	return total * float64(scale), g, nil
}

// logSumExp is log Σ exp(x/t), in float64.
func logSumExp(x []float32, t float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v)/t)
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v)/t - m)
	}
	return m + math.Log(s)
}

// KLDivergence is the distillation loss of Hinton et al.: T² × KL(p_T ‖ q_T)
// per example, p_T = softmax(teacher/T), q_T = softmax(student/T), summed
// over rows and multiplied by scale; the gradient is with respect to the
// student logits ((q_T - p_T)·T·scale).
func KLDivergence(student, teacher *ir.Tensor, temperature float32, scale float32) (float64, *ir.Tensor, error) {
	rows, cols, err := rowsOf(student)
	if err != nil {
		return 0, nil, err
	}
	if teacher == nil || teacher.DType != ir.F32 || teacher.Len() != student.Len() {
		return 0, nil, fmt.Errorf("kl: teacher logits do not match the student's %v", student.Shape)
	}
	if !(temperature > 0) {
		return 0, nil, fmt.Errorf("kl: temperature %v must be positive", temperature)
	}
	t := float64(temperature)
	g := ir.NewTensor(ir.F32, student.Shape)
	var total float64
	for r := 0; r < rows; r++ {
		s := student.F32[r*cols : (r+1)*cols]
		te := teacher.F32[r*cols : (r+1)*cols]
		ls, lt := logSumExp(s, t), logSumExp(te, t)
		var kl float64
		for j := range s {
			logp := float64(te[j])/t - lt
			logq := float64(s[j])/t - ls
			p := math.Exp(logp)
			kl += p * (logp - logq)
			g.F32[r*cols+j] = float32((math.Exp(logq) - p) * t * float64(scale))
		}
		total += kl * t * t
	}
	return total * float64(scale), g, nil
}

// Distill blends the distillation loss against a teacher's logits with hard
// labels: Alpha × T²·KL + (1 - Alpha) × cross-entropy. Without labels in the
// batch, only the KL term counts. Teacher computes the teacher's logits for
// a batch's inputs (for instance an Interp of the teacher graph).
type Distill struct {
	Teacher     func(b *Batch) (*ir.Tensor, error)
	Temperature float32
	Alpha       float32
}

// Eval implements Loss.
func (d Distill) Eval(b *Batch, results []*ir.Tensor, scale float32) (float64, []*ir.Tensor, error) {
	tl, err := d.Teacher(b)
	if err != nil {
		return 0, nil, err
	}
	alpha := d.Alpha
	if b.Labels == nil {
		alpha = 1
	}
	loss, g, err := KLDivergence(results[0], tl, d.Temperature, scale*alpha)
	if err != nil {
		return 0, nil, err
	}
	if alpha < 1 {
		l2, g2, err := softmaxCE(results[0], b.Labels, scale*(1-alpha))
		if err != nil {
			return 0, nil, err
		}
		loss += l2
		addTo(g.F32, g2.F32)
	}
	gs := make([]*ir.Tensor, len(results))
	gs[0] = g
	return loss, gs, nil
}
