package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const shared = "../../../shared"

func sharedPath(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(shared, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found (shared/ is expected beside the repository)", p)
	}
	return p
}

// pare runs the CLI in-process and returns its exit status, stdout and stderr.
func pare(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	stdout, stderr = &o, &e
	defer func() { stdout, stderr = os.Stdout, os.Stderr }()
	code := runMain(args)
	return code, o.String(), e.String()
}

// TestConformance runs the ONNX operator conformance folders through rt:
// no failures; tests of unsupported dtypes are reported unsupported.
func TestConformance(t *testing.T) {
	dirs := []string{sharedPath(t, "onnx-node"), sharedPath(t, "onnx-node-pytorch")}
	code, out, errOut := pare(append([]string{"check"}, dirs...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "FAIL") {
			t.Error(l)
		}
		if strings.HasPrefix(l, "unsupported") {
			t.Log(l)
		}
	}
	t.Log(lines[len(lines)-1])
	if code != 0 {
		t.Errorf("pare check exited %d: %s", code, errOut)
	}
	if !strings.HasSuffix(lines[len(lines)-1], "unsupported") || !strings.Contains(lines[len(lines)-1], " 0 failed") {
		t.Errorf("summary line %q", lines[len(lines)-1])
	}
}

// TestConformanceBackends runs the same folders through the compiled
// backends: nothing may fail (ops a backend lacks are reported unsupported).
func TestConformanceBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles one binary per conformance test")
	}
	dirs := []string{sharedPath(t, "onnx-node"), sharedPath(t, "onnx-node-pytorch")}
	for _, b := range []string{"go", "llvm"} {
		t.Run(b, func(t *testing.T) {
			code, out, errOut := pare(append([]string{"check", "--backend", b}, dirs...)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for _, l := range lines {
				if strings.HasPrefix(l, "FAIL") {
					t.Error(l)
				}
			}
			t.Log(lines[len(lines)-1])
			if code != 0 {
				t.Errorf("pare check --backend %s exited %d: %s", b, code, errOut)
			}
		})
	}
}

func TestCheckReportsFailure(t *testing.T) {
	// test_relu with its input given as the expected output: relu changes the
	// negative elements, so check must report FAIL and exit 1.
	src := sharedPath(t, "onnx-node/test_relu")
	dir := filepath.Join(t.TempDir(), "test_relu_wrong")
	if err := os.MkdirAll(filepath.Join(dir, "test_data_set_0"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, from := range map[string]string{"model.onnx": "model.onnx", "test_data_set_0/input_0.pb": "test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb": "test_data_set_0/input_0.pb"} {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := pare("check", dir)
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "0 passed, 1 failed") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := pare("help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("help does not list %s", name)
		}
		code, out, _ := pare("help", name)
		if code != 0 || !strings.Contains(out, "Usage: pare "+name) {
			t.Errorf("help %s: exit %d\n%s", name, code, out)
		}
	}
	if code, _, errOut := pare("nosuch"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errOut)
	}
}

func TestImportStatsDiffRun(t *testing.T) {
	m := sharedPath(t, "models/onnx/mnist-7/mnist-7.onnx")
	code, out, errOut := pare("import", m)
	if code != 0 || !strings.Contains(out, "graph @") || !strings.Contains(out, "= conv ") {
		t.Fatalf("import: exit %d %s\n%s", code, errOut, out)
	}
	dir := t.TempDir()
	irPath := filepath.Join(dir, "m.ir")
	if code, _, errOut := pare("import", m, "-o", irPath); code != 0 {
		t.Fatalf("import -o: %s", errOut)
	}
	code, out, _ = pare("stats", irPath)
	if code != 0 || !strings.Contains(out, "total") {
		t.Fatalf("stats: exit %d\n%s", code, out)
	}
	code, out, _ = pare("diff", m, irPath)
	if code != 0 || !strings.Contains(out, "no changes") {
		t.Errorf("diff of a model and its own IR: exit %d\n%s", code, out)
	}
	if code, _, errOut := pare("diff", m, filepath.Join(dir, "missing.ir")); code != 2 || errOut == "" {
		t.Errorf("diff with a missing file: exit %d (want 2), %q", code, errOut)
	}
	in := filepath.Join(filepath.Dir(m), "test_data_set_0", "input_0.pb")
	outFile := filepath.Join(dir, "out.npy")
	code, out, errOut = pare("run", irPath, "--input", in, "--top", "3", "--out", outFile)
	if code != 0 || !strings.Contains(out, "top 3 of 10") {
		t.Fatalf("run: exit %d %s\n%s", code, errOut, out)
	}
	if _, err := os.Stat(outFile); err != nil {
		t.Error(err)
	}
	code, _, errOut = pare("run", m, "--input", "nosuch=x.npy")
	if code == 0 || !strings.Contains(errOut, "Input3") {
		t.Errorf("run with a wrong input name should list the inputs: %q", errOut)
	}
	// -o - is stdout for -emit plan only: no file named "-.ll" appears.
	if code, _, errOut = pare("compile", irPath, "-emit", "ll", "-o", "-"); code == 0 || !strings.Contains(errOut, "give a path") {
		t.Errorf("compile -emit ll -o -: exit %d, %q", code, errOut)
	}
}

// TestCompileCompressed: a pruned, quantized and shared model compiles (its
// sparse layers to sparse kernels) and the executable's outputs equal rt's.
func TestCompileCompressed(t *testing.T) {
	if _, err := exec.LookPath("opt-14"); err != nil {
		t.Skip("opt-14 not installed (make toolchain)")
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "c.ir")
	code, _, errOut := pare("opt", "../../tests/zoo/lenet300.onnx", "-passes",
		"canonicalize,prune{layers=ip1:0.8,ip2:0.7,logits:0.3},quantize,share{bits=4,index=auto}",
		"--calib", "mnist:train", "--calib-limit", "50", "-o", c)
	if code != 0 {
		t.Skipf("pare opt: %s", errOut)
	}
	in := "../../tests/testdata/mnist_test_0_label7.npy"
	rtOut, llOut := filepath.Join(dir, "rt.npy"), filepath.Join(dir, "ll.npy")
	if code, _, errOut := pare("run", c, "--input", in, "--out", rtOut); code != 0 {
		t.Fatal(errOut)
	}
	code, _, errOut = pare("run", "--backend", "llvm", c, "--input", in, "--out", llOut)
	if code != 0 {
		t.Fatal(errOut)
	}
	a, _ := os.ReadFile(rtOut)
	b, _ := os.ReadFile(llOut)
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("compiled outputs differ from rt's")
	}
}
