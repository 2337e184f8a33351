package codegen

import (
	"math"
	"math/rand"
	"testing"

	"github.com/pare-ml/pare/ir"
)

// TestRecipExact: recipExact accepts 1/SY only when every operand pair
// rounds alike through f·(1/SY) and f/SY, and rejects scales where some
// pair does not (found by search, then each checked pair by pair).
func TestRecipExact(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	accepted, rejected := 0, 0
	for i := 0; i < 200; i++ {
		q := &QBinary{Op: []string{"add", "sub", "mul"}[i%3], Mode: "float",
			ZA: int32(r.Intn(256) - 128), ZB: int32(r.Intn(256) - 128), ZY: int32(r.Intn(256) - 128),
			SA: float32(math.Exp(r.Float64()*6 - 5)), SB: float32(math.Exp(r.Float64()*6 - 5)), SY: float32(math.Exp(r.Float64()*6 - 5)),
			Lo: -128, Hi: 127}
		got := recipExact(q, ir.I8, ir.I8)
		// The definition, pair by pair.
		want := float32(1 / float64(q.SY))
		for a := -128; a <= 127 && want != 0; a++ {
			for b := -128; b <= 127; b++ {
				da, db := float32(a-int(q.ZA))*q.SA, float32(b-int(q.ZB))*q.SB
				f := map[string]float32{"add": da + db, "sub": da - db, "mul": da * db}[q.Op]
				y1 := math.RoundToEven(float64(f/q.SY)) + float64(q.ZY)
				y2 := math.RoundToEven(float64(f*want)) + float64(q.ZY)
				if max(-128, min(127, y1)) != max(-128, min(127, y2)) {
					want = 0
					break
				}
			}
		}
		if got != want {
			t.Fatalf("%+v: recipExact %g, want %g", q, got, want)
		}
		if got != 0 {
			accepted++
		} else {
			rejected++
		}
	}
	t.Logf("%d scale sets take the multiply, %d keep the divide", accepted, rejected)
	if accepted == 0 || rejected == 0 {
		t.Fatalf("want both outcomes among the random scales: %d accepted, %d rejected", accepted, rejected)
	}
}
