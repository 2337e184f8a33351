// Package tflitefb holds the Go flatbuffers bindings for the TFLite model
// format, generated from pare's own schema schema.fbs (the subset of the
// official TensorFlow Lite schema that pare reads, with the official names,
// field order, types and enum values).
//
// The *.go files other than this one are generated and committed, so a build
// needs no flatc. To regenerate after editing schema.fbs, run `go generate`
// in this folder. Tool and runtime versions used for the committed files:
//
//	flatc                            2.0.8 (Debian 12 package flatbuffers-compiler)
//	github.com/google/flatbuffers/go v2.0.8+incompatible
//
// The generated accessors do not check offsets: a malformed buffer makes
// them panic or read garbage. Package tflite verifies every table, vector and
// string it reads before it reads it.
package tflitefb

//go:generate flatc --go --go-namespace tflitefb -o .. schema.fbs
