package passes

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// smoothImages draws n inputs for a graph of one [N, C, H, W] input:
// per channel a product of two sinusoids of random frequency and phase
// plus a little noise, in [-1, 1] (structured, as pictures are).
func smoothImages(shape []int, n int, seed int64) [][]*ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	h, w := shape[2], shape[3]
	var out [][]*ir.Tensor
	for s := 0; s < n; s++ {
		t := ir.NewTensor(ir.F32, shape)
		for p := 0; p < shape[0]*shape[1]; p++ {
			fy, fx, ph := r.Float64()*0.6, r.Float64()*0.6, r.Float64()*6
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					t.F32[(p*h+y)*w+x] = float32(0.8*math.Sin(float64(y)*fy+ph)*math.Cos(float64(x)*fx) + 0.2*(r.Float64()*2-1))
				}
			}
		}
		out = append(out, []*ir.Tensor{t})
	}
	return out
}

// upsampleNet is conv 3×3 → relu → conv_transpose 2×2 s2 (bias; pads and
// output_padding given) → relu → conv 3×3: a segmentation decoder step.
func upsampleNet(t *testing.T, pads, outPad []int) *ir.Graph {
	t.Helper()
	rnd := uniformTensors(21)
	must := mustValue(t)
	g := ir.NewGraph("up")
	x := g.AddParam("x", ir.TensorType(ir.F32, 1, 3, 12, 12))
	p1 := ir.Ints(1, 1, 1, 1)
	c0 := must(g.Add("conv", []*ir.Value{x, g.AddConst("w0", rnd(8, 3, 3, 3), nil), g.AddConst("b0", rnd(8), nil)}, ir.Attrs{"pads": p1}, ir.Type{}, "conv0", "Conv_0"))
	r0 := must(g.Add("relu", []*ir.Value{c0}, nil, ir.Type{}, "relu0", "Relu_0"))
	attrs := ir.Attrs{"strides": ir.Ints(2, 2), "pads": ir.Ints(pads...), "output_padding": ir.Ints(outPad...)}
	up := must(g.Add("conv_transpose", []*ir.Value{r0, g.AddConst("wt", rnd(8, 6, 2, 2), nil), g.AddConst("bt", rnd(6), nil)}, attrs, ir.Type{}, "up", "ConvTranspose_2"))
	r1 := must(g.Add("relu", []*ir.Value{up}, nil, ir.Type{}, "relu1", "Relu_3"))
	c1 := must(g.Add("conv", []*ir.Value{r1, g.AddConst("w1", rnd(4, 6, 3, 3), nil), g.AddConst("b1", rnd(4), nil)}, ir.Attrs{"pads": p1}, ir.Type{}, "conv1", "Conv_4"))
	g.Results = []*ir.Value{c1}
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestQuantizeUpsample: after canonicalize, a conv_transpose 2×2 stride 2
// is a 1×1 conv that quantize makes int8 like the others, and the
// rearrangement after it (reshape, transpose, reshape, and the slice that
// crops pads) moves the integers: the quantized graph has one quantize (the
// input's), no dequantize or f32 op before the result's, and stays
// within 30 dB of the f32 graph on held-out inputs. PP-OCRv4 det's head
// (bias adds and batchnorm folded, a sigmoid after the last upsampling)
// ends in the sigmoid's integer form.
func TestQuantizeUpsample(t *testing.T) {
	type tc struct {
		name string
		g    *ir.Graph
	}
	cases := []tc{
		{"2x2 s2", upsampleNet(t, []int{0, 0, 0, 0}, []int{0, 0})},
		{"2x2 s2 pads", upsampleNet(t, []int{1, 0, 1, 1}, []int{0, 0})},
		{"2x2 s2 pads output_padding", upsampleNet(t, []int{1, 1, 0, 1}, []int{1, 1})},
		{"ppocr det head", ppocrHead(t, uniformTensors(5), 8, 10)},
		{"ppocr det head, small logits", ppocrHead(t, uniformTensors(5), 8, 10)},
	}
	// Logits within ±0.05 in calibration: the sigmoid's input still takes
	// [-6, 6] (TestQuantizeSigmoidFullRange), on the 1×1 conv before the
	// depth-to-space whose integers it reads.
	small := cases[len(cases)-1].g
	for _, n := range []string{"wt2", "bt2"} {
		c := small.Lookup(n)
		c.Const = c.Const.Clone()
		for i := range c.Const.F32 {
			c.Const.F32[i] *= 0.02
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.g
			f := g.Clone()
			shape := g.Params[0].Type.Shape
			data := &Dataset{Name: "smooth"}
			for _, in := range smoothImages(shape, 16, 1) {
				data.Inputs = append(data.Inputs, in)
				data.Labels = append(data.Labels, -1)
			}
			if _, err := RunSpec(g, "canonicalize,quantize,fuse", &Context{Data: data}); err != nil {
				t.Fatal(err)
			}
			// The integers end at the result: its dequantize, or the table
			// lookup into f32 that fuse makes of a sigmoid and its dequantize.
			var float []string
			for _, v := range g.Values {
				switch {
				case v.IsConst():
				case v.Op.Name == "conv_transpose":
					float = append(float, v.Where())
				case (v.Op.Name == "dequantize" || v.Op.Name == "lut") && isResult(g, v):
				case v.Type.DType == ir.F32:
					float = append(float, v.Where())
				}
			}
			if len(float) > 0 || countOps(g, "quantize") != 1 {
				t.Errorf("float inside the int8 graph: %s; %d quantize\n%s", strings.Join(float, ", "), countOps(g, "quantize"), g)
			}
			if c.g == small {
				cv := g.Lookup("ct2.1x1")
				q := cv.Type.Quant
				lo, hi := cv.Type.DType.Range()
				step := float64(q.Scale[0])
				if cv.Op.Name != "conv" || step*float64(lo-q.ZeroPoint[0]) > -6+step || step*float64(hi-q.ZeroPoint[0]) < 6-step {
					t.Errorf("%s: %v, want a range over [-6, 6] (within a step)", cv.Where(), cv.Type)
				}
			}
			if db := snrOver(t, f, g, smoothImages(shape, 4, 2)); db < 30 {
				t.Errorf("int8 against f32: %.1f dB", db)
			} else {
				t.Logf("int8 against f32: %.1f dB", db)
			}
		})
	}
}

// snrOver is 10·log10(Σf² / Σ(q−f)²) over the first result of both graphs.
func snrOver(t *testing.T, f, q *ir.Graph, ins [][]*ir.Tensor) float64 {
	t.Helper()
	var sig, noise float64
	for _, in := range ins {
		a, err := rt.Run(f, in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := rt.Run(q, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(a[0].F32) != len(b[0].F32) {
			t.Fatal(fmt.Sprintf("results differ in size: %v, %v", a[0].Shape, b[0].Shape))
		}
		for k, x := range a[0].F32 {
			d := float64(b[0].F32[k] - x)
			sig += float64(x) * float64(x)
			noise += d * d
		}
	}
	return 10 * math.Log10(sig/noise)
}
