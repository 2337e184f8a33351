// Package tests holds pare's end-to-end suites: real models from ../shared
// imported, verified, printed, parsed and run, compared against their
// reference outputs and against ONNX Runtime's.
package tests
