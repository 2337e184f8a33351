package llvm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// scratchPlaneCases are panel convs whose padded planes exceed
// padMaxBytes and go in Scratch past a block's panels: stride 2 (even
// lanes, a 3×3 of 128 channels of 56×56 as resnet50's), column stride 1
// with a row stride 2, uneven pads; i8 and u8 (i16 weights: the
// multiply-add kernel on AArch64 too), float and TFLite requantization.
func scratchPlaneCases() []codegentest.IntCase {
	return []codegentest.IntCase{
		localIntConv("planes_scratch_s2", pir.I8, []int{1, 128, 56, 56}, []int{8, 128, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1), "strides": pir.Ints(2, 2)}),
		localIntConv("planes_scratch_u8_s2_odd", pir.U8, []int{1, 96, 57, 59}, []int{7, 96, 3, 3}, pir.Attrs{"pads": pir.Ints(0, 1, 2, 1), "strides": pir.Ints(2, 2), "rq": pir.Str("tflite")}),
		localIntConv("planes_scratch_u8_s21", pir.U8, []int{1, 80, 61, 58}, []int{5, 80, 3, 3}, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1), "strides": pir.Ints(2, 1)}),
	}
}

// TestIntPanelScratchPlanesSelected: every case takes the padded path
// with its planes in Scratch (no stack planes in its function).
func TestIntPanelScratchPlanesSelected(t *testing.T) {
	cases := scratchPlaneCases()
	p, ir := casesIR(t, cases)
	n := 0
	for _, s := range p.Steps {
		if s.Kernel != codegen.KConvGemm {
			continue
		}
		n++
		c := s.Conv
		kq := (c.Cg*c.KH*c.KW + 1) / 2
		L := blockRows(c, kq) * c.OW
		hp, wp, off, ok := padGeom(s, kq*2*((L+nrCol-1)/nrCol*nrCol))
		if !intPanelStep(s) || avx2.kGroup(p, s) == 4 || !ok || off < 0 {
			t.Errorf("%s: panel %v, padded %v, planes at %d: want the padded planes in Scratch", s.Name, intPanelStep(s), ok, off)
			continue
		}
		if a := fmt.Sprintf("alloca [%d x i16]", c.Cg*hp*wp+padSlack); strings.Contains(ir, a) {
			t.Errorf("%s: planes on the stack (%s)", s.Name, a)
		}
	}
	if n != len(cases) {
		t.Fatalf("%d conv steps, want %d", n, len(cases))
	}
}

// TestIntPanelScratchPlanes: the results equal rt's.
func TestIntPanelScratchPlanes(t *testing.T) {
	checkCases(t, scratchPlaneCases(), false)
}

func TestIntPanelScratchPlanesAArch64(t *testing.T) {
	checkCases(t, scratchPlaneCases(), true)
}
