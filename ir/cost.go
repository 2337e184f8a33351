package ir

// MACs is the number of multiply-accumulates a value's op performs
// (convolutions and matrix products; 0 for everything else).
func MACs(v *Value) int64 {
	if v.Op == nil || len(v.Args) < 2 {
		return 0
	}
	out := int64(v.Type.NumElements())
	switch v.Op.Name {
	case "conv":
		w := v.Args[1].Type.Shape
		per := int64(1)
		for _, d := range w[1:] {
			per *= int64(d)
		}
		return out * per
	case "conv_transpose":
		x, w := v.Args[0].Type, v.Args[1].Type.Shape
		per := int64(1)
		for _, d := range w[1:] {
			per *= int64(d)
		}
		return int64(x.NumElements()) * per
	case "matmul":
		a := v.Args[0].Type.Shape
		return out * int64(a[len(a)-1])
	case "gemm":
		a := v.Args[0].Type.Shape
		k := a[1]
		if v.Int("trans_a") != 0 {
			k = a[0]
		}
		return out * int64(k)
	}
	return 0
}

// Weights lists the constant arguments of v (its parameters).
func Weights(v *Value) []*Value {
	var w []*Value
	for _, a := range v.Args {
		if a.IsConst() {
			w = append(w, a)
		}
	}
	return w
}

// Cost totals a graph: parameters (constant elements), their bytes, MACs.
type Cost struct {
	Params, Bytes, MACs int64
}

// GraphCost sums parameters over distinct constants and MACs over ops.
func GraphCost(g *Graph) Cost {
	var c Cost
	for _, v := range g.Values {
		if v.IsConst() {
			c.Params += int64(v.Type.NumElements())
			c.Bytes += int64(v.Type.Bytes())
		}
		c.MACs += MACs(v)
	}
	return c
}
