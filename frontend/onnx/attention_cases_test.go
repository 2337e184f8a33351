package onnx

import (
	"fmt"
	"math"
	"math/rand"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Cases of Attention and RotaryEmbedding (convert_attention.go) with
// references written from the operator definitions (opset 23). The
// runtime inputs are cut from the one graph input x (a flat vector) by
// Slice and Reshape; the case's output is the flat concatenation of the
// node's outputs it checks.

// piece cuts x[off : off+prod(shape)] into a tensor of shape named p+name
// and returns the offset after it.
func piece(m *mb, p, name string, off int, shape []int) int {
	n := ir.NumElements(shape)
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	m.init(p+name+"_st", i64s(int64(off))).init(p+name+"_en", i64s(int64(off+n))).init(p+name+"_ax", i64s(0)).
		init(p+name+"_shape", ir.FromI64([]int{len(dims)}, dims)).
		node("Slice", []string{p + "x", p + name + "_st", p + name + "_en", p + name + "_ax"}, []string{p + name + "_flat"}).
		node("Reshape", []string{p + name + "_flat", p + name + "_shape"}, []string{p + name})
	return off + n
}

// flatConcat makes p+"y" the concatenation of the flattened outs.
func flatConcat(m *mb, p string, outs []string) {
	m.init(p+"flat_shape", i64s(-1))
	var flats []string
	for _, o := range outs {
		m.node("Reshape", []string{o, p + "flat_shape"}, []string{o + "_flat"})
		flats = append(flats, o+"_flat")
	}
	m.node("Concat", flats, []string{p + "y"}, aInt("axis", 0))
}

// at4 reads element [i0, i1, i2, i3] of a 4-D [B, H, S, D] view of t,
// which is 3-D [B, S, H·D] when heads > 0.
func at4(t *ir.Tensor, heads, i0, i1, i2, i3 int) float64 {
	s := t.Shape
	if len(s) == 3 {
		d := s[2] / heads
		return t.At(flat([]int{i0, i2, i1*d + i3}, s))
	}
	return t.At(flat([]int{i0, i1, i2, i3}, s))
}

type attnCase struct {
	b, hq, hkv, s, kvs, past, d, dv int
	rank3                           bool
	mask                            []int // attn_mask shape; nil: none
	boolMask, constMask             bool
	causal                          bool
	scale, softcap                  float32 // 0: left out
	mode                            int     // qk_matmul_output_mode; -1: output 3 absent
	present                         bool    // outputs 1 and 2 checked
	opset                           int64
	ortSkip                         string
	deadRow                         bool // the mask hides every key from query 0
}

// attnRef computes Attention's outputs, all 4-D [B, H, S, *], from the
// inputs (Q, K, V as given, 3-D or 4-D; mask, past_key, past_value or nil).
func (ac attnCase) ref(q, k, v, mask, pk, pv *ir.Tensor) (y, presK, presV, qkOut *ir.Tensor) {
	t := ac.past + ac.kvs
	heads := func(h int) int {
		if ac.rank3 {
			return h
		}
		return 0
	}
	presK, presV = ir.NewTensor(ir.F32, []int{ac.b, ac.hkv, t, ac.d}), ir.NewTensor(ir.F32, []int{ac.b, ac.hkv, t, ac.dv})
	for b := range ac.b {
		for h := range ac.hkv {
			for j := range t {
				for e := range ac.d {
					if j < ac.past {
						presK.F32[flat([]int{b, h, j, e}, presK.Shape)] = float32(pk.At(flat([]int{b, h, j, e}, pk.Shape)))
					} else {
						presK.F32[flat([]int{b, h, j, e}, presK.Shape)] = float32(at4(k, heads(ac.hkv), b, h, j-ac.past, e))
					}
				}
				for e := range ac.dv {
					if j < ac.past {
						presV.F32[flat([]int{b, h, j, e}, presV.Shape)] = float32(pv.At(flat([]int{b, h, j, e}, pv.Shape)))
					} else {
						presV.F32[flat([]int{b, h, j, e}, presV.Shape)] = float32(at4(v, heads(ac.hkv), b, h, j-ac.past, e))
					}
				}
			}
		}
	}
	scale := 1 / math.Sqrt(float64(ac.d))
	if ac.scale != 0 {
		scale = float64(ac.scale)
	}
	rep := ac.hq / ac.hkv
	y = ir.NewTensor(ir.F32, []int{ac.b, ac.hq, ac.s, ac.dv})
	stages := make([]*ir.Tensor, 4)
	for i := range stages {
		stages[i] = ir.NewTensor(ir.F32, []int{ac.b, ac.hq, ac.s, t})
	}
	row := make([]float64, t)
	for b := range ac.b {
		for h := range ac.hq {
			kh := h / rep
			for i := range ac.s {
				for j := range t {
					dot := 0.0
					for e := range ac.d {
						dot += at4(q, heads(ac.hq), b, h, i, e) * presK.At(flat([]int{b, kh, j, e}, presK.Shape))
					}
					qk := dot * scale
					bias := 0.0
					if mask != nil {
						ms := mask.Shape
						if j >= ms[len(ms)-1] {
							bias = math.Inf(-1)
						} else {
							full := []int{b, h, i, j}
							idx := make([]int, len(ms))
							for a := range ms {
								if ms[a] != 1 {
									idx[a] = full[4-len(ms)+a]
								}
							}
							mv := mask.At(flat(idx, ms))
							if mask.DType == ir.Bool {
								if mv == 0 {
									bias = math.Inf(-1)
								}
							} else {
								bias = mv
							}
						}
					}
					if ac.causal && j > ac.past+i {
						bias += math.Inf(-1)
					}
					at := flat([]int{b, h, i, j}, stages[0].Shape)
					stages[0].F32[at] = float32(qk)
					sc := qk
					if ac.softcap > 0 {
						c := float64(ac.softcap)
						sc = c * math.Tanh(sc/c)
					}
					stages[1].F32[at] = float32(sc)
					sc += bias
					stages[2].F32[at] = float32(sc)
					row[j] = sc
				}
				mx := math.Inf(-1)
				for _, s := range row {
					mx = math.Max(mx, s)
				}
				sum := 0.0
				for j := range row {
					row[j] = math.Exp(row[j] - mx)
					sum += row[j]
				}
				for j := range row {
					if sum == 0 || math.IsNaN(sum) { // no key: 0, as ONNX Runtime
						row[j] = 0
						continue
					}
					row[j] /= sum
					stages[3].F32[flat([]int{b, h, i, j}, stages[3].Shape)] = float32(row[j])
				}
				for e := range ac.dv {
					acc := 0.0
					for j := range t {
						acc += row[j] * presV.At(flat([]int{b, kh, j, e}, presV.Shape))
					}
					y.F32[flat([]int{b, h, i, e}, y.Shape)] = float32(acc)
				}
			}
		}
	}
	if ac.mode >= 0 {
		qkOut = stages[ac.mode]
	}
	return y, presK, presV, qkOut
}

func (ac attnCase) decomp(i int) decompCase {
	qs, ks, vs := []int{ac.b, ac.hq, ac.s, ac.d}, []int{ac.b, ac.hkv, ac.kvs, ac.d}, []int{ac.b, ac.hkv, ac.kvs, ac.dv}
	if ac.rank3 {
		qs, ks, vs = []int{ac.b, ac.s, ac.hq * ac.d}, []int{ac.b, ac.kvs, ac.hkv * ac.d}, []int{ac.b, ac.kvs, ac.hkv * ac.dv}
	}
	pks, pvs := []int{ac.b, ac.hkv, ac.past, ac.d}, []int{ac.b, ac.hkv, ac.past, ac.dv}
	n := ir.NumElements(qs) + ir.NumElements(ks) + ir.NumElements(vs)
	if ac.past > 0 {
		n += ir.NumElements(pks) + ir.NumElements(pvs)
	}
	var cmask *ir.Tensor // a constant mask
	if ac.mask != nil {
		if ac.constMask {
			r := rand.New(rand.NewSource(int64(900 + i)))
			if ac.boolMask {
				cmask = ir.NewTensor(ir.Bool, ac.mask)
				for j := range cmask.Bool {
					cmask.Bool[j] = j%ac.mask[len(ac.mask)-1] == 0 || r.Intn(3) > 0
					if ac.deadRow && j < ac.mask[len(ac.mask)-1] {
						cmask.Bool[j] = false
					}
				}
			} else {
				cmask = randParam(int64(900+i), -2, 2, ac.mask...)
				for j := range cmask.F32 {
					if r.Intn(4) == 0 && j%ac.mask[len(ac.mask)-1] != 0 {
						cmask.F32[j] = float32(math.Inf(-1))
					}
				}
			}
		} else {
			n += ir.NumElements(ac.mask)
		}
	}
	var attrs []*attrProto
	if ac.rank3 {
		attrs = append(attrs, aInt("q_num_heads", int64(ac.hq)), aInt("kv_num_heads", int64(ac.hkv)))
	}
	if ac.causal {
		attrs = append(attrs, aInt("is_causal", 1))
	}
	if ac.scale != 0 {
		attrs = append(attrs, aFloat("scale", ac.scale))
	}
	if ac.softcap != 0 {
		attrs = append(attrs, aFloat("softcap", ac.softcap))
	}
	if ac.mode > 0 {
		attrs = append(attrs, aInt("qk_matmul_output_mode", int64(ac.mode)))
	}
	// split cuts the inputs out of x.
	split := func(x *ir.Tensor) (q, k, v, mask, pk, pv *ir.Tensor) {
		off := 0
		cut := func(shape []int) *ir.Tensor {
			t := ir.FromF32(shape, slices.Clone(x.F32[off:off+ir.NumElements(shape)]))
			off += ir.NumElements(shape)
			return t
		}
		q, k, v = cut(qs), cut(ks), cut(vs)
		if ac.past > 0 {
			pk, pv = cut(pks), cut(pvs)
		}
		switch {
		case cmask != nil:
			mask = cmask
		case ac.mask != nil:
			mask = cut(ac.mask)
			if ac.boolMask {
				bm := ir.NewTensor(ir.Bool, ac.mask)
				for j, f := range mask.F32 {
					bm.Bool[j] = f > -2.5
				}
				mask = bm
			}
		}
		return
	}
	name := fmt.Sprintf("Attention/%d_b%d_h%d/%d_s%d_kv%d+%d_d%d/%d_rank%d", i, ac.b, ac.hq, ac.hkv, ac.s, ac.kvs, ac.past, ac.d, ac.dv, map[bool]int{true: 3, false: 4}[ac.rank3])
	if ac.mask != nil {
		name += fmt.Sprintf("_mask%v", ac.mask)
		if ac.boolMask {
			name += "bool"
		}
		if ac.constMask {
			name += "const"
		}
	}
	if ac.causal {
		name += "_causal"
	}
	if ac.scale != 0 {
		name += fmt.Sprintf("_scale%g", ac.scale)
	}
	if ac.softcap != 0 {
		name += fmt.Sprintf("_softcap%g", ac.softcap)
	}
	if ac.mode >= 0 {
		name += fmt.Sprintf("_qkmode%d", ac.mode)
	}
	if ac.present {
		name += "_present"
	}
	return decompCase{name: name, opset: ac.opset, op: "Attention", x: []int{n}, lo: -2, hi: 2, tol: 1e-4, ortSkip: ac.ortSkip,
		body: func(m *mb, p string) {
			off := piece(m, p, "q", 0, qs)
			off = piece(m, p, "k", off, ks)
			off = piece(m, p, "v", off, vs)
			in := []string{p + "q", p + "k", p + "v", "", "", ""}
			if ac.past > 0 {
				off = piece(m, p, "pk", off, pks)
				off = piece(m, p, "pv", off, pvs)
				in[4], in[5] = p+"pk", p+"pv"
			}
			switch {
			case cmask != nil:
				m.init(p+"mask", cmask)
				in[3] = p + "mask"
			case ac.mask != nil:
				piece(m, p, "maskf", off, ac.mask)
				in[3] = p + "maskf"
				if ac.boolMask {
					m.init(p+"thr", ir.FromF32([]int{}, []float32{-2.5})).node("Greater", []string{p + "maskf", p + "thr"}, []string{p + "mask"})
					in[3] = p + "mask"
				}
			}
			for len(in) > 3 && in[len(in)-1] == "" {
				in = in[:len(in)-1]
			}
			out := []string{p + "Y", "", "", ""}
			checked := []string{p + "Y"}
			if ac.present {
				out[1], out[2] = p+"present_k", p+"present_v"
				checked = append(checked, out[1], out[2])
			}
			if ac.mode >= 0 {
				out[3] = p + "qk"
				checked = append(checked, out[3])
			}
			for len(out) > 1 && out[len(out)-1] == "" {
				out = out[:len(out)-1]
			}
			m.node("Attention", in, out, attrs...)
			flatConcat(m, p, checked)
		},
		ref: func(x *ir.Tensor) *ir.Tensor {
			y, pk, pv, qk := ac.ref(split(x))
			if ac.rank3 { // [B, H, S, Dv] → [B, S, H·Dv]
				y3 := ir.NewTensor(ir.F32, []int{ac.b, ac.s, ac.hq * ac.dv})
				for j := range y.F32 {
					ix := unflat(j, y.Shape)
					y3.F32[flat([]int{ix[0], ix[2], ix[1]*ac.dv + ix[3]}, y3.Shape)] = y.F32[j]
				}
				y = y3
			}
			out := slices.Clone(y.F32)
			if ac.present {
				out = append(append(out, pk.F32...), pv.F32...)
			}
			if qk != nil {
				out = append(out, qk.F32...)
			}
			return ir.FromF32([]int{len(out)}, out)
		}}
}

func attentionCases() []decompCase {
	var out []decompCase
	for i, ac := range []attnCase{
		{b: 2, hq: 2, hkv: 2, s: 3, kvs: 3, d: 4, dv: 4, mode: -1},
		{b: 1, hq: 2, hkv: 2, s: 3, kvs: 5, d: 4, dv: 3, rank3: true, mode: -1},
		{b: 2, hq: 4, hkv: 2, s: 3, kvs: 3, d: 2, dv: 2, rank3: true, causal: true, present: true, mode: 0},                                      // GQA
		{b: 1, hq: 3, hkv: 1, s: 2, kvs: 4, d: 4, dv: 2, mask: []int{2, 4}, constMask: true, mode: 1},                                            // MQA, float mask
		{b: 2, hq: 2, hkv: 1, s: 3, kvs: 4, d: 3, dv: 3, mask: []int{2, 1, 3, 4}, boolMask: true, constMask: true, mode: 3, scale: 0.25},         // 4-D bool mask
		{b: 2, hq: 2, hkv: 2, s: 3, kvs: 4, d: 4, dv: 4, mask: []int{3, 4}, boolMask: true, mode: -1},                                            // runtime bool mask
		{b: 1, hq: 2, hkv: 2, s: 3, kvs: 5, d: 4, dv: 4, mask: []int{1, 2, 3, 5}, mode: 2, softcap: 2.5},                                         // runtime float mask, softcap
		{b: 1, hq: 2, hkv: 2, s: 2, kvs: 2, past: 3, d: 4, dv: 3, causal: true, present: true, mode: 0},                                          // past key/value
		{b: 2, hq: 4, hkv: 2, s: 1, kvs: 1, past: 4, d: 2, dv: 2, rank3: true, mask: []int{2, 1, 1, 5}, constMask: true, present: true, mode: 1}, // decode step
		{b: 1, hq: 2, hkv: 2, s: 3, kvs: 3, past: 2, d: 2, dv: 2, mask: []int{3, 3}, constMask: true, causal: true, mode: 1,
			ortSkip: "ONNX Runtime 1.30 requires the mask's last dim to be the total sequence length"}, // mask shorter than total
		{b: 1, hq: 1, hkv: 1, s: 4, kvs: 4, d: 8, dv: 8, causal: true, softcap: 1.5, mode: 3},
		{b: 1, hq: 2, hkv: 2, s: 4, kvs: 4, d: 2, dv: 2, rank3: true, mask: []int{4, 4}, boolMask: true, constMask: true, causal: true, mode: 2},
		{b: 1, hq: 2, hkv: 2, s: 3, kvs: 4, d: 4, dv: 4, mask: []int{3, 4}, constMask: true, softcap: 2, mode: 0},
		{b: 1, hq: 1, hkv: 1, s: 3, kvs: 4, d: 2, dv: 2, mask: []int{3, 4}, boolMask: true, constMask: true, mode: -1, deadRow: true}, // query 0 sees no key
		{b: 2, hq: 2, hkv: 1, s: 2, kvs: 2, past: 2, d: 4, dv: 4, rank3: true, mask: []int{2, 1, 2, 4}, causal: true, softcap: 3, mode: 1, scale: 0.7, present: true},
	} {
		if ac.opset == 0 {
			ac.opset = 23
		}
		out = append(out, ac.decomp(i))
		if i == 2 || i == 7 { // the same at opset 24
			ac.opset = 24
			out = append(out, ac.decomp(100+i))
		}
	}
	return out
}

type ropeCase struct {
	x          []int // 3-D [B, S, H·D] (heads set) or 4-D [B, H, S, D]
	heads      int   // num_heads (3-D)
	rd         int   // rotary_embedding_dim; 0: left out
	interleave bool
	positions  int // > 0: caches [positions, rd/2] gathered at constant position_ids
	cacheB     int // the caches' batch without position_ids (0: the input's)
	ortSkip    string
}

func (rc ropeCase) decomp(i int) decompCase {
	var bsz, h, seq, d int
	if len(rc.x) == 4 {
		bsz, h, seq, d = rc.x[0], rc.x[1], rc.x[2], rc.x[3]
	} else {
		bsz, seq, h = rc.x[0], rc.x[1], rc.heads
		d = rc.x[2] / h
	}
	rd := rc.rd
	if rd == 0 {
		rd = d
	}
	half := rd / 2
	cb := rc.cacheB
	if cb == 0 {
		cb = bsz
	}
	cache := []int{cb, seq, half}
	var pos *ir.Tensor
	if rc.positions > 0 {
		cache = []int{rc.positions, half}
		pos = ir.NewTensor(ir.I64, []int{bsz, seq})
		r := rand.New(rand.NewSource(int64(700 + i)))
		for j := range pos.I64 {
			pos.I64[j] = int64(r.Intn(rc.positions))
		}
	}
	var attrs []*attrProto
	if len(rc.x) == 3 {
		attrs = append(attrs, aInt("num_heads", int64(rc.heads)))
	}
	if rc.rd != 0 {
		attrs = append(attrs, aInt("rotary_embedding_dim", int64(rc.rd)))
	}
	if rc.interleave {
		attrs = append(attrs, aInt("interleaved", 1))
	}
	nx, nc := ir.NumElements(rc.x), ir.NumElements(cache)
	name := fmt.Sprintf("RotaryEmbedding/%d_%v_heads%d_rd%d_interleaved%v_positions%d_cache%v", i, rc.x, h, rc.rd, rc.interleave, rc.positions, cache)
	return decompCase{name: name, opset: 23, op: "RotaryEmbedding", x: []int{nx + 2*nc}, tol: 1e-5, ortSkip: rc.ortSkip,
		body: func(m *mb, p string) {
			off := piece(m, p, "in", 0, rc.x)
			off = piece(m, p, "cos", off, cache)
			piece(m, p, "sin", off, cache)
			in := []string{p + "in", p + "cos", p + "sin"}
			if pos != nil {
				m.init(p+"pos", pos)
				in = append(in, p+"pos")
			}
			m.node("RotaryEmbedding", in, []string{p + "y"}, attrs...)
		},
		ref: func(x *ir.Tensor) *ir.Tensor {
			y := ir.FromF32(rc.x, slices.Clone(x.F32[:nx]))
			cs, sn := x.F32[nx:nx+nc], x.F32[nx+nc:]
			// at is the flat index of feature e of head hh at batch bb, step ss.
			at := func(bb, hh, ss, e int) int {
				if len(rc.x) == 4 {
					return flat([]int{bb, hh, ss, e}, rc.x)
				}
				return flat([]int{bb, ss, hh*d + e}, rc.x)
			}
			for bb := range bsz {
				for ss := range seq {
					row := (min(bb, cb-1)*seq + ss) * half
					if pos != nil {
						row = int(pos.I64[bb*seq+ss]) * half
					}
					for hh := range h {
						for k := range half {
							i1, i2 := at(bb, hh, ss, k), at(bb, hh, ss, k+half)
							if rc.interleave {
								i1, i2 = at(bb, hh, ss, 2*k), at(bb, hh, ss, 2*k+1)
							}
							a, b := float64(x.F32[i1]), float64(x.F32[i2])
							c, s := float64(cs[row+k]), float64(sn[row+k])
							y.F32[i1], y.F32[i2] = float32(c*a-s*b), float32(s*a+c*b)
						}
					}
				}
			}
			return y
		}}
}

func ropeCases() []decompCase {
	var out []decompCase
	for i, rc := range []ropeCase{
		{x: []int{2, 3, 4, 8}},
		{x: []int{2, 3, 4, 8}, interleave: true},
		{x: []int{1, 5, 12}, heads: 2},
		{x: []int{2, 4, 12}, heads: 3, interleave: true},
		{x: []int{2, 2, 3, 8}, rd: 4},
		{x: []int{2, 3, 16}, heads: 2, rd: 6, interleave: true},
		{x: []int{2, 2, 3, 4}, positions: 7},
		{x: []int{2, 3, 12}, heads: 2, positions: 5, rd: 4, interleave: true},
		{x: []int{3, 2, 2, 6}, cacheB: 1, ortSkip: "ONNX Runtime 1.30 does not broadcast the caches over the batch"},
	} {
		out = append(out, rc.decomp(i))
	}
	return out
}
