package llvm

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// pairBoundDraw draws i8 weights whose pairs (2j, 2j+1) of a row stay
// within vpmaddubsw's bound (pairSafe), most of them on it: with all
// activation bytes at 255 those pairs sum to ±32640, the i16 lane's edge.
func pairBoundDraw(r *rand.Rand, row []int64) int64 {
	if len(row)%2 == 0 {
		return []int64{127, -128, 64, -64, 0, 1, -1, 100, -100, r.Int63n(256) - 128}[r.Intn(10)]
	}
	a := row[len(row)-1]
	switch {
	case a > 0: // b ≤ 128 − a; any negative b
		hi := 128 - a
		return []int64{hi, -128, r.Int63n(hi+129) - 128}[r.Intn(3)]
	case a < 0: // b ≥ −128 − a; any positive b
		lo := -128 - a
		return []int64{lo, 127, lo + r.Int63n(128-lo)}[r.Intn(3)]
	}
	return r.Int63n(256) - 128
}

// maddubsCases: the dot kernel's geometries (dotCases) with pair-bound
// weights, and one conv whose weights break the bound (127 beside 2),
// which must stay on the i16 pair kernel.
func maddubsCases() []codegentest.IntCase {
	pad1 := pir.Ints(1, 1, 1, 1)
	tfl := pir.Str("tflite")
	c := func(name string, dt pir.DType, zx int64, x, w []int, attrs pir.Attrs) codegentest.IntCase {
		return drawnConv(name, dt, zx, x, w, attrs, pairBoundDraw)
	}
	return []codegentest.IntCase{
		c("mb_u8_zx0", pir.U8, 0, []int{1, 3, 9, 11}, []int{7, 3, 3, 3}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}),
		c("mb_u8_zx255_tflite", pir.U8, 255, []int{1, 5, 6, 7}, []int{6, 5, 3, 3}, pir.Attrs{"pads": pad1, "rq": tfl, "dilations": pir.Ints(2, 1)}),
		c("mb_i8_zxmin_group", pir.I8, -128, []int{1, 4, 7, 8}, []int{6, 2, 3, 3}, pir.Attrs{"pads": pad1, "group": pir.Int(2)}),
		c("mb_i8_zxmax_stride", pir.I8, 127, []int{2, 3, 9, 10}, []int{5, 3, 3, 2}, pir.Attrs{"pads": pir.Ints(1, 0, 1, 1), "strides": pir.Ints(2, 1), "dilations": pir.Ints(1, 2), "rq": tfl}),
		c("mb_pw_u8_zx0", pir.U8, 0, []int{1, 16, 5, 7}, []int{9, 16, 1, 1}, nil),
		c("mb_pw_u8_zx255_k10", pir.U8, 255, []int{1, 10, 6, 6}, []int{5, 10, 1, 1}, pir.Attrs{"rq": tfl}),
		c("mb_pw_i8_zxmin_k18", pir.I8, -128, []int{2, 18, 4, 5}, []int{13, 18, 1, 1}, nil),
		c("mb_pw_i8_zxmax_k6", pir.I8, 127, []int{1, 6, 3, 3}, []int{4, 6, 1, 1}, nil),
		c("mb_pw_i8_k64_stride", pir.I8, -128, []int{1, 64, 9, 9}, []int{21, 64, 1, 1}, pir.Attrs{"strides": pir.Ints(2, 2)}),
		// The im2col's sources (intdotim2col.go): the input itself (no
		// padding read, the vectors' overrun within it; batch 2, groups),
		// bands of rows (the last overlapping), K < 4.
		c("mb_direct_i8_s2_group", pir.I8, -128, []int{2, 4, 6, 40}, []int{6, 2, 1, 1}, pir.Attrs{"strides": pir.Ints(2, 2), "group": pir.Int(2)}),
		c("mb_direct_u8_s21", pir.U8, 255, []int{1, 3, 8, 40}, []int{5, 3, 3, 3}, pir.Attrs{"strides": pir.Ints(2, 1)}),
		c("mb_bands_i8_s2", pir.I8, 5, []int{2, 64, 57, 57}, []int{8, 64, 3, 3}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}),
		c("mb_k3_u8", pir.U8, 3, []int{1, 3, 7, 9}, []int{4, 3, 1, 1}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}),
		// i32 results (no requantization): every bit of the accumulators.
		c("mb_u8_zx255_i32", pir.U8, 255, []int{1, 5, 6, 7}, []int{6, 5, 3, 3}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}),
		c("mb_i8_zxmin_i32", pir.I8, -128, []int{1, 7, 5, 6}, []int{5, 7, 3, 3}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}),
		c("mb_pw_u8_zx255_i32", pir.U8, 255, []int{1, 14, 5, 7}, []int{6, 14, 1, 1}, nil),
		c("mb_pw_i8_zxmin_i32", pir.I8, -128, []int{1, 22, 4, 5}, []int{5, 22, 1, 1}, nil),
		drawnConv("mb_unsafe_i32", pir.I8, -128, []int{1, 8, 5, 5}, []int{4, 8, 1, 1}, nil, func(r *rand.Rand, row []int64) int64 {
			return []int64{127, 2}[len(row)%2]
		}),
	}
}

// TestIntMaddubs: on an AVX2 host without VNNI, convs with pair-bound
// weights run on vpmaddubsw (the IR calls it; -NoMaddubs takes it away)
// and equal rt bit for bit on extreme and random inputs; weights that
// break the bound stay on the pair kernel.
func TestIntMaddubs(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil || !host.hasAVX2() || host.dot() != dotNone {
		t.Skip("needs an x86-64 host with AVX2 and without VNNI")
	}
	g, vals, p := casesProgram(t, maddubsCases())
	for _, s := range p.Steps {
		if s.Conv == nil {
			continue
		}
		want := dotMaddubs
		if strings.Contains(s.Name, "mb_unsafe") {
			want = dotNone
		}
		if got := host.dotFor(p, s); got != want {
			t.Errorf("%s: dotFor = %d, want %d", s.Name, got, want)
		}
	}
	for _, off := range []bool{false, true} {
		tgt := host
		tgt.NoMaddubs = off
		m, _, err := Emit(p, tgt, filepath.Join(t.TempDir(), "w.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(m.String(), "llvm.x86.avx2.pmadd.ub.sw"); has == off {
			t.Errorf("NoMaddubs %v: the IR calls vpmaddubsw: %v", off, has)
		}
	}
	// Every activation byte at 255 as the kernel reads it (the dtype's
	// largest value): the pairs on the bound sum to ±32640, one more
	// weight step would saturate.
	var top []*pir.Tensor
	for _, v := range vals {
		x := pir.NewTensor(v.DType, v.Shape)
		_, hi := v.DType.Range()
		for i := 0; i < x.Len(); i++ {
			x.SetInt(i, hi)
		}
		top = append(top, x)
	}
	checkAgainstRT(t, g, host, nil, vals, top)
	// Planes too large for the stack: every im2col but the direct ones
	// gathers bytes with bounds (im2colRows).
	defer func(n int) { dotPlanesMaxBytes = n }(dotPlanesMaxBytes)
	dotPlanesMaxBytes = 0
	checkAgainstRT(t, g, host, nil, vals)
}

// TestDotIm2colSources: the im2col cases of maddubsCases read where they
// are meant to, and the bands case has several bands, the last
// overlapping.
func TestDotIm2colSources(t *testing.T) {
	_, _, p := casesProgram(t, maddubsCases())
	for _, s := range p.Steps {
		if s.Conv == nil || s.Conv.Pointwise {
			continue
		}
		src, _, _, _ := dotPlanes(s)
		want := dotPadded
		if strings.Contains(s.Name, "mb_direct") {
			want = dotDirect
		}
		if src != want {
			t.Errorf("%s: reads from %d, want %d", s.Name, src, want)
		}
		if c := s.Conv; strings.Contains(s.Name, "mb_bands") {
			kq := (c.Cg*c.KH*c.KW + 3) / 4
			if r := dotBandRows(c, kq); r >= c.OH || c.OH%r == 0 {
				t.Errorf("%s: bands of %d rows of %d, want several, the last overlapping", s.Name, r, c.OH)
			}
		}
	}
}
