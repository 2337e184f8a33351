package codegen

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
)

// legalize rewrites the ops the kernels do not take, or take slowly, into
// ops they do, before lowering (g itself is not changed; a graph with
// nothing to rewrite comes back as it is):
//   - a 3-D f32 conv or conv_transpose becomes 2-D ones, one per kernel
//     depth, over the depth slices folded into the batch (the kernels are
//     1-D and 2-D); results equal rt's within float rounding (the depth
//     taps are summed in another order);
//   - an integer 1×1 conv with strides and no padding becomes a strided
//     slice of its input and a stride-1 conv: the pointwise kernels read
//     their input in place instead of through an im2col (light_resnet50
//     int8's three projection convs, `EXE --profile`: 3.0 → 1.7 ms with the
//     slice; the f32 kernels gain nothing, so f32 convs stay as they are);
//     the same products, so results are rt's bit for bit.
func legalize(g *ir.Graph) (*ir.Graph, error) {
	need := false
	for _, v := range g.Values {
		need = need || rewriteOf(v) != nil
	}
	if !need {
		return g, nil
	}
	g = g.Clone()
	old := g.Values
	g.Values = make([]*ir.Value, 0, len(old))
	repl := map[*ir.Value]*ir.Value{}
	for _, v := range old {
		for i, a := range v.Args {
			if r, ok := repl[a]; ok {
				v.Args[i] = r
			}
		}
		rw := rewriteOf(v)
		if rw == nil {
			g.Values = append(g.Values, v)
			continue
		}
		name := v.Name
		g.Rename(v, name+".legal")
		d := depthRewrite{g: g, v: v, name: name}
		r := rw(&d)
		if d.err != nil {
			return nil, d.err
		}
		repl[v] = r
	}
	for i, r := range g.Results {
		if n, ok := repl[r]; ok {
			g.Results[i] = n
		}
	}
	return g, nil
}

// rewriteOf returns the rewrite legalize applies to v, or nil.
func rewriteOf(v *ir.Value) func(d *depthRewrite) *ir.Value {
	switch {
	case is3DConv(v) && v.Op.Name == "conv":
		return (*depthRewrite).conv
	case is3DConv(v):
		return (*depthRewrite).convTranspose
	case isStridedPointwise(v):
		return (*depthRewrite).pointwise
	}
	return nil
}

// isStridedPointwise: a 2-D integer conv of a 1×1 kernel with a stride
// past 1 and no padding.
func isStridedPointwise(v *ir.Value) bool {
	if v.Op == nil || v.Op.Name != "conv" || len(v.Args) < 2 || v.Args[0].Type.Rank() != 4 || v.Args[1].Type.Rank() != 4 {
		return false
	}
	if dt := v.Args[0].Type.DType; dt != ir.I8 && dt != ir.U8 {
		return false
	}
	ws := v.Args[1].Type.Shape
	if ws[2] != 1 || ws[3] != 1 {
		return false
	}
	win, err := ir.WindowOf(v, 2, ws[2:])
	if err != nil {
		return false
	}
	for i := range 2 {
		if win.PadsBegin[i] != 0 || win.PadsEnd[i] != 0 {
			return false
		}
	}
	return win.Strides[0] > 1 || win.Strides[1] > 1
}

// pointwise: y = conv(x[:, :, ::sh, ::sw], w) at stride 1, v's other
// attributes (group, fused activation) kept.
func (d *depthRewrite) pointwise() *ir.Value {
	v := d.v
	x := v.Args[0]
	win, err := ir.WindowOf(v, 2, v.Args[1].Type.Shape[2:])
	if err != nil {
		d.err = fmt.Errorf("%s: %v", v.Where(), err)
		return nil
	}
	xs, ys := x.Type.Shape, v.Type.Shape
	sh, sw := win.Strides[0], win.Strides[1]
	sl := d.add("slice", []*ir.Value{x}, ir.Attrs{"starts": ir.Ints(0, 0, 0, 0),
		"ends": ir.Ints(xs[0], xs[1], (ys[2]-1)*sh+1, (ys[3]-1)*sw+1), "steps": ir.Ints(1, 1, sh, sw)}, ir.Type{}, false)
	attrs := v.Attrs.Clone()
	attrs["strides"] = ir.Ints(1, 1)
	delete(attrs, "pads")
	delete(attrs, "auto_pad")
	delete(attrs, "dilations")
	args := append([]*ir.Value{sl}, v.Args[1:]...)
	return d.add("conv", args, attrs, v.Type, true)
}

// is3DConv: a conv or conv_transpose of plain f32 on a rank-5 input.
func is3DConv(v *ir.Value) bool {
	return (v.Op.Name == "conv" || v.Op.Name == "conv_transpose") && len(v.Args) > 0 &&
		v.Args[0].Type.Rank() == 5 && isF32(v)
}

// depthRewrite builds the 2-D form of one 3-D conv v; the first error
// sticks and later steps do nothing.
type depthRewrite struct {
	g    *ir.Graph
	v    *ir.Value
	name string // v's name, which the last value takes
	err  error
}

// add appends one value; last gives it v's own name.
func (d *depthRewrite) add(op string, args []*ir.Value, attrs ir.Attrs, hint ir.Type, last bool) *ir.Value {
	if d.err != nil {
		return nil
	}
	name := d.name + "." + op
	if last {
		name = d.name
	}
	r, err := d.g.Add(op, args, attrs, hint, name, d.v.Source)
	if err != nil {
		d.err = fmt.Errorf("%s: rewriting it for the kernels: %v", d.v.Where(), err)
	}
	return r
}

func (d *depthRewrite) reshape(x *ir.Value, shape ...int) *ir.Value {
	return d.add("reshape", []*ir.Value{x}, nil, ir.Type{DType: ir.F32, Shape: shape}, false)
}

// swap12 exchanges dims 1 and 2 of a rank-5 value ([N, C, D, ...] ↔ [N, D, C, ...]).
func (d *depthRewrite) swap12(x *ir.Value, last bool) *ir.Value {
	return d.add("transpose", []*ir.Value{x}, ir.Attrs{"perm": ir.Ints(0, 2, 1, 3, 4)}, ir.Type{}, last)
}

// tap is w[:, :, kd] ([O, I, KD, KH, KW] → [O, I, KH, KW]): a constant
// when w is one, else a slice.
func (d *depthRewrite) tap(w *ir.Value, kd int) *ir.Value {
	s := w.Type.Shape
	if w.IsConst() && w.Const.DType == ir.F32 {
		o, i, kD, hw := s[0], s[1], s[2], s[3]*s[4]
		t := make([]float32, o*i*hw)
		for a := 0; a < o*i; a++ {
			copy(t[a*hw:(a+1)*hw], w.Const.F32[(a*kD+kd)*hw:(a*kD+kd+1)*hw])
		}
		return d.g.AddConst(fmt.Sprintf("%s.w%d", d.name, kd), ir.FromF32([]int{o, i, s[3], s[4]}, t), nil)
	}
	sl := d.add("slice", []*ir.Value{w}, ir.Attrs{"starts": ir.Ints(0, 0, kd, 0, 0), "ends": ir.Ints(s[0], s[1], kd+1, s[3], s[4]),
		"steps": ir.Ints(1, 1, 1, 1, 1)}, ir.Type{}, false)
	return d.reshape(sl, s[0], s[1], s[3], s[4])
}

// depthGeom is a 3-D conv's shapes, its depth window (stride sd,
// dilation dd, pads) and the attributes of its 2-D taps.
type depthGeom struct {
	n, c, d, h, w int // input
	m, od, oh, ow int // output
	kD, sd, dd    int
	padB, padE    int // depth pads
	attrs         ir.Attrs
}

// geometry reads v's; ok false when its window is invalid (d.err says why).
func (d *depthRewrite) geometry() (depthGeom, bool) {
	v := d.v
	xs, ys, ws := v.Args[0].Type.Shape, v.Type.Shape, v.Args[1].Type.Shape
	win, err := ir.WindowOf(v, 3, ws[2:])
	if err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("%s: %v", v.Where(), err)
		}
		return depthGeom{}, false
	}
	return depthGeom{n: xs[0], c: xs[1], d: xs[2], h: xs[3], w: xs[4], m: ys[1], od: ys[2], oh: ys[3], ow: ys[4],
		kD: ws[2], sd: win.Strides[0], dd: win.Dilations[0], padB: win.PadsBegin[0], padE: win.PadsEnd[0],
		attrs: ir.Attrs{"group": ir.Int(v.Int("group")), "strides": ir.Ints(win.Strides[1], win.Strides[2]),
			"dilations": ir.Ints(win.Dilations[1], win.Dilations[2]),
			"pads":      ir.Ints(win.PadsBegin[1], win.PadsBegin[2], win.PadsEnd[1], win.PadsEnd[2])}}, true
}

// conv: y[:, :, od] = Σ_kd conv2d(x[:, :, od·sd + kd·dd − pd], w[:, :, kd]),
// x padded along depth first; each tap's depth slices run as one batch.
func (d *depthRewrite) conv() *ir.Value {
	v := d.v
	x, w := v.Args[0], v.Args[1]
	gm, ok := d.geometry()
	if !ok {
		return nil
	}
	n, c, h, wd, m, od, oh, ow, kD, sd, dd := gm.n, gm.c, gm.h, gm.w, gm.m, gm.od, gm.oh, gm.ow, gm.kD, gm.sd, gm.dd
	xp := x
	if gm.padB != 0 || gm.padE != 0 {
		xp = d.add("pad", []*ir.Value{x}, ir.Attrs{"pads": ir.Ints(0, 0, gm.padB, 0, 0, 0, 0, gm.padE, 0, 0)}, ir.Type{}, false)
	}
	attrs := gm.attrs
	var sum *ir.Value
	for kd := 0; kd < kD && d.err == nil; kd++ {
		s0 := kd * dd
		sl := d.add("slice", []*ir.Value{xp}, ir.Attrs{"starts": ir.Ints(0, 0, s0, 0, 0),
			"ends": ir.Ints(n, c, s0+(od-1)*sd+1, h, wd), "steps": ir.Ints(1, 1, sd, 1, 1)}, ir.Type{}, false)
		xb := d.reshape(d.swap12(sl, false), n*od, c, h, wd)
		args := []*ir.Value{xb, d.tap(w, kd)}
		if kd == 0 && len(v.Args) == 3 {
			args = append(args, v.Args[2])
		}
		y := d.add("conv", args, attrs.Clone(), ir.Type{}, false)
		if sum == nil {
			sum = y
		} else {
			sum = d.add("add", []*ir.Value{sum, y}, nil, ir.Type{}, false)
		}
	}
	switch act := v.Str("act"); act {
	case "none":
	case "relu":
		sum = d.add("relu", []*ir.Value{sum}, nil, ir.Type{}, false)
	case "clip":
		sum = d.add("clip", []*ir.Value{sum}, ir.Attrs{"min": ir.Float(v.Float("act_min")), "max": ir.Float(v.Float("act_max"))}, ir.Type{}, false)
	default:
		d.err = Unsupported(v, "act %s", act)
	}
	if d.err != nil {
		return nil
	}
	return d.swap12(d.reshape(sum, n, od, m, oh, ow), true)
}

// convTranspose: each depth tap kd is a 2-D conv_transpose of every input
// depth slice (as one batch), whose result for input depth id lands at
// output depth id·sd + kd·dd − pd: spread by sd (zeros between), shifted
// by padding or cropping along depth, and summed over the taps; the bias
// is added once at the end.
func (d *depthRewrite) convTranspose() *ir.Value {
	v := d.v
	x, w := v.Args[0], v.Args[1]
	gm, ok := d.geometry()
	if !ok {
		return nil
	}
	n, c, dp, h, wd, m, od, oh, ow, kD, sd, dd := gm.n, gm.c, gm.d, gm.h, gm.w, gm.m, gm.od, gm.oh, gm.ow, gm.kD, gm.sd, gm.dd
	attrs := gm.attrs
	if op := v.IntList("output_padding"); len(op) == 3 {
		attrs["output_padding"] = ir.Ints(op[1], op[2])
	}
	xb := d.reshape(d.swap12(x, false), n*dp, c, h, wd)
	var sum *ir.Value
	for kd := 0; kd < kD && d.err == nil; kd++ {
		z := d.add("conv_transpose", []*ir.Value{xb, d.tap(w, kd)}, attrs.Clone(), ir.Type{}, false)
		if d.err != nil {
			return nil
		}
		plane := m * oh * ow
		if z.Type.Shape[2] != oh || z.Type.Shape[3] != ow {
			d.err = fmt.Errorf("%s: 3-D conv_transpose as 2-D ones: a tap is %v, want [%d %d %d %d]", v.Where(), z.Type.Shape, n*dp, m, oh, ow)
			return nil
		}
		// [N, D, 1, plane] padded to [N, D, sd, plane]: input depth id at
		// row id·sd of [N, D·sd, plane].
		zr := d.reshape(z, n, dp, 1, plane)
		if sd > 1 {
			zr = d.add("pad", []*ir.Value{zr}, ir.Attrs{"pads": ir.Ints(0, 0, 0, 0, 0, 0, sd-1, 0)}, ir.Type{}, false)
		}
		zs := d.reshape(zr, n, dp*sd, plane)
		off := kd*dd - gm.padB
		zs = d.add("pad", []*ir.Value{zs}, ir.Attrs{"pads": ir.Ints(0, off, 0, 0, od-dp*sd-off, 0)}, ir.Type{}, false)
		if sum == nil {
			sum = zs
		} else {
			sum = d.add("add", []*ir.Value{sum, zs}, nil, ir.Type{}, false)
		}
	}
	if d.err != nil {
		return nil
	}
	last := len(v.Args) < 3
	y := d.swap12(d.reshape(sum, n, od, m, oh, ow), last)
	if last {
		return y
	}
	b := d.reshape(v.Args[2], 1, m, 1, 1, 1)
	return d.add("add", []*ir.Value{y, b}, nil, ir.Type{}, true)
}
