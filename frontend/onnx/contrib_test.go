package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/ortpath"
)

// msModel is a model of opset 13 and com.microsoft 1 whose nodes named in
// ms are of the contrib domain.
func msModel(t testing.TB, m *mb, ms ...string) []byte {
	t.Helper()
	for _, n := range m.nodes {
		for _, op := range ms {
			if n.GetOpType() == op {
				n.Domain = proto.String("com.microsoft")
			}
		}
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}, {Domain: proto.String("com.microsoft"), Version: proto.Int64(1)}},
		Graph:       &onnxpb.GraphProto{Name: proto.String("g"), Input: m.inputs, Output: m.outputs, Initializer: m.inits, Node: m.nodes}}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contribRunner runs a model with f32 inputs in onnxruntime-node and writes
// its first output as little-endian f32.
const contribRunner = `const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const [ortDir, model, out, ...ins] = process.argv.slice(2);
const ort = createRequire(ortDir + '/package.json')('onnxruntime-node');
(async () => {
  const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const feeds = {};
  for (const spec of ins) {
    const [name, file, dims] = spec.split('=');
    const b = readFileSync(file);
    feeds[name] = new ort.Tensor('float32', new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), dims.split('x').map(Number));
  }
  const r = await s.run(feeds);
  const d = r[s.outputNames[0]].data;
  writeFileSync(out, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
})().catch((e) => { console.error(e); process.exit(1); });
`

// runContribORT runs model in ONNX Runtime on xs (inputs named x0, x1...),
// or returns nil when it is not installed.
func runContribORT(t *testing.T, model []byte, xs []*ir.Tensor) []float32 {
	dir, err := filepath.Abs(ortpath.Dir(filepath.Join("..", "..")))
	node, nerr := exec.LookPath("node")
	if ortpath.Dir(filepath.Join("..", "..")) == "" || err != nil || nerr != nil {
		return nil
	}
	tmp := t.TempDir()
	mp, js, out := filepath.Join(tmp, "m.onnx"), filepath.Join(tmp, "run.cjs"), filepath.Join(tmp, "y.bin")
	if err := os.WriteFile(mp, model, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, []byte(contribRunner), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{js, dir, mp, out}
	for i, x := range xs {
		f := filepath.Join(tmp, fmt.Sprintf("x%d.bin", i))
		if err := os.WriteFile(f, x.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		dims := make([]string, len(x.Shape))
		for j, d := range x.Shape {
			dims[j] = fmt.Sprint(d)
		}
		args = append(args, fmt.Sprintf("x%d=%s=%s", i, f, strings.Join(dims, "x")))
	}
	if b, err := exec.Command(node, args...).CombinedOutput(); err != nil {
		t.Fatalf("ONNX Runtime: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(b)/4)
	for i := range y {
		y[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return y
}

// qRef is x quantized (half to even, saturated) and dequantized, in
// float32 as QuantizeLinear and DequantizeLinear compute.
func qRef(x float64, s float64, z, lo, hi float64) float64 {
	q := math.Max(lo, math.Min(hi, math.RoundToEven(float64(float32(x)/float32(s)))+z))
	return float64(float32(q-z) * float32(s))
}

// TestContribOps: ONNX Runtime's com.microsoft operators import and run
// in rt as a float64 reference of their definition computes them (the
// quantized ones exactly, per the quantize / dequantize arithmetic), and
// as ONNX Runtime does (one quantization step, or 1e-5, when it is
// installed: not in -short).
func TestContribOps(t *testing.T) {
	x0 := ir.NewTensor(ir.F32, []int{1, 2, 3, 4})
	x1 := ir.NewTensor(ir.F32, []int{1, 2, 3, 4})
	for i := range x0.F32 {
		x0.F32[i] = float32(math.Sin(float64(i)*1.3)) * 3
		x1.F32[i] = float32(math.Cos(float64(i)*0.7)) * 2
	}
	sA, sB, sC := 0.025, 0.02, 0.04
	// q adds QuantizeLinear of input in to name with (s, z) as initializers.
	q := func(m *mb, in, name string, s float32, z uint8) *mb {
		m.init(name+"_s", ir.FromF32(nil, []float32{s})).init(name+"_z", &ir.Tensor{DType: ir.U8, U8: []uint8{z}})
		return m.node("QuantizeLinear", []string{in, name + "_s", name + "_z"}, []string{name})
	}
	sq := func(v float64) float64 { return qRef(v, sC, 128, 0, 255) }
	type tc struct {
		name string
		m    *mb
		ms   []string
		xs   []*ir.Tensor
		ref  func(i int) float64
		tol  float64
	}
	binQ := func(op string, f func(a, b float64) float64) tc {
		m := newModel(13).input("x0", dtFloat, 1, 2, 3, 4).input("x1", dtFloat, 1, 2, 3, 4)
		q(m, "x0", "a", float32(sA), 120)
		q(m, "x1", "b", float32(sB), 130)
		m.init("c_s", ir.FromF32(nil, []float32{float32(sC)})).init("c_z", &ir.Tensor{DType: ir.U8, U8: []uint8{128}})
		m.node(op, []string{"a", "a_s", "a_z", "b", "b_s", "b_z", "c_s", "c_z"}, []string{"c"})
		m.node("DequantizeLinear", []string{"c", "c_s", "c_z"}, []string{"y"}).output("y")
		return tc{op, m, []string{op}, []*ir.Tensor{x0, x1}, func(i int) float64 {
			a := qRef(float64(x0.F32[i]), float64(float32(sA)), 120, 0, 255)
			b := qRef(float64(x1.F32[i]), float64(float32(sB)), 130, 0, 255)
			return sq(f(a, b))
		}, sC}
	}
	unaryQ := func(op string, attrs []*onnxpb.AttributeProto, f func(a float64) float64) tc {
		m := newModel(13).input("x0", dtFloat, 1, 2, 3, 4)
		q(m, "x0", "a", float32(sA), 120)
		m.init("c_s", ir.FromF32(nil, []float32{float32(sC)})).init("c_z", &ir.Tensor{DType: ir.U8, U8: []uint8{128}})
		m.node(op, []string{"a", "a_s", "a_z", "c_s", "c_z"}, []string{"c"}, attrs...)
		m.node("DequantizeLinear", []string{"c", "c_s", "c_z"}, []string{"y"}).output("y")
		return tc{op, m, []string{op}, []*ir.Tensor{x0}, func(i int) float64 {
			return sq(f(qRef(float64(x0.F32[i]), float64(float32(sA)), 120, 0, 255)))
		}, sC}
	}
	floatOp := func(op string, ms bool, attrs []*onnxpb.AttributeProto, withB bool, f func(x, b float64) float64) tc {
		m := newModel(13).input("x0", dtFloat, 1, 2, 3, 4)
		in := []string{"x0"}
		if withB {
			m.init("bias", f32s([]int{4}, 0.5, -0.25, 1, 0))
			in = append(in, "bias")
		}
		m.node(op, in, []string{"y"}, attrs...).output("y")
		var dom []string
		if ms {
			dom = []string{op}
		}
		return tc{op, m, dom, []*ir.Tensor{x0}, func(i int) float64 {
			b := 0.0
			if withB {
				b = []float64{0.5, -0.25, 1, 0}[i%4]
			}
			return f(float64(x0.F32[i]), b)
		}, 1e-5}
	}
	gelu := func(x, b float64) float64 { x += b; return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []tc{
		binQ("QLinearAdd", func(a, b float64) float64 { return a + b }),
		binQ("QLinearMul", func(a, b float64) float64 { return a * b }),
		unaryQ("QLinearSigmoid", nil, sigmoid),
		unaryQ("QLinearLeakyRelu", []*onnxpb.AttributeProto{aFloat("alpha", 0.1)}, func(a float64) float64 { return math.Max(a, 0.1*a) }),
		floatOp("Gelu", true, nil, false, gelu),
		floatOp("BiasGelu", true, nil, true, gelu),
		floatOp("FastGelu", true, nil, true, func(x, b float64) float64 {
			x += b
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}),
		floatOp("QuickGelu", true, []*onnxpb.AttributeProto{aFloat("alpha", 1.5)}, false, func(x, _ float64) float64 { return x * sigmoid(1.5*x) }),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model := msModel(t, c.m, c.ms...)
			g, err := ImportBytes("contrib.onnx", model, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := rt.Run(g, c.xs)
			if err != nil {
				t.Fatal(err)
			}
			// Quantized results: within one step of the float64
			// reference, and equal to it but at a few rounding ties.
			y, off := out[0].F32, 0
			for i := range y {
				want := c.ref(i)
				d := math.Abs(float64(y[i]) - want)
				if d > 1e-5*(1+math.Abs(want)) {
					off++
				}
				if d > c.tol*1.001 || c.tol < 1e-3 && d > 1e-5*(1+math.Abs(want)) {
					t.Fatalf("element %d: %v, reference %v", i, y[i], want)
				}
			}
			if off > len(y)/10 {
				t.Errorf("%d of %d elements one step off the reference", off, len(y))
			}
			if testing.Short() {
				return
			}
			if o := runContribORT(t, model, c.xs); o != nil {
				for i := range y {
					if math.Abs(float64(y[i]-o[i])) > c.tol*1.001 {
						t.Fatalf("element %d: rt %v, ONNX Runtime %v", i, y[i], o[i])
					}
				}
			}
		})
	}
}

// TestContribLayers: QLinearConcat of inputs with other parameters than
// the result's, QLinearGlobalAveragePool, FusedConv with its activation and
// FusedMatMul with transB and alpha, against their unfused definitions
// built from default-domain ops (and ONNX Runtime outside -short).
func TestContribLayers(t *testing.T) {
	x := ir.NewTensor(ir.F32, []int{1, 2, 4, 4})
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i)*0.9)) * 2
	}
	w := f32s([]int{3, 2, 3, 3})
	for i := range w.F32 {
		w.F32[i] = float32(math.Cos(float64(i)*0.37)) * 0.3
	}
	qp := func(m *mb, name string, s float32, z uint8) *mb {
		return m.init(name+"_s", ir.FromF32(nil, []float32{s})).init(name+"_z", &ir.Tensor{DType: ir.U8, U8: []uint8{z}})
	}
	for _, tc := range []struct {
		name       string
		fused, ref *mb
		ms         string
		tol        float64
	}{
		{"QLinearConcat",
			qp(qp(qp(newModel(13).input("x0", dtFloat, 1, 2, 4, 4), "a", 0.02, 100), "b", 0.05, 128), "y", 0.03, 128).
				node("QuantizeLinear", []string{"x0", "a_s", "a_z"}, []string{"a"}).
				node("QuantizeLinear", []string{"x0", "b_s", "b_z"}, []string{"b"}).
				node("QLinearConcat", []string{"y_s", "y_z", "a", "a_s", "a_z", "b", "b_s", "b_z"}, []string{"c"}, aInt("axis", 1)).
				node("DequantizeLinear", []string{"c", "y_s", "y_z"}, []string{"y"}).output("y"),
			qp(qp(qp(newModel(13).input("x0", dtFloat, 1, 2, 4, 4), "a", 0.02, 100), "b", 0.05, 128), "y", 0.03, 128).
				node("QuantizeLinear", []string{"x0", "a_s", "a_z"}, []string{"a"}).
				node("QuantizeLinear", []string{"x0", "b_s", "b_z"}, []string{"b"}).
				node("DequantizeLinear", []string{"a", "a_s", "a_z"}, []string{"da"}).
				node("DequantizeLinear", []string{"b", "b_s", "b_z"}, []string{"db"}).
				node("Concat", []string{"da", "db"}, []string{"cf"}, aInt("axis", 1)).
				node("QuantizeLinear", []string{"cf", "y_s", "y_z"}, []string{"c"}).
				node("DequantizeLinear", []string{"c", "y_s", "y_z"}, []string{"y"}).output("y"),
			"QLinearConcat", 0.03},
		{"QLinearGlobalAveragePool",
			qp(qp(newModel(13).input("x0", dtFloat, 1, 2, 4, 4), "a", 0.02, 100), "y", 0.01, 128).
				node("QuantizeLinear", []string{"x0", "a_s", "a_z"}, []string{"a"}).
				node("QLinearGlobalAveragePool", []string{"a", "a_s", "a_z", "y_s", "y_z"}, []string{"c"}).
				node("DequantizeLinear", []string{"c", "y_s", "y_z"}, []string{"y"}).output("y"),
			qp(qp(newModel(13).input("x0", dtFloat, 1, 2, 4, 4), "a", 0.02, 100), "y", 0.01, 128).
				node("QuantizeLinear", []string{"x0", "a_s", "a_z"}, []string{"a"}).
				node("DequantizeLinear", []string{"a", "a_s", "a_z"}, []string{"da"}).
				node("GlobalAveragePool", []string{"da"}, []string{"gf"}).
				node("QuantizeLinear", []string{"gf", "y_s", "y_z"}, []string{"c"}).
				node("DequantizeLinear", []string{"c", "y_s", "y_z"}, []string{"y"}).output("y"),
			"QLinearGlobalAveragePool", 0.01},
		{"FusedConv",
			newModel(13).input("x0", dtFloat, 1, 2, 4, 4).init("w", w).init("b", f32s([]int{3}, 0.1, -0.2, 0)).
				node("FusedConv", []string{"x0", "w", "b"}, []string{"y"}, aInts("pads", 1, 1, 1, 1), aStr("activation", "LeakyRelu"),
					&onnxpb.AttributeProto{Name: proto.String("activation_params"), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: []float32{0.2}}).output("y"),
			newModel(13).input("x0", dtFloat, 1, 2, 4, 4).init("w", w).init("b", f32s([]int{3}, 0.1, -0.2, 0)).
				node("Conv", []string{"x0", "w", "b"}, []string{"c"}, aInts("pads", 1, 1, 1, 1)).
				node("LeakyRelu", []string{"c"}, []string{"y"}, aFloat("alpha", 0.2)).output("y"),
			"FusedConv", 1e-5},
		{"FusedMatMul",
			newModel(13).input("x0", dtFloat, 1, 2, 4, 4).init("m", f32s([]int{3, 4})).
				node("FusedMatMul", []string{"x0", "m"}, []string{"y"}, aInt("transB", 1), aFloat("alpha", 0.5)).output("y"),
			newModel(13).input("x0", dtFloat, 1, 2, 4, 4).init("m", f32s([]int{3, 4})).init("h", f32s(nil, 0.5)).
				node("Transpose", []string{"m"}, []string{"mt"}).
				node("MatMul", []string{"x0", "mt"}, []string{"p"}).
				node("Mul", []string{"p", "h"}, []string{"y"}).output("y"),
			"FusedMatMul", 1e-5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model := msModel(t, tc.fused, tc.ms)
			g, err := ImportBytes("fused.onnx", model, Options{})
			if err != nil {
				t.Fatal(err)
			}
			gr := tc.ref.mustLoad(t, Options{})
			a, err := rt.Run(g, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			b, err := rt.Run(gr, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a[0].Shape) != fmt.Sprint(b[0].Shape) {
				t.Fatalf("shape %v, unfused %v", a[0].Shape, b[0].Shape)
			}
			for i := range a[0].F32 {
				if d := math.Abs(float64(a[0].F32[i] - b[0].F32[i])); d > 1e-5*(1+math.Abs(float64(b[0].F32[i]))) {
					t.Fatalf("element %d: %v, unfused %v", i, a[0].F32[i], b[0].F32[i])
				}
			}
			if testing.Short() {
				return
			}
			if o := runContribORT(t, model, []*ir.Tensor{x}); o != nil {
				for i := range o {
					if math.Abs(float64(a[0].F32[i]-o[i])) > tc.tol*1.001 {
						t.Fatalf("element %d: rt %v, ONNX Runtime %v", i, a[0].F32[i], o[i])
					}
				}
			}
		})
	}
}
