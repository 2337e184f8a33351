// Package ortpath finds the ONNX Runtime harness that tests compare with
// (`make ort` installs it; ../shared/tools/ort/README.md describes it).
package ortpath

import (
	"os"
	"path/filepath"
)

// Dir returns the first directory holding bench.mjs and an installed
// onnxruntime-node among $PARE_ORT_DIR, ROOT/.cache/ort (root is the
// repository root, relative to the caller's package directory) and
// /tmp/ort, or "" when there is none.
func Dir(root string) string {
	for _, d := range []string{os.Getenv("PARE_ORT_DIR"), filepath.Join(root, ".cache", "ort"), "/tmp/ort"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "bench.mjs")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "node_modules", "onnxruntime-node")); err == nil {
			return d
		}
	}
	return ""
}
