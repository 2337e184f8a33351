package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// matmul (numpy semantics, batch broadcasting) and gemm, on f32 through the
// blocked GEMM, or on quantized i8/u8 operands as MatMulInteger /
// QLinearMatMul with int32 accumulation.

func init() {
	register("matmul", withAct(buildMatMul))
	register("gemm", withAct(buildGemm))
}

// matmulPlan is the batch geometry of a matmul.
type matmulPlan struct {
	m, k, n        int
	batch          []int // broadcast batch shape
	aStr, bStr     []int // per batch dim, element strides of a and b (0 broadcast)
	nBatch         int
	aMat, bMat, oM int // elements per matrix
}

func newMatmulPlan(as, bs []int) (*matmulPlan, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("matmul of a scalar")
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	p := &matmulPlan{m: as[len(as)-2], k: as[len(as)-1], n: bs[len(bs)-1]}
	if bs[len(bs)-2] != p.k {
		return nil, fmt.Errorf("inner dimensions differ: %v × %v", as, bs)
	}
	ab, bb := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := ir.Broadcast(ab, bb)
	if err != nil {
		return nil, err
	}
	p.batch = batch
	p.nBatch = ir.NumElements(batch)
	p.aMat, p.bMat, p.oM = p.m*p.k, p.k*p.n, p.m*p.n
	p.aStr = batchStrides(ab, batch, p.aMat)
	p.bStr = batchStrides(bb, batch, p.bMat)
	return p, nil
}

func batchStrides(s, batch []int, mat int) []int {
	st := make([]int, len(batch))
	full := ir.Strides(s)
	for d := range batch {
		j := d - (len(batch) - len(s))
		if j >= 0 && s[j] != 1 {
			st[d] = full[j] * mat
		}
	}
	return st
}

// each calls f with the a, b and output matrix offsets of every batch entry.
func (p *matmulPlan) each(f func(ao, bo, oo int)) {
	idx := make([]int, len(p.batch))
	ao, bo := 0, 0
	for i := 0; i < p.nBatch; i++ {
		f(ao, bo, i*p.oM)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			ao += p.aStr[d]
			bo += p.bStr[d]
			if idx[d] < p.batch[d] {
				break
			}
			ao -= p.aStr[d] * idx[d]
			bo -= p.bStr[d] * idx[d]
			idx[d] = 0
		}
	}
}

func buildMatMul(v *ir.Value) (kernel, error) {
	at, bt := v.Args[0].Type, v.Args[1].Type
	p, err := newMatmulPlan(at.Shape, bt.Shape)
	if err != nil {
		return nil, err
	}
	if at.DType == ir.F32 {
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			a, b, o := args[0].F32, args[1].F32, out.F32
			p.each(func(ao, bo, oo int) {
				sgemm(p.m, p.n, p.k, matrix{data: a[ao:], ld: p.k}, matrix{data: b[bo:], ld: p.n}, o[oo:], p.n)
			})
			return out, nil
		}, nil
	}
	if err := checkIntOperands(at, bt); err != nil {
		return nil, err
	}
	if q := bt.Quant; q.Axis >= 0 && (len(bt.Shape) < 2 || q.Axis != len(bt.Shape)-1) {
		return nil, fmt.Errorf("b quantized along axis %d: only per tensor or per column (the last axis) is supported", q.Axis)
	}
	res, err := intResult(v, at.Quant.Scale[0], bt.Quant, p.n)
	if err != nil {
		return nil, err
	}
	constB := constZeroCentered(v.Args[1])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		a, b := zeroCentered(args[0], at.Quant), constB
		if b == nil {
			b = zeroCentered(args[1], bt.Quant)
		}
		acc := make([]int32, p.nBatch*p.oM)
		p.each(func(ao, bo, oo int) {
			gemm(p.m, p.n, p.k, mat[int32]{data: a[ao:], ld: p.k}, mat[int32]{data: b[bo:], ld: p.n}, acc[oo:], p.n)
		})
		res.store(out, acc, p.n, 1)
		return out, nil
	}, nil
}

func checkIntOperands(at, bt ir.Type) error {
	if (at.DType != ir.I8 && at.DType != ir.U8) || (bt.DType != ir.I8 && bt.DType != ir.U8) {
		return fmt.Errorf("integer form takes i8/u8 operands, got %v and %v", at.DType, bt.DType)
	}
	if at.Quant == nil || bt.Quant == nil || at.Quant.Axis >= 0 {
		return fmt.Errorf("integer form needs a per-tensor quantized a and a quantized b, got %v and %v", at, bt)
	}
	return nil
}

func buildGemm(v *ir.Value) (kernel, error) {
	at, bt := v.Args[0].Type, v.Args[1].Type
	if len(at.Shape) != 2 || len(bt.Shape) != 2 {
		return nil, fmt.Errorf("gemm takes 2-D operands, got %v and %v", at.Shape, bt.Shape)
	}
	ta, tb := v.Int("trans_a") != 0, v.Int("trans_b") != 0
	m, k := at.Shape[0], at.Shape[1]
	if ta {
		m, k = k, m
	}
	n := bt.Shape[1]
	if tb {
		n = bt.Shape[0]
	}
	hasC := len(v.Args) == 3
	var cShape []int
	if hasC {
		cShape = v.Args[2].Type.Shape
	}
	if at.DType == ir.F32 {
		alpha, beta := v.Float("alpha"), v.Float("beta")
		return func(args []*ir.Tensor) (*ir.Tensor, error) {
			out := newResult(v)
			o := out.F32
			sgemm(m, n, k, matrix{data: args[0].F32, ld: at.Shape[1], trans: ta},
				matrix{data: args[1].F32, ld: bt.Shape[1], trans: tb}, o, n)
			if alpha != 1 {
				for i := range o {
					o[i] *= alpha
				}
			}
			if hasC && beta != 0 {
				c := make([]float32, m*n)
				broadcastTo(c, args[2].F32, cShape, []int{m, n})
				for i := range o {
					o[i] += beta * c[i]
				}
			}
			return out, nil
		}, nil
	}
	if err := checkIntOperands(at, bt); err != nil {
		return nil, err
	}
	if v.Float("alpha") != 1 || v.Float("beta") != 1 {
		return nil, fmt.Errorf("integer gemm needs alpha = beta = 1")
	}
	nAxis := 1
	if tb {
		nAxis = 0
	}
	if q := bt.Quant; q.Axis >= 0 && q.Axis != nAxis {
		return nil, fmt.Errorf("b quantized along axis %d: only per tensor or per output column (axis %d) is supported", q.Axis, nAxis)
	}
	res, err := intResult(v, at.Quant.Scale[0], bt.Quant, n)
	if err != nil {
		return nil, err
	}
	constB := constZeroCentered(v.Args[1])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		a, b := zeroCentered(args[0], at.Quant), constB
		if b == nil {
			b = zeroCentered(args[1], bt.Quant)
		}
		acc := make([]int32, m*n)
		gemm(m, n, k, mat[int32]{data: a, ld: at.Shape[1], trans: ta}, mat[int32]{data: b, ld: bt.Shape[1], trans: tb}, acc, n)
		if hasC {
			c := make([]int32, m*n)
			broadcastTo(c, args[2].I32, cShape, []int{m, n})
			for i := range acc {
				acc[i] += c[i]
			}
		}
		res.store(out, acc, n, 1)
		return out, nil
	}, nil
}
