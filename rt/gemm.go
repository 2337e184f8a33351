package rt

import (
	"runtime"
	"sync"
)

// The GEMM shared by conv, conv_transpose, matmul and gemm: a cache-blocked,
// packed algorithm (Goto / BLIS style) with a 2×4 register micro-kernel and
// a split of the columns over GOMAXPROCS goroutines for large products.
// It is generic over float32 (float32 accumulators, as MLAS) and int32 (the
// integer forms: wrapping int32 accumulators, as ONNX allows); Go compiles
// one specialized copy per element type.

const (
	mr = 2   // rows of the micro-tile
	nr = 4   // columns of the micro-tile
	kc = 256 // depth of a packed block
	mc = 64  // rows of a packed A block
	nc = 512 // columns of a packed B block

	// parallelMACs is the product size from which sgemm splits the columns
	// over several goroutines.
	parallelMACs = 1 << 21
)

// scalar is an element type of the GEMM.
type scalar interface{ float32 | int32 }

// mat is a read-only view of a row-major matrix, possibly transposed:
// element (i, j) is data[i*ld+j], or data[j*ld+i] when trans is set.
type mat[T scalar] struct {
	data  []T
	ld    int
	trans bool
}

// matrix is the float32 view.
type matrix = mat[float32]

func (m mat[T]) at(i, j int) T {
	if m.trans {
		return m.data[j*m.ld+i]
	}
	return m.data[i*m.ld+j]
}

const packLen = (mc+mr)*kc + (nc+nr)*kc

var packPoolF32 = sync.Pool{New: func() any { b := make([]float32, packLen); return &b }}
var packPoolI32 = sync.Pool{New: func() any { b := make([]int32, packLen); return &b }}

func packPool[T scalar]() *sync.Pool {
	var z T
	if _, ok := any(z).(float32); ok {
		return &packPoolF32
	}
	return &packPoolI32
}

// sgemm is the float32 GEMM.
func sgemm(m, n, k int, a, b matrix, c []float32, ldc int) { gemm(m, n, k, a, b, c, ldc) }

// gemm computes C = A·B for A m×k and B k×n; C is m×n with row stride ldc.
// C is overwritten.
func gemm[T scalar](m, n, k int, a, b mat[T], c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	if m < mr || n < nr {
		smallGemm(m, n, k, a, b, c, ldc)
		return
	}
	threads := runtime.GOMAXPROCS(0)
	if threads > 1 && m*n*k >= parallelMACs && n >= 2*nr*threads {
		// Split the columns into one contiguous range per goroutine.
		chunk := (n + threads - 1) / threads
		chunk = (chunk + nr - 1) / nr * nr
		var wg sync.WaitGroup
		for j0 := 0; j0 < n; j0 += chunk {
			j1 := min(j0+chunk, n)
			wg.Add(1)
			go func(j0, j1 int) {
				defer wg.Done()
				gemmRange(m, j0, j1, k, a, b, c, ldc)
			}(j0, j1)
		}
		wg.Wait()
		return
	}
	gemmRange(m, 0, n, k, a, b, c, ldc)
}

// smallGemm handles products too thin for the packed kernel (a GEMV, a
// handful of rows or columns): a plain loop with a float32 accumulator.
func smallGemm[T scalar](m, n, k int, a, b mat[T], c []T, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if !b.trans {
			clear(crow)
			for p := 0; p < k; p++ {
				av := a.at(i, p)
				if av == 0 {
					continue
				}
				brow := b.data[p*b.ld : p*b.ld+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
			continue
		}
		for j := 0; j < n; j++ {
			bcol := b.data[j*b.ld : j*b.ld+k]
			var s T
			if !a.trans {
				arow := a.data[i*a.ld : i*a.ld+k]
				for p, bv := range bcol {
					s += arow[p] * bv
				}
			} else {
				for p, bv := range bcol {
					s += a.data[p*a.ld+i] * bv
				}
			}
			crow[j] = s
		}
	}
}

// gemmRange computes columns [j0, j1) of C.
func gemmRange[T scalar](m, j0, j1, k int, a, b mat[T], c []T, ldc int) {
	pool := packPool[T]()
	bufp := pool.Get().(*[]T)
	defer pool.Put(bufp)
	buf := *bufp
	ap := buf[:(mc+mr)*kc]
	bp := buf[(mc+mr)*kc:]
	for jc := j0; jc < j1; jc += nc {
		nb := min(nc, j1-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packB(b, pc, kb, jc, nb, bp)
			first := pc == 0
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(a, ic, mb, pc, kb, ap)
				for jr := 0; jr < nb; jr += nr {
					bpan := bp[(jr/nr)*kb*nr : (jr/nr+1)*kb*nr]
					for ir := 0; ir < mb; ir += mr {
						apan := ap[(ir/mr)*kb*mr : (ir/mr+1)*kb*mr]
						ci := (ic+ir)*ldc + jc + jr
						rows, cols := min(mr, mb-ir), min(nr, nb-jr)
						if rows == mr && cols == nr {
							kernel2x4(kb, apan, bpan, c[ci:], ldc, first)
						} else {
							var tmp [mr * nr]T
							kernel2x4(kb, apan, bpan, tmp[:], nr, true)
							for r := 0; r < rows; r++ {
								row := c[ci+r*ldc : ci+r*ldc+cols]
								for q := range row {
									if first {
										row[q] = tmp[r*nr+q]
									} else {
										row[q] += tmp[r*nr+q]
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// packA copies rows [i0, i0+mb) × cols [p0, p0+kb) of A into panels of mr
// rows: panel r holds, for each p, mr consecutive values (zero padded).
func packA[T scalar](a mat[T], i0, mb, p0, kb int, dst []T) {
	for ir := 0; ir < mb; ir += mr {
		pan := dst[(ir/mr)*kb*mr : (ir/mr+1)*kb*mr]
		rows := min(mr, mb-ir)
		for r := 0; r < mr; r++ {
			if r >= rows {
				for p := 0; p < kb; p++ {
					pan[p*mr+r] = 0
				}
				continue
			}
			i := i0 + ir + r
			if a.trans {
				for p := 0; p < kb; p++ {
					pan[p*mr+r] = a.data[(p0+p)*a.ld+i]
				}
			} else {
				row := a.data[i*a.ld+p0 : i*a.ld+p0+kb]
				for p, v := range row {
					pan[p*mr+r] = v
				}
			}
		}
	}
}

// packB copies rows [p0, p0+kb) × cols [j0, j0+nb) of B into panels of nr
// columns: panel q holds, for each p, nr consecutive values (zero padded).
func packB[T scalar](b mat[T], p0, kb, j0, nb int, dst []T) {
	for jr := 0; jr < nb; jr += nr {
		pan := dst[(jr/nr)*kb*nr : (jr/nr+1)*kb*nr]
		cols := min(nr, nb-jr)
		if !b.trans && cols == nr {
			for p := 0; p < kb; p++ {
				src := b.data[(p0+p)*b.ld+j0+jr : (p0+p)*b.ld+j0+jr+nr]
				copy(pan[p*nr:p*nr+nr], src)
			}
			continue
		}
		for p := 0; p < kb; p++ {
			d := pan[p*nr : p*nr+nr]
			for q := 0; q < nr; q++ {
				if q < cols {
					d[q] = b.at(p0+p, j0+jr+q)
				} else {
					d[q] = 0
				}
			}
		}
	}
}

// kernel2x4 computes a 2×4 tile: C (= or +=) Apanel·Bpanel over kb.
// Eight accumulators, four b and two a values fit the fifteen usable SSE
// registers of amd64; larger tiles make the Go compiler spill inside the
// loop (measured: 4×4 and 3×4 run at 60% of this kernel's speed).
func kernel2x4[T scalar](kb int, a, b []T, c []T, ldc int, overwrite bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	a = a[:kb*mr]
	b = b[:kb*nr]
	for p := 0; p < kb; p++ {
		av := a[p*mr : p*mr+mr : p*mr+mr]
		bv := b[p*nr : p*nr+nr : p*nr+nr]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0, a1 := av[0], av[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	store4(c[0:nr], overwrite, c00, c01, c02, c03)
	store4(c[ldc:ldc+nr], overwrite, c10, c11, c12, c13)
}

func store4[T scalar](row []T, overwrite bool, v0, v1, v2, v3 T) {
	row = row[:4]
	if overwrite {
		row[0], row[1], row[2], row[3] = v0, v1, v2, v3
		return
	}
	row[0] += v0
	row[1] += v1
	row[2] += v2
	row[3] += v3
}
