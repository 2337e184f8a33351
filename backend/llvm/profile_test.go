package llvm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/frontend/tensorfile"
)

// TestRunHooked: the object's NAME_run_hooked, linked into a C program by
// its header alone, calls after_step once per step in order and computes
// what NAME_run does; the executable's --profile prints one line per step
// (its kernel and node) and the total, and still writes the outputs.
func TestRunHooked(t *testing.T) {
	needTools(t)
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	g, vals, err := codegentest.OpsGraph(codegentest.OpCases[:6])
	if err != nil {
		t.Fatal(err)
	}
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, err := BuildObj(p, host, filepath.Join(dir, p.Name))
	if err != nil {
		t.Fatal(err)
	}
	up := strings.ToUpper(p.Name)
	var c strings.Builder
	fmt.Fprintf(&c, "#include <stdio.h>\n#include <string.h>\n#include \"%s.h\"\n", p.Name)
	var args, args2 []string
	for i := range p.Inputs {
		fmt.Fprintf(&c, "static float in%d[%s_IN%d_COUNT];\n", i, up, i)
		args = append(args, fmt.Sprintf("in%d", i))
		args2 = append(args2, fmt.Sprintf("in%d", i))
	}
	var cmps []string
	for i := range p.Outputs {
		fmt.Fprintf(&c, "static float out%d[%s_OUT%d_COUNT], ref%d[%s_OUT%d_COUNT];\n", i, up, i, i, up, i)
		args = append(args, fmt.Sprintf("out%d", i))
		args2 = append(args2, fmt.Sprintf("ref%d", i))
		cmps = append(cmps, fmt.Sprintf("memcmp(out%d, ref%d, sizeof out%d)", i, i, i))
	}
	fmt.Fprintf(&c, `static int next, bad;
static void hook(int step) { if (step != next) bad = 1; next++; }
int main(void) {
	for (int i = 0; i < %[1]s_IN0_COUNT; i++) in0[i] = (float)(i %% 7) / 7 - 0.5f;
	%[2]s_run_hooked(%[3]s, hook);
	%[2]s_run(%[4]s);
	printf("%%d %%d %%d\n", next, bad, %[5]s);
	return 0;
}
`, up, p.Name, strings.Join(args, ", "), strings.Join(args2, ", "), strings.Join(cmps, " || "))
	mainC := filepath.Join(dir, "main.c")
	if err := os.WriteFile(mainC, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "prog")
	if out, err := exec.Command("gcc", "-O1", "-I", dir, "-o", prog, mainC, a.Obj, "-lm").CombinedOutput(); err != nil {
		t.Fatalf("linking a C program with the object: %v\n%s", err, out)
	}
	out, err := exec.Command(prog).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d 0 0\n", len(p.Steps)); string(out) != want {
		t.Fatalf("hooked run: steps, order error, outputs differ = %q, want %q", out, want)
	}

	x, err := BuildProgram(p, host)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	cmd := []string{"--profile", "3"}
	for i, v := range vals {
		f := filepath.Join(dir, fmt.Sprintf("in%d.npy", i))
		if err := tensorfile.Write(f, v); err != nil {
			t.Fatal(err)
		}
		cmd = append(cmd, f)
	}
	outFile := filepath.Join(dir, "out0.npy")
	cmd = append(cmd, outFile)
	prof, err := exec.Command(x.Path, cmd...).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(prof)), "\n")
	if len(lines) != len(p.Steps)+2 {
		t.Fatalf("--profile printed %d lines for %d steps:\n%s", len(lines), len(p.Steps), prof)
	}
	for i, s := range p.Steps {
		f := strings.Fields(lines[i+1])
		if len(f) < 5 || f[0] != strconv.Itoa(i) || f[3] != string(s.Kernel) || !strings.Contains(lines[i+1], s.Where) {
			t.Errorf("profile line %q, want step %d, kernel %s, %s", lines[i+1], i, s.Kernel, s.Where)
		}
		if ms, err := strconv.ParseFloat(f[1], 64); err != nil || ms < 0 {
			t.Errorf("profile line %q: time %q", lines[i+1], f[1])
		}
	}
	if !strings.HasPrefix(lines[len(lines)-1], "total") {
		t.Errorf("last profile line %q", lines[len(lines)-1])
	}
	if _, err := os.Stat(outFile); err != nil {
		t.Errorf("--profile: the output was not written: %v", err)
	}
}
