package onnx

import (
	"math"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Attention and RotaryEmbedding (opset 23), decomposed into matmul,
// softmax, transpose, reshape, slice, concat, mul, add, where and tanh.

// attnLayout is the [batch, heads, seq, head size] view of one of Q, K, V.
type attnLayout struct {
	b, h, s, d int
}

// attnHeads brings a Q, K or V input to [batch, heads, seq, head size]: a
// 3-D input [batch, seq, heads·head size] is reshaped and transposed with
// heads from the attribute attr; a 4-D one is that layout already.
func (c *nodeCtx) attnHeads(b *builder, x *ir.Value, what, attr string) (*ir.Value, attnLayout, error) {
	s := x.Type.Shape
	if len(s) == 4 {
		if h := c.int(attr, 0); h != 0 && h != s[1] {
			return nil, attnLayout{}, c.errf("%s %v has %d heads, but %s is %d", what, s, s[1], attr, h)
		}
		return x, attnLayout{s[0], s[1], s[2], s[3]}, nil
	}
	h := c.int(attr, 0)
	if h <= 0 {
		return nil, attnLayout{}, c.errf("%s %v is 3-D: the %s attribute must give its number of heads (> 0)", what, s, attr)
	}
	if s[2]%h != 0 {
		return nil, attnLayout{}, c.errf("%s hidden size %d is not a multiple of %s %d", what, s[2], attr, h)
	}
	l := attnLayout{s[0], h, s[1], s[2] / h}
	y := b.reshape(what+"_heads", x, []int{l.b, l.s, l.h, l.d})
	y = b.op("transpose", what+"_bhsd", ir.Attrs{"perm": ir.Ints(0, 2, 1, 3)}, y)
	return y, l, b.err
}

// convAttention: scaled dot-product attention, multi-head or grouped
// (kv_num_heads dividing q_num_heads; each K/V head serves a contiguous
// group of query heads, so the query heads of a group are stacked as rows
// of one matmul against their K head instead of repeating K and V).
// bias = attn_mask (bool: 0 where true, −inf where false; a last dim
// shorter than the total sequence padded with −inf) + the causal mask
// (query i sees the past and keys up to i: −inf above the diagonal that
// starts at the past length); scores = softcap(Q·scale · Kᵀ) + bias (the
// softcap before the mask, so masked scores stay −inf: ONNX's reference
// and ONNX Runtime 1.30); Y = softmax(scores) · V, a query that sees no
// key getting 0 as in ONNX Runtime (ONNX's reference gives NaN). The past key and value
// are concatenated before K and V (outputs 1 and 2); output 3 is the
// scores after the matmul (mode 0), the softcap (1), the bias (2) or the
// softmax (3), as ONNX Runtime 1.30 numbers them.
func convAttention(c *nodeCtx) error {
	vs := make([]*ir.Value, 3)
	for i := range vs {
		x, err := c.floatIn(i)
		if err != nil {
			return err
		}
		vs[i] = x
	}
	q, k, v := vs[0], vs[1], vs[2]
	r := q.Type.Rank()
	if r != 3 && r != 4 || k.Type.Rank() != r || v.Type.Rank() != r {
		return c.errf("Q %v, K %v and V %v must all be 3-D or all 4-D", q.Type.Shape, k.Type.Shape, v.Type.Shape)
	}
	if c.in(6) != nil {
		return c.unsupported("input 6 (nonpad_kv_seqlen) is not supported")
	}
	switch p := c.int("softmax_precision", 1); p {
	case 0, 1, 10, 11, 16: // unset, FLOAT, FLOAT16, DOUBLE, BFLOAT16: computed in f32
	default:
		return c.errf("softmax_precision %d is not a floating-point type", p)
	}
	sc := float64(c.float("softcap", 0))
	if sc < 0 || math.IsNaN(sc) {
		return c.errf("softcap %g must be >= 0", sc)
	}
	mode := c.int("qk_matmul_output_mode", 0)
	if mode < 0 || mode > 3 {
		return c.errf("qk_matmul_output_mode %d (want 0 to 3)", mode)
	}
	b := c.build()
	q, lq, err := c.attnHeads(b, q, "Q", "q_num_heads")
	if err != nil {
		return err
	}
	k, lk, err := c.attnHeads(b, k, "K", "kv_num_heads")
	if err != nil {
		return err
	}
	v, lv, err := c.attnHeads(b, v, "V", "kv_num_heads")
	if err != nil {
		return err
	}
	if lk.b != lq.b || lv.b != lq.b || lk.h != lv.h || lk.s != lv.s || lk.d != lq.d {
		return c.errf("Q %v, K %v and V %v do not agree (batch, K and V heads and sequence, Q and K head size)", c.in(0).Type.Shape, c.in(1).Type.Shape, c.in(2).Type.Shape)
	}
	if lk.h <= 0 || lq.h%lk.h != 0 {
		return c.errf("%d query heads are not a multiple of %d key/value heads", lq.h, lk.h)
	}
	// The past key and value, [batch, kv heads, past, head size].
	pk, pv := c.in(4), c.in(5)
	past := 0
	if (pk == nil) != (pv == nil) {
		return c.errf("past_key and past_value must be given together")
	}
	if pk != nil {
		if _, err := c.floatIn(4); err != nil {
			return err
		}
		if _, err := c.floatIn(5); err != nil {
			return err
		}
		ps, pvs := pk.Type.Shape, pv.Type.Shape
		if len(ps) != 4 || len(pvs) != 4 || ps[0] != lk.b || ps[1] != lk.h || ps[3] != lk.d || pvs[0] != lk.b || pvs[1] != lk.h || pvs[2] != ps[2] || pvs[3] != lv.d {
			return c.errf("past_key %v and past_value %v must be [%d, %d, past, %d] and [%d, %d, past, %d]", ps, pvs, lk.b, lk.h, lk.d, lk.b, lk.h, lv.d)
		}
		past = ps[2]
		k = b.op("concat", "present_key", ir.Attrs{"axis": ir.Int(2)}, pk, k)
		v = b.op("concat", "present_value", ir.Attrs{"axis": ir.Int(2)}, pv, v)
	}
	t := past + lk.s // the total sequence
	scale := 1 / math.Sqrt(float64(lq.d))
	if c.has("scale") {
		scale = float64(c.float("scale", 0))
	}
	bias, err := c.attnBias(b, lq, past, t)
	if err != nil {
		return err
	}
	// Grouped heads: Q [B, Hq, S, D] viewed as [B, Hkv, rep·S, D].
	rep := lq.h / lk.h
	qs := b.op("mul", "Q_scaled", nil, q, b.k("scale", scale))
	qs = b.reshape("Q_groups", qs, []int{lq.b, lk.h, rep * lq.s, lq.d})
	kt := b.op("transpose", "K_t", ir.Attrs{"perm": ir.Ints(0, 1, 3, 2)}, k)
	qk := b.reshape("qk", b.op("matmul", "qk_groups", nil, qs, kt), []int{lq.b, lq.h, lq.s, t})
	// The stages qk_matmul_output_mode selects: the scaled product, after
	// the softcap, after the bias, after the softmax.
	stages := []*ir.Value{qk}
	scores := qk
	if sc > 0 {
		th := b.op("tanh", "qk_tanh", nil, b.op("mul", "qk_over_cap", nil, scores, b.k("inv_softcap", 1/sc)))
		scores = b.op("mul", "qk_softcapped", nil, th, b.k("softcap", sc))
	}
	stages = append(stages, scores)
	if bias != nil {
		scores = b.op("add", "qk_masked", nil, scores, bias)
	}
	stages = append(stages, scores)
	p := b.op("softmax", "probs", ir.Attrs{"axis": ir.Int(3)}, scores)
	if bias != nil && deadRows(bias) {
		// A query the mask hides every key from gets probabilities 0
		// (ONNX Runtime's result), not the NaN of a softmax of −inf.
		alive := b.op("greater", "alive", nil, b.reduce("reduce_max", "bias_max", bias, []int{bias.Type.Rank() - 1}, true), b.k("neg_inf", math.Inf(-1)))
		p = b.op("where", "probs_alive", nil, alive, p, b.k("zero", 0))
	}
	stages = append(stages, p)
	y := b.op("matmul", "y_groups", nil, b.reshape("probs_groups", p, []int{lq.b, lk.h, rep * lq.s, t}), v)
	y = b.reshape("y_bhsd", y, []int{lq.b, lq.h, lq.s, lv.d})
	if r == 3 {
		y = b.op("transpose", "y_bshd", ir.Attrs{"perm": ir.Ints(0, 2, 1, 3)}, y)
		y = b.reshape("", y, []int{lq.b, lq.s, lq.h * lv.d})
	}
	if b.err != nil {
		return b.err
	}
	c.set(0, y)
	c.set(1, k)
	c.set(2, v)
	c.set(3, stages[mode])
	return nil
}

// attnBias is the additive bias of the scores [B, Hq, S, T] (nil when
// there is none): attn_mask made additive and padded to T, plus the causal
// mask.
func (c *nodeCtx) attnBias(b *builder, lq attnLayout, past, t int) (*ir.Value, error) {
	var bias *ir.Value
	if m := c.in(3); m != nil {
		s := m.Type.Shape
		r := len(s)
		if r < 2 || r > 4 || s[r-1] > t || s[r-1] < 1 {
			return nil, c.errf("attn_mask %v must have rank 2 to 4 and a last dim of 1 to the total sequence length %d", s, t)
		}
		full := []int{lq.b, lq.h, lq.s}
		for i := 0; i < r-1; i++ {
			if d, want := s[r-2-i], full[2-i]; d != 1 && d != want {
				return nil, c.errf("attn_mask %v does not broadcast to [%d, %d, %d, %d]", s, lq.b, lq.h, lq.s, t)
			}
		}
		switch {
		case m.Type.DType == ir.Bool:
			zero, ninf := b.k("mask_zero", 0), b.k("mask_neg_inf", math.Inf(-1))
			bias = b.op("where", "mask_bias", nil, m, zero, ninf)
		case m.Type.DType == ir.F32 && m.Type.Quant == nil:
			bias = m
		default:
			return nil, c.unsupported("attn_mask is %v; pare imports a BOOL or FLOAT mask", m.Type)
		}
		if pad := t - s[r-1]; pad > 0 {
			fill := ir.NewTensor(ir.F32, append(slices.Clone(s[:r-1]), pad))
			for i := range fill.F32 {
				fill.F32[i] = float32(math.Inf(-1))
			}
			bias = b.op("concat", "mask_padded", ir.Attrs{"axis": ir.Int(r - 1)}, bias, c.constant(c.tmpName("mask_pad"), fill, nil))
		}
	}
	if c.int("is_causal", 0) != 0 {
		// Aligned after the past: query i sees keys j <= past + i.
		causal := ir.NewTensor(ir.F32, []int{lq.s, t})
		for i := range lq.s {
			for j := past + i + 1; j < t; j++ {
				causal.F32[i*t+j] = float32(math.Inf(-1))
			}
		}
		cv := c.constant(c.tmpName("causal_mask"), causal, nil)
		if bias == nil {
			bias = cv
		} else {
			bias = b.op("add", "mask_causal", nil, bias, cv)
		}
	}
	return bias, b.err
}

// convRotaryEmbedding rotates the first rotary_embedding_dim (rd) features
// of each head by the angles whose cosines and sines the caches hold:
// with x1, x2 the halves of those features (interleaved: the even and odd
// ones), real = cos·x1 − sin·x2 and imag = sin·x1 + cos·x2 replace them
// (interleaved: back in alternation); the rest pass through. The caches
// are [batch, seq, rd/2], or [positions, rd/2] gathered at position_ids
// [batch, seq]. X is [batch, heads, seq, head size], or 3-D [batch, seq,
// heads·head size] with num_heads.
func convRotaryEmbedding(c *nodeCtx) error {
	x, err := c.floatIn(0)
	if err != nil {
		return err
	}
	cs, err := c.floatIn(1)
	if err != nil {
		return err
	}
	sn, err := c.floatIn(2)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	var bsz, h, seq, d int
	switch len(s) {
	case 4:
		bsz, h, seq, d = s[0], s[1], s[2], s[3]
	case 3:
		if h = c.int("num_heads", 0); h <= 0 || s[2]%h != 0 {
			return c.errf("input %v is 3-D: num_heads %d must be positive and divide its hidden size", s, h)
		}
		bsz, seq, d = s[0], s[1], s[2]/h
	default:
		return c.errf("input %v must be 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, head size]", s)
	}
	rd := c.int("rotary_embedding_dim", 0)
	if rd == 0 {
		rd = d
	}
	if rd < 2 || rd > d || rd%2 != 0 {
		return c.errf("rotary_embedding_dim %d must be even and in [2, head size %d]", rd, d)
	}
	half := rd / 2
	if !ir.EqualShape(cs.Type.Shape, sn.Type.Shape) {
		return c.errf("cos_cache %v and sin_cache %v differ in shape", cs.Type.Shape, sn.Type.Shape)
	}
	b := c.build()
	if pos := c.in(3); pos != nil {
		if !pos.Type.DType.IsInt() || pos.Type.Quant != nil || !ir.EqualShape(pos.Type.Shape, []int{bsz, seq}) {
			return c.errf("position_ids %v must be integers of shape [%d, %d]", pos.Type, bsz, seq)
		}
		if cs.Type.Rank() != 2 || cs.Type.Shape[1] != half {
			return c.errf("with position_ids the caches %v must be [positions, %d]", cs.Type.Shape, half)
		}
		if pos.IsConst() {
			pc := pos.Const
			for i := range pc.Len() {
				if p := pc.IntAt(i); p < 0 || p >= int64(cs.Type.Shape[0]) {
					return c.errf("position_ids[%d] = %d is out of range [0, %d)", i, p, cs.Type.Shape[0])
				}
			}
		}
		cs = b.op("gather", "cos", ir.Attrs{"axis": ir.Int(0)}, cs, pos)
		sn = b.op("gather", "sin", ir.Attrs{"axis": ir.Int(0)}, sn, pos)
	} else if cc := cs.Type.Shape; len(cc) != 3 || cc[0] != bsz && cc[0] != 1 || cc[1] != seq || cc[2] != half {
		return c.errf("without position_ids the caches %v must be [%d, %d, %d]", cc, bsz, seq, half)
	}
	// Heads view: [B, H, S, D] (4-D) or [B, S, H, D] (3-D); caches
	// broadcast over the heads dim.
	xv, cshape := x, []int{-1, 1, seq, half}
	if len(s) == 3 {
		xv, cshape = b.reshape("heads", x, []int{bsz, seq, h, d}), []int{-1, seq, 1, half}
	}
	if b.err != nil {
		return b.err
	}
	cb := cs.Type.Shape[0]
	cshape[0] = cb
	cs, sn = b.reshape("cos_heads", cs, cshape), b.reshape("sin_heads", sn, cshape)
	vs := xv.Type.Shape
	sl := func(name string, start, end, step int) *ir.Value {
		st, en, sp := make([]int, 4), slices.Clone(vs), ones(4)
		st[3], en[3], sp[3] = start, end, step
		return b.op("slice", name, ir.Attrs{"starts": ir.Ints(st...), "ends": ir.Ints(en...), "steps": ir.Ints(sp...)}, xv)
	}
	var x1, x2 *ir.Value
	interleaved := c.int("interleaved", 0) != 0
	if interleaved {
		x1, x2 = sl("x_even", 0, rd, 2), sl("x_odd", 1, rd, 2)
	} else {
		x1, x2 = sl("x_first", 0, half, 1), sl("x_second", half, rd, 1)
	}
	real := b.op("sub", "real", nil, b.op("mul", "cos_x1", nil, cs, x1), b.op("mul", "sin_x2", nil, sn, x2))
	imag := b.op("add", "imag", nil, b.op("mul", "sin_x1", nil, sn, x1), b.op("mul", "cos_x2", nil, cs, x2))
	var rot *ir.Value
	if interleaved {
		pair := slices.Concat(vs[:3], []int{half, 1})
		rot = b.op("concat", "pairs", ir.Attrs{"axis": ir.Int(4)}, b.reshape("real_pairs", real, pair), b.reshape("imag_pairs", imag, pair))
		rot = b.reshape("rotated", rot, slices.Concat(vs[:3], []int{rd}))
	} else {
		rot = b.op("concat", "rotated", ir.Attrs{"axis": ir.Int(3)}, real, imag)
	}
	if rd < d {
		rot = b.op("concat", "with_rest", ir.Attrs{"axis": ir.Int(3)}, rot, sl("rest", rd, d, 1))
	}
	return b.finish(b.reshape("", rot, s))
}

// deadRows says whether the bias may hide every key from some query: a
// constant bias with a row of −inf, or any computed one.
func deadRows(bias *ir.Value) bool {
	if !bias.IsConst() {
		return true
	}
	t := bias.Const
	n := t.Shape[len(t.Shape)-1]
	for r := 0; r < t.Len(); r += n {
		dead := true
		for j := r; j < r+n && dead; j++ {
			dead = math.IsInf(t.At(j), -1)
		}
		if dead {
			return true
		}
	}
	return false
}
