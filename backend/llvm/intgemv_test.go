package llvm

import (
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// pointwiseCases are integer 1×1 convs on one output column (the
// matrix-vector kernel: even and odd K and pair counts, row blocks of
// mrI and fewer rows, a batch of two) and on tiny planes (the panel
// kernel's B packed once: 2×2, 4×4), u8 with a weight zero point (i16
// weights) and i8, float and TFLite requantization.
func pointwiseCases() []codegentest.IntCase {
	tfl := pir.Attrs{"rq": pir.Str("tflite")}
	return []codegentest.IntCase{
		localIntConv("gemv_u8_k256", pir.U8, []int{1, 256, 1, 1}, []int{13, 256, 1, 1}, tfl),
		localIntConv("pw1_u8_k37", pir.U8, []int{1, 37, 1, 1}, []int{9, 37, 1, 1}, nil),
		localIntConv("gemv_i8_k6", pir.I8, []int{1, 6, 1, 1}, []int{6, 6, 1, 1}, tfl),
		localIntConv("gemv_i8_k64_batch", pir.I8, []int{2, 64, 1, 1}, []int{11, 64, 1, 1}, nil),
		localIntConv("pw1_u8_k3", pir.U8, []int{1, 3, 1, 1}, []int{3, 3, 1, 1}, tfl),
		// ppocr cls's squeeze-excite convs: one pair (K = 2), fewer rows
		// than a block (M = 2).
		localIntConv("gemv_i8_k2", pir.I8, []int{1, 2, 1, 1}, []int{8, 2, 1, 1}, nil),
		localIntConv("gemv_i8_k8_m2", pir.I8, []int{1, 8, 1, 1}, []int{2, 8, 1, 1}, nil),
		localIntConv("gemv_i8_k22", pir.I8, []int{1, 22, 1, 1}, []int{88, 22, 1, 1}, nil),
		localIntConv("pw_u8_2x2", pir.U8, []int{1, 24, 2, 2}, []int{7, 24, 1, 1}, tfl),
		localIntConv("pw_u8_4x4", pir.U8, []int{1, 32, 4, 4}, []int{13, 32, 1, 1}, nil),
		localIntConv("pw_i8_4x4", pir.I8, []int{1, 16, 4, 4}, []int{10, 16, 1, 1}, tfl),
	}
}

// TestIntGemvSelected: the one-column cases run on the matrix-vector
// kernel (its x pairs, %gemvx, in their functions) on x86-64 with AVX2
// where K is even (odd K, without room for panels, is not a panel step).
func TestIntGemvSelected(t *testing.T) {
	p, ir := casesIR(t, pointwiseCases())
	gemv := 0
	for _, s := range p.Steps {
		one := strings.HasPrefix(s.Name, "k_gemv_")
		if one != intGemvStep(s, avx2) {
			t.Errorf("%s: on the matrix-vector kernel %v, want %v", s.Name, !one, one)
		}
		if one {
			gemv++
		}
	}
	if gemv != 6 {
		t.Errorf("%d one-column steps of even K, want 6", gemv)
	}
	if got := strings.Count(ir, "%gemvx = alloca"); got != gemv {
		t.Errorf("%d kernels with x pairs, want %d", got, gemv)
	}
}

// TestIntPointwise: the matrix-vector kernel and the panel kernel on
// tiny planes equal rt's.
func TestIntPointwise(t *testing.T) {
	checkCases(t, pointwiseCases(), false)
}

func TestIntPointwiseAArch64(t *testing.T) {
	checkCases(t, pointwiseCases(), true)
}
