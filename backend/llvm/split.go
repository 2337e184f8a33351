package llvm

import (
	"fmt"
	"os"
	"slices"

	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/enum"
)

// splitMinKernels is the number of kernels below which a module is compiled
// whole: splitting pays for the extra processes only on larger models.
const splitMinKernels = 8

// splitModule divides m into n kernel modules of about equal size and a main
// module holding the drivers (NAME_run ...), the arena, the weights and declarations of the
// kernels. The kernels become hidden external symbols so the parts link; the
// caller makes them local again after linking (localizeHidden). Every part
// keeps the module's tables and intrinsic declarations (opt drops the unused).
func splitModule(m *ir.Module, drivers []string, n int) []*ir.Module {
	var kernels, decls, run []*ir.Func
	for _, f := range m.Funcs {
		switch {
		case slices.Contains(drivers, f.Name()):
			run = append(run, f)
		case len(f.Blocks) == 0:
			decls = append(decls, f)
		default:
			kernels = append(kernels, f)
		}
	}
	if n > len(kernels) {
		n = len(kernels)
	}
	size := func(f *ir.Func) int {
		s := 0
		for _, b := range f.Blocks {
			s += len(b.Insts) + 1
		}
		return s
	}
	order := append([]*ir.Func(nil), kernels...)
	sort.SliceStable(order, func(i, j int) bool { return size(order[i]) > size(order[j]) })
	parts := make([][]*ir.Func, n)
	load := make([]int, n)
	for _, f := range order {
		best := 0
		for i := range load {
			if load[i] < load[best] {
				best = i
			}
		}
		parts[best] = append(parts[best], f)
		load[best] += size(f)
	}
	var tables []*ir.Global
	for _, g := range m.Globals {
		if g.Init != nil && g.Linkage == enum.LinkageInternal && !strings.HasSuffix(g.Name(), "_arena") {
			tables = append(tables, g)
		}
		// The weights blob (defined by the main module's assembly) is
		// declared in every part: some kernels read it directly.
		if g.Init == nil && g.Linkage == enum.LinkageExternal {
			tables = append(tables, g)
		}
	}
	newMod := func() *ir.Module {
		x := ir.NewModule()
		x.TargetTriple, x.DataLayout, x.SourceFilename = m.TargetTriple, m.DataLayout, m.SourceFilename
		x.Globals = append(x.Globals, tables...)
		x.Funcs = append(x.Funcs, decls...)
		x.MetadataDefs = m.MetadataDefs // loop hints (noUnrollLoop)
		return x
	}
	var mods []*ir.Module
	main := newMod()
	main.Globals = m.Globals
	main.ModuleAsms = m.ModuleAsms
	for _, f := range kernels {
		f.Linkage = enum.LinkageNone
		f.Visibility = enum.VisibilityHidden
		var ps []*ir.Param
		for _, p := range f.Params {
			q := ir.NewParam(p.Name(), p.Typ)
			q.Attrs = p.Attrs
			ps = append(ps, q)
		}
		d := ir.NewFunc(f.Name(), f.Sig.RetType, ps...)
		d.Visibility = enum.VisibilityHidden
		main.Funcs = append(main.Funcs, d)
	}
	main.Funcs = append(main.Funcs, run...)
	mods = append(mods, main)
	for _, fs := range parts {
		x := newMod()
		x.Funcs = append(x.Funcs, fs...)
		x.Funcs = append(x.Funcs, calledElsewhere(fs, main.Funcs)...) // winograd_ir.go's shared bodies
		mods = append(mods, x)
	}
	return mods
}

// compileParts compiles the modules (opt -O3, llc) concurrently, one per
// core, into base.partN.o, links them into obj with ld -r and makes the
// kernels local symbols again.
func compileParts(mods []*ir.Module, base, obj string, t Target) error {
	objs := make([]string, len(mods))
	errs := make([]error, len(mods))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, m := range mods {
		ll := fmt.Sprintf("%s.part%d.ll", base, i)
		objs[i] = fmt.Sprintf("%s.part%d.o", base, i)
		if err := os.WriteFile(ll, []byte(m.String()), 0o644); err != nil {
			return err
		}
		wg.Add(1)
		go func(i int, ll string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = compileObj(ll, objs[i], t, true)
			os.Remove(ll)
		}(i, ll)
	}
	wg.Wait()
	defer func() {
		for _, o := range objs {
			os.Remove(o)
		}
	}()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	ld, objcopy, err := binutils(t)
	if err != nil {
		return err
	}
	if err := run(ld, append([]string{"-r", "-o", obj}, objs...)...); err != nil {
		return err
	}
	return run(objcopy, "--localize-hidden", obj)
}

// binutils finds ld and objcopy for the target.
func binutils(t Target) (ld, objcopy string, err error) {
	prefix := ""
	if t.Arch() == "aarch64" && runtime.GOARCH != "arm64" {
		prefix = "aarch64-linux-gnu-"
	}
	if ld, err = Tool(prefix + "ld"); err != nil {
		return
	}
	objcopy, err = Tool(prefix + "objcopy")
	return
}

// parts is the number of modules to split a program of n kernels into.
func parts(n int) int {
	if n < splitMinKernels {
		return 1
	}
	c := runtime.NumCPU()
	if c > 8 {
		c = 8
	}
	return c
}
