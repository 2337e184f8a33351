package onnx

import (
	"fmt"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
)

// The QOperator rows: QLinearConv / QLinearMatMul for integer ops with a
// quantized result, ConvInteger / MatMulInteger for those with an i32 one.
// Both compute Σ(x-z_x)(w-z_w) (+ bias) in integers, and QLinearConv /
// QLinearMatMul requantize with the float32 multiplier s_x·s_w/s_y, round
// half to even, as rt's rq=float: the results are rt's.

// qlinear writes an integer conv / gemm / matmul with a quantized result in
// QOperator form; false when it has none (the caller falls back to QDQ).
func (e *exporter) qlinear(v *ir.Value) (bool, error) {
	x, w := v.Args[0], v.Args[1]
	qx, qw, qy := x.Type.Quant, w.Type.Quant, v.Type.Quant
	if qx == nil || qw == nil || qy == nil || qx.Axis >= 0 || qy.Axis >= 0 {
		return false, nil
	}
	out := v.Name
	act := actOf(v)
	lo, hi := v.Type.DType.Range()
	alo, ahi := lo, hi
	switch act {
	case "relu":
		alo = qy.ZeroPoint[0]
	case "clip":
		alo, ahi = intBounds(v.Float("act_min"), v.Float("act_max"), v.Type.DType)
	}
	needAct := alo > lo || ahi < hi
	if needAct {
		out = e.fresh(v.Name + ".q")
	}
	var err error
	switch v.Op.Name {
	case "conv":
		if qw.Axis > 0 {
			return false, nil
		}
		var b string
		if len(v.Args) == 3 {
			b = v.Args[2].Name
		}
		err = e.qlinearConv(v, x.Name, w.Name, b, qw, out)
	case "gemm":
		var ok bool
		if ok, err = e.qlinearGemm(v, out); !ok && err == nil {
			return false, nil
		}
	case "matmul":
		if qw.Axis >= 0 && qw.Axis != w.Type.Rank()-1 || w.Type.Rank() < 2 {
			return false, nil
		}
		err = e.qlinearMatMul(v, out)
	}
	if err != nil || !needAct {
		return true, err
	}
	return true, e.clip(out, v.Name, "clip", v.Type.DType, float64(alo), float64(ahi))
}

// qlinearInputs are the eight leading inputs of QLinearConv / QLinearMatMul.
func (e *exporter) qlinearInputs(v *ir.Value, x, w string, qw *ir.Quant, out string) ([]string, error) {
	qx, qy := v.Args[0].Type.Quant, v.Type.Quant
	sx, zx, _, err := e.quantParams(out+".x", qx, v.Args[0].Type.DType)
	if err != nil {
		return nil, err
	}
	sw, zw, _, err := e.quantParams(out+".w", qw, v.Args[1].Type.DType)
	if err != nil {
		return nil, err
	}
	sy, zy, _, err := e.quantParams(out+".y", qy, v.Type.DType)
	if err != nil {
		return nil, err
	}
	return []string{x, sx, zx, w, sw, zw, sy, zy}, nil
}

func (e *exporter) qlinearConv(v *ir.Value, x, w, b string, qw *ir.Quant, out string) error {
	in, err := e.qlinearInputs(v, x, w, qw, out)
	if err != nil {
		return err
	}
	if b != "" {
		in = append(in, b)
	}
	as := []*onnxpb.AttributeProto{attrInt("group", 1)}
	if v.Op.Name == "conv" {
		nsp := len(v.Type.Shape) - 2
		win, err := ir.WindowOf(v, nsp, v.Args[1].Type.Shape[2:])
		if err != nil {
			return err
		}
		as = append(windowAttrs(win, true), attrInt("group", v.Int("group")))
	}
	e.node("QLinearConv", in, []string{out}, as)
	return nil
}

func (e *exporter) qlinearMatMul(v *ir.Value, out string) error {
	qw := v.Args[1].Type.Quant
	if qw.Axis >= 0 {
		qw = &ir.Quant{Axis: 0, Scale: qw.Scale, ZeroPoint: qw.ZeroPoint} // b_scale is 1-D per column
	}
	in, err := e.qlinearInputs(v, v.Args[0].Name, v.Args[1].Name, qw, out)
	if err != nil {
		return err
	}
	e.node("QLinearMatMul", in, []string{out}, nil)
	return nil
}

// qlinearGemm writes gemm(a [M,K], b, c) as QLinearConv of a viewed as
// [M,K,1,1] with the weights as [N,K,1,1] and the bias as [N]: QLinearConv
// takes per-channel weight scales and an i32 bias, QLinearMatMul neither.
func (e *exporter) qlinearGemm(v *ir.Value, out string) (bool, error) {
	a, b := v.Args[0], v.Args[1]
	qw := b.Type.Quant
	m, k := a.Type.Shape[0], a.Type.Shape[1]
	n := v.Type.Shape[1]
	nAxis := 1 - v.Int("trans_b")
	if v.Int("trans_a") != 0 || (qw.Axis >= 0 && qw.Axis != nAxis) {
		return false, nil
	}
	var bias string
	if len(v.Args) == 3 {
		c := v.Args[2]
		if !c.IsConst() || c.Type.NumElements() != n || c.Type.Rank() == 0 || c.Type.Shape[c.Type.Rank()-1] != n {
			return false, nil // a bias that is not one row: QDQ
		}
		var err error
		if bias, err = e.constant(v.Name+".bias", c.Const.Reshaped([]int{n})); err != nil {
			return true, err
		}
	}
	var wname string
	if b.IsConst() {
		wt := b.Const
		if nAxis == 1 {
			wt = transpose2(wt)
		}
		var err error
		if wname, err = e.constant(b.Name+".nk11", wt.Reshaped([]int{n, k, 1, 1})); err != nil {
			return true, err
		}
	} else {
		src := b.Name
		if nAxis == 1 {
			src = e.fresh(b.Name + ".t")
			e.node("Transpose", []string{b.Name}, []string{src}, []*onnxpb.AttributeProto{attrInts("perm", []int{1, 0})})
		}
		var err error
		if wname, err = e.reshape(src, []int{n, k, 1, 1}); err != nil {
			return true, err
		}
	}
	if qw.Axis >= 0 {
		qw = &ir.Quant{Axis: 0, Scale: qw.Scale, ZeroPoint: qw.ZeroPoint}
	}
	x, err := e.reshape(a.Name, []int{m, k, 1, 1})
	if err != nil {
		return true, err
	}
	y := e.fresh(v.Name + ".nc11")
	if err := e.qlinearConv(v, x, wname, bias, qw, y); err != nil {
		return true, err
	}
	s, err := e.constant(out+".shape", ir.FromI64([]int{2}, []int64{int64(m), int64(n)}))
	if err != nil {
		return true, err
	}
	e.node("Reshape", []string{y, s}, []string{out}, nil)
	return true, nil
}

// reshape writes a Reshape of in to shape and returns its output.
func (e *exporter) reshape(in string, shape []int) (string, error) {
	s := make([]int64, len(shape))
	for i, d := range shape {
		s[i] = int64(d)
	}
	sn, err := e.constant(in+".shape", ir.FromI64([]int{len(s)}, s))
	if err != nil {
		return "", err
	}
	out := e.fresh(in + ".r")
	e.node("Reshape", []string{in, sn}, []string{out}, nil)
	return out, nil
}

// transpose2 transposes a 2-D tensor.
func transpose2(t *ir.Tensor) *ir.Tensor {
	r, c := t.Shape[0], t.Shape[1]
	o := ir.NewTensor(t.DType, []int{c, r})
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			o.SetInt(j*r+i, t.IntAt(i*c+j))
		}
	}
	return o
}

// integerAcc writes an integer conv / gemm / matmul with an i32 result as
// ConvInteger / MatMulInteger, plus Add of the bias and the activation on
// the accumulators.
func (e *exporter) integerAcc(v *ir.Value) error {
	x, w := v.Args[0], v.Args[1]
	qx, qw := x.Type.Quant, w.Type.Quant
	if qx == nil || qw == nil {
		return fmt.Errorf("integer %s needs quantized operands", v.Op.Name)
	}
	zx, err := e.zeroPoints(v.Name+".x", x.Type.DType, qx, false)
	if err != nil {
		return err
	}
	hasBias := len(v.Args) == 3
	act := actOf(v)
	out := v.Name
	if hasBias || act != "none" {
		out = e.fresh(v.Name + ".acc")
	}
	var biasShape []int
	switch v.Op.Name {
	case "conv":
		zw, err := e.zeroPoints(v.Name+".w", w.Type.DType, qw, false)
		if err != nil {
			return err
		}
		nsp := len(v.Type.Shape) - 2
		win, err := ir.WindowOf(v, nsp, w.Type.Shape[2:])
		if err != nil {
			return err
		}
		as := append(windowAttrs(win, true), attrInt("group", v.Int("group")))
		e.node("ConvInteger", []string{x.Name, w.Name, zx, zw}, []string{out}, as)
		biasShape = append([]int{w.Type.Shape[0]}, make([]int, nsp)...)
		for i := 1; i < len(biasShape); i++ {
			biasShape[i] = 1
		}
	case "gemm", "matmul":
		a, b := x.Name, w.Name
		if v.Op.Name == "gemm" && v.Int("trans_a") != 0 {
			a = e.fresh(x.Name + ".t")
			e.node("Transpose", []string{x.Name}, []string{a}, []*onnxpb.AttributeProto{attrInts("perm", []int{1, 0})})
		}
		perColumn := qw.Axis >= 0
		if v.Op.Name == "gemm" && v.Int("trans_b") != 0 {
			b = e.fresh(w.Name + ".t")
			e.node("Transpose", []string{w.Name}, []string{b}, []*onnxpb.AttributeProto{attrInts("perm", []int{1, 0})})
			perColumn = qw.Axis == 0
		} else if qw.Axis >= 0 && qw.Axis != w.Type.Rank()-1 {
			return fmt.Errorf("MatMulInteger takes per-column zero points only, %%%s is quantized along axis %d", w.Name, qw.Axis)
		}
		zw, err := e.zeroPoints(v.Name+".w", w.Type.DType, qw, perColumn)
		if err != nil {
			return err
		}
		e.node("MatMulInteger", []string{a, b, zx, zw}, []string{out}, nil)
	}
	if hasBias {
		bias := v.Args[2].Name
		if biasShape != nil {
			if bias, err = e.reshape(bias, biasShape); err != nil {
				return err
			}
		}
		sum := v.Name
		if act != "none" {
			sum = e.fresh(v.Name + ".sum")
		}
		e.node("Add", []string{out, bias}, []string{sum}, nil)
		out = sum
	}
	if act == "none" {
		return nil
	}
	lo, hi := int64(0), int64(1)<<31-1
	if act == "clip" {
		lo, hi = intBounds(v.Float("act_min"), v.Float("act_max"), ir.I32)
	}
	return e.clip(out, v.Name, "clip", ir.I32, float64(lo), float64(hi))
}

// zeroPoints adds the zero points of q: a scalar, or with perColumn a 1-D
// tensor; per-axis zero points that are all equal are written as one.
func (e *exporter) zeroPoints(base string, dt ir.DType, q *ir.Quant, perColumn bool) (string, error) {
	if perColumn && !uniform(q) {
		z := ir.NewTensor(dt, []int{len(q.ZeroPoint)})
		for i, x := range q.ZeroPoint {
			z.SetInt(i, x)
		}
		return e.constant(base+".zero_point", z)
	}
	if !uniform(q) {
		return "", fmt.Errorf("per-channel zero points %v have no ConvInteger form", q.ZeroPoint)
	}
	z := ir.NewTensor(dt, []int{})
	z.SetInt(0, q.ZeroPoint[0])
	return e.constant(base+".zero_point", z)
}
