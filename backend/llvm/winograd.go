package llvm

import (
	"encoding/binary"
	"math"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

// f32 Winograd convolution F(m×m, 3×3) for 3×3 stride-1 undilated
// ungrouped convs (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks"): the output is cut into m×m tiles, each read from an
// α×α input tile (α = m+2). Per tile and channel the input is transformed
// (V = Bᵀ d B), the weights of every (output, input) channel pair were
// transformed at compile time (U = G g Gᵀ, appended to the weights blob),
// and for each of the α² transform positions ξ the products are summed over
// the input channels: M_ξ = U_ξ · V_ξ, a GEMM [M×C]·[C×tiles]. The output
// transform Y = Aᵀ M_ξ A gives the tile. The α² GEMMs run on the packed
// GEMM's micro-kernel (gemmPanels): U_ξ in its row blocks (packa.go), V_ξ
// in its column panels (tiles as columns). Multiplies per output: α²/m²
// per (input, output) channel pair, against 9 for the im2col GEMM.
//
// The tiles are processed in blocks of whole tile rows (their V and M
// buffers stay in L2); the input is first copied, zero-padded, into
// Scratch so that the transforms read without bounds checks. Tiles run in
// vectors of 8 along a tile row, whose tile count is rounded up to 8 (the
// extra tiles read padding and are never stored). Convs of one geometry
// share one body function (winograd_ir.go).
//
// F(2,3) is the one selected (winoTile): α²/m² = 2.25× fewer multiplies,
// largest error 2.5e-6 of the output scale on TestWinogradShapes. F(4,3)
// (4×, the same code with m = 4) exceeded the 1e-4 relative tolerance of the
// rt comparisons (3.8e-4 on a 24-channel conv; TestWinogradShapes checks
// it within 1e-3).

// winoMats returns Bᵀ (α×α), G (α×3) and Aᵀ (m×α) of F(m, 3).
func winoMats(m int) (bt, g, at [][]float64) {
	switch m {
	case 2:
		bt = [][]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
		g = [][]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
		at = [][]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
	case 4:
		bt = [][]float64{
			{4, 0, -5, 0, 1, 0},
			{0, -4, -4, 1, 1, 0},
			{0, 4, -4, -1, 1, 0},
			{0, -2, -1, 2, 1, 0},
			{0, 2, -1, -2, 1, 0},
			{0, 4, 0, -5, 0, 1},
		}
		g = [][]float64{
			{1.0 / 4, 0, 0},
			{-1.0 / 6, -1.0 / 6, -1.0 / 6},
			{-1.0 / 6, 1.0 / 6, -1.0 / 6},
			{1.0 / 24, 1.0 / 12, 1.0 / 6},
			{1.0 / 24, -1.0 / 12, 1.0 / 6},
			{0, 0, 1},
		}
		at = [][]float64{
			{1, 1, 1, 1, 1, 0},
			{0, 1, -1, 2, -2, 0},
			{0, 1, 1, 4, 4, 0},
			{0, 1, -1, 8, -8, 1},
		}
	default:
		panic("winograd: F(m,3) for m = 2 or 4")
	}
	return bt, g, at
}

// winoPlan is the geometry of one Winograd conv step.
type winoPlan struct {
	m, a     int // output tile, input tile (m+2)
	th, tw   int // tile rows, tiles per row
	twp      int // tiles per row rounded up to vlen
	hp, wp   int // the padded plane: hp rows of wp
	rows     int // tile rows per block
	nb, nbP  int // tiles per block (rows·twp), rounded up to nrCol
	wide     int // elements of one input row load (8 tiles: 8m+2)
	uOff     int64
	padOff   int // element offsets in Scratch
	vOff     int
	mOff     int
	scratchN int // elements of Scratch used
}

// f32WinoPays is the break-even of Winograd against the im2col/direct path,
// measured on znver3 with BenchmarkWinograd (single convs + bias + relu,
// the two alternating, min of 7 medians; Winograd/im2col time): it loses
// with few channels (C16·M16 at 56 px 1.07, C16·M32 1.01; C16·M64 at
// 55 px 0.90–1.00, C32·M32 at 28 px 0.76, at 56 px 0.94–1.26 over three
// runs: the edge; C24·M24 at 80 px 0.72) and when the rounding of
// a tile row to vectors of 8 tiles idles too many lanes (7 px: 4 tiles of
// 8, 1.25 at C64·M64, 1.10 at C128·M128); it pays from 0.52 to 0.90 on
// light_resnet50's and light_squeezenet's other 3×3 convs.
var f32WinoPays = func(c *codegen.Conv, pl *winoPlan) bool {
	return c.C >= 16 && c.M >= 16 && c.C*c.M > 512 && 4*pl.tw >= 3*pl.twp
}

// winoBlockBytes bounds a block's V and M buffers.
const winoBlockBytes = 512 << 10

// winoTile is the output tile m of F(m, 3) used for a conv (0: none;
// tests may set 4).
var winoTile = func(c *codegen.Conv) int { return 2 }

// winoEligible returns the plan of step s as a Winograd conv, or nil.
func winoEligible(s *codegen.Step, t Target) *winoPlan {
	if !t.WinogradF32 || s.Kernel != codegen.KConvGemm || s.Rq != nil || s.Out.DType != pir.F32 || s.Scratch == nil || len(s.In) < 2 {
		return nil
	}
	c := s.Conv
	if c == nil || c.Pointwise || c.KH != 3 || c.KW != 3 || c.SH != 1 || c.SW != 1 || c.DH != 1 || c.DW != 1 || c.Group != 1 {
		return nil
	}
	w := &s.In[1]
	if w.Space != codegen.Weights || w.DType != pir.F32 || w.Bytes() != int64(c.M*c.C*9*4) || s.In[0].DType != pir.F32 {
		return nil
	}
	// Later batch entries read the input after earlier ones wrote the output.
	for i := range s.In {
		if overlap(&s.In[i], &s.Out) && c.N > 1 {
			return nil
		}
	}
	m := winoTile(c)
	if m == 0 {
		return nil
	}
	pl := &winoPlan{m: m, a: m + 2}
	pl.th = (c.OH + m - 1) / m
	pl.tw = (c.OW + m - 1) / m
	pl.twp = (pl.tw + vlen - 1) / vlen * vlen
	pl.hp = pl.th*m + 2
	pl.wp = pl.twp*m + 2
	if pl.hp < c.PT || pl.wp < c.PL {
		return nil
	}
	pl.wide = vlen*m + 2
	a2 := pl.a * pl.a
	avail := int(s.Scratch.Bytes() / 4)
	pad := c.C * pl.hp * pl.wp
	need := func(rows int) int {
		nb := rows * pl.twp
		nbP := (nb + nrCol - 1) / nrCol * nrCol
		return a2 * (c.C*nbP + c.M*nb)
	}
	pl.rows = 1
	for pl.rows < pl.th && need(pl.rows+1)*4 <= winoBlockBytes && pad+need(pl.rows+1) <= avail {
		pl.rows++
	}
	if pad+need(pl.rows) > avail {
		return nil
	}
	// Blocks of equal size (the last block, which ends at the last tile
	// row, would otherwise redo most of the one before).
	nblk := (pl.th + pl.rows - 1) / pl.rows
	pl.rows = (pl.th + nblk - 1) / nblk
	if !f32WinoPays(c, pl) {
		return nil
	}
	pl.nb = pl.rows * pl.twp
	pl.nbP = (pl.nb + nrCol - 1) / nrCol * nrCol
	pl.padOff = 0
	pl.vOff = pad
	pl.mOff = pad + a2*c.C*pl.nbP
	pl.scratchN = pad + need(pl.rows)
	return pl
}

// appendWinograd appends the transformed weights of every Winograd conv
// of p to the blob (64-byte aligned, shared by steps reading the same
// weights) and returns the steps' plans.
func appendWinograd(p *codegen.Program, blob []byte, t Target) ([]byte, map[*codegen.Step]*winoPlan) {
	plans := map[*codegen.Step]*winoPlan{}
	done := map[[2]int64]int64{}
	for _, s := range p.Steps {
		pl := winoEligible(s, t)
		if pl == nil {
			continue
		}
		c := s.Conv
		key := [2]int64{s.In[1].Offset, int64(pl.m)}
		off, ok := done[key]
		if !ok {
			for len(blob)%64 != 0 {
				blob = append(blob, 0)
			}
			off = int64(len(blob))
			src := p.Weights[s.In[1].Offset : s.In[1].Offset+s.In[1].Bytes()]
			blob = append(blob, f32WinoWeights(src, c.M, c.C, pl.m)...)
			done[key] = off
		}
		pl.uOff = off
		plans[s] = pl
	}
	return blob, plans
}

// f32WinoWeights transforms the weights w ([M][C][3][3] f32, little endian)
// into α² matrices U_ξ [M×C] (ξ = k·α + l), each in the packed GEMM's row
// blocks (packedAIdx).
func f32WinoWeights(w []byte, M, C, m int) []byte {
	_, g, _ := winoMats(m)
	a := m + 2
	out := make([]byte, a*a*M*C*4)
	var tmp [6][3]float64
	for o := 0; o < M; o++ {
		i0 := o / mrP * mrP
		rows := min(mrP, M-i0)
		for ch := 0; ch < C; ch++ {
			base := (o*C + ch) * 9
			f := func(r, q int) float64 {
				return float64(math.Float32frombits(binary.LittleEndian.Uint32(w[4*(base+r*3+q):])))
			}
			// tmp = G·g (α×3), U = tmp·Gᵀ (α×α)
			for k := 0; k < a; k++ {
				for q := 0; q < 3; q++ {
					var sum float64
					for r := 0; r < 3; r++ {
						sum += g[k][r] * f(r, q)
					}
					tmp[k][q] = sum
				}
			}
			for k := 0; k < a; k++ {
				for l := 0; l < a; l++ {
					var u float64
					for q := 0; q < 3; q++ {
						u += tmp[k][q] * g[l][q]
					}
					xi := k*a + l
					di := 4 * (xi*M*C + packedAIdx(i0, o-i0, ch, rows, C))
					binary.LittleEndian.PutUint32(out[di:], math.Float32bits(float32(u)))
				}
			}
		}
	}
	return out
}

// WinogradConvs reports how many convs of p run as f32 Winograd on target
// t and how many bytes their transformed weights add.
func WinogradConvs(p *codegen.Program, t Target) (n int, extra int64) {
	blob, plans := appendWinograd(p, nil, t)
	return len(plans), int64(len(blob))
}
