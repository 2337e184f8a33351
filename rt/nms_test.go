package rt

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// nmsRef is greedy NMS as TFLite's detection postprocess writes it: keep
// the boxes with score >= the threshold, sort them stably by decreasing
// score, then walk the order: an active box is selected and deactivates
// every later active box whose IoU with it exceeds the threshold.
func nmsRef(boxes, scores []float32, maxOut int, iouT, scoreT float32) []int32 {
	var keep []int
	for i, s := range scores {
		if s >= scoreT {
			keep = append(keep, i)
		}
	}
	sort.SliceStable(keep, func(a, b int) bool { return scores[keep[a]] > scores[keep[b]] })
	corner := func(i int) (ymin, xmin, ymax, xmax float32) {
		b := boxes[4*i : 4*i+4]
		return float32(math.Min(float64(b[0]), float64(b[2]))), float32(math.Min(float64(b[1]), float64(b[3]))),
			float32(math.Max(float64(b[0]), float64(b[2]))), float32(math.Max(float64(b[1]), float64(b[3])))
	}
	iou := func(i, j int) float32 {
		ay0, ax0, ay1, ax1 := corner(i)
		by0, bx0, by1, bx1 := corner(j)
		aa, ab := (ay1-ay0)*(ax1-ax0), (by1-by0)*(bx1-bx0)
		if aa <= 0 || ab <= 0 {
			return 0
		}
		h := float32(math.Max(math.Min(float64(ay1), float64(by1))-math.Max(float64(ay0), float64(by0)), 0))
		w := float32(math.Max(math.Min(float64(ax1), float64(bx1))-math.Max(float64(ax0), float64(bx0)), 0))
		in := h * w
		return in / (aa + ab - in)
	}
	active := make([]bool, len(keep))
	for i := range active {
		active[i] = true
	}
	out := []int32{}
	for a := range keep {
		if len(out) == maxOut {
			break
		}
		if !active[a] {
			continue
		}
		out = append(out, int32(keep[a]))
		for b := a + 1; b < len(keep); b++ {
			if active[b] && iou(keep[a], keep[b]) > iouT {
				active[b] = false
			}
		}
	}
	for len(out) < maxOut {
		out = append(out, -1)
	}
	return out
}

// TestNMSIndex compares nms_index with nmsRef on random boxes: scores on
// a coarse grid (many ties), corners in either order, some zero-area and
// some identical boxes, clustered so that boxes overlap; several
// thresholds and max_output below and above the number of boxes.
func TestNMSIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.Intn(60)
		boxes := make([]float32, 4*n)
		scores := make([]float32, n)
		for i := 0; i < n; i++ {
			cy, cx := float32(rng.Intn(4))*0.25, float32(rng.Intn(4))*0.25
			h, w := float32(rng.Float64()*0.5), float32(rng.Float64()*0.5)
			switch rng.Intn(8) {
			case 0:
				h = 0
			case 1:
				w = 0
			}
			b := []float32{cy - h/2 + float32(rng.NormFloat64()*0.05), cx - w/2 + float32(rng.NormFloat64()*0.05), 0, 0}
			b[2], b[3] = b[0]+h, b[1]+w
			if rng.Intn(3) == 0 {
				b[0], b[2] = b[2], b[0]
			}
			if rng.Intn(3) == 0 {
				b[1], b[3] = b[3], b[1]
			}
			if i > 0 && rng.Intn(6) == 0 {
				copy(b, boxes[4*(i-1):4*i])
			}
			copy(boxes[4*i:], b)
			scores[i] = float32(rng.Intn(10)) / 10
			if rng.Intn(20) == 0 {
				scores[i] = float32(math.NaN())
			}
		}
		maxOut := 1 + rng.Intn(n+5)
		iouT := []float32{0.3, 0.5, 0.6, 1, 0.05}[rng.Intn(5)]
		scoreT := []float32{0.3, 0, 0.5, float32(math.Inf(-1))}[rng.Intn(4)]
		attrs := ir.Attrs{"max_output": ir.Int(maxOut), "iou_threshold": ir.Float(iouT)}
		if !math.IsInf(float64(scoreT), -1) {
			attrs["score_threshold"] = ir.Float(scoreT)
		}
		got := eval1(t, "nms_index", []*ir.Tensor{f32t([]int{n, 4}, boxes...), f32t([]int{n}, scores...)}, nil, attrs, ir.Type{})
		want := nmsRef(boxes, scores, maxOut, iouT, scoreT)
		if fmt.Sprint(got.I32) != fmt.Sprint(want) {
			t.Fatalf("trial %d (n %d, max %d, iou > %v, score >= %v): got %v, want %v\nboxes %v\nscores %v",
				trial, n, maxOut, iouT, scoreT, got.I32, want, boxes, scores)
		}
	}
}

// TestNMSIndexCases: hand-made cases of the definition's edges.
func TestNMSIndexCases(t *testing.T) {
	cases := []struct {
		name          string
		boxes, scores []float32
		maxOut        int
		iouT, scoreT  float32
		want          []int32
	}{
		{"ties to the lower index", []float32{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3}, []float32{0.5, 0.5, 0.5}, 3, 0.5, 0, []int32{0, 2, -1}},
		{"score equal to the threshold is a candidate", []float32{0, 0, 1, 1, 2, 2, 3, 3}, []float32{0.4, 0.3}, 2, 0.5, 0.4, []int32{0, -1}},
		{"iou equal to the threshold keeps", []float32{0, 0, 1, 2, 0, 1, 1, 3}, []float32{0.9, 0.8}, 2, float32(1) / 3, 0, []int32{0, 1}},
		{"iou above the threshold drops", []float32{0, 0, 1, 2, 0, 1, 1, 3}, []float32{0.9, 0.8}, 2, 0.33, 0, []int32{0, -1}},
		{"flipped corners", []float32{1, 1, 0, 0, 0, 0, 1, 1}, []float32{0.9, 0.8}, 2, 0.5, 0, []int32{0, -1}},
		{"zero area never suppresses", []float32{0, 0, 0, 1, 0, 0, 0, 1}, []float32{0.9, 0.8}, 2, 0.1, 0, []int32{0, 1}},
		{"NaN is no candidate", []float32{0, 0, 1, 1, 2, 2, 3, 3}, []float32{float32(math.NaN()), 0.1}, 2, 0.5, float32(math.Inf(-1)), []int32{1, -1}},
	}
	for _, c := range cases {
		attrs := ir.Attrs{"max_output": ir.Int(c.maxOut), "iou_threshold": ir.Float(c.iouT), "score_threshold": ir.Float(c.scoreT)}
		n := len(c.scores)
		got := eval1(t, "nms_index", []*ir.Tensor{f32t([]int{n, 4}, c.boxes...), f32t([]int{n}, c.scores...)}, nil, attrs, ir.Type{})
		if fmt.Sprint(got.I32) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got.I32, c.want)
		}
		if ref := nmsRef(c.boxes, c.scores, c.maxOut, c.iouT, c.scoreT); fmt.Sprint(ref) != fmt.Sprint(c.want) {
			t.Errorf("%s: the reference gives %v, want %v", c.name, ref, c.want)
		}
	}
}
