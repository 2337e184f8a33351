package codegen

import (
	"github.com/pare-ml/pare/ir"
)

// maxPoolTable bounds the entries of a KPoolTable window table.
const maxPoolTable = 1 << 24

// lowerPoolTable lowers N-d f32 max / average pooling and maxpool_index to
// window tables built as rt's pool plan: per output position, every window
// position in row-major order, -1 where it falls outside the input (pads,
// the ceil-mode overhang).
func (l *lowerer) lowerPoolTable(v *ir.Value, index bool) (*Step, error) {
	x := v.Args[0].Type
	if x.DType != ir.F32 || x.Quant != nil {
		return nil, Unsupported(v, "%s on %v (compiled pooling takes f32)", v.Op.Name, x)
	}
	if x.Rank() < 3 {
		return nil, Unsupported(v, "%s of a rank-%d input", v.Op.Name, x.Rank())
	}
	nsp := x.Rank() - 2
	win, err := ir.WindowOf(v, nsp, nil)
	if err != nil {
		return nil, err
	}
	in, out := x.Shape[2:], v.Type.Shape[2:]
	p := &PoolTable{Max: v.Op.Name != "avgpool", Index: index, Planes: x.Shape[0] * x.Shape[1],
		InSz: ir.NumElements(in), OutSz: ir.NumElements(out), K: 1}
	for d := 0; d < nsp; d++ {
		p.K *= win.Kernel[d]
	}
	if int64(p.K)*int64(p.OutSz) > maxPoolTable {
		return nil, Unsupported(v, "pooling table of %d entries", int64(p.K)*int64(p.OutSz))
	}
	colMajor := index && v.Int("storage_order") != 0
	includePad := !p.Max && v.Op.AttrDef("count_include_pad") != nil && v.Int("count_include_pad") != 0
	rowStr := ir.Strides(in)
	colStr := make([]int, nsp)
	s := 1
	for d := 0; d < nsp; d++ {
		colStr[d] = s
		s *= in[d]
	}
	offs := make([]int32, 0, p.OutSz*p.K)
	var rep []int32
	var div []float32
	o := make([]int, nsp)
	kk := make([]int, nsp)
	for i := 0; i < p.OutSz; i++ {
		cnt, pc := 0, 1
		for d := 0; d < nsp; d++ {
			n := 0
			for k := 0; k < win.Kernel[d]; k++ {
				pos := o[d]*win.Strides[d] - win.PadsBegin[d] + k*win.Dilations[d]
				if pos >= -win.PadsBegin[d] && pos < in[d]+win.PadsEnd[d] {
					n++
				}
			}
			pc *= n
		}
		for d := range kk {
			kk[d] = 0
		}
		for t := 0; t < p.K; t++ {
			ro, co, ok := 0, 0, true
			for d := 0; d < nsp; d++ {
				pos := o[d]*win.Strides[d] - win.PadsBegin[d] + kk[d]*win.Dilations[d]
				if pos < 0 || pos >= in[d] {
					ok = false
				}
				ro += pos * rowStr[d]
				co += pos * colStr[d]
			}
			if !ok {
				ro, co = -1, -1
			} else {
				cnt++
			}
			offs = append(offs, int32(ro))
			if index {
				if colMajor {
					rep = append(rep, int32(co))
				} else {
					rep = append(rep, int32(ro))
				}
			}
			for d := nsp - 1; d >= 0; d-- {
				kk[d]++
				if kk[d] < win.Kernel[d] {
					break
				}
				kk[d] = 0
			}
		}
		if !p.Max {
			if includePad {
				div = append(div, float32(pc))
			} else {
				div = append(div, float32(cnt))
			}
		}
		for d := nsp - 1; d >= 0; d-- {
			o[d]++
			if o[d] < out[d] {
				break
			}
			o[d] = 0
		}
	}
	st := &Step{Kernel: KPoolTable, Op: v.Op.Name, Where: v.Where(), PoolT: p}
	st.In = []Operand{l.operand(v.Args[0]), l.packed(i32Tensor([]int{len(offs)}, offs))}
	switch {
	case index:
		st.In = append(st.In, l.packed(i32Tensor([]int{len(rep)}, rep)))
	case !p.Max:
		st.In = append(st.In, l.packed(ir.FromF32([]int{len(div)}, div)))
	}
	return st, nil
}

// lowerBatchNorm lowers a batchnorm whose parameters are not all constant.
func (l *lowerer) lowerBatchNorm(v *ir.Value) (*Step, error) {
	if !isF32(v) {
		return nil, Unsupported(v, "batchnorm on %v", v.Type)
	}
	x := v.Args[0].Type.Shape
	if len(x) < 2 {
		return nil, Unsupported(v, "batchnorm of a rank-%d input", len(x))
	}
	for _, a := range v.Args[1:5] {
		if ir.NumElements(a.Type.Shape) != x[1] {
			return nil, Unsupported(v, "batchnorm parameter of shape %v", a.Type.Shape)
		}
	}
	st := &Step{Kernel: KBatchNorm, Op: v.Op.Name, Where: v.Where(),
		BN: &BatchNorm{N: x[0], C: x[1], Inner: ir.NumElements(x[2:]), Eps: v.Float("epsilon")}}
	for _, a := range v.Args[:5] {
		st.In = append(st.In, l.operand(a))
	}
	return st, nil
}
