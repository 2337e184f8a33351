package gosrc

import (
	"bytes"
	"go/format"
	"os/exec"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen/codegentest"
	"github.com/pare-ml/pare/tests/sharedmodels"

	"github.com/pare-ml/pare/codegen"
	pir "github.com/pare-ml/pare/ir"
)

func needGo(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not found on PATH")
	}
}

// checkAgainstRT builds g's command (for env's GOARCH, run through runner)
// and compares its outputs with rt's on every input set.
func checkAgainstRT(t *testing.T, g *pir.Graph, env, runner []string, inputs ...[]*pir.Tensor) {
	t.Helper()
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, g, p, env, runner, inputs...)
}

// checkProgram is checkAgainstRT for g lowered to p.
func checkProgram(t *testing.T, g *pir.Graph, p *codegen.Program, env, runner []string, inputs ...[]*pir.Tensor) {
	t.Helper()
	checkProgramBy(t, g, p, env, runner, func(what string, got, want *pir.Tensor) {
		codegentest.CloseEnough(t, what, got, want, 1e-4)
	}, inputs...)
}

// checkProgramBy is checkProgram comparing every output with rt's by same.
func checkProgramBy(t *testing.T, g *pir.Graph, p *codegen.Program, env, runner []string, same func(what string, got, want *pir.Tensor), inputs ...[]*pir.Tensor) {
	t.Helper()
	x, err := BuildProgram(p, env...)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.Runner = runner
	codegentest.CompareRuns(t, g, x, same, inputs...)
}

func TestMnist(t *testing.T) {
	needGo(t)
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	checkAgainstRT(t, g, nil, nil, sharedmodels.MnistInputs(t)...)
}

// TestMnistArm64 cross-compiles the generated mnist-7 command with
// GOARCH=arm64 and runs it under qemu-aarch64 (correctness only).
func TestMnistArm64(t *testing.T) {
	needGo(t)
	if _, err := exec.LookPath("qemu-aarch64"); err != nil {
		t.Skip("qemu-aarch64 not found (make toolchain installs qemu-user)")
	}
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	checkAgainstRT(t, g, []string{"GOARCH=arm64", "CGO_ENABLED=0"}, []string{"qemu-aarch64"}, sharedmodels.MnistInputs(t)...)
}

// TestGeneratedPackageIsClean: the generated package is gofmt'd, go vet
// clean and imports the standard library only.
func TestGeneratedPackageIsClean(t *testing.T) {
	needGo(t)
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, p)
	if testing.Short() {
		return
	}
	// The integer kernels (mixed lane words, fused pools) and the sparse
	// ones too.
	gi, _ := quantizedMnist(t)
	if p, err = lowerGo(gi); err != nil {
		t.Fatal(err)
	}
	checkClean(t, p)
	gs, _, err := codegentest.SparseGraph("share{bits=4},sparse{min=0.5}")
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, lowerSparse(t, gs, codegen.WeightsCompressed, 13))
}

// checkClean generates p's package as package mnist with a command and
// checks it as TestGeneratedPackageIsClean says.
func checkClean(t *testing.T, p *codegen.Program) {
	t.Helper()
	fs, err := Generate(p, Options{Main: true, Package: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := fs.Write(dir); err != nil {
		t.Fatal(err)
	}
	for name, src := range fs {
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		if f, err := format.Source(src); err != nil || !bytes.Equal(f, src) {
			t.Errorf("%s is not gofmt'd (%v)", name, err)
		}
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = GoEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	cmd = exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...")
	cmd.Dir = dir
	cmd.Env = GoEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Fields(string(out)) {
		if l != "mnist" && l != "mnist/cmd/mnist" {
			t.Errorf("generated code depends on %s", l)
		}
	}
}

// TestHostileNames: node and graph names that try to inject code or
// comments end up quoted or sanitized; the package still builds and runs.
func TestHostileNames(t *testing.T) {
	needGo(t)
	evil := "x\") }\nfunc init() { panic(\"pwned\") } /* */ //go:generate rm -rf / \u2028"
	g := pir.NewGraph(evil)
	x := g.AddParam(evil, pir.TensorType(pir.F32, 2, 3))
	y, err := g.Add("relu", []*pir.Value{x}, nil, pir.Type{}, evil+"1", evil)
	if err != nil {
		t.Fatal(err)
	}
	z, err := g.Add("sigmoid", []*pir.Value{y}, nil, pir.Type{}, evil+"*/", evil+"*/")
	if err != nil {
		t.Fatal(err)
	}
	g.Results = []*pir.Value{z}
	p, err := lowerGo(g)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Generate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range fs {
		if strings.Contains(string(src), "pwned\") }") && strings.HasSuffix(name, ".go") {
			for _, l := range strings.Split(string(src), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "func init") {
					t.Fatalf("%s: injected code: %s", name, l)
				}
			}
		}
		if strings.Contains(name, "/") && !strings.HasPrefix(name, "cmd/") {
			t.Errorf("file %q", name)
		}
	}
	in := pir.FromF32([]int{2, 3}, []float32{-1, 0.5, 2, -3, 4, 0})
	checkAgainstRT(t, g, nil, nil, []*pir.Tensor{in})
}
