// Package onnxpb holds the Go protobuf bindings for the ONNX model format,
// generated from pare's own schema onnx.proto (a subset of the official
// schema holding the messages and fields pare reads, with the official names
// and field numbers).
//
// onnx.pb.go is generated and committed, so a build needs no protoc. To
// regenerate after editing onnx.proto, install the tools below and run
// `go generate` in this folder. Tool versions used for the committed file:
//
//	protoc        libprotoc 3.21.12 (Debian 12 package protobuf-compiler)
//	protoc-gen-go v1.36.12 (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12)
//
// The file is registered under the path frontend/onnx/onnxpb/onnx.proto, so
// it does not clash with other copies of an onnx.proto in the same binary.
package onnxpb

//go:generate protoc -I../../.. --go_out=../../.. --go_opt=paths=source_relative frontend/onnx/onnxpb/onnx.proto
