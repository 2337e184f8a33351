package rt

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// convCase is one randomized convolution geometry.
type convCase struct {
	n, c, m, group    int
	in, k             []int
	strides, dil, pad []int // pad: begins then ends
	bias              bool
}

func (cc convCase) attrs() ir.Attrs {
	return ir.Attrs{"group": ir.Int(cc.group), "strides": ir.Ints(cc.strides...),
		"dilations": ir.Ints(cc.dil...), "pads": ir.Ints(cc.pad...)}
}

// naiveConv is the direct definition: out[n,m,o] = Σ_c,k x[n, g*cg+c, o*s-p+k*d] · w[m,c,k] (+ b[m]),
// with get(x index) and getW(w index) supplying the (zero-centered) operands.
func naiveConv(cc convCase, out []int, get func(i int) float64, getW func(i int) float64, bias func(m int) float64) []float64 {
	nsp := len(cc.in)
	cg, mg := cc.c/cc.group, cc.m/cc.group
	inStr := ir.Strides(append([]int{cc.n, cc.c}, cc.in...))
	wStr := ir.Strides(append([]int{cc.m, cg}, cc.k...))
	res := make([]float64, ir.NumElements(out))
	oi := newOdometer(out)
	ki := newOdometer(cc.k)
	for i := range res {
		n, m, o := oi.idx[0], oi.idx[1], oi.idx[2:]
		gi := m / mg
		s := bias(m)
		for c := 0; c < cg; c++ {
			clear(ki.idx)
			for {
				xoff := n*inStr[0] + (gi*cg+c)*inStr[1]
				ok := true
				for d := 0; d < nsp; d++ {
					p := o[d]*cc.strides[d] - cc.pad[d] + ki.idx[d]*cc.dil[d]
					if p < 0 || p >= cc.in[d] {
						ok = false
						break
					}
					xoff += p * inStr[2+d]
				}
				if ok {
					woff := m*wStr[0] + c*wStr[1]
					for d := 0; d < nsp; d++ {
						woff += ki.idx[d] * wStr[2+d]
					}
					s += get(xoff) * getW(woff)
				}
				if !ki.next() {
					break
				}
			}
		}
		res[i] = s
		oi.next()
	}
	return res
}

func randConvCases(rng *rand.Rand) []convCase {
	cases := []convCase{
		// Fixed: 2-D with everything, depthwise, depthwise with multiplier, pointwise, 1-D, 3-D.
		{n: 2, c: 4, m: 6, group: 2, in: shp(7, 9), k: shp(3, 2), strides: shp(2, 1), dil: shp(1, 2), pad: shp(1, 0, 2, 1), bias: true},
		{n: 1, c: 5, m: 5, group: 5, in: shp(8, 8), k: shp(3, 3), strides: shp(1, 1), dil: shp(1, 1), pad: shp(1, 1, 1, 1), bias: true},
		{n: 1, c: 3, m: 6, group: 3, in: shp(9, 7), k: shp(3, 3), strides: shp(2, 2), dil: shp(2, 1), pad: shp(2, 1, 0, 2)},
		{n: 2, c: 8, m: 5, group: 1, in: shp(6, 5), k: shp(1, 1), strides: shp(1, 1), dil: shp(1, 1), pad: shp(0, 0, 0, 0), bias: true},
		{n: 1, c: 3, m: 4, group: 1, in: shp(11), k: shp(3), strides: shp(2), dil: shp(2), pad: shp(2, 1), bias: true},
		{n: 2, c: 2, m: 3, group: 1, in: shp(5, 4, 6), k: shp(2, 3, 2), strides: shp(1, 2, 1), dil: shp(1, 1, 2), pad: shp(1, 0, 1, 0, 1, 1), bias: true},
		// Big enough for the parallel GEMM path.
		{n: 1, c: 16, m: 24, group: 1, in: shp(26, 26), k: shp(3, 3), strides: shp(1, 1), dil: shp(1, 1), pad: shp(1, 1, 1, 1), bias: true},
	}
	for i := 0; i < 12; i++ {
		nsp := 1 + rng.Intn(3)
		group := 1 + rng.Intn(3)
		cc := convCase{n: 1 + rng.Intn(2), c: group * (1 + rng.Intn(3)), m: group * (1 + rng.Intn(5)), group: group, bias: rng.Intn(2) == 0}
		for d := 0; d < nsp; d++ {
			k := 1 + rng.Intn(3)
			dil := 1 + rng.Intn(2)
			cc.k = append(cc.k, k)
			cc.dil = append(cc.dil, dil)
			cc.strides = append(cc.strides, 1+rng.Intn(3))
			cc.in = append(cc.in, (k-1)*dil+1+rng.Intn(6))
		}
		for d := 0; d < 2*nsp; d++ {
			cc.pad = append(cc.pad, rng.Intn(3))
		}
		cases = append(cases, cc)
	}
	return cases
}

func TestConvFloatAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i, cc := range randConvCases(rng) {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			x := randF32(rng, append([]int{cc.n, cc.c}, cc.in...)...)
			w := randF32(rng, append([]int{cc.m, cc.c / cc.group}, cc.k...)...)
			bias := randF32(rng, cc.m)
			b := newGB(t)
			args := []*ir.Value{b.param("x", ir.TensorType(ir.F32, x.Shape...)), b.cnst("w", w, nil)}
			if cc.bias {
				args = append(args, b.cnst("b", bias, nil))
			}
			v := b.op("conv", args, cc.attrs(), ir.Type{})
			got := b.run([]*ir.Value{v}, x)[0]
			want := naiveConv(cc, v.Type.Shape, func(i int) float64 { return float64(x.F32[i]) },
				func(i int) float64 { return float64(w.F32[i]) },
				func(m int) float64 {
					if cc.bias {
						return float64(bias.F32[m])
					}
					return 0
				})
			closeF32(t, "conv", got.F32, toF32(want), 1e-4, 1e-4)
		})
	}
}

func toF32(x []float64) []float32 {
	r := make([]float32, len(x))
	for i, v := range x {
		r[i] = float32(v)
	}
	return r
}

// Integer conv: the i32 (ConvInteger) form equals the naive sum exactly;
// the quantized (QLinearConv) form requantizes it with the float32 formula.
func TestConvIntegerAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i, cc := range randConvCases(rng) {
		for j, dts := range [][2]ir.DType{{ir.U8, ir.I8}, {ir.I8, ir.I8}, {ir.U8, ir.U8}} {
			if j > 0 && i == 6 {
				continue // the large case once is enough
			}
			t.Run(fmt.Sprint(i, dts), func(t *testing.T) {
				x := randInt(rng, dts[0], append([]int{cc.n, cc.c}, cc.in...)...)
				w := randInt(rng, dts[1], append([]int{cc.m, cc.c / cc.group}, cc.k...)...)
				bias := randInt(rng, ir.I32, cc.m)
				for j := range bias.I32 {
					bias.I32[j] %= 5000
				}
				qx := ir.PerTensor(0.02, int64(rng.Intn(20)))
				qw := &ir.Quant{Axis: 0}
				for m := 0; m < cc.m; m++ {
					qw.Scale = append(qw.Scale, 0.001+rng.Float32()*0.01)
					qw.ZeroPoint = append(qw.ZeroPoint, int64(rng.Intn(7)))
				}
				if i%2 == 1 {
					qw = ir.PerTensor(0.004, 3)
				}
				want := naiveConv(cc, convOutShape(cc), func(i int) float64 { return float64(x.IntAt(i) - qx.ZeroPoint[0]) },
					func(i int) float64 {
						m := i / (w.Len() / cc.m)
						return float64(w.IntAt(i) - qw.ZeroAt(m))
					},
					func(m int) float64 {
						if cc.bias {
							return float64(bias.I32[m])
						}
						return 0
					})
				build := func(result ir.Type) *ir.Tensor {
					b := newGB(t)
					args := []*ir.Value{b.param("x", ir.Type{DType: dts[0], Shape: x.Shape, Quant: qx}), b.cnst("w", w, qw)}
					if cc.bias {
						args = append(args, b.cnst("b", bias, nil))
					}
					v := b.op("conv", args, cc.attrs(), result)
					return b.run([]*ir.Value{v}, x)[0]
				}
				acc := build(ir.Type{DType: ir.I32})
				wantAcc := make([]int64, len(want))
				for j, f := range want {
					wantAcc[j] = int64(f)
				}
				equalInts(t, "ConvInteger", acc, wantAcc)

				qy := ir.PerTensor(0.05, 7)
				y := build(ir.Type{DType: ir.U8, Quant: qy})
				inner := len(want) / (cc.n * cc.m)
				wantY := make([]int64, len(want))
				for j, a := range wantAcc {
					m := (j / inner) % cc.m
					s := qx.Scale[0] * qw.ScaleAt(m) / qy.Scale[0]
					wantY[j] = saturate(roundHalfEven(float32(a)*s)+7, 0, 255)
				}
				equalInts(t, "QLinearConv", y, wantY)

				// rq=tflite: the fixed-point multiplier of double(sx)·double(sw)/double(sy).
				b := newGB(t)
				args := []*ir.Value{b.param("x", ir.Type{DType: dts[0], Shape: x.Shape, Quant: qx}), b.cnst("w", w, qw)}
				if cc.bias {
					args = append(args, b.cnst("b", bias, nil))
				}
				attrs := cc.attrs()
				attrs["rq"] = ir.Str("tflite")
				v := b.op("conv", args, attrs, ir.Type{DType: ir.I8, Quant: ir.PerTensor(0.05, -7)})
				y = b.run([]*ir.Value{v}, x)[0]
				for j, a := range wantAcc {
					m := (j / inner) % cc.m
					mm, sh := QuantizeMultiplier(float64(qx.Scale[0]) * float64(qw.ScaleAt(m)) / float64(float32(0.05)))
					wantY[j] = clampInt(int64(MultiplyByQuantizedMultiplier(int32(a), mm, sh))-7, -128, 127)
				}
				equalInts(t, "QLinearConv tflite", y, wantY)
			})
		}
	}
}

func convOutShape(cc convCase) []int {
	out := []int{cc.n, cc.m}
	for d := range cc.in {
		out = append(out, ir.PoolOutDim(cc.in[d], cc.k[d], cc.strides[d], cc.dil[d], cc.pad[d], cc.pad[d+len(cc.in)], false))
	}
	return out
}

// conv_transpose against its definition: every input element scatters
// x·w into out[i*s - p + k*d].
func TestConvTransposeAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cases := []struct {
		n, c, mg, group int
		in, k, s, d, p  []int
		outPad          []int
	}{
		{1, 2, 3, 1, shp(3, 4), shp(3, 3), shp(2, 2), shp(1, 1), shp(1, 0, 1, 1), shp(1, 0)},
		{2, 4, 1, 2, shp(5), shp(2), shp(3), shp(2), shp(0, 1), nil},
		{1, 2, 2, 2, shp(2, 3, 2), shp(2, 2, 1), shp(1, 2, 2), shp(1, 1, 1), shp(0, 0, 0, 0, 1, 0), nil},
	}
	for i, cc := range cases {
		nsp := len(cc.in)
		x := randF32(rng, append([]int{cc.n, cc.c}, cc.in...)...)
		w := randF32(rng, append([]int{cc.c, cc.mg}, cc.k...)...)
		m := cc.mg * cc.group
		bias := randF32(rng, m)
		b := newGB(t)
		attrs := ir.Attrs{"group": ir.Int(cc.group), "strides": ir.Ints(cc.s...), "dilations": ir.Ints(cc.d...), "pads": ir.Ints(cc.p...)}
		if cc.outPad != nil {
			attrs["output_padding"] = ir.Ints(cc.outPad...)
		}
		v := b.op("conv_transpose", []*ir.Value{b.param("x", ir.TensorType(ir.F32, x.Shape...)), b.cnst("w", w, nil), b.cnst("b", bias, nil)}, attrs, ir.Type{})
		got := b.run([]*ir.Value{v}, x)[0]
		out := v.Type.Shape
		want := make([]float64, ir.NumElements(out))
		ostr := ir.Strides(out)
		for j := range want {
			want[j] = float64(bias.F32[(j/ostr[1])%m])
		}
		xi := newOdometer(x.Shape)
		cg := cc.c / cc.group
		for j := 0; j < x.Len(); j++ {
			n, c, pos := xi.idx[0], xi.idx[1], xi.idx[2:]
			gi := c / cg
			for mo := 0; mo < cc.mg; mo++ {
				ki := newOdometer(cc.k)
				for {
					off, ok := n*ostr[0]+(gi*cc.mg+mo)*ostr[1], true
					woff := (c*cc.mg + mo) * ir.NumElements(cc.k)
					kstr := ir.Strides(cc.k)
					for d := 0; d < nsp; d++ {
						p := pos[d]*cc.s[d] - cc.p[d] + ki.idx[d]*cc.d[d]
						if p < 0 || p >= out[2+d] {
							ok = false
						}
						off += p * ostr[2+d]
						woff += ki.idx[d] * kstr[d]
					}
					if ok {
						want[off] += float64(x.F32[j]) * float64(w.F32[woff])
					}
					if !ki.next() {
						break
					}
				}
			}
			xi.next()
		}
		closeF32(t, fmt.Sprint("conv_transpose ", i), got.F32, toF32(want), 1e-4, 1e-4)
	}
}

// The blocked GEMM against a naive triple loop, all transpositions, edge
// sizes and the parallel path.
func TestSgemmAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {5, 9, 300}, {17, 33, 257}, {64, 700, 80}, {130, 1030, 40}, {2, 1000, 513}, {70, 3, 10}}
	for _, s := range sizes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a := randF32(rng, m*k).F32
				b := randF32(rng, k*n).F32
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				am, bm := matrix{a, lda, ta}, matrix{b, ldb, tb}
				c := make([]float32, m*n)
				sgemm(m, n, k, am, bm, c, n)
				want := make([]float32, m*n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var acc float64
						for p := 0; p < k; p++ {
							acc += float64(am.at(i, p)) * float64(bm.at(p, j))
						}
						want[i*n+j] = float32(acc)
					}
				}
				closeF32(t, fmt.Sprintf("sgemm %v ta=%v tb=%v", s, ta, tb), c, want, 1e-4, 1e-4)
			}
		}
	}
}

func BenchmarkConv2D(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	g := ir.NewGraph("bench")
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, 64, 56, 56))
	w := g.AddConst("w", randF32(rng, 64, 64, 3, 3), nil)
	v, err := g.Add("conv", []*ir.Value{x, w}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{}, "conv", "")
	if err != nil {
		b.Fatal(err)
	}
	g.Results = []*ir.Value{v}
	p, err := New(g)
	if err != nil {
		b.Fatal(err)
	}
	in := []*ir.Tensor{randF32(rng, 1, 64, 56, 56)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Run(in); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 64 * 64 * 9 * 56 * 56
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	const m, k, n = 256, 512, 512
	g := ir.NewGraph("bench")
	a := g.AddParam("a", ir.TensorType(ir.F32, m, k))
	w := g.AddConst("w", randF32(rng, k, n), nil)
	v, err := g.Add("matmul", []*ir.Value{a, w}, nil, ir.Type{}, "mm", "")
	if err != nil {
		b.Fatal(err)
	}
	g.Results = []*ir.Value{v}
	p, err := New(g)
	if err != nil {
		b.Fatal(err)
	}
	in := []*ir.Tensor{randF32(rng, m, k)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Run(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*m*k*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkKernel is the GEMM micro-kernel alone (the GEMM's ceiling).
func BenchmarkKernel(b *testing.B) {
	a, bp, c := make([]float32, kc*mr), make([]float32, kc*nr), make([]float32, mr*nr)
	for i := 0; i < b.N; i++ {
		kernel2x4(kc, a, bp, c, nr, true)
	}
	b.ReportMetric(2*kc*mr*nr*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkConv2DInt8 is the QLinearConv form of BenchmarkConv2D (u8 × i8 → u8).
func BenchmarkConv2DInt8(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	g := ir.NewGraph("bench")
	x := g.AddParam("x", ir.Type{DType: ir.U8, Shape: []int{1, 64, 56, 56}, Quant: ir.PerTensor(0.02, 128)})
	w := g.AddConst("w", randInt(rng, ir.I8, 64, 64, 3, 3), ir.PerTensor(0.01, 0))
	v, err := g.Add("conv", []*ir.Value{x, w}, ir.Attrs{"pads": ir.Ints(1, 1, 1, 1)}, ir.Type{DType: ir.U8, Quant: ir.PerTensor(0.5, 100)}, "conv", "")
	if err != nil {
		b.Fatal(err)
	}
	g.Results = []*ir.Value{v}
	p, err := New(g)
	if err != nil {
		b.Fatal(err)
	}
	in := []*ir.Tensor{randInt(rng, ir.U8, 1, 64, 56, 56)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Run(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2.0*64*64*9*56*56*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
}

// The int32 instantiation of the GEMM is exact, wrapping like int32.
func TestIntGemmAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, s := range [][3]int{{1, 7, 5}, {3, 3, 3}, {9, 37, 300}, {66, 600, 70}} {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b := make([]int32, m*k), make([]int32, k*n)
				for i := range a {
					a[i] = int32(rng.Intn(511) - 255)
				}
				for i := range b {
					b[i] = int32(rng.Intn(511) - 255)
				}
				a[0] = 1 << 30 // makes some sums wrap
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				am, bm := mat[int32]{a, lda, ta}, mat[int32]{b, ldb, tb}
				c := make([]int32, m*n)
				gemm(m, n, k, am, bm, c, n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var want int32
						for p := 0; p < k; p++ {
							want += am.at(i, p) * bm.at(p, j)
						}
						if c[i*n+j] != want {
							t.Fatalf("gemm[int32] %v ta=%v tb=%v: [%d,%d] = %d, want %d", s, ta, tb, i, j, c[i*n+j], want)
						}
					}
				}
			}
		}
	}
}
