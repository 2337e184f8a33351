package tflite

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/tests/backendrun"
)

// MediaPipe's published models are not in shared/: the tests below look
// for them where `npm pack @mediapipe/selfie_segmentation` unpacks (under
// /tmp/npmm), in .cache/mediapipe at the repository root, or in
// $PARE_MEDIAPIPE_DIR, and skip when they are absent.

// mediapipeModel returns the path of file, or "" when no folder holds it.
func mediapipeModel(file string) string {
	dirs := []string{os.Getenv("PARE_MEDIAPIPE_DIR"), "../../.cache/mediapipe"}
	npm, _ := filepath.Glob("/tmp/npmm/mediapipe-*/package")
	for _, d := range append(dirs, npm...) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// The selfie segmentation models end in Convolution2DTransposeBias. Each
// imports, runs in rt on a portrait (shared/ coral's grace_hopper.bmp,
// else a gradient), gives a mask in [0, 1] of the declared shape (on the
// portrait: background in the top corners, the person at the bottom
// middle), and the LLVM executable matches rt within 1e-4 relative (in
// -short, for the square model only: the landscape one has the same ops).
func TestMediaPipeSelfieSegmentation(t *testing.T) {
	for _, m := range []struct {
		file string
		h, w int
	}{{"selfie_segmentation.tflite", 256, 256}, {"selfie_segmentation_landscape.tflite", 144, 256}} {
		t.Run(m.file, func(t *testing.T) {
			path := mediapipeModel(m.file)
			if path == "" {
				t.Skipf("%s not found ($PARE_MEDIAPIPE_DIR, .cache/mediapipe, /tmp/npmm/mediapipe-*/package): skipping", m.file)
			}
			g, err := Import(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(g); err != nil {
				t.Fatal(err)
			}
			if n := countOps(g)["conv_transpose"]; n != 1 {
				t.Errorf("%d conv_transpose, want 1 (the custom op)", n)
			}
			in, out := []int{1, m.h, m.w, 3}, []int{1, m.h, m.w, 1}
			if len(g.Params) != 1 || !ir.EqualShape(g.Params[0].Type.Shape, in) || len(g.Results) != 1 || !ir.EqualShape(g.Results[0].Type.Shape, out) {
				t.Fatalf("graph %v → %v, want f32%v → f32%v", g.Params, g.Results, in, out)
			}
			x, portrait := selfieInput(t, g.Params[0].Type)
			want, err := interp(t, g).Run([]*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			mask := want[0]
			for i, v := range mask.F32 {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("mask element %d = %v, outside [0, 1]", i, v)
				}
			}
			if portrait {
				at := func(y, x int) float32 { return mask.F32[y*m.w+x] }
				if tl, tr, bottom := at(2, 2), at(2, m.w-3), at(m.h-3, m.w/2); tl > 0.1 || tr > 0.1 || bottom < 0.9 {
					t.Errorf("portrait mask: top corners %v %v, bottom middle %v; want background (< 0.1) and person (> 0.9)", tl, tr, bottom)
				}
			}
			if testing.Short() && m.h != m.w {
				return
			}
			got := backendrun.LLVM(t, g, []*ir.Tensor{x})
			sameOutputs(t, "the LLVM backend", got, want)
			d := 0.0
			for i := range mask.F32 {
				d = max(d, math.Abs(got[0].At(i)-mask.At(i)))
			}
			t.Logf("%s: LLVM against rt: max |difference| %.3g", m.file, d)
		})
	}
}

// selfieInput is grace_hopper.bmp scaled to [0, 1] as the models take
// their input (portrait true), or, without it, a gradient.
func selfieInput(t *testing.T, typ ir.Type) (*ir.Tensor, bool) {
	t.Helper()
	if img, err := dataset.LoadImage(filepath.Join(sharedDir, "coral/images/grace_hopper.bmp")); err == nil {
		x, err := dataset.ImageTensor(img, typ, dataset.Raw, dataset.Preprocess{Scale: 1.0 / 255})
		if err != nil {
			t.Fatal(err)
		}
		return x, true
	}
	x := ir.NewTensor(ir.F32, typ.Shape)
	for i := range x.F32 {
		x.F32[i] = float32(i%997) / 997
	}
	return x, false
}
