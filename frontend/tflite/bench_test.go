package tflite

import (
	"os"
	"testing"
)

func BenchmarkImportPersonDetect(b *testing.B) {
	data, err := os.ReadFile(sharedModel(b, "tflite-micro/person_detect.tflite"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ImportBytes("person_detect.tflite", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImportMobilenetV2(b *testing.B) {
	data, err := os.ReadFile(sharedModel(b, "coral/tf2_mobilenet_v2_1.0_224_ptq.tflite"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ImportBytes("v2.tflite", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
