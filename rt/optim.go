package rt

import (
	"math"

	"github.com/pare-ml/pare/ir"
)

// Optimizers, learning-rate schedules and the deterministic random numbers
// training uses. Everything here is sequential and runs in a fixed order, so
// a seed fixes the result bit for bit.

// Param is one trainable tensor: a constant of the training graph whose
// data the optimizer updates in place.
type Param struct {
	V *ir.Value
	// Mask, when set, holds pruned weights at zero: entries where it is 0
	// get no gradient and stay 0 after every step (it multiplies both).
	Mask []float32
	// NoDecay exempts the tensor from weight decay (biases, batchnorm).
	NoDecay bool
}

// Data is the tensor's storage.
func (p *Param) Data() []float32 { return p.V.Const.F32 }

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr. grads[i] belongs to
	// params[i] and may be modified.
	Step(params []*Param, grads [][]float32, lr float32)
}

// SGD is stochastic gradient descent with momentum (PyTorch's form:
// v = μv + g; w -= lr·v, or w -= lr·(g + μv) with Nesterov) and L2 weight
// decay added to the gradient.
type SGD struct {
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
	vel         [][]float32
}

// Step implements Optimizer.
func (o *SGD) Step(params []*Param, grads [][]float32, lr float32) {
	if o.vel == nil && o.Momentum != 0 {
		o.vel = make([][]float32, len(params))
		for i, p := range params {
			o.vel[i] = make([]float32, len(p.Data()))
		}
	}
	for i, p := range params {
		w, g := p.Data(), grads[i]
		wd := o.WeightDecay
		if p.NoDecay {
			wd = 0
		}
		for j := range w {
			d := g[j] + wd*w[j]
			if o.Momentum != 0 {
				v := o.Momentum*o.vel[i][j] + d
				o.vel[i][j] = v
				if o.Nesterov {
					d += o.Momentum * v
				} else {
					d = v
				}
			}
			w[j] -= lr * d
		}
	}
}

// Adam is Kingma and Ba's optimizer. WeightDecay is L2 added to the
// gradient, or, with Decoupled, AdamW's decay of the weights (w -= lr·wd·w).
// Zero Beta1, Beta2 and Eps take the usual 0.9, 0.999 and 1e-8.
type Adam struct {
	Beta1, Beta2, Eps float32
	WeightDecay       float32
	Decoupled         bool
	m, v              [][]float32
	t                 int
}

// Step implements Optimizer.
func (o *Adam) Step(params []*Param, grads [][]float32, lr float32) {
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.m == nil {
		o.m = make([][]float32, len(params))
		o.v = make([][]float32, len(params))
		for i, p := range params {
			o.m[i] = make([]float32, len(p.Data()))
			o.v[i] = make([]float32, len(p.Data()))
		}
	}
	o.t++
	b1, b2 := o.Beta1, o.Beta2
	c1 := float32(1 - math.Pow(float64(b1), float64(o.t)))
	c2 := float32(1 - math.Pow(float64(b2), float64(o.t)))
	step := lr / c1
	for i, p := range params {
		w, g, m, v := p.Data(), grads[i], o.m[i], o.v[i]
		wd := o.WeightDecay
		if p.NoDecay {
			wd = 0
		}
		for j := range w {
			d := g[j]
			if !o.Decoupled {
				d += wd * w[j]
			} else if wd != 0 {
				w[j] -= lr * wd * w[j]
			}
			m[j] = b1*m[j] + (1-b1)*d
			v[j] = b2*v[j] + (1-b2)*d*d
			w[j] -= step * m[j] / (float32(math.Sqrt(float64(v[j]/c2))) + o.Eps)
		}
	}
}

// Schedule gives the learning rate of optimizer step `step` (from 0) of `total`.
type Schedule interface {
	LR(step, total int) float32
}

// ConstantLR keeps the learning rate fixed.
type ConstantLR float32

// LR implements Schedule.
func (c ConstantLR) LR(step, total int) float32 { return float32(c) }

// StepLR multiplies the learning rate by Gamma every Every steps.
type StepLR struct {
	Base, Gamma float32
	Every       int
}

// LR implements Schedule.
func (s StepLR) LR(step, total int) float32 {
	if s.Every <= 0 {
		return s.Base
	}
	return s.Base * float32(math.Pow(float64(s.Gamma), float64(step/s.Every)))
}

// CosineLR warms up linearly over Warmup steps, then decays from Base to
// Min along a half cosine over the remaining steps.
type CosineLR struct {
	Base, Min float32
	Warmup    int
}

// LR implements Schedule.
func (c CosineLR) LR(step, total int) float32 {
	if step < c.Warmup {
		return c.Base * float32(step+1) / float32(c.Warmup)
	}
	n := total - c.Warmup
	if n <= 1 {
		return c.Base
	}
	f := float64(step-c.Warmup) / float64(n-1)
	return c.Min + (c.Base-c.Min)*float32(0.5*(1+math.Cos(math.Pi*min(f, 1))))
}

// Rand is a small deterministic generator (SplitMix64): its stream depends
// only on the seed, on every platform and Go version.
type Rand struct{ s uint64 }

// NewRand returns a generator seeded with seed.
func NewRand(seed uint64) *Rand { return &Rand{s: seed} }

// Uint64 returns the next 64 random bits.
func (r *Rand) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 returns a uniform number in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Intn returns a uniform integer in [0, n).
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("rt: Rand.Intn of a non-positive bound")
	}
	bound := uint64(n)
	limit := -bound % bound // 2^64 mod n: reject below it for uniformity
	for {
		x := r.Uint64()
		if x >= limit {
			return int(x % bound)
		}
	}
}

// Perm returns a random permutation of [0, n) (Fisher–Yates).
func (r *Rand) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Uniform fills x with uniform values in [-bound, bound).
func (r *Rand) Uniform(x []float32, bound float32) {
	for i := range x {
		x[i] = float32((2*r.Float64() - 1) * float64(bound))
	}
}
