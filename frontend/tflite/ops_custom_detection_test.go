package tflite

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
	"github.com/pare-ml/pare/ir"
)

// flexMapBytes writes a FlexBuffers map of scalars (int, float64, bool) as the
// flexbuffers builder lays it out: key strings, the keys vector, then the
// map (keys offset, keys width, size, values, one packed type per value)
// and the root (offset, packed type, width). Everything is 8 bytes wide;
// keys are sorted, as readers that binary-search them need.
func flexMapBytes(vals map[string]any) []byte {
	var keys []string
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	u64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	align := func() {
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
	}
	keyPos := make([]int, len(keys))
	for i, k := range keys {
		keyPos[i] = len(b)
		b = append(append(b, k...), 0)
	}
	align()
	u64(uint64(len(keys)))
	keysData := len(b)
	for i := range keys {
		u64(uint64(len(b) - keyPos[i]))
	}
	u64(uint64(len(b) - keysData)) // keys vector offset
	u64(8)                         // keys width
	u64(uint64(len(keys)))
	mapData := len(b)
	var types []byte
	for _, k := range keys {
		switch v := vals[k].(type) {
		case int:
			u64(uint64(int64(v)))
			types = append(types, flexInt<<2|3)
		case float64:
			u64(math.Float64bits(v))
			types = append(types, flexFloat<<2|3)
		case bool:
			x := uint64(0)
			if v {
				x = 1
			}
			u64(x)
			types = append(types, flexBool<<2|3)
		default:
			panic("flexMapBytes: unsupported value")
		}
	}
	b = append(b, types...)
	align()
	u64(uint64(len(b) - mapData))
	return append(b, flexMap<<2|3, 8)
}

func TestFlexMapRoundTrip(t *testing.T) {
	m, err := flexMapOf(flexMapBytes(map[string]any{"b": true, "i": -7, "f": 0.25, "z": false}))
	if err != nil {
		t.Fatal(err)
	}
	if m["b"].num != 1 || m["i"].num != -7 || m["f"].num != 0.25 || m["z"].num != 0 || len(m) != 4 {
		t.Errorf("read %v", m)
	}
	for _, bad := range [][]byte{nil, {1, 2}, {0, flexMap<<2 | 3, 8}, {200, 36 << 2, 1}} {
		if _, err := flexMapOf(bad); err == nil {
			t.Errorf("%v read without an error", bad)
		}
	}
}

// FuzzFlexMap: any bytes read as a FlexBuffers map give an error or a
// map, never a panic.
func FuzzFlexMap(f *testing.F) {
	f.Add(detCases[0].options())
	f.Add(flexMapBytes(map[string]any{"a": 1}))
	f.Fuzz(func(t *testing.T, b []byte) { flexMapOf(b) })
}

// detCase is one TFLite_Detection_PostProcess model.
type detCase struct {
	name                    string
	anchors, classes        int // anchors; classes without the background
	background              bool
	maxDet, maxCls          int
	scoreT, iouT            float64
	u8                      bool
	extra                   int // box encoding columns after the 4 (keypoints)
	ys, xs, hs, ws          float64
	scoreScale, scoreOffset float64
	regular                 bool // use_regular_nms
	perClass                int  // detections_per_class (0: 100)
}

func (c detCase) options() []byte {
	return flexMapBytes(map[string]any{"max_detections": c.maxDet, "max_classes_per_detection": c.maxCls,
		"detections_per_class": cmp.Or(c.perClass, 100), "use_regular_nms": c.regular, "nms_score_threshold": c.scoreT, "nms_iou_threshold": c.iouT,
		"num_classes": c.classes, "y_scale": c.ys, "x_scale": c.xs, "h_scale": c.hs, "w_scale": c.ws})
}

// detQuant: the quantization of the uint8 forms.
var detQuant = struct{ enc, cls, anc [2]float64 }{[2]float64{0.05, 128}, [2]float64{1.0 / 256, 0}, [2]float64{1.0 / 255, 0}}

// model returns the model, its inputs and their values as the kernel sees
// them (dequantized), and the anchors.
func (c detCase) model(rng *rand.Rand) (oneOp, []*ir.Tensor, [][]float64) {
	n, cw, l := c.anchors, c.classes, 4+c.extra
	if c.background {
		cw++
	}
	// SSD-like anchors: centers on a grid, several sizes, much overlap.
	anc := make([]float64, 4*n)
	for i := 0; i < n; i++ {
		g := 1 + i%5
		anc[4*i] = (float64(i/5%19) + 0.5) / 19
		anc[4*i+1] = (float64(i/95%19) + 0.5) / 19
		anc[4*i+2] = 0.1 * float64(g) * (0.5 + rng.Float64())
		anc[4*i+3] = 0.1 * float64(g) * (0.5 + rng.Float64())
	}
	enc, _ := randF32(rng, 1, n, l)
	cls := ir.NewTensor(ir.F32, []int{1, n, cw})
	for i := range cls.F32 {
		cls.F32[i] = float32(sigmoid(rng.NormFloat64()*c.scoreScale - c.scoreOffset))
		if rng.Intn(7) == 0 && i > 0 {
			cls.F32[i] = cls.F32[i-1] // ties
		}
	}
	encIn, clsIn := f32In(1, int32(n), int32(l)), f32In(1, int32(n), int32(cw))
	var ancIn opIn
	ancF := make([]float64, 4*n)
	encV, clsV := make([]float64, len(enc.F32)), make([]float64, len(cls.F32))
	if c.u8 {
		q := func(x float64, p [2]float64) uint8 { return uint8(max(0, min(255, math.Round(x/p[0]+p[1])))) }
		dq := func(v uint8, p [2]float64) float64 {
			return float64((float32(v) - float32(p[1])) * float32(p[0]))
		}
		encU, clsU, ancU := ir.NewTensor(ir.U8, enc.Shape), ir.NewTensor(ir.U8, cls.Shape), make([]byte, 4*n)
		for i, x := range enc.F32 {
			encU.U8[i] = q(float64(x), detQuant.enc)
			encV[i] = dq(encU.U8[i], detQuant.enc)
		}
		for i, x := range cls.F32 {
			clsU.U8[i] = q(float64(x), detQuant.cls)
			clsV[i] = dq(clsU.U8[i], detQuant.cls)
		}
		for i, x := range anc {
			ancU[i] = q(x, detQuant.anc)
			ancF[i] = dq(ancU[i], detQuant.anc)
		}
		enc, cls = encU, clsU
		encIn = opIn{shape: encIn.shape, typ: fb.TensorTypeUINT8, scale: float32(detQuant.enc[0]), zp: int64(detQuant.enc[1])}
		clsIn = opIn{shape: clsIn.shape, typ: fb.TensorTypeUINT8, scale: float32(detQuant.cls[0]), zp: int64(detQuant.cls[1])}
		ancIn = opIn{shape: []int32{int32(n), 4}, typ: fb.TensorTypeUINT8, data: ancU, scale: float32(detQuant.anc[0]), zp: int64(detQuant.anc[1])}
	} else {
		a32 := make([]float32, 4*n)
		for i, x := range anc {
			a32[i] = float32(x)
			ancF[i] = float64(a32[i])
		}
		for i, x := range enc.F32 {
			encV[i] = float64(x)
		}
		for i, x := range cls.F32 {
			clsV[i] = float64(x)
		}
		ancIn = f32Const([]int32{int32(n), 4}, a32...)
	}
	slots := int32(c.maxDet * c.maxCls)
	op := oneOp{code: fb.BuiltinOperatorCUSTOM, custom: "TFLite_Detection_PostProcess", customOpts: c.options(),
		ins:  []opIn{encIn, clsIn, ancIn},
		outs: []opIn{f32In(1, slots, 4), f32In(1, slots), f32In(1, slots), f32In(1)}}
	return op, []*ir.Tensor{enc, cls}, [][]float64{encV, clsV, ancF}
}

// detectionRef is TFLite_Detection_PostProcess's fast path written from
// its definition: boxes decoded in float64 and rounded to f32 (ycenter =
// ty / y_scale · ah + ay, half = 0.5 · exp(th / h_scale) · ah), per
// anchor the classes sorted by decreasing score (stable), the best score
// kept when >= the threshold, a stable sort of those by score, greedy IoU
// suppression (IoU in f32, 0 for an empty box), then per selected anchor
// its box, best classes and scores; zeros elsewhere.
func detectionRef(c detCase, enc, cls, anc []float64) (boxes, classes, scores []float64, count int) {
	n, l, cw := c.anchors, 4+c.extra, c.classes
	off := 0
	if c.background {
		cw, off = cw+1, 1
	}
	dec := make([][4]float32, n)
	for i := 0; i < n; i++ {
		e, a := enc[i*l:], anc[4*i:]
		yc := e[0]/c.ys*a[2] + a[0]
		xc := e[1]/c.xs*a[3] + a[1]
		hh := 0.5 * math.Exp(e[2]/c.hs) * a[2]
		hw := 0.5 * math.Exp(e[3]/c.ws) * a[3]
		y, x, h, w := float32(yc), float32(xc), float32(hh), float32(hw)
		dec[i] = [4]float32{y - h, x - w, y + h, x + w}
	}
	k := min(c.maxCls, c.classes)
	order := make([][]int, n)
	var keep []int
	for i := 0; i < n; i++ {
		row := cls[i*cw+off : i*cw+cw]
		o := make([]int, c.classes)
		for j := range o {
			o[j] = j
		}
		sort.SliceStable(o, func(a, b int) bool { return row[o[a]] > row[o[b]] })
		order[i] = o[:k]
		if row[o[0]] >= float64(float32(c.scoreT)) {
			keep = append(keep, i)
		}
	}
	best := func(i int) float64 { return cls[i*cw+off+order[i][0]] }
	sort.SliceStable(keep, func(a, b int) bool { return best(keep[a]) > best(keep[b]) })
	iou := func(a, b [4]float32) float32 {
		aa, ab := (a[2]-a[0])*(a[3]-a[1]), (b[2]-b[0])*(b[3]-b[1])
		if aa <= 0 || ab <= 0 {
			return 0
		}
		ih := float32(math.Max(math.Min(float64(a[2]), float64(b[2]))-math.Max(float64(a[0]), float64(b[0])), 0))
		iw := float32(math.Max(math.Min(float64(a[3]), float64(b[3]))-math.Max(float64(a[1]), float64(b[1])), 0))
		in := ih * iw
		return in / (aa + ab - in)
	}
	greedy := func(keep []int, limit int) []int {
		dropped := make([]bool, len(keep))
		var sel []int
		for a := range keep {
			if len(sel) == limit {
				break
			}
			if dropped[a] {
				continue
			}
			sel = append(sel, keep[a])
			for b := a + 1; b < len(keep); b++ {
				if !dropped[b] && iou(dec[keep[a]], dec[keep[b]]) > float32(c.iouT) {
					dropped[b] = true
				}
			}
		}
		return sel
	}
	slots := c.maxDet * c.maxCls
	if c.regular {
		// Per class: threshold, stable sort, greedy NMS of at most
		// detections_per_class; then the best max_detections of all
		// (a stable sort of the class-major list).
		type det struct {
			anchor, class int
			score         float64
		}
		var all []det
		for k := 0; k < c.classes; k++ {
			score := func(i int) float64 { return cls[i*cw+off+k] }
			var keep []int
			for i := 0; i < n; i++ {
				if score(i) >= float64(float32(c.scoreT)) {
					keep = append(keep, i)
				}
			}
			sort.SliceStable(keep, func(a, b int) bool { return score(keep[a]) > score(keep[b]) })
			for _, i := range greedy(keep, cmp.Or(c.perClass, 100)) {
				all = append(all, det{i, k, score(i)})
			}
		}
		sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
		all = all[:min(len(all), c.maxDet)]
		boxes, classes, scores = make([]float64, 4*slots), make([]float64, slots), make([]float64, slots)
		for s, e := range all {
			for q := 0; q < 4; q++ {
				boxes[4*s+q] = float64(dec[e.anchor][q])
			}
			classes[s], scores[s] = float64(e.class), e.score
		}
		return boxes, classes, scores, len(all)
	}
	sel := greedy(keep, c.maxDet)
	boxes, classes, scores = make([]float64, 4*slots), make([]float64, slots), make([]float64, slots)
	for r, i := range sel {
		for j, cl := range order[i] {
			s := r*c.maxCls + j
			for q := 0; q < 4; q++ {
				boxes[4*s+q] = float64(dec[i][q])
			}
			classes[s], scores[s] = float64(cl), cls[i*cw+off+cl]
		}
	}
	return boxes, classes, scores, len(sel)
}

var detCases = []detCase{
	{name: "small", anchors: 12, classes: 3, background: true, maxDet: 5, maxCls: 1, scoreT: 0.3, iouT: 0.5, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, scoreOffset: 0},
	{name: "no_background_keypoints", anchors: 40, classes: 4, maxDet: 8, maxCls: 1, scoreT: 0.2, iouT: 0.6, extra: 4, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, scoreOffset: 1},
	{name: "three_classes_per_box", anchors: 30, classes: 5, background: true, maxDet: 6, maxCls: 3, scoreT: 0.1, iouT: 0.4, ys: 8, xs: 9, hs: 4, ws: 6, scoreScale: 2, scoreOffset: 1},
	{name: "more_classes_per_box_than_classes", anchors: 20, classes: 2, background: true, maxDet: 4, maxCls: 3, scoreT: 0, iouT: 0.5, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 1, scoreOffset: 0},
	{name: "ssd_mobilenet_v2", anchors: 1917, classes: 90, background: true, maxDet: 10, maxCls: 1, scoreT: 1e-8, iouT: 0.6, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, scoreOffset: 6},
	{name: "ssd_mobilenet_v1_quant", anchors: 1917, classes: 90, background: true, maxDet: 10, maxCls: 1, scoreT: 1e-8, iouT: 0.6, u8: true, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, scoreOffset: 6},
	{name: "regular_small", anchors: 30, classes: 4, background: true, maxDet: 8, maxCls: 1, scoreT: 0.3, iouT: 0.5, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, regular: true, perClass: 3},
	{name: "regular_few", anchors: 40, classes: 3, maxDet: 30, maxCls: 2, scoreT: 0.6, iouT: 0.4, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, regular: true, perClass: 5},
	{name: "regular_ssd", anchors: 1917, classes: 90, background: true, maxDet: 100, maxCls: 1, scoreT: 0.3, iouT: 0.6, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 2, scoreOffset: 4, regular: true},
	{name: "small_quant_ties", anchors: 60, classes: 3, background: true, maxDet: 20, maxCls: 1, scoreT: 0.25, iouT: 0.3, u8: true, ys: 10, xs: 10, hs: 5, ws: 5, scoreScale: 1, scoreOffset: 0},
}

// TestDetectionPostProcess imports TFLite_Detection_PostProcess models (float
// and uint8, 12 to 1917 anchors, with and without a background column,
// one or more classes per detection), runs them in rt and compares with
// detectionRef: the count, classes and scores exactly, boxes within 1e-5
// (TFLite decodes in double, the IR in f32), zeros after the count.
func TestDetectionPostProcess(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, c := range detCases {
		t.Run(c.name, func(t *testing.T) {
			op, ins, vals := c.model(rng)
			g, outs := op.run(t, ins...)
			// The IR text round-trips (nms_index, -inf constants, 90 classes).
			text := g.String()
			back, err := ir.Parse("det.ir", []byte(text), ir.WeightsOf(g))
			if err != nil || back.String() != text {
				t.Fatalf("print → parse → print: %v", err)
			}
			boxes, classes, scores, count := detectionRef(c, vals[0], vals[1], vals[2])
			if got := outs[3].F32[0]; got != float32(count) {
				t.Fatalf("count %v, want %d\n%v", got, count, g)
			}
			t.Logf("count %d of %d", count, c.maxDet)
			for i, w := range classes {
				if outs[1].F32[i] != float32(w) || outs[2].F32[i] != float32(scores[i]) {
					t.Fatalf("slot %d: class %v score %v, want %v %v", i, outs[1].F32[i], outs[2].F32[i], w, scores[i])
				}
			}
			for i, w := range boxes {
				if d := math.Abs(float64(outs[0].F32[i]) - w); d > 1e-5 {
					t.Fatalf("box %d coordinate %d: %v, want %v", i/4, i%4, outs[0].F32[i], w)
				}
			}
		})
	}
}

// TestDetectionPostProcessErrors: options and inputs the import rejects.
func TestDetectionPostProcessErrors(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	base := detCases[0]
	for _, tc := range []struct {
		change func(o map[string]any)
		want   string
	}{
		{func(o map[string]any) { o["use_regular_nms"] = true; o["detections_per_class"] = 0 }, "detections_per_class 0 must be positive"},
		{func(o map[string]any) { o["nms_iou_threshold"] = 0.0 }, "nms_iou_threshold 0 must be in (0, 1]"},
		{func(o map[string]any) { delete(o, "num_classes") }, "custom_options has no num_classes"},
		{func(o map[string]any) { o["num_classes"] = 7 }, "num_classes 7"},
		{func(o map[string]any) { o["y_scale"] = 0.0 }, "must not be zero"},
		{func(o map[string]any) { o["max_detections"] = 0 }, "max_detections 0 must be positive"},
	} {
		op, _, _ := base.model(rng)
		o := map[string]any{"max_detections": base.maxDet, "max_classes_per_detection": 1, "nms_score_threshold": 0.3, "nms_iou_threshold": 0.5,
			"num_classes": base.classes, "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
		tc.change(o)
		op.customOpts = flexMapBytes(o)
		_, err := ImportBytes("op.tflite", op.model().build(), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "TFLite_Detection_PostProcess") {
			t.Errorf("error %v, want one naming the op and saying %q", err, tc.want)
		}
	}
}

// detectionLiteRTModels adds TFLite_Detection_PostProcess models to the
// single-operator models tests/litert compares with LiteRT.js (which
// feeds floats in [-1, 1) and uint8 over their range).
func detectionLiteRTModels(ms map[string]*tModel) {
	rng := rand.New(rand.NewSource(5))
	for _, c := range []detCase{
		{name: "detection_postprocess_f32", anchors: 100, classes: 6, background: true, maxDet: 10, maxCls: 1, scoreT: 0.3, iouT: 0.5, ys: 10, xs: 10, hs: 5, ws: 5},
		{name: "detection_postprocess_ssd_f32", anchors: 1917, classes: 90, background: true, maxDet: 10, maxCls: 1, scoreT: 0.5, iouT: 0.6, ys: 10, xs: 10, hs: 5, ws: 5},
		{name: "detection_postprocess_classes3_f32", anchors: 50, classes: 5, maxDet: 5, maxCls: 3, scoreT: 0.2, iouT: 0.4, ys: 8, xs: 9, hs: 4, ws: 6, extra: 2},
		{name: "detection_postprocess_u8", anchors: 200, classes: 8, background: true, maxDet: 20, maxCls: 1, scoreT: 0.4, iouT: 0.5, u8: true, ys: 10, xs: 10, hs: 5, ws: 5},
		{name: "detection_postprocess_few_u8", anchors: 300, classes: 8, background: true, maxDet: 60, maxCls: 1, scoreT: 0.97, iouT: 0.3, u8: true, ys: 10, xs: 10, hs: 5, ws: 5},
		{name: "detection_postprocess_regular_f32", anchors: 200, classes: 5, background: true, maxDet: 20, maxCls: 1, scoreT: 0.5, iouT: 0.5, ys: 10, xs: 10, hs: 5, ws: 5, regular: true, perClass: 6},
		{name: "detection_postprocess_regular_ssd_f32", anchors: 1917, classes: 90, background: true, maxDet: 100, maxCls: 1, scoreT: 0.9, iouT: 0.6, ys: 10, xs: 10, hs: 5, ws: 5, regular: true},
		{name: "detection_postprocess_regular_few_f32", anchors: 100, classes: 3, maxDet: 40, maxCls: 2, scoreT: 0.9, iouT: 0.3, ys: 10, xs: 10, hs: 5, ws: 5, regular: true, perClass: 4},
		{name: "detection_postprocess_regular_u8", anchors: 200, classes: 5, background: true, maxDet: 25, maxCls: 1, scoreT: 0.8, iouT: 0.5, u8: true, ys: 10, xs: 10, hs: 5, ws: 5, regular: true, perClass: 5},
		{name: "detection_postprocess_few_f32", anchors: 300, classes: 3, maxDet: 50, maxCls: 2, scoreT: 0.95, iouT: 0.5, ys: 10, xs: 10, hs: 5, ws: 5},
	} {
		c.scoreScale = 1
		op, _, _ := c.model(rng)
		ms[c.name] = op.model()
	}
}

// detectionFamily is TFLite_Detection_PostProcess models side by side
// (float and uint8, one and three classes per detection, regular NMS, 1917
// anchors × 91 classes among them) for TestExtraOpsCompiled.
func detectionFamily() *tModel {
	rng := rand.New(rand.NewSource(13))
	var ms []*tModel
	for _, c := range detCases {
		if c.name == "no_background_keypoints" || c.name == "more_classes_per_box_than_classes" || c.name == "regular_ssd" {
			continue
		}
		op, _, _ := c.model(rng)
		ms = append(ms, op.model())
	}
	return merge(ms...)
}
