package passes

import (
	"fmt"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Table lookups. What an 8-bit quantized graph computes between a
// dequantize and a quantize from elementwise f32 ops (a learned scale and
// shift around a hard-swish, a sigmoid, x·sigmoid(x) ...) is a function of
// the 8-bit input alone: 256 values. fuseLUT evaluates that function with
// rt on every input code and replaces the quantize by lut(x, table); a
// chain that ends in a graph result in f32 becomes an f32 table. rt's
// results are the same, bit for bit (the same ops run on the same values),
// and the compiled code reads one byte where it converted, ran the chain
// and rounded.

// lutChain is the elementwise f32 computation from dequantize(x) to end.
type lutChain struct {
	dq  *ir.Value   // dequantize(x) of the 8-bit x (dq.Args[0]: a lookup may replace x)
	ops []*ir.Value // the chain's ops in graph order, end last
}

// lutMember reports whether v can be in a chain: an elementwise op with an
// f32 result whose arguments are f32 and, but for the chain's own values,
// constants of one element.
func lutMember(v *ir.Value, in map[*ir.Value]bool) bool {
	if v.IsConst() || v.Op.Name == "param" || !v.Op.Has(ir.Elementwise) || v.Type.DType != ir.F32 || v.Type.Quant != nil {
		return false
	}
	switch v.Op.Name {
	case "quantize", "dequantize", "requantize", "cast":
		return false
	}
	chained := false
	for _, a := range v.Args {
		switch {
		case in[a]:
			chained = true
		case a.IsConst() && a.Const != nil && a.Const.DType == ir.F32 && a.Const.Len() == 1:
		default:
			return false
		}
	}
	return chained
}

// lutChains finds, for every dequantize of a per-tensor quantized i8 or u8
// tensor, the values computed from it alone by elementwise f32 ops of its
// shape (a dequantize → ... → end chain may branch and join: x·sigmoid(x)).
func lutChains(g *ir.Graph) map[*ir.Value]*lutChain {
	of := map[*ir.Value]*lutChain{} // value → the chain it belongs to
	for _, v := range g.Values {
		if v.Op.Name == "dequantize" {
			x := v.Args[0].Type
			if (x.DType == ir.I8 || x.DType == ir.U8) && x.Quant != nil && x.Quant.Axis < 0 {
				of[v] = &lutChain{dq: v}
			}
			continue
		}
		var c *lutChain
		in := map[*ir.Value]bool{}
		for _, a := range v.Args {
			if ca := of[a]; ca != nil {
				if c != nil && c != ca {
					c = nil
					break
				}
				c = ca
				in[a] = true
			}
		}
		if c == nil || !ir.EqualShape(v.Type.Shape, c.dq.Type.Shape) || !lutMember(v, in) {
			continue
		}
		c.ops = append(c.ops, v)
		of[v] = c
	}
	return of
}

// fuseLUT replaces every per-tensor 8-bit quantize of a chain's value, and
// every chain value that is a graph result, by a table lookup.
func fuseLUT(g *ir.Graph) (int, error) {
	of := lutChains(g)
	results := map[*ir.Value]bool{}
	for _, r := range g.Results {
		results[r] = true
	}
	n := 0
	for _, v := range append([]*ir.Value(nil), g.Values...) {
		var end *ir.Value
		switch {
		case v.Op.Name == "quantize" && (v.Type.DType == ir.I8 || v.Type.DType == ir.U8) && v.Type.Quant.Axis < 0:
			end = v.Args[0]
		case results[v] && v.Op.Name != "dequantize":
			end = v
		}
		c := of[end]
		if c == nil || end == c.dq {
			continue // no chain, or a bare dequantize (quantize of it is fuseQDQ's)
		}
		tb, err := lutTable(c, end, v)
		if err != nil {
			return n, err
		}
		t := g.AddConst(v.Name+".table", tb, v.Type.Quant)
		lut, err := g.Add("lut", []*ir.Value{c.dq.Args[0], t}, nil, ir.Type{}, v.Name+".lut", v.Source)
		if err != nil {
			return n, err
		}
		// The lookup takes v's name (a graph output keeps its name; a
		// diff shows v's op changed), v the new one until it is removed.
		lut.Name, v.Name = v.Name, lut.Name
		g.ReplaceUses(v, lut)
		n++
	}
	return n, nil
}

// lutTable runs the chain up to end, then q (the quantize, or end itself),
// on the 256 codes of the chain's input dtype, in code order.
func lutTable(c *lutChain, end, q *ir.Value) (*ir.Tensor, error) {
	x := c.dq.Args[0]
	xt := x.Type
	codes := ir.NewTensor(xt.DType, []int{256})
	lo, _ := xt.DType.Range()
	for i := 0; i < 256; i++ {
		codes.SetInt(i, lo+int64(i))
	}
	sub := ir.NewGraph("lut")
	m := map[*ir.Value]*ir.Value{x: sub.AddConst("x", codes, xt.Quant)}
	clone := func(v *ir.Value) error {
		args := make([]*ir.Value, len(v.Args))
		for i, a := range v.Args {
			if args[i] = m[a]; args[i] == nil {
				if !a.IsConst() || a.Const == nil {
					return fmt.Errorf("fuse lut: %s: argument %s is neither in the chain nor a constant", v.Where(), a.Name)
				}
				args[i] = sub.AddConst("c", a.Const, a.Type.Quant)
			}
		}
		nv, err := sub.Add(v.Op.Name, args, v.Attrs.Clone(), ir.Type{DType: v.Type.DType, Quant: v.Type.Quant}, v.Name, v.Source)
		if err != nil {
			return fmt.Errorf("fuse lut: %s: %v", v.Where(), err)
		}
		m[v] = nv
		return nil
	}
	ops := append([]*ir.Value{c.dq}, c.ops...)
	for _, v := range ops {
		if err := clone(v); err != nil {
			return nil, err
		}
		if v == end {
			break
		}
	}
	if q != end {
		if err := clone(q); err != nil {
			return nil, err
		}
	}
	sub.Results = []*ir.Value{m[q]}
	sub.RemoveDead()
	p, err := rt.New(sub)
	if err != nil {
		return nil, fmt.Errorf("fuse lut: %s: %v", q.Where(), err)
	}
	out, err := p.Run(nil)
	if err != nil {
		return nil, fmt.Errorf("fuse lut: %s: %v", q.Where(), err)
	}
	return out[0], nil
}
