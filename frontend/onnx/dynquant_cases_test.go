package onnx

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/backendrun"
)

// ONNX Runtime's dynamic quantization (convert_dynquant.go): DynamicQuantizeLinear
// alone on inputs all positive, all negative, mixed, all zero and on .5
// ties (of x / y_scale and of the zero point); quantize_dynamic's
// x → DynamicQuantizeLinear → MatMulInteger (runtime a_zero_point) → Cast
// → Mul(y_scale·w_scale) → Add(bias) with INT8 weights (b_zero_point 0)
// and UINT8 weights (a nonzero b_zero_point, per tensor and per column);
// ConvInteger with the runtime x_zero_point. Checked in rt against a Go
// reference of ONNX Runtime's arithmetic (u8, i32 and the scale exactly),
// lowered by codegen, in ONNX Runtime (without -short) and in the compiled
// backends (LLVM in -short too, Go without -short) against rt exactly.

type dqCase struct {
	name string
	kind string // "dql", "mm" or "conv"
	x    []int
	data []float32 // nil: random in [lo, hi)
	lo   float64
	hi   float64
	// mm: the weight [K, N] (K = x's last dim) of dtype wdt with zero point
	// wz (one, or one per column); conv: the weight [M, C, kh, kw].
	wdt   ir.DType
	w     []int
	wz    []int64
	noWZ  bool // b_zero_point absent
	pads  []int64
	seed  int64
	conv2 bool // strides 2
}

func dqCases() []dqCase {
	ties := []float32{0.5, 1.5, 2.5, 3.5, 254.5, 255, 100.5, 7.5, 0, 8.5}
	zpTies := []float32{-2.5, 0.5, 1.5, -1.5, 252.5, 3, -0.5, 10.5, 11.5, 12.5} // scale 1, zero point 2.5 → 2
	return []dqCase{
		{name: "dql_mixed", kind: "dql", x: []int{2, 5}, lo: -3, hi: 5, seed: 1},
		{name: "dql_positive", kind: "dql", x: []int{3, 1, 4}, lo: 0.25, hi: 9, seed: 2},
		{name: "dql_negative", kind: "dql", x: []int{7}, lo: -40, hi: -0.5, seed: 3},
		{name: "dql_zero", kind: "dql", x: []int{2, 3}, data: make([]float32, 6)},
		{name: "dql_ties", kind: "dql", x: []int{10}, data: ties},
		{name: "dql_zp_ties", kind: "dql", x: []int{2, 5}, data: zpTies},
		{name: "dql_scalar", kind: "dql", x: []int{}, data: []float32{-1.75}},
		{name: "mm_i8", kind: "mm", x: []int{3, 8}, lo: -2, hi: 3, wdt: ir.I8, w: []int{8, 5}, wz: []int64{0}, seed: 4},
		{name: "mm_i8_nozp", kind: "mm", x: []int{2, 3, 6}, lo: -1, hi: 0.5, wdt: ir.I8, w: []int{6, 4}, noWZ: true, seed: 5},
		{name: "mm_u8", kind: "mm", x: []int{4, 7}, lo: -0.3, hi: 6, wdt: ir.U8, w: []int{7, 3}, wz: []int64{113}, seed: 6},
		{name: "mm_u8_percol", kind: "mm", x: []int{3, 5}, lo: -4, hi: 1, wdt: ir.U8, w: []int{5, 4}, wz: []int64{128, 3, 250, 77}, seed: 7},
		{name: "mm_u8_zero", kind: "mm", x: []int{2, 4}, data: make([]float32, 8), wdt: ir.U8, w: []int{4, 3}, wz: []int64{9}, seed: 8},
		{name: "conv_pads", kind: "conv", x: []int{1, 2, 5, 5}, lo: -1, hi: 2, wdt: ir.U8, w: []int{3, 2, 3, 3}, wz: []int64{7}, pads: []int64{1, 1, 1, 1}, seed: 9},
		{name: "conv_stride", kind: "conv", x: []int{2, 3, 6, 5}, lo: -5, hi: 0.5, wdt: ir.U8, w: []int{2, 3, 2, 2}, wz: []int64{200}, pads: []int64{0, 1, 1, 0}, conv2: true, seed: 10},
	}
}

func (tc dqCase) input() *ir.Tensor {
	x := ir.NewTensor(ir.F32, tc.x)
	if tc.data != nil {
		copy(x.F32, tc.data)
		return x
	}
	r := rand.New(rand.NewSource(tc.seed))
	for i := range x.F32 {
		x.F32[i] = float32(tc.lo + (tc.hi-tc.lo)*r.Float64())
	}
	return x
}

// params are the weight, its zero point (nil when absent), w_scale and the bias.
func (tc dqCase) params() (w, wz, ws, bias *ir.Tensor) {
	r := rand.New(rand.NewSource(tc.seed + 100))
	w = ir.NewTensor(tc.wdt, tc.w)
	lo, hi := w.DType.Range()
	if w.DType == ir.I8 {
		// quantize_dynamic's reduce_range: 7-bit INT8 weights. ONNX Runtime's
		// u8×s8 kernel on x86 without VNNI (vpmaddubsw) saturates pairs of
		// products to int16, so full-range weights make its result differ
		// from the spec's exact sum.
		lo, hi = -64, 63
	}
	for i := 0; i < w.Len(); i++ {
		w.Set(i, float64(lo+r.Int63n(hi-lo+1)))
	}
	if !tc.noWZ {
		shape := []int{}
		if len(tc.wz) > 1 {
			shape = []int{len(tc.wz)}
		}
		wz = ir.NewTensor(tc.wdt, shape)
		for i, z := range tc.wz {
			wz.Set(i, float64(z))
		}
	}
	ws = ir.ScalarF32(0.0123)
	bias = ir.NewTensor(ir.F32, []int{tc.w[len(tc.w)-1]})
	for i := range bias.F32 {
		bias.F32[i] = float32(r.Float64()*2 - 1)
	}
	return
}

// outs are the case's outputs, prefixed p.
func (tc dqCase) outs(p string) []string {
	o := []string{p + "y", p + "s", p + "z"}
	switch tc.kind {
	case "mm":
		o = append(o, p+"acc", p+"out")
	case "conv":
		o = append(o, p+"acc")
	}
	return o
}

func (tc dqCase) addTo(m *mb, p string) *mb {
	m.input(p+"x", dtFloat, dims64(tc.x)...)
	m.node("DynamicQuantizeLinear", []string{p + "x"}, []string{p + "y", p + "s", p + "z"})
	if tc.kind != "dql" {
		w, wz, ws, bias := tc.params()
		m.init(p+"w", w)
		in := []string{p + "y", p + "w", p + "z"}
		if wz != nil {
			m.init(p+"wz", wz)
			in = append(in, p+"wz")
		}
		if tc.kind == "mm" {
			m.init(p+"ws", ws).init(p+"bias", bias)
			m.node("MatMulInteger", in, []string{p + "acc"})
			m.node("Cast", []string{p + "acc"}, []string{p + "accf"}, aInt("to", int64(dtFloat)))
			m.node("Mul", []string{p + "s", p + "ws"}, []string{p + "ms"})
			m.node("Mul", []string{p + "accf", p + "ms"}, []string{p + "mf"})
			m.node("Add", []string{p + "mf", p + "bias"}, []string{p + "out"})
		} else {
			attrs := []*attrProto{aInts("pads", tc.pads...)}
			if tc.conv2 {
				attrs = append(attrs, aInts("strides", 2, 2))
			}
			m.node("ConvInteger", in, []string{p + "acc"}, attrs...)
		}
	}
	return m.output(tc.outs(p)...)
}

// dqlRef is ONNX Runtime's DynamicQuantizeLinear in f32.
func dqlRef(x *ir.Tensor) (y *ir.Tensor, s float32, zp uint8) {
	var lo, hi float32
	for _, v := range x.F32 {
		lo, hi = min(lo, v), max(hi, v)
	}
	s = (hi - lo) / 255
	if hi == lo {
		s = 1
	}
	z := float32(math.RoundToEven(float64(min(max((0-lo)/s, 0), 255))))
	y = ir.NewTensor(ir.U8, x.Shape)
	for i, v := range x.F32 {
		y.U8[i] = uint8(min(max(float32(math.RoundToEven(float64(v/s)))+z, 0), 255))
	}
	return y, s, uint8(z)
}

func (tc dqCase) ref() []*ir.Tensor {
	x := tc.input()
	y, s, zp := dqlRef(x)
	z := ir.NewTensor(ir.U8, []int{})
	z.U8[0] = zp
	out := []*ir.Tensor{y, ir.ScalarF32(s), z}
	if tc.kind == "dql" {
		return out
	}
	w, wz, ws, bias := tc.params()
	zb := func(i int) int32 {
		switch {
		case wz == nil:
			return 0
		case wz.Len() == 1:
			return int32(wz.IntAt(0))
		}
		return int32(wz.IntAt(i))
	}
	if tc.kind == "mm" {
		k, n := tc.w[0], tc.w[1]
		rows := y.Len() / k
		accShape := append(append([]int(nil), tc.x[:len(tc.x)-1]...), n)
		acc := ir.NewTensor(ir.I32, accShape)
		o := ir.NewTensor(ir.F32, accShape)
		ms := s * ws.F32[0]
		for r := range rows {
			for j := range n {
				var a int32
				for q := range k {
					a += (int32(y.U8[r*k+q]) - int32(zp)) * (int32(w.IntAt(q*n+j)) - zb(j))
				}
				acc.I32[r*n+j] = a
				o.F32[r*n+j] = float32(a)*ms + bias.F32[j]
			}
		}
		return append(out, acc, o)
	}
	nb, c, h, wd := tc.x[0], tc.x[1], tc.x[2], tc.x[3]
	m, kh, kw := tc.w[0], tc.w[2], tc.w[3]
	st := 1
	if tc.conv2 {
		st = 2
	}
	pt, pl, pb, pr := int(tc.pads[0]), int(tc.pads[1]), int(tc.pads[2]), int(tc.pads[3])
	oh, ow := (h+pt+pb-kh)/st+1, (wd+pl+pr-kw)/st+1
	acc := ir.NewTensor(ir.I32, []int{nb, m, oh, ow})
	for b := range nb {
		for mo := range m {
			for i := range oh {
				for j := range ow {
					var a int32
					for ci := range c {
						for u := range kh {
							for v := range kw {
								hi, wi := i*st-pt+u, j*st-pl+v
								if hi < 0 || hi >= h || wi < 0 || wi >= wd {
									continue
								}
								xv := int32(y.U8[((b*c+ci)*h+hi)*wd+wi]) - int32(zp)
								a += xv * (int32(w.IntAt(((mo*c+ci)*kh+u)*kw+v)) - zb(mo))
							}
						}
					}
					acc.I32[((b*m+mo)*oh+i)*ow+j] = a
				}
			}
		}
	}
	return append(out, acc)
}

// dqCheck compares got with want output by output: exactly (f32 bit for
// bit) unless the output is a final f32 "out", compared within tol.
func dqCheck(t *testing.T, what string, names []string, got, want []*ir.Tensor, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s gave %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		g := got[i]
		if g.Len() == want[i].Len() {
			g.Shape = want[i].Shape
		}
		if g.DType != want[i].DType || !ir.EqualShape(g.Shape, want[i].Shape) {
			t.Errorf("%s: %s: got %v%v, want %v%v", names[i], what, g.DType, g.Shape, want[i].DType, want[i].Shape)
			continue
		}
		if strings.HasSuffix(names[i], "out") {
			if err := allClose(g, want[i], tol, tol); err != nil {
				t.Errorf("%s: %s: %v", names[i], what, err)
			}
			continue
		}
		for j := 0; j < want[i].Len(); j++ {
			ok := g.At(j) == want[i].At(j)
			if g.DType == ir.F32 {
				ok = math.Float32bits(g.F32[j]) == math.Float32bits(want[i].F32[j])
			}
			if !ok {
				t.Errorf("%s: %s: element %d: got %v, want %v", names[i], what, j, g.At(j), want[i].At(j))
				break
			}
		}
	}
}

const dqTol = 1e-5

// TestDynQuant runs each case in rt against the reference and lowers it.
func TestDynQuant(t *testing.T) {
	for _, tc := range dqCases() {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.addTo(newModel(13), "").mustLoad(t, Options{})
			got, err := rt.Run(g, []*ir.Tensor{tc.input()})
			if err != nil {
				t.Fatal(err)
			}
			dqCheck(t, "rt against the reference", tc.outs(""), got, tc.ref(), dqTol)
			if _, err := codegen.Lower(g); err != nil {
				t.Errorf("codegen.Lower: %v", err)
			}
		})
	}
}

// dqGroup is every case in one model, case i prefixed c<i>_.
func dqGroup() (m *mb, feeds []ortFeed, outs []string, want []*ir.Tensor) {
	m = newModel(13)
	for i, tc := range dqCases() {
		p := fmt.Sprintf("c%d_", i)
		tc.addTo(m, p)
		feeds = append(feeds, ortFeed{p + "x", tc.input()})
		outs = append(outs, tc.outs(p)...)
		want = append(want, tc.ref()...)
	}
	return
}

// TestDynQuantORT runs the cases in ONNX Runtime and compares its outputs
// with the references and rt's.
func TestDynQuantORT(t *testing.T) {
	node, dir := ortOrSkip(t)
	m, feeds, outs, want := dqGroup()
	g := m.mustLoad(t, Options{})
	rtOut, err := rt.Run(g, tensorsOf(feeds))
	if err != nil {
		t.Fatal(err)
	}
	got := runORTModel(t, node, dir, m.bytes(t), feeds, outs, want)
	dqCheck(t, "ONNX Runtime against the reference", outs, got, want, dqTol)
	got = runORTModel(t, node, dir, m.bytes(t), feeds, outs, want)
	dqCheck(t, "ONNX Runtime against rt", outs, got, rtOut, dqTol)
}

// TestDynQuantCompiled builds the cases with the Go and LLVM backends and
// compares the outputs with rt's exactly. -short runs the LLVM backend only.
func TestDynQuantCompiled(t *testing.T) {
	m, feeds, outs, want := dqGroup()
	g := m.mustLoad(t, Options{})
	xs := tensorsOf(feeds)
	rtOut, err := rt.Run(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	backendrun.Both(t, "dq", g, xs, false, func(t *testing.T, backend string, got []*ir.Tensor) {
		dqCheck(t, backend+" against rt", outs, got, rtOut, 0)
		dqCheck(t, backend+" against the reference", outs, got, want, dqTol)
	})
}

// TestMatMulIntegerRuntimeZPPerRow: a per-row a_zero_point [M] computed at
// run time (a graph input here; ONNX Runtime takes scalars only), on 2-D
// and batched A and a 1-D B, B a constant or a graph input (as in ONNX's
// node tests, with b_zero_point bound), in rt against an exact integer
// reference.
func TestMatMulIntegerRuntimeZPPerRow(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, tc := range []struct {
		a, b []int
		za   []int
		bIn  bool
	}{{[]int{3, 4}, []int{4, 5}, []int{3}, false}, {[]int{2, 3, 4}, []int{4, 2}, []int{3}, false}, {[]int{3, 4}, []int{4}, []int{3}, false},
		{[]int{3, 4}, []int{4, 2}, []int{1}, false}, {[]int{3, 4}, []int{4, 5}, []int{}, true}, {[]int{2, 3, 4}, []int{4, 2}, []int{3}, true}} {
		a := ir.NewTensor(ir.U8, tc.a)
		for i := range a.U8 {
			a.U8[i] = uint8(r.Intn(256))
		}
		za := ir.NewTensor(ir.U8, tc.za)
		for i := range za.U8 {
			za.U8[i] = uint8(r.Intn(256))
		}
		b := ir.NewTensor(ir.U8, tc.b)
		for i := range b.U8 {
			b.U8[i] = uint8(r.Intn(256))
		}
		zb := ir.NewTensor(ir.U8, []int{})
		zb.U8[0] = 131
		m := newModel(13).input("a", dtUint8, dims64(tc.a)...).input("za", dtUint8, dims64(tc.za)...)
		feeds := []*ir.Tensor{a, za}
		opts := Options{}
		if tc.bIn {
			m.input("b", dtUint8, dims64(tc.b)...).input("zb", dtUint8)
			opts.Bind = map[string]*ir.Tensor{"zb": zb}
			feeds = append(feeds, b)
		} else {
			m.init("b", b).init("zb", zb)
		}
		g := m.node("MatMulInteger", []string{"a", "b", "za", "zb"}, []string{"y"}).output("y").mustLoad(t, opts)
		got, err := rt.Run(g, feeds)
		if err != nil {
			t.Fatal(err)
		}
		k := tc.a[len(tc.a)-1]
		mr := tc.a[len(tc.a)-2]
		n := 1
		if len(tc.b) == 2 {
			n = tc.b[1]
		}
		rows := a.Len() / k
		if got[0].Len() != rows*n {
			t.Fatalf("%v × %v: %v elements, want %d", tc.a, tc.b, got[0].Shape, rows*n)
		}
		for row := range rows {
			z := int32(za.U8[0])
			if len(za.U8) > 1 {
				z = int32(za.U8[row%mr])
			}
			for j := range n {
				var s int32
				for q := range k {
					s += (int32(a.U8[row*k+q]) - z) * (int32(b.U8[q*n+j]) - 131)
				}
				if g := got[0].I32[row*n+j]; g != s {
					t.Fatalf("%v × %v, za %v: element (%d, %d): got %d, want %d", tc.a, tc.b, tc.za, row, j, g, s)
				}
			}
		}
	}
}

// TestDynQuantErrors: what the runtime zero-point forms do not take fails
// at import, naming the node and the reason.
func TestDynQuantErrors(t *testing.T) {
	u8 := func(shape ...int) *ir.Tensor { return ir.NewTensor(ir.U8, shape) }
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		{"dql int input", newModel(13).input("x", dtInt32, 3).
			node("DynamicQuantizeLinear", []string{"x"}, []string{"y", "s", "z"}).output("y"), "takes FLOAT"},
		{"runtime b_zero_point", newModel(13).input("a", dtUint8, 2, 3).input("zb", dtUint8).init("b", u8(3, 2)).
			node("MatMulInteger", []string{"a", "b", "", "zb"}, []string{"y"}).output("y"), `"zb" must be a constant`},
		{"za shape", newModel(13).input("a", dtUint8, 2, 3).input("za", dtUint8, 2, 2).init("b", u8(3, 2)).
			node("MatMulInteger", []string{"a", "b", "za"}, []string{"y"}).output("y"), "must be a scalar or one per row"},
		{"za dtype", newModel(13).input("a", dtUint8, 2, 3).input("za", dtInt8).init("b", u8(3, 2)).
			node("MatMulInteger", []string{"a", "b", "za"}, []string{"y"}).output("y"), "a_zero_point is i8, the operand is u8"},
		{"conv zx per channel", newModel(13).input("x", dtUint8, 1, 2, 4, 4).input("zx", dtUint8, 2).init("w", u8(3, 2, 3, 3)).
			node("ConvInteger", []string{"x", "w", "zx"}, []string{"y"}).output("y"), "x_zero_point [2] computed at run time must be a scalar"},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "node ") {
			t.Errorf("%s: err = %v, want one naming the node and %q", tc.name, err, tc.want)
		}
	}
}

// TestConvIntegerRuntimeZPInputs: ConvInteger with x, x_zero_point and w
// all graph inputs (ONNX's node tests feed them so), with and without
// pads, in rt against an exact integer reference (pads count as x's zero
// point, as in ONNX Runtime).
func TestConvIntegerRuntimeZPInputs(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for _, pad := range []int{0, 1} {
		x := ir.NewTensor(ir.U8, []int{1, 2, 4, 3})
		for i := range x.U8 {
			x.U8[i] = uint8(r.Intn(256))
		}
		w := ir.NewTensor(ir.U8, []int{2, 2, 2, 2})
		for i := range w.U8 {
			w.U8[i] = uint8(r.Intn(256))
		}
		zx := ir.NewTensor(ir.U8, []int{})
		zx.U8[0] = 77
		p := int64(pad)
		g := newModel(13).input("x", dtUint8, 1, 2, 4, 3).input("w", dtUint8, 2, 2, 2, 2).input("zx", dtUint8).
			node("ConvInteger", []string{"x", "w", "zx"}, []string{"y"}, aInts("pads", p, p, p, p)).output("y").mustLoad(t, Options{})
		got, err := rt.Run(g, []*ir.Tensor{x, w, zx})
		if err != nil {
			t.Fatal(err)
		}
		oh, ow := 4+2*pad-1, 3+2*pad-1
		if !ir.EqualShape(got[0].Shape, []int{1, 2, oh, ow}) {
			t.Fatalf("pads %d: shape %v", pad, got[0].Shape)
		}
		for m := range 2 {
			for i := range oh {
				for j := range ow {
					var s int32
					for c := range 2 {
						for u := range 2 {
							for v := range 2 {
								hi, wi := i-pad+u, j-pad+v
								if hi < 0 || hi >= 4 || wi < 0 || wi >= 3 {
									continue
								}
								s += (int32(x.U8[(c*4+hi)*3+wi]) - 77) * int32(w.U8[((m*2+c)*2+u)*2+v])
							}
						}
					}
					if g := got[0].I32[(m*oh+i)*ow+j]; g != s {
						t.Fatalf("pads %d: element (%d, %d, %d): got %d, want %d", pad, m, i, j, g, s)
					}
				}
			}
		}
	}
}
