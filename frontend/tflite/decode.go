package tflite

import (
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "github.com/pare-ml/pare/frontend/tflite/tflitefb"
)

// The decoded model: plain Go values read from the verified flatbuffer, so
// that the importer never touches the flatbuffer itself.

type model struct {
	version    uint32
	codes      []opCode
	subgraphs  int
	sg         subgraph // subgraph 0
	buffers    [][]byte
	fileLength int
}

type opCode struct {
	builtin fb.BuiltinOperator
	custom  string
	version int32
}

// name is the op's schema name, with the custom code of a CUSTOM op.
func (c opCode) name() string {
	n := c.builtin.String()
	if c.builtin == fb.BuiltinOperatorCUSTOM {
		n += fmt.Sprintf(" (custom code %q)", c.custom)
	}
	return n
}

type subgraph struct {
	name            string
	tensors         []tensor
	inputs, outputs []int32
	ops             []operator
}

type tensor struct {
	name     string
	shape    []int32
	typ      fb.TensorType
	buffer   uint32
	q        *tquant
	sparse   *tsparse // sparse.go
	variable bool
	external uint32
}

type tquant struct {
	scale   []float32
	zp      []int64
	dim     int32
	details fb.QuantizationDetails
}

type operator struct {
	code            uint32
	inputs, outputs []int32
	optType         fb.BuiltinOptions
	opt             options
	custom          []byte // custom_options, raw (ops_custom.go reads them)
}

// decode verifies and reads a TFLite flatbuffer.
func decode(data []byte) (*model, error) {
	if len(data) > maxFlatbuffer {
		return nil, fmt.Errorf("file of %d bytes: pare reads TFLite files up to 2 GiB", len(data))
	}
	if len(data) < 8 {
		return nil, fmt.Errorf("file of %d bytes is too short for a TFLite model", len(data))
	}
	if id := string(data[4:8]); id != "TFL3" {
		return nil, fmt.Errorf("not a TFLite model (file identifier %q, want \"TFL3\")", id)
	}
	v := &fbv{b: data}
	root, err := v.table(v.u32(0), "model")
	if err != nil {
		return nil, err
	}
	if err := v.fields(root, "model", sc(0, 4)); err != nil {
		return nil, err
	}
	mt := fb.GetRootAsModel(data, 0)
	m := &model{version: mt.Version(), fileLength: len(data)}

	codes, err := v.tables(root, 1, "operator_codes")
	if err != nil {
		return nil, err
	}
	var oc fb.OperatorCode
	for i, t := range codes {
		if err := v.fields(t, fmt.Sprintf("operator_codes[%d]", i), sc(0, 1), vec(1, 1), sc(2, 4), sc(3, 4)); err != nil {
			return nil, err
		}
		mt.OperatorCodes(&oc, i)
		c := opCode{builtin: oc.BuiltinCode(), custom: string(oc.CustomCode()), version: oc.Version()}
		// The code is the larger of the two fields (TFLite's GetBuiltinCode).
		if d := fb.BuiltinOperator(oc.DeprecatedBuiltinCode()); d > c.builtin {
			c.builtin = d
		}
		m.codes = append(m.codes, c)
	}

	bufs, err := v.tables(root, 4, "buffers")
	if err != nil {
		return nil, err
	}
	var bt fb.Buffer
	for i, t := range bufs {
		what := fmt.Sprintf("buffers[%d]", i)
		if err := v.fields(t, what, vec(0, 1), sc(1, 8), sc(2, 8)); err != nil {
			return nil, err
		}
		mt.Buffers(&bt, i)
		b := bt.DataBytes()
		if off, size := bt.Offset(), bt.Size(); off > 1 {
			// Data stored after the flatbuffer; offset counts from the start of the file.
			if off > uint64(len(data)) || size > uint64(len(data))-off {
				return nil, fmt.Errorf("%s: data at offset %d, size %d, lies outside the %d-byte file", what, off, size, len(data))
			}
			b = data[off : off+size]
		}
		m.buffers = append(m.buffers, b)
	}

	sgs, err := v.tables(root, 2, "subgraphs")
	if err != nil {
		return nil, err
	}
	if len(sgs) == 0 {
		return nil, fmt.Errorf("model has no subgraph")
	}
	m.subgraphs = len(sgs)
	var st fb.SubGraph
	mt.Subgraphs(&st, 0)
	if m.sg, err = decodeSubgraph(v, sgs[0], &st); err != nil {
		return nil, fmt.Errorf("subgraph 0: %v", err)
	}
	return m, nil
}

func decodeSubgraph(v *fbv, t ftab, st *fb.SubGraph) (subgraph, error) {
	var s subgraph
	if err := v.fields(t, "subgraph", vec(1, 4), vec(2, 4), vec(4, 1)); err != nil {
		return s, err
	}
	s.name = string(st.Name())
	for i := 0; i < st.InputsLength(); i++ {
		s.inputs = append(s.inputs, st.Inputs(i))
	}
	for i := 0; i < st.OutputsLength(); i++ {
		s.outputs = append(s.outputs, st.Outputs(i))
	}
	tts, err := v.tables(t, 0, "tensors")
	if err != nil {
		return s, err
	}
	var tt fb.Tensor
	var qt fb.QuantizationParameters
	for i, tab := range tts {
		what := fmt.Sprintf("tensors[%d]", i)
		if err := v.fields(tab, what, vec(0, 4), sc(1, 1), sc(2, 4), vec(3, 1), sc(5, 1), sc(10, 4)); err != nil {
			return s, err
		}
		st.Tensors(&tt, i)
		x := tensor{name: string(tt.Name()), typ: tt.Type(), buffer: tt.Buffer(), variable: tt.IsVariable(), external: tt.ExternalBuffer()}
		for j := 0; j < tt.ShapeLength(); j++ {
			x.shape = append(x.shape, tt.Shape(j))
		}
		if stab, ok, err := v.sub(tab, 6, what+".sparsity"); err != nil {
			return s, err
		} else if ok {
			var sp fb.SparsityParameters
			tt.Sparsity(&sp)
			if x.sparse, err = decodeSparsity(v, stab, &sp, what+".sparsity"); err != nil {
				return s, err
			}
		}
		qtab, ok, err := v.sub(tab, 4, what+".quantization")
		if err != nil {
			return s, err
		}
		if ok {
			if err := v.fields(qtab, what+".quantization", vec(2, 4), vec(3, 8), sc(4, 1), sc(6, 4)); err != nil {
				return s, err
			}
			tt.Quantization(&qt)
			q := &tquant{dim: qt.QuantizedDimension(), details: qt.DetailsType()}
			for j := 0; j < qt.ScaleLength(); j++ {
				q.scale = append(q.scale, qt.Scale(j))
			}
			for j := 0; j < qt.ZeroPointLength(); j++ {
				q.zp = append(q.zp, qt.ZeroPoint(j))
			}
			x.q = q
		}
		s.tensors = append(s.tensors, x)
	}
	ots, err := v.tables(t, 3, "operators")
	if err != nil {
		return s, err
	}
	var op fb.Operator
	for i, tab := range ots {
		what := fmt.Sprintf("operator %d", i)
		if err := v.fields(tab, what, sc(0, 4), vec(1, 4), vec(2, 4), sc(3, 1), vec(5, 1)); err != nil {
			return s, err
		}
		st.Operators(&op, i)
		o := operator{code: op.OpcodeIndex(), optType: op.BuiltinOptionsType(), custom: op.CustomOptionsBytes()}
		for j := 0; j < op.InputsLength(); j++ {
			o.inputs = append(o.inputs, op.Inputs(j))
		}
		for j := 0; j < op.OutputsLength(); j++ {
			o.outputs = append(o.outputs, op.Outputs(j))
		}
		if ot, known := optionTables[o.optType]; known {
			otab, ok, err := v.sub(tab, 4, what+" options")
			if err != nil {
				return s, err
			}
			if ok {
				if err := v.fields(otab, what+" options", ot.fields...); err != nil {
					return s, err
				}
				var u flatbuffers.Table
				op.BuiltinOptions(&u)
				ot.read(u, &o.opt)
			}
		}
		s.ops = append(s.ops, o)
	}
	return s, nil
}
