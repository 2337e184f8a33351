package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/pare-ml/pare/backend/gosrc"
	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

// goBackend generates the Go package of g with a command, builds it with
// `go build` (cached by the hash of the generated files) and runs it on raw
// tensor files. What the Go kernels do not cover is reported as an
// *onnx.UnsupportedError, which pare check counts as unsupported.
func goBackend(g *ir.Graph) (executor, error) {
	x, err := gosrc.Build(g)
	if err != nil {
		var u *codegen.UnsupportedError
		if errors.As(err, &u) {
			return nil, &onnx.UnsupportedError{Node: u.Where, Op: u.Op, Reason: "go backend: " + u.Reason}
		}
		return nil, err
	}
	return x.Run, nil
}

// goEmit is the flags of `pare compile -emit go`.
type goEmit struct {
	pkg    *string
	main   *bool
	module *string
}

// emitGo writes the Go package of p into dir.
func emitGo(p *codegen.Program, dir string, o goEmit) error {
	fs, err := gosrc.Generate(p, gosrc.Options{Package: *o.pkg, Main: *o.main, Module: *o.module})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fs.Write(dir); err != nil {
		return err
	}
	pkg := *o.pkg
	if pkg == "" {
		pkg = p.Name
	}
	pkg = gosrc.PackageName(pkg)
	fmt.Fprintf(stdout, "wrote Go package %s in %s (%s.go, %s: %d bytes; arena %d bytes)\n", pkg, dir, pkg, gosrc.WeightsFile, len(p.Weights), p.ArenaSize)
	if *o.main {
		fmt.Fprintf(stdout, "command: cd %s && go build ./cmd/%s\n", dir, pkg)
	}
	return nil
}
