package llvm

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// winoConv is a 3×3 integer conv case: input dtype dt with zero point
// zx, weights i8 (u8 with zero point 131 when u8w: i16 weights for the
// kernel), per-channel weight scales when perChannel, extreme weights
// (all -128 or 127) when extreme.
func winoConv(name string, dt pir.DType, zx int64, x []int, m int, attrs pir.Attrs, u8w, perChannel, extreme bool) codegentest.IntCase {
	return codegentest.IntCase{Name: name, Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
		xv := add(codegentest.QT(dt, 0.05, zx, x...))
		w := []int{m, x[1], 3, 3}
		wdt, wz := pir.I8, int64(0)
		if u8w {
			wdt, wz = pir.U8, 131
		}
		wt := codegentest.QT(wdt, 0.02, wz, w...)
		if perChannel {
			s, z := make([]float32, m), make([]int64, m)
			for i := range s {
				s[i], z[i] = 0.01+0.003*float32(i), wz
			}
			wt.Quant = codegentest.QAxis(0, s, z)
		}
		wv := codegentest.RandInt(r, wt)
		if extreme {
			lo, hi := wdt.Range()
			for i := 0; i < wv.Len(); i++ {
				v := lo
				if r.Intn(2) == 0 {
					v = hi
				}
				wv.SetInt(i, v)
			}
		}
		args := []*pir.Value{xv, g.AddConst("w", wv, wt.Quant)}
		if strings.HasSuffix(name, "_i32") { // ConvInteger: the accumulators themselves
			return g.Add("conv", args, attrs, pir.Type{DType: pir.I32}, name, name)
		}
		args = append(args, codegentest.I32Const(g, r, m))
		return g.Add("conv", args, attrs, codegentest.QT(dt, 0.4, 5), name, name)
	}}
}

// winoCases: the geometries of the Winograd kernel's edges: C of 1, odd
// and even; M not a multiple of mrI; outputs of 1, 2, 3, 7 and 13 rows and
// columns (panels of 16, 8, 4, 2 and 1 tiles across, partial panels across
// and down); pads 0, 1, 2 and uneven; u8 and i8 inputs with zero points
// at both ends; i8 and i16 (u8 with a zero point) weights, extreme ones;
// per-tensor and per-channel scales; M over several chunks (winoChunk);
// float and TFLite requantization; relu; a batch of 2; i32 outputs
// (ConvInteger).
func winoCases() []codegentest.IntCase {
	pad1 := pir.Attrs{"pads": pir.Ints(1, 1, 1, 1)}
	return []codegentest.IntCase{
		winoConv("w_c1", pir.U8, 120, []int{1, 1, 7, 7}, 3, pad1, false, false, false),
		winoConv("w_c2_13", pir.I8, -3, []int{1, 2, 13, 13}, 5, pad1, false, true, false),
		winoConv("w_c3_odd", pir.U8, 0, []int{1, 3, 13, 7}, 6, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1), "act": pir.Str("relu")}, false, false, false),
		winoConv("w_c16_55", pir.U8, 255, []int{1, 16, 55, 55}, 9, pad1, false, true, false),
		winoConv("w_c33_pad0", pir.I8, -128, []int{1, 33, 9, 15}, 4, nil, false, false, true),
		winoConv("w_oh1", pir.I8, 127, []int{1, 4, 3, 40}, 2, nil, false, false, true),
		winoConv("w_ow1", pir.U8, 9, []int{1, 16, 40, 3}, 5, nil, false, true, false),
		winoConv("w_oh2", pir.U8, 7, []int{1, 5, 4, 35}, 7, nil, true, true, false),
		winoConv("w_ow3", pir.I8, 1, []int{1, 5, 40, 5}, 7, nil, false, false, false),
		winoConv("w_ow2", pir.U8, 200, []int{1, 6, 30, 2}, 5, pad1, true, false, true),
		winoConv("w_asym", pir.I8, 5, []int{1, 7, 12, 11}, 8, pir.Attrs{"pads": pir.Ints(0, 1, 2, 0)}, false, false, false),
		winoConv("w_asym2", pir.U8, 128, []int{1, 8, 6, 14}, 3, pir.Attrs{"pads": pir.Ints(2, 0, 1, 2), "act": pir.Str("relu")}, false, true, false),
		winoConv("w_tflite", pir.I8, -3, []int{1, 9, 13, 13}, 10, pir.Attrs{"rq": pir.Str("tflite"), "pads": pir.Ints(1, 1, 1, 1)}, false, true, false),
		winoConv("w_tflite_u8w", pir.U8, 100, []int{1, 4, 7, 7}, 6, pir.Attrs{"rq": pir.Str("tflite"), "pads": pir.Ints(1, 1, 1, 1)}, true, false, false),
		winoConv("w_batch2", pir.I8, 0, []int{2, 12, 7, 9}, 5, pad1, false, false, false),
		winoConv("w_28_ext", pir.I8, -128, []int{1, 64, 28, 28}, 6, pad1, false, false, true),
		winoConv("w_wide", pir.U8, 3, []int{1, 2, 3, 70}, 4, pad1, false, false, false),
		// Chunks of row blocks: whole ones, a last of fewer blocks, a last
		// of the rem channels alone.
		winoConv("w_m30", pir.U8, 30, []int{1, 8, 7, 9}, 30, pad1, false, true, false),
		winoConv("w_m50", pir.I8, -100, []int{1, 5, 8, 8}, 50, pad1, true, false, false),
		winoConv("w_conv_i32", pir.U8, 77, []int{1, 6, 9, 10}, 7, pad1, false, false, true),
	}
}

// TestIntWinograd: the Winograd convs equal rt's bit for bit on the host,
// and every one of them runs as Winograd (winoPicked).
func TestIntWinograd(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	winoForce = true
	defer func() { winoForce = false }()
	g, vals, err := codegentest.IntOpsGraph(winoCases())
	if err != nil {
		t.Fatal(err)
	}
	winoPicked(t, g, host)
	checkAgainstRT(t, g, host, nil, vals)
}

// TestIntWinogradAArch64: the same under qemu-aarch64 (plain NEON: the
// multiply-add kernel in plain IR).
func TestIntWinogradAArch64(t *testing.T) {
	needQemu(t)
	winoForce = true
	defer func() { winoForce = false }()
	g, vals, err := codegentest.IntOpsGraph(winoCases())
	if err != nil {
		t.Fatal(err)
	}
	winoPicked(t, g, aarch64)
	checkAgainstRT(t, g, aarch64, []string{"qemu-aarch64"}, vals)
}

// winoPicked fails unless every conv of g compiles to the Winograd kernel
// on tgt (its stack buffer %wino.m in the IR of each), and none does with
// NoWinograd.
func winoPicked(t *testing.T, g *pir.Graph, tgt Target) {
	t.Helper()
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Emit(p, tgt, "/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	_, wino := appendWino(p, p.Weights, tgt)
	for _, s := range p.Steps {
		if s.Kernel != codegen.KConvGemm {
			continue
		}
		if _, ok := wino[s]; !ok {
			t.Errorf("%s: not run as Winograd", s.Where)
		}
	}
	if n := strings.Count(m.String(), "%wino.m = alloca"); n == 0 {
		t.Errorf("no Winograd kernel in the module")
	}
	off := tgt
	off.NoWinograd = true
	if _, wino := appendWino(p, p.Weights, off); len(wino) != 0 {
		t.Errorf("NoWinograd: %d convs still run as Winograd", len(wino))
	}
}

// BenchmarkIntWinograd times single 3×3 convs of the layer kinds of
// light_squeezenet_int8 (expand3x3) and light_resnet50_int8, compiled for
// the host with and without Winograd, the two executables alternating
// (ROUNDS of --bench medians each; the lowest of each kept): the ratio
// wino/im2col says where Winograd pays (winoPays). Run with
//
//	go test -run '^$' -bench IntWinograd -benchtime 1x ./backend/llvm
func BenchmarkIntWinograd(b *testing.B) {
	needTools(b)
	host, err := HostTarget()
	if err != nil {
		b.Skip(err)
	}
	winoForce = true
	defer func() { winoForce = false }()
	for _, l := range []struct {
		name     string
		c, m, hw int
	}{
		{"c4_56", 4, 32, 56}, {"c8_56", 8, 32, 56}, {"sq_c16_55", 16, 64, 55}, {"sq_c32_27", 32, 128, 27}, {"sq_c48_13", 48, 192, 13}, {"sq_c64_13", 64, 256, 13},
		{"r50_c64_56", 64, 64, 56}, {"r50_c128_28", 128, 128, 28}, {"r50_c256_14", 256, 256, 14}, {"r50_c512_7", 512, 512, 7},
	} {
		b.Run(l.name, func(b *testing.B) {
			g, vals, err := codegentest.IntOpsGraph([]codegentest.IntCase{
				winoConv(l.name, pir.U8, 0, []int{1, l.c, l.hw, l.hw}, l.m, pir.Attrs{"pads": pir.Ints(1, 1, 1, 1), "act": pir.Str("relu")}, false, true, false)})
			if err != nil {
				b.Fatal(err)
			}
			var exes [2]*Executable
			for i, off := range []bool{false, true} {
				t := host
				t.NoWinograd = off
				x, err := Build(g, t)
				if err != nil {
					b.Fatal(err)
				}
				defer x.Close()
				exes[i] = x
			}
			in := filepath.Join(b.TempDir(), "in")
			if err := os.WriteFile(in, vals[0].Bytes(), 0o644); err != nil {
				b.Fatal(err)
			}
			best := [2]float64{math.Inf(1), math.Inf(1)}
			iters := max(20, 20000/(l.hw*l.hw*l.c*l.m/100000+1))
			for r := 0; r < 5; r++ {
				for i, x := range exes {
					out, err := exec.Command(x.Path, "--bench", strconv.Itoa(iters), in, os.DevNull).Output()
					if err != nil {
						b.Fatal(err)
					}
					var res struct {
						Median float64 `json:"median_ms"`
					}
					if err := json.Unmarshal(out, &res); err != nil {
						b.Fatal(err)
					}
					best[i] = min(best[i], res.Median)
				}
			}
			b.ReportMetric(best[0], "ms_wino")
			b.ReportMetric(best[1], "ms_im2col")
			b.ReportMetric(best[0]/best[1], "wino/im2col")
		})
	}
}
