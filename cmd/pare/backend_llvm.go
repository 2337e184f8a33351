package main

import (
	"errors"
	"runtime"

	"github.com/pare-ml/pare/backend/llvm"
	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
)

// llvmBackend compiles g for the host into a static executable and runs it
// on raw tensor files. What the compiler does not cover is reported as an
// *onnx.UnsupportedError, which pare check counts as unsupported.
func llvmBackend(g *ir.Graph) (executor, error) {
	t, err := llvm.HostTarget()
	if err != nil {
		return nil, err
	}
	x, err := llvm.Build(g, t)
	if err != nil {
		var u *codegen.UnsupportedError
		if errors.As(err, &u) {
			return nil, &onnx.UnsupportedError{Node: u.Where, Op: u.Op, Reason: "llvm backend: " + u.Reason}
		}
		return nil, err
	}
	runtime.SetFinalizer(x, func(x *llvm.Executable) { x.Close() })
	return func(in []*ir.Tensor) ([]*ir.Tensor, error) {
		defer runtime.KeepAlive(x)
		return x.Run(in)
	}, nil
}
