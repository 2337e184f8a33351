package tflite

import (
	"fmt"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// MediaPipe's MaxPoolingWithArgmax2D and MaxUnpooling2D (the hair
// segmentation model's encoder and decoder). Both read TfLitePoolParams
// from custom_options: padding, stride_width, stride_height, filter_width,
// filter_height, activation. Positions are relative to a window: y·filter_w
// + x counted from the window's origin (out·stride - pad), stored as f32.

// poolParams reads TfLitePoolParams, checked.
type poolParams struct {
	same           bool
	sh, sw, fh, fw int
	act            int
}

func (o *opctx) poolParams() (poolParams, error) {
	p, err := o.structParams("TfLitePoolParams", "padding", "stride_width", "stride_height", "filter_width", "filter_height", "activation")
	if err != nil {
		return poolParams{}, err
	}
	same, err := tfLitePadding(p[0])
	if err != nil {
		return poolParams{}, err
	}
	pp := poolParams{same: same, sw: p[1], sh: p[2], fw: p[3], fh: p[4], act: p[5]}
	if pp.sh < 1 || pp.sw < 1 || pp.fh < 1 || pp.fw < 1 {
		return poolParams{}, fmt.Errorf("strides %dx%d and filter %dx%d must be positive", pp.sh, pp.sw, pp.fh, pp.fw)
	}
	if pp.act < 0 || pp.act > 6 {
		return poolParams{}, fmt.Errorf("activation %d in custom_options is not a TfLiteFusedActivation", pp.act)
	}
	return pp, nil
}

// named adds an op whose value is named after output 0 plus suffix.
func (o *opctx) named(suffix, op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type) (*ir.Value, error) {
	return o.im.g.Add(op, args, attrs, hint, ssaName(o.out.name)+suffix, o.out.name)
}

// constI64 is an i64 constant of shape (rank 0 for nil), element i f(i).
func (o *opctx) constI64(suffix string, shape []int, f func(i int) int64) *ir.Value {
	t := ir.NewTensor(ir.I64, shape)
	for i := range t.I64 {
		t.I64[i] = f(i)
	}
	return o.im.addConst(o.out.name, suffix, t, nil)
}

// convMaxPoolArgmax imports MaxPoolingWithArgmax2D: outputs the maxima
// (TFLite's max pool, then the fused activation's clamp: RELU, RELU_N1_TO_1
// and RELU6; the kernel ignores the others) and the position of each
// window's first maximum as f32, y·fw + x + 0.1. maxpool_index gives the
// flat input index i; the position is (i mod HW) div W · fw + i mod W minus
// the window origin's, a constant per output pixel.
func convMaxPoolArgmax(o *opctx) error {
	p, err := o.poolParams()
	if err != nil {
		return err
	}
	if len(o.op.outputs) != 2 {
		return fmt.Errorf("has %d outputs, want 2 (maxima, positions)", len(o.op.outputs))
	}
	x, err := o.im.getNCHW(o.in(0))
	if err != nil {
		return err
	}
	H, W := x.Type.Shape[2], x.Type.Shape[3]
	pad := fb.PaddingVALID
	if p.same {
		pad = fb.PaddingSAME
	}
	pads := padsFor(pad, H, W, p.fh, p.fw, p.sh, p.sw, 1, 1)
	attrs := ir.Attrs{"kernel": ir.Ints(p.fh, p.fw), "strides": ir.Ints(p.sh, p.sw), "pads": ir.Ints(pads...)}
	v, err := o.add("maxpool", []*ir.Value{x}, attrs, ir.Type{})
	if err != nil {
		return err
	}
	if act := fb.ActivationFunctionType(p.act); act >= fb.ActivationFunctionTypeRELU && act <= fb.ActivationFunctionTypeRELU6 {
		if v, err = o.activate(v, act); err != nil {
			return err
		}
	}
	if err := o.set(v, true); err != nil {
		return err
	}
	idx, err := o.named(".index", "maxpool_index", []*ir.Value{x}, attrs, ir.Type{})
	if err != nil {
		return err
	}
	oh, ow := idx.Type.Shape[2], idx.Type.Shape[3]
	scalar := func(suffix string, n int) *ir.Value {
		return o.constI64(suffix, nil, func(int) int64 { return int64(n) })
	}
	origin := o.constI64(".origin", []int{1, 1, oh, ow}, func(i int) int64 {
		y, xx := i/ow, i%ow
		return int64((y*p.sh-pads[0])*p.fw + xx*p.sw - pads[1])
	})
	var stepErr error
	step := func(suffix, op string, a, b *ir.Value) *ir.Value {
		if stepErr != nil {
			return nil
		}
		v, err := o.named(suffix, op, []*ir.Value{a, b}, nil, ir.Type{})
		stepErr = err
		return v
	}
	width := scalar(".width", W)
	hw := step(".hw", "mod", idx, scalar(".plane", H*W))
	row := step(".rowpos", "mul", step(".row", "div", hw, width), scalar(".filter_width", p.fw))
	col := step(".col", "mod", idx, width)
	pos := step(".pos", "sub", step(".abs", "add", row, col), origin)
	if stepErr != nil {
		return stepErr
	}
	if pos, err = o.named(".f32", "cast", []*ir.Value{pos}, nil, ir.Type{DType: ir.F32}); err != nil {
		return err
	}
	tenth := ir.NewTensor(ir.F32, nil)
	tenth.F32[0] = 0.1
	if pos, err = o.addFor(1, "add", []*ir.Value{pos, o.im.addConst(o.out.name, ".tenth", tenth, nil)}, nil, ir.Type{}); err != nil {
		return err
	}
	return o.setAt(1, pos, true)
}

// convMaxUnpool imports MaxUnpooling2D: an output [N, h·fh, w·fw, C] of
// zeros where each input value lands at position p (truncated to an int) of
// its window, origin (y·s - pad, x·s - pad). With stride = filter the
// padding is 0 and the windows tile the output, so the value of output
// pixel (Y, X) is input (Y div fh, X div fw) where that input's position
// is (Y mod fh)·fw + X mod fw, else 0: in NCHW, viewed as [N,C,h,fh,w,fw],
// where(equal(positions [N,C,h,1,w,1], pattern [fh,1,fw]), values, 0).
// A position outside [0, fh·fw), which MaxPoolingWithArgmax2D never
// gives, writes nothing (MediaPipe's kernel writes it into a neighbouring
// window). Other strides would need a scatter op the IR lacks.
func convMaxUnpool(o *opctx) error {
	p, err := o.poolParams()
	if err != nil {
		return err
	}
	if p.sh != p.fh || p.sw != p.fw {
		return fmt.Errorf("unsupported: strides %dx%d differ from the filter %dx%d (overlapping or gapped windows need a scatter op, which the IR lacks)", p.sh, p.sw, p.fh, p.fw)
	}
	x, err := o.im.getNCHW(o.in(0))
	if err != nil {
		return err
	}
	pi, err := o.im.getNCHW(o.in(1))
	if err != nil {
		return err
	}
	if !ir.EqualShape(x.Type.Shape, pi.Type.Shape) || pi.Type.DType != ir.F32 {
		return fmt.Errorf("positions %v must be f32 and shaped as the values %v", pi.Type, x.Type)
	}
	n, c, h, w := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2], x.Type.Shape[3]
	view := ir.Type{Shape: []int{n, c, h, 1, w, 1}}
	xv, err := o.named(".values6", "reshape", []*ir.Value{x}, nil, view)
	if err != nil {
		return err
	}
	pv, err := o.named(".pos6", "reshape", []*ir.Value{pi}, nil, view)
	if err != nil {
		return err
	}
	// The kernel's int idx = position: toward zero, to a C int.
	if pv, err = o.named(".posint", "cast", []*ir.Value{pv}, nil, ir.Type{DType: ir.I32}); err != nil {
		return err
	}
	pt := ir.NewTensor(ir.I32, []int{1, 1, 1, p.fh, 1, p.fw})
	for i := range pt.I32 {
		pt.I32[i] = int32(i)
	}
	pattern := o.im.addConst(o.out.name, ".pattern", pt, nil)
	hit, err := o.named(".hit", "equal", []*ir.Value{pv, pattern}, nil, ir.Type{})
	if err != nil {
		return err
	}
	zero := o.im.addConst(o.out.name, ".zero", ir.NewTensor(ir.F32, nil), nil)
	v, err := o.named(".scatter6", "where", []*ir.Value{hit, xv, zero}, nil, ir.Type{})
	if err != nil {
		return err
	}
	if v, err = o.add("reshape", []*ir.Value{v}, nil, ir.Type{Shape: []int{n, c, h * p.fh, w * p.fw}}); err != nil {
		return err
	}
	return o.set(v, true)
}
