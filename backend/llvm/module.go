// Package llvm compiles a codegen.Program to LLVM IR (typed pointers, as
// LLVM 14 reads it) with github.com/llir/llvm, and drives opt-14, llc-14
// and gcc to make objects, C headers and static executables.
//
// Every kernel becomes one function specialized to its shapes; loops have
// constant trip counts and noalias pointers, so that opt -O3 vectorizes
// them for the target's features. The arena is a zero-initialized global
// (.bss), the packed weights are included from a sidecar file by module
// assembly (.incbin), and NAME_run takes the caller's input and output
// buffers: the object needs no malloc and no libc except libm for
// transcendental functions (expf, tanhf, erff, powf, logf).
package llvm

import (
	"fmt"
	"strings"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// Target selects the machine code generated.
type Target struct {
	Triple   string // x86_64-linux-gnu or aarch64-linux-gnu
	CPU      string // -mcpu (empty: the triple's default)
	Features string // -mattr, e.g. +avx2,+fma
	// NoWinograd keeps the 3×3 stride-1 integer convs on the panel
	// kernel instead of integer Winograd F(2,3) (intwino.go).
	NoWinograd bool
	// WinogradF32 runs the eligible f32 3×3 stride-1 convs as Winograd
	// F(2,3) (winograd.go); HostTarget and pare compile set it.
	WinogradF32 bool
	// NoMaddubs keeps the i8 convs of an AVX2 target without VNNI on the
	// i16 pair kernel even where their weights let vpmaddubsw run them
	// exactly (intdot.go, dotMaddubs).
	NoMaddubs bool

	scan *weightScan // memoized weight facts (weightscan.go)
}

// Arch is "x86_64" or "aarch64".
func (t Target) Arch() string { return strings.SplitN(t.Triple, "-", 2)[0] }

func (t Target) dataLayout() string {
	if t.Arch() == "aarch64" {
		return "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"
	}
	return "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
}

func (t Target) llvmTriple() string {
	a := t.Arch()
	return a + "-unknown-linux-gnu"
}

// CheckTarget reports an unsupported triple.
func CheckTarget(t Target) error {
	switch t.Triple {
	case "x86_64-linux-gnu", "aarch64-linux-gnu":
		return nil
	}
	return fmt.Errorf("target %q: want x86_64-linux-gnu or aarch64-linux-gnu", t.Triple)
}

type emitter struct {
	m       *ir.Module
	p       *codegen.Program
	t       Target
	arena   *ir.Global
	weights *ir.Global
	decls   map[string]*ir.Func
	// compact: a large program (splitMinKernels steps or more), emitted for
	// compile time (kernel offsets as loops, kernels not inlined, lighter
	// opt and llc settings); small ones are emitted for speed alone.
	compact bool
	// packedA: the steps whose weights repackWeights laid out: the conv
	// steps' A in row blocks, the few-row gemms' B in column panels.
	packedA map[*codegen.Step]bool
	// intPairs: the byte offset in the weights blob of the weight pairs
	// of each integer conv the panel kernel runs (appendIntPairs).
	intPairs map[*codegen.Step]int64
	// wino: the byte offset of the transformed weights of each integer
	// conv run as Winograd (appendWino).
	wino map[*codegen.Step]int64
	// winoF32: the f32 Winograd convs' plans (appendWinograd), and the
	// body functions convs of one geometry share.
	winoF32    map[*codegen.Step]*winoPlan
	winoBodies map[string]*ir.Func
}

// Emit returns the LLVM module of p and the weights blob it reads (p.Weights
// with some constants repacked for the kernels: repackWeights), which the
// caller writes to weightsPath, the file the module includes them from
// (absolute).
func Emit(p *codegen.Program, t Target, weightsPath string) (*ir.Module, []byte, error) {
	if err := CheckTarget(t); err != nil {
		return nil, nil, err
	}
	if strings.ContainsAny(weightsPath, "\"\\\n\r") {
		return nil, nil, fmt.Errorf("weights path %q: quotes, backslashes and newlines cannot be included by the assembler", weightsPath)
	}
	t = resolveCPU(t).withScan()
	blob, packedA := repackWeights(p)
	blob, wino := appendWino(p, blob, t)
	blob, intPairs := appendIntPairs(p, blob, t, wino)
	e := &emitter{m: ir.NewModule(), p: p, t: t, decls: map[string]*ir.Func{}, compact: compactProgram(p), packedA: packedA, intPairs: intPairs, wino: wino}
	blob, e.winoF32 = appendWinograd(p, blob, t)
	e.m.TargetTriple = t.llvmTriple()
	e.m.DataLayout = t.dataLayout()
	e.m.SourceFilename = p.Name
	arena := p.ArenaSize
	if arena == 0 {
		arena = codegen.Align
	}
	e.arena = e.m.NewGlobalDef(p.Name+"_arena", constant.NewZeroInitializer(types.NewArray(uint64(arena+2*arenaGuard), types.I8)))
	e.arena.Linkage = enum.LinkageInternal
	e.arena.Align = ir.Align(codegen.Align)
	wsym := p.Name + "_weights"
	wn := uint64(len(blob))
	if wn == 0 {
		e.weights = e.m.NewGlobalDef(wsym, constant.NewZeroInitializer(types.NewArray(codegen.Align, types.I8)))
		e.weights.Linkage = enum.LinkageInternal
	} else {
		e.weights = e.m.NewGlobal(wsym, types.NewArray(wn, types.I8))
		e.weights.Immutable = true
		e.weights.Linkage = enum.LinkageExternal
		e.weights.Preemption = enum.PreemptionDSOLocal
		e.weights.Visibility = enum.VisibilityHidden
		e.m.ModuleAsms = append(e.m.ModuleAsms,
			"\t.section .rodata", "\t.balign 64", "\t.globl "+wsym, "\t.hidden "+wsym,
			wsym+":", fmt.Sprintf("\t.incbin \"%s\"", weightsPath), fmt.Sprintf("\t.size %s, %d", wsym, wn), "\t.text")
	}
	// Steps with the same shapes, constants and epilogue get the same
	// function text: emit it once (resnet's repeated blocks), which
	// shortens opt and llc as much as the code.
	var kernels []*ir.Func
	seen := map[string]*ir.Func{}
	for _, s := range p.Steps {
		f, err := e.kernel(s)
		if err != nil {
			return nil, nil, err
		}
		key := strings.Replace(f.LLString(), "@"+f.Name()+"(", "@(", 1)
		if g := seen[key]; g != nil {
			e.m.Funcs = e.m.Funcs[:len(e.m.Funcs)-1]
			f = g
		} else {
			seen[key] = f
		}
		kernels = append(kernels, f)
	}
	e.run(kernels)
	return e.m, blob, nil
}

// elemType is the LLVM type of a dtype's elements.
func elemType(dt pir.DType) types.Type {
	switch dt {
	case pir.F32:
		return f32
	case pir.I8, pir.U8, pir.Bool:
		return types.I8
	case pir.I16:
		return types.I16
	case pir.I32:
		return types.I32
	}
	return types.I64
}

// operands lists a step's operands in the order its kernel takes them.
func operands(s *codegen.Step) []*codegen.Operand {
	var ops []*codegen.Operand
	for i := range s.In {
		ops = append(ops, &s.In[i])
	}
	ops = append(ops, &s.Out)
	if s.Scratch != nil {
		ops = append(ops, s.Scratch)
	}
	for i := range s.Epilogue {
		if s.Epilogue[i].Arg != nil {
			ops = append(ops, s.Epilogue[i].Arg)
		}
	}
	for i := range s.Epilogue { // the Arg2 operands after every Arg (applyEpi)
		if s.Epilogue[i].Arg2 != nil {
			ops = append(ops, s.Epilogue[i].Arg2)
		}
	}
	if sp := s.Sparse; sp != nil { // last: the sparse kernels take them from the end
		ops = append(ops, &sp.RowPtr, &sp.Gaps)
		if sp.Codebook != nil {
			ops = append(ops, sp.Codebook)
		}
	}
	return ops
}

func overlap(a, b *codegen.Operand) bool {
	if a.Space != b.Space || a.Index != b.Index {
		return false
	}
	return a.Offset < b.Offset+b.Bytes() && b.Offset < a.Offset+a.Bytes()
}

// kernel emits the function of one step.
func (e *emitter) kernel(s *codegen.Step) (*ir.Func, error) {
	ops := operands(s)
	var params []*ir.Param
	for i, o := range ops {
		p := ir.NewParam(fmt.Sprintf("p%d", i), types.NewPointer(elemType(o.DType)))
		alias := false
		for j, q := range ops {
			if j != i && overlap(o, q) && (o == &s.Out || q == &s.Out || o == s.Scratch || q == s.Scratch) {
				alias = true
			}
		}
		if !alias {
			p.Attrs = append(p.Attrs, enum.ParamAttrNoAlias)
		}
		params = append(params, p)
	}
	k := e.newFunc(s.Name, kernelRet(s), params...)
	k.f.Linkage = enum.LinkageInternal
	// Kept out of NAME_run: inlined, every kernel would be optimized and
	// compiled again as one huge function.
	if e.compact {
		k.f.FuncAttrs = append(k.f.FuncAttrs, enum.FuncAttrNoInline)
	}
	args := make([]value.Value, len(params))
	for i, p := range params {
		args[i] = p
	}
	in := args[:len(s.In)]
	out := args[len(s.In)]
	rest := args[len(s.In)+1:]
	var scratch value.Value
	if s.Scratch != nil {
		scratch, rest = rest[0], rest[1:]
	}
	var err error
	switch {
	case s.Kernel == codegen.KGather:
		k.gather(s, in, out)
	case s.Kernel == codegen.KQuant:
		err = k.qmap(s, in, out)
	case s.Kernel == codegen.KQBinary:
		err = k.qbinary(s, in, out)
	case s.Kernel == codegen.KSparseConv || s.Kernel == codegen.KSparseGemm:
		err = k.sparse(s, in, out, scratch, rest)
	case s.Rq != nil:
		err = k.intKernel(s, in, out, scratch)
	default:
		err = k.floatKernel(s, in, out, scratch, rest)
	}
	if err != nil {
		return nil, err
	}
	if s.Kernel != codegen.KMap && len(s.Epilogue) > 0 && !fusedEpi(s) && !(s.Kernel == codegen.KGemm && e.packedA[s] && vecEpi(s)) {
		k.epilogueSweep(s, out, rest)
	}
	if s.Fails() {
		k.b.NewRet(ci32(0))
	} else {
		k.b.NewRet(nil)
	}
	return k.f, nil
}

// intKernel emits the integer form of a step (codegen.Requant).
func (k *kfn) intKernel(s *codegen.Step, in []value.Value, out, scratch value.Value) error {
	if intPadStep(s) {
		k.intConvPad(s, in, out, scratch)
		return nil
	}
	switch s.Kernel {
	case codegen.KConvGemm, codegen.KIntConvRuntime:
		if off, ok := k.e.wino[s]; ok {
			k.intConvWino(s, in, out, scratch, off)
			return nil
		}
		if _, ok := k.e.intPairs[s]; ok && intGemvStep(s, k.e.t) {
			k.intConvGemv(s, in, out)
			return nil
		}
		if _, ok := k.e.intPairs[s]; ok {
			k.intConvPanel(s, in, out, scratch)
			return nil
		}
		return k.intConv(s, in, out, scratch)
	case codegen.KConvDepthwise:
		if dt := s.In[0].DType; s.Conv.SW == 1 && (dt == pir.U8 || dt == pir.I8) && !overlap(&s.In[0], &s.Out) {
			k.intDepthwiseRows(s, in, out)
			return nil
		}
		return k.intDepthwise(s, in, out, scratch)
	case codegen.KGemm:
		return k.intGemm(s, in, out, scratch)
	case codegen.KPool:
		return k.intPool(s, in[0], out)
	case codegen.KSoftmax:
		return k.intSoftmax(s, in, out)
	}
	return &codegen.UnsupportedError{Where: s.Where, Op: s.Op, Reason: fmt.Sprintf("integer kernel %s has no LLVM implementation", s.Kernel)}
}

// floatKernel emits the f32 form of a step.
func (k *kfn) floatKernel(s *codegen.Step, in []value.Value, out, scratch value.Value, rest []value.Value) error {
	var err error
	switch s.Kernel {
	case codegen.KConvGemm:
		err = k.convGemm(s, in, out, scratch, rest)
	case codegen.KConvDepthwise:
		err = k.convDepthwise(s, in, out)
	case codegen.KGemm:
		err = k.gemm(s, in, out, rest)
	case codegen.KMap:
		err = k.mapStep(s, in[0], out, rest)
	case codegen.KPool:
		err = k.pool(s, in[0], out)
	case codegen.KGlobalAvgPool:
		err = k.globalAvgPool(s, in[0], out)
	case codegen.KSoftmax:
		err = k.softmax(s, in[0], out)
	case codegen.KReduce:
		err = k.reduce(s, in[0], out)
	case codegen.KCopy:
		err = k.copy(s, in, out)
	case codegen.KResize:
		err = k.resize(s, in[0], out)
	case codegen.KConvTranspose:
		err = k.convTranspose(s, in, out)
	case codegen.KPoolTable:
		err = k.poolTable(s, in, out)
	case codegen.KBatchNorm:
		err = k.batchNorm(s, in, out)
	case codegen.KNMS:
		err = k.nms(s, in, out, scratch)
	default:
		err = &codegen.UnsupportedError{Where: s.Where, Op: s.Op, Reason: fmt.Sprintf("kernel %s has no LLVM implementation", s.Kernel)}
	}
	return err
}

// run emits NAME_run(inputs..., outputs...), which calls every kernel with
// its operands' addresses and returns 0, or 1 + the number of the first
// step that failed (a kernel of a step that Fails returns nonzero: it
// stops there), and NAME_run_hooked, which takes a function
// after_step(int step) besides and calls it after every step: the
// executable's --profile times the steps with it, firmware may with its own
// cycle counter. The kernels are the same; only the calls differ.
func (e *emitter) run(kernels []*ir.Func) {
	hookT := types.NewPointer(types.NewFunc(types.Void, types.I32))
	for _, hooked := range []bool{false, true} {
		var params []*ir.Param
		for i, in := range e.p.Inputs {
			params = append(params, ir.NewParam(fmt.Sprintf("in%d", i), types.NewPointer(elemType(in.DType))))
		}
		for i, o := range e.p.Outputs {
			params = append(params, ir.NewParam(fmt.Sprintf("out%d", i), types.NewPointer(elemType(o.DType))))
		}
		name := e.p.Name + "_run"
		if hooked {
			name += "_hooked"
			params = append(params, ir.NewParam("after_step", hookT))
		}
		k := e.newFunc(name, types.I32, params...)
		for i, s := range e.p.Steps {
			var args []value.Value
			for _, o := range operands(s) {
				args = append(args, k.addr(o, params))
			}
			r := k.b.NewCall(kernels[i], args...)
			if s.Fails() { // return 1 + the step's number at once
				fail, next := k.f.NewBlock(""), k.f.NewBlock("")
				fail.NewRet(ci32(i + 1))
				k.b.NewCondBr(k.b.NewICmp(enum.IPredNE, r, ci32(0)), fail, next)
				k.b = next
			}
			if hooked {
				k.b.NewCall(params[len(params)-1], constant.NewInt(types.I32, int64(i)))
			}
		}
		k.b.NewRet(ci32(0))
	}
}

// driverNames are the functions run emits.
func driverNames(p *codegen.Program) []string {
	return []string{p.Name + "_run", p.Name + "_run_hooked"}
}

// arenaGuard: bytes of the arena global before and after the program's
// arena, so that kernels may load (never store) up to that far around an
// arena operand (maxPoolS2).
const arenaGuard = codegen.Align

// addr is the typed address of an operand inside NAME_run.
func (k *kfn) addr(o *codegen.Operand, params []*ir.Param) value.Value {
	var base value.Value
	switch o.Space {
	case codegen.Arena:
		base = k.e.arena
	case codegen.Weights:
		base = k.e.weights
	case codegen.Input:
		base = params[o.Index]
	case codegen.Output:
		base = params[len(k.e.p.Inputs)+o.Index]
	}
	pt := types.NewPointer(elemType(o.DType))
	if o.Space == codegen.Arena || o.Space == codegen.Weights {
		arr := base.Type().(*types.PointerType).ElemType
		off := int(o.Offset)
		if o.Space == codegen.Arena {
			off += arenaGuard
		}
		g := k.b.NewGetElementPtr(arr, base, ci(0), ci(off))
		g.InBounds = true
		return k.b.NewBitCast(g, pt)
	}
	if o.Offset == 0 && base.Type().Equal(pt) {
		return base
	}
	b8 := k.b.NewBitCast(base, i8p)
	g := k.b.NewGetElementPtr(types.I8, b8, ci(int(o.Offset)))
	g.InBounds = true
	return k.b.NewBitCast(g, pt)
}
