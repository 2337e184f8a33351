package tflite

import (
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// nmsModel is a NON_MAX_SUPPRESSION_V4 (or V5) model of n boxes with
// constant max_output_size m and thresholds.
func nmsModel(v5 bool, n, m int, iou, score float32) tModel {
	t := []tTensor{
		{name: "boxes", shape: []int32{int32(n), 4}, typ: fb.TensorTypeFLOAT32},
		{name: "scores", shape: []int32{int32(n)}, typ: fb.TensorTypeFLOAT32},
		{name: "max_output_size", shape: []int32{}, typ: fb.TensorTypeINT32, data: i32Bytes(int32(m))},
		{name: "iou_threshold", shape: []int32{}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(iou)},
		{name: "score_threshold", shape: []int32{}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(score)},
	}
	in := []int32{0, 1, 2, 3, 4}
	code := fb.BuiltinOperatorNON_MAX_SUPPRESSION_V4
	if v5 {
		code = fb.BuiltinOperatorNON_MAX_SUPPRESSION_V5
		t = append(t, tTensor{name: "soft_nms_sigma", shape: []int32{}, typ: fb.TensorTypeFLOAT32, data: f32Bytes(0)})
		in = append(in, 5)
	}
	out := []int32{int32(len(t))}
	t = append(t, tTensor{name: "selected_indices", shape: []int32{int32(m)}, typ: fb.TensorTypeINT32})
	if v5 {
		out = append(out, int32(len(t)))
		t = append(t, tTensor{name: "selected_scores", shape: []int32{int32(m)}, typ: fb.TensorTypeFLOAT32})
	}
	out = append(out, int32(len(t)))
	t = append(t, tTensor{name: "valid_outputs", shape: []int32{}, typ: fb.TensorTypeINT32})
	return tModel{tensors: t, ops: []tOp{{code: code, in: in, out: out}}, inputs: []int32{0, 1}, outputs: out}
}

// nmsReference is TFLite's hard NMS written from its definition: boxes
// with score > scoreT by decreasing score, each kept unless its IoU with
// a kept one is >= iouT; the first m, padded with index 0 and score 0.
func nmsReference(boxes, scores []float32, m int, iouT, scoreT float32) ([]int32, []float32, int32) {
	var cand []int
	for i, s := range scores {
		if s > scoreT {
			cand = append(cand, i)
		}
	}
	sort.SliceStable(cand, func(a, b int) bool { return scores[cand[a]] > scores[cand[b]] })
	iou := func(i, j int) float32 {
		a, b := boxes[4*i:4*i+4], boxes[4*j:4*j+4]
		ay0, ay1 := min(a[0], a[2]), max(a[0], a[2])
		ax0, ax1 := min(a[1], a[3]), max(a[1], a[3])
		by0, by1 := min(b[0], b[2]), max(b[0], b[2])
		bx0, bx1 := min(b[1], b[3]), max(b[1], b[3])
		areaA, areaB := (ay1-ay0)*(ax1-ax0), (by1-by0)*(bx1-bx0)
		if areaA <= 0 || areaB <= 0 {
			return 0
		}
		inter := max(min(ay1, by1)-max(ay0, by0), 0) * max(min(ax1, bx1)-max(ax0, bx0), 0)
		return inter / (areaA + areaB - inter)
	}
	idx, sc := make([]int32, m), make([]float32, m)
	var kept []int
	for _, c := range cand {
		if len(kept) == m {
			break
		}
		ok := true
		for _, k := range kept {
			if iou(c, k) >= iouT {
				ok = false
				break
			}
		}
		if ok {
			idx[len(kept)], sc[len(kept)] = int32(c), scores[c]
			kept = append(kept, c)
		}
	}
	return idx, sc, int32(len(kept))
}

// TestNonMaxSuppression: NON_MAX_SUPPRESSION_V4 and V5 against the
// reference on random boxes (some flipped, some empty) and distinct
// scores, with thresholds that scores and IoUs hit exactly.
func TestNonMaxSuppression(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, tc := range []struct {
		v5         bool
		n, m       int
		iou, score float32
	}{{false, 30, 10, 0.5, 0.2}, {true, 60, 60, 0.3, 0.5}, {false, 8, 3, 0, 0}, {true, 100, 5, 1, -1}} {
		g, err := ImportBytes("nms.tflite", func() []byte { m := nmsModel(tc.v5, tc.n, tc.m, tc.iou, tc.score); return m.build() }(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 5; k++ {
			boxes := make([]float32, 4*tc.n)
			for i := 0; i < tc.n; i++ {
				y, x := r.Float32(), r.Float32()
				h, w := r.Float32()*0.4, r.Float32()*0.4
				if i%9 == 3 {
					h = 0 // empty: never suppresses, never suppressed
				}
				b := []float32{y, x, y + h, x + w}
				if i%5 == 2 {
					b = []float32{y + h, x + w, y, x} // flipped corners
				}
				copy(boxes[4*i:], b)
			}
			perm := r.Perm(tc.n)
			scores := make([]float32, tc.n)
			for i, p := range perm {
				scores[i] = float32(p) / float32(tc.n) // distinct; some exactly at the threshold
			}
			if tc.n > 4 {
				copy(boxes[4:8], boxes[0:4]) // IoU exactly 1 (and >= any threshold)
			}
			out, err := rt.Run(g, []*ir.Tensor{ir.FromF32([]int{tc.n, 4}, boxes), ir.FromF32([]int{tc.n}, scores)})
			if err != nil {
				t.Fatal(err)
			}
			idx, sc, cnt := nmsReference(boxes, scores, tc.m, tc.iou, tc.score)
			if !slices.Equal(out[0].I32, idx) {
				t.Errorf("v5=%v n=%d: indices %v, want %v", tc.v5, tc.n, out[0].I32, idx)
			}
			last := out[len(out)-1]
			if len(last.Shape) != 0 || last.I32[0] != cnt {
				t.Errorf("v5=%v n=%d: valid_outputs %v %v, want [] %d", tc.v5, tc.n, last.Shape, last.I32, cnt)
			}
			if tc.v5 && !slices.Equal(out[1].F32, sc) {
				t.Errorf("v5 n=%d: scores %v, want %v", tc.n, out[1].F32, sc)
			}
		}
	}
	// Soft-NMS is refused with the reason.
	m := nmsModel(true, 4, 2, 0.5, 0)
	m.tensors[5].data = f32Bytes(0.5)
	if _, err := ImportBytes("soft.tflite", m.build(), Options{}); err == nil || !strings.Contains(err.Error(), "Soft-NMS") {
		t.Errorf("soft_nms_sigma 0.5: err = %v", err)
	}
}

// nmsLiteRTModels adds NON_MAX_SUPPRESSION_V4/V5 models to the LiteRT.js
// comparison (tests/litert's TestLiteRTOpModels draws their inputs).
func nmsLiteRTModels(ms map[string]*tModel) {
	for name, m := range map[string]tModel{
		"nms_v4":      nmsModel(false, 50, 10, 0.5, 0.3),
		"nms_v4_all":  nmsModel(false, 40, 40, 0.3, -1),
		"nms_v5":      nmsModel(true, 60, 15, 0.4, 0.1),
		"nms_v5_zero": nmsModel(true, 30, 8, 0, 0.2),
	} {
		ms[name] = &m
	}
}
