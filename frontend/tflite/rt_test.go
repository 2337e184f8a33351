package tflite

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/pare-ml/pare/frontend/dataset"
	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Acceptance tests of issue 6: the shared models run on rt.

func interp(t testing.TB, g *ir.Graph) *rt.Interp {
	t.Helper()
	p, err := rt.New(g)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run1(t testing.TB, p *rt.Interp, in *ir.Tensor) *ir.Tensor {
	t.Helper()
	out, err := p.Run([]*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// A float conv imported from NHWC runs as a naive NHWC convolution does.
func TestConvMatchesNHWCReference(t *testing.T) {
	const N, H, W, C, O, K = 1, 7, 6, 3, 4, 3
	xs := make([]float32, N*H*W*C)
	for i := range xs {
		xs[i] = float32(math.Sin(float64(i) * 0.37))
	}
	ws := make([]float32, O*K*K*C)
	for i := range ws {
		ws[i] = float32(math.Cos(float64(i) * 0.11))
	}
	bs := []float32{0.5, -0.25, 0.125, 1}
	for _, pad := range []fb.Padding{fb.PaddingSAME, fb.PaddingVALID} {
		const stride = 2
		oh, ow := (H+stride-1)/stride, (W+stride-1)/stride
		if pad == fb.PaddingVALID {
			oh, ow = (H-K)/stride+1, (W-K)/stride+1
		}
		m := &tModel{
			tensors: []tTensor{
				{name: "x", shape: []int32{N, H, W, C}, typ: fb.TensorTypeFLOAT32},
				{name: "w", shape: []int32{O, K, K, C}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(ws...)},
				{name: "b", shape: []int32{O}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(bs...)},
				{name: "y", shape: []int32{N, int32(oh), int32(ow), O}, typ: fb.TensorTypeFLOAT32},
			},
			ops: []tOp{{code: fb.BuiltinOperatorCONV_2D, in: []int32{0, 1, 2}, out: []int32{3}, optType: fb.BuiltinOptionsConv2DOptions,
				opt: convOptions(pad, stride, stride, fb.ActivationFunctionTypeRELU6)}},
			inputs: []int32{0}, outputs: []int32{3},
		}
		g, err := ImportBytes("conv.tflite", m.build(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		y := run1(t, interp(t, g), ir.FromF32([]int{N, H, W, C}, xs))
		pt, pl := 0, 0
		if pad == fb.PaddingSAME {
			pt = max((oh-1)*stride+K-H, 0) / 2
			pl = max((ow-1)*stride+K-W, 0) / 2
		}
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < O; o++ {
					s := float64(bs[o])
					for ky := 0; ky < K; ky++ {
						for kx := 0; kx < K; kx++ {
							iy, ix := oy*stride-pt+ky, ox*stride-pl+kx
							if iy < 0 || iy >= H || ix < 0 || ix >= W {
								continue
							}
							for c := 0; c < C; c++ {
								s += float64(xs[(iy*W+ix)*C+c]) * float64(ws[((o*K+ky)*K+kx)*C+c])
							}
						}
					}
					s = min(max(s, 0), 6)
					if got := y.F32[(oy*ow+ox)*O+o]; math.Abs(float64(got)-s) > 1e-4 {
						t.Fatalf("pad %v: y[%d,%d,%d] = %v, want %v", pad, oy, ox, o, got, s)
					}
				}
			}
		}
	}
}

func helloWorld(t testing.TB, p *rt.Interp, x float32) float32 {
	return run1(t, p, ir.FromF32([]int{1, 1}, []float32{x})).F32[0]
}

func TestHelloWorldFloat(t *testing.T) {
	p := interp(t, importShared(t, "tflite-micro/hello_world_float.tflite"))
	worst := 0.0
	for i := 0; i <= 200; i++ {
		x := float32(2 * math.Pi * float64(i) / 200)
		worst = max(worst, math.Abs(float64(helloWorld(t, p, x))-math.Sin(float64(x))))
	}
	t.Logf("max |y - sin x| on [0, 2π]: %.4f", worst)
	if worst > 0.05 {
		t.Errorf("max |y - sin x| = %.4f, want <= 0.05", worst)
	}
}

// TestHelloWorldInt8 compares the int8 model, dequantized, with the float
// one. They are two trainings of the same network (their weights differ),
// so they agree on average within a few output steps, not point by point;
// the int8 arithmetic itself is checked against a float simulation of the
// same quantized network (which rounds once per layer: within 3 steps).
func TestHelloWorldInt8(t *testing.T) {
	pf := interp(t, importShared(t, "tflite-micro/hello_world_float.tflite"))
	g := importShared(t, "tflite-micro/hello_world_int8.tflite")
	p := interp(t, g)
	qi, qo := g.Params[0].Type.Quant, g.Results[0].Type.Quant
	var gemms []*ir.Value
	for _, v := range g.Values {
		if v.Op.Name == "gemm" {
			gemms = append(gemms, v)
		}
	}
	worst, sum, worstSim := 0.0, 0.0, 0.0
	const n = 200
	for i := 0; i <= n; i++ {
		x := float32(2 * math.Pi * float64(i) / n)
		q := min(max(math.Round(float64(x/qi.Scale[0]))+float64(qi.ZeroPoint[0]), -128), 127)
		y := run1(t, p, &ir.Tensor{DType: ir.I8, Shape: []int{1, 1}, I8: []int8{int8(q)}}).I8[0]
		deq := float64(int64(y)-qo.ZeroPoint[0]) * float64(qo.Scale[0])
		d := math.Abs(deq-float64(helloWorld(t, pf, x))) / float64(qo.Scale[0])
		worst, sum = max(worst, d), sum+d
		worstSim = max(worstSim, math.Abs(simulateDense(gemms, q)-float64(y)))
	}
	mean := sum / (n + 1)
	t.Logf("int8 vs float model: mean %.2f, max %.1f output steps; vs float simulation: max %.0f steps", mean, worst, worstSim)
	if mean > 4 || worst > 16 {
		t.Errorf("int8 vs float model: mean %.2f, max %.1f output steps, want <= 4 and <= 16", mean, worst)
	}
	if worstSim > 3 {
		t.Errorf("int8 result %.0f steps from the float simulation of the quantized network, want <= 3", worstSim)
	}
}

// simulateDense runs quantized dense layers in float64, rounding each
// layer's result to its quantization.
func simulateDense(gemms []*ir.Value, x float64) float64 {
	act := []float64{x}
	for _, gv := range gemms {
		xq, wq, yq := gv.Args[0].Type.Quant, gv.Args[1].Type.Quant, gv.Type.Quant
		w, b := gv.Args[1].Const, gv.Args[2].Const
		out := make([]float64, w.Shape[0])
		for o := range out {
			acc := float64(b.I32[o])
			for k := 0; k < w.Shape[1]; k++ {
				acc += (act[k] - float64(xq.ZeroPoint[0])) * float64(int64(w.I8[o*w.Shape[1]+k])-wq.ZeroPoint[0])
			}
			r := acc * float64(xq.Scale[0]) * float64(wq.Scale[0]) / float64(yq.Scale[0])
			out[o] = min(max(math.Round(r)+float64(yq.ZeroPoint[0]), -128), 127)
		}
		act = out
	}
	return act[0]
}

func loadBMP(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	defer f.Close()
	img, err := bmp.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestPersonDetect feeds the BMPs as tflite-micro's test does: the 8-bit
// pixel values, top row first, reinterpreted as int8.
func TestPersonDetect(t *testing.T) {
	g := importShared(t, "tflite-micro/person_detect.tflite")
	p := interp(t, g)
	for _, c := range []struct {
		file   string
		person bool
	}{{"person.bmp", true}, {"no_person.bmp", false}} {
		img := loadBMP(t, filepath.Join(sharedDir, "tflite-micro/person_detection", c.file))
		pal, ok := img.(*image.Paletted)
		if !ok || pal.Rect.Dx() != 96 || pal.Rect.Dy() != 96 {
			t.Fatalf("%s: want a 96x96 8-bit image, got %T %v", c.file, img, img.Bounds())
		}
		in := &ir.Tensor{DType: ir.I8, Shape: []int{1, 96, 96, 1}, I8: make([]int8, 96*96)}
		for y := 0; y < 96; y++ {
			for x := 0; x < 96; x++ {
				in.I8[y*96+x] = int8(pal.Pix[y*pal.Stride+x])
			}
		}
		out := run1(t, p, in)
		noPerson, person := out.I8[0], out.I8[1]
		t.Logf("%s: person %d, no_person %d", c.file, person, noPerson)
		if (person > noPerson) != c.person {
			t.Errorf("%s: person %d, no_person %d", c.file, person, noPerson)
		}
	}
}

func argmax(t *ir.Tensor) int {
	best := 0
	for i := 1; i < t.Len(); i++ {
		if t.At(i) > t.At(best) {
			best = i
		}
	}
	return best
}

func TestCoralTop1(t *testing.T) {
	labels, err := os.ReadFile(filepath.Join(sharedDir, "coral/imagenet_labels.txt"))
	if err != nil {
		t.Skipf("labels: %v", err)
	}
	names := strings.Split(strings.TrimSpace(string(labels)), "\n")
	for _, m := range []struct {
		model string
		size  int
		want  map[string]int
	}{
		{"coral/mobilenet_v1_0.25_128_quant.tflite", 128, map[string]int{"cat": 283, "bird": 20, "grace_hopper": 401, "sunflower": 986, "dragonfly": 301}},
		{"coral/tf2_mobilenet_v2_1.0_224_ptq.tflite", 224, map[string]int{"cat": 286, "bird": 20, "grace_hopper": 653, "sunflower": 986, "dragonfly": 320}},
	} {
		t.Run(filepath.Base(m.model), func(t *testing.T) {
			p := interp(t, importShared(t, m.model))
			for _, img := range []string{"cat", "bird", "grace_hopper", "sunflower", "dragonfly"} {
				pix := dataset.ResizeBilinear(loadBMP(t, filepath.Join(sharedDir, "coral/images", img+".bmp")), m.size, m.size, 3)
				out := run1(t, p, &ir.Tensor{DType: ir.U8, Shape: []int{1, m.size, m.size, 3}, U8: pix})
				top := argmax(out)
				name := ""
				if top < len(names) {
					name = names[top]
				}
				t.Logf("%s: top-1 %d %q (score %d/255)", img, top, name, out.U8[top])
				if top != m.want[img] {
					t.Errorf("%s: top-1 %d %q, want %d", img, top, name, m.want[img])
				}
			}
		})
	}
}

// TestMNISTAccuracy scores mnist.tflite on the 10,000 test images (the
// first 1,000 with -short), on all cores with one Interp.
func TestMNISTAccuracy(t *testing.T) {
	g := importShared(t, "mnist-autokeras/mnist.tflite")
	set, err := dataset.MNIST("test")
	if err != nil {
		t.Skipf("MNIST test set: %v", err)
	}
	if testing.Short() {
		set = set.Limit(1000) // make test; make test-long scores all 10,000
	}
	p := interp(t, g)
	var correct, done int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var ok, n int64
			for i := w; i < set.N; i += workers {
				in := &ir.Tensor{DType: ir.U8, Shape: []int{1, 28, 28}, U8: set.Image(i)}
				out, err := p.Run([]*ir.Tensor{in})
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if argmax(out[0]) == int(set.Labels[i]) {
					ok++
				}
				n++
			}
			mu.Lock()
			correct += ok
			done += n
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	acc := float64(correct) / float64(done)
	t.Logf("mnist.tflite: %d/%d = %.2f %%", correct, done, 100*acc)
	if acc < 0.985 {
		t.Errorf("accuracy %.2f %%, want >= 98.5 %%", 100*acc)
	}
}
