package litert

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pare-ml/pare/frontend/tflite"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// detectionSeeds: input sets per TFLite_Detection_PostProcess model.
const detectionSeeds = 12

// TestLiteRTDetection runs the TFLite_Detection_PostProcess models of
// .cache/litert/opmodels (frontend/tflite's detectionLiteRTModels: 50 to
// 1917 anchors, float and uint8, one to three classes per detection, fast
// and regular NMS) in
// rt and in LiteRT.js (TFLite's detection_postprocess kernel) on
// detectionSeeds random input sets each, and compares the detections:
// the count, and in the slots before it the classes and scores exactly
// and the boxes within 1e-5 (TFLite decodes in double, the IR in f32).
// Slots after the count: TFLite's regular path writes zeros up to
// max_detections, compared too; its fast path leaves them as they were
// (pare writes zeros), not compared.
func TestLiteRTDetection(t *testing.T) {
	node, dir := harness(t)
	var names []string
	for n := range models(t) {
		if strings.HasPrefix(n, "ops/detection_postprocess") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Skip("no detection models in .cache/litert/opmodels: run `make litert-opmodels`")
	}
	sort.Strings(names)
	ms := models(t)
	tmp := t.TempDir()
	var jobs []job
	type run struct {
		name string
		g    *ir.Graph
		ins  []*ir.Tensor
	}
	var runs []run
	for _, name := range names {
		g, err := tflite.Import(ms[name], tflite.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for s := 0; s < detectionSeeds; s++ {
			r := rand.New(rand.NewPCG(uint64(s), 7))
			var ins []*ir.Tensor
			var files []string
			for j, p := range g.Params {
				x := ir.NewTensor(p.Type.DType, p.Type.Shape)
				for i := 0; i < x.Len(); i++ {
					if p.Type.DType == ir.U8 {
						x.SetInt(i, int64(r.IntN(256)))
					} else {
						x.Set(i, float64(float32(2*r.Float64()-1)))
					}
				}
				f := filepath.Join(tmp, fmt.Sprintf("r%d_in%d.npy", len(runs), j))
				writeNPY(t, f, x)
				ins, files = append(ins, x), append(files, f)
			}
			jobs = append(jobs, job{Model: ms[name], Inputs: files, Out: filepath.Join(tmp, fmt.Sprintf("r%d", len(runs)))})
			runs = append(runs, run{fmt.Sprintf("%s/seed%d", name, s), g, ins})
		}
	}
	res := runBatch(t, node, dir, jobs)
	maxBox, counts := 0.0, map[string][]int{}
	for k, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			if res[k].Error != "" {
				t.Fatalf("LiteRT: %s", res[k].Error)
			}
			got, err := rt.Run(r.g, r.ins)
			if err != nil {
				t.Fatalf("rt: %v", err)
			}
			want := make([]*ir.Tensor, 4)
			for j := range want {
				want[j] = readOut(t, jobs[k].Out, j)
			}
			n := int(want[3].F32[0])
			if got[3].F32[0] != want[3].F32[0] {
				t.Fatalf("count: rt %v, LiteRT %v", got[3].F32[0], want[3].F32[0])
			}
			model := strings.Split(r.name, "/seed")[0]
			counts[model] = append(counts[model], n)
			// Fast NMS: max_classes_per_detection slots per detection, the
			// ones after them unwritten in TFLite. Regular NMS: one slot per
			// detection, and TFLite writes zeros in the next ones up to
			// max_detections (the topk's k here): those are compared too.
			slots := n * got[1].Shape[1] / opAttr(t, r.g, "nms_index", "max_output")
			if strings.Contains(model, "regular") {
				slots = opAttr(t, r.g, "topk_index", "k")
			}
			for s := 0; s < slots; s++ {
				if got[1].F32[s] != want[1].F32[s] || got[2].F32[s] != want[2].F32[s] {
					t.Fatalf("slot %d: rt class %v score %v, LiteRT %v %v", s, got[1].F32[s], got[2].F32[s], want[1].F32[s], want[2].F32[s])
				}
				for c := 0; c < 4; c++ {
					d := math.Abs(float64(got[0].F32[4*s+c] - want[0].F32[4*s+c]))
					maxBox = max(maxBox, d)
					if d > 1e-5 {
						t.Errorf("slot %d coordinate %d: rt %v, LiteRT %v", s, c, got[0].F32[4*s+c], want[0].F32[4*s+c])
					}
				}
			}
		})
	}
	t.Logf("largest box difference %.3g; counts %v", maxBox, counts)
}

// opAttr is the integer attribute attr of the graph's first op of that name.
func opAttr(t *testing.T, g *ir.Graph, op, attr string) int {
	for _, v := range g.Values {
		if v.Op.Name == op {
			return v.Int(attr)
		}
	}
	t.Fatalf("no %s in the graph", op)
	return 0
}
