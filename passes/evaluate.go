package passes

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Accuracy is the result of evaluating a classifier on a labelled set.
type Accuracy struct {
	N, Top1, Top5 int
}

// Top1Pct and Top5Pct are the accuracies in percent.
func (a Accuracy) Top1Pct() float64 { return 100 * float64(a.Top1) / float64(max(a.N, 1)) }

// Top5Pct is the top-5 accuracy in percent.
func (a Accuracy) Top5Pct() float64 { return 100 * float64(a.Top5) / float64(max(a.N, 1)) }

// Evaluate runs g (first result: class scores) on every sample of data
// with one rt.Interp shared by one goroutine per core; progress, when not
// nil, is called after each sample with the count done.
func Evaluate(g *ir.Graph, data *Dataset, progress func(done int)) (Accuracy, error) {
	ip, err := rt.New(g)
	if err != nil {
		return Accuracy{}, err
	}
	n := data.Len()
	workers := max(1, min(runtime.GOMAXPROCS(0), n))
	var next, done, top1, top5 atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				out, err := ip.Run(data.Inputs[i])
				if err == nil && (len(out) == 0 || out[0].DType != ir.F32) {
					err = fmt.Errorf("model output is not f32 class scores")
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("sample %d: %v", i, err)
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
				r := rank(out[0].F32, data.Labels[i])
				if r == 0 {
					top1.Add(1)
				}
				if r < 5 {
					top5.Add(1)
				}
				d := done.Add(1)
				if progress != nil {
					mu.Lock()
					progress(int(d))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Accuracy{}, firstErr
	}
	return Accuracy{N: n, Top1: int(top1.Load()), Top5: int(top5.Load())}, nil
}

// rank is how many scores beat the label's (ties broken by index, as argmax).
func rank(scores []float32, label int) int {
	if label < 0 || label >= len(scores) {
		return len(scores)
	}
	s := scores[label]
	r := 0
	for i, x := range scores {
		if x > s || (x == s && i < label) {
			r++
		}
	}
	return r
}
