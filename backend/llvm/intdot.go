package llvm

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The dot-product integer conv: on targets with a 4-way 8-bit dot product
// (AArch64 +dotprod: sdot, s8 × s8; x86 AVX-VNNI or AVX512-VNNI:
// vpdpbusd, u8 × s8), each i32 lane of an accumulator adds the products of
// 4 consecutive k of a weight row and of an activation column in one
// instruction. LLVM 14 never forms these from plain IR: the kernel calls
// the intrinsics.
//
// Layout. The weights (i8, zero-centred) are laid out by appendIntPairs in
// quads of 4 consecutive k (kGroup 4), rows of a block of mrD rows quad by
// quad, a row's last quad padded with zero weights. B, the im2col matrix
// (or the input of a pointwise conv), is packed in panels of 16 columns:
// for each quad of k, 64 bytes, column c's 4 k at bytes 4c..4c+3. A tile
// of mrD rows × 16 columns broadcasts a row's weight quad (one i32) to
// every lane and dots it with the panel's 64 bytes (4 <16 x i8> for sdot,
// 2 <32 x i8> for vpdpbusd.256, 1 <64 x i8> for vpdpbusd.512).
//
// Exactness. rt computes acc = bias + Σ_k (x_k − zx)·w_k in int32 wrapping
// arithmetic. Both instructions want a fixed signedness for the
// activation operand: sdot s8, vpdpbusd u8. The kernel feeds them
// x' = x + d, the stored byte with its top bit flipped where the
// signedness differs (u8 x to s8: d = −128; i8 x to u8: d = +128;
// otherwise d = 0), which is the byte x' as the instruction reads it. Then
//
//	Σ (x_k − zx)·w_k = Σ x'_k·w_k − (zx + d)·Σ w_k
//
// holds over the integers, hence modulo 2^32: the kernel starts each
// accumulator at bias + corr with corr = −(zx + d)·Σ_k w_k, computed at
// compile time per output channel (a constant array). The padding of the
// im2col matrix is x = zx (x − zx = 0), i.e. the byte zx + d, which lies in
// the operand's range (u8 zx − 128 in [−128, 127], i8 zx + 128 in [0, 255]).
// Each product |x'·w| ≤ 255·128 and a quad's sum |·| < 2^17 are exact; the
// instructions add them into the lane modulo 2^32 (vpdpbusd, not the
// saturating vpdpbusds; sdot always wraps), as rt's int32 sums. The zero
// weights padding K to a multiple of 4 add 0 whatever B holds there (the
// padded rows and the columns past the last are never written: stale,
// defined bytes, multiplied by 0 or never stored).

// dotISA is a target's 4-way 8-bit dot product.
type dotISA int

const (
	dotNone    dotISA = iota
	dotSDOT           // AArch64 sdot, <4 x i32> lanes
	dotVNNI256        // x86 vpdpbusd on ymm (AVX-VNNI, or AVX512-VNNI with AVX512VL)
	dotVNNI512        // x86 vpdpbusd on zmm (AVX512-VNNI without AVX512VL)
	// dotMaddubs: x86 AVX2 without VNNI, per step (Target.dotFor): the
	// vpdpbusd.256 kernel with each vpdpbusd done as vpmaddubsw (u8 × s8
	// byte pairs summed into i16 lanes, saturating), vpmaddwd by ones (the
	// two i16 of a quad summed into its i32 lane) and vpaddd. Exact only
	// where no pair sum can saturate (pairSafe): 1.25× the multiplies per
	// cycle of the i16 pair kernel on znver3 (86 against 68 per ns in a
	// register-only loop, against 43-47 for f32 FMA).
	dotMaddubs
)

// CPUs that have the feature, as LLVM 14 knows them (checked with llc-14
// -mcpu=NAME compiling the intrinsic).
var (
	dotprodCPUs = []string{"ampere1", "apple-a13", "apple-a14", "apple-latest", "apple-m1", "cortex-a510", "cortex-a55",
		"cortex-a65", "cortex-a710", "cortex-a75", "cortex-a76", "cortex-a77", "cortex-a78", "cortex-r82", "cortex-x1",
		"cortex-x2", "exynos-m4", "exynos-m5", "neoverse-512tvb", "neoverse-e1", "neoverse-n1", "neoverse-n2",
		"neoverse-v1", "saphira", "tsv110"}
	vnniCPUs = []string{"alderlake", "cascadelake", "cooperlake", "icelake-client", "icelake-server", "rocketlake",
		"sapphirerapids", "tigerlake"}
)

// hasFeature reports whether the -mattr list enables f ("+f" and no
// later "-f").
func (t Target) hasFeature(f string) (on, set bool) {
	for _, a := range strings.Split(t.Features, ",") {
		switch strings.TrimSpace(a) {
		case "+" + f:
			on, set = true, true
		case "-" + f:
			on, set = false, true
		}
	}
	return on, set
}

func cpuIn(cpu string, names []string) bool {
	for _, n := range names {
		if cpu == n || strings.HasPrefix(cpu, n) {
			return true
		}
	}
	return false
}

// dotEmulated, set by tests only, makes every x86-64 target take the
// vpdpbusd kernel of that width with the instruction written out in plain
// IR (its documented semantics): the kernel's layout, signedness flip and
// corrections then run on hosts without VNNI, which qemu 7.2 does not
// emulate either.
var dotEmulated dotISA

// dot is the target's dot-product instruction (dotNone: none).
func (t Target) dot() dotISA {
	if dotEmulated != dotNone && t.Arch() == "x86_64" {
		return dotEmulated
	}
	switch t.Arch() {
	case "aarch64":
		on, set := t.hasFeature("dotprod")
		if on || !set && cpuIn(t.CPU, dotprodCPUs) {
			return dotSDOT
		}
	case "x86_64":
		if on, _ := t.hasFeature("avxvnni"); on {
			return dotVNNI256
		}
		on, set := t.hasFeature("avx512vnni")
		if !set && cpuIn(t.CPU, vnniCPUs) {
			return dotVNNI256 // every one of them has AVX512VL or AVX-VNNI
		}
		if on {
			if vl, _ := t.hasFeature("avx512vl"); vl || cpuIn(t.CPU, vnniCPUs) {
				return dotVNNI256
			}
			return dotVNNI512
		}
	}
	return dotNone
}

// kGroup is the number of consecutive k per weight group of a panel step
// of p: 4 on the dot-product kernel (dotFor), else 2 (pairs for
// multiply-adds).
func (t Target) kGroup(p *codegen.Program, s *codegen.Step) int {
	if t.dotFor(p, s) != dotNone {
		return 4
	}
	return 2
}

// hwDot reports whether s runs on the target's own dot-product
// instruction (i8 weights on a target with one): such steps take neither
// Winograd nor the matrix-vector kernel.
func (t Target) hwDot(s *codegen.Step) bool {
	return s.In[1].DType == pir.I8 && t.dot() != dotNone
}

// dotFor is the dot product the panel step s of p runs on: the target's
// (hwDot); else vpmaddubsw (dotMaddubs) where maddubsShape and the weights
// cannot saturate it (pairSafe); else none (the i16 pair kernel).
func (t Target) dotFor(p *codegen.Program, s *codegen.Step) dotISA {
	if !intPanelStep(s) || s.In[1].DType != pir.I8 {
		return dotNone
	}
	if d := t.dot(); d != dotNone {
		return d
	}
	if t.maddubsShape(p, s) && t.pairSafe(p, s) {
		return dotMaddubs
	}
	return dotNone
}

// maddubsShape reports whether the i8 panel step s of p would run on
// vpmaddubsw on t but for its weights: x86 with AVX2 and no VNNI, and none
// of the kernels made for its shape (integer Winograd, the matrix-vector
// and the padded-plane kernels) takes it. Whatever its rows: with the
// dot im2col by vectors (intdotim2col.go), light_resnet50 int8
// (pair-bound) per conv against the i16 pair kernel (perf cpu-clock ms
// per run, min of 3): 7×7 of 64 rows 2.5 → 2.0, 3×3 stride 2 of 128 rows
// 2.5 → 1.7, of 256 rows 2.6 → 1.8, of 512 rows 2.5 → 2.0 (the previous
// dot im2col); the first 3×3 stride-2 conv (K 27) of light_shufflenet,
// 24 rows, 0.31 → 0.22-0.27; of light_squeezenet, 64 rows, about a tie
// (mins of 3 to 9 runs, four such: 0.57-0.66 on the i16 kernel, 0.57-0.72
// on the dot).
func (t Target) maddubsShape(p *codegen.Program, s *codegen.Step) bool {
	if t.NoMaddubs || t.dot() != dotNone || !t.hasAVX2() || !intPanelStep(s) || s.In[1].DType != pir.I8 {
		return false
	}
	if intPadStep(s) || intGemvStep(s, t) {
		return false
	}
	return !(t.winoStep(s) && winoExact(s, t.winoMaxW(p, s)))
}

// MaddubsConvs counts the convs of p that run on vpmaddubsw on t (on) and
// those that would but for weights that can saturate it (saturating:
// quantize{pair-bound} makes them eligible), and of those the weight pairs
// that can saturate it (badPairs) among all their pairs (pairs).
func MaddubsConvs(p *codegen.Program, t Target) (on, saturating, badPairs, pairs int) {
	t = resolveCPU(t).withScan()
	for _, s := range p.Steps {
		if t.maddubsShape(p, s) {
			if t.pairSafe(p, s) {
				on++
			} else {
				saturating++
				bad, all := unsafePairs(s, p.Weights, false)
				badPairs, pairs = badPairs+bad, pairs+all
			}
		}
	}
	return on, saturating, badPairs, pairs
}

// pairSafe reports whether vpmaddubsw never saturates on s's weights (w,
// the program's weights, [M, K] i8 row by row): for every row and pair of
// k (2j, 2j+1; a last odd k pairs with a padding zero), whatever the
// activation bytes x' in [0, 255] (the kernel's u8 operand),
// x'0·w0 + x'1·w1 stays in [−32768, 32767]: 255·(w0⁺ + w1⁺) ≤ 32767 and
// 255·(w0⁻ + w1⁻) ≥ −32768, i.e. the positive parts sum to at most 128
// and the negative ones to at least −128. quantize{pair-bound} makes
// weights so.
func pairSafe(s *codegen.Step, w []byte) bool {
	bad, _ := unsafePairs(s, w, true)
	return bad == 0
}

// unsafePairs counts the weight pairs of s that can saturate vpmaddubsw
// (see pairSafe) and all its pairs; first stops at the first one.
func unsafePairs(s *codegen.Step, w []byte, first bool) (bad, pairs int) {
	c := s.Conv
	K := c.Cg * c.KH * c.KW
	src := w[s.In[1].Offset : s.In[1].Offset+s.In[1].Bytes()]
	for m := 0; m < c.M; m++ {
		row := src[m*K : (m+1)*K]
		for j := 0; j < K; j += 2 {
			a, b := int(int8(row[j])), 0
			if j+1 < K {
				b = int(int8(row[j+1]))
			}
			pairs++
			if max(a, 0)+max(b, 0) > 128 || min(a, 0)+min(b, 0) < -128 {
				if bad++; first {
					return bad, pairs
				}
			}
		}
	}
	return bad, pairs
}

// dotFlip reports whether the activation bytes get their top bit flipped
// for the instruction (see Exactness above), and d.
func (t Target) dotFlip(xdt pir.DType) (bool, int64) {
	if t.dot() == dotSDOT {
		if xdt == pir.U8 {
			return true, -128
		}
		return false, 0
	}
	if xdt == pir.I8 {
		return true, 128
	}
	return false, 0
}

// dotCorr is corr[m] = −(zx + d)·Σ_k w[m,k] (int32, wrapping) of a dot
// step, as a constant global shared by the steps with the same values.
func (k *kfn) dotCorr(s *codegen.Step) value.Value {
	c := s.Conv
	K := c.Cg * c.KH * c.KW
	_, d := k.e.t.dotFlip(s.In[0].DType)
	w := k.e.p.Weights[s.In[1].Offset:]
	zd := int64(s.Rq.ZX) + d
	elems := make([]constant.Constant, c.M)
	h := fnv.New64a()
	for m := 0; m < c.M; m++ {
		var sum int64
		for j := 0; j < K; j++ {
			sum += int64(int8(w[m*K+j]))
		}
		v := int32(-zd * sum)
		elems[m] = constant.NewInt(i32, int64(v))
		_ = binary.Write(h, binary.LittleEndian, v)
	}
	name := fmt.Sprintf("dotcorr.%016x.%d", h.Sum64(), c.M)
	for _, g := range k.e.m.Globals {
		if g.Name() == name {
			return g
		}
	}
	g := k.e.m.NewGlobalDef(name, constant.NewArray(types.NewArray(uint64(c.M), i32), elems...))
	g.Immutable = true
	g.Linkage = enum.LinkageInternal // a table: split modules copy it into every part
	g.UnnamedAddr = enum.UnnamedAddrUnnamedAddr
	g.Align = ir.Align(4)
	return g
}

// dotLanes is the number of i32 lanes of one accumulator.
func (d dotISA) lanes() int {
	switch d {
	case dotSDOT:
		return 4
	case dotVNNI256, dotMaddubs:
		return 8
	}
	return 16
}

// bcastQuad is a weight quad (i32) in every lane of an accumulator.
func (k *kfn) bcastQuad(isa dotISA, wq value.Value) value.Value {
	vi := types.NewVector(uint64(isa.lanes()), i32)
	bc := k.b.NewInsertElement(constant.NewUndef(vi), wq, constant.NewInt(i32, 0))
	return k.b.NewShuffleVector(bc, constant.NewUndef(vi), constant.NewZeroInitializer(vi))
}

// dot4 adds to acc (<n x i32>) the dot products of the 4 bytes of each
// lane of b (activation bytes, <4n x i8>) and of w (bcastQuad).
func (k *kfn) dot4(isa dotISA, acc, b, w value.Value) value.Value {
	vi := types.NewVector(uint64(isa.lanes()), i32)
	if isa == dotSDOT {
		v16 := types.NewVector(16, types.I8)
		f := k.e.intrinsic("llvm.aarch64.neon.sdot.v4i32.v16i8", vi, vi, v16, v16)
		return k.b.NewCall(f, acc, b, k.b.NewBitCast(w, v16))
	}
	if dotEmulated == isa {
		return k.vpdpbusdIR(acc, b, w)
	}
	if isa == dotMaddubs {
		v32 := types.NewVector(32, types.I8)
		p16 := k.b.NewCall(k.e.intrinsic("llvm.x86.avx2.pmadd.ub.sw", v16i6, v32, v32), k.b.NewBitCast(b, v32), k.b.NewBitCast(w, v32))
		ones := make([]constant.Constant, 16)
		for i := range ones {
			ones[i] = constant.NewInt(i16, 1)
		}
		return k.b.NewAdd(acc, k.pmaddwd(p16, constant.NewVector(v16i6, ones...)))
	}
	// vpdpbusd(src, a, b): a's bytes unsigned (the activations), b's
	// signed (the weights); it wraps (vpdpbusds would saturate).
	f := k.e.intrinsic(fmt.Sprintf("llvm.x86.avx512.vpdpbusd.%d", 32*isa.lanes()), vi, vi, vi, vi)
	return k.b.NewCall(f, acc, k.b.NewBitCast(b, vi), w)
}

// vpdpbusdIR is vpdpbusd(acc, a, w) in plain IR (dotEmulated): lane i adds
// Σ_j zext(a.byte[4i+j])·sext(w.byte[4i+j]), modulo 2^32.
func (k *kfn) vpdpbusdIR(acc, a, w value.Value) value.Value {
	n := acc.Type().(*types.VectorType).Len
	wide := types.NewVector(4*n, i32)
	au := k.b.NewZExt(k.b.NewBitCast(a, types.NewVector(4*n, types.I8)), wide)
	ws := k.b.NewSExt(k.b.NewBitCast(w, types.NewVector(4*n, types.I8)), wide)
	prod := k.b.NewMul(au, ws)
	sum := acc
	for j := 0; j < 4; j++ {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = 4*i + j
		}
		sum = k.b.NewAdd(sum, k.b.NewShuffleVector(prod, constant.NewUndef(wide), shuffleMask(idx...)))
	}
	return sum
}
