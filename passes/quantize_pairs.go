package passes

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/pare-ml/pare/ir"
)

// pair-bound weight quantization.
//
// AVX2's vpmaddubsw multiplies 32 u8 activations by 32 s8 weights and adds
// adjacent products into i16 lanes with saturation. For one output channel
// the reduction index k runs over the weight row in row-major order of every
// dimension except the channel axis (conv OIHW: k = (c*KH + kh)*KW + kw;
// gemm trans_b [N,K]: the row; gemm / matmul [K,N]: the column); the pairs
// are (k, k+1) for even k, and a last odd element pairs with an implicit 0.
// For every u8 activation in [0,255] a pair cannot saturate iff
//
//	max(q0,0) + max(q1,0) <= 128  and  min(q0,0) + min(q1,0) >= -128
//
// quantWeightPairs quantizes like quantWeight but guarantees this bound:
// channels (or the tensor, per tensor) that plain 8-bit rounding already
// keeps within it are left exactly as quantWeight has them; the others take,
// among candidate scales from amax/127 up to the 7-bit scale amax/63 (see
// bestPairScale), the one with the least squared weight error after every
// violating pair is projected onto the bound (the least-squares integer pair
// with q0+q1 = ±128). The 7-bit scale never needs a projection, so the
// result is never worse than plain 7-bit quantization.

// pairBound is the largest magnitude the sum of a same-sign pair may have.
const pairBound = 128

// pairRows describes where the reduction rows of a weight tensor lie.
type pairRows struct {
	dim, stride, k int // channels, the channel axis' stride, row length
}

func newPairRows(shape []int, axis int) pairRows {
	n := 1
	for _, d := range shape {
		n *= d
	}
	st := ir.Strides(shape)[axis]
	return pairRows{dim: shape[axis], stride: st, k: n / shape[axis]}
}

// at is the flat index of element k of channel c's row.
func (r pairRows) at(c, k int) int {
	return (k/r.stride)*r.dim*r.stride + c*r.stride + k%r.stride
}

// pairOK reports whether the quantized pair (q0, q1) cannot saturate.
func pairOK(q0, q1 int) bool {
	return max(q0, 0)+max(q1, 0) <= pairBound && min(q0, 0)+min(q1, 0) >= -pairBound
}

// checkPairs returns an error naming the first pair of t that breaks the bound.
func checkPairs(t *ir.Tensor, r pairRows) error {
	for c := 0; c < r.dim; c++ {
		for k := 0; k+1 < r.k; k += 2 {
			q0, q1 := int(t.I8[r.at(c, k)]), int(t.I8[r.at(c, k+1)])
			if !pairOK(q0, q1) {
				return fmt.Errorf("channel %d: weights %d,%d = %d,%d exceed ±%d", c, k, k+1, q0, q1, pairBound)
			}
		}
	}
	return nil
}

// fixPair returns the integer pair nearest (u0, u1) in least squares whose
// same-sign sum is exactly ±pairBound, when (q0, q1), the rounded pair,
// breaks the bound; else (q0, q1).
func fixPair(u0, u1 float64, q0, q1 int) (int, int) {
	sign := 1
	switch {
	case q0 > 0 && q1 > 0 && q0+q1 > pairBound:
	case q0 < 0 && q1 < 0 && q0+q1 < -pairBound:
		sign, u0, u1 = -1, -u0, -u1
	default:
		return q0, q1
	}
	// Projection onto q0 + q1 = pairBound, then the better of the two
	// integer points around it (the optimum lies on the line: the rounded
	// pair is above it). Both stay in [1, 127].
	p := u0 - (u0+u1-pairBound)/2
	best0, bestE := 0, math.Inf(1)
	for _, a := range []int{int(math.Floor(p)), int(math.Floor(p)) + 1} {
		a = max(pairBound-127, min(127, a))
		e := (u0-float64(a))*(u0-float64(a)) + (u1-float64(pairBound-a))*(u1-float64(pairBound-a))
		if e < bestE {
			best0, bestE = a, e
		}
	}
	return sign * best0, sign * (pairBound - best0)
}

// quantWeightPairs is quantWeight with the pair bound (see above); it fails
// only if the result would break the bound, which is a bug.
func quantWeightPairs(w *ir.Tensor, axis int, perTensor bool) (*ir.Tensor, *ir.Quant, []float32, error) {
	t, q, deq := quantWeight(w, axis, perTensor)
	if len(w.Shape) == 0 {
		return t, q, deq, nil
	}
	r := newPairRows(w.Shape, axis)
	var groups [][]int // the channels that share one scale
	if perTensor {
		all := make([]int, r.dim)
		for c := range all {
			all[c] = c
		}
		groups = [][]int{all}
	} else {
		for c := 0; c < r.dim; c++ {
			groups = append(groups, []int{c})
		}
	}
	// Groups are independent: search those that break the bound in parallel.
	var todo []int
	for gi, chans := range groups {
		if !groupOK(t, r, chans) {
			todo = append(todo, gi)
		}
	}
	scales := make([]float32, len(todo))
	qs := make([][]int8, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(len(todo), runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				chans := groups[todo[j]]
				xs := make([]float32, 0, len(chans)*r.k)
				for _, c := range chans {
					for k := 0; k < r.k; k++ {
						xs = append(xs, w.F32[r.at(c, k)])
					}
				}
				scales[j], qs[j] = bestPairScale(xs, r.k)
			}
		}()
	}
	for j := range todo {
		next <- j
	}
	close(next)
	wg.Wait()
	for j, gi := range todo {
		s := scales[j]
		q.Scale[gi] = s
		i := 0
		for _, c := range groups[gi] {
			for k := 0; k < r.k; k++ {
				at := r.at(c, k)
				t.I8[at] = qs[j][i]
				deq[at] = float32(qs[j][i]) * s
				i++
			}
		}
	}
	if err := checkPairs(t, r); err != nil {
		return nil, nil, nil, err
	}
	return t, q, deq, nil
}

// groupOK reports whether the channels' quantized rows keep the bound.
func groupOK(t *ir.Tensor, r pairRows, chans []int) bool {
	for _, c := range chans {
		for k := 0; k+1 < r.k; k += 2 {
			if !pairOK(int(t.I8[r.at(c, k)]), int(t.I8[r.at(c, k+1)])) {
				return false
			}
		}
	}
	return true
}

// bestPairScale searches the scale of a group of channels that breaks the
// bound under plain rounding: a geometric grid from amax/127 to the largest
// same-sign pair magnitude / 128, amax/N for N = 126 … 63 (down to the 7-bit
// scale), then a finer grid between the best candidate's neighbours; each
// candidate rounds, projects the pairs that break the bound, and is scored by
// its squared error. It returns the scale and the quantized rows (channel by
// channel, in row order).
func bestPairScale(xs []float32, k int) (float32, []int8) {
	amax, pmax := 0.0, 0.0
	for i := 0; i < len(xs); i += 2 {
		x0, x1 := float64(xs[i]), 0.0
		if i%k+1 < k {
			x1 = float64(xs[i+1])
		} else {
			i-- // odd row: the next row starts at i+1
		}
		amax = math.Max(amax, math.Max(math.Abs(x0), math.Abs(x1)))
		pmax = math.Max(pmax, math.Max(math.Max(x0, 0)+math.Max(x1, 0), -(math.Min(x0, 0)+math.Min(x1, 0))))
	}
	// amax > 0: a zero group keeps the bound under plain rounding.
	hi, lo := amax/127, math.Max(pmax/pairBound, amax/127)
	// Candidates, ascending: a geometric grid over [hi, lo], where plain
	// rounding goes from breaking the bound everywhere to nowhere, and
	// amax/N for N = 126, 122, … and 63 (the largest weight on the grid), up to the
	// 7-bit scale, which never needs a projection.
	var grid []float64
	if lo > hi {
		const n = 16
		for i := 0; i < n; i++ {
			grid = append(grid, hi*math.Pow(lo/hi, float64(i)/(n-1)))
		}
	} else {
		grid = append(grid, hi)
	}
	for d := 126; d > 63; d -= 4 { // every 4th: the refinement below searches between (light_resnet50: 31 s → 17 s)
		grid = append(grid, amax/float64(d))
	}
	grid = append(grid, amax/63)
	sort.Float64s(grid)

	buf := make([]int8, len(xs))
	best := make([]int8, len(xs)) // all zero at scale 1 if no scale is usable (subnormal weights)
	bestS, bestE, bestI := float32(1), math.Inf(1), -1
	try := func(s64 float64) bool {
		s := float32(s64)
		if s == 0 || math.IsInf(float64(s), 0) {
			return false
		}
		e := pairError(xs, k, s, buf, bestE)
		if e < bestE {
			bestS, bestE = s, e
			copy(best, buf)
			return true
		}
		return false
	}
	for i, s := range grid {
		if try(s) {
			bestI = i
		}
	}
	// Refine between the best candidate's neighbours.
	if bestI >= 0 {
		for _, nb := range []int{bestI - 1, bestI + 1} {
			if nb < 0 || nb >= len(grid) || grid[nb] == grid[bestI] {
				continue
			}
			const m = 6
			for i := 1; i < m; i++ {
				try(grid[bestI] * math.Pow(grid[nb]/grid[bestI], float64(i)/m))
			}
		}
	}
	return bestS, best
}

// pairError quantizes xs (rows of k weights) at scale s into buf (rounding
// to even, clamping to ±127, projecting pairs that break the bound) and
// returns the squared error of the dequantized values, or +Inf as soon as
// it exceeds limit.
func pairError(xs []float32, k int, s float32, buf []int8, limit float64) float64 {
	e := 0.0
	round := func(x float32) (float64, int) {
		u := float64(x / s)
		return u, int(math.Max(-127, math.Min(127, math.RoundToEven(u))))
	}
	for row := 0; row < len(xs); row += k {
		for i := row; i < row+k; i += 2 {
			x0 := xs[i]
			u0, q0 := round(x0)
			if i+1 == row+k {
				buf[i] = int8(q0)
				d := float64(x0) - float64(float32(q0)*s)
				e += d * d
				continue
			}
			x1 := xs[i+1]
			u1, q1 := round(x1)
			q0, q1 = fixPair(u0, u1, q0, q1)
			buf[i], buf[i+1] = int8(q0), int8(q1)
			d0 := float64(x0) - float64(float32(q0)*s)
			d1 := float64(x1) - float64(float32(q1)*s)
			if e += d0*d0 + d1*d1; e > limit {
				return math.Inf(1)
			}
		}
	}
	if e > limit {
		return math.Inf(1)
	}
	return e
}
