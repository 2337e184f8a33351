package rt

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

func TestQuantizeRounding(t *testing.T) {
	x := f32t(shp(9), 0.5, 1.5, -0.5, -2.5, 2.5, 0.49999997, -1.5, 1000, -1000)
	// Ties go to even; then the zero point; then saturation.
	got := eval1(t, "quantize", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(1, 0)})
	equalInts(t, "i8", got, []int64{0, 2, 0, -2, 2, 0, -2, 127, -128})
	got = eval1(t, "quantize", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.U8, Quant: ir.PerTensor(0.5, 10)})
	equalInts(t, "u8", got, []int64{11, 13, 9, 5, 15, 11, 7, 255, 0})
	got = eval1(t, "quantize", []*ir.Tensor{x}, nil, nil, ir.Type{DType: ir.I16, Quant: ir.PerTensor(0.01, -5)})
	equalInts(t, "i16", got, []int64{45, 145, -55, -255, 245, 45, -155, 32767, -32768})
	// rq=tflite: ties away from zero, as TFLite's QUANTIZE (std::round).
	v, err := ir.NewValue("quantize", []*ir.Value{{Name: "x", Op: ir.OpParam, Type: ir.TensorType(ir.F32, 9)}},
		ir.Attrs{"rq": ir.Str("tflite")}, ir.Type{DType: ir.I8, Quant: ir.PerTensor(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	away, err := EvalOp(v, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	equalInts(t, "tflite", away, []int64{1, 2, -1, -3, 3, 0, -2, 127, -128})
	// From i32 (the value as float).
	i := intTensor(ir.I32, shp(4), 3, 5, -3, 1<<30)
	got = eval1(t, "quantize", []*ir.Tensor{i}, nil, nil, ir.Type{DType: ir.I8, Quant: ir.PerTensor(2, 1)})
	equalInts(t, "from i32", got, []int64{3, 3, -1, 127})
	// Per axis: axis 1 of [2,3].
	q := &ir.Quant{Axis: 1, Scale: []float32{1, 0.5, 2}, ZeroPoint: []int64{0, 1, -1}}
	x2 := f32t(shp(2, 3), 1, 1, 1, -3, 2.25, 5)
	got = eval1(t, "quantize", []*ir.Tensor{x2}, nil, nil, ir.Type{DType: ir.I8, Quant: q})
	equalInts(t, "per axis", got, []int64{1, 3, -1, -3, 5, 1})
	back := eval1(t, "dequantize", []*ir.Tensor{got}, []*ir.Quant{q}, nil, ir.Type{})
	closeF32(t, "dequantize per axis", back.F32, []float32{1, 1, 0, -3, 2, 4}, 0, 0)
}

func TestDequantize(t *testing.T) {
	x := intTensor(ir.U8, shp(4), 0, 3, 128, 255)
	got := eval1(t, "dequantize", []*ir.Tensor{x}, []*ir.Quant{ir.PerTensor(2, 128)}, nil, ir.Type{})
	closeF32(t, "u8", got.F32, []float32{-256, -250, 0, 254}, 0, 0)
	x32 := intTensor(ir.I32, shp(2), 1000, -1000)
	got = eval1(t, "dequantize", []*ir.Tensor{x32}, []*ir.Quant{ir.PerTensor(0.001, 0)}, nil, ir.Type{})
	closeF32(t, "i32", got.F32, []float32{1, -1}, 1e-6, 0)
}

func TestRequantize(t *testing.T) {
	x := intTensor(ir.I8, shp(6), -128, -3, 0, 1, 5, 127)
	qx, qy := ir.PerTensor(0.3, 2), ir.PerTensor(0.2, -1)
	// float: quantize(dequantize(x)): (x-2)*0.3/0.2 rounded half even, -1.
	want := make([]int64, 6)
	for i := range want {
		r := float32(x.IntAt(i)-2) * 0.3
		want[i] = saturate(roundHalfEven(r/0.2)-1, -128, 127)
	}
	got := eval1(t, "requantize", []*ir.Tensor{x}, []*ir.Quant{qx}, nil, ir.Type{DType: ir.I8, Quant: qy})
	equalInts(t, "float", got, want)
	// tflite: multiplier 1.5 = 0.75·2¹: mantissa round(0.75·2³¹), shift 1.
	got = eval1(t, "requantize", []*ir.Tensor{x}, []*ir.Quant{qx}, ir.Attrs{"rq": ir.Str("tflite")}, ir.Type{DType: ir.U8, Quant: ir.PerTensor(0.2, 100)})
	// (x-2)*1.5 rounded half away from zero, +100, saturated to u8.
	equalInts(t, "tflite", got, []int64{0, 92, 97, 98, 105, 255})
}

// TFLite fixed-point helpers on hand-worked values.
func TestTFLiteFixedPoint(t *testing.T) {
	mults := []struct {
		real  float64
		mant  int32
		shift int
	}{
		{0.5, 1 << 30, 0},
		{0.25, 1 << 30, -1},
		{1, 1 << 30, 1},
		{0.75, 1610612736, 0},
		{3, 1610612736, 2},
		{0.3, 1288490189, -1}, // 0.6·2⁻¹; round(0.6·2³¹) = round(1288490188.8)
		{0, 0, 0},
		{1e-12, 0, 0}, // exponent below -31 flushes to zero
	}
	for _, m := range mults {
		mant, shift := QuantizeMultiplier(m.real)
		if mant != m.mant || shift != m.shift {
			t.Errorf("QuantizeMultiplier(%v) = %d, %d; want %d, %d", m.real, mant, shift, m.mant, m.shift)
		}
	}
	// SaturatingRoundingDoublingHighMul rounds (a·b + nudge) / 2³¹ toward
	// zero, nudge ±2³⁰: half away from zero for positives, and -50.5 → -50.
	srdhm := []struct{ a, b, want int32 }{
		{100, 1 << 30, 50},
		{101, 1 << 30, 51},
		{-101, 1 << 30, -50},
		{math.MinInt32, math.MinInt32, math.MaxInt32},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
	}
	for _, c := range srdhm {
		if got := SaturatingRoundingDoublingHighMul(c.a, c.b); got != c.want {
			t.Errorf("SRDHM(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	rdbpot := []struct {
		x    int32
		e    int
		want int32
	}{{3, 1, 2}, {-3, 1, -2}, {5, 2, 1}, {6, 2, 2}, {-6, 2, -2}, {-5, 2, -1}, {7, 0, 7}, {math.MinInt32, 31, -1}}
	for _, c := range rdbpot {
		if got := RoundingDivideByPOT(c.x, c.e); got != c.want {
			t.Errorf("RoundingDivideByPOT(%d, %d) = %d, want %d", c.x, c.e, got, c.want)
		}
	}
	// MultiplyByQuantizedMultiplier: 1000·0.3 = 300 exactly; 0.25·±6 = ±1.5 → ±2.
	mbqm := []struct {
		x     int32
		real  float64
		want  int32
		notes string
	}{
		{1000, 0.3, 300, "SRDHM 600, then >>1"},
		{6, 0.25, 2, "1.5 away from zero"},
		{-6, 0.25, -2, "-1.5 away from zero"},
		{7, 3, 21, "left shift 2"},
		{-7, 1.5, -10, "-10.5: the doubling high multiply rounds negative halves toward zero"},
	}
	for _, c := range mbqm {
		m, s := QuantizeMultiplier(c.real)
		if got := MultiplyByQuantizedMultiplier(c.x, m, s); got != c.want {
			t.Errorf("MBQM(%d, %v) = %d, want %d (%s)", c.x, c.real, got, c.want, c.notes)
		}
	}
	// Against float rounding on random values: never more than 1 apart.
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 2000; i++ {
		real := math.Exp(rng.Float64()*12 - 10)
		x := int32(rng.Intn(1<<20) - 1<<19)
		m, s := QuantizeMultiplier(real)
		got := MultiplyByQuantizedMultiplier(x, m, s)
		if want := math.Round(float64(x) * real); math.Abs(float64(got)-want) > 1 {
			t.Fatalf("MBQM(%d, %v) = %d, want ≈ %v", x, real, got, want)
		}
	}
}

// naiveIntMatmul is Σ_p (a[i,p]-za)(b[p,j]-zb[j]) for 2-D a, b.
func naiveIntMatmul(a, b *ir.Tensor, za int64, zb func(j int) int64, m, k, n int) []int64 {
	out := make([]int64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for p := 0; p < k; p++ {
				s += (a.IntAt(i*k+p) - za) * (b.IntAt(p*n+j) - zb(j))
			}
			out[i*n+j] = s
		}
	}
	return out
}

func TestIntegerMatMul(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, dts := range [][2]ir.DType{{ir.U8, ir.I8}, {ir.I8, ir.U8}, {ir.U8, ir.U8}} {
		m, k, n := 3, 17, 5
		a := randInt(rng, dts[0], m, k)
		b := randInt(rng, dts[1], k, n)
		qa := ir.PerTensor(0.02, 3)
		qb := &ir.Quant{Axis: 1}
		for j := 0; j < n; j++ {
			qb.Scale = append(qb.Scale, 0.001*float32(j+1))
			qb.ZeroPoint = append(qb.ZeroPoint, int64(j))
		}
		acc := naiveIntMatmul(a, b, 3, func(j int) int64 { return int64(j) }, m, k, n)
		got := eval1(t, "matmul", []*ir.Tensor{a, b}, []*ir.Quant{qa, qb}, nil, ir.Type{DType: ir.I32})
		equalInts(t, fmt.Sprint("MatMulInteger ", dts), got, acc)

		qy := ir.PerTensor(0.03, 100)
		want := make([]int64, len(acc))
		for i, s := range acc {
			mult := float32(0.02) * qb.Scale[i%n] / 0.03
			want[i] = saturate(roundHalfEven(float32(s)*mult)+100, 0, 255)
		}
		got = eval1(t, "matmul", []*ir.Tensor{a, b}, []*ir.Quant{qa, qb}, nil, ir.Type{DType: ir.U8, Quant: qy})
		equalInts(t, fmt.Sprint("QLinearMatMul ", dts), got, want)

		for i, s := range acc {
			mm, sh := QuantizeMultiplier(0.02 * float64(qb.Scale[i%n]) / 0.03)
			want[i] = clampInt(int64(MultiplyByQuantizedMultiplier(int32(s), mm, sh))+100, 0, 255)
		}
		got = eval1(t, "matmul", []*ir.Tensor{a, b}, []*ir.Quant{qa, qb}, ir.Attrs{"rq": ir.Str("tflite")}, ir.Type{DType: ir.U8, Quant: qy})
		equalInts(t, fmt.Sprint("QLinearMatMul tflite ", dts), got, want)

		// Batched: a [2,m,k] against a shared b.
		a3 := randInt(rng, dts[0], 2, m, k)
		got = eval1(t, "matmul", []*ir.Tensor{a3, b}, []*ir.Quant{qa, qb}, nil, ir.Type{DType: ir.I32})
		for bi := 0; bi < 2; bi++ {
			ab := intTensor(dts[0], shp(m, k))
			for i := 0; i < m*k; i++ {
				ab.SetInt(i, a3.IntAt(bi*m*k+i))
			}
			want := naiveIntMatmul(ab, b, 3, func(j int) int64 { return int64(j) }, m, k, n)
			for i, w := range want {
				if g := got.IntAt(bi*m*n + i); g != w {
					t.Fatalf("batched MatMulInteger [%d][%d] = %d, want %d", bi, i, g, w)
				}
			}
		}
	}
}

// Integer gemm: b transposed and quantized per output row (axis 0), i32 bias.
func TestIntegerGemm(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	m, k, n := 4, 9, 3
	a := randInt(rng, ir.I8, m, k)
	bt := randInt(rng, ir.I8, n, k)
	qa := ir.PerTensor(0.1, -2)
	qb := &ir.Quant{Axis: 0, Scale: []float32{0.01, 0.02, 0.03}, ZeroPoint: []int64{0, 1, -1}}
	bias := intTensor(ir.I32, shp(n), 100, -200, 300)
	b := ir.NewTensor(ir.I8, []int{k, n})
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			b.I8[p*n+j] = bt.I8[j*k+p]
		}
	}
	acc := naiveIntMatmul(a, b, -2, func(j int) int64 { return qb.ZeroPoint[j] }, m, k, n)
	for i := range acc {
		acc[i] += int64(bias.I32[i%n])
	}
	bld := newGB(t)
	av := bld.param("a", ir.Type{DType: ir.I8, Shape: a.Shape, Quant: qa})
	v := bld.op("gemm", []*ir.Value{av, bld.cnst("b", bt, qb), bld.cnst("c", bias, nil)}, ir.Attrs{"trans_b": ir.Int(1)}, ir.Type{DType: ir.I32})
	equalInts(t, "gemm i32", bld.run([]*ir.Value{v}, a)[0], acc)
}

func TestFloatGemm(t *testing.T) {
	a := f32t(shp(3, 2), 1, 2, 3, 4, 5, 6) // transposed: [2,3]
	b := f32t(shp(3, 2), 1, 0, 0, 1, 1, 1)
	c := f32t(shp(2), 10, 20)
	got := eval1(t, "gemm", []*ir.Tensor{a, b, c}, nil, ir.Attrs{"trans_a": ir.Int(1), "alpha": ir.Float(2), "beta": ir.Float(0.5)}, ir.Type{})
	// aᵀ·b = [[1+5, 3+5], [2+6, 4+6]] = [[6, 8], [8, 10]]
	closeF32(t, "gemm", got.F32, []float32{17, 26, 21, 30}, 1e-6, 0)
	// matmul with 1-D operands and batch broadcasting.
	v := f32t(shp(2), 1, 2)
	m3 := f32t(shp(2, 2, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	got = eval1(t, "matmul", []*ir.Tensor{v, m3}, nil, nil, ir.Type{})
	closeF32(t, "matmul 1-D × 3-D", got.F32, []float32{9, 12, 15, 27, 30, 33}, 1e-6, 0)
	got = eval1(t, "matmul", []*ir.Tensor{f32t(shp(2, 1, 2), 1, 0, 0, 1), f32t(shp(1, 2, 2), 1, 2, 3, 4)}, nil, nil, ir.Type{})
	closeF32(t, "matmul broadcast", got.F32, []float32{1, 2, 3, 4}, 0, 0)
}
