package onnx

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pare-ml/pare/frontend/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// InputNames lists a model's graph inputs that are not initializers, in
// model order: the names Options.Shapes and Options.Bind take.
func InputNames(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX model: %v", filepath.Base(path), err)
	}
	inits := map[string]bool{}
	for _, t := range m.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	var names []string
	for _, in := range m.GetGraph().GetInput() {
		if !inits[in.GetName()] {
			names = append(names, in.GetName())
		}
	}
	return names, nil
}
