package llvm

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// TestGatherCases compiles the gathers at runtime indices alone for the
// host and compares with rt (TestIntOps has them too, with the rest).
func TestGatherCases(t *testing.T) {
	checkCases(t, codegentest.GatherCases, false)
}

// reluGather is a gather after another step: relu(x) [5, 3] at ids
// i64[2, 7] along axis 0.
var reluGather = codegentest.IntCase{Name: "relu_gather", Build: func(g *pir.Graph, r *rand.Rand, add func(pir.Type) *pir.Value) (*pir.Value, error) {
	x := add(pir.TensorType(pir.F32, 5, 3))
	ids := add(pir.TensorType(pir.I64, 2, 7))
	y, err := g.Add("relu", []*pir.Value{x}, nil, pir.Type{}, "relu", "relu")
	if err != nil {
		return nil, err
	}
	return g.Add("gather", []*pir.Value{y, ids}, pir.Attrs{"axis": pir.Int(0)}, pir.Type{}, "lookup", "lookup")
}}

// TestGatherIR: the gather kernel returns i32 and NAME_run returns 1 + the
// step number when it fails; the header says so.
func TestGatherIR(t *testing.T) {
	p, ir := casesIR(t, codegentest.GatherCases[:1])
	var step *codegen.Step
	for _, s := range p.Steps {
		if s.Kernel == codegen.KGather {
			step = s
		}
	}
	if step == nil {
		t.Fatal("no gather step")
	}
	for _, want := range []string{"define internal i32 @" + step.Name + "(", "ret i32 1\n", "icmp uge i64"} {
		if !strings.Contains(ir, want) {
			t.Errorf("module lacks %q:\n%s", want, ir)
		}
	}
	h := Header(p)
	if !strings.Contains(h, "stops and returns 1 + the") || !strings.Contains(h, "0 ("+step.Name+")") {
		t.Errorf("header does not document the failing gather:\n%s", h)
	}
	if h2 := Header(&codegen.Program{Name: "m"}); strings.Contains(h2, "fail") {
		t.Errorf("header of a program that cannot fail mentions failures:\n%s", h2)
	}
}

// outOfRange returns vals with index j of input 1 (the ids) set to v.
func outOfRange(vals []*pir.Tensor, j int, v int64) []*pir.Tensor {
	bad := append([]*pir.Tensor{}, vals...)
	ix := pir.NewTensor(vals[1].DType, vals[1].Shape)
	copy(ix.I64, vals[1].I64)
	ix.I64[j] = v
	bad[1] = ix
	return bad
}

// TestGatherOutOfRange: an index outside [-n, n) makes the executable
// print the gather's node and exit nonzero, and NAME_run return 1 + the
// step's number (through NAME_run_hooked too), from a C caller of the
// object; in-range indices still run.
func TestGatherOutOfRange(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	g, vals := casesGraph(t, []codegentest.IntCase{reluGather})
	x, err := Build(g, host)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := x.Run(vals); err != nil {
		t.Fatal(err)
	}
	for j, v := range []int64{5, -6, 1 << 40, -1 << 62, 1<<63 - 1} {
		_, err := x.Run(outOfRange(vals, j*3, v))
		if err == nil || !strings.Contains(err.Error(), "step 1, gather %lookup: gather index out of range") {
			t.Errorf("index %d: err = %v, want the gather named and out of range", v, err)
		}
	}

	// The object from C: the return codes.
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found")
	}
	dir := t.TempDir()
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	a, err := BuildObj(p, host, filepath.Join(dir, p.Name))
	if err != nil {
		t.Fatal(err)
	}
	gs := -1
	for i, s := range p.Steps {
		if s.Kernel == codegen.KGather {
			gs = i
		}
	}
	if gs < 1 {
		t.Fatalf("gather at step %d, want one after the relu", gs)
	}
	c := `#include <stdio.h>
#include "` + p.Name + `.h"
static float x[15];
static int64_t ids[14];
static float out[2 * 7 * 3];
static int ticks;
static void tick(int s) { ticks++; }
int main(void) {
	int ok = ` + p.Name + `_run(x, ids, out);
	ids[3] = 5;
	int bad = ` + p.Name + `_run(x, ids, out);
	ids[3] = -6;
	int badh = ` + p.Name + `_run_hooked(x, ids, out, tick);
	ids[3] = -5;
	int okh = ` + p.Name + `_run_hooked(x, ids, out, tick);
	printf("%d %d %d %d %d\n", ok, bad, badh, okh, ticks);
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.c"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "main")
	if out, err := exec.Command("gcc", "-I", dir, "-o", exe, filepath.Join(dir, "main.c"), a.Obj, "-lm").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	n := len(p.Steps)
	want := fmt.Sprintf("0 %d %d 0 %d\n", gs+1, gs+1, gs+n) // badh ticks the steps before the gather
	if string(out) != want {
		t.Errorf("return codes and hook calls %q, want %q (step %d of %d fails)", out, want, gs, n)
	}
}
