package rt

import (
	"fmt"
	"math"

	"github.com/pare-ml/pare/ir"
)

// Gradients of the elementwise, layout, pooling, normalization and linear
// ops. Each VJP works on f32 tensors; reductions run in a fixed order, so a
// gradient is the same bit for bit on every run.

func init() {
	RegisterGrad("add", gradAddSub(1))
	RegisterGrad("sub", gradAddSub(-1))
	RegisterGrad("mul", gradMul)
	RegisterGrad("div", gradDiv)
	RegisterGrad("neg", unaryGrad(func(x, y, dy float32) float32 { return -dy }))
	RegisterGrad("exp", unaryGrad(func(x, y, dy float32) float32 { return dy * y }))
	RegisterGrad("log", unaryGrad(func(x, y, dy float32) float32 { return dy / x }))
	RegisterGrad("relu", unaryGrad(func(x, y, dy float32) float32 {
		if x > 0 {
			return dy
		}
		return 0
	}))
	RegisterGrad("leaky_relu", func(v *ir.Value) (VJP, error) {
		alpha := v.Float("alpha")
		return unaryGrad(func(x, y, dy float32) float32 {
			if x < 0 {
				return alpha * dy
			}
			return dy
		})(v)
	})
	RegisterGrad("clip", func(v *ir.Value) (VJP, error) {
		lo, hi := v.Float("min"), v.Float("max")
		return unaryGrad(func(x, y, dy float32) float32 {
			if x < lo || x > hi {
				return 0
			}
			return dy
		})(v)
	})
	RegisterGrad("sigmoid", unaryGrad(func(x, y, dy float32) float32 { return dy * y * (1 - y) }))
	RegisterGrad("tanh", unaryGrad(func(x, y, dy float32) float32 { return dy * (1 - y*y) }))
	RegisterGrad("hardswish", unaryGrad(func(x, y, dy float32) float32 {
		switch {
		case x <= -3:
			return 0
		case x >= 3:
			return dy
		}
		return dy * (2*x + 3) / 6
	}))
	RegisterGrad("reshape", func(v *ir.Value) (VJP, error) {
		if err := floatOperands(v, 1); err != nil {
			return nil, err
		}
		shape := v.Args[0].Type.Shape
		return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
			return []*ir.Tensor{ir.FromF32(shape, dy.F32)}, nil
		}, nil
	})
	RegisterGrad("transpose", gradTranspose)
	RegisterGrad("concat", gradConcat)
	RegisterGrad("gather", gradGather)
	RegisterGrad("maxpool", gradMaxPool)
	RegisterGrad("avgpool", gradAvgPool)
	RegisterGrad("global_avgpool", gradGlobalAvgPool)
	RegisterGrad("softmax", gradSoftmax)
	RegisterGrad("batchnorm", gradBatchNorm)
	RegisterGrad("gemm", gradGemm)
	RegisterGrad("matmul", gradMatMul)
}

// floatOperands checks that the first n arguments and the result are plain f32.
func floatOperands(v *ir.Value, n int) error {
	if v.Type.DType != ir.F32 {
		return fmt.Errorf("gradient of a %v result (only f32)", v.Type.DType)
	}
	for i := 0; i < n && i < len(v.Args); i++ {
		if v.Args[i].Type.DType != ir.F32 {
			return fmt.Errorf("gradient through a %v argument %d (only f32)", v.Args[i].Type.DType, i)
		}
	}
	return nil
}

// unaryGrad makes the VJP of an elementwise op from dx = f(x, y, dy).
func unaryGrad(f func(x, y, dy float32) float32) GradBuilder {
	return func(v *ir.Value) (VJP, error) {
		if err := floatOperands(v, 1); err != nil {
			return nil, err
		}
		return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
			dx := ir.NewTensor(ir.F32, args[0].Shape)
			x, y, g := args[0].F32, out.F32, dy.F32
			for i := range dx.F32 {
				dx.F32[i] = f(x[i], y[i], g[i])
			}
			return []*ir.Tensor{dx}, nil
		}, nil
	}
}

// sumTo reduces g (shape from) onto shape to by summing over the dims to
// was broadcast along; it returns g itself when the shapes are equal.
func sumTo(g *ir.Tensor, to []int) *ir.Tensor {
	if ir.EqualShape(g.Shape, to) {
		return g
	}
	dst := ir.NewTensor(ir.F32, to)
	p := newBcastPlan(g.Shape, to)
	d, src := dst.F32, g.F32
	p.each(func(o int, offs []int) {
		run := src[o : o+p.inner]
		if st := p.istride[0]; st == 0 {
			var s float32
			for _, x := range run {
				s += x
			}
			d[offs[0]] += s
		} else {
			for j, x := range run {
				d[offs[0]+j*st] += x
			}
		}
	})
	return dst
}

// bcastMul returns dy * other (other broadcast to dy's shape), scaled by s.
func bcastMul(dy, other *ir.Tensor, s float32) *ir.Tensor {
	out := ir.NewTensor(ir.F32, dy.Shape)
	p := newBcastPlan(dy.Shape, other.Shape)
	o32, g, b := out.F32, dy.F32, other.F32
	p.each(func(o int, offs []int) {
		st := p.istride[0]
		for j := 0; j < p.inner; j++ {
			o32[o+j] = s * g[o+j] * b[offs[0]+j*st]
		}
	})
	return out
}

func gradAddSub(sign float32) GradBuilder {
	return func(v *ir.Value) (VJP, error) {
		if err := floatOperands(v, 2); err != nil {
			return nil, err
		}
		as, bs := v.Args[0].Type.Shape, v.Args[1].Type.Shape
		return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
			gs := make([]*ir.Tensor, 2)
			if need[0] {
				gs[0] = sumTo(dy, as)
			}
			if need[1] {
				g := sumTo(dy, bs)
				if sign < 0 {
					n := ir.NewTensor(ir.F32, bs)
					for i, x := range g.F32 {
						n.F32[i] = -x
					}
					g = n
				}
				gs[1] = g
			}
			return gs, nil
		}, nil
	}
}

func gradMul(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 2); err != nil {
		return nil, err
	}
	as, bs := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		gs := make([]*ir.Tensor, 2)
		if need[0] {
			gs[0] = sumTo(bcastMul(dy, args[1], 1), as)
		}
		if need[1] {
			gs[1] = sumTo(bcastMul(dy, args[0], 1), bs)
		}
		return gs, nil
	}, nil
}

func gradDiv(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 2); err != nil {
		return nil, err
	}
	as, bs := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		gs := make([]*ir.Tensor, 2)
		// d/da = dy / b; d/db = -dy * out / b.
		q := ir.NewTensor(ir.F32, dy.Shape)
		p := newBcastPlan(dy.Shape, args[1].Shape)
		b := args[1].F32
		p.each(func(o int, offs []int) {
			st := p.istride[0]
			for j := 0; j < p.inner; j++ {
				q.F32[o+j] = dy.F32[o+j] / b[offs[0]+j*st]
			}
		})
		if need[0] {
			gs[0] = sumTo(q, as)
		}
		if need[1] {
			r := ir.NewTensor(ir.F32, dy.Shape)
			for i, e := range q.F32 {
				r.F32[i] = -e * out.F32[i]
			}
			gs[1] = sumTo(r, bs)
		}
		return gs, nil
	}, nil
}

// derived builds the kernel of an op applied to a stand-in argument of type
// t: a backward pass that is itself a forward op (the inverse transpose).
func derived(op string, t ir.Type, attrs ir.Attrs, hint ir.Type) (kernel, error) {
	arg := &ir.Value{Name: "dy", Op: ir.OpParam, Type: t}
	v, err := ir.NewValue(op, []*ir.Value{arg}, attrs, hint)
	if err != nil {
		return nil, err
	}
	v.Name = "grad"
	return build(v)
}

func gradTranspose(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 1); err != nil {
		return nil, err
	}
	p := v.IntList("perm")
	inv := make([]int, len(p))
	for i, a := range p {
		inv[a] = i
	}
	k, err := derived("transpose", ir.Type{DType: ir.F32, Shape: v.Type.Shape}, ir.Attrs{"perm": ir.Ints(inv...)}, ir.Type{})
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx, err := k([]*ir.Tensor{dy})
		return []*ir.Tensor{dx}, err
	}, nil
}

func gradConcat(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, len(v.Args)); err != nil {
		return nil, err
	}
	shape := v.Type.Shape
	ax := v.Int("axis")
	outer := ir.NumElements(shape[:ax])
	inner := ir.NumElements(shape[ax+1:])
	chunks := make([]int, len(v.Args))
	for i, a := range v.Args {
		chunks[i] = a.Type.Shape[ax] * inner
	}
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		gs := make([]*ir.Tensor, len(args))
		for j, a := range args {
			if need[j] {
				gs[j] = ir.NewTensor(ir.F32, a.Shape)
			}
		}
		o := 0
		for i := 0; i < outer; i++ {
			for j, c := range chunks {
				if gs[j] != nil {
					copy(gs[j].F32[i*c:(i+1)*c], dy.F32[o:o+c])
				}
				o += c
			}
		}
		return gs, nil
	}, nil
}

// gather: the gradient scatters back, adding where an index repeats. With
// gather(codebook, indices) as a shared weight this is the centroid
// gradient of Deep Compression's weight sharing.
func gradGather(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 1); err != nil {
		return nil, err
	}
	xs := v.Args[0].Type.Shape
	ax := v.Int("axis")
	outer := ir.NumElements(xs[:ax])
	inner := ir.NumElements(xs[ax+1:])
	n := xs[ax]
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		if !need[0] {
			return make([]*ir.Tensor, 2), nil
		}
		dx := ir.NewTensor(ir.F32, xs)
		idx := args[1]
		ni := idx.Len()
		for o := 0; o < outer; o++ {
			for k := 0; k < ni; k++ {
				i := int(idx.IntAt(k))
				if i < 0 {
					i += n
				}
				if i < 0 || i >= n {
					return nil, fmt.Errorf("gather index %d out of range [0, %d)", idx.IntAt(k), n)
				}
				src := dy.F32[(o*ni+k)*inner : (o*ni+k+1)*inner]
				dst := dx.F32[(o*n+i)*inner : (o*n+i+1)*inner]
				for j, g := range src {
					dst[j] += g
				}
			}
		}
		return []*ir.Tensor{dx, nil}, nil
	}, nil
}

// maxpool: the gradient goes to each window's first maximum, the element
// the forward kernel picked.
func gradMaxPool(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 1); err != nil {
		return nil, err
	}
	p, err := newPoolPlan(v, false)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx := ir.NewTensor(ir.F32, args[0].Shape)
		x := args[0].F32
		for pl := 0; pl < p.planes; pl++ {
			xp := x[pl*p.inSz : (pl+1)*p.inSz]
			dp := dx.F32[pl*p.inSz : (pl+1)*p.inSz]
			gp := dy.F32[pl*p.outSz : (pl+1)*p.outSz]
			for o, g := range gp {
				m, best := float32(math.Inf(-1)), -1
				for _, off := range p.offs[p.start[o]:p.start[o+1]] {
					if xv := xp[off]; xv > m {
						m, best = xv, off
					}
				}
				if best >= 0 {
					dp[best] += g
				}
			}
		}
		return []*ir.Tensor{dx}, nil
	}, nil
}

func gradAvgPool(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 1); err != nil {
		return nil, err
	}
	p, err := newPoolPlan(v, false)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx := ir.NewTensor(ir.F32, args[0].Shape)
		for pl := 0; pl < p.planes; pl++ {
			dp := dx.F32[pl*p.inSz : (pl+1)*p.inSz]
			gp := dy.F32[pl*p.outSz : (pl+1)*p.outSz]
			for o, g := range gp {
				d := p.divisor[o]
				if d <= 0 {
					continue
				}
				g /= d
				for _, off := range p.offs[p.start[o]:p.start[o+1]] {
					dp[off] += g
				}
			}
		}
		return []*ir.Tensor{dx}, nil
	}, nil
}

func gradGlobalAvgPool(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 1); err != nil {
		return nil, err
	}
	x := v.Args[0].Type.Shape
	planes := x[0] * x[1]
	sz := ir.NumElements(x[2:])
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx := ir.NewTensor(ir.F32, x)
		for pl := 0; pl < planes; pl++ {
			g := dy.F32[pl] / float32(sz)
			row := dx.F32[pl*sz : (pl+1)*sz]
			for i := range row {
				row[i] = g
			}
		}
		return []*ir.Tensor{dx}, nil
	}, nil
}

func gradSoftmax(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 1); err != nil {
		return nil, err
	}
	shape := v.Type.Shape
	ax := v.Int("axis")
	outer := ir.NumElements(shape[:ax])
	n := shape[ax]
	inner := ir.NumElements(shape[ax+1:])
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		dx := ir.NewTensor(ir.F32, shape)
		y, g := out.F32, dy.F32
		for o := 0; o < outer; o++ {
			for in := 0; in < inner; in++ {
				base := o*n*inner + in
				var s float32
				for j := 0; j < n; j++ {
					s += g[base+j*inner] * y[base+j*inner]
				}
				for j := 0; j < n; j++ {
					i := base + j*inner
					dx.F32[i] = y[i] * (g[i] - s)
				}
			}
		}
		return []*ir.Tensor{dx}, nil
	}, nil
}

// batchnorm (inference form): y = (x - mean)/sqrt(var + eps)*scale + bias,
// with gradients for x and all four per-channel tensors.
func gradBatchNorm(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 5); err != nil {
		return nil, err
	}
	shape := v.Args[0].Type.Shape
	eps := v.Float("epsilon")
	c := shape[1]
	inner := ir.NumElements(shape[2:])
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		x, scale, mean, vr := args[0].F32, args[1].F32, args[3].F32, args[4].F32
		g := dy.F32
		inv := make([]float64, c)
		for i := range inv {
			inv[i] = 1 / math.Sqrt(float64(vr[i]+eps))
		}
		sumG := make([]float64, c)  // Σ dy
		sumGX := make([]float64, c) // Σ dy*(x - mean)
		var dx *ir.Tensor
		if need[0] {
			dx = ir.NewTensor(ir.F32, shape)
		}
		for i := 0; i < shape[0]*c; i++ {
			ch := i % c
			a := float32(float64(scale[ch]) * inv[ch])
			xs, gs := x[i*inner:(i+1)*inner], g[i*inner:(i+1)*inner]
			var sg, sgx float32
			for j, gv := range gs {
				sg += gv
				sgx += gv * (xs[j] - mean[ch])
			}
			sumG[ch] += float64(sg)
			sumGX[ch] += float64(sgx)
			if dx != nil {
				d := dx.F32[i*inner : (i+1)*inner]
				for j, gv := range gs {
					d[j] = gv * a
				}
			}
		}
		gs := []*ir.Tensor{dx, nil, nil, nil, nil}
		vec := func(f func(ch int) float64) *ir.Tensor {
			t := ir.NewTensor(ir.F32, []int{c})
			for ch := range t.F32 {
				t.F32[ch] = float32(f(ch))
			}
			return t
		}
		if need[1] {
			gs[1] = vec(func(ch int) float64 { return sumGX[ch] * inv[ch] })
		}
		if need[2] {
			gs[2] = vec(func(ch int) float64 { return sumG[ch] })
		}
		if need[3] {
			gs[3] = vec(func(ch int) float64 { return -sumG[ch] * float64(scale[ch]) * inv[ch] })
		}
		if need[4] {
			gs[4] = vec(func(ch int) float64 {
				return -0.5 * sumGX[ch] * float64(scale[ch]) * inv[ch] * inv[ch] * inv[ch]
			})
		}
		return gs, nil
	}, nil
}

// gemm: y = alpha*op(a)*op(b) + beta*c.
func gradGemm(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, len(v.Args)); err != nil {
		return nil, err
	}
	as, bs := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	ta, tb := v.Int("trans_a") != 0, v.Int("trans_b") != 0
	alpha, beta := v.Float("alpha"), v.Float("beta")
	m, n := v.Type.Shape[0], v.Type.Shape[1]
	k := as[1]
	if ta {
		k = as[0]
	}
	var cs []int
	if len(v.Args) == 3 {
		cs = v.Args[2].Type.Shape
	}
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		gs := make([]*ir.Tensor, len(args))
		a, b, g := args[0].F32, args[1].F32, dy.F32
		dym := matrix{data: g, ld: n}
		if need[0] {
			da := ir.NewTensor(ir.F32, as)
			if !ta { // da = dy · op(b)ᵀ
				sgemm(m, k, n, dym, matrix{data: b, ld: bs[1], trans: !tb}, da.F32, k)
			} else { // da = op(b) · dyᵀ
				sgemm(k, m, n, matrix{data: b, ld: bs[1], trans: tb}, matrix{data: g, ld: n, trans: true}, da.F32, m)
			}
			scaleF32(da.F32, alpha)
			gs[0] = da
		}
		if need[1] {
			db := ir.NewTensor(ir.F32, bs)
			if !tb { // db = op(a)ᵀ · dy
				sgemm(k, n, m, matrix{data: a, ld: as[1], trans: !ta}, dym, db.F32, n)
			} else { // db = dyᵀ · op(a)
				sgemm(n, k, m, matrix{data: g, ld: n, trans: true}, matrix{data: a, ld: as[1], trans: ta}, db.F32, k)
			}
			scaleF32(db.F32, alpha)
			gs[1] = db
		}
		if len(args) == 3 && need[2] {
			dc := sumTo(dy, cs)
			if beta != 1 {
				dc = dc.Clone()
				scaleF32(dc.F32, beta)
			}
			gs[2] = dc
		}
		return gs, nil
	}, nil
}

func scaleF32(x []float32, s float32) {
	if s == 1 {
		return
	}
	for i := range x {
		x[i] *= s
	}
}

// matmul with numpy batch broadcasting: per batch entry da += dy·bᵀ and
// db += aᵀ·dy, summed over the entries an operand was broadcast along.
func gradMatMul(v *ir.Value) (VJP, error) {
	if err := floatOperands(v, 2); err != nil {
		return nil, err
	}
	as, bs := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	p, err := newMatmulPlan(as, bs)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor, out, dy *ir.Tensor, need []bool) ([]*ir.Tensor, error) {
		gs := make([]*ir.Tensor, 2)
		a, b, g := args[0].F32, args[1].F32, dy.F32
		var da, db *ir.Tensor
		if need[0] {
			da = ir.NewTensor(ir.F32, as)
		}
		if need[1] {
			db = ir.NewTensor(ir.F32, bs)
		}
		tmpA := make([]float32, p.aMat)
		tmpB := make([]float32, p.bMat)
		p.each(func(ao, bo, oo int) {
			gm := matrix{data: g[oo:], ld: p.n}
			if da != nil {
				sgemm(p.m, p.k, p.n, gm, matrix{data: b[bo:], ld: p.n, trans: true}, tmpA, p.k)
				addTo(da.F32[ao:ao+p.aMat], tmpA)
			}
			if db != nil {
				sgemm(p.k, p.n, p.m, matrix{data: a[ao:], ld: p.k, trans: true}, gm, tmpB, p.n)
				addTo(db.F32[bo:bo+p.bMat], tmpB)
			}
		})
		gs[0], gs[1] = da, db
		return gs, nil
	}, nil
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] += x
	}
}
