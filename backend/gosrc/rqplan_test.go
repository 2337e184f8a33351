package gosrc

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRqHelpersExact builds the generated helpers rqS (with rows from
// rqFixRows, which rqRows must compute alike), rqSR (clamps from zy up) and rqb, quantFI (with clamps from
// quantFIBound) and quantFC into a program that compares them with rqT's
// reference (mbqm, quantF) on random and boundary accumulators, including
// exact rounding ties, and checks that nothing differs.
func TestRqHelpersExact(t *testing.T) {
	needGo(t)
	r := rand.New(rand.NewSource(7))
	var cases strings.Builder
	n := 0
	for n < 60 {
		m := int64(1<<30 + r.Int63n(1<<30))
		if r.Intn(3) == 0 {
			m = -m
		}
		if r.Intn(5) == 0 {
			m = int64(r.Int31())
		}
		sh := int64(r.Intn(16) - 12) // mostly right shifts, some left
		if r.Intn(6) == 0 {
			sh = int64(-r.Intn(32))
		}
		bound := float64(int64(1) << (8 + r.Intn(22)))
		zy := int32(r.Intn(256) - 128)
		rows, s, ok := rqFixRows([]int64{m}, []int64{sh}, bound, zy)
		if !ok {
			continue
		}
		n++
		fmt.Fprintf(&cases, "\t{%d, %d, %d, %d, [4]int64{%d, %d, %d, %d}, %d},\n", m, sh, zy, int64(bound), rows[0][0], rows[0][1], rows[0][2], rows[0][3], s)
	}
	var fcases strings.Builder
	for nf := 0; nf < 200; {
		sc := float32(math.Exp(r.Float64()*16 - 12)) // 6e-6 .. 54
		zy, lo, hi := int32(r.Intn(256)-128), int32(-128), int32(127)
		if r.Intn(3) == 0 {
			lo = zy // relu
		}
		if r.Intn(4) == 0 {
			zy, lo, hi = int32(r.Intn(256)), 0, 255
		}
		span := max(int64(lo-zy), int64(zy-lo), int64(hi-zy), int64(zy-hi))
		a, ok := quantFIBound(float64(sc), float64(sc)*(1+r.Float64()*100), span)
		if !ok {
			continue
		}
		nf++
		fmt.Fprintf(&fcases, "\t{%v, %d, %d, %d, %d},\n", sc, zy, lo, hi, a)
	}
	src := `package main

import (
	"fmt"
	"math"
	"math/rand"
	"os"
)

type rqCase struct {
	m, sh, zy int32
	bound     int64
	q         [4]int64
	s         uint
}

var cases = []rqCase{
` + cases.String() + `}

var fcases = []struct {
	s             float32
	zy, lo, hi, a int32
}{
` + fcases.String() + `}

func main() {
	r := rand.New(rand.NewSource(1))
	bad := 0
	for _, c := range cases {
		if q := rqRows([]int32{c.m}, []int32{c.sh}, c.s-31, int64(c.zy))[0]; q != c.q {
			fmt.Printf("rqRows(%d, %d, %d, %d) = %v, want %v\n", c.m, c.sh, c.s-31, c.zy, q, c.q)
			bad++
		}
		qr := rqRelu([][4]int64{c.q})[0]
		xs := []int64{0, 1, -1, c.bound, -c.bound, c.bound - 1, 1 - c.bound}
		for i := 0; i < 20000; i++ {
			xs = append(xs, r.Int63n(2*c.bound+1)-c.bound)
		}
		// Rounding ties of the second rounding: v = k·2^e + 2^(e-1).
		if e := -c.sh; e > 0 {
			for i := 0; i < 2000; i++ {
				v := (r.Int63n(1<<20)-1<<19)<<e + 1<<(e-1)
				x := (v << 31) / int64(c.m)
				for d := int64(-2); d <= 2; d++ {
					if y := x + d; y >= -c.bound && y <= c.bound {
						xs = append(xs, y)
					}
				}
			}
		}
		for _, x := range xs {
			want := clampI(mbqm(int32(x), c.m, c.sh)+c.zy, math.MinInt32, math.MaxInt32)
			got := rqS(int32(x), &c.q, c.s, math.MinInt32, math.MaxInt32)
			if got != want {
				if bad < 10 {
					fmt.Printf("rqS(%d) m=%d shift=%d zy=%d: %d, want %d\n", x, c.m, c.sh, c.zy, got, want)
				}
				bad++
			}
			// rqSR with a relu's clamp: lo at or above zy.
			lo := c.zy + int32(r.Intn(3))*int32(r.Intn(2))
			hi := []int32{math.MaxInt32, lo + 255, lo}[r.Intn(3)]
			want = clampI(mbqm(int32(x), c.m, c.sh)+c.zy, lo, hi)
			if got := rqSR(int32(x), &qr, c.s, lo, hi); got != want {
				if bad < 10 {
					fmt.Printf("rqSR(%d) m=%d shift=%d zy=%d lo=%d hi=%d: %d, want %d\n", x, c.m, c.sh, c.zy, lo, hi, got, want)
				}
				bad++
			}
			// rqb: the sum split into a channel constant cw and lanes e.
			cw := int32(r.Int63n(2*c.bound+1) - c.bound)
			if got := rqB(cw, &qr).at(x-int64(cw), c.s, lo, hi); got != want {
				if bad < 10 {
					fmt.Printf("rqB(%d).at(%d) m=%d shift=%d zy=%d lo=%d hi=%d: %d, want %d\n", cw, x-int64(cw), c.m, c.sh, c.zy, lo, hi, got, want)
				}
				bad++
			}
		}
	}
	for i := 0; i < 200000; i++ {
		f := float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(12)-3)))
		if i%3 == 0 {
			f = float32(r.Intn(4001)-2000) / 2 // ties
		}
		zy, lo, hi := int32(r.Intn(256)-128), int32(-128), int32(127)
		if i%5 == 0 {
			lo, hi = 0, 255
		}
		want := quantF(f, zy, lo, hi)
		if got := quantFC(f, zy, float32(lo-zy), float32(hi-zy)); got != want {
			if bad < 10 {
				fmt.Printf("quantFC(%v, %d, %d, %d) = %d, want %d\n", f, zy, lo, hi, got, want)
			}
			bad++
		}
	}
	for _, c := range fcases {
		xs := []int32{0, 1, -1, c.a, -c.a, c.a + 1, -c.a - 1, c.a - 1, 1 - c.a, math.MaxInt32, math.MinInt32}
		for i := 0; i < 3000; i++ {
			xs = append(xs, int32(r.Uint32()), int32(r.Int63n(4*int64(c.a)+1)-2*int64(c.a)))
			// Accumulators whose products fall near a tie.
			k := float64(r.Intn(600) - 300)
			x := int32(math.Round((k + 0.5) / float64(c.s)))
			xs = append(xs, x-1, x, x+1)
		}
		for _, x := range xs {
			want := quantF(float32(x)*c.s, c.zy, c.lo, c.hi)
			if got := quantFI(x, c.s, c.zy, c.lo, c.hi, c.a); got != want {
				if bad < 10 {
					fmt.Printf("quantFI(%d, %v, %d, %d, %d, %d) = %d, want %d\n", x, c.s, c.zy, c.lo, c.hi, c.a, got, want)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		fmt.Printf("%d differences\n", bad)
		os.Exit(1)
	}
}
` + intHelperSrc + rqSSrc + rqSRSrc + rqBSrc + quantFCSrc
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module rqcheck\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir, cmd.Env = dir, GoEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
