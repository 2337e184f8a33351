package litert

import (
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// In-place edits of a copy of a TFLite flatbuffer, for the bisection: a
// model cut down to answer "what is tensor T" or "what does operator k
// alone compute". A flatbuffer vector is a uint32 length followed by its
// elements, and a table reaches it through a uoffset relative to the
// field's own position; so a vector is shortened by lowering its length,
// and its first k elements are dropped by writing the new length over
// element k-1 and moving the field's uoffset 4k bytes on (the elements
// after it, which hold offsets relative to themselves, do not move).

// vecField returns the positions of the field (vtable slot vo) of tab
// and of the vector it points to, or ok false when the field is absent.
func vecField(tab *flatbuffers.Table, vo flatbuffers.VOffsetT) (field, vec flatbuffers.UOffsetT, ok bool) {
	o := tab.Offset(vo)
	if o == 0 {
		return 0, 0, false
	}
	field = tab.Pos + flatbuffers.UOffsetT(o)
	return field, field + flatbuffers.GetUOffsetT(tab.Bytes[field:]), true
}

// vtable slots of the fields edited here.
const (
	slotSubGraphInputs    = 4 + 2*1
	slotSubGraphOutputs   = 4 + 2*2
	slotSubGraphOperators = 4 + 2*3
	slotModelSignatures   = 4 + 2*7
)

// subgraph0 returns the model and its first subgraph over buf.
func subgraph0(buf []byte) (*fb.Model, *fb.SubGraph) {
	m := fb.GetRootAsModel(buf, 0)
	sg := new(fb.SubGraph)
	m.Subgraphs(sg, 0)
	return m, sg
}

// dropSignatures empties the model's signature_defs, so that a runtime
// takes the subgraph's own inputs and outputs.
func dropSignatures(buf []byte) {
	m := fb.GetRootAsModel(buf, 0)
	tab := m.Table()
	if _, vec, ok := vecField(&tab, slotModelSignatures); ok {
		flatbuffers.WriteUint32(buf[vec:], 0)
	}
}

// setSingle makes the subgraph's inputs (or outputs) vector the one
// tensor t.
func setSingle(sg *fb.SubGraph, slot flatbuffers.VOffsetT, t int32) bool {
	tab := sg.Table()
	_, vec, ok := vecField(&tab, slot)
	if !ok || flatbuffers.GetUint32(tab.Bytes[vec:]) == 0 {
		return false
	}
	flatbuffers.WriteUint32(tab.Bytes[vec:], 1)
	flatbuffers.WriteInt32(tab.Bytes[vec+4:], t)
	return true
}

// withOutput returns a copy of the model whose only output is tensor t.
func withOutput(data []byte, t int32) []byte {
	buf := append([]byte(nil), data...)
	dropSignatures(buf)
	_, sg := subgraph0(buf)
	setSingle(sg, slotSubGraphOutputs, t)
	return buf
}

// singleOp returns a copy of the model that runs operator k alone, from
// tensor in (its only input) to tensor out.
func singleOp(data []byte, k int, in, out int32) []byte {
	buf := append([]byte(nil), data...)
	dropSignatures(buf)
	_, sg := subgraph0(buf)
	setSingle(sg, slotSubGraphInputs, in)
	setSingle(sg, slotSubGraphOutputs, out)
	tab := sg.Table()
	field, vec, ok := vecField(&tab, slotSubGraphOperators)
	if !ok {
		return nil
	}
	at := vec + flatbuffers.UOffsetT(4*k)
	flatbuffers.WriteUint32(buf[at:], 1)
	flatbuffers.WriteUint32(buf[field:], uint32(at-field))
	return buf
}

// opTablePos returns the position of operator k's table.
func opTablePos(sg *fb.SubGraph, k int) flatbuffers.UOffsetT {
	tab := sg.Table()
	_, vec, _ := vecField(&tab, slotSubGraphOperators)
	at := vec + 4 + flatbuffers.UOffsetT(4*k)
	return at + flatbuffers.GetUOffsetT(tab.Bytes[at:])
}

// groupModel returns a copy of the model that runs the operators ops (in
// that order) from the tensors ins to the tensor out, or an error when
// the flatbuffer's layout does not allow the edit in place. The operators
// vector is rewritten over its first len(ops) slots (an element is an
// offset forward to its table, which the usual back-to-front builders
// place after the vector). When ins is longer than the subgraph's inputs
// vector, the inputs field is pointed at the inputs vector of an operator
// left out, which nothing reads any more.
func groupModel(data []byte, ops []int, ins []int32, out int32) ([]byte, error) {
	buf := append([]byte(nil), data...)
	dropSignatures(buf)
	_, sg := subgraph0(buf)
	tab := sg.Table()
	_, opVec, ok := vecField(&tab, slotSubGraphOperators)
	if !ok {
		return nil, fmt.Errorf("no operators")
	}
	targets := make([]flatbuffers.UOffsetT, len(ops))
	in := map[int]bool{}
	for j, k := range ops {
		targets[j] = opTablePos(sg, k)
		in[k] = true
	}
	for j, p := range targets {
		slot := opVec + 4 + flatbuffers.UOffsetT(4*j)
		if p <= slot {
			return nil, fmt.Errorf("operator %d's table lies before the operators vector", ops[j])
		}
		flatbuffers.WriteUint32(buf[slot:], uint32(p-slot))
	}
	flatbuffers.WriteUint32(buf[opVec:], uint32(len(ops)))

	inField, inVec, ok := vecField(&tab, slotSubGraphInputs)
	if !ok {
		return nil, fmt.Errorf("no inputs vector")
	}
	if int(flatbuffers.GetUint32(buf[inVec:])) < len(ins) {
		donor := flatbuffers.UOffsetT(0)
		for k := 0; k < sg.OperatorsLength() && donor == 0; k++ {
			if in[k] {
				continue
			}
			op := fb.Operator{}
			op.Init(buf, opTablePos(sg, k))
			otab := op.Table()
			if _, v, ok := vecField(&otab, 4+2*1); ok && v > inField && int(flatbuffers.GetUint32(buf[v:])) >= len(ins) {
				donor = v
			}
		}
		if donor == 0 {
			return nil, fmt.Errorf("no vector of %d inputs to reuse", len(ins))
		}
		flatbuffers.WriteUint32(buf[inField:], uint32(donor-inField))
		inVec = donor
	}
	flatbuffers.WriteUint32(buf[inVec:], uint32(len(ins)))
	for j, t := range ins {
		flatbuffers.WriteInt32(buf[inVec+4+flatbuffers.UOffsetT(4*j):], t)
	}
	if !setSingle(sg, slotSubGraphOutputs, out) {
		return nil, fmt.Errorf("no outputs vector")
	}
	return buf, nil
}
