package llvm

import (
	"strings"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// The i16 pair micro-kernel and its AVX2 helpers, shared by the integer
// panel conv (intpanel.go), the matrix-vector kernel and Winograd.

// hasAVX2 reports whether the target has AVX2 (by -mattr or a CPU name
// known to have it).
func (t Target) hasAVX2() bool {
	if t.Arch() != "x86_64" {
		return false
	}
	if strings.Contains(t.Features, "-avx2") {
		return false
	}
	if strings.Contains(t.Features, "+avx2") {
		return true
	}
	for _, p := range []string{"haswell", "broadwell", "skylake", "cascadelake", "cooperlake", "cannonlake", "icelake",
		"tigerlake", "rocketlake", "alderlake", "raptorlake", "meteorlake", "sapphirerapids", "emeraldrapids", "graniterapids",
		"znver", "x86-64-v3", "x86-64-v4", "bdver4"} {
		if strings.HasPrefix(t.CPU, p) {
			return true
		}
	}
	return false
}

// pmaddwd is the i32 sum of the products of the even and of the odd i16
// lanes of a and b (<16 x i16> each): llvm.x86.avx2.pmadd.wd where the
// target has AVX2 (shuffles around plain IR can hide the pattern from
// instruction selection), plain IR elsewhere.
func (k *kfn) pmaddwd(a, b value.Value) value.Value {
	if k.e.t.hasAVX2() {
		return k.b.NewCall(k.e.intrinsic("llvm.x86.avx2.pmadd.wd", v8i32, v16i6, v16i6), a, b)
	}
	even := shuffleMask(0, 2, 4, 6, 8, 10, 12, 14)
	odd := shuffleMask(1, 3, 5, 7, 9, 11, 13, 15)
	u := constant.NewUndef(v16i6)
	half := func(x value.Value, m value.Value) value.Value {
		return k.b.NewSExt(k.b.NewShuffleVector(x, u, m), v8i32)
	}
	return k.b.NewAdd(k.b.NewMul(half(a, even), half(b, even)), k.b.NewMul(half(a, odd), half(b, odd)))
}

// bcastPair32 broadcasts an i32 (a pair of i16 weights) to the 8 pairs of
// a <16 x i16>.
func (k *kfn) bcastPair32(v value.Value) value.Value {
	a := k.b.NewInsertElement(constant.NewUndef(v8i32), v, constant.NewInt(types.I32, 0))
	return k.b.NewBitCast(k.b.NewShuffleVector(a, constant.NewUndef(v8i32), constant.NewZeroInitializer(v8i32)), v16i6)
}

// loadV16Pair loads B's two halves (<16 x i16>: columns 0-7 and 8-15,
// pairs interleaved) at bp.
func (k *kfn) loadV16Pair(bp value.Value) []value.Value {
	return []value.Value{k.loadV16(bp), k.loadV16(k.at(bp, ci(16)))}
}

// pairTile is the multiply-add micro-kernel: over kq pairs of k, for every
// row r < rows and half h of the columns (loadB's halves: 2 of 16 columns,
// or 1 of the first 8), acc[halves·r+h] += the products of row r's
// broadcast pair (bcast of a[r]) with B's half h (loadB at b), a advancing
// rows pairs and b bStep elements per pair. With nacc accumulators and
// inits nil, the first pair's products start them (no zeros to add to).
// It returns the accumulators (then a and b past the end).
func (k *kfn) pairTile(kq, rows, nacc int, inits []value.Value, a0, b0 value.Value, bStep int,
	bcast func(value.Value) value.Value, loadB func(b value.Value) []value.Value) []value.Value {
	step := func(st []value.Value) []value.Value {
		acc := append([]value.Value(nil), st[:nacc]...)
		ap, bp := st[nacc], st[nacc+1]
		bv := loadB(bp)
		for r := 0; r < rows; r++ {
			as := bcast(k.load(ap, ci(r)))
			for h := range bv {
				i := len(bv)*r + h
				if p := k.pmaddwd(as, bv[h]); acc[i] == nil {
					acc[i] = p
				} else {
					acc[i] = k.b.NewAdd(acc[i], p)
				}
			}
		}
		return append(acc, k.at(ap, ci(rows)), k.at(bp, ci(bStep)))
	}
	st0 := append(append(make([]value.Value, 0, nacc+2), inits...), a0, b0)
	if inits == nil {
		st0 = step(append(make([]value.Value, nacc), a0, b0))
		if kq--; kq == 0 {
			return st0
		}
	}
	return k.loopAccTile(kq, st0, func(_ value.Value, st []value.Value) []value.Value { return step(st) })
}
