package onnx

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"google.golang.org/protobuf/proto"
)

// Random well-formed models with hostile node attributes and operand shapes:
// byte-level fuzzing rarely gets past the protobuf decoder into converters,
// so this builds one-node models from random choices instead.

var randAttrNames = []string{"axis", "axes", "perm", "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad",
	"ceil_mode", "storage_order", "count_include_pad", "epsilon", "momentum", "training_mode", "transA", "transB", "alpha",
	"beta", "keepdims", "noop_with_empty_axes", "to", "allowzero", "mode", "value", "split", "num_outputs", "start", "end",
	"output_shape", "output_padding", "block_size", "output_dtype", "coordinate_transformation_mode", "nearest_mode",
	"scales", "min", "max", "broadcast", "spatial", "starts", "ends", "antialias", "keep_aspect_ratio_policy",
	"value_float", "value_int", "value_ints", "value_floats", "precision", "size", "bias", "blocksize", "gamma",
	"approximate", "stash_type", "hidden_size", "direction", "layout", "clip", "linear_before_reset", "input_forget",
	"activations", "activation_alpha", "equation", "exclusive", "reverse", "upper", "k", "dtype", "batch_dims",
	"num_groups", "p", "lambd"}

var randStrings = []string{"", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect", "edge", "wrap",
	"nearest", "linear", "cubic", "half_pixel", "asymmetric", "align_corners", "floor", "ceil", "stretch", "junk",
	"DCR", "CRD", "none", "tanh", "forward", "bidirectional", "Relu", "ij,jk->ik", "...i,i...->", "ii->i", "i,j",
	"a...b->ba", "...->..."}

func randInt(r *rand.Rand) int64 {
	switch r.Intn(10) {
	case 0:
		return 1 << 40
	case 1:
		return -1 << 62
	case 2:
		return int64(r.Intn(30))
	}
	return int64(r.Intn(9) - 3)
}

func randAttr(r *rand.Rand) *onnxpb.AttributeProto {
	name := randAttrNames[r.Intn(len(randAttrNames))]
	switch r.Intn(5) {
	case 0:
		return aInt(name, randInt(r))
	case 1:
		var l []int64
		for i := r.Intn(6); i > 0; i-- {
			l = append(l, randInt(r))
		}
		return aInts(name, l...)
	case 2:
		return aFloat(name, []float32{0, -1, 0.5, 2, 1e30}[r.Intn(5)])
	case 3:
		return aStr(name, randStrings[r.Intn(len(randStrings))])
	}
	t := randTensor(r, []int32{dtFloat, dtInt64, dtUint8}[r.Intn(3)])
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: EncodeTensor(name, t)}
}

func randShape(r *rand.Rand) []int {
	s := make([]int, r.Intn(5))
	for i := range s {
		s[i] = []int{1, 1, 2, 3, 4, 5, 0}[r.Intn(7)]
	}
	return s
}

func randTensor(r *rand.Rand, dt int32) *ir.Tensor {
	d, _ := irDType(dt)
	t := ir.NewTensor(d, randShape(r))
	for i := 0; i < t.Len(); i++ {
		t.Set(i, float64(randInt(r)%5))
	}
	return t
}

func randModel(r *rand.Rand) []byte {
	ops := make([]string, 0, len(converters))
	for op := range converters {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	m := newModel([]int64{6, 7, 9, 10, 11, 13, 18, 21, 25}[r.Intn(9)])
	dts := []int32{dtFloat, dtFloat, dtInt64, dtInt8, dtUint8, dtInt32, dtBool}
	var names []string
	for i := 0; i < 1+r.Intn(6); i++ {
		name := string(rune('a' + i))
		dt := dts[r.Intn(len(dts))]
		if r.Intn(2) == 0 {
			m.init(name, randTensor(r, dt))
		} else {
			var dims []int64
			for _, d := range randShape(r) {
				dims = append(dims, int64(d))
			}
			m.input(name, dt, dims...)
		}
		names = append(names, name)
	}
	var outs []string
	for k := 0; k < 1+r.Intn(3); k++ {
		var in []string
		for i := r.Intn(9); i > 0; i-- {
			if r.Intn(6) == 0 {
				in = append(in, "")
			} else {
				in = append(in, names[r.Intn(len(names))])
			}
		}
		var attrs []*onnxpb.AttributeProto
		for i := r.Intn(4); i > 0; i-- {
			attrs = append(attrs, randAttr(r))
		}
		outs = []string{"y", "z", "w"}[:1+r.Intn(3)]
		for i := range outs {
			outs[i] += string(rune('0' + k))
		}
		m.node(ops[r.Intn(len(ops))], in, outs, attrs...)
		names = append(names, outs...)
	}
	m.output(outs...)
	return m.bytes(nil)
}

// TestRandomNodes imports random one-node models: errors are fine, panics
// are not.
func TestRandomNodes(t *testing.T) {
	saved := MaxFoldBytes
	MaxFoldBytes = 16 << 20
	defer func() { MaxFoldBytes = saved }()
	n := 20000
	if testing.Short() {
		n = 3000
	}
	imported := 0
	for seed := 0; seed < n; seed++ {
		b := randModel(rand.New(rand.NewSource(int64(seed))))
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("seed %d: panic: %v", seed, p)
				}
			}()
			if g, err := ImportBytes("rand.onnx", b, Options{}); err == nil {
				imported++
				if err := ir.Verify(g); err != nil {
					t.Errorf("seed %d: imported an invalid graph: %v", seed, err)
				}
			}
		}()
	}
	t.Logf("%d of %d random models imported", imported, n)
}
