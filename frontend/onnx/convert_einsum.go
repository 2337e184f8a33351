package onnx

import (
	"slices"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// Einsum with a constant equation, decomposed into reduce_sum, transpose,
// reshape, expand, matmul and mul. Operands contract pairwise from the
// left: labels summed away where only one operand has them, shared labels
// still needed become batch dims of a matmul, the others its rows, columns
// and inner dim (a mul when nothing is contracted); a last transpose puts
// the labels in the output's order. An ellipsis stands for broadcast dims
// (internal labels from U+0100 on).

// esOperand is a value with one label per dim.
type esOperand struct {
	v      *ir.Value
	labels []rune
}

const ellipsisBase = rune(0x100)

// parseEinsumTerm splits a term into labels, the ellipsis (if any) at its
// position as ell labels for the rank; an error string when malformed.
func parseEinsumTerm(term string, rank int) ([]rune, string) {
	n := strings.Count(term, "...")
	if n > 1 {
		return nil, "more than one ellipsis"
	}
	letters := strings.ReplaceAll(term, "...", "")
	for _, r := range letters {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return nil, "label " + string(r) + " is not a letter"
		}
	}
	nl := len(letters)
	if rank >= 0 && (nl > rank || n == 0 && nl != rank) {
		return nil, "labels do not match the rank"
	}
	var out []rune
	for i, part := range strings.Split(term, "...") {
		if i == 1 {
			ell := rank - nl
			for k := range ell {
				// Right-aligned: the last dims of the widest ellipsis.
				out = append(out, ellipsisBase+rune(1000-ell+k))
			}
		}
		out = append(out, []rune(part)...)
	}
	return out, ""
}

func convEinsum(c *nodeCtx) error {
	eq := strings.ReplaceAll(c.str("equation", ""), " ", "")
	if eq == "" {
		return c.errf("the equation attribute is missing")
	}
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(c.n.GetInput()) {
		return c.errf("equation %q has %d operands, the node %d inputs", eq, len(terms), len(c.n.GetInput()))
	}
	var ops []esOperand
	count := map[rune]int{}
	size := map[rune]int{}
	for i, term := range terms {
		v, err := c.floatIn(i)
		if err != nil {
			return err
		}
		labels, bad := parseEinsumTerm(term, v.Type.Rank())
		if bad != "" {
			return c.errf("equation %q, operand %d %v: %s", eq, i, v.Type.Shape, bad)
		}
		seen := map[rune]bool{}
		for d, l := range labels {
			if seen[l] {
				return c.unsupported("equation %q repeats label %c in operand %d (a diagonal); pare does not support that", eq, l, i)
			}
			seen[l] = true
			count[l]++
			n := v.Type.Shape[d]
			if s, ok := size[l]; ok && s != n && s != 1 && n != 1 {
				return c.errf("equation %q: label %s is %d in one operand and %d in another", eq, labelName(l), s, n)
			}
			size[l] = max(size[l], n)
		}
		ops = append(ops, esOperand{v, labels})
	}
	var out []rune
	if explicit {
		if strings.Contains(rhs, "...") {
			maxEll := 0
			for _, o := range ops {
				for _, l := range o.labels {
					if l >= ellipsisBase {
						maxEll = max(maxEll, int(ellipsisBase+1000-l))
					}
				}
			}
			var bad string
			out, bad = parseEinsumTerm(rhs, len(strings.ReplaceAll(rhs, "...", ""))+maxEll)
			if bad != "" {
				return c.errf("equation %q, output: %s", eq, bad)
			}
		} else if out, _ = parseEinsumTerm(rhs, -1); slices.ContainsFunc(out, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) {
			return c.errf("equation %q: the output has a label that is not a letter", eq)
		}
		for i, l := range out {
			if count[l] == 0 {
				return c.errf("equation %q: output label %s is in no operand", eq, labelName(l))
			}
			if slices.Contains(out[:i], l) {
				return c.errf("equation %q: output label %s repeats", eq, labelName(l))
			}
		}
	} else {
		// Implicit: the ellipsis dims, then the labels seen once, sorted.
		var ell, once []rune
		for l, n := range count {
			switch {
			case l >= ellipsisBase:
				ell = append(ell, l)
			case n == 1:
				once = append(once, l)
			}
		}
		slices.Sort(ell)
		slices.Sort(once)
		out = append(ell, once...)
	}
	b := c.build()
	// Broadcast size-1 dims where another operand has the label larger.
	for i, o := range ops {
		shape := slices.Clone(o.v.Type.Shape)
		for d, l := range o.labels {
			shape[d] = size[l]
		}
		if !ir.EqualShape(shape, o.v.Type.Shape) {
			ops[i].v = b.typed("expand", "broadcast", nil, o.v.Type.WithShape(shape), o.v)
		}
	}
	for len(ops) > 1 {
		keep := map[rune]bool{}
		for _, l := range out {
			keep[l] = true
		}
		for _, o := range ops[2:] {
			for _, l := range o.labels {
				keep[l] = true
			}
		}
		ops = append([]esOperand{b.contract(ops[0], ops[1], keep)}, ops[2:]...)
	}
	keep := map[rune]bool{}
	for _, l := range out {
		keep[l] = true
	}
	res := b.sumOut(ops[0], keep)
	if b.err != nil {
		return b.err
	}
	perm := make([]int, len(out))
	for i, l := range out {
		perm[i] = slices.Index(res.labels, l)
	}
	v := res.v
	if !slices.Equal(perm, identityPerm(len(perm))) {
		v = b.op("transpose", "", ir.Attrs{"perm": ir.Ints(perm...)}, v)
	}
	return b.finish(v)
}

func labelName(l rune) string {
	if l >= ellipsisBase {
		return "... (a broadcast dim)"
	}
	return string(l)
}

func identityPerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// sumOut sums o over its labels not in keep.
func (b *builder) sumOut(o esOperand, keep map[rune]bool) esOperand {
	var axes []int
	var labels []rune
	for d, l := range o.labels {
		if keep[l] {
			labels = append(labels, l)
		} else {
			axes = append(axes, d)
		}
	}
	if len(axes) == 0 || b.err != nil {
		return o
	}
	return esOperand{b.reduce("reduce_sum", "sum", o.v, axes, false), labels}
}

// permuted transposes o to the labels in order.
func (b *builder) permuted(o esOperand, order []rune) *ir.Value {
	perm := make([]int, len(order))
	for i, l := range order {
		perm[i] = slices.Index(o.labels, l)
	}
	if slices.Equal(perm, identityPerm(len(perm))) || b.err != nil {
		return o.v
	}
	return b.op("transpose", "perm", ir.Attrs{"perm": ir.Ints(perm...)}, o.v)
}

// contract multiplies two operands and sums the labels they share that
// keep does not need.
func (b *builder) contract(x, y esOperand, keep map[rune]bool) esOperand {
	inY := func(l rune) bool { return slices.Contains(y.labels, l) }
	inX := func(l rune) bool { return slices.Contains(x.labels, l) }
	kx, ky := map[rune]bool{}, map[rune]bool{}
	for l := range keep {
		kx[l], ky[l] = true, true
	}
	for _, l := range y.labels {
		kx[l] = true
	}
	for _, l := range x.labels {
		ky[l] = true
	}
	x, y = b.sumOut(x, kx), b.sumOut(y, ky)
	if b.err != nil {
		return x
	}
	var batch, sum, left, right []rune
	for _, l := range x.labels {
		switch {
		case inY(l) && keep[l]:
			batch = append(batch, l)
		case inY(l):
			sum = append(sum, l)
		default:
			left = append(left, l)
		}
	}
	for _, l := range y.labels {
		if !inX(l) {
			right = append(right, l)
		}
	}
	dims := func(o esOperand, ls []rune) []int {
		s := []int{}
		for _, l := range ls {
			s = append(s, o.v.Type.Shape[slices.Index(o.labels, l)])
		}
		return s
	}
	bd, ld, rd, sd := dims(x, batch), dims(x, left), dims(y, right), dims(x, sum)
	labels := slices.Concat(batch, left, right)
	outShape := slices.Concat(bd, ld, rd)
	if len(sum) == 0 {
		// No contraction: a broadcasting mul of [batch, left, 1...] and [batch, 1..., right].
		xv := b.reshape("lhs", b.permuted(x, slices.Concat(batch, left)), slices.Concat(bd, ld, ones(len(rd))))
		yv := b.reshape("rhs", b.permuted(y, slices.Concat(batch, right)), slices.Concat(bd, ones(len(ld)), rd))
		return esOperand{b.op("mul", "product", nil, xv, yv), labels}
	}
	nb, m, n, k := ir.NumElements(bd), ir.NumElements(ld), ir.NumElements(rd), ir.NumElements(sd)
	xs, ys := []int{nb, m, k}, []int{nb, k, n}
	if len(batch) == 0 {
		xs, ys = xs[1:], ys[1:]
	}
	xv := b.reshape("lhs", b.permuted(x, slices.Concat(batch, left, sum)), xs)
	yv := b.reshape("rhs", b.permuted(y, slices.Concat(batch, sum, right)), ys)
	return esOperand{b.reshape("product", b.op("matmul", "matmul", nil, xv, yv), outShape), labels}
}
