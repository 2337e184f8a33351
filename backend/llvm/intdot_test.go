package llvm

import (
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/tests/sharedmodels"
)

var (
	aarch64Dot = Target{Triple: "aarch64-linux-gnu", Features: "+neon,+dotprod"}
	// qemuMax runs AArch64 executables on a CPU with every extension
	// qemu emulates (sdot among them).
	qemuMax = []string{"qemu-aarch64", "-cpu", "max"}
)

func TestDotISA(t *testing.T) {
	for _, c := range []struct {
		t    Target
		want dotISA
	}{
		{Target{Triple: "aarch64-linux-gnu", Features: "+neon"}, dotNone},
		{aarch64Dot, dotSDOT},
		{Target{Triple: "aarch64-linux-gnu", Features: "+neon,+dotprod,-dotprod"}, dotNone},
		{Target{Triple: "aarch64-linux-gnu", CPU: "cortex-a76"}, dotSDOT},
		{Target{Triple: "aarch64-linux-gnu", CPU: "cortex-a76", Features: "-dotprod"}, dotNone},
		{Target{Triple: "aarch64-linux-gnu", CPU: "cortex-a53"}, dotNone},
		{Target{Triple: "x86_64-linux-gnu", CPU: "znver3"}, dotNone},
		{Target{Triple: "x86_64-linux-gnu", Features: "+avx2,+avxvnni"}, dotVNNI256},
		{Target{Triple: "x86_64-linux-gnu", Features: "+avx512vnni,+avx512vl"}, dotVNNI256},
		{Target{Triple: "x86_64-linux-gnu", Features: "+avx512f,+avx512vnni"}, dotVNNI512},
		{Target{Triple: "x86_64-linux-gnu", CPU: "icelake-server"}, dotVNNI256},
		{Target{Triple: "x86_64-linux-gnu", CPU: "alderlake"}, dotVNNI256},
		{Target{Triple: "x86_64-linux-gnu", CPU: "icelake-server", Features: "-avx512vnni"}, dotNone},
	} {
		if got := c.t.dot(); got != c.want {
			t.Errorf("%+v: dot() = %d, want %d", c.t, got, c.want)
		}
	}
}

// dotConv is an integer conv with input zero point zx and i8 weights:
// extreme (all −128 or 127) or uniform over [−128, 127].
func dotConv(name string, dt pir.DType, zx int64, x, w []int, attrs pir.Attrs, extreme bool) codegentest.IntCase {
	return drawnConv(name, dt, zx, x, w, attrs, func(r *rand.Rand, _ []int64) int64 {
		if extreme {
			if r.Intn(2) == 0 {
				return 127
			}
			return -128
		}
		return r.Int63n(256) - 128
	})
}

// drawnConv is an integer conv with input zero point zx and i8 weights
// drawn by draw, given the weights drawn so far of the same row (of K =
// w[1]·w[2]·w[3]).
func drawnConv(name string, dt pir.DType, zx int64, x, w []int, attrs pir.Attrs, draw func(r *rand.Rand, row []int64) int64) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		xv := add(codegentest.QT(dt, 0.05, zx, x...))
		wt := codegentest.QT(pir.I8, 0.02, 0, w...)
		wv := pir.NewTensor(pir.I8, w)
		K := w[1] * w[2] * w[3]
		var row []int64
		for i := 0; i < wv.Len(); i++ {
			if i%K == 0 {
				row = row[:0]
			}
			v := draw(r, row)
			row = append(row, v)
			wv.SetInt(i, v)
		}
		args := []*pir.Value{xv, g.AddConst("w", wv, wt.Quant)}
		if strings.HasSuffix(name, "_i32") { // ConvInteger: the accumulators themselves
			return g.Add("conv", args, attrs, pir.Type{DType: pir.I32}, name, name)
		}
		args = append(args, codegentest.I32Const(g, r, w[0]))
		return g.Add("conv", args, attrs, codegentest.QT(dt, 4, 5), name, name)
	}}
}

// dotCases: im2col and pointwise convs of u8 and i8 inputs with the zero
// point at both ends of its range, K not a multiple of 4, groups, strides
// and dilations, a batch of 2, partial row blocks and panels, float and
// TFLite requantization; and one u8-weight conv (i16 weights: the
// multiply-add kernel).
func dotCases() []codegentest.IntCase {
	pad1 := pir.Ints(1, 1, 1, 1)
	tfl := pir.Str("tflite")
	return []codegentest.IntCase{
		dotConv("dot_u8_zx0", pir.U8, 0, []int{1, 3, 9, 11}, []int{7, 3, 3, 3}, pir.Attrs{"pads": pad1}, true),
		dotConv("dot_u8_zx255_tflite", pir.U8, 255, []int{1, 5, 6, 7}, []int{6, 5, 3, 3}, pir.Attrs{"pads": pad1, "rq": tfl}, true),
		dotConv("dot_i8_zxmin_group", pir.I8, -128, []int{1, 4, 7, 8}, []int{6, 2, 3, 3}, pir.Attrs{"pads": pad1, "group": pir.Int(2)}, true),
		dotConv("dot_i8_zxmax_stride", pir.I8, 127, []int{2, 3, 9, 10}, []int{5, 3, 3, 2}, pir.Attrs{"pads": pir.Ints(1, 0, 1, 1), "strides": pir.Ints(2, 1), "dilations": pir.Ints(1, 2), "rq": tfl}, true),
		dotConv("dot_i8_rand", pir.I8, -7, []int{1, 9, 8, 8}, []int{17, 9, 3, 3}, pir.Attrs{"pads": pad1}, false),
		dotConv("dot_pw_u8_zx0", pir.U8, 0, []int{1, 16, 5, 7}, []int{9, 16, 1, 1}, nil, true),
		dotConv("dot_pw_u8_zx255_k10", pir.U8, 255, []int{1, 10, 6, 6}, []int{5, 10, 1, 1}, pir.Attrs{"rq": tfl}, true),
		dotConv("dot_pw_i8_zxmin_k18", pir.I8, -128, []int{2, 18, 4, 5}, []int{13, 18, 1, 1}, nil, true),
		dotConv("dot_pw_i8_zxmax_k2", pir.I8, 127, []int{1, 2, 3, 3}, []int{4, 2, 1, 1}, nil, true),
		dotConv("dot_pw_i8_rand", pir.I8, 3, []int{1, 36, 9, 9}, []int{10, 36, 1, 1}, pir.Attrs{"rq": tfl}, false),
		// The im2col from the input itself; K < 4.
		dotConv("dot_direct_i8_s2_group", pir.I8, -128, []int{2, 4, 6, 40}, []int{6, 2, 1, 1}, pir.Attrs{"strides": pir.Ints(2, 2), "group": pir.Int(2)}, true),
		dotConv("dot_k3_u8", pir.U8, 3, []int{1, 3, 7, 9}, []int{4, 3, 1, 1}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}, false),
		// i32 results (no requantization): every bit of the accumulators.
		dotConv("dot_u8_zx255_i32", pir.U8, 255, []int{1, 5, 6, 7}, []int{6, 5, 3, 3}, pir.Attrs{"pads": pad1}, true),
		dotConv("dot_u8_zx0_i32", pir.U8, 0, []int{1, 3, 5, 6}, []int{5, 3, 3, 3}, pir.Attrs{"pads": pad1}, false),
		dotConv("dot_i8_zxmin_i32", pir.I8, -128, []int{1, 7, 5, 6}, []int{5, 7, 3, 3}, pir.Attrs{"pads": pad1, "strides": pir.Ints(2, 2)}, true),
		dotConv("dot_i8_zxmax_i32", pir.I8, 127, []int{1, 3, 5, 6}, []int{9, 3, 3, 3}, pir.Attrs{"pads": pad1}, false),
		dotConv("dot_pw_u8_zx255_i32", pir.U8, 255, []int{1, 14, 5, 7}, []int{6, 14, 1, 1}, nil, true),
		dotConv("dot_pw_i8_zxmin_i32", pir.I8, -128, []int{1, 22, 4, 5}, []int{5, 22, 1, 1}, nil, true),
		dotConv("dot_pw_i8_zxmax_i32", pir.I8, 127, []int{1, 6, 4, 5}, []int{7, 6, 1, 1}, nil, false),
		localIntConv("dot_u8_weights_i16", pir.U8, []int{1, 16, 7, 9}, []int{13, 16, 1, 1}, nil),
	}
}

// dotGraph: dotCases, checked to reach the dot kernel (i8 weights on an
// integer panel step).
func dotGraph(t *testing.T) (*pir.Graph, []*pir.Tensor) {
	g, vals, err := codegentest.IntOpsGraph(dotCases())
	if err != nil {
		t.Fatal(err)
	}
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.Steps {
		if intPanelStep(s) && aarch64Dot.kGroup(p, s) == 4 {
			n++
		}
	}
	if n < len(dotCases())-1 {
		t.Fatalf("%d of %d convs on the dot kernel", n, len(dotCases())-1)
	}
	return g, vals
}

// TestIntDotAArch64: the sdot kernel under qemu-aarch64 -cpu max equals rt.
func TestIntDotAArch64(t *testing.T) {
	needQemu(t)
	g, vals := dotGraph(t)
	checkAgainstRT(t, g, aarch64Dot, qemuMax, vals)
}

// TestIntDotModelsAArch64: person_detect and the quantized mnist-7 with
// sdot under qemu equal rt.
func TestIntDotModelsAArch64(t *testing.T) {
	needQemu(t)
	t.Run("person_detect", func(t *testing.T) {
		if testing.Short() {
			t.Skip("person_detect under qemu: not in -short")
		}
		g := sharedmodels.TFLite(t, "tflite-micro/person_detect.tflite")
		checkAgainstRT(t, g, aarch64Dot, qemuMax, codegentest.RandInputs(g, 5))
	})
	t.Run("mnist-7", func(t *testing.T) {
		g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
		in := sharedmodels.MnistInputs(t)
		ctx := &passes.Context{Data: &passes.Dataset{Name: "mnist-7 test sets", Inputs: in}}
		if _, err := passes.RunSpec(g, "canonicalize,quantize,fuse", ctx); err != nil {
			t.Fatal(err)
		}
		checkAgainstRT(t, g, aarch64Dot, qemuMax, in...)
	})
}

// cpuFlags is the flags line of /proc/cpuinfo.
func cpuFlags() map[string]bool {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "flags") {
			m := map[string]bool{}
			for _, f := range strings.Fields(l) {
				m[f] = true
			}
			return m
		}
	}
	return nil
}

// TestIntDotVNNIEmulated runs the vpdpbusd kernels (256 and 512 bits) on
// the host with the instruction written out in plain IR (dotEmulated):
// their quad layout, the i8 → u8 flip and the corrections (the x86 ones,
// which the AArch64 sdot runs do not cover) equal rt bit for bit.
func TestIntDotVNNIEmulated(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil || host.Arch() != "x86_64" {
		t.Skip("not an x86-64 host")
	}
	// The i8 inputs (flipped to u8) and a u8 one of each kernel form, with
	// the i32 results that show every accumulator bit.
	var cases []codegentest.IntCase
	for _, c := range dotCases() {
		switch c.Name {
		case "dot_i8_zxmin_group", "dot_i8_zxmax_stride", "dot_pw_i8_zxmin_k18", "dot_i8_zxmin_i32", "dot_direct_i8_s2_group",
			"dot_i8_zxmax_i32", "dot_pw_i8_zxmax_i32", "dot_u8_zx255_i32", "dot_pw_u8_zx255_i32":
			cases = append(cases, c)
		}
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dotEmulated = dotNone })
	for _, isa := range []dotISA{dotVNNI256, dotVNNI512} {
		if isa == dotVNNI512 && testing.Short() {
			continue // the same kernel at another width, slower to compile emulated
		}
		dotEmulated = isa
		checkAgainstRT(t, g, host, nil, vals)
	}
}

// TestIntDotVNNI: the vpdpbusd kernel's IR calls the intrinsic and llc
// compiles it for AVX-VNNI and AVX512-VNNI (256- and 512-bit). qemu 7.2's
// TCG does not emulate vpdpbusd (SIGILL, VEX and EVEX), so the executables
// run only on a host whose /proc/cpuinfo has the flags.
func TestIntDotVNNI(t *testing.T) {
	needTools(t)
	g, vals := dotGraph(t)
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	flags := cpuFlags()
	for _, c := range []struct {
		name, attr, intrinsic string
		run                   bool
	}{
		{"avxvnni", "+avx2,+fma,+avxvnni", "llvm.x86.avx512.vpdpbusd.256", flags["avx_vnni"]},
		{"avx512vnni_vl", "+avx2,+fma,+avx512f,+avx512bw,+avx512vl,+avx512vnni", "llvm.x86.avx512.vpdpbusd.256", flags["avx512_vnni"] && flags["avx512vl"]},
		{"avx512vnni", "+avx2,+fma,+avx512f,+avx512bw,+avx512vnni", "llvm.x86.avx512.vpdpbusd.512", flags["avx512_vnni"]},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt := Target{Triple: "x86_64-linux-gnu", Features: c.attr}
			base := filepath.Join(t.TempDir(), "intops")
			a, err := WriteLL(p, tgt, base)
			if err != nil {
				t.Fatal(err)
			}
			ll, err := os.ReadFile(a.LL)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(ll), "call <"); !strings.Contains(string(ll), "@"+c.intrinsic+"(") || n == 0 {
				t.Fatalf("%s: no call of %s", a.LL, c.intrinsic)
			}
			if err := CompileObj(a.LL, base+".o", tgt); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("objdump", "-d", base+".o").Output(); err == nil && !strings.Contains(string(out), "vpdpbusd") {
				t.Fatalf("%s.o: no vpdpbusd", base)
			}
			if !c.run {
				t.Skipf("compiled only: this CPU lacks the %s flags in /proc/cpuinfo (and qemu 7.2 does not emulate vpdpbusd)", c.name)
			}
			checkAgainstRT(t, g, tgt, nil, vals)
		})
	}
}

// maxPoolCase is an 8-bit max pooling of a random input.
func maxPoolCase(name string, dt pir.DType, x []int, attrs pir.Attrs) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		zx := int64(-5)
		if dt == pir.U8 {
			zx = 100
		}
		xv := add(codegentest.QT(dt, 0.1, zx, x...))
		if name[len(name)-2:] == "_a" {
			// Through a 1×1 pooling first: the input lies in the arena
			// (maxPoolS2 reads around its rows).
			v, err := g.Add("maxpool", []*pir.Value{xv}, pir.Attrs{"kernel": pir.Ints(1, 1)}, xv.Type, name+"_id", name)
			if err != nil {
				return nil, err
			}
			xv = v
		}
		return g.Add("maxpool", []*pir.Value{xv}, attrs, xv.Type, name, name)
	}}
}

// TestIntMaxPool: the 8-bit max pooling on poolRows (intMaxPool) equals
// rt's, on the host and under qemu-aarch64: strides, dilations, pads,
// uneven edges, and windows with no valid tap (pads wider than the
// kernel: rt stores 0 there).
func TestIntMaxPool(t *testing.T) {
	needTools(t)
	cases := []codegentest.IntCase{
		maxPoolCase("mp_i8_3x3s2", pir.I8, []int{1, 5, 23, 23}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2)}),
		maxPoolCase("mp_u8_3x3s2_pad", pir.U8, []int{2, 3, 12, 17}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 1)}),
		maxPoolCase("mp_i8_2x3_dil", pir.I8, []int{1, 4, 11, 40}, pir.Attrs{"kernel": pir.Ints(2, 3), "strides": pir.Ints(1, 3), "dilations": pir.Ints(2, 1), "pads": pir.Ints(0, 2, 1, 1)}),
		maxPoolCase("mp_u8_empty", pir.U8, []int{1, 2, 5, 6}, pir.Attrs{"kernel": pir.Ints(1, 1), "pads": pir.Ints(2, 1, 1, 2)}),
		// _a: two-lane form (maxPoolS2), input in the arena.
		maxPoolCase("mp_u8_3x3s2_wide_a", pir.U8, []int{1, 3, 67, 75}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 1)}),
		maxPoolCase("mp_i8_3x3s2_a", pir.I8, []int{1, 5, 23, 23}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2)}),
		maxPoolCase("mp_i8_3x3s2_pad_a", pir.I8, []int{2, 3, 12, 17}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2), "pads": pir.Ints(1, 1, 1, 1)}),
		maxPoolCase("mp_i8_2x2s2_a", pir.I8, []int{1, 3, 9, 64}, pir.Attrs{"kernel": pir.Ints(2, 2), "strides": pir.Ints(2, 2)}),
		maxPoolCase("mp_u8_3x2s2_pad_a", pir.U8, []int{2, 2, 10, 35}, pir.Attrs{"kernel": pir.Ints(3, 2), "strides": pir.Ints(1, 2), "pads": pir.Ints(1, 1, 1, 0)}),
		maxPoolCase("mp_i8_3x3s2_55_a", pir.I8, []int{1, 4, 111, 111}, pir.Attrs{"kernel": pir.Ints(3, 3), "strides": pir.Ints(2, 2)}),
		maxPoolCase("mp_i8_empty", pir.I8, []int{1, 2, 5, 6}, pir.Attrs{"kernel": pir.Ints(2, 1), "strides": pir.Ints(2, 1), "pads": pir.Ints(2, 1, 2, 1)}),
	}
	g, vals, err := codegentest.IntOpsGraph(cases)
	if err != nil {
		t.Skipf("graph: %v", err)
	}
	if host, err := HostTarget(); err == nil {
		checkAgainstRT(t, g, host, nil, vals)
	}
	for _, n := range []string{"aarch64-linux-gnu-gcc", "qemu-aarch64"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not found: the AArch64 run skipped", n)
		}
	}
	checkAgainstRT(t, g, aarch64, []string{"qemu-aarch64"}, vals)
}

// TestQuantFShortIdentity checks quantFShort's identity in float32 (as
// the emitted code computes it) against quantF's formula, on ties,
// extremes and random values.
func TestQuantFShortIdentity(t *testing.T) {
	rne := func(x float32) float32 {
		const magic = 12582912
		v := x + magic
		return v - magic
	}
	clampF := func(x, lo, hi float32) float32 {
		if x < lo {
			x = lo
		}
		if x > hi {
			x = hi
		}
		return x
	}
	r := rand.New(rand.NewSource(1))
	var fs []float32
	for i := -300; i <= 300; i++ {
		fs = append(fs, float32(i)/2, float32(i)/2+1e-3, float32(i)/2-1e-3)
	}
	for i := 0; i < 20000; i++ {
		fs = append(fs, (r.Float32()*2-1)*float32(int(1)<<r.Intn(30)))
	}
	fs = append(fs, 4e6, -4e6, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)))
	for _, b := range [][3]int32{{5, -128, 127}, {-128, -128, 127}, {127, -128, 127}, {0, 0, 255}, {255, 0, 255}, {-3, 0, 6}, {1 << 16, -1 << 16, 1 << 16}} {
		zy, lo, hi := b[0], b[1], b[2]
		for _, f := range fs {
			c := clampF(f, -4e6, 4e6)
			want := int64(rne(c) + float32(zy))
			want = min(max(want, int64(lo)), int64(hi))
			d := clampF(f, float32(lo-zy), float32(hi-zy))
			var s1 float32 = d + 12582912
			var s2 float32 = s1 - (12582912 - float32(zy))
			if got := int64(s2); got != want {
				t.Fatalf("f=%v zy=%d [%d,%d]: short %d, quantF %d", f, zy, lo, hi, got, want)
			}
		}
	}
}
