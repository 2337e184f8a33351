package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileWinograd: pare compile reports the f32 convs it runs as
// Winograd, and -winograd=false runs none (-emit ll: no LLVM tools needed).
func TestCompileWinograd(t *testing.T) {
	m := sharedPath(t, "models/onnx/light/light_squeezenet.onnx")
	out := filepath.Join(t.TempDir(), "sq.ll")
	code, _, errOut := pare("compile", m, "-target", "x86_64-linux-gnu", "-emit", "ll", "-o", out)
	if code != 0 {
		t.Fatal(errOut)
	}
	if !strings.Contains(errOut, "8 f32 convs run as Winograd") {
		t.Errorf("default compile: stderr %q, want 8 Winograd convs", errOut)
	}
	code, _, errOut = pare("compile", m, "-target", "x86_64-linux-gnu", "-winograd=false", "-emit", "ll", "-o", out)
	if code != 0 {
		t.Fatal(errOut)
	}
	if strings.Contains(errOut, "Winograd") {
		t.Errorf("-winograd=false: stderr %q mentions Winograd", errOut)
	}
}
