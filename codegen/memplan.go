package codegen

import (
	"sort"
)

// The static memory plan: every arena buffer lives from the step that
// defines it to the last step that reads it; buffers whose lifetimes
// overlap get disjoint byte ranges. Placement is greedy by size (largest
// first, each at the lowest offset that fits beside the already placed
// buffers it overlaps in time), as TFLite's arena planner does.

// Align is the alignment of every arena buffer and every packed constant.
const Align = 64

func alignUp(n int64) int64 { return (n + Align - 1) &^ (Align - 1) }

// planInPlace lets an elementwise step write over its first input when that
// input dies there, has the output's size and is read at the same index.
func (l *lowerer) planInPlace() {
	for i, st := range l.p.Steps {
		if st.Kernel != KMap || len(st.In) == 0 {
			continue
		}
		in, out := st.In[0].buf, st.Out.buf
		if in == nil || out == nil || in.root().space != Arena || out.space != Arena || out.merged != nil {
			continue
		}
		r := in.root()
		if r.last != i || st.In[0].boff != 0 || r.size != out.size || !contiguous(st.Loop, 0) {
			continue
		}
		clash := false
		for _, e := range st.Epilogue {
			for _, a := range []*Operand{e.Arg, e.Arg2} {
				if a != nil && a.buf != nil && a.buf.root() == r {
					clash = true
				}
			}
		}
		if clash {
			continue
		}
		out.merged = r
		if out.last > r.last {
			r.last = out.last
		}
		st.InPlace = true
	}
}

// contiguous reports whether operand k of the loop is read at the output's index.
func contiguous(lp *Loop, k int) bool {
	if lp == nil {
		return false
	}
	s := 1
	for d := len(lp.Shape) - 1; d >= 0; d-- {
		if lp.Shape[d] != 1 && lp.Strides[k][d] != s {
			return false
		}
		s *= lp.Shape[d]
	}
	return true
}

// placeArena assigns offsets to the arena buffers.
func (l *lowerer) placeArena() {
	var bs []*buffer
	for _, b := range l.bufs {
		if b.merged != nil || b.space != Arena {
			continue
		}
		if b.first < 0 { // defined by no step (cannot happen for a well-formed plan)
			b.first = 0
		}
		if b.last < b.first {
			b.last = b.first
		}
		bs = append(bs, b)
		l.p.BufferBytes += b.size
	}
	l.p.ArenaSize = place(bs)
}

// place assigns offsets to buffers with lifetimes [first, last] so that
// buffers alive at the same step never overlap; it returns the arena size.
func place(bs []*buffer) int64 {
	order := append([]*buffer{}, bs...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].size != order[j].size {
			return order[i].size > order[j].size
		}
		return order[i].first < order[j].first
	})
	var placed []*buffer
	var size int64
	for _, b := range order {
		var busy []*buffer
		for _, p := range placed {
			if p.first <= b.last && b.first <= p.last {
				busy = append(busy, p)
			}
		}
		sort.Slice(busy, func(i, j int) bool { return busy[i].offset < busy[j].offset })
		off := int64(0)
		need := alignUp(b.size)
		for _, p := range busy {
			if p.offset-off >= need {
				break
			}
			if e := alignUp(p.offset + p.size); e > off {
				off = e
			}
		}
		b.offset = off
		placed = append(placed, b)
		if e := alignUp(off + b.size); e > size {
			size = e
		}
	}
	return size
}
