package llvm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pare-ml/pare/tests/sharedmodels"
)

// BenchmarkCompile times pare's whole compile of a model into a static
// executable (lowering, IR emission, opt-14 -O3, llc-14, link): the issue
// asks for light_resnet50 in seconds. Run with
//
//	go test -run '^$' -bench Compile -benchtime 1x ./backend/llvm
//
// on an idle machine (timings under load are not figures).
func BenchmarkCompile(b *testing.B) {
	needTools(b)
	host, err := HostTarget()
	if err != nil {
		b.Skip(err)
	}
	for _, m := range []string{"onnx/mnist-7/mnist-7.onnx", "onnx/light/light_squeezenet.onnx", "onnx/light/light_resnet50.onnx"} {
		if _, err := os.Stat(sharedmodels.Path(m)); err != nil {
			continue
		}
		b.Run(filepath.Base(m), func(b *testing.B) {
			g := sharedmodels.ONNX(b, m)
			for i := 0; i < b.N; i++ {
				x, err := Build(g, host)
				if err != nil {
					b.Fatal(err)
				}
				x.Close()
			}
		})
	}
}

// BenchmarkCompileInt8 times the compile of the TFLite int8 models.
func BenchmarkCompileInt8(b *testing.B) {
	needTools(b)
	host, err := HostTarget()
	if err != nil {
		b.Skip(err)
	}
	for _, m := range []string{"tflite-micro/person_detect.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"} {
		b.Run(filepath.Base(m), func(b *testing.B) {
			g := sharedmodels.TFLite(b, m)
			for i := 0; i < b.N; i++ {
				x, err := Build(g, host)
				if err != nil {
					b.Fatal(err)
				}
				x.Close()
			}
		})
	}
}
