package passes

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Table lookups. Whatever elementwise ops compute from one 8-bit tensor
// alone (with scalar constants) is a function of its 256 codes: a
// dequantize, a learned scale and shift around a hard-swish and a quantize
// in f32, or the same as a run of quantized integer ops, or x·sigmoid(x).
// fuseLUT evaluates such a computation with rt on every code and replaces
// its result (an 8-bit per-tensor or f32 value that something outside it
// reads) by lut(x, table). rt's results are the same, bit for bit (the same
// ops run on the same values); the compiled code reads one byte where it
// ran every op, rounding after each.

// lutChain is an 8-bit root and the elementwise values computed from it.
type lutChain struct {
	root *ir.Value
	ops  []*ir.Value // members in graph order
}

// lutRoot reports whether v's codes can index a table: i8 or u8, per
// tensor if quantized.
func lutRoot(v *ir.Value) bool {
	t := v.Type
	return (t.DType == ir.I8 || t.DType == ir.U8) && (t.Quant == nil || t.Quant.Axis < 0)
}

// lutEnd reports whether v can be a table's result: i8, u8 (per tensor) or
// plain f32.
func lutEnd(v *ir.Value) bool {
	return lutRoot(v) || v.Type.DType == ir.F32 && v.Type.Quant == nil
}

// lutMember reports whether v can extend a chain: an elementwise op whose
// arguments are the chain's values (in) or constants of one element, with
// a result of the root's shape that is f32 or a per-tensor integer.
func lutMember(v *ir.Value, in func(*ir.Value) bool, shape []int) bool {
	if v.IsConst() || v.Op == nil || !v.Op.Has(ir.Elementwise) || !ir.EqualShape(v.Type.Shape, shape) {
		return false
	}
	t := v.Type
	if t.DType == ir.Bool || t.DType == ir.I64 || t.Quant != nil && t.Quant.Axis >= 0 {
		return false
	}
	chained := false
	for _, a := range v.Args {
		switch {
		case in(a):
			chained = true
		case a.IsConst() && a.Const != nil && a.Const.Len() == 1 && (a.Type.Quant == nil || a.Type.Quant.Axis < 0):
		default:
			return false
		}
	}
	return chained
}

// lutChains builds the chains: a value joins the chain of its arguments
// when it can; else an 8-bit value starts one.
func lutChains(g *ir.Graph) []*lutChain {
	of := map[*ir.Value]*lutChain{}
	var chains []*lutChain
	for _, p := range g.Params { // an 8-bit graph input is a root too
		if lutRoot(p) {
			c := &lutChain{root: p}
			of[p] = c
			chains = append(chains, c)
		}
	}
	for _, v := range g.Values {
		var c *lutChain
		for _, a := range v.Args {
			if ca := of[a]; ca != nil {
				if c != nil && c != ca {
					c = nil
					break
				}
				c = ca
			}
		}
		if c != nil && lutMember(v, func(a *ir.Value) bool { return of[a] == c }, c.root.Type.Shape) {
			c.ops = append(c.ops, v)
			of[v] = c
			continue
		}
		if !v.IsConst() && lutRoot(v) {
			c := &lutChain{root: v}
			of[v] = c
			chains = append(chains, c)
		}
	}
	return chains
}

// fuseLUT replaces each chain value that something outside its chain reads
// (or a graph result), of two or more ops, by a lookup in its table.
func fuseLUT(g *ir.Graph) (int, error) {
	u := liveUsers(g)
	results := map[*ir.Value]bool{}
	for _, r := range g.Results {
		results[r] = true
	}
	type repl struct {
		v     *ir.Value
		root  *ir.Value
		table *ir.Tensor
	}
	var todo []repl
	for _, c := range lutChains(g) {
		member := map[*ir.Value]bool{c.root: true}
		for _, v := range c.ops {
			member[v] = true
		}
		for _, v := range c.ops {
			outside := results[v]
			for _, w := range u[v] {
				outside = outside || !member[w]
			}
			if !outside || !lutEnd(v) {
				continue
			}
			need := lutAncestors(v, c.root, member)
			if len(need) < 2 {
				continue // one op: its own kernel is a single pass too
			}
			tb, err := lutTable(c, v, need)
			if err != nil {
				return 0, err
			}
			todo = append(todo, repl{v, c.root, tb})
		}
	}
	// Replaced only now: a later member may read an earlier end.
	for _, r := range todo {
		t := g.AddConst(r.v.Name+".table", r.table, r.v.Type.Quant)
		lut, err := g.Add("lut", []*ir.Value{r.root, t}, nil, ir.Type{}, r.v.Name+".lut", r.v.Source)
		if err != nil {
			return 0, err
		}
		// The lookup takes v's name (a graph output keeps its name; a
		// diff shows v's op changed), v the new one until it is removed.
		lut.Name, r.v.Name = r.v.Name, lut.Name
		g.ReplaceUses(r.v, lut)
	}
	return len(todo), nil
}

// lutAncestors is the set of chain members v depends on (v included, the
// root not).
func lutAncestors(v, root *ir.Value, member map[*ir.Value]bool) map[*ir.Value]bool {
	need := map[*ir.Value]bool{}
	var walk func(x *ir.Value)
	walk = func(x *ir.Value) {
		if x == root || need[x] || !member[x] {
			return
		}
		need[x] = true
		for _, a := range x.Args {
			walk(a)
		}
	}
	walk(v)
	return need
}

// lutTable runs the members end depends on (need), in graph order, on the
// 256 codes of the root's dtype, in code order.
func lutTable(c *lutChain, end *ir.Value, need map[*ir.Value]bool) (*ir.Tensor, error) {
	xt := c.root.Type
	codes := ir.NewTensor(xt.DType, []int{256})
	lo, _ := xt.DType.Range()
	for i := 0; i < 256; i++ {
		codes.SetInt(i, lo+int64(i))
	}
	sub := ir.NewGraph("lut")
	m := map[*ir.Value]*ir.Value{c.root: sub.AddConst("x", codes, xt.Quant)}
	for _, v := range c.ops {
		if !need[v] {
			continue
		}
		args := make([]*ir.Value, len(v.Args))
		for i, a := range v.Args {
			if args[i] = m[a]; args[i] == nil {
				if !a.IsConst() || a.Const == nil {
					return nil, fmt.Errorf("fuse lut: %s: argument %s is neither in the chain nor a constant", v.Where(), a.Name)
				}
				args[i] = sub.AddConst("c", a.Const, a.Type.Quant)
			}
		}
		nv, err := sub.Add(v.Op.Name, args, v.Attrs.Clone(), ir.Type{DType: v.Type.DType, Quant: v.Type.Quant}, v.Name, v.Source)
		if err != nil {
			return nil, fmt.Errorf("fuse lut: %s: %v", v.Where(), err)
		}
		m[v] = nv
	}
	sub.Results = []*ir.Value{m[end]}
	p, err := rt.New(sub)
	if err != nil {
		return nil, fmt.Errorf("fuse lut: %s: %v", end.Where(), err)
	}
	out, err := p.Run(nil)
	if err != nil {
		return nil, fmt.Errorf("fuse lut: %s: %v", end.Where(), err)
	}
	return out[0], nil
}
