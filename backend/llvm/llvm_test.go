package llvm

import (
	"math/rand"
	"os"
	"os/exec"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/tests/sharedmodels"

	"github.com/pare-ml/pare/frontend/onnx"
	pir "github.com/pare-ml/pare/ir"
)

// needTools skips the test when the LLVM 14 toolchain or gcc is missing.
func needTools(t testing.TB) {
	t.Helper()
	for _, n := range []string{"opt-14", "llc-14", "gcc"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not found: install llvm-14 and gcc (make toolchain)", n)
		}
	}
}

func checkAgainstRT(t *testing.T, g *pir.Graph, tgt Target, runner []string, inputs ...[]*pir.Tensor) {
	t.Helper()
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	checkProgramRT(t, g, p, tgt, runner, inputs...)
}

func TestMnist(t *testing.T) {
	needTools(t)
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	checkAgainstRT(t, g, host, nil, sharedmodels.MnistInputs(t)...)
}

// TestMnistAArch64 compiles mnist-7 for aarch64 and runs it under
// qemu-aarch64 (for correctness only: qemu is never timed).
func TestMnistAArch64(t *testing.T) {
	needTools(t)
	for _, n := range []string{"aarch64-linux-gnu-gcc", "qemu-aarch64"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not found (make toolchain installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user)", n)
		}
	}
	g := sharedmodels.ONNX(t, "onnx/mnist-7/mnist-7.onnx")
	checkAgainstRT(t, g, Target{Triple: "aarch64-linux-gnu", Features: "+neon"}, []string{"qemu-aarch64"}, sharedmodels.MnistInputs(t)...)
}

// TestLightSqueezenet compiles light_squeezenet for the host and compares
// with rt on the ONNX runner's deterministic input (element i is i/n).
func TestLightSqueezenet(t *testing.T) {
	needTools(t)
	g := sharedmodels.ONNX(t, "onnx/light/light_squeezenet.onnx")
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	in := pir.NewTensor(pir.F32, g.Params[0].Type.Shape)
	for i := range in.F32 {
		in.F32[i] = float32(i) / float32(len(in.F32))
	}
	checkAgainstRT(t, g, host, nil, []*pir.Tensor{in})
}

// TestPPOCRDet compiles PP-OCRv4 det (resize, conv_transpose, hardswish
// chains) at 96×96 for the host and compares with rt.
func TestPPOCRDet(t *testing.T) {
	needTools(t)
	path := sharedmodels.Path("onnx/ppocr/ch_PP-OCRv4_det_infer.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("model %s not found", path)
	}
	g, err := onnx.Import(path, onnx.Options{Shapes: map[string][]int{"x": {1, 3, 96, 96}}})
	if err != nil {
		t.Fatal(err)
	}
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	r := rand.New(rand.NewSource(3))
	in := pir.NewTensor(pir.F32, g.Params[0].Type.Shape)
	for i := range in.F32 {
		in.F32[i] = r.Float32()*2 - 1
	}
	checkAgainstRT(t, g, host, nil, []*pir.Tensor{in})
}
