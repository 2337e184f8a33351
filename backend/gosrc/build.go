package gosrc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/ir"
)

// Write writes the files under dir (creating folders). Paths are made here,
// never from model names, and must stay inside dir.
func (fs Files) Write(dir string) error {
	for rel, data := range fs {
		if filepath.IsAbs(rel) || strings.Contains(rel, "..") {
			return fmt.Errorf("gosrc: refusing to write %q outside %s", rel, dir)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Hash identifies the generated files (their names and contents).
func (fs Files) Hash() string {
	var names []string
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(fs[n]))
		h.Write(fs[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// GoEnv is the environment for building generated code: no workspace, no
// toolchain download, and the caller's GOOS/GOARCH unless overridden.
func GoEnv(extra ...string) []string {
	env := append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	return append(env, extra...)
}

// BuildExe generates p with a command and builds it with `go build` into
// exe (env adds e.g. GOARCH=arm64). The package lands in workDir.
func BuildExe(p *codegen.Program, workDir, exe string, env ...string) error {
	fs, err := Generate(p, Options{Main: true})
	if err != nil {
		return err
	}
	if err := fs.Write(workDir); err != nil {
		return err
	}
	pkg := PackageName(p.Name)
	abs, err := filepath.Abs(exe)
	if err != nil {
		return err
	}
	// -s -w drops the symbol table and DWARF (about a third of a small binary).
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", abs, "./cmd/"+pkg)
	cmd.Dir = workDir
	cmd.Env = GoEnv(env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build of the generated package %s: %v\n%s", pkg, err, out.String())
	}
	return nil
}

// Executable is a built model command ready to run on inputs, exchanging
// raw tensor files.
type Executable struct {
	P      *codegen.Program
	Path   string
	Runner []string // prefixes the command (e.g. qemu-aarch64)
	dir    string
}

// cacheDir holds built executables by the hash of their generated files
// (and GOARCH), so that re-checking a model does not rebuild it.
func cacheDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("pare-gosrc-cache-%d", os.Getuid()))
}

// Build lowers g and builds its command for the host (or for env's
// GOOS/GOARCH), reusing a cached build of identical generated code.
func Build(g *ir.Graph, env ...string) (*Executable, error) {
	p, err := codegen.LowerWith(g, codegen.Options{Backend: "go"})
	if err != nil {
		return nil, err
	}
	return BuildProgram(p, env...)
}

// BuildProgram is Build for a lowered program.
func BuildProgram(p *codegen.Program, env ...string) (*Executable, error) {
	fs, err := Generate(p, Options{Main: true})
	if err != nil {
		return nil, err
	}
	key := fs.Hash()[:24] + "-" + strings.ReplaceAll(strings.Join(env, ","), "/", "_")
	key = codegen.CName(key)
	cache := filepath.Join(cacheDir(), key)
	exe := filepath.Join(cache, "model")
	if _, err := os.Stat(exe); err == nil {
		return &Executable{P: p, Path: exe}, nil
	}
	if err := os.MkdirAll(cacheDir(), 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(cacheDir(), "build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if err := BuildExe(p, work, filepath.Join(work, "model"), env...); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	tmp := filepath.Join(cache, fmt.Sprintf("model.%d", os.Getpid()))
	if err := os.Rename(filepath.Join(work, "model"), tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, exe); err != nil {
		return nil, err
	}
	return &Executable{P: p, Path: exe}, nil
}

// Run runs the command once on inputs.
func (x *Executable) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	return codegen.RunExe(x.P, append(append([]string{}, x.Runner...), x.Path), "", inputs)
}

// Close releases the executable (cached builds stay for reuse).
func (x *Executable) Close() error {
	if x.dir != "" {
		return os.RemoveAll(x.dir)
	}
	return nil
}
