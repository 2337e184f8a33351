package tflite

import (
	"fmt"
	"slices"

	"github.com/pare-ml/pare/ir"
)

// Data movement: TRANSPOSE, SLICE, SPLIT, SPLIT_V, PACK, UNPACK, GATHER
// and the helpers of STRIDED_SLICE, TILE, pads. Integer tensors move
// unchanged (their parameters pass through; an output declaring others
// gets a requantize). A rank-4 input that exists only in NCHW form is moved
// in NCHW with its axes mapped, so that no transpose is added before the
// op; a result of another rank is permuted back (a reshape when the moved
// data keeps its order).

// movedIn returns input tensor xi: in NCHW when nchwOK and it exists only
// so, else in the model's layout.
func (o *opctx) movedIn(xi int32, nchwOK bool) (*ir.Value, bool, error) {
	if nchwOK && o.im.isNCHW(xi) {
		v, err := o.im.getNCHW(xi)
		return v, true, err
	}
	v, err := o.im.get(xi)
	return v, false, err
}

// inShape is the shape of input tensor xi in the model's layout.
func (o *opctx) inShape(xi int32) ([]int, error) {
	t, err := o.im.tensor(xi)
	if err != nil {
		return nil, err
	}
	return shapeOf(t)
}

// constVector reads constant input k as a vector of n integers.
func (o *opctx) constVector(k, n int, what string) ([]int, error) {
	v, err := o.constList(k, what)
	if err == nil && len(v) != n {
		err = fmt.Errorf("%s %v has %d entries, want %d (one per input dim)", what, v, len(v), n)
	}
	return v, err
}

// constList reads constant input k as a vector (or scalar) of integers.
func (o *opctx) constList(k int, what string) ([]int, error) {
	v, shape, err := o.constInts(k)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if len(shape) > 1 {
		return nil, fmt.Errorf("%s has shape %v, want a vector", what, shape)
	}
	return v, nil
}

// constAxis reads a constant scalar axis (input k) for rank r, normalized.
func (o *opctx) constAxis(k, r int) (int, error) {
	v, _, err := o.constInts(k)
	if err != nil {
		return 0, fmt.Errorf("axis: %v", err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("axis %v must hold one value", v)
	}
	return normAxis(v[0], r)
}

// normAxis normalizes a (negative) axis against rank r.
func normAxis(a, r int) (int, error) {
	if a < -r || a >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	if a < 0 {
		a += r
	}
	return a, nil
}

// sliceAt slices input xi into output k. starts, ends and steps are in the
// model's dim order, normalized as ir.SliceLen takes them. keepRank says
// the output has the input's rank; else it drops size-1 dims, and a slice
// taken in NCHW is permuted back (usually a reshape, the slice being small).
func (o *opctx) sliceAt(k int, xi int32, starts, ends, steps []int, keepRank bool) error {
	x, nchw, err := o.movedIn(xi, true)
	if err != nil {
		return err
	}
	if nchw {
		starts, ends, steps = permuted(starts, toNCHW), permuted(ends, toNCHW), permuted(steps, toNCHW)
	}
	v, err := o.addFor(k, "slice", []*ir.Value{x}, ir.Attrs{"starts": ir.Ints(starts...), "ends": ir.Ints(ends...), "steps": ir.Ints(steps...)}, ir.Type{})
	if err != nil {
		return err
	}
	if nchw && !keepRank {
		return o.setNHWC(k, v)
	}
	return o.setMoved(k, v, nchw)
}

// setNHWC records rank-4 NCHW value v, moved from an NCHW input, as output
// k of another rank: permuted back (usually a reshape, the moved value
// being small), then reshaped to the output's shape.
func (o *opctx) setNHWC(k int, v *ir.Value) error {
	name := o.im.sg.tensors[o.op.outputs[k]].name
	v, err := o.im.permute(v, toNHWC, ssaName(name)+".nhwc", name)
	if err != nil {
		return err
	}
	return o.setMoved(k, v, false)
}

func permuted(s, perm []int) []int {
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return out
}

// sliceArgs reads the shape of input 0 and constant inputs 1, 2, ... (named
// by what), each a vector of one entry per dim.
func (o *opctx) sliceArgs(what ...string) (int32, []int, [][]int, error) {
	xi := o.in(0)
	shape, err := o.inShape(xi)
	if err != nil {
		return 0, nil, nil, err
	}
	vs := make([][]int, len(what))
	for k, w := range what {
		if vs[k], err = o.constVector(k+1, len(shape), w); err != nil {
			return 0, nil, nil, err
		}
	}
	return xi, shape, vs, nil
}

func convTranspose(o *opctx) error {
	xi, shape, vs, err := o.sliceArgs("perm")
	if err != nil {
		return err
	}
	r, perm := len(shape), vs[0]
	seen := make([]bool, r)
	for _, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return fmt.Errorf("perm %v is not a permutation of %d dims", perm, r)
		}
		seen[p] = true
	}
	x, nchw, err := o.movedIn(xi, true)
	if err != nil {
		return err
	}
	if nchw {
		// NCHW in, NCHW out: x_nchw → NHWC → perm → NCHW in one permutation.
		perm = permuted(permuted(toNHWC, perm), toNCHW)
	}
	v := x
	if !isIdentity(perm) {
		if v, err = o.im.permute(x, perm, ssaName(o.out.name), o.out.name); err != nil {
			return err
		}
	}
	return o.setMoved(0, v, nchw)
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if p != i {
			return false
		}
	}
	return true
}

func convSlice(o *opctx) error {
	xi, shape, vs, err := o.sliceArgs("begin", "size")
	if err != nil {
		return err
	}
	r, begin, size := len(shape), vs[0], vs[1]
	ends, steps := make([]int, r), make([]int, r)
	for d, n := range shape {
		b, sz := begin[d], size[d]
		if sz == -1 {
			sz = n - b
		}
		if b < 0 || sz < 0 || b+sz > n {
			return fmt.Errorf("dim %d: begin %d, size %d out of range for size %d", d, begin[d], size[d], n)
		}
		ends[d], steps[d] = b+sz, 1
	}
	return o.sliceAt(0, xi, begin, ends, steps, true)
}

// splitInto slices input xi along axis into consecutive pieces of the
// given sizes, one per output; keepRank as for sliceAt (UNPACK drops the axis).
func (o *opctx) splitInto(xi int32, shape []int, axis int, sizes []int, keepRank bool) error {
	if len(sizes) != len(o.op.outputs) {
		return fmt.Errorf("%d pieces for %d outputs", len(sizes), len(o.op.outputs))
	}
	off := 0
	for k, sz := range sizes {
		starts, ends, steps := make([]int, len(shape)), slices.Clone(shape), make([]int, len(shape))
		for d := range steps {
			steps[d] = 1
		}
		starts[axis], ends[axis] = off, off+sz
		if err := o.sliceAt(k, xi, starts, ends, steps, keepRank); err != nil {
			return err
		}
		off += sz
	}
	return nil
}

// splitArgs reads the data input (x) of a split and its constant axis
// input; axis -1 means the options' axis.
func (o *opctx) splitArgs(x, axisIn int) (int32, []int, int, error) {
	xi := o.in(x)
	shape, err := o.inShape(xi)
	if err != nil {
		return 0, nil, 0, err
	}
	var axis int
	if axisIn < 0 {
		axis, err = normAxis(int(o.op.opt.axis), len(shape))
	} else {
		axis, err = o.constAxis(axisIn, len(shape))
	}
	return xi, shape, axis, err
}

func convSplit(o *opctx) error {
	xi, shape, axis, err := o.splitArgs(1, 0)
	if err != nil {
		return err
	}
	n := len(o.op.outputs)
	if c := int(o.op.opt.count); c != 0 && c != n {
		return fmt.Errorf("num_splits %d, but %d outputs", c, n)
	}
	if shape[axis]%n != 0 {
		return fmt.Errorf("dim %d of size %d does not split into %d", axis, shape[axis], n)
	}
	sizes := make([]int, n)
	for k := range sizes {
		sizes[k] = shape[axis] / n
	}
	return o.splitInto(xi, shape, axis, sizes, true)
}

func convSplitV(o *opctx) error {
	xi, shape, axis, err := o.splitArgs(0, 2)
	if err != nil {
		return err
	}
	sizes, _, err := o.constInts(1)
	if err != nil {
		return fmt.Errorf("size_splits: %v", err)
	}
	sizes = slices.Clone(sizes)
	rest, sum := -1, 0
	for k, sz := range sizes {
		switch {
		case sz == -1 && rest < 0:
			rest = k
		case sz < 0:
			return fmt.Errorf("size_splits %v: negative size (one -1 is allowed)", sizes)
		default:
			sum += sz
		}
	}
	if rest >= 0 {
		sizes[rest] = shape[axis] - sum
		sum = shape[axis]
	}
	if sum != shape[axis] || (rest >= 0 && sizes[rest] < 0) {
		return fmt.Errorf("size_splits %v do not add up to dim %d of size %d", sizes, axis, shape[axis])
	}
	return o.splitInto(xi, shape, axis, sizes, true)
}

func convUnpack(o *opctx) error {
	xi, shape, axis, err := o.splitArgs(0, -1)
	if err != nil {
		return err
	}
	n := len(o.op.outputs)
	if shape[axis] != n || (o.op.opt.count != 0 && int(o.op.opt.count) != n) {
		return fmt.Errorf("dim %d of size %d (num %d) unpacks into %d outputs", axis, shape[axis], o.op.opt.count, n)
	}
	ones := make([]int, n)
	for k := range ones {
		ones[k] = 1
	}
	return o.splitInto(xi, shape, axis, ones, false)
}

// requantizeAll brings every quantized input of a join (concat, pack) to
// the output's parameters.
func (o *opctx) requantizeAll(xs []*ir.Value, want ir.Type) error {
	for k, x := range xs {
		var err error
		if xs[k], err = o.requantizeTo(0, x, want.DType, want.Quant); err != nil {
			return err
		}
	}
	return nil
}

func convPack(o *opctx) error {
	want, err := o.outType()
	if err != nil {
		return err
	}
	r := want.Rank()
	axis, err := normAxis(int(o.op.opt.axis), r)
	if err != nil {
		return err
	}
	if c := int(o.op.opt.count); c != 0 && c != len(o.op.inputs) {
		return fmt.Errorf("values_count %d, but %d inputs", c, len(o.op.inputs))
	}
	xs, err := o.inputs(o.op.inputs, false)
	if err != nil {
		return err
	}
	for k, x := range xs {
		s := x.Type.Shape
		if len(s) != r-1 {
			return fmt.Errorf("input %d %v must have rank %d", k, s, r-1)
		}
		s = slices.Insert(slices.Clone(s), axis, 1)
		if xs[k], err = o.add("reshape", []*ir.Value{x}, nil, ir.Type{Shape: s}); err != nil {
			return err
		}
	}
	if err := o.requantizeAll(xs, want); err != nil {
		return err
	}
	v, err := o.add("concat", xs, ir.Attrs{"axis": ir.Int(axis)}, ir.Type{DType: want.DType, Quant: want.Quant})
	if err != nil {
		return err
	}
	return o.set(v, false)
}

// rejectNegative maps the negative entries of runtime indices (which
// TFLite rejects, and the IR's gather would count from the end) to n, past
// the dim, so the gather reports them as out of range.
func (o *opctx) rejectNegative(iv *ir.Value, n int) (*ir.Value, error) {
	b := &detBuilder{o: o}
	neg := b.add(".negative", "less", []*ir.Value{iv, b.scalarOf(".zero", iv.Type.DType, 0)}, nil, ir.Type{})
	v := b.add(".ids", "where", []*ir.Value{neg, b.scalarOf(".past", iv.Type.DType, float64(n)), iv}, nil, ir.Type{})
	return v, b.err
}

// convGather: GATHER at constant indices (checked at import) or at
// indices computed at run time (a negative one is reported as out of
// range by the gather, as TFLite rejects it).
func convGather(o *opctx) error {
	if o.op.opt.batchDims != 0 {
		return fmt.Errorf("batch_dims %d is not supported (only 0)", o.op.opt.batchDims)
	}
	xi, ii := o.in(0), o.in(1)
	shape, err := o.inShape(xi)
	if err != nil {
		return err
	}
	axis, err := normAxis(int(o.op.opt.axis), len(shape))
	if err != nil {
		return err
	}
	ix, _, err := o.im.constTensor(ii)
	if err != nil {
		return err
	}
	iv, err := o.im.get(ii)
	if err != nil {
		return err
	}
	if dt := iv.Type.DType; (dt != ir.I32 && dt != ir.I64) || iv.Type.Quant != nil {
		return fmt.Errorf("indices must be an i32 or i64 tensor, not %v", iv.Type)
	}
	if ix != nil {
		for j := 0; j < ix.Len(); j++ {
			// TFLite rejects negative indices; the IR's gather would count them from the end.
			if i := ix.IntAt(j); i < 0 || i >= int64(shape[axis]) {
				return fmt.Errorf("index %d out of range for dim %d of size %d", i, axis, shape[axis])
			}
		}
	} else if iv, err = o.rejectNegative(iv, shape[axis]); err != nil {
		return err
	}
	x, nchw, err := o.movedIn(xi, true)
	if err != nil {
		return err
	}
	flat := iv.Type.Rank() == 1
	if nchw {
		// Gather in NCHW with the indices as a vector; other index shapes
		// come back to NHWC, where the gathered dim splits into them.
		axis = nchwPos[axis]
		if !flat && ix != nil {
			iv = o.im.addConst(o.im.sg.tensors[ii].name, ".flat", ix.Reshaped([]int{ix.Len()}), nil)
		} else if !flat {
			if iv, err = o.add("reshape", []*ir.Value{iv}, nil, iv.Type.WithShape([]int{iv.Type.NumElements()})); err != nil {
				return err
			}
		}
	}
	v, err := o.add("gather", []*ir.Value{x, iv}, ir.Attrs{"axis": ir.Int(axis)}, ir.Type{})
	if err != nil {
		return err
	}
	if nchw && !flat {
		return o.setNHWC(0, v)
	}
	return o.setMoved(0, v, nchw)
}
