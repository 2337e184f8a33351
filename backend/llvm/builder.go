package llvm

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// kfn builds the body of one function: the current block, loops with phi
// induction variables, and integer arithmetic that folds constants (so the
// specialized kernels read like the loops they are).
type kfn struct {
	e *emitter
	f *ir.Func
	b *ir.Block
}

func (e *emitter) newFunc(name string, ret types.Type, params ...*ir.Param) *kfn {
	f := e.m.NewFunc(name, ret, params...)
	f.FuncAttrs = append(f.FuncAttrs, enum.FuncAttrNoUnwind, ir.AttrString("no-builtins"))
	if e.t.CPU != "" {
		f.FuncAttrs = append(f.FuncAttrs, ir.AttrPair{Key: "target-cpu", Value: e.t.CPU})
	}
	if e.t.Features != "" {
		f.FuncAttrs = append(f.FuncAttrs, ir.AttrPair{Key: "target-features", Value: e.t.Features})
	}
	if e.t.preferYMM() {
		f.FuncAttrs = append(f.FuncAttrs, ir.AttrPair{Key: "prefer-vector-width", Value: "256"})
	}
	k := &kfn{e: e, f: f}
	k.b = f.NewBlock("entry")
	return k
}

var (
	i64  = types.I64
	f32  = types.Float
	f32p = types.NewPointer(types.Float)
	i8p  = types.NewPointer(types.I8)
)

func ci(n int) *constant.Int         { return constant.NewInt(i64, int64(n)) }
func cf(x float32) *constant.Float   { return constant.NewFloat(f32, float64(x)) }
func cfInf(sign int) *constant.Float { return constant.NewFloat(f32, math.Inf(sign)) }

func constInt(v value.Value) (int64, bool) {
	if c, ok := v.(*constant.Int); ok {
		return c.X.Int64(), true
	}
	return 0, false
}

// add, mul and sub fold constants and identities.
func (k *kfn) add(a, b value.Value) value.Value {
	x, xa := constInt(a)
	y, yb := constInt(b)
	switch {
	case xa && yb:
		return constant.NewInt(i64, x+y)
	case xa && x == 0:
		return b
	case yb && y == 0:
		return a
	}
	i := k.b.NewAdd(a, b)
	i.OverflowFlags = []enum.OverflowFlag{enum.OverflowFlagNSW}
	return i
}

func (k *kfn) mul(a value.Value, n int) value.Value {
	if x, ok := constInt(a); ok {
		return constant.NewInt(i64, x*int64(n))
	}
	switch n {
	case 0:
		return ci(0)
	case 1:
		return a
	}
	i := k.b.NewMul(a, ci(n))
	i.OverflowFlags = []enum.OverflowFlag{enum.OverflowFlagNSW}
	return i
}

// madd is a*n + b.
func (k *kfn) madd(a value.Value, n int, b value.Value) value.Value { return k.add(k.mul(a, n), b) }

// at is the address of element idx of ptr.
func (k *kfn) at(ptr value.Value, idx value.Value) value.Value {
	if c, ok := constInt(idx); ok && c == 0 {
		return ptr
	}
	g := k.b.NewGetElementPtr(ptr.Type().(*types.PointerType).ElemType, ptr, idx)
	g.InBounds = true
	return g
}

func (k *kfn) load(ptr, idx value.Value) value.Value {
	return k.b.NewLoad(ptr.Type().(*types.PointerType).ElemType, k.at(ptr, idx))
}

func (k *kfn) store(v, ptr, idx value.Value) { k.b.NewStore(v, k.at(ptr, idx)) }

// loop emits for i := lo; i < hi; i++ { body(i) } with constant bounds.
func (k *kfn) loop(lo, hi int, body func(i value.Value)) {
	switch {
	case hi <= lo:
		return
	case hi-lo == 1:
		body(ci(lo))
		return
	}
	k.loopV(ci(lo), ci(hi), body)
}

// loopV is loop with bounds computed at run time.
func (k *kfn) loopV(lo, hi value.Value, body func(i value.Value)) {
	pre := k.b
	head := k.f.NewBlock("")
	bodyB := k.f.NewBlock("")
	pre.NewBr(head)
	k.b = head
	phi := head.NewPhi(ir.NewIncoming(lo, pre))
	head.NewCondBr(head.NewICmp(enum.IPredSLT, phi, hi), bodyB, nil)
	k.b = bodyB
	body(phi)
	next := k.b.NewAdd(phi, ci(1))
	next.OverflowFlags = []enum.OverflowFlag{enum.OverflowFlagNSW}
	k.b.NewBr(head)
	phi.Incs = append(phi.Incs, ir.NewIncoming(next, k.b))
	exit := k.f.NewBlock("")
	head.Term.(*ir.TermCondBr).TargetFalse = exit
	k.b = exit
}

// nest runs body over every index of shape (row-major), passing the
// element offset of each operand given its strides.
func (k *kfn) nest(shape []int, strides [][]int, body func(offs []value.Value)) {
	offs := make([]value.Value, len(strides))
	for i := range offs {
		offs[i] = ci(0)
	}
	var rec func(d int, offs []value.Value)
	rec = func(d int, offs []value.Value) {
		if d == len(shape) {
			body(offs)
			return
		}
		k.loop(0, shape[d], func(i value.Value) {
			n := make([]value.Value, len(offs))
			for j := range offs {
				n[j] = k.madd(i, strides[j][d], offs[j])
			}
			rec(d+1, n)
		})
	}
	rec(0, offs)
}

// if_ runs then when cond holds.
func (k *kfn) if_(cond value.Value, then func()) {
	tb := k.f.NewBlock("")
	done := k.f.NewBlock("")
	k.b.NewCondBr(cond, tb, done)
	k.b = tb
	then()
	k.b.NewBr(done)
	k.b = done
}

// intrinsic returns a declared function (an LLVM intrinsic or a libm call).
func (e *emitter) intrinsic(name string, ret types.Type, params ...types.Type) *ir.Func {
	if f := e.decls[name]; f != nil {
		return f
	}
	var ps []*ir.Param
	for i, p := range params {
		ps = append(ps, ir.NewParam(fmt.Sprintf("p%d", i), p))
	}
	f := e.m.NewFunc(name, ret, ps...)
	e.decls[name] = f
	return f
}

func (k *kfn) call1(name string, x value.Value) value.Value {
	return k.b.NewCall(k.e.intrinsic(name, f32, f32), x)
}

func (k *kfn) fmax(a, b value.Value) value.Value {
	return k.b.NewSelect(k.b.NewFCmp(enum.FPredOGT, a, b), a, b)
}

func (k *kfn) fmin(a, b value.Value) value.Value {
	return k.b.NewSelect(k.b.NewFCmp(enum.FPredOLT, a, b), a, b)
}

// entryAlloca allocates a stack slot of type t in the function's entry
// block (once per call, wherever the caller's builder is) and returns its
// address as a *t.
func (k *kfn) entryAlloca(t types.Type, align int) value.Value {
	a := ir.NewAlloca(t)
	a.Align = ir.Align(align)
	entry := k.f.Blocks[0]
	a.SetName(fmt.Sprintf("stk%d", len(entry.Insts)))
	entry.Insts = append([]ir.Instruction{a}, entry.Insts...)
	return a
}
