package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

func init() {
	register(&command{
		name: "compile", args: "MODEL -target TRIPLE [-mcpu CPU] [-mattr FEATURES] -emit ll|obj|exe|plan -o OUT",
		summary: "compile a model ahead of time to LLVM IR, an object and C header, or a static executable",
		detail: `Targets: x86_64-linux-gnu, aarch64-linux-gnu (default: the host, tuned with -mcpu native).
On the host, the dot-product extensions the CPU has but LLVM 14 does not infer
from its name (AVX512-VNNI on AMD Zen 4, which LLVM 14 calls znver3; +dotprod on
Arm cores it calls generic) are added from /proc/cpuinfo; -mattr -avx512vnni or
-dotprod turns them off.
-emit ll   OUT.ll: LLVM IR (LLVM 14, typed pointers); the weights go to OUT.ll.weights
           and the IR includes them by assembler .incbin.
-emit obj  OUT (an object: NAME_run, its arena in .bss and its weights in .rodata;
           needs libm only) and OUT.h declaring int NAME_run(const T *in..., T *out...)
           with the arena and weights sizes, and NAME_run_hooked (the same, calling
           after_step(i) once step i is done: time the steps with your own clock).
           NAME is the model name as a C identifier (-name overrides it).
-emit exe  OUT: a static executable: OUT [--bench N] [--profile N] IN... [OUT...]
           reads inputs (raw little-endian or .npy; - is stdin), writes outputs (.npy
           by extension, else raw); --bench N prints the median latency of N runs,
           --profile N each step's median time over N runs with its kernel and node.
-emit plan the lowered program: steps, kernels, fused epilogues and the memory plan.
-weights   how compressed (pruned, shared) weights compile: auto runs a sparse kernel
           for a conv or gemm whose weights are sparse enough for it to be faster
           (and keeps its weights encoded: per output channel, gaps and values or
           codebook indices); compressed does so for every weight the model stores
           encoded (smallest code); dense decodes everything to dense weights.
Needs opt-14, llc-14 and gcc (aarch64-linux-gnu-gcc for aarch64 executables): make toolchain.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			target := fs.String("target", "", "target triple: x86_64-linux-gnu or aarch64-linux-gnu (default: host)")
			mcpu := fs.String("mcpu", "", "target CPU (e.g. native, znver3, cortex-a76); default native for the host, generic otherwise")
			mattr := fs.String("mattr", "", "target features, e.g. +avx2,+fma or +dotprod")
			emit := fs.String("emit", "exe", "what to write: ll, obj, exe, plan or go (a Go package in the folder OUT; -pkg, -main, -module)")
			out := fs.String("o", "", "output `FILE`")
			name := fs.String("name", "", "C name of the model (default: the graph name)")
			weights := fs.String("weights", "auto", "compressed weights: auto, compressed or dense (see above)")
			wino := fs.Bool("winograd", true, "Winograd F(2,3) for 3×3 stride-1 convs where it pays (2.25× fewer multiplies):\n"+
				"integer convs on targets without a dot-product instruction (results equal rt's), f32 convs (results differ\n"+
				"from rt's within 1e-4 relative); their transformed weights take 16 elements per 3×3 kernel (integers: 16 i16)\n"+
				"in addition to its 9, which compile reports; false keeps them on the im2col kernels")
			maddubs := fs.Bool("maddubs", true, "x86 AVX2 without VNNI: run the int8 convs whose weights cannot saturate vpmaddubsw (u8 × s8 pairs\n"+
				"into i16: every pair of consecutive weights within ±128 when of one sign, as quantize{pair-bound} makes them)\n"+
				"on it, 1.25× the multiplies per cycle of the i16 kernel; results equal rt's; compile reports how many")
			ge := goEmit{fs.String("pkg", "", "-emit go: package name"), fs.Bool("main", false, "-emit go: add a command and go.mod"), fs.String("module", "", "-emit go -main: module path")}
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				if *out == "" && *emit != "plan" {
					return fmt.Errorf("-o OUT is required")
				}
				if *out == "-" && *emit != "plan" {
					return fmt.Errorf("-o -: -emit %s writes files (OUT and its weights beside it); give a path (only -emit plan prints to stdout)", *emit)
				}
				t, err := compileTarget(*target, *mcpu, *mattr)
				if err != nil && *emit != "go" {
					return err
				}
				t.NoWinograd, t.WinogradF32, t.NoMaddubs = !*wino, *wino, !*maddubs
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				if n := qdqFloatLayers(g); n > 0 {
					fmt.Fprintf(stderr, "%d conv/gemm/matmul run in float between dequantize and quantize (a QDQ model): pare opt %s -passes qdq,canonicalize,fuse -o OUT.ir makes them integer ops\n", n, pos[0])
				}
				opts := codegen.Options{Weights: *weights, Backend: "llvm"}
				if *emit == "go" {
					opts.Backend = "go"
				}
				p, err := codegen.LowerWith(g, opts)
				if err != nil {
					return err
				}
				reportSparse(p)
				if *name != "" {
					p.Name = codegen.CName(*name)
				}
				if *emit == "go" {
					return emitGo(p, *out, ge)
				}
				if *emit != "plan" {
					if n, extra := llvm.WinogradConvs(p, t); n > 0 {
						fmt.Fprintf(stderr, "%d f32 convs run as Winograd F(2,3) (-winograd=false: none): their transformed weights add %d bytes\n", n, extra)
					}
					if n, extra := llvm.WinogradWeights(p, t); n > 0 {
						fmt.Fprintf(stderr, "%d integer convs run as Winograd F(2,3) (-winograd=false: none): their transformed weights add %d bytes\n", n, extra)
					}
					if on, sat, bad, pairs := llvm.MaddubsConvs(p, t); on > 0 || sat > 0 {
						fmt.Fprintf(stderr, "%d int8 convs run on vpmaddubsw (-maddubs=false: none); %d more would if no pair of consecutive weights summed past ±128 (quantize{pair-bound} quantizes float models so)", on, sat)
						if sat > 0 {
							fmt.Fprintf(stderr, ": %d of their %d weight pairs (%.1f %%) do", bad, pairs, 100*float64(bad)/float64(pairs))
						}
						fmt.Fprintln(stderr)
					}
				}
				return emitProgram(p, t, *emit, *out)
			}
		},
	})
}

func compileTarget(triple, cpu, attr string) (llvm.Target, error) {
	host, herr := llvm.HostTarget()
	if triple == "" {
		if herr != nil {
			return llvm.Target{}, herr
		}
		triple = host.Triple
	}
	t := llvm.Target{Triple: triple, CPU: cpu, Features: attr}
	if err := llvm.CheckTarget(t); err != nil {
		return t, err
	}
	if cpu == "" && herr == nil && host.Triple == triple {
		t.CPU = host.CPU
		if host.Features != "" { // -mattr comes last: it can turn them off
			t.Features = strings.Trim(host.Features+","+attr, ",")
		}
	}
	return t, nil
}

func emitProgram(p *codegen.Program, t llvm.Target, emit, out string) error {
	switch emit {
	case "plan":
		w := stdout
		if out != "" && out != "-" {
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		p.Dump(w)
		return nil
	case "ll":
		base := strings.TrimSuffix(out, ".ll")
		if _, err := llvm.WriteLL(p, t, base); err != nil {
			return err
		}
		// The weights file as written: repacked, with any Winograd
		// transforms appended.
		n := int64(len(p.Weights))
		if fi, err := os.Stat(base + ".weights"); err == nil {
			n = fi.Size()
		}
		fmt.Fprintf(stdout, "wrote %s (weights %s.weights, %d bytes; arena %d bytes)\n", out, base, n, p.ArenaSize)
		return nil
	case "obj":
		work, err := os.MkdirTemp("", "pare-compile-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		a, err := llvm.BuildObj(p, t, filepath.Join(work, p.Name))
		if err != nil {
			return err
		}
		if err := copyFile(a.Obj, out); err != nil {
			return err
		}
		h := strings.TrimSuffix(out, filepath.Ext(out)) + ".h"
		if err := copyFile(a.Header, h); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s (%s_run; arena %d bytes, weights %d bytes, stack %d bytes)\n", out, h, p.Name, p.ArenaSize, len(p.Weights), a.Stack)
		return nil
	case "exe":
		work, err := os.MkdirTemp("", "pare-compile-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if err := llvm.BuildExe(p, t, out, work); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s, arena %d bytes, weights %d bytes)\n", out, t.Triple, p.ArenaSize, len(p.Weights))
		return nil
	}
	return fmt.Errorf("-emit %q: want ll, obj, exe or plan", emit)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// reportSparse says which layers run sparse kernels and what their
// weights cost, encoded against dense.
func reportSparse(p *codegen.Program) {
	n, enc, dense := 0, int64(0), int64(0)
	for _, st := range p.Steps {
		sp := st.Sparse
		if sp == nil {
			continue
		}
		n++
		b := sp.Bytes(st.In[1])
		d := int64(sp.Rows*sp.Cols) * int64(st.In[1].DType.Size())
		if sp.IdxBits > 0 {
			d = int64(sp.Rows*sp.Cols) * int64(sp.Codebook.DType.Size())
		}
		enc, dense = enc+b, dense+d
		cb := "values"
		if sp.IdxBits > 0 {
			cb = fmt.Sprintf("%d-bit codebook indices", sp.IdxBits)
		}
		fmt.Fprintf(stderr, "sparse %s: %d×%d, %.1f%% non-zero, %d-bit gaps, %s: %d bytes (dense %d)\n",
			st.Where, sp.Rows, sp.Cols, 100*float64(sp.NonZeros)/float64(max(sp.Rows*sp.Cols, 1)), sp.GapBits, cb, b, d)
	}
	if n > 0 {
		fmt.Fprintf(stderr, "%d layers run sparse kernels: their weights take %d bytes (dense %d, %.1f× smaller)\n", n, enc, dense, float64(dense)/float64(max(enc, 1)))
	}
}

// qdqFloatLayers counts the f32 conv, gemm and matmul ops of g that read a
// dequantized input: a QDQ model's layers, which the qdq pass makes
// integer.
func qdqFloatLayers(g *ir.Graph) int {
	n := 0
	for _, v := range g.Values {
		switch v.Op.Name {
		case "conv", "gemm", "matmul":
			if v.Type.DType == ir.F32 && len(v.Args) > 1 && v.Args[0].Op.Name == "dequantize" {
				n++
			}
		}
	}
	return n
}
