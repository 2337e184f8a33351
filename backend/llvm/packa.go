package llvm

import (
	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// The f32 conv GEMM's A (the weights, [G][Mg][K] row-major as codegen packs
// them) is repacked here, at compile time, into row blocks of mrP rows:
// block ib of a group holds A[i0:i0+rows, 0:K] column after column
// ([K][rows], rows = mrP except for the group's last block), so that the
// micro-kernel reads its mrP broadcasts from one contiguous stream. The
// blocks fill exactly the bytes of the plain matrix: the repacked blob
// replaces the program's weights in the object, same size and offsets.

// mrP is the number of rows of the panel GEMM's register tile (mrP × nrCol:
// 12 accumulators on AVX2, as MLAS and BLIS use).
const mrP = 6

// packedAIdx is the element index (relative to the group's A) of A[i, p]
// in a block of rows rows starting at row i0 (i = i0 + r).
func packedAIdx(i0, r, p, rows, K int) int { return i0*K + p*rows + r }

// repackWeights returns the weights blob with the constant weights of the
// f32 conv GEMM steps in the row-block layout and the constant B of the
// few-row f32 gemms in column panels (gemv.go), and the steps whose weights
// it repacked. A weight region read by any other step, or by steps of a
// different geometry, is left as it is.
func repackWeights(p *codegen.Program) ([]byte, map[*codegen.Step]bool) {
	type region struct {
		off, n int64
	}
	// geo: a conv's A (gemv false: G groups of Mg×K) or a gemm's B (gemv:
	// K×N in panels of W columns, stored transposed when T).
	type geo struct {
		gemv     bool
		G, Mg, K int
		N, W     int
		T        bool
	}
	cand := map[region]geo{}
	bad := map[region]bool{}
	var steps []*codegen.Step
	for _, s := range p.Steps {
		isConv := s.Kernel == codegen.KConvGemm && s.Rq == nil && s.Out.DType == pir.F32 && s.Conv != nil &&
			len(s.In) >= 2 && s.In[1].Space == codegen.Weights && s.In[1].DType == pir.F32
		isGemv := gemvCand(s)
		for i, o := range operands(s) {
			if o.Space != codegen.Weights {
				continue
			}
			r := region{o.Offset, o.Bytes()}
			if (isConv || isGemv) && i == 1 {
				var g geo
				if isConv {
					c := s.Conv
					g = geo{G: c.Group, Mg: c.Mg, K: c.Cg * c.KH * c.KW}
					if int64(g.G*g.Mg*g.K*4) != r.n {
						bad[r] = true
						continue
					}
				} else {
					gm := s.Gemm
					g = geo{gemv: true, K: gm.K, N: gm.N, W: gemvWidth(gm.M), T: gm.TransB}
				}
				if old, ok := cand[r]; ok && old != g {
					bad[r] = true
				}
				cand[r] = g
				continue
			}
			bad[r] = true
		}
		if isConv || isGemv {
			steps = append(steps, s)
		}
	}
	// Regions must not overlap one another either.
	for r := range cand {
		for q := range cand {
			if r != q && r.off < q.off+q.n && q.off < r.off+r.n {
				bad[r], bad[q] = true, true
			}
		}
		for q := range bad {
			if r != q && r.off < q.off+q.n && q.off < r.off+r.n {
				bad[r] = true
			}
		}
	}
	packed := map[*codegen.Step]bool{}
	if len(steps) == 0 {
		return p.Weights, packed
	}
	w := append([]byte(nil), p.Weights...)
	done := map[region]bool{}
	for _, s := range steps {
		r := region{s.In[1].Offset, s.In[1].Bytes()}
		if bad[r] {
			continue
		}
		packed[s] = true
		if done[r] {
			continue
		}
		done[r] = true
		g := cand[r]
		src := p.Weights[r.off : r.off+r.n]
		dst := w[r.off : r.off+r.n]
		if g.gemv {
			repackGemv(dst, src, g.K, g.N, g.W, g.T)
			continue
		}
		for gi := 0; gi < g.G; gi++ {
			base := gi * g.Mg * g.K
			for i0 := 0; i0 < g.Mg; i0 += mrP {
				rows := min(mrP, g.Mg-i0)
				for pp := 0; pp < g.K; pp++ {
					for rr := 0; rr < rows; rr++ {
						si := 4 * (base + (i0+rr)*g.K + pp)
						di := 4 * (base + packedAIdx(i0, rr, pp, rows, g.K))
						copy(dst[di:di+4], src[si:si+4])
					}
				}
			}
		}
	}
	return w, packed
}
