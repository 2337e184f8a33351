package llvm

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/pare-ml/pare/codegen"
)

// The 8-bit max pooling of column stride 2 (2 or 3 columns wide, every
// window with a valid tap: squeezenet's and resnet's 3×3/2 pools) computes
// 16 outputs of a row at a time: two <32 x i8> loads of each input row of
// the window (columns 2·ow0 - PL and two further on), their maximum over
// the rows, then the even and odd lanes of the first and the even lanes
// of the second (stride-2 loads would otherwise keep the loop scalar).
// The chunks of a row are unrolled, so that the lanes of padding columns
// are known when emitting (set to the lowest value); the last chunk ends
// at OW, overlapping the one before. The loads reach a few bytes around
// the input's rows: the input must lie in the arena (arenaGuard).

// maxPoolS2 reports whether intMaxPool takes the two-lane form.
func maxPoolS2(p *codegen.Pool, in *codegen.Operand) bool {
	return p.SW == 2 && p.DW == 1 && (p.KW == 2 || p.KW == 3) && p.OW >= 1 && p.OW <= 256 &&
		p.KW-1-p.PL >= 0 && (p.OW-1)*p.SW-p.PL <= p.W-1 && (p.KH-1)*p.DH-p.PT >= 0 && (p.OH-1)*p.SH-p.PT <= p.H-1 &&
		in.Space == codegen.Arena && p.PL <= arenaGuard && maxPoolS2End(p)-p.W <= arenaGuard
}

// maxPoolS2End is the end (exclusive, from a row's start) of the columns
// maxPoolS2's loads read.
func maxPoolS2End(p *codegen.Pool) int {
	last := max(0, p.OW-16)
	return 2*last - p.PL + 2 + 32
}

func (k *kfn) maxPoolS2(p *codegen.Pool, x, y value.Value, init value.Value, lt enum.IPred) {
	v16i8 := types.NewVector(16, types.I8)
	v32i8 := types.NewVector(32, types.I8)
	mx := func(a, b value.Value) value.Value { return k.b.NewSelect(k.b.NewICmp(lt, a, b), b, a) }
	lanes := func(f func(i int) int) value.Value {
		m := make([]int, 16)
		for i := range m {
			m[i] = f(i)
		}
		return shuffleMask(m...)
	}
	u := constant.NewUndef(v32i8)
	ini := splatI8(v32i8, init)
	ld32 := func(j value.Value) value.Value {
		l := k.b.NewLoad(v32i8, k.b.NewBitCast(k.at(x, j), types.NewPointer(v32i8)))
		l.Align = 1
		return l
	}
	// colMask: init in the lanes of columns base+lane outside [0, W)
	// (nil: none).
	colMask := func(v value.Value, base int) value.Value {
		e := make([]constant.Constant, 32)
		any := false
		for i := range e {
			out := base+i < 0 || base+i >= p.W
			any = any || out
			e[i] = constant.NewBool(out)
		}
		if !any {
			return v
		}
		return k.b.NewSelect(constant.NewVector(types.NewVector(32, types.I1), e...), ini, v)
	}
	k.loop(0, p.Planes, func(pl value.Value) {
		xb := k.mul(pl, p.H*p.W)
		k.loop(0, p.OH, func(oh value.Value) {
			type rowT struct {
				base  value.Value
				valid value.Value // nil: always
			}
			var rows []rowT
			for kh := 0; kh < p.KH; kh++ {
				ih := k.add(k.mul(oh, p.SH), ci(kh*p.DH-p.PT))
				lo, hi := validRange(kh*p.DH-p.PT, p.SH, p.H, p.OH)
				if lo == 0 && hi == p.OH {
					rows = append(rows, rowT{base: k.add(xb, k.mul(ih, p.W))})
					continue
				}
				valid := k.b.NewICmp(enum.IPredULT, ih, ci(p.H))
				ihc := k.b.NewSelect(valid, ih, ci(0))
				rows = append(rows, rowT{base: k.add(xb, k.mul(ihc, p.W)), valid: valid})
			}
			yr := k.add(k.mul(pl, p.OH*p.OW), k.mul(oh, p.OW))
			chunk := func(ow0 int) value.Value {
				base := 2*ow0 - p.PL
				va, vb := value.Value(nil), value.Value(nil)
				for _, r := range rows {
					a, b := ld32(k.add(r.base, ci(base))), ld32(k.add(r.base, ci(base+2)))
					if r.valid != nil {
						a, b = k.b.NewSelect(r.valid, a, ini), k.b.NewSelect(r.valid, b, ini)
					}
					if va == nil {
						va, vb = a, b
					} else {
						va, vb = mx(va, a), mx(vb, b)
					}
				}
				va, vb = colMask(va, base), colMask(vb, base+2)
				v := mx(k.b.NewShuffleVector(va, u, lanes(func(i int) int { return 2 * i })), k.b.NewShuffleVector(va, u, lanes(func(i int) int { return 2*i + 1 })))
				if p.KW == 3 {
					v = mx(v, k.b.NewShuffleVector(vb, u, lanes(func(i int) int { return 2 * i })))
				}
				return v
			}
			if p.OW < 16 {
				v := chunk(0)
				for i := 0; i < p.OW; i++ {
					k.store(k.b.NewExtractElement(v, constant.NewInt(types.I32, int64(i))), y, k.add(yr, ci(i)))
				}
				return
			}
			for ow0 := 0; ow0 < p.OW; ow0 += 16 {
				ow0 = min(ow0, p.OW-16)
				s := k.b.NewStore(chunk(ow0), k.b.NewBitCast(k.at(y, k.add(yr, ci(ow0))), types.NewPointer(v16i8)))
				s.Align = 1
			}
		})
	})
}

func splatI8(vt types.Type, v value.Value) value.Value {
	vv := vt.(*types.VectorType)
	e := make([]constant.Constant, vv.Len)
	for i := range e {
		e[i] = v.(constant.Constant)
	}
	return constant.NewVector(vv, e...)
}
