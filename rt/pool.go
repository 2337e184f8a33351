package rt

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// N-d pooling. A pool plan lists, once per kernel, the input offsets of
// every output position's window (padding and the ceil-mode overhang
// excluded) and the average's divisor; every (n, c) plane then reduces over
// those lists.

type poolPlan struct {
	planes, inSz, outSz int
	start               []int     // window of output o: offs[start[o]:start[o+1]]
	offs                []int     // row-major offsets within the plane
	colMajor            []int     // column-major offsets (maxpool_index storage_order 1)
	divisor             []float32 // per output position (avgpool)
}

func newPoolPlan(v *ir.Value, colMajor bool) (*poolPlan, error) {
	x := v.Args[0].Type
	if len(x.Shape) < 3 {
		return nil, fmt.Errorf("input %v needs rank >= 3", x.Shape)
	}
	nsp := len(x.Shape) - 2
	win, err := ir.WindowOf(v, nsp, nil)
	if err != nil {
		return nil, err
	}
	in, out := x.Shape[2:], v.Type.Shape[2:]
	includePad := v.Op.AttrDef("count_include_pad") != nil && v.Int("count_include_pad") != 0
	p := &poolPlan{planes: x.Shape[0] * x.Shape[1], inSz: ir.NumElements(in), outSz: ir.NumElements(out)}
	rowStr := ir.Strides(in)
	colStr := make([]int, nsp)
	s := 1
	for d := 0; d < nsp; d++ {
		colStr[d] = s
		s *= in[d]
	}
	// Per dim and output coordinate: valid input coordinates, and how many
	// window positions fall inside the input plus its explicit pads.
	valid := make([][][]int, nsp)
	padCount := make([][]int, nsp)
	for d := 0; d < nsp; d++ {
		valid[d] = make([][]int, out[d])
		padCount[d] = make([]int, out[d])
		for o := 0; o < out[d]; o++ {
			for k := 0; k < win.Kernel[d]; k++ {
				pos := o*win.Strides[d] - win.PadsBegin[d] + k*win.Dilations[d]
				if pos >= 0 && pos < in[d] {
					valid[d][o] = append(valid[d][o], pos)
				}
				if pos >= -win.PadsBegin[d] && pos < in[d]+win.PadsEnd[d] {
					padCount[d][o]++
				}
			}
		}
	}
	total := 1
	for d := 0; d < nsp; d++ {
		total *= win.Kernel[d]
	}
	if int64(total)*int64(p.outSz) > ir.MaxElements {
		return nil, fmt.Errorf("pooling window too large")
	}
	p.start = make([]int, 0, p.outSz+1)
	p.divisor = make([]float32, p.outSz)
	oi := newOdometer(out)
	idx := make([]int, nsp)
	for o := 0; o < p.outSz; o++ {
		p.start = append(p.start, len(p.offs))
		cnt, pc := 1, 1
		for d := 0; d < nsp; d++ {
			cnt *= len(valid[d][oi.idx[d]])
			pc *= padCount[d][oi.idx[d]]
		}
		if includePad {
			p.divisor[o] = float32(pc)
		} else {
			p.divisor[o] = float32(cnt)
		}
		if cnt > 0 {
			for d := range idx {
				idx[d] = 0
			}
			for {
				ro, co := 0, 0
				for d := 0; d < nsp; d++ {
					pos := valid[d][oi.idx[d]][idx[d]]
					ro += pos * rowStr[d]
					co += pos * colStr[d]
				}
				p.offs = append(p.offs, ro)
				if colMajor {
					p.colMajor = append(p.colMajor, co)
				}
				d := nsp - 1
				for ; d >= 0; d-- {
					idx[d]++
					if idx[d] < len(valid[d][oi.idx[d]]) {
						break
					}
					idx[d] = 0
				}
				if d < 0 {
					break
				}
			}
		}
		oi.next()
	}
	p.start = append(p.start, len(p.offs))
	return p, nil
}

func maxPoolKernel[T number](v *ir.Value) (kernel, error) {
	p, err := newPoolPlan(v, false)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, y := data[T](args[0]), data[T](out)
		low := lowest[T]()
		for pl := 0; pl < p.planes; pl++ {
			xp := x[pl*p.inSz : (pl+1)*p.inSz]
			yp := y[pl*p.outSz : (pl+1)*p.outSz]
			for o := range yp {
				m := low
				for _, off := range p.offs[p.start[o]:p.start[o+1]] {
					if xv := xp[off]; xv > m {
						m = xv
					}
				}
				yp[o] = m
			}
		}
		return out, nil
	}, nil
}

func buildMaxPool(v *ir.Value) (kernel, error) {
	k, err := pick(v, v.Args[0].Type.DType, maxPoolKernel[float32], maxPoolKernel[int8], maxPoolKernel[uint8],
		maxPoolKernel[int16], maxPoolKernel[int32], maxPoolKernel[int64])
	if err != nil {
		return nil, err
	}
	return requantAfter(v, k), nil
}

// maxpool_index: the flat index (over N*C*spatial) of each window's first
// maximum; storage_order 1 counts column-major within the spatial plane.
func maxPoolIndexKernel[T number](v *ir.Value) (kernel, error) {
	colMajor := v.Int("storage_order") != 0
	p, err := newPoolPlan(v, colMajor)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, y := data[T](args[0]), out.I64
		low := lowest[T]()
		for pl := 0; pl < p.planes; pl++ {
			xp := x[pl*p.inSz : (pl+1)*p.inSz]
			yp := y[pl*p.outSz : (pl+1)*p.outSz]
			for o := range yp {
				m, best := low, -1
				for j := p.start[o]; j < p.start[o+1]; j++ {
					if xv := xp[p.offs[j]]; xv > m || best < 0 {
						m, best = xv, j
					}
				}
				switch {
				case best < 0:
					yp[o] = -1
				case colMajor:
					yp[o] = int64(pl*p.inSz + p.colMajor[best])
				default:
					yp[o] = int64(pl*p.inSz + p.offs[best])
				}
			}
		}
		return out, nil
	}, nil
}

func buildMaxPoolIndex(v *ir.Value) (kernel, error) {
	return pick(v, v.Args[0].Type.DType, maxPoolIndexKernel[float32], maxPoolIndexKernel[int8], maxPoolIndexKernel[uint8],
		maxPoolIndexKernel[int16], maxPoolIndexKernel[int32], maxPoolIndexKernel[int64])
}

// avgpool: the window sum over valid input elements divided by their count,
// or with count_include_pad by the count of positions inside the input and
// its explicit pads (the ceil-mode overhang never counts), as ONNX Runtime.
func buildAvgPool(v *ir.Value) (kernel, error) {
	if v.Args[0].Type.DType != ir.F32 {
		return viaFloat(v, buildAvgPool)
	}
	p, err := newPoolPlan(v, false)
	if err != nil {
		return nil, err
	}
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		x, y := args[0].F32, out.F32
		for pl := 0; pl < p.planes; pl++ {
			xp := x[pl*p.inSz : (pl+1)*p.inSz]
			yp := y[pl*p.outSz : (pl+1)*p.outSz]
			for o := range yp {
				var s float32
				for _, off := range p.offs[p.start[o]:p.start[o+1]] {
					s += xp[off]
				}
				if d := p.divisor[o]; d > 0 {
					yp[o] = s / d
				}
			}
		}
		return out, nil
	}, nil
}

func buildGlobalAvgPool(v *ir.Value) (kernel, error) {
	x := v.Args[0].Type
	if x.DType != ir.F32 {
		if isQuantized(v) {
			return viaFloat(v, buildGlobalAvgPool)
		}
		return nil, fmt.Errorf("global_avgpool takes f32, got %v", x.DType)
	}
	planes := x.Shape[0] * x.Shape[1]
	sz := ir.NumElements(x.Shape[2:])
	return func(args []*ir.Tensor) (*ir.Tensor, error) {
		out := newResult(v)
		xs := args[0].F32
		for pl := 0; pl < planes; pl++ {
			var s float32
			for _, xv := range xs[pl*sz : (pl+1)*sz] {
				s += xv
			}
			out.F32[pl] = s / float32(sz)
		}
		return out, nil
	}, nil
}

func init() {
	register("maxpool", buildMaxPool)
	register("maxpool_index", buildMaxPoolIndex)
	register("avgpool", buildAvgPool)
	register("global_avgpool", buildGlobalAvgPool)
}
