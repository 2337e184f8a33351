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
	"github.com/pare-ml/pare/passes"
)

func init() {
	register(&command{
		name: "compile", args: "MODEL -target TRIPLE [-mcpu CPU] [-mattr FEATURES] -emit ll|obj|exe|plan -o OUT",
		summary: "compile a model ahead of time to LLVM IR, an object and C header, or a static executable",
		detail: `Targets: x86_64-linux-gnu, aarch64-linux-gnu (default: the host, tuned with -mcpu native).
-emit ll   OUT.ll: LLVM IR (LLVM 14, typed pointers); the weights go to OUT.ll.weights
           and the IR includes them by assembler .incbin.
-emit obj  OUT (an object: NAME_run, its arena in .bss and its weights in .rodata;
           needs libm only) and OUT.h declaring int NAME_run(const T *in..., T *out...)
           with the arena and weights sizes. NAME is the model name as a C identifier
           (-name overrides it).
-emit exe  OUT: a static executable: OUT [--bench N] IN... [OUT...] reads inputs
           (raw little-endian or .npy; - is stdin), writes outputs (.npy by
           extension, else raw), and with --bench N prints the median latency of N runs.
-emit plan the lowered program: steps, kernels, fused epilogues and the memory plan.
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
			ge := goEmit{fs.String("pkg", "", "-emit go: package name"), fs.Bool("main", false, "-emit go: add a command and go.mod"), fs.String("module", "", "-emit go -main: module path")}
			return func(pos []string) error {
				if len(pos) != 1 {
					return fmt.Errorf("want one MODEL, got %d arguments", len(pos))
				}
				if *out == "" && *emit != "plan" {
					return fmt.Errorf("-o OUT is required")
				}
				t, err := compileTarget(*target, *mcpu, *mattr)
				if err != nil && *emit != "go" {
					return err
				}
				g, err := mf.load(pos[0])
				if err != nil {
					return err
				}
				if g, err = denseWeights(g); err != nil {
					return err
				}
				p, err := codegen.Lower(g)
				if err != nil {
					return err
				}
				if *name != "" {
					p.Name = codegen.CName(*name)
				}
				if *emit == "go" {
					return emitGo(p, *out, ge)
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
		_, err := llvm.WriteLL(p, t, strings.TrimSuffix(out, ".ll"))
		if err == nil {
			fmt.Fprintf(stdout, "wrote %s (weights %s.weights, %d bytes; arena %d bytes)\n", out, strings.TrimSuffix(out, ".ll"), len(p.Weights), p.ArenaSize)
		}
		return err
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
		fmt.Fprintf(stdout, "wrote %s and %s (%s_run; arena %d bytes, weights %d bytes)\n", out, h, p.Name, p.ArenaSize, len(p.Weights))
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

// denseWeights decodes compressed weight encodings (sparse_decode,
// sparse_rel_decode, codebook_decode of constants) into dense constants for
// the compiled backends, which have no sparse or codebook kernels yet; it
// says so, since the compiled model is then no smaller than the dense one.
func denseWeights(g *ir.Graph) (*ir.Graph, error) {
	has := false
	for _, v := range g.Values {
		switch v.Op.Name {
		case "sparse_decode", "sparse_rel_decode", "codebook_decode":
			has = true
		}
	}
	if !has {
		return g, nil
	}
	g = g.Clone()
	n, err := passes.Decompress(g)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "note: %d compressed weight encodings (sparse, codebook) decoded to dense weights: the compiled backends have no sparse or codebook kernels yet\n", n)
	return g, nil
}
