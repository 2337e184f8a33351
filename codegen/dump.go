package codegen

import (
	"fmt"
	"io"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// Dump writes a readable listing of the program: one line per step with its
// kernel, operands and fused epilogue, then the plan's totals.
func (p *Program) Dump(w io.Writer) {
	fmt.Fprintf(w, "program %s: %d steps, arena %d bytes (buffers %d), weights %d bytes\n",
		p.Name, len(p.Steps), p.ArenaSize, p.BufferBytes, len(p.Weights))
	for _, in := range p.Inputs {
		fmt.Fprintf(w, "  input  %s %v%v\n", in.Value, in.DType, ir.FormatShape(in.Shape))
	}
	for _, o := range p.Outputs {
		fmt.Fprintf(w, "  output %s %v%v\n", o.Value, o.DType, ir.FormatShape(o.Shape))
	}
	for i, s := range p.Steps {
		var ins []string
		for _, o := range s.In {
			ins = append(ins, fmt.Sprintf("%v%v@%v", o.DType, ir.FormatShape(o.Shape), o.Ref))
		}
		var epi []string
		for _, e := range s.Epilogue {
			t := string(e.Op)
			if e.Arg != nil {
				t += "(" + e.Arg.Ref.String()
				if e.Arg2 != nil {
					t += ", " + e.Arg2.Ref.String()
				}
				t += ")"
			}
			epi = append(epi, t)
		}
		line := fmt.Sprintf("  %3d %-15s %s = %s(%s)", i, s.Kernel, s.Out.Ref, s.Name, strings.Join(ins, ", "))
		if len(epi) > 0 {
			line += " then " + strings.Join(epi, ", ")
		}
		if sp := s.Sparse; sp != nil {
			cb := ""
			if sp.IdxBits > 0 {
				cb = fmt.Sprintf(", %d-bit codebook indices", sp.IdxBits)
			}
			line += fmt.Sprintf(" sparse[%d×%d: %d non-zeros in %d entries, %d-bit gaps%s, %d bytes]",
				sp.Rows, sp.Cols, sp.NonZeros, sp.Entries, sp.GapBits, cb, sp.Bytes(s.In[1]))
		}
		if gt := s.Gather; gt != nil {
			line += fmt.Sprintf(" gather[%d×%d×%d, %d indices]", gt.Outer, gt.N, gt.Inner, gt.K)
		}
		if s.InPlace {
			line += " in-place"
		}
		fmt.Fprintf(w, "%s  ; %s\n", line, s.Where)
	}
}
