package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
)

// Cases of AffineGrid (convert_grid.go): theta is the input.

func affineGridCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		size    []int64
		align   int64 // -1: left out (0)
		ortSkip string
	}{
		{[]int64{2, 3, 4, 5}, -1, ""},
		{[]int64{1, 1, 3, 2}, 1, ""},
		{[]int64{2, 2, 1, 4}, 1, "a dim of 1 with align_corners: ONNX leaves its position undefined; pare takes torch's 0, ONNX Runtime 1.30 gives 1"},
		{[]int64{1, 1, 2, 3, 4}, 0, ""},
		{[]int64{2, 1, 3, 2, 2}, 1, ""},
		{[]int64{1, 1, 1, 3}, 0, ""},
	} {
		sp := len(tc.size) - 2
		n := int(tc.size[0])
		dims := make([]int, sp)
		for j := range dims {
			dims[j] = int(tc.size[2+j])
		}
		var attrs []*attrProto
		if tc.align >= 0 {
			attrs = append(attrs, aInt("align_corners", tc.align))
		}
		align := tc.align == 1
		pos := func(i, n int) float64 {
			switch {
			case align && n == 1:
				return 0
			case align:
				return -1 + 2*float64(i)/float64(n-1)
			}
			return -1 + (2*float64(i)+1)/float64(n)
		}
		outShape := append(append([]int{n}, dims...), sp)
		out = append(out, decompCase{name: fmt.Sprintf("AffineGrid/%d_size%v_align%d", i, tc.size, tc.align), opset: 20, op: "AffineGrid",
			x: []int{n, sp, sp + 1}, attrs: attrs, ortSkip: tc.ortSkip, params: []*ir.Tensor{ir.FromI64([]int{len(tc.size)}, tc.size)},
			ref: func(x *ir.Tensor) *ir.Tensor {
				return refOut(outShape, func(ix []int) float64 {
					b, k := ix[0], ix[len(ix)-1]
					s := x.At(flat([]int{b, k, sp}, x.Shape)) // the translation
					for c := range sp {                       // c = 0: x, from the last spatial dim
						d := sp - 1 - c
						s += x.At(flat([]int{b, k, c}, x.Shape)) * pos(ix[1+d], dims[d])
					}
					return s
				})
			}})
	}
	return out
}

// TestAffineGridErrors: malformed AffineGrid nodes and a size pare cannot
// know are errors naming the model, the node and the reason.
func TestAffineGridErrors(t *testing.T) {
	ag := func(theta []int64, size *ir.Tensor) *mb {
		return newModel(20).input("t", dtFloat, theta...).init("s", size).node("AffineGrid", []string{"t", "s"}, []string{"y"}).output("y")
	}
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		{"size length", ag([]int64{1, 2, 3}, i64s(1, 1, 4)), "size [3] must be 4 or 5 integers"},
		{"theta shape", ag([]int64{1, 3, 4}, i64s(1, 1, 4, 4)), "theta [1 3 4] must be [N, 2, 3] for a size of 4 dims"},
		{"batch", ag([]int64{2, 2, 3}, i64s(1, 1, 4, 4)), "size[0] = 1 differs from theta's batch 2"},
		{"dim", ag([]int64{1, 2, 3}, i64s(1, 1, 0, 4)), "size[2] = 0 must be positive"},
		{"runtime size", newModel(20).input("t", dtFloat, 1, 2, 3).input("s", dtInt64, 4).node("AffineGrid", []string{"t", "s"}, []string{"y"}).output("y"),
			`input "s" must be a constant`},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `node "AffineGrid_0"`) {
			t.Errorf("%s: err = %v, want it to name AffineGrid_0 and say %q", tc.name, err, tc.want)
		}
	}
}

type gridSampleCase struct {
	x, grid []int // X [N, C, H, W], grid [N, Ho, Wo, 2]
	mode    string
	pad     string // "": left out (zeros)
	align   bool
	opset   int64
}

// ref samples X at the grid by the operator's definition.
func (gc gridSampleCase) ref(xt, gt *ir.Tensor) *ir.Tensor {
	n, ch, h, w := gc.x[0], gc.x[1], gc.x[2], gc.x[3]
	ho, wo := gc.grid[1], gc.grid[2]
	pad := gc.pad
	if pad == "" {
		pad = "zeros"
	}
	pixel := func(g float32, size int) float64 {
		s, o := float32(size)/2, float32(size-1)/2
		if gc.align {
			s = o
		}
		p := float64(g*s + o) // as f32, like the decomposition
		if pad == "border" {
			p = math.Min(math.Max(p, 0), float64(size-1))
		}
		return p
	}
	at := func(b, c, yy, xx int) float64 {
		if pad == "border" {
			xx, yy = min(max(xx, 0), w-1), min(max(yy, 0), h-1)
		} else if xx < 0 || xx >= w || yy < 0 || yy >= h {
			return 0
		}
		return xt.At(flat([]int{b, c, yy, xx}, gc.x))
	}
	return refOut([]int{n, ch, ho, wo}, func(ix []int) float64 {
		b, c, i, j := ix[0], ix[1], ix[2], ix[3]
		px := pixel(gt.F32[flat([]int{b, i, j, 0}, gc.grid)], w)
		py := pixel(gt.F32[flat([]int{b, i, j, 1}, gc.grid)], h)
		if gc.mode == "nearest" {
			return at(b, c, int(math.RoundToEven(py)), int(math.RoundToEven(px)))
		}
		x0, y0 := math.Floor(px), math.Floor(py)
		fx, fy := px-x0, py-y0
		xi, yi := int(x0), int(y0)
		return (1-fx)*(1-fy)*at(b, c, yi, xi) + fx*(1-fy)*at(b, c, yi, xi+1) + (1-fx)*fy*at(b, c, yi+1, xi) + fx*fy*at(b, c, yi+1, xi+1)
	})
}

func gridSampleCases() []decompCase {
	var out []decompCase
	for i, gc := range []gridSampleCase{
		{x: []int{1, 2, 4, 5}, grid: []int{1, 3, 3, 2}, mode: "", opset: 16},
		{x: []int{2, 3, 3, 4}, grid: []int{2, 2, 5, 2}, mode: "bilinear", pad: "border", opset: 16},
		{x: []int{1, 1, 5, 5}, grid: []int{1, 4, 4, 2}, mode: "bilinear", align: true, opset: 16},
		{x: []int{2, 2, 4, 3}, grid: []int{2, 3, 2, 2}, mode: "nearest", opset: 16},
		{x: []int{1, 2, 3, 3}, grid: []int{1, 4, 3, 2}, mode: "nearest", pad: "border", align: true, opset: 16},
		{x: []int{1, 2, 4, 4}, grid: []int{1, 3, 3, 2}, mode: "linear", pad: "zeros", opset: 20},
		{x: []int{2, 1, 3, 5}, grid: []int{2, 2, 2, 2}, mode: "", pad: "border", align: true, opset: 20},
	} {
		var attrs []*attrProto
		if gc.mode != "" {
			attrs = append(attrs, aStr("mode", gc.mode))
		}
		if gc.pad != "" {
			attrs = append(attrs, aStr("padding_mode", gc.pad))
		}
		if gc.align {
			attrs = append(attrs, aInt("align_corners", 1))
		}
		grid := randParam(int64(800+i), -1.3, 1.3, gc.grid...)
		out = append(out, decompCase{name: fmt.Sprintf("GridSample/%d_opset%d_%v_grid%v_%s_%s_align%v", i, gc.opset, gc.x, gc.grid, gc.mode, gc.pad, gc.align),
			opset: gc.opset, op: "GridSample", x: gc.x, attrs: attrs, params: []*ir.Tensor{grid}, tol: 1e-4,
			ref: func(x *ir.Tensor) *ir.Tensor { return gc.ref(x, grid) }})
	}
	return out
}

// TestGridSampleForms: with a constant grid the coordinates, indices and
// weights fold; what is left gathers and weights the pixels.
func TestGridSampleForms(t *testing.T) {
	grid := randParam(1, -1.2, 1.2, 1, 2, 3, 2)
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{"bilinear", []string{"transpose", "reshape", "gather", "mul", "gather", "mul", "add", "gather", "mul", "add", "gather", "mul", "add", "transpose"}},
		{"nearest", []string{"transpose", "reshape", "gather", "mul", "transpose"}},
	} {
		g := newModel(16).input("x", dtFloat, 1, 2, 3, 4).init("g", grid).
			node("GridSample", []string{"x", "g"}, []string{"y"}, aStr("mode", tc.mode)).output("y").mustLoad(t, Options{})
		if got := ops(g); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ops %v, want %v", tc.mode, got, tc.want)
		}
	}
}

// TestGridSampleErrors: what GridSample does not support is an
// UnsupportedError naming the node.
func TestGridSampleErrors(t *testing.T) {
	gs := func(x []int64, grid []int, attrs ...*attrProto) *mb {
		return newModel(20).input("x", dtFloat, x...).init("g", f32s(grid)).node("GridSample", []string{"x", "g"}, []string{"y"}, attrs...).output("y")
	}
	for _, tc := range []struct {
		name        string
		m           *mb
		want        string
		unsupported bool
	}{
		{"cubic", gs([]int64{1, 1, 3, 3}, []int{1, 2, 2, 2}, aStr("mode", "cubic")), `mode "cubic" is not supported`, true},
		{"reflection", gs([]int64{1, 1, 3, 3}, []int{1, 2, 2, 2}, aStr("padding_mode", "reflection")), `padding_mode "reflection" is not supported`, true},
		{"5-D", gs([]int64{1, 1, 2, 3, 3}, []int{1, 2, 2, 2, 3}), "4-D inputs [N, C, H, W] only", true},
		{"grid shape", gs([]int64{1, 1, 3, 3}, []int{2, 2, 2, 2}), "grid [2 2 2 2] must be [1, Ho, Wo, 2]", false},
		{"mode", gs([]int64{1, 1, 3, 3}, []int{1, 2, 2, 2}, aStr("mode", "area")), `unknown mode "area"`, false},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `node "GridSample_0"`) {
			t.Errorf("%s: err = %v, want it to name GridSample_0 and say %q", tc.name, err, tc.want)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) != tc.unsupported {
			t.Errorf("%s: err %v: UnsupportedError %v, want %v", tc.name, err, !tc.unsupported, tc.unsupported)
		}
	}
}

func col2ImCases() []decompCase {
	var out []decompCase
	for i, tc := range []struct {
		n, c               int
		img, blk           []int
		dil, strides, pads []int64 // nil: left out
	}{
		{n: 1, c: 2, img: []int{4, 5}, blk: []int{2, 2}},
		{n: 2, c: 1, img: []int{5, 5}, blk: []int{3, 3}, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}},
		{n: 1, c: 2, img: []int{6, 4}, blk: []int{2, 3}, dil: []int64{2, 1}},
		{n: 1, c: 3, img: []int{4, 6}, blk: []int{2, 2}, strides: []int64{2, 3}, pads: []int64{0, 1, 1, 0}},
		{n: 1, c: 1, img: []int{7}, blk: []int{3}, strides: []int64{2}},
	} {
		d := len(tc.img)
		get := func(l []int64, j int, def int) int {
			if l == nil {
				return def
			}
			return int(l[j])
		}
		patches := make([]int, d)
		for j := range d {
			span := tc.img[j] + get(tc.pads, j, 0) + get(tc.pads, d+j, 0) - get(tc.dil, j, 1)*(tc.blk[j]-1) - 1
			patches[j] = span/get(tc.strides, j, 1) + 1
		}
		bn, ln := ir.NumElements(tc.blk), ir.NumElements(patches)
		var attrs []*attrProto
		if tc.dil != nil {
			attrs = append(attrs, aInts("dilations", tc.dil...))
		}
		if tc.strides != nil {
			attrs = append(attrs, aInts("strides", tc.strides...))
		}
		if tc.pads != nil {
			attrs = append(attrs, aInts("pads", tc.pads...))
		}
		toI64 := func(v []int) *ir.Tensor {
			t := ir.NewTensor(ir.I64, []int{len(v)})
			for j, x := range v {
				t.I64[j] = int64(x)
			}
			return t
		}
		outShape := append([]int{tc.n, tc.c}, tc.img...)
		out = append(out, decompCase{name: fmt.Sprintf("Col2Im/%d_img%v_block%v_dil%v_strides%v_pads%v", i, tc.img, tc.blk, tc.dil, tc.strides, tc.pads),
			opset: 18, op: "Col2Im", x: []int{tc.n, tc.c * bn, ln}, attrs: attrs, params: []*ir.Tensor{toI64(tc.img), toI64(tc.blk)},
			ref: func(x *ir.Tensor) *ir.Tensor {
				y := ir.NewTensor(ir.F32, outShape)
				for b := range tc.n {
					for c := range tc.c {
						for k := range bn {
							kk := unflat(k, tc.blk)
							for l := range ln {
								ll := unflat(l, patches)
								pos := make([]int, d)
								ok := true
								for j := range d {
									pos[j] = ll[j]*get(tc.strides, j, 1) + kk[j]*get(tc.dil, j, 1) - get(tc.pads, j, 0)
									ok = ok && pos[j] >= 0 && pos[j] < tc.img[j]
								}
								if ok {
									y.F32[flat(append([]int{b, c}, pos...), outShape)] += x.F32[flat([]int{b, c*bn + k, l}, x.Shape)]
								}
							}
						}
					}
				}
				return y
			}})
	}
	return out
}

// TestCol2ImErrors: malformed Col2Im nodes are errors naming the node.
func TestCol2ImErrors(t *testing.T) {
	c2i := func(x []int64, img, blk *ir.Tensor, attrs ...*attrProto) *mb {
		return newModel(18).input("x", dtFloat, x...).init("i", img).init("b", blk).node("Col2Im", []string{"x", "i", "b"}, []string{"y"}, attrs...).output("y")
	}
	for _, tc := range []struct {
		name string
		m    *mb
		want string
	}{
		{"lengths", c2i([]int64{1, 4, 12}, i64s(4, 5), i64s(2)), "image_shape [4 5] and block_shape [2] differ in length"},
		{"columns", c2i([]int64{1, 4, 11}, i64s(4, 5), i64s(2, 2)), "input [1 4 11] must be [N, C·4, 12]"},
		{"fit", c2i([]int64{1, 4, 12}, i64s(2, 5), i64s(3, 2)), "does not fit the padded image"},
		{"block", c2i([]int64{1, 4, 12}, i64s(4, 5), i64s(0, 2)), "block_shape[0] = 0 must be positive"},
		{"runtime image", newModel(18).input("x", dtFloat, 1, 4, 12).input("i", dtInt64, 2).init("b", i64s(2, 2)).
			node("Col2Im", []string{"x", "i", "b"}, []string{"y"}).output("y"), `input "i" must be a constant`},
	} {
		_, err := tc.m.load(t, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `node "Col2Im_0"`) {
			t.Errorf("%s: err = %v, want it to name Col2Im_0 and say %q", tc.name, err, tc.want)
		}
	}
}

// TestGridSampleComputedGrid: a grid computed at run time imports and runs
// in rt (the compiled backends cannot gather at its indices).
func TestGridSampleComputedGrid(t *testing.T) {
	for i, gc := range []gridSampleCase{
		{x: []int{2, 2, 4, 5}, grid: []int{2, 3, 3, 2}, mode: "bilinear", opset: 16},
		{x: []int{1, 3, 3, 4}, grid: []int{1, 2, 5, 2}, mode: "nearest", pad: "border", align: true, opset: 20},
	} {
		attrs := []*attrProto{aStr("mode", gc.mode)}
		if gc.pad != "" {
			attrs = append(attrs, aStr("padding_mode", gc.pad))
		}
		if gc.align {
			attrs = append(attrs, aInt("align_corners", 1))
		}
		dims := func(s []int) []int64 {
			out := make([]int64, len(s))
			for j, d := range s {
				out[j] = int64(d)
			}
			return out
		}
		g := newModel(gc.opset).input("x", dtFloat, dims(gc.x)...).input("g", dtFloat, dims(gc.grid)...).
			node("GridSample", []string{"x", "g"}, []string{"y"}, attrs...).output("y").mustLoad(t, Options{})
		x, grid := randParam(int64(10+i), -2, 2, gc.x...), randParam(int64(20+i), -1.3, 1.3, gc.grid...)
		out, err := rt.Run(g, []*ir.Tensor{x, grid})
		if err != nil {
			t.Fatal(err)
		}
		if err := allClose(out[0], gc.ref(x, grid), 1e-4, 1e-4); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}
