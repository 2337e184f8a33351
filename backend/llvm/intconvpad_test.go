package llvm

import (
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// dwPadCases are integer depthwise convs (and convs of few channels) for
// the padded-plane kernel:
// strides 1 and 2, pads (uneven too), planes down to 1×1, odd channel
// counts, a channel multiplier, dilation, a 5×5 kernel, u8 (weights with
// a zero point: i16 after codegen) and i8, float and TFLite requantization.
func dwPadCases() []codegentest.IntCase {
	dw := func(name string, dt pir.DType, x []int, m, kh, kw int, attrs pir.Attrs) codegentest.IntCase {
		if attrs == nil {
			attrs = pir.Attrs{}
		}
		attrs["group"] = pir.Int(x[1])
		return localIntConv(name, dt, x, []int{m, 1, kh, kw}, attrs)
	}
	p1 := pir.Ints(1, 1, 1, 1)
	tfl := pir.Str("tflite")
	return []codegentest.IntCase{
		dw("dwpad_u8_8x8", pir.U8, []int{1, 13, 8, 8}, 13, 3, 3, pir.Attrs{"pads": p1, "rq": tfl}),
		dw("dwpad_i8_8x8", pir.I8, []int{1, 5, 8, 8}, 5, 3, 3, pir.Attrs{"pads": p1}),
		dw("dwpad_u8_s2_odd", pir.U8, []int{1, 7, 9, 11}, 7, 3, 3, pir.Attrs{"pads": p1, "strides": pir.Ints(2, 2), "rq": tfl}),
		dw("dwpad_i8_s2_same", pir.I8, []int{1, 5, 16, 16}, 5, 3, 3, pir.Attrs{"pads": pir.Ints(0, 0, 1, 1), "strides": pir.Ints(2, 2)}),
		dw("dwpad_u8_1x1", pir.U8, []int{1, 3, 1, 1}, 3, 3, 3, pir.Attrs{"pads": p1, "rq": tfl}),
		dw("dwpad_i8_2x2", pir.I8, []int{1, 9, 2, 2}, 9, 3, 3, pir.Attrs{"pads": p1}),
		dw("dwpad_u8_2x2_s2", pir.U8, []int{1, 9, 2, 2}, 9, 3, 3, pir.Attrs{"pads": p1, "strides": pir.Ints(2, 2), "rq": tfl}),
		dw("dwpad_u8_4x4", pir.U8, []int{1, 11, 4, 4}, 11, 3, 3, pir.Attrs{"pads": p1, "rq": tfl}),
		dw("dwpad_i8_mult", pir.I8, []int{1, 3, 6, 6}, 6, 3, 3, pir.Attrs{"pads": p1, "rq": tfl}),
		dw("dwpad_u8_dil", pir.U8, []int{1, 4, 10, 12}, 4, 3, 3, pir.Attrs{"pads": pir.Ints(2, 2, 2, 2), "dilations": pir.Ints(2, 2)}),
		dw("dwpad_i8_5x5", pir.I8, []int{1, 2, 12, 37}, 2, 5, 5, pir.Attrs{"pads": pir.Ints(2, 1, 2, 3), "strides": pir.Ints(1, 2), "rq": tfl}),
		dw("dwpad_u8_nopad_s2", pir.U8, []int{1, 3, 7, 7}, 3, 3, 3, pir.Attrs{"strides": pir.Ints(2, 2)}),
		dw("dwpad_u8_wide", pir.U8, []int{1, 2, 5, 70}, 2, 3, 3, pir.Attrs{"pads": p1, "rq": tfl}),
		// Convs of few channels (a first layer), the u8 weights i16.
		localIntConv("padconv_u8_s2", pir.U8, []int{1, 3, 17, 20}, []int{8, 3, 3, 3}, pir.Attrs{"pads": pir.Ints(0, 0, 1, 1), "strides": pir.Ints(2, 2), "rq": tfl}),
		localIntConv("padconv_u8_group", pir.U8, []int{1, 4, 6, 7}, []int{6, 2, 3, 3}, pir.Attrs{"group": pir.Int(2), "pads": p1}),
		localIntConv("padconv_u8_1x1", pir.U8, []int{1, 3, 1, 1}, []int{5, 3, 3, 3}, pir.Attrs{"pads": p1}),
		localIntConv("padconv_u8_dil_s2", pir.U8, []int{1, 2, 11, 13}, []int{3, 2, 3, 2}, pir.Attrs{"pads": pir.Ints(2, 1, 2, 1), "strides": pir.Ints(2, 2), "dilations": pir.Ints(2, 2), "rq": tfl}),
	}
}

// TestIntDWPadSelected: every case runs on the padded-plane kernel (its
// stack planes, %dwpad, in the steps' functions).
func TestIntDWPadSelected(t *testing.T) {
	p, ir := casesIR(t, dwPadCases())
	n := 0
	for _, s := range p.Steps {
		if s.Kernel != codegen.KConvDepthwise && s.Kernel != codegen.KConvGemm {
			continue
		}
		n++
		if !intPadStep(s) {
			t.Errorf("%s: not on the padded-plane kernel", s.Name)
		}
	}
	if n != len(dwPadCases()) {
		t.Fatalf("%d conv steps, want %d", n, len(dwPadCases()))
	}
	if got := strings.Count(ir, "%dwpad = alloca"); got == 0 {
		t.Errorf("no kernel allocates the padded plane")
	}
}

// TestIntDWPad: the padded-plane kernel's results equal rt's.
func TestIntDWPad(t *testing.T) {
	checkCases(t, dwPadCases(), false)
}

func TestIntDWPadAArch64(t *testing.T) {
	checkCases(t, dwPadCases(), true)
}
