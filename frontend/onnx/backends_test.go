package onnx

import (
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/rt"
	"github.com/pare-ml/pare/tests/backendrun"
	"github.com/pare-ml/pare/tests/ortpath"
)

// ortOrSkip returns node and the ONNX Runtime folder, or skips t: in
// -short, or where either is missing.
func ortOrSkip(t *testing.T) (node, dir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts ONNX Runtime; skipped in -short")
	}
	d := ortpath.Dir(filepath.Join("..", ".."))
	dir, err := filepath.Abs(d)
	node, nerr := exec.LookPath("node")
	if d == "" || err != nil || nerr != nil {
		t.Skip("ONNX Runtime not found ($PARE_ORT_DIR, .cache/ort, /tmp/ort; make ort) or node missing")
	}
	return node, dir
}

// feedGroup is one model holding the cases of one opset, fed by named
// graph inputs (case i's names prefixed c<i>_): its outputs' names and
// their references, in order.
type feedGroup struct {
	opset int64
	m     *mb
	feeds []ortFeed
	outs  []string
	want  []*ir.Tensor
}

// check compares got (flat or shaped) with want, output by output, within
// tol relative and absolute.
func (fg feedGroup) check(t *testing.T, what string, got, want []*ir.Tensor, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s gave %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		g := got[i]
		if g.Len() == want[i].Len() {
			g.Shape = want[i].Shape
		}
		if err := allClose(g, want[i], tol, tol); err != nil {
			t.Errorf("%s: %s: %v", fg.outs[i], what, err)
		}
	}
}

// checkORT runs fg's model in ONNX Runtime (node, dir: ortOrSkip) and
// compares its outputs with the references and with rt's.
func (fg feedGroup) checkORT(t *testing.T, node, dir string, tol float64) {
	t.Helper()
	g := fg.m.mustLoad(t, Options{})
	want, err := rt.Run(g, tensorsOf(fg.feeds))
	if err != nil {
		t.Fatal(err)
	}
	got := runORTModel(t, node, dir, fg.m.bytes(t), fg.feeds, fg.outs, want)
	fg.check(t, "ONNX Runtime against the reference", got, fg.want, tol)
	fg.check(t, "ONNX Runtime against rt", got, want, tol)
}

// checkCompiled builds fg's model with the Go backend (outside -short) and
// the LLVM backend and compares their outputs with rt's and the references.
func (fg feedGroup) checkCompiled(t *testing.T, tol float64) {
	t.Helper()
	g := fg.m.mustLoad(t, Options{})
	xs := tensorsOf(fg.feeds)
	want, err := rt.Run(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	backendrun.Both(t, fmt.Sprintf("opset%d", fg.opset), g, xs, false, func(t *testing.T, backend string, got []*ir.Tensor) {
		fg.check(t, backend+" against rt", got, want, tol)
		fg.check(t, backend+" against the reference", got, fg.want, tol)
	})
}

// feedGroups puts cases into one feedGroup per opset (opsetOf), in opset
// order; add adds a case to its group's model with its names prefixed p
// (unique in the group) and appends its feeds, outputs and references.
func feedGroups[C any](cases []C, opsetOf func(C) int64, add func(g *feedGroup, tc C, p string)) []feedGroup {
	by := map[int64]*feedGroup{}
	n := 0
	for _, tc := range cases {
		o := opsetOf(tc)
		g := by[o]
		if g == nil {
			g = &feedGroup{opset: o, m: newModel(o)}
			by[o] = g
		}
		add(g, tc, fmt.Sprintf("c%d_", n))
		n++
	}
	var out []feedGroup
	for _, k := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[k])
	}
	return out
}
