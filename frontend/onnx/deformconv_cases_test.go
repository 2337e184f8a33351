package onnx

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// DeformConv (convert_deform.go) with X, the offsets, the mask and (when
// not constW) the weights as graph inputs: zero offsets (a plain conv),
// random fractional offsets, offsets far outside the image, offsets on
// the (−1, H) boundary and at integers, with and without mask and bias,
// group 2, offset_group 2, strides, dilations, asymmetric pads, N = 2,
// opsets 19 and 22. Checked in rt against a float64 reference written per
// output element from ONNX's semantics, lowered by codegen, run in ONNX
// Runtime (without -short) and compiled with the LLVM backend (and the Go
// backend without -short).

type deformCase struct {
	name               string
	opset              int64
	x                  []int // [N, C, H, W]
	oc, kh, kw         int
	group, og          int   // 0: absent (1)
	strides, dil, pads []int // nil: absent
	bias, mask, constW bool
	offs               string // "zero", "frac", "outside", "edge"
	kernelShape        bool   // a kernel_shape attribute
	seed               int64
}

func deformCases() []deformCase {
	cs := []deformCase{
		{opset: 19, x: []int{1, 2, 5, 5}, oc: 3, kh: 3, kw: 3, offs: "zero", constW: true},
		{opset: 19, x: []int{2, 2, 5, 6}, oc: 2, kh: 3, kw: 2, offs: "zero", bias: true, pads: []int{1, 0, 2, 1}, kernelShape: true},
		{opset: 19, x: []int{1, 2, 5, 5}, oc: 2, kh: 3, kw: 3, offs: "frac"},
		{opset: 19, x: []int{2, 3, 6, 5}, oc: 4, kh: 2, kw: 3, offs: "frac", mask: true, bias: true},
		{opset: 19, x: []int{2, 2, 4, 5}, oc: 3, kh: 2, kw: 2, offs: "outside"},
		{opset: 19, x: []int{1, 2, 4, 4}, oc: 2, kh: 2, kw: 2, offs: "outside", mask: true},
		{opset: 19, x: []int{1, 2, 4, 5}, oc: 2, kh: 3, kw: 3, offs: "edge", pads: []int{1, 1, 1, 1}},
		{opset: 22, x: []int{2, 4, 6, 6}, oc: 4, kh: 3, kw: 3, group: 2, offs: "frac", mask: true, bias: true, pads: []int{1, 1, 1, 1}},
		{opset: 22, x: []int{1, 4, 5, 6}, oc: 2, kh: 2, kw: 3, og: 2, offs: "frac", mask: true},
		{opset: 22, x: []int{2, 4, 6, 5}, oc: 6, kh: 3, kw: 2, group: 2, og: 2, offs: "outside", bias: true, constW: true},
		{opset: 22, x: []int{1, 2, 7, 8}, oc: 3, kh: 3, kw: 3, strides: []int{2, 2}, offs: "frac", mask: true, pads: []int{1, 2, 0, 1}},
		{opset: 22, x: []int{2, 2, 7, 7}, oc: 2, kh: 2, kw: 3, dil: []int{2, 2}, strides: []int{1, 2}, offs: "frac", bias: true},
		{opset: 22, x: []int{1, 4, 6, 6}, oc: 4, kh: 3, kw: 3, group: 4, og: 4, dil: []int{2, 1}, offs: "edge", mask: true},
	}
	for i := range cs {
		tc := &cs[i]
		tc.seed = int64(i + 1)
		tc.name = fmt.Sprintf("opset%d_%v_oc%d_k%dx%d_g%d_og%d_s%v_d%v_p%v_%s", tc.opset, tc.x, tc.oc, tc.kh, tc.kw, max(tc.group, 1), max(tc.og, 1), tc.strides, tc.dil, tc.pads, tc.offs)
		if tc.mask {
			tc.name += "_mask"
		}
		if tc.bias {
			tc.name += "_bias"
		}
		if tc.constW {
			tc.name += "_constW"
		}
	}
	return cs
}

func (tc deformCase) attrs() (strides, dil, pads []int, group, og int) {
	strides, dil, pads = tc.strides, tc.dil, tc.pads
	if strides == nil {
		strides = []int{1, 1}
	}
	if dil == nil {
		dil = []int{1, 1}
	}
	if pads == nil {
		pads = []int{0, 0, 0, 0}
	}
	return strides, dil, pads, max(tc.group, 1), max(tc.og, 1)
}

func (tc deformCase) outHW() (int, int) {
	s, d, p, _, _ := tc.attrs()
	oh := (tc.x[2]+p[0]+p[2]-d[0]*(tc.kh-1)-1)/s[0] + 1
	ow := (tc.x[3]+p[1]+p[3]-d[1]*(tc.kw-1)-1)/s[1] + 1
	return oh, ow
}

func (tc deformCase) wShape() []int {
	_, _, _, g, _ := tc.attrs()
	return []int{tc.oc, tc.x[1] / g, tc.kh, tc.kw}
}

func (tc deformCase) offShape() []int {
	_, _, _, _, og := tc.attrs()
	oh, ow := tc.outHW()
	return []int{tc.x[0], og * tc.kh * tc.kw * 2, oh, ow}
}

func (tc deformCase) maskShape() []int {
	_, _, _, _, og := tc.attrs()
	oh, ow := tc.outHW()
	return []int{tc.x[0], og * tc.kh * tc.kw, oh, ow}
}

// data returns X, W, the offsets, B (nil without bias) and the mask (nil
// without). "outside" offsets move most samples partly or wholly out of
// the image; "edge" offsets land on −1, H, integers and just inside −1.
func (tc deformCase) data() (x, w, off, b, mask *ir.Tensor) {
	r := rand.New(rand.NewSource(tc.seed))
	fill := func(shape []int, lo, hi float64) *ir.Tensor {
		t := ir.NewTensor(ir.F32, shape)
		for i := range t.F32 {
			t.F32[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return t
	}
	x = fill(tc.x, -3, 3)
	w = fill(tc.wShape(), -1, 1)
	off = ir.NewTensor(ir.F32, tc.offShape())
	h := float64(tc.x[2])
	edge := []float64{-1, -2, 1, 2, -0.999, 0.5, h, -h, h + 1, 0, -1.5, 3}
	for i := range off.F32 {
		switch tc.offs {
		case "frac":
			off.F32[i] = float32(3*r.Float64() - 1.5)
		case "outside":
			off.F32[i] = float32((2*r.Float64() - 1) * (h + 3))
		case "edge":
			off.F32[i] = float32(edge[r.Intn(len(edge))])
		}
	}
	if tc.bias {
		b = fill([]int{tc.oc}, -2, 2)
	}
	if tc.mask {
		mask = fill(tc.maskShape(), 0, 1)
	}
	return x, w, off, b, mask
}

// addTo adds the case to m, names prefixed by p: inputs p+"x", p+"w" (an
// initializer when constW), p+"off", p+"b" (an initializer), p+"mask",
// output p+"y".
func (tc deformCase) addTo(m *mb, p string) *mb {
	_, w, _, b, _ := tc.data()
	m.input(p+"x", dtFloat, dims64(tc.x)...)
	if tc.constW {
		m.init(p+"w", w)
	} else {
		m.input(p+"w", dtFloat, dims64(tc.wShape())...)
	}
	m.input(p+"off", dtFloat, dims64(tc.offShape())...)
	in := []string{p + "x", p + "w", p + "off"}
	if tc.bias {
		m.init(p+"b", b)
		in = append(in, p+"b")
	}
	if tc.mask {
		m.input(p+"mask", dtFloat, dims64(tc.maskShape())...)
		if !tc.bias {
			in = append(in, "")
		}
		in = append(in, p+"mask")
	}
	return m.node("DeformConv", in, []string{p + "y"}, tc.nodeAttrs()...).output(p + "y")
}

func (tc deformCase) nodeAttrs() []*attrProto {
	var attrs []*attrProto
	if tc.kernelShape {
		attrs = append(attrs, aInts("kernel_shape", int64(tc.kh), int64(tc.kw)))
	}
	if tc.group != 0 {
		attrs = append(attrs, aInt("group", int64(tc.group)))
	}
	if tc.og != 0 {
		attrs = append(attrs, aInt("offset_group", int64(tc.og)))
	}
	for _, a := range []struct {
		name string
		v    []int
	}{{"strides", tc.strides}, {"dilations", tc.dil}, {"pads", tc.pads}} {
		if a.v != nil {
			attrs = append(attrs, aInts(a.name, dims64(a.v)...))
		}
	}
	return attrs
}

func (tc deformCase) feeds(p string) []ortFeed {
	x, w, off, _, mask := tc.data()
	f := []ortFeed{{p + "x", x}}
	if !tc.constW {
		f = append(f, ortFeed{p + "w", w})
	}
	f = append(f, ortFeed{p + "off", off})
	if tc.mask {
		f = append(f, ortFeed{p + "mask", mask})
	}
	return f
}

// ref computes Y in float64 per output element from ONNX's semantics:
// output channel o of group g sums over its C/group input channels c
// (offset group c/(C/offset_group)) and the kernel taps (i, j) the weight
// times the mask times X sampled bilinearly at (oh·sH − padT + i·dH + Δy,
// ow·sW − padL + j·dW + Δx), the offsets' (Δy, Δx) pair at channel
// (og·kH·kW + i·kW + j)·2; a point outside (−1, H) × (−1, W) samples 0,
// and each of its four neighbours outside the image reads 0.
func (tc deformCase) ref() *ir.Tensor {
	x, w, off, b, mask := tc.data()
	s, d, p, group, og := tc.attrs()
	n, c, h, wd := tc.x[0], tc.x[1], tc.x[2], tc.x[3]
	oh, ow := tc.outHW()
	k := tc.kh * tc.kw
	y := ir.NewTensor(ir.F32, []int{n, tc.oc, oh, ow})
	pix := func(b, ch, yy, xx int) float64 {
		if yy < 0 || yy >= h || xx < 0 || xx >= wd {
			return 0
		}
		return float64(x.F32[((b*c+ch)*h+yy)*wd+xx])
	}
	sample := func(b, ch int, yy, xx float64) float64 {
		if yy <= -1 || yy >= float64(h) || xx <= -1 || xx >= float64(wd) {
			return 0
		}
		y0, x0 := math.Floor(yy), math.Floor(xx)
		ly, lx := yy-y0, xx-x0
		iy, ix := int(y0), int(x0)
		return (1-ly)*(1-lx)*pix(b, ch, iy, ix) + (1-ly)*lx*pix(b, ch, iy, ix+1) + ly*(1-lx)*pix(b, ch, iy+1, ix) + ly*lx*pix(b, ch, iy+1, ix+1)
	}
	cpg, opg, cpo := c/group, tc.oc/group, c/og
	for bn := range n {
		for o := range tc.oc {
			g := o / opg
			for i := range oh {
				for j := range ow {
					acc := 0.0
					if b != nil {
						acc = float64(b.F32[o])
					}
					for ci := range cpg {
						ch := g*cpg + ci
						gi := ch / cpo
						for ki := range tc.kh {
							for kj := range tc.kw {
								tap := ki*tc.kw + kj
								oc := ((bn*og+gi)*k+tap)*2*oh*ow + i*ow + j
								dy, dx := float64(off.F32[oc]), float64(off.F32[oc+oh*ow])
								yy := float64(i*s[0]-p[0]+ki*d[0]) + dy
								xx := float64(j*s[1]-p[1]+kj*d[1]) + dx
								m := 1.0
								if mask != nil {
									m = float64(mask.F32[((bn*og+gi)*k+tap)*oh*ow+i*ow+j])
								}
								acc += float64(w.F32[((o*cpg+ci)*tc.kh+ki)*tc.kw+kj]) * m * sample(bn, ch, yy, xx)
							}
						}
					}
					y.F32[((bn*tc.oc+o)*oh+i)*ow+j] = float32(acc)
				}
			}
		}
	}
	return y
}

const deformTol = 2e-5

// TestDeformConvOps runs every case in rt against the float64 reference
// and lowers it with codegen; zero offsets without a mask must also
// equal pare's own import of a Conv with the same attributes.
func TestDeformConvOps(t *testing.T) {
	for _, tc := range deformCases() {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.addTo(newModel(tc.opset), "").mustLoad(t, Options{})
			if o := ops(g); !slices.Contains(o, "gather") || !slices.Contains(o, "matmul") {
				t.Fatalf("ops %v: no gather or matmul", o)
			}
			feeds := tc.feeds("")
			got, err := rt.Run(g, tensorsOf(feeds))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.ref()
			if err := allClose(got[0], want, deformTol, deformTol); err != nil {
				t.Errorf("rt against the reference: %v", err)
			}
			if _, err := codegen.Lower(g); err != nil {
				t.Errorf("codegen.Lower: %v", err)
			}
			if tc.offs != "zero" || tc.mask {
				return
			}
			// The same node as a Conv (no offset input).
			m := newModel(tc.opset).input("x", dtFloat, dims64(tc.x)...)
			x, w, _, b, _ := tc.data()
			cf := []ortFeed{{"x", x}}
			if tc.constW {
				m.init("w", w)
			} else {
				m.input("w", dtFloat, dims64(tc.wShape())...)
				cf = append(cf, ortFeed{"w", w})
			}
			in := []string{"x", "w"}
			if tc.bias {
				m.init("b", b)
				in = append(in, "b")
			}
			var attrs []*attrProto
			for _, a := range tc.nodeAttrs() {
				if a.GetName() != "offset_group" {
					attrs = append(attrs, a)
				}
			}
			cg := m.node("Conv", in, []string{"y"}, attrs...).output("y").mustLoad(t, Options{})
			cy, err := rt.Run(cg, tensorsOf(cf))
			if err != nil {
				t.Fatal(err)
			}
			if err := allClose(got[0], cy[0], deformTol, deformTol); err != nil {
				t.Errorf("zero offsets against pare's Conv: %v", err)
			}
			if err := allClose(cy[0], want, deformTol, deformTol); err != nil {
				t.Errorf("pare's Conv against the reference: %v", err)
			}
		})
	}
}

// deformGroups: one model per opset of all the DeformConv cases of that opset.
func deformGroups() []feedGroup {
	return feedGroups(deformCases(), func(tc deformCase) int64 { return tc.opset }, func(g *feedGroup, tc deformCase, p string) {
		tc.addTo(g.m, p)
		g.feeds = append(g.feeds, tc.feeds(p)...)
		g.outs = append(g.outs, p+"y")
		g.want = append(g.want, tc.ref())
	})
}

// TestDeformConvORT runs the cases in ONNX Runtime (one model per opset;
// 1.30's CPU provider implements DeformConv-19 and -22) and compares its
// outputs with the references and rt's.
func TestDeformConvORT(t *testing.T) {
	node, dir := ortOrSkip(t)
	for _, dg := range deformGroups() {
		t.Run(fmt.Sprintf("opset%d", dg.opset), func(t *testing.T) {
			dg.checkORT(t, node, dir, 10*deformTol)
		})
	}
}

// TestDeformConvCompiled builds the cases with the Go and LLVM backends
// (one model per opset) and compares the executables' outputs with rt's
// and the references. -short runs the LLVM backend only.
func TestDeformConvCompiled(t *testing.T) {
	for _, dg := range deformGroups() {
		dg.checkCompiled(t, 10*deformTol)
	}
}

// TestDeformConvErrors: malformed nodes fail at import naming the node
// and the reason.
func TestDeformConvErrors(t *testing.T) {
	in := func(x, w, off []int64) *mb {
		return newModel(19).input("x", dtFloat, x...).input("w", dtFloat, w...).input("off", dtFloat, off...)
	}
	node := func(m *mb, in []string, attrs ...*attrProto) *mb {
		return m.node("DeformConv", in, []string{"y"}, attrs...).output("y")
	}
	std := []string{"x", "w", "off"}
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		{"offset shape", node(in([]int64{1, 2, 4, 4}, []int64{2, 2, 3, 3}, []int64{1, 9, 2, 2}), std), "offset [1 9 2 2] must be [1, 18, 2, 2]"},
		{"offset group", node(in([]int64{1, 3, 4, 4}, []int64{2, 3, 3, 3}, []int64{1, 36, 2, 2}), std, aInt("offset_group", 2)), "offset_group 2 must be positive and divide C = 3"},
		{"group", node(in([]int64{1, 4, 4, 4}, []int64{3, 2, 3, 3}, []int64{1, 18, 2, 2}), std, aInt("group", 2)), "group 2 must be positive and divide C = 4 and oC = 3"},
		{"weight channels", node(in([]int64{1, 4, 4, 4}, []int64{2, 4, 3, 3}, []int64{1, 18, 2, 2}), std, aInt("group", 2)), "must have C/group = 2 input channels"},
		{"kernel_shape", node(in([]int64{1, 2, 4, 4}, []int64{2, 2, 3, 3}, []int64{1, 18, 2, 2}), std, aInts("kernel_shape", 2, 2)), "kernel_shape [2 2] does not match weight"},
		{"too large kernel", node(in([]int64{1, 2, 2, 2}, []int64{2, 2, 3, 3}, []int64{1, 18, 1, 1}), std), "does not fit the padded input"},
		{"mask shape", node(in([]int64{1, 2, 4, 4}, []int64{2, 2, 3, 3}, []int64{1, 18, 2, 2}).input("mask", dtFloat, 1, 18, 2, 2), []string{"x", "w", "off", "", "mask"}), "mask [1 18 2 2] must be [1, 9, 2, 2]"},
		{"bias shape", node(in([]int64{1, 2, 4, 4}, []int64{2, 2, 3, 3}, []int64{1, 18, 2, 2}).input("b", dtFloat, 3), []string{"x", "w", "off", "b"}), "bias [3] must be [2]"},
		{"3-D input", node(in([]int64{1, 2, 4}, []int64{2, 2, 3}, []int64{1, 6, 2}), std), "4-D inputs [N, C, H, W] only"},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "node ") {
			t.Errorf("%s: err = %v, want one naming the node and %q", tc.name, err, tc.want)
		}
		var u *UnsupportedError
		if isU := errors.As(err, &u); isU != (tc.name == "3-D input") {
			t.Errorf("%s: err = %v (%T): an *UnsupportedError: %v", tc.name, err, err, isU)
		}
	}
}

// TestDeformConvNonFinite: a NaN or infinite offset samples 0 in rt, as
// an offset far outside the image does (and the gather stays in range).
func TestDeformConvNonFinite(t *testing.T) {
	tc := deformCases()[2]
	g := tc.addTo(newModel(tc.opset), "").mustLoad(t, Options{})
	run := func(v float32) *ir.Tensor {
		f := tc.feeds("")
		f[2].x.F32[0] = v // Δy of tap 0 at output (0, 0)
		got, err := rt.Run(g, tensorsOf(f))
		if err != nil {
			t.Fatalf("offset %v: %v", v, err)
		}
		return got[0]
	}
	far := run(1e6)
	if allClose(far, tc.ref(), deformTol, deformTol) == nil {
		t.Fatal("an offset far outside changes nothing: the case does not test the tap")
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := allClose(run(float32(v)), far, 0, 0); err != nil {
			t.Errorf("offset %v against one far outside: %v", v, err)
		}
	}
}
