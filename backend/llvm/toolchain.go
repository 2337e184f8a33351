package llvm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/pare-ml/pare/codegen"
)

// HostTarget is the target of the machine pare runs on, tuned for its CPU
// (the name llc reports as "Host CPU") with the dot-product extensions
// that name does not imply but the host has (hostFeatures).
func HostTarget() (Target, error) {
	var t Target
	switch runtime.GOARCH {
	case "amd64":
		t = Target{Triple: "x86_64-linux-gnu"}
	case "arm64":
		t = Target{Triple: "aarch64-linux-gnu"}
	default:
		return Target{}, fmt.Errorf("no LLVM target for host architecture %s", runtime.GOARCH)
	}
	t.CPU = hostCPU()
	t.Features = hostFeatures(t.CPU)
	t.WinogradF32 = true
	return t, nil
}

var hostCPUName struct {
	once sync.Once
	name string
}

// hostCPU asks llc for the host CPU's name (the function attribute
// "target-cpu" does not accept "native").
func hostCPU() string {
	hostCPUName.once.Do(func() {
		llc, err := Tool("llc-14", "llc")
		if err != nil {
			return
		}
		out, err := exec.Command(llc, "--version").Output()
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(out), "\n") {
			if _, v, ok := strings.Cut(line, "Host CPU:"); ok {
				hostCPUName.name = strings.TrimSpace(v)
			}
		}
	})
	return hostCPUName.name
}

// resolveCPU maps "native" to the host CPU's name.
func resolveCPU(t Target) Target {
	if t.CPU == "native" {
		t.CPU = hostCPU()
	}
	return t
}

// Tool finds a program on PATH, trying each name in turn.
func Tool(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH (Debian: apt-get install %s)", names[0], toolPackage(names[0]))
}

func toolPackage(name string) string {
	switch {
	case strings.HasPrefix(name, "opt"), strings.HasPrefix(name, "llc"):
		return "llvm-14"
	case strings.HasPrefix(name, "aarch64"):
		return "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
	case strings.HasPrefix(name, "qemu"):
		return "qemu-user"
	}
	return name
}

// CC is the C compiler that links executables for the target.
func CC(t Target) (string, error) {
	if t.Arch() == "aarch64" && runtime.GOARCH != "arm64" {
		return Tool("aarch64-linux-gnu-gcc")
	}
	return Tool("gcc", "cc")
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return nil
}

// Artifacts names the files one compilation writes.
type Artifacts struct {
	LL, Weights, Obj, Header string
	// Stack: the bytes of stack NAME_run needs at most (objects only).
	Stack uint64
}

// WriteLL emits p as LLVM IR into base.ll and its weights into
// base.weights; it returns the paths.
func WriteLL(p *codegen.Program, t Target, base string) (Artifacts, error) {
	abs, err := filepath.Abs(base)
	if err != nil {
		return Artifacts{}, err
	}
	a := Artifacts{LL: abs + ".ll", Weights: abs + ".weights"}
	m, blob, err := Emit(p, t, a.Weights)
	if err != nil {
		return a, err
	}
	if err := os.WriteFile(a.Weights, blob, 0o644); err != nil {
		return a, err
	}
	return a, os.WriteFile(a.LL, []byte(m.String()), 0o644)
}

// optFlags are the target flags opt and llc share.
func optFlags(t Target) []string {
	t = resolveCPU(t)
	f := []string{"-mtriple=" + t.llvmTriple()}
	if t.CPU != "" {
		f = append(f, "-mcpu="+t.CPU)
	}
	if t.Features != "" {
		f = append(f, "-mattr="+t.Features)
	}
	return f
}

// CompileObj optimizes ll with opt -O3 and compiles it with llc into obj.
func CompileObj(ll, obj string, t Target) error { return compileObj(ll, obj, t, false) }

// compactProgram reports whether p is large enough to be emitted and
// compiled for compile time (see emitter.compact).
func compactProgram(p *codegen.Program) bool { return len(p.Steps) >= splitMinKernels }

// compileObj is CompileObj; compact selects the lighter settings.
func compileObj(ll, obj string, t Target, compact bool) error {
	opt, err := Tool("opt-14", "opt")
	if err != nil {
		return err
	}
	llc, err := Tool("llc-14", "llc")
	if err != nil {
		return err
	}
	bc := strings.TrimSuffix(obj, filepath.Ext(obj)) + ".opt.bc"
	defer os.Remove(bc)
	// The kernels' hot loops are written out vectorized and register-blocked;
	// what opt vectorizes besides (fills, epilogues, remainders) needs no
	// interleaving, vectorized epilogues or large unrolls, which only multiply
	// the code llc compiles (light_squeezenet: llc 8.5 s → 1.8 s). Loop
	// strength reduction is llc's costliest pass on these kernels and gains
	// them nothing measurable.
	var fast, lsr []string
	if compact {
		fast = []string{"-force-vector-interleave=1", "-enable-epilogue-vectorization=false", "-unroll-threshold=50"}
		lsr = []string{"-disable-lsr"}
	}
	if err := run(opt, append(append([]string{"-O3", ll, "-o", bc}, fast...), optFlags(t)...)...); err != nil {
		return err
	}
	return run(llc, append(append(lsr, "-O3", "-filetype=obj", "-relocation-model=pic", "-stack-size-section", bc, "-o", obj), optFlags(t)...)...)
}

// BuildObj writes base.weights, base.o and base.h. Programs with many
// kernels are split into one module per core, compiled concurrently and
// linked into base.o (ld -r); small ones go through base.ll whole.
func BuildObj(p *codegen.Program, t Target, base string) (Artifacts, error) {
	abs, err := filepath.Abs(base)
	if err != nil {
		return Artifacts{}, err
	}
	a := Artifacts{Weights: abs + ".weights", Obj: abs + ".o"}
	m, blob, err := Emit(p, t, a.Weights)
	if err != nil {
		return a, err
	}
	if err := os.WriteFile(a.Weights, blob, 0o644); err != nil {
		return a, err
	}
	kernels := 0
	for _, f := range m.Funcs {
		if len(f.Blocks) > 0 {
			kernels++
		}
	}
	if n := parts(kernels - 1); n > 1 && compactProgram(p) {
		if err := compileParts(splitModule(m, driverNames(p), n), abs, a.Obj, t); err != nil {
			return a, err
		}
	} else {
		a.LL = abs + ".ll"
		if err := os.WriteFile(a.LL, []byte(m.String()), 0o644); err != nil {
			return a, err
		}
		if err := compileObj(a.LL, a.Obj, t, compactProgram(p)); err != nil {
			return a, err
		}
	}
	if a.Stack, err = stackBound(p, a.Obj); err != nil {
		return a, err
	}
	a.Header = abs + ".h"
	return a, os.WriteFile(a.Header, []byte(header(p, len(blob), a.Stack)), 0o644)
}

// BuildExe compiles p into a static executable at out (intermediate files
// go to work).
func BuildExe(p *codegen.Program, t Target, out, work string) error {
	base := filepath.Join(work, p.Name)
	a, err := BuildObj(p, t, base)
	if err != nil {
		return err
	}
	mainC := filepath.Join(work, p.Name+"_main.c")
	if err := os.WriteFile(mainC, []byte(MainC(p)), 0o644); err != nil {
		return err
	}
	cc, err := CC(t)
	if err != nil {
		return err
	}
	return run(cc, "-O2", "-static", "-I", work, "-o", out, mainC, a.Obj, "-lm")
}
