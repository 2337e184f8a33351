package main

import (
	"testing"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/rt"
)

// BenchmarkTrainLeNet5 measures LeNet-5 training throughput (forward,
// backward, Adam update; batch 64 in 4 shards, all cores) in images/s.
func BenchmarkTrainLeNet5(b *testing.B) { benchTrain(b, "lenet5") }

// BenchmarkTrainLeNet300 is the same for LeNet-300-100.
func BenchmarkTrainLeNet300(b *testing.B) { benchTrain(b, "lenet300") }

func benchTrain(b *testing.B, name string) {
	train, err := dataset.MNIST("train")
	if err != nil {
		b.Skip("MNIST not available:", err)
	}
	r := recipes[name]
	const steps = 10
	train = train.Limit(steps * r.batch)
	m := newModel(name)
	m.init(1)
	tg, err := m.build(r.batch / r.shards)
	if err != nil {
		b.Fatal(err)
	}
	params, err := m.trainParams(tg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := rt.Train(tg, params, mnist{train}, rt.TrainConfig{Epochs: 1, Batch: r.batch, Shards: r.shards, Seed: 1,
			Optimizer: &rt.Adam{}, Schedule: rt.ConstantLR(1e-3)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*steps*r.batch)/b.Elapsed().Seconds(), "images/s")
}
