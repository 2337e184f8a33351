package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestAttentionErrors: what Attention and RotaryEmbedding do not support,
// and malformed nodes, are errors naming the model, the node and the
// reason.
func TestAttentionErrors(t *testing.T) {
	// attn is an Attention node on inputs of the given shapes (nil: absent).
	attn := func(opset int64, shapes [][]int64, attrs ...*attrProto) *mb {
		m := newModel(opset)
		names := []string{"q", "k", "v", "mask", "pk", "pv", "nonpad"}
		var in []string
		for i, s := range shapes {
			if s == nil {
				in = append(in, "")
				continue
			}
			dt := dtFloat
			if i == 6 {
				dt = dtInt64
			}
			m.input(names[i], dt, s...)
			in = append(in, names[i])
		}
		return m.node("Attention", in, []string{"y"}, attrs...).output("y")
	}
	rope := func(x, cache []int64, pos *ir.Tensor, attrs ...*attrProto) *mb {
		m := newModel(23).input("x", dtFloat, x...).input("c", dtFloat, cache...).input("s", dtFloat, cache...)
		in := []string{"x", "c", "s"}
		if pos != nil {
			m.init("pos", pos)
			in = append(in, "pos")
		}
		return m.node("RotaryEmbedding", in, []string{"y"}, attrs...).output("y")
	}
	q4, kv4 := []int64{1, 2, 3, 4}, []int64{1, 2, 5, 4}
	for _, tc := range []struct {
		name        string
		m           *mb
		node        string
		want        string
		unsupported bool
	}{
		{"ranks", attn(23, [][]int64{q4, {1, 5, 8}, kv4}), "Attention_0", "must all be 3-D or all 4-D", false},
		{"3-D heads", attn(23, [][]int64{{1, 3, 8}, {1, 5, 8}, {1, 5, 8}}), "Attention_0", "the q_num_heads attribute must give its number of heads", false},
		{"3-D hidden", attn(23, [][]int64{{1, 3, 8}, {1, 5, 8}, {1, 5, 8}}, aInt("q_num_heads", 3), aInt("kv_num_heads", 1)), "Attention_0", "Q hidden size 8 is not a multiple of q_num_heads 3", false},
		{"groups", attn(23, [][]int64{{1, 3, 3, 4}, kv4, kv4}), "Attention_0", "3 query heads are not a multiple of 2 key/value heads", false},
		{"head size", attn(23, [][]int64{q4, {1, 2, 5, 3}, kv4}), "Attention_0", "do not agree", false},
		{"heads attr", attn(23, [][]int64{q4, kv4, kv4}, aInt("q_num_heads", 4)), "Attention_0", "Q [1 2 3 4] has 2 heads, but q_num_heads is 4", false},
		{"nonpad", attn(24, [][]int64{q4, kv4, kv4, nil, nil, nil, {1}}), "Attention_0", "input 6 (nonpad_kv_seqlen) is not supported", true},
		{"past alone", attn(23, [][]int64{q4, kv4, kv4, nil, {1, 2, 2, 4}}), "Attention_0", "past_key and past_value must be given together", false},
		{"past shape", attn(23, [][]int64{q4, kv4, kv4, nil, {1, 2, 2, 4}, {1, 2, 3, 4}}), "Attention_0", "past_key [1 2 2 4] and past_value [1 2 3 4] must be", false},
		{"mask long", attn(23, [][]int64{q4, kv4, kv4, {3, 6}}), "Attention_0", "attn_mask [3 6] must have rank 2 to 4 and a last dim of 1 to the total sequence length 5", false},
		{"mask broadcast", attn(23, [][]int64{q4, kv4, kv4, {3, 2, 3, 5}}), "Attention_0", "attn_mask [3 2 3 5] does not broadcast to [1, 2, 3, 5]", false},
		{"mode", attn(23, [][]int64{q4, kv4, kv4}, aInt("qk_matmul_output_mode", 4)), "Attention_0", "qk_matmul_output_mode 4 (want 0 to 3)", false},
		{"softcap", attn(23, [][]int64{q4, kv4, kv4}, aFloat("softcap", -1)), "Attention_0", "softcap -1 must be >= 0", false},
		{"softmax precision", attn(23, [][]int64{q4, kv4, kv4}, aInt("softmax_precision", 6)), "Attention_0", "softmax_precision 6 is not a floating-point type", false},
		{"int mask", newModel(23).input("q", dtFloat, q4...).input("k", dtFloat, kv4...).input("m", dtInt64, 3, 5).
			node("Attention", []string{"q", "k", "k", "m"}, []string{"y"}).output("y"), "Attention_0", "attn_mask is i64[3,5]; pare imports a BOOL or FLOAT mask", true},
		{"int q", newModel(23).input("q", dtInt64, q4...).input("k", dtFloat, kv4...).
			node("Attention", []string{"q", "k", "k"}, []string{"y"}).output("y"), "Attention_0", "pare imports Attention on FLOAT tensors only", true},
		{"rope rank", rope([]int64{2, 8}, []int64{2, 4}, nil), "RotaryEmbedding_0", "must be 3-D [batch, seq, hidden] or 4-D", false},
		{"rope heads", rope([]int64{1, 3, 8}, []int64{1, 3, 2}, nil), "RotaryEmbedding_0", "num_heads 0 must be positive and divide its hidden size", false},
		{"rope dim", rope([]int64{1, 2, 3, 8}, []int64{1, 3, 2}, nil, aInt("rotary_embedding_dim", 5)), "RotaryEmbedding_0", "rotary_embedding_dim 5 must be even and in [2, head size 8]", false},
		{"rope cache", rope([]int64{1, 2, 3, 8}, []int64{1, 3, 2}, nil), "RotaryEmbedding_0", "without position_ids the caches [1 3 2] must be [1, 3, 4]", false},
		{"rope pos cache", rope([]int64{1, 2, 3, 8}, []int64{1, 3, 4}, ir.FromI64([]int{1, 3}, []int64{0, 1, 2})), "RotaryEmbedding_0", "with position_ids the caches [1 3 4] must be [positions, 4]", false},
		{"rope pos shape", rope([]int64{1, 2, 3, 8}, []int64{9, 4}, ir.FromI64([]int{3}, []int64{0, 1, 2})), "RotaryEmbedding_0", "position_ids i64[3] must be integers of shape [1, 3]", false},
		{"rope pos range", rope([]int64{1, 2, 3, 8}, []int64{9, 4}, ir.FromI64([]int{1, 3}, []int64{0, 9, 2})), "RotaryEmbedding_0", "position_ids[1] = 9 is out of range [0, 9)", false},
	} {
		_, err := tc.m.load(t, Options{})
		prefix := `node "` + tc.node + `"`
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), "t.onnx") {
			t.Errorf("%s: err = %v\nwant it to name t.onnx, %s and say %q", tc.name, err, prefix, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.name, err, !tc.unsupported, tc.unsupported)
		}
	}
}
