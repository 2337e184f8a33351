// Command zoo trains pare's own models, the two networks of Deep
// Compression's Table 1, on MNIST and writes them as ONNX:
//
//	go run ./tests/zoo [-model lenet300|lenet5|all] [-epochs N] [-seed S] [-out DIR]
//
// LeNet-300-100 (dense 784-300-100-10, ReLU; 266,610 parameters) and Caffe's
// LeNet-5 (conv 5×5×20, max-pool 2, conv 5×5×50, max-pool 2, dense 800-500,
// ReLU, dense 500-10; 431,080 parameters) are built as IR graphs, trained on
// the 60,000 training images with pixels scaled to [0, 1] (pixel/255),
// evaluated on the 10,000 test images, and written as batch-1 inference
// graphs (input "input" f32[1,1,28,28], output "logits" f32[1,10]) to
// DIR/<model>.onnx, with a record of the run in DIR/<model>.json and a
// table of all records in DIR/README.md. The same seed gives the same
// weights bit for bit, on any number of cores.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pare-ml/pare/frontend/dataset"
	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/rt"
)

// recipe is how a model trains.
type recipe struct {
	epochs, batch, shards int
	lr, minLR             float32
	weightDecay           float32
}

// recipes: Adam, batch 64 in 4 shards of 16, a cosine decay of the
// learning rate to zero over the run; no augmentation, no dropout.
var recipes = map[string]recipe{
	"lenet300": {epochs: 10, batch: 64, shards: 4, lr: 1e-3},
	"lenet5":   {epochs: 2, batch: 64, shards: 4, lr: 1e-3},
}

// record is what one run measured; it is written as DIR/<model>.json.
type record struct {
	Model        string  `json:"model"`
	Title        string  `json:"title"`
	Params       int     `json:"params"`
	Seed         uint64  `json:"seed"`
	Epochs       int     `json:"epochs"`
	Batch        int     `json:"batch"`
	Shards       int     `json:"shards"`
	Optimizer    string  `json:"optimizer"`
	TrainImages  int     `json:"train_images"`
	TestImages   int     `json:"test_images"`
	TestCorrect  int     `json:"test_correct"`
	TestAccuracy float64 `json:"test_accuracy"`
	WallSeconds  float64 `json:"wall_seconds"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Cores        int     `json:"cores"`
	GoVersion    string  `json:"go_version"`
	Epochs_      []epoch `json:"per_epoch"`
}

type epoch struct {
	Epoch        int     `json:"epoch"`
	Loss         float64 `json:"loss"`
	TrainAcc     float64 `json:"train_accuracy"`
	TestAcc      float64 `json:"test_accuracy"`
	ImagesPerSec float64 `json:"images_per_sec"`
}

// inputDoc is the input convention, written into every model's doc_string.
const inputDoc = "input: f32[1,1,28,28] MNIST image, NCHW, pixels scaled to [0,1] (pixel/255); output: logits f32[1,10] (no softmax)."

func main() {
	which := flag.String("model", "all", "lenet300, lenet5 or all")
	epochs := flag.Int("epochs", 0, "epochs (0: the model's recipe)")
	seed := flag.Uint64("seed", 1, "seed of the weight initialization and of the shuffling")
	out := flag.String("out", "tests/zoo", "output folder")
	limit := flag.Int("limit", 0, "train on the first N training images only (0: all)")
	batch := flag.Int("batch", 0, "batch size (0: the model's recipe)")
	shards := flag.Int("shards", 0, "shards per batch (0: the model's recipe)")
	readme := flag.Bool("readme", false, "only rewrite DIR/README.md from the records in DIR")
	flag.Parse()
	if *readme {
		if err := writeReadme(*out); err != nil {
			fail(err)
		}
		return
	}
	var names []string
	switch *which {
	case "all":
		names = []string{"lenet300", "lenet5"}
	case "lenet300", "lenet5":
		names = []string{*which}
	default:
		fail(fmt.Errorf("unknown model %q (lenet300, lenet5 or all)", *which))
	}
	train, err := dataset.MNIST("train")
	if err != nil {
		fail(err)
	}
	test, err := dataset.MNIST("test")
	if err != nil {
		fail(err)
	}
	train = train.Limit(*limit)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	for _, name := range names {
		r := recipes[name]
		if *epochs > 0 {
			r.epochs = *epochs
		}
		if *batch > 0 {
			r.batch = *batch
		}
		if *shards > 0 {
			r.shards = *shards
		}
		rec, err := run(name, r, *seed, train, test, *out)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s: %d/%d = %.2f%% top-1 on MNIST test, %d epochs, %.0fs, %.0f images/s\n",
			rec.Title, rec.TestCorrect, rec.TestImages, 100*rec.TestAccuracy, rec.Epochs, rec.WallSeconds, rec.ImagesPerSec)
	}
	if err := writeReadme(*out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zoo:", err)
	os.Exit(1)
}

func newModel(name string) *model {
	if name == "lenet5" {
		return lenet5()
	}
	return lenet300()
}

// trainModel initializes and trains a model; it returns the model and the
// per-epoch statistics.
func trainModel(name string, r recipe, seed uint64, train, test *dataset.Set, log *os.File) (*model, []rt.EpochStats, error) {
	m := newModel(name)
	m.init(seed)
	tg, err := m.build(r.batch / r.shards)
	if err != nil {
		return nil, nil, err
	}
	params, err := m.trainParams(tg)
	if err != nil {
		return nil, nil, err
	}
	steps := train.N / r.batch
	cfg := rt.TrainConfig{
		Epochs: r.epochs, Batch: r.batch, Shards: r.shards, Seed: seed,
		Optimizer: &rt.Adam{WeightDecay: r.weightDecay},
		Schedule:  rt.CosineLR{Base: r.lr, Min: r.minLR, Warmup: min(100, steps)},
	}
	if log != nil {
		cfg.Log = log
	}
	if test != nil {
		eg, err := m.build(100)
		if err != nil {
			return nil, nil, err
		}
		cfg.Test, cfg.Eval = mnist{test}, eg
	}
	stats, err := rt.Train(tg, params, mnist{train}, cfg)
	return m, stats, err
}

func run(name string, r recipe, seed uint64, train, test *dataset.Set, out string) (*record, error) {
	fmt.Printf("%s: training %d epochs, batch %d in %d shards, Adam lr %g cosine, seed %d, %d cores\n",
		name, r.epochs, r.batch, r.shards, r.lr, seed, runtime.GOMAXPROCS(0))
	start := time.Now()
	m, stats, err := trainModel(name, r, seed, train, test, os.Stdout)
	if err != nil {
		return nil, err
	}
	wall := time.Since(start)
	last := stats[len(stats)-1]
	rec := &record{Model: name, Title: m.title, Params: m.Params(), Seed: seed, Epochs: r.epochs, Batch: r.batch, Shards: r.shards,
		Optimizer:   fmt.Sprintf("Adam lr %g, cosine decay to %g, weight decay %g", r.lr, r.minLR, r.weightDecay),
		TrainImages: train.N, TestImages: test.N, TestCorrect: last.TestCorrect, TestAccuracy: last.TestAcc,
		WallSeconds: wall.Seconds(), Cores: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	var imgs, secs float64
	for _, s := range stats {
		rec.Epochs_ = append(rec.Epochs_, epoch{Epoch: s.Epoch, Loss: s.Loss, TrainAcc: s.TrainAcc, TestAcc: s.TestAcc, ImagesPerSec: s.ImagesPerSec})
		imgs += s.ImagesPerSec * s.Train.Seconds()
		secs += s.Train.Seconds()
	}
	rec.ImagesPerSec = imgs / secs
	g, err := m.build(1)
	if err != nil {
		return nil, err
	}
	doc := fmt.Sprintf("pare %s (%s, %d parameters), trained by `go run ./tests/zoo -model %s -epochs %d -seed %d`: %.2f%% top-1 on the 10,000 MNIST test images. %s",
		m.title, name, m.Params(), name, r.epochs, seed, 100*rec.TestAccuracy, inputDoc)
	if err := onnx.ExportFileWith(g, filepath.Join(out, name+".onnx"), onnx.ExportOptions{DocString: doc}); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	return rec, os.WriteFile(filepath.Join(out, name+".json"), append(b, '\n'), 0o644)
}

// writeReadme writes DIR/README.md from the records in DIR.
func writeReadme(dir string) error {
	var b strings.Builder
	b.WriteString(`# pare's model zoo

pare's own trained models: the two MNIST networks of Deep Compression's Table 1
(Han et al., 2016), so that pare's compression ratios compare like for like.

| file | network | parameters | f32 weights |
|------|---------|-----------:|------------:|
| lenet300.onnx | LeNet-300-100: dense 784-300-100-10, ReLU | 266,610 | 1,066 KB |
| lenet5.onnx | Caffe's LeNet-5: conv 5×5×20, max-pool 2, conv 5×5×50, max-pool 2, dense 800-500, ReLU, dense 500-10 | 431,080 | 1,724 KB |

Both are batch-1 float ONNX models (opset 13) written by pare's ONNX writer
(frontend/onnx/export.go). **Input** "input": f32[1,1,28,28], an MNIST image in
NCHW with pixels scaled to [0, 1] (pixel/255, no mean or deviation
normalization); LeNet-300-100 flattens it inside. **Output** "logits": f32[1,10],
no softmax. The same convention is in each model's doc_string.

They are trained by this folder's command, from scratch, on the 60,000 MNIST
training images, and scored on the 10,000 test images:

    go run ./tests/zoo -model all -seed 1      # both; or -model lenet5, -epochs N

Training runs in pare's reference interpreter (rt: reverse-mode gradients,
Adam, a cosine learning-rate decay), on all cores. It is deterministic: a
batch splits into a fixed number of shards whose gradients are summed in a
fixed order, and the shuffling comes from the seed, so the same seed gives the
same weights bit for bit and the same accuracy to the last image, whatever the
number of cores (TestDeterministic checks it).

## Results

Measured by the command above (records in <model>.json):

| model | seed | epochs | batch (shards) | optimizer | test top-1 | wall time | images/s (training) | cores | Deep Compression baseline |
|-------|-----:|-------:|----------------|-----------|-----------:|----------:|-------------------:|------:|--------------------------:|
`)
	for _, name := range []string{"lenet300", "lenet5"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s.json: %v", name, err)
		}
		base := map[string]string{"lenet300": "98.36 %", "lenet5": "99.20 %"}[name]
		fmt.Fprintf(&b, "| %s | %d | %d | %d (%d) | %s | %.2f %% (%d/%d) | %s | %.0f | %d | %s |\n",
			r.Title, r.Seed, r.Epochs, r.Batch, r.Shards, r.Optimizer, 100*r.TestAccuracy, r.TestCorrect, r.TestImages,
			time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Second), r.ImagesPerSec, r.Cores, base)
	}
	b.WriteString(`
Wall time includes the per-epoch test evaluation; images/s counts training
alone (forward, backward and update). The machine is shared, so timings vary
from run to run; accuracies do not.

## Tests

tests/zoo/zoo_test.go checks that the shipped files import and verify, score
at least 99.0 % (LeNet-5) and 98.2 % (LeNet-300-100) through rt (skipped with
-short), run in ONNX Runtime with rt's outputs (skipped when ONNX Runtime is
not installed: $PARE_ORT_DIR, ./.cache/ort or /tmp/ort), and that training is
deterministic. BenchmarkTrainLeNet5 measures training throughput (make bench).
`)
	return os.WriteFile(filepath.Join(dir, "README.md"), []byte(b.String()), 0o644)
}
