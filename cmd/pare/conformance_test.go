package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// onnxGoNode is where `make onnx-go-node` writes ONNX 1.5's operator
// conformance tests (from the Go module github.com/owulveryck/onnx-go).
const onnxGoNode = "../../.cache/onnx-go-node"

// checkResults runs pare check and sorts the tests by outcome.
func checkResults(t *testing.T, args ...string) (pass, fail, unsup map[string]string) {
	t.Helper()
	code, out, errOut := pare(append([]string{"check"}, args...)...)
	pass, fail, unsup = map[string]string{}, map[string]string{}, map[string]string{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[:len(lines)-1] {
		kind, rest, _ := strings.Cut(l, " ")
		name, reason, _ := strings.Cut(strings.TrimSpace(rest), ": ")
		switch kind {
		case "pass":
			pass[name] = ""
		case "FAIL":
			fail[name] = reason
		case "unsupported":
			unsup[name] = reason
		default:
			t.Fatalf("unexpected line %q", l)
		}
	}
	t.Log(lines[len(lines)-1])
	if (code != 0) != (len(fail) > 0) {
		t.Errorf("pare check %v exited %d with %d failures: %s", args, code, len(fail), errOut)
	}
	return pass, fail, unsup
}

// TestConformanceOnnxGo runs ONNX 1.5's 349 node tests (opsets 1-10) through
// rt, the LLVM backend and, without -short, the Go backend: nothing may fail,
// rt must pass at least the 334 it passed when last changed (325, then
// RoiAlign, then Scan, then the 7 TfIdfVectorizer tests), and
// a backend must pass every test rt passes but the ones listed here.
func TestConformanceOnnxGo(t *testing.T) {
	if _, err := os.Stat(filepath.Join(onnxGoNode, "test_abs", "model.onnx")); err != nil {
		t.Skipf("%s not found: run make onnx-go-node (it needs the Go module proxy)", onnxGoNode)
	}
	pass, fail, unsup := checkResults(t, onnxGoNode)
	for name, why := range fail {
		t.Errorf("rt: FAIL %s: %s", name, why)
	}
	for name, why := range unsup {
		if len(why) > 160 {
			why = why[:160] + "..."
		}
		t.Logf("rt: unsupported %s: %s", name, why)
	}
	if len(pass) < 334 {
		t.Errorf("rt passes %d tests, want at least 334", len(pass))
	}
	// What a backend may leave unsupported that rt runs (none today).
	allowed := map[string][]string{}
	for _, b := range []string{"llvm", "go"} {
		t.Run(b, func(t *testing.T) {
			if testing.Short() && b == "go" {
				t.Skip("-short: the Go backend builds one binary per test (2 minutes); the LLVM one runs")
			}
			bpass, bfail, bunsup := checkResults(t, "--backend", b, onnxGoNode)
			for name, why := range bfail {
				t.Errorf("FAIL %s: %s", name, why)
			}
			var missing []string
			for name := range pass {
				if _, ok := bpass[name]; !ok {
					missing = append(missing, name)
				}
			}
			slices.Sort(missing)
			for _, name := range missing {
				if !slices.Contains(allowed[b], name) {
					t.Errorf("rt passes %s, %s does not: %s", name, b, bunsup[name]+bfail[name])
				}
			}
			for _, name := range allowed[b] {
				if _, ok := bpass[name]; ok {
					t.Errorf("%s passes %s now: take it off the allowed list", b, name)
				}
			}
		})
	}
}
