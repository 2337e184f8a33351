package gosrc

import (
	"github.com/dave/jennifer/jen"

	"github.com/pare-ml/pare/codegen"
)

// nms_index (codegen.KNMS) as rt's loops (rt/nms.go): normalized corners,
// areas and candidate flags into the scratch, then MaxOut rounds of a scan
// for the best candidate and a suppression sweep. std::min / std::max in
// their operand order; every product and sum rounded by an explicit
// float32 conversion, so that no target fuses an FMA into the IoU.

func init() { extraKernels[codegen.KNMS] = (*kfn).nms }

func (k *kfn) nms() error {
	if err := k.f32In(); err != nil {
		return err
	}
	p := k.s.NMS
	n := p.N
	area, cand := 4*n, 5*n
	// lo = max(p, q), hi = min(p, q) as std::max / std::min.
	maxOf := func(dst, p, q string) []jen.Code {
		return []jen.Code{L("%s := %s", dst, p), jen.If(L("%s < %s", dst, q)).Block(L("%s = %s", dst, q))}
	}
	minOf := func(dst, p, q string) []jen.Code {
		return []jen.Code{L("%s := %s", dst, p), jen.If(L("%s < %s", q, dst)).Block(L("%s = %s", dst, q))}
	}
	var setup []jen.Code
	setup = append(setup, L("a, b, c, d := x0[4*i], x0[4*i+1], x0[4*i+2], x0[4*i+3]"))
	setup = append(setup, minOf("ymin", "a", "c")...)
	setup = append(setup, maxOf("ymax", "a", "c")...)
	setup = append(setup, minOf("xmin", "b", "d")...)
	setup = append(setup, maxOf("xmax", "b", "d")...)
	setup = append(setup,
		L("scratch[4*i], scratch[4*i+1], scratch[4*i+2], scratch[4*i+3] = ymin, xmin, ymax, xmax"),
		L("scratch[%d+i] = float32(ymax-ymin) * float32(xmax-xmin)", area),
		L("scratch[%d+i] = 0", cand),
		jen.If(L("x1[i] >= %s", flit(p.Score))).Block(L("scratch[%d+i] = 1", cand)),
	)
	var sweep []jen.Code
	sweep = append(sweep,
		L("ai := scratch[%d+i]", area),
		jen.If(L("scratch[%d+i] == 0 || ai <= 0", cand)).Block(jen.Continue()),
	)
	sweep = append(sweep, minOf("hy", "b2", "scratch[4*i+2]")...)
	sweep = append(sweep, maxOf("ly", "b0", "scratch[4*i]")...)
	sweep = append(sweep, minOf("hx", "b3", "scratch[4*i+3]")...)
	sweep = append(sweep, maxOf("lx", "b1", "scratch[4*i+1]")...)
	sweep = append(sweep,
		L("ih := float32(hy - ly)"), jen.If(L("ih < 0")).Block(L("ih = 0")),
		L("iw := float32(hx - lx)"), jen.If(L("iw < 0")).Block(L("iw = 0")),
		L("inter := float32(ih * iw)"),
		jen.If(L("float32(inter/float32(float32(ab+ai)-inter)) > %s", flit(p.IoU))).Block(L("scratch[%d+i] = 0", cand)),
	)
	k.add(
		For("i", 0, n, setup...),
		For("r", 0, p.MaxOut,
			L("best, bs := -1, float32(0)"),
			For("i", 0, n, jen.If(L("scratch[%d+i] != 0 && (best < 0 || x1[i] > bs)", cand)).Block(L("best, bs = i, x1[i]"))),
			jen.If(L("best < 0")).Block(L("y[r] = -1"), jen.Continue()),
			L("y[r] = int32(best)"),
			L("scratch[%d+best] = 0", cand),
			L("ab := scratch[%d+best]", area),
			jen.If(L("ab <= 0")).Block(jen.Continue()),
			L("b0, b1, b2, b3 := scratch[4*best], scratch[4*best+1], scratch[4*best+2], scratch[4*best+3]"),
			For("i", 0, n, sweep...),
		),
	)
	return nil
}

// f32In reports the step unsupported unless its inputs are f32.
func (k *kfn) f32In() error {
	for _, o := range k.s.In {
		if o.DType.String() != "f32" {
			return unsupported(k.s, "%s on %v", k.s.Kernel, o.DType)
		}
	}
	return nil
}
