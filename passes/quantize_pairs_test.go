package passes

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// channelRow lists the flat indices of output channel c along axis in
// reduction order (row-major over every other dimension).
func channelRow(shape []int, axis, c int) []int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	st := ir.Strides(shape)[axis]
	var row []int
	for i := 0; i < n; i++ {
		if (i/st)%shape[axis] == c {
			row = append(row, i)
		}
	}
	return row
}

// pairViolation returns a description of the first pair of t (channels
// along axis) whose same-sign sum exceeds ±128, or "".
func pairViolation(t *ir.Tensor, axis int) string {
	for c := 0; c < t.Shape[axis]; c++ {
		row := channelRow(t.Shape, axis, c)
		for k := 0; k+1 < len(row); k += 2 {
			a, b := int(t.I8[row[k]]), int(t.I8[row[k+1]])
			if max(a, 0)+max(b, 0) > 128 || min(a, 0)+min(b, 0) < -128 {
				return fmt.Sprintf("channel %d pair %d: %d,%d", c, k, a, b)
			}
		}
	}
	return ""
}

// sqErr is Σ (x - deq)² over idx.
func sqErr(w []float32, deq []float32, idx []int) float64 {
	e := 0.0
	for _, i := range idx {
		d := float64(w[i]) - float64(deq[i])
		e += d * d
	}
	return e
}

// sevenBitErr is the squared error of plain symmetric 7-bit quantization
// (scale amax/63, which always keeps the bound) of the elements idx.
func sevenBitErr(w []float32, idx []int) float64 {
	amax := 0.0
	for _, i := range idx {
		amax = math.Max(amax, math.Abs(float64(w[i])))
	}
	s := float32(amax / 63)
	if s == 0 {
		return 0
	}
	e := 0.0
	for _, i := range idx {
		q := math.Max(-127, math.Min(127, math.RoundToEven(float64(w[i]/s))))
		d := float64(w[i]) - float64(float32(q)*s)
		e += d * d
	}
	return e
}

type pairCase struct {
	name      string
	shape     []int
	axis      int
	perTensor bool
	exact     bool // every channel (the tensor, per tensor) is one constant
	gen       func(r *rand.Rand, shape []int, axis int) []float32
}

func genFill(f func(r *rand.Rand) float64) func(*rand.Rand, []int, int) []float32 {
	return func(r *rand.Rand, shape []int, _ int) []float32 {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(f(r))
		}
		return x
	}
}

var (
	gaussian = genFill(func(r *rand.Rand) float64 { return 0.05 * r.NormFloat64() })
	laplace  = genFill(func(r *rand.Rand) float64 {
		e := -math.Log(1 - r.Float64())
		if r.Intn(2) == 0 {
			e = -e
		}
		return 0.03 * e
	})
	// studentT3 is heavier tailed still (t distribution, 3 degrees of freedom).
	studentT3 = genFill(func(r *rand.Rand) float64 {
		chi2 := 0.0
		for i := 0; i < 3; i++ {
			z := r.NormFloat64()
			chi2 += z * z
		}
		return 0.02 * r.NormFloat64() / math.Sqrt(chi2/3)
	})
	positive = genFill(func(r *rand.Rand) float64 { return math.Abs(0.1 * r.NormFloat64()) })
)

// perChannel fills channel c of the tensor with f(c, k, row length).
func perChannel(f func(r *rand.Rand, c, k, n int) float64) func(*rand.Rand, []int, int) []float32 {
	return func(r *rand.Rand, shape []int, axis int) []float32 {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for c := 0; c < shape[axis]; c++ {
			row := channelRow(shape, axis, c)
			for k, i := range row {
				x[i] = float32(f(r, c, k, len(row)))
			}
		}
		return x
	}
}

var (
	// constant: channel c all one value (varying magnitude per channel, positive).
	constant = perChannel(func(_ *rand.Rand, c, _, _ int) float64 { return 0.013 * float64(c+1) })
	// mixedConstant: each channel one constant, of alternating sign.
	mixedConstant = perChannel(func(_ *rand.Rand, c, _, _ int) float64 { return 0.21 * float64(c+1) * float64(1-2*(c%2)) })
	// outlier: small Gaussian rows with one huge weight each, next to a large same-sign neighbour half of the time.
	outlier = func(r *rand.Rand, shape []int, axis int) []float32 {
		x := gaussian(r, shape, axis)
		for c := 0; c < shape[axis]; c++ {
			row := channelRow(shape, axis, c)
			j := r.Intn(len(row))
			sg := float32(1 - 2*r.Intn(2))
			x[row[j]] = sg * float32(2+3*r.Float64())
			if nb := j ^ 1; r.Intn(2) == 0 && nb < len(row) {
				x[row[nb]] = sg * float32(0.1+0.2*r.Float64())
			}
		}
		return x
	}
	// big127and2: every pair is (127, 2) in plain 8-bit units, of one sign per pair.
	big127and2 = perChannel(func(r *rand.Rand, c, k, _ int) float64 {
		s := 0.01 * float64(c+1)
		if k%4 >= 2 {
			s = -s
		}
		if k%2 == 0 {
			return 127 * s / 127
		}
		return 2 * s / 127
	})
)

// TestQuantWeightPairsProperties: over random weight tensors of every kind
// pair-bound quantization keeps every pair within ±128, is exact on constant
// channels, leaves channels plain 8-bit already keeps within the bound
// exactly as plain 8-bit has them, and is never worse than plain 7-bit on
// the channels it changes.
func TestQuantWeightPairsProperties(t *testing.T) {
	cases := []pairCase{
		{name: "conv gaussian", shape: []int{16, 8, 3, 3}, gen: gaussian},
		{name: "conv laplace", shape: []int{8, 3, 5, 5}, gen: laplace},
		{name: "conv student-t", shape: []int{8, 4, 3, 3}, gen: studentT3},
		{name: "conv positive", shape: []int{8, 4, 3, 3}, gen: positive},
		{name: "conv constant", shape: []int{6, 2, 3, 3}, gen: constant, exact: true},
		{name: "conv mixed-sign constant", shape: []int{6, 3, 3, 3}, gen: mixedConstant, exact: true},
		{name: "conv outlier", shape: []int{12, 4, 3, 3}, gen: outlier},
		{name: "conv 127 and 2", shape: []int{4, 2, 2, 2}, gen: big127and2},
		{name: "conv odd K", shape: []int{6, 1, 3, 3}, gen: laplace},
		{name: "conv odd K constant", shape: []int{5, 1, 3, 3}, gen: constant, exact: true},
		{name: "conv K=1", shape: []int{8, 1, 1, 1}, gen: gaussian},
		{name: "conv grouped 1x1", shape: []int{32, 2, 1, 1}, gen: studentT3},
		{name: "per-tensor gaussian", shape: []int{16, 8, 3, 3}, perTensor: true, gen: gaussian},
		{name: "per-tensor outlier", shape: []int{8, 4, 3, 3}, perTensor: true, gen: outlier},
		{name: "per-tensor constant", shape: []int{4, 3, 3, 3}, perTensor: true, gen: perChannel(func(*rand.Rand, int, int, int) float64 { return -0.37 }), exact: true},
		{name: "gemm trans_b [N,K]", shape: []int{10, 33}, gen: laplace},
		{name: "gemm [K,N]", shape: []int{33, 10}, axis: 1, gen: laplace},
		{name: "gemm [K,N] gaussian", shape: []int{64, 16}, axis: 1, gen: gaussian},
		{name: "gemm [K,N] outlier", shape: []int{20, 7}, axis: 1, gen: outlier},
		{name: "gemm [K,N] constant", shape: []int{9, 5}, axis: 1, gen: constant, exact: true},
		{name: "gemm [K,N] per-tensor", shape: []int{31, 6}, axis: 1, perTensor: true, gen: studentT3},
	}
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for _, tc := range cases {
		changed, kept := 0, 0
		gain := 0.0 // Σ pair-bound error / Σ 7-bit error over changed groups
		var eb, e7 float64
		for seed := 0; seed < seeds; seed++ {
			r := rand.New(rand.NewSource(int64(seed*7919 + len(tc.name))))
			w := &ir.Tensor{DType: ir.F32, Shape: tc.shape, F32: tc.gen(r, tc.shape, tc.axis)}
			pt, pq, pdeq := quantWeight(w, tc.axis, tc.perTensor)
			qt, q, deq, err := quantWeightPairs(w, tc.axis, tc.perTensor)
			if err != nil {
				t.Fatalf("%s seed %d: %v", tc.name, seed, err)
			}
			if v := pairViolation(qt, tc.axis); v != "" {
				t.Fatalf("%s seed %d: %s breaks the bound", tc.name, seed, v)
			}
			var groups [][]int // flat indices of each scale's elements
			for c := 0; c < tc.shape[tc.axis]; c++ {
				row := channelRow(tc.shape, tc.axis, c)
				if tc.perTensor && c > 0 {
					groups[0] = append(groups[0], row...)
				} else {
					groups = append(groups, row)
				}
			}
			for g, idx := range groups {
				s := q.Scale[g]
				for _, i := range idx {
					if deq[i] != float32(qt.I8[i])*s {
						t.Fatalf("%s seed %d: deq[%d] = %v, want %d × %v", tc.name, seed, i, deq[i], qt.I8[i], s)
					}
					if tc.exact && deq[i] != w.F32[i] {
						t.Fatalf("%s seed %d: constant weight %v dequantizes to %v (q %d, scale %v)", tc.name, seed, w.F32[i], deq[i], qt.I8[i], s)
					}
				}
				plainOK := true
				for c := 0; c < tc.shape[tc.axis] && plainOK; c++ {
					if tc.perTensor || c == g {
						row := channelRow(tc.shape, tc.axis, c)
						for k := 0; k+1 < len(row); k += 2 {
							a, b := int(pt.I8[row[k]]), int(pt.I8[row[k+1]])
							plainOK = plainOK && max(a, 0)+max(b, 0) <= 128 && min(a, 0)+min(b, 0) >= -128
						}
					}
				}
				e, e8, e7g := sqErr(w.F32, deq, idx), sqErr(w.F32, pdeq, idx), sevenBitErr(w.F32, idx)
				if plainOK {
					kept++
					if s != pq.Scale[g] || e != e8 {
						t.Fatalf("%s seed %d group %d: plain 8-bit keeps the bound, yet scale %v → %v, error %g → %g", tc.name, seed, g, pq.Scale[g], s, e8, e)
					}
					for _, i := range idx {
						if qt.I8[i] != pt.I8[i] {
							t.Fatalf("%s seed %d group %d: plain 8-bit keeps the bound, yet q[%d] %d → %d", tc.name, seed, g, i, pt.I8[i], qt.I8[i])
						}
					}
					continue
				}
				changed++
				if e > e7g {
					t.Fatalf("%s seed %d group %d: squared error %g is worse than 7-bit's %g", tc.name, seed, g, e, e7g)
				}
				eb, e7 = eb+e, e7+e7g
			}
		}
		if e7 > 0 {
			gain = eb / e7
		}
		t.Logf("%-26s %3d groups changed, %3d kept; changed groups' squared error %.3f × 7-bit's", tc.name, changed, kept, gain)
	}
}

// TestFixPair: a pair that breaks the bound moves onto it by least squares.
func TestFixPair(t *testing.T) {
	for _, c := range []struct {
		u0, u1 float64
		q0, q1 int
		w0, w1 int
	}{
		{127, 2, 127, 2, 126, 2},           // tie: (126,2) and (127,1) are equally far; the lower first wins
		{127, 127, 127, 127, 64, 64},       // constant row: halves
		{-127, -127, -127, -127, -64, -64}, // negative
		{100.2, 40.1, 100, 40, 94, 34},     // excess 12.3: both move by ~6.15
		{127, -127, 127, -127, 127, -127},  // mixed signs never saturate
		{64.4, 64.4, 64, 64, 64, 64},       // within the bound
		{126.9, 10.4, 127, 10, 122, 6},
	} {
		a, b := fixPair(c.u0, c.u1, c.q0, c.q1)
		if a != c.w0 || b != c.w1 {
			t.Errorf("fixPair(%v, %v, %d, %d) = %d, %d, want %d, %d", c.u0, c.u1, c.q0, c.q1, a, b, c.w0, c.w1)
		}
		if !pairOK(a, b) {
			t.Errorf("fixPair(%v, %v): %d, %d breaks the bound", c.u0, c.u1, a, b)
		}
	}
}

// TestQuantizePairBoundMNIST: mnist-7 quantized with pair-bound loses at
// most 0.5 top-1 points against plain int8 on MNIST test images, and every
// int8 weight pair of the quantized graph keeps the bound.
func TestQuantizePairBoundMNIST(t *testing.T) {
	n := 2000
	g, calib := mnistForTest(t, 1000)
	test := mnistSplitForTest(t, "test", n)
	fa, err := Evaluate(g, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	acc := map[bool]float64{}
	for _, pb := range []bool{false, true} {
		qg := g.Clone()
		if _, err := RunSpec(qg, fmt.Sprintf("canonicalize,quantize{pair-bound=%v}", pb), &Context{Data: calib}); err != nil {
			t.Fatal(err)
		}
		layers := 0
		for _, v := range qg.Values {
			if v.Op == nil || (v.Op.Name != "conv" && v.Op.Name != "gemm" && v.Op.Name != "matmul") || v.Args[1].Type.DType != ir.I8 {
				continue
			}
			layers++
			w, q := v.Args[1].Const, v.Args[1].Type.Quant
			axis := q.Axis // the output channel axis: pairs run along the other one
			if axis < 0 {
				t.Fatalf("%s: per-tensor weights in per-channel mode", v.Where())
			}
			if viol := pairViolation(w, axis); viol != "" && pb {
				t.Errorf("pair-bound: %s: %s breaks the bound", v.Where(), viol)
			} else if viol != "" {
				t.Logf("plain int8: %s: %s breaks the bound", v.Where(), viol)
			}
		}
		if layers != 3 {
			t.Errorf("pair-bound=%v: %d int8 layers, want 3", pb, layers)
		}
		a, err := Evaluate(qg, test, nil)
		if err != nil {
			t.Fatal(err)
		}
		acc[pb] = a.Top1Pct()
	}
	t.Logf("mnist-7 top-1 on %d test images: f32 %.2f %%, int8 %.2f %%, int8 pair-bound %.2f %%", len(test.Inputs), fa.Top1Pct(), acc[false], acc[true])
	if acc[true] < acc[false]-0.5 {
		t.Errorf("pair-bound top-1 %.2f %% is more than 0.5 points below plain int8's %.2f %%", acc[true], acc[false])
	}
}
