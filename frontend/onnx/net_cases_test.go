package onnx

// Small networks that put the decomposed ops after and before the layers
// codegen fuses with (conv, matmul, pooling), as the models that use them
// do: AlexNet's conv → relu → LRN → maxpool, a style-transfer conv →
// InstanceNormalization, a transformer block's matmul → LayerNormalization
// → Gelu, a super-resolution conv → DepthToSpace, an embedding's x / ‖x‖₂.

// netCase is a network on input x of shape in.
func netCase(name string, opset int64, in []int, body func(m *mb, p string)) decompCase {
	return decompCase{name: "net/" + name, opset: opset, x: in, body: body, tol: 1e-4}
}

func netCases() []decompCase {
	return []decompCase{
		netCase("conv_relu_lrn_maxpool", 13, []int{1, 3, 12, 12}, func(m *mb, p string) {
			m.init(p+"w", randParam(1, -0.5, 0.5, 8, 3, 3, 3)).init(p+"b", randParam(2, -0.1, 0.1, 8)).
				node("Conv", []string{p + "x", p + "w", p + "b"}, []string{p + "c"}, aInts("pads", 1, 1, 1, 1)).
				node("Relu", []string{p + "c"}, []string{p + "r"}).
				node("LRN", []string{p + "r"}, []string{p + "n"}, aInt("size", 5), aFloat("alpha", 0.01)).
				node("MaxPool", []string{p + "n"}, []string{p + "y"}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2))
		}),
		netCase("conv_instancenorm_mish", 18, []int{1, 4, 8, 8}, func(m *mb, p string) {
			m.init(p+"w", randParam(3, -0.5, 0.5, 6, 4, 3, 3)).init(p+"s", randParam(4, 0.5, 1.5, 6)).init(p+"b", randParam(5, -0.5, 0.5, 6)).
				node("Conv", []string{p + "x", p + "w"}, []string{p + "c"}).
				node("InstanceNormalization", []string{p + "c", p + "s", p + "b"}, []string{p + "n"}).
				node("Mish", []string{p + "n"}, []string{p + "y"})
		}),
		netCase("matmul_layernorm_gelu", 20, []int{2, 6, 16}, func(m *mb, p string) {
			m.init(p+"w", randParam(6, -0.5, 0.5, 16, 12)).init(p+"s", randParam(7, 0.5, 1.5, 12)).init(p+"b", randParam(8, -0.5, 0.5, 12)).
				node("MatMul", []string{p + "x", p + "w"}, []string{p + "h"}).
				node("LayerNormalization", []string{p + "h", p + "s", p + "b"}, []string{p + "n"}).
				node("Gelu", []string{p + "n"}, []string{p + "y"}, aStr("approximate", "tanh"))
		}),
		netCase("conv_depthtospace_tile", 13, []int{1, 4, 5, 5}, func(m *mb, p string) {
			m.init(p+"w", randParam(9, -0.5, 0.5, 16, 4, 1, 1)).init(p+"r", i64s(1, 2, 1, 1)).
				node("Conv", []string{p + "x", p + "w"}, []string{p + "c"}).
				node("DepthToSpace", []string{p + "c"}, []string{p + "d"}, aInt("blocksize", 2), aStr("mode", "CRD")).
				node("Tile", []string{p + "d", p + "r"}, []string{p + "y"})
		}),
		netCase("l2_normalize_softplus", 18, []int{3, 10}, func(m *mb, p string) {
			m.init(p+"a", i64s(1)).
				node("ReduceL2", []string{p + "x", p + "a"}, []string{p + "l"}).
				node("Div", []string{p + "x", p + "l"}, []string{p + "n"}).
				node("Softplus", []string{p + "n"}, []string{p + "y"})
		}),
	}
}
