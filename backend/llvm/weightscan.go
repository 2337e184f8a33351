package llvm

import (
	"sync"

	"github.com/pare-ml/pare/codegen"
)

// weightScan memoizes, per step, the facts the kernel choice reads off an
// integer conv's weights: whether vpmaddubsw can run it exactly (pairSafe)
// and its largest |weight| (winoMaxW, for integer Winograd). The layout,
// the packing and the kernels all ask (dotFor, rowBlock, kGroup,
// maddubsShape), each several times per step; scanning the weights every
// time cost about a tenth of light_resnet50's `-emit ll`. Emit,
// MaddubsConvs and WinogradWeights give their Target one (withScan); a
// Target without one scans every time. Keys are step pointers: a scan
// lives as long as the Target copy that carries it, within one call.
type weightScan struct {
	mu   sync.Mutex
	safe map[*codegen.Step]bool
	maxW map[*codegen.Step]int64
}

// withScan returns t carrying a fresh weightScan unless it has one.
func (t Target) withScan() Target {
	if t.scan == nil {
		t.scan = &weightScan{safe: map[*codegen.Step]bool{}, maxW: map[*codegen.Step]int64{}}
	}
	return t
}

// pairSafe is pairSafe(s, p.Weights), memoized on t's scan.
func (t Target) pairSafe(p *codegen.Program, s *codegen.Step) bool {
	if t.scan == nil {
		return pairSafe(s, p.Weights)
	}
	return memo(&t.scan.mu, t.scan.safe, s, func() bool { return pairSafe(s, p.Weights) })
}

// winoMaxW is winoMaxW(s, p.Weights), memoized on t's scan.
func (t Target) winoMaxW(p *codegen.Program, s *codegen.Step) int64 {
	if t.scan == nil {
		return winoMaxW(s, p.Weights)
	}
	return memo(&t.scan.mu, t.scan.maxW, s, func() int64 { return winoMaxW(s, p.Weights) })
}

// memo returns m[s], computing it with f the first time.
func memo[T any](mu *sync.Mutex, m map[*codegen.Step]T, s *codegen.Step, f func() T) T {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[s]
	if !ok {
		v = f()
		m[s] = v
	}
	return v
}
